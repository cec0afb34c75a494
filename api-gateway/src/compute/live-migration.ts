// Live migration as the API runs it (Nova's conductor live_migrate task and the compute manager's
// post/rollback): prechecks and a claim on the destination before the 202, then in the
// background the destination prepares its VM process, the source streams the guest over, and
// the records follow the outcome. The instance's owner key in Redis is the truth about where the
// guest runs: the destination VM flips it at the commit point, and when the source's report is
// lost the outcome is settled there (committed, or aborted so that it can no longer commit).
// Whether the two nodes share the instance's storage is asked of them before the 202 (Nova's
// check_can_live_migrate_destination/source): only then may the disk stay where it is.
import {
  InstanceStateConflictError,
  MIGRATION_IN_PROGRESS,
  NoValidHostError,
  NotFoundError,
  PowerState,
  TaskState,
  VmState,
  createMigration,
  errorMessage,
  getHost,
  getImage,
  redisKeys,
  settleOutcome,
  updateMigration,
  type InstanceRecord,
  type Logger,
  type MigrationRecord,
  type Redis,
} from '@hypernova/common';
import type { compute, scheduler } from '@hypernova/proto';
import { ApiError, badRequest, conflict, fromServiceError } from '../http/errors.js';
import { requestSpec, spawnRequest } from './build.js';
import type { ComputeClients, ComputeRpc, SchedulerRpc } from './clients.js';
import type { ActionContext, ActionRecorder, InstanceActions } from './instance-actions.js';
import type { Instances } from './instances.js';
import type { ServerGroupStore } from './server-groups.js';
import { invalidStateMessage } from './state-machine.js';
import type { Tasks } from './tasks.js';

export interface LiveMigrationDeps {
  redis: Redis;
  instances: Instances;
  actions: InstanceActions;
  scheduler: SchedulerRpc;
  clients: ComputeClients;
  serverGroups: ServerGroupStore;
  tasks: Tasks;
  logger: Logger;
}

export interface LiveMigrationRequest {
  /** The destination, or null for the scheduler to pick one. */
  host: string | null;
  /** 'auto' (2.25+): block migration unless the disks are on storage source and destination share. */
  blockMigration: boolean | 'auto';
}

const MIGRATABLE = [VmState.ACTIVE, VmState.PAUSED];

export class LiveMigrations {
  constructor(private readonly d: LiveMigrationDeps) {}

  /**
   * Checks the request, marks the instance migrating (409 when it is busy or not running),
   * records the migration and claims its destination (400 when none fits); the migration then
   * runs in the background.
   */
  async start(rec: InstanceRecord, req: LiveMigrationRequest, ctx: ActionContext): Promise<MigrationRecord> {
    if (req.host !== null && req.host === rec.host) throw badRequest(`Unable to migrate instance (${rec.uuid}) to current host (${rec.host}).`);
    const source = rec.host ? await getHost(this.d.redis, rec.host) : undefined;
    if (!source?.up) throw badRequest(`Compute service of ${rec.host} is unavailable at this time.`);
    if (req.host !== null) {
      const dest = await getHost(this.d.redis, req.host);
      if (!dest) throw badRequest(`Compute host ${req.host} could not be found.`);
      if (!dest.up) throw badRequest(`Compute service of ${req.host} is unavailable at this time.`);
    }
    const image = await getImage(this.d.redis, rec.imageId);
    if (!image) throw badRequest(`Image ${rec.imageId} of instance ${rec.uuid} could not be found: the destination cannot rebuild its disk.`);
    const group = rec.serverGroup ? await this.d.serverGroups.get(rec.serverGroup) : undefined;

    try {
      await this.d.instances.update(rec.uuid, { taskState: TaskState.MIGRATING }, { vmState: MIGRATABLE, taskState: [null] });
    } catch (err) {
      if (err instanceof InstanceStateConflictError) throw conflict(invalidStateMessage('live_migration', rec.uuid, err.attr, err.state));
      throw err;
    }
    const migration = await createMigration(this.d.redis, {
      instanceUuid: rec.uuid,
      migrationType: 'live-migration',
      status: 'queued',
      sourceCompute: rec.host,
      sourceNode: rec.node || rec.host,
      destCompute: '',
      destNode: '',
      destHost: '',
      blockMigration: req.blockMigration !== false, // 'auto' is settled by the shared storage check
      oldFlavorId: rec.flavor.id,
      newFlavorId: rec.flavor.id,
      projectId: rec.projectId,
      userId: ctx.userId,
    });
    const spec = { ...requestSpec({ instance: rec, image, group }), availabilityZone: rec.requestedAvailabilityZone, ignoreHosts: [rec.host] };
    let dest: scheduler.Selection;
    try {
      dest =
        req.host === null
          ? (await this.d.scheduler.selectDestinations(spec, migration.uuid))[0]!
          : await this.d.scheduler.claimOnHost(spec, req.host, migration.uuid);
    } catch (err) {
      const reason = err instanceof NoValidHostError ? err.message : errorMessage(err);
      await this.refused(rec, migration, reason);
      if (err instanceof NoValidHostError) throw badRequest(reason);
      if (err instanceof NotFoundError) throw badRequest(`Compute host ${req.host} could not be found.`);
      throw fromServiceError(err) ?? err;
    }
    const shared = await this.sharedStorage(rec, source.address, dest);
    const blockMigration = req.blockMigration === 'auto' ? !shared : req.blockMigration;
    if (blockMigration === shared) {
      // Nova's InvalidLocalStorage / InvalidSharedStorage.
      const reason = shared
        ? 'Block migration can not be used with shared storage.'
        : `${dest.host} is not on shared storage: Shared storage live-migration requires either shared storage or boot-from-volume with no local disks.`;
      await this.d.scheduler.releaseAllocation(migration.uuid).catch((err: unknown) => this.d.logger.error({ err: errorMessage(err) }, 'cannot release the destination claim'));
      await this.refused(rec, migration, reason);
      throw badRequest(reason);
    }
    const placed = { status: 'preparing', destCompute: dest.host, destNode: dest.host, destHost: dest.address, blockMigration } as const;
    const started: MigrationRecord = { ...migration, ...placed };
    await updateMigration(this.d.redis, migration.uuid, placed);
    const action = await this.d.actions.start(rec.uuid, 'live-migration', ctx);
    this.d.tasks.run(rec.uuid, 'live-migration', () => this.run(rec, started, dest, spawnRequest({ instance: rec, image }, dest.allocationId), action));
    return started;
  }

  /** A migration refused before it started: recorded as an error, the instance free again. */
  private async refused(rec: InstanceRecord, m: MigrationRecord, reason: string): Promise<void> {
    await updateMigration(this.d.redis, m.uuid, { status: 'error', error: reason });
    await this.d.instances.update(rec.uuid, { taskState: null }, { taskState: [TaskState.MIGRATING] }).catch(() => undefined);
  }

  /**
   * Whether source and destination share the instance's storage: the destination leaves a probe
   * file in its instances path and the source looks for it beside the instance's disk. A node
   * that cannot tell (an older agent, an error) counts as not sharing.
   */
  private async sharedStorage(rec: InstanceRecord, sourceAddress: string, dest: scheduler.Selection): Promise<boolean> {
    const destNode = this.d.clients.at(dest.address);
    let probe: compute.SharedStorageProbe;
    try {
      probe = await destNode.checkCanLiveMigrateDestination(rec.uuid);
    } catch (err) {
      this.d.logger.warn({ instance: rec.uuid, dest: dest.host, err: errorMessage(err) }, 'shared storage check failed on the destination');
      return false;
    }
    try {
      return (await this.d.clients.at(sourceAddress).checkCanLiveMigrateSource({ instanceUuid: rec.uuid, fileName: probe.fileName })).sharedStorage;
    } catch (err) {
      this.d.logger.warn({ instance: rec.uuid, source: rec.host, err: errorMessage(err) }, 'shared storage check failed on the source');
      return false;
    } finally {
      await destNode.cleanupLiveMigrationCheck(probe).catch((err: unknown) =>
        this.d.logger.warn({ dest: dest.host, probe: probe.fileName, err: errorMessage(err) }, 'cannot remove the shared storage probe'),
      );
    }
  }

  /** Nova's force_complete: the source switches over now. */
  async forceComplete(m: MigrationRecord): Promise<void> {
    if (m.status !== 'running') {
      throw badRequest(`Migration ${m.id} state of instance ${m.instanceUuid} is ${m.status}. Cannot force_complete while the migration is in this state.`);
    }
    await this.callSource(m, (n) => n.forceCompleteLiveMigration({ instanceUuid: m.instanceUuid, migrationId: m.uuid }));
  }

  /** Aborts a migration that has not switched over: the guest stays on the source. */
  async abort(m: MigrationRecord): Promise<void> {
    if (!['queued', 'preparing', 'running'].includes(m.status)) {
      throw badRequest(`Migration ${m.id} state of instance ${m.instanceUuid} is ${m.status}. Cannot abort live migration while the migration is in this state.`);
    }
    await updateMigration(this.d.redis, m.uuid, { status: 'cancelling' }, ['queued', 'preparing', 'running']);
    if (m.status === 'running') await this.callSource(m, (n) => n.abortLiveMigration({ instanceUuid: m.instanceUuid, migrationId: m.uuid }));
    // Before it runs, the background task sees 'cancelling' and stops there.
  }

  private async callSource(m: MigrationRecord, fn: (n: ComputeRpc) => Promise<unknown>): Promise<void> {
    const host = await getHost(this.d.redis, m.sourceCompute);
    if (!host?.up) throw conflict(`Compute service of ${m.sourceCompute} is unavailable at this time.`);
    try {
      await fn(this.d.clients.at(host.address));
    } catch (err) {
      throw fromServiceError(err) ?? new ApiError(409, errorMessage(err));
    }
  }

  private async run(rec: InstanceRecord, m: MigrationRecord, dest: scheduler.Selection, spawn: compute.SpawnRequest, action: ActionRecorder): Promise<void> {
    const log = this.d.logger.child({ instance: rec.uuid, migration: m.uuid, source: rec.host, dest: dest.host });
    const destNode = this.d.clients.at(dest.address);
    const ref = { instanceUuid: rec.uuid, migrationId: m.uuid };
    let outcome: 'completed' | 'cancelled' | 'error';
    let reason = '';
    try {
      await action.event('compute_pre_live_migration', dest.host, () =>
        destNode.prepareLiveMigration({ instance: spawn, migrationId: m.uuid, sourceHost: rec.host, blockMigration: m.blockMigration }),
      );
      // An abort that came while the destination was being prepared ends it here.
      if (!(await updateMigration(this.d.redis, m.uuid, { status: 'running' }, ['preparing']))) throw new Cancelled();
      const source = await getHost(this.d.redis, rec.host);
      if (!source?.address) throw new Error(`source host ${rec.host} is not registered`);
      const last = await action.event('compute_live_migration', rec.host, () =>
        this.d.clients.at(source.address).liveMigrate(
          { instanceUuid: rec.uuid, migrationId: m.uuid, destHost: dest.host, blockMigration: m.blockMigration, downtimeLimitMs: 0, maxBandwidthBytesPerS: 0 },
          () => undefined, // the source node records progress in Redis itself
        ),
      );
      outcome = last.status === 'completed' ? 'completed' : last.status === 'cancelled' ? 'cancelled' : 'error';
      reason = last.error;
    } catch (err) {
      outcome = err instanceof Cancelled ? 'cancelled' : 'error';
      reason = errorMessage(err);
    }
    if (outcome !== 'completed') {
      // Whatever was lost on the way, the owner key says where the guest runs; settle it.
      if ((await settleOutcome(this.d.redis, redisKeys.migrationOutcome(m.uuid)).catch(() => 'aborted')) === 'committed') outcome = 'completed';
    }
    if (outcome === 'completed') await this.finish(rec, m, dest, log);
    else await this.rollback(rec, m, destNode, ref, outcome, reason, log);
  }

  /** Post-migration: the allocation and the records follow the guest to the destination. */
  private async finish(rec: InstanceRecord, m: MigrationRecord, dest: scheduler.Selection, log: Logger): Promise<void> {
    await this.d.scheduler.moveAllocation(m.uuid, rec.uuid);
    const updated = await this.d.instances.update(
      rec.uuid,
      { host: dest.host, node: dest.host, taskState: null, powerState: PowerState.POWER_STATE_RUNNING },
      { taskState: [TaskState.MIGRATING] },
    );
    // The guest runs on: a paused guest stays paused, a running one runs (vm_state unchanged).
    await updateMigration(this.d.redis, m.uuid, { status: 'completed' }, MIGRATION_IN_PROGRESS);
    log.info({ vmState: updated.vmState }, 'live migration completed');
  }

  private async rollback(
    rec: InstanceRecord,
    m: MigrationRecord,
    destNode: ComputeRpc,
    ref: compute.MigrationRef,
    outcome: 'cancelled' | 'error',
    reason: string,
    log: Logger,
  ): Promise<void> {
    log.warn({ outcome, err: reason }, 'live migration did not complete; the instance stays on the source');
    await destNode.rollbackLiveMigration(ref).catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'destination rollback failed; its agent discards the VM when it is back'));
    await this.d.scheduler.releaseAllocation(m.uuid).catch((err: unknown) => log.error({ err: errorMessage(err) }, 'cannot release the destination claim'));
    await this.d.instances.update(rec.uuid, { taskState: null }, { taskState: [TaskState.MIGRATING] }).catch(() => undefined);
    await updateMigration(this.d.redis, m.uuid, { status: outcome, error: reason }, MIGRATION_IN_PROGRESS);
  }
}

class Cancelled extends Error {
  constructor() {
    super('aborted before it started');
  }
}
