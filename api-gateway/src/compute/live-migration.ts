// Live migration as the API runs it (Nova's conductor live_migrate task and the compute manager's
// post/rollback): prechecks and a claim on the destination before the 202, then in the
// background the destination prepares its VM process, the source streams the guest over, and
// the records follow the outcome. The instance's owner key in Redis is the truth about where the
// guest runs: the destination node flips it at the commit point, and when the source's report is
// lost the outcome is settled there (committed, or aborted so that it can no longer commit).
// The gateway driving a migration holds a lease on it in Redis; a migration whose lease lapsed
// (its gateway died) is taken over by the next gateway to sweep: it watches the source node
// until the migration ends there, then settles it as above.
// Whether the two nodes share the instance's storage is asked of them before the 202 (Nova's
// check_can_live_migrate_destination/source): only then may the disk stay where it is.
// Each migration gets a key of its own, made here and handed to both nodes over gRPC (never
// stored): it authenticates and encrypts the stream between their VM processes.
import { randomBytes } from 'node:crypto';
import {
  NoValidHostError,
  NotFoundError,
  errorMessage,
  keepLease,
  redisKeys,
  type Logger,
  type Lease,
  type Redis,
  suppressed,
} from '@hypernova/common';
import {
  InstanceStateConflictError,
  MIGRATION_IN_PROGRESS,
  PowerState,
  TaskState,
  VmState,
  createMigration,
  getHost,
  getImage,
  getMigration,
  holdMigrationLease,
  listMigrations,
  settleOutcome,
  updateMigration,
  type InstanceRecord,
  type MigrationRecord,
} from '@hypernova/cluster-state';
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
  /** This gateway's leases (on a migration it drives): its holder name and their lifetime unless renewed. */
  lease: Lease;
}

export interface LiveMigrationRequest {
  /** The destination, or null for the scheduler to pick one. */
  host: string | null;
  /** 'auto' (2.25+): block migration unless the disks are on storage source and destination share. */
  blockMigration: boolean | 'auto';
}

const MIGRATABLE = [VmState.ACTIVE, VmState.PAUSED];
/** How often a taken-over migration's source node is asked whether it still runs it. */
const WATCH_INTERVAL_MS = 500;

type Outcome = 'completed' | 'cancelled' | 'error';

export class LiveMigrations {
  private readonly lease: Lease;
  private sweeper?: NodeJS.Timeout;

  constructor(private readonly d: LiveMigrationDeps) {
    this.lease = d.lease;
  }

  /**
   * Checks the request, marks the instance migrating (409 when it is busy or not running),
   * records the migration and claims its destination (400 when none fits); the migration then
   * runs in the background.
   */
  async start(rec: InstanceRecord, req: LiveMigrationRequest, ctx: ActionContext): Promise<MigrationRecord> {
    if (req.host !== null && req.host === rec.host)
      throw badRequest(`Unable to migrate instance (${rec.uuid}) to current host (${rec.host}).`);
    const source = rec.host ? await getHost(this.d.redis, rec.host) : undefined;
    if (!source?.up) throw badRequest(`Compute service of ${rec.host} is unavailable at this time.`);
    if (req.host !== null) {
      const dest = await getHost(this.d.redis, req.host);
      if (!dest) throw badRequest(`Compute host ${req.host} could not be found.`);
      if (!dest.up) throw badRequest(`Compute service of ${req.host} is unavailable at this time.`);
    }
    const image = await getImage(this.d.redis, rec.imageId);
    if (!image)
      throw badRequest(
        `Image ${rec.imageId} of instance ${rec.uuid} could not be found: the destination cannot rebuild its disk.`,
      );
    const group = rec.serverGroup ? await this.d.serverGroups.get(rec.serverGroup) : undefined;

    try {
      await this.d.instances.update(
        rec.uuid,
        { taskState: TaskState.MIGRATING },
        { vmState: MIGRATABLE, taskState: [null] },
      );
    } catch (err) {
      if (err instanceof InstanceStateConflictError)
        throw conflict(invalidStateMessage('live_migration', rec.uuid, err.attr, err.state));
      throw err;
    }
    const migration = await createMigration(
      this.d.redis,
      {
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
      },
      this.lease,
    );
    const lease = this.keepLease(migration.uuid);
    try {
      const spec = {
        ...requestSpec({ instance: rec, image, group }),
        availabilityZone: rec.requestedAvailabilityZone,
        ignoreHosts: [rec.host],
      };
      let dest: scheduler.Selection;
      let blockMigration: boolean;
      // A storage refusal of a host the scheduler picked, reported if no other host will do.
      let skipped: string | undefined;
      for (;;) {
        try {
          dest =
            req.host === null
              ? (await this.d.scheduler.selectDestinations(spec, migration.uuid))[0]!
              : await this.d.scheduler.claimOnHost(spec, req.host, migration.uuid);
        } catch (err) {
          const reason = err instanceof NoValidHostError ? (skipped ?? err.message) : errorMessage(err);
          await this.refused(rec, migration, reason);
          if (err instanceof NoValidHostError) throw badRequest(reason);
          if (err instanceof NotFoundError) throw badRequest(`Compute host ${req.host} could not be found.`);
          throw fromServiceError(err) ?? err;
        }
        const shared = await this.sharedStorage(rec, source.address, dest);
        blockMigration = req.blockMigration === 'auto' ? !shared : req.blockMigration;
        if (blockMigration !== shared) break;
        // Nova's InvalidLocalStorage / InvalidSharedStorage.
        const reason = shared
          ? 'Block migration can not be used with shared storage.'
          : `${dest.host} is not on shared storage: Shared storage live-migration requires either shared storage or boot-from-volume with no local disks.`;
        await this.d.scheduler
          .releaseAllocation(migration.uuid)
          .catch((err: unknown) =>
            this.d.logger.error({ err: errorMessage(err) }, 'cannot release the destination claim'),
          );
        if (req.host !== null) {
          await this.refused(rec, migration, reason);
          throw badRequest(reason);
        }
        // As Nova's conductor does with a host that fails its prechecks: ask the scheduler again without it.
        skipped = reason;
        spec.ignoreHosts.push(dest.host);
      }
      const placed = {
        status: 'preparing',
        destCompute: dest.host,
        destNode: dest.host,
        destHost: dest.address,
        blockMigration,
      } as const;
      const started: MigrationRecord = { ...migration, ...placed };
      await updateMigration(this.d.redis, migration.uuid, placed);
      const action = await this.d.actions.start(rec.uuid, 'live-migration', ctx);
      const spawn = spawnRequest({ instance: rec, image }, dest.allocationId);
      this.d.tasks.run(rec.uuid, 'live-migration', () => this.run(rec, started, spawn, action).finally(lease.end));
      return started;
    } catch (err) {
      await lease.end();
      throw err;
    }
  }

  /** A migration refused before it started: recorded as an error, the instance free again. */
  private async refused(rec: InstanceRecord, m: MigrationRecord, reason: string): Promise<void> {
    await updateMigration(this.d.redis, m.uuid, { status: 'error', error: reason });
    await this.d.instances
      .update(rec.uuid, { taskState: null }, { taskState: [TaskState.MIGRATING] })
      .catch(
        suppressed(this.d.logger, 'live-migration', 'clear task state', { instance: rec.uuid, migration: m.uuid }),
      );
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
      this.d.logger.warn(
        { instance: rec.uuid, dest: dest.host, err: errorMessage(err) },
        'shared storage check failed on the destination',
      );
      return false;
    }
    try {
      return (
        await this.d.clients
          .at(sourceAddress)
          .checkCanLiveMigrateSource({ instanceUuid: rec.uuid, fileName: probe.fileName })
      ).sharedStorage;
    } catch (err) {
      this.d.logger.warn(
        { instance: rec.uuid, source: rec.host, err: errorMessage(err) },
        'shared storage check failed on the source',
      );
      return false;
    } finally {
      await destNode
        .cleanupLiveMigrationCheck(probe)
        .catch((err: unknown) =>
          this.d.logger.warn(
            { dest: dest.host, probe: probe.fileName, err: errorMessage(err) },
            'cannot remove the shared storage probe',
          ),
        );
    }
  }

  /** Sweeps for abandoned migrations now and then every lease period, until stopSweeping. */
  startSweeping(): void {
    const sweep = () =>
      void this.sweep().catch((err: unknown) =>
        this.d.logger.warn({ err: errorMessage(err) }, 'live migration sweep failed'),
      );
    this.sweeper ??= setInterval(sweep, this.lease.ttlMs);
    this.sweeper.unref();
    sweep();
  }

  stopSweeping(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /**
   * Takes over every migration in progress whose lease nobody holds (the gateway that drove it
   * died): one gateway wins each lease, and watches the migration to its end.
   */
  private async sweep(): Promise<void> {
    for (const m of await listMigrations(this.d.redis, { inProgress: true })) {
      if (!(await holdMigrationLease(this.d.redis, m.uuid, this.lease, 'take'))) continue;
      const lease = this.keepLease(m.uuid);
      this.d.tasks.run(m.instanceUuid, 'live-migration', () => this.takeOver(m.uuid).finally(lease.end));
    }
  }

  /** Nova's force_complete: the source switches over now. */
  async forceComplete(m: MigrationRecord): Promise<void> {
    if (m.status !== 'running') {
      throw badRequest(
        `Migration ${m.id} state of instance ${m.instanceUuid} is ${m.status}. Cannot force_complete while the migration is in this state.`,
      );
    }
    await this.callSource(m, (n) =>
      n.forceCompleteLiveMigration({ instanceUuid: m.instanceUuid, migrationId: m.uuid }),
    );
  }

  /** Aborts a migration that has not switched over: the guest stays on the source. */
  async abort(m: MigrationRecord): Promise<void> {
    if (!['queued', 'preparing', 'running'].includes(m.status)) {
      throw badRequest(
        `Migration ${m.id} state of instance ${m.instanceUuid} is ${m.status}. Cannot abort live migration while the migration is in this state.`,
      );
    }
    await updateMigration(this.d.redis, m.uuid, { status: 'cancelling' }, ['queued', 'preparing', 'running']);
    if (m.status === 'running')
      await this.callSource(m, (n) => n.abortLiveMigration({ instanceUuid: m.instanceUuid, migrationId: m.uuid }));
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

  /**
   * Renews this gateway's lease on the migration until `end`. A lease lost meanwhile is only
   * logged: the gateway that took the migration over settles it the same way (the owner key
   * decides), and every step that ends it is conditional or idempotent.
   */
  private keepLease(uuid: string): { end: () => Promise<void> } {
    return keepLease(this.d.redis, redisKeys.migrationLease(uuid), this.lease, {
      lost: () => this.d.logger.warn({ migration: uuid }, 'another gateway took over this live migration'),
      failed: (err, op) =>
        this.d.logger.warn({ migration: uuid, err: errorMessage(err) }, `cannot ${op} the live migration lease`),
    });
  }

  private logFor(m: MigrationRecord): Logger {
    return this.d.logger.child({
      instance: m.instanceUuid,
      migration: m.uuid,
      source: m.sourceCompute,
      dest: m.destCompute,
    });
  }

  private async run(
    rec: InstanceRecord,
    m: MigrationRecord,
    spawn: compute.SpawnRequest,
    action: ActionRecorder,
  ): Promise<void> {
    const destNode = this.d.clients.at(m.destHost);
    const migrationKey = randomBytes(32);
    let outcome: Outcome;
    let reason = '';
    try {
      await action.event('compute_pre_live_migration', m.destCompute, () =>
        destNode.prepareLiveMigration({
          instance: spawn,
          migrationId: m.uuid,
          sourceHost: rec.host,
          blockMigration: m.blockMigration,
          migrationKey,
        }),
      );
      // An abort that came while the destination was being prepared ends it here.
      if (!(await updateMigration(this.d.redis, m.uuid, { status: 'running' }, ['preparing']))) throw new Cancelled();
      const source = await getHost(this.d.redis, rec.host);
      if (!source?.address) throw new Error(`source host ${rec.host} is not registered`);
      const last = await action.event('compute_live_migration', rec.host, () =>
        this.d.clients.at(source.address).liveMigrate(
          {
            instanceUuid: rec.uuid,
            migrationId: m.uuid,
            destHost: m.destCompute,
            blockMigration: m.blockMigration,
            downtimeLimitMs: 0,
            maxBandwidthBytesPerS: 0,
            migrationKey,
          },
          () => undefined, // the source node records progress in Redis itself
        ),
      );
      outcome = last.status === 'completed' ? 'completed' : last.status === 'cancelled' ? 'cancelled' : 'error';
      reason = last.error;
    } catch (err) {
      outcome = err instanceof Cancelled ? 'cancelled' : 'error';
      reason = errorMessage(err);
    }
    await this.conclude(m, outcome, reason);
  }

  /**
   * A migration whose gateway died: one still under way on the source is watched until it ends
   * there (LiveMigrate is only called once the record says running), then it is settled as a
   * migration whose outcome report was lost.
   */
  private async takeOver(uuid: string): Promise<void> {
    const m = await getMigration(this.d.redis, uuid);
    if (!m || !MIGRATION_IN_PROGRESS.includes(m.status)) return; // it ended before we took it
    this.logFor(m).warn({ status: m.status }, 'taking over a live migration whose gateway stopped');
    if (m.status === 'running' || m.status === 'cancelling') {
      while (await this.sourceMigrating(m)) await new Promise((r) => setTimeout(r, WATCH_INTERVAL_MS));
    }
    // An abort may have been asked for while we watched.
    const cancelled = (await getMigration(this.d.redis, uuid))?.status === 'cancelling';
    const reason = 'the API gateway driving the migration stopped before it ended';
    const outcome = await this.conclude(m, cancelled ? 'cancelled' : 'error', reason);
    // The dead gateway's task left the action's events open (compute_live_migration): end them.
    await this.d.actions.finishOpenEvents(
      m.instanceUuid,
      'live-migration',
      outcome === 'completed' ? 'Success' : 'Error',
      outcome === 'completed' ? null : reason,
    );
  }

  /**
   * Whether the source node still runs the migration (its agent shows the instance's task as
   * migrating). A source that is down or does not answer counts as no: settling then aborts a
   * migration that could still have committed, which costs the migration, never the guest.
   */
  private async sourceMigrating(m: MigrationRecord): Promise<boolean> {
    const source = await getHost(this.d.redis, m.sourceCompute);
    if (!source?.up) return false;
    const info = await this.d.clients
      .at(source.address)
      .instanceInfo(m.instanceUuid)
      .catch(suppressed(this.logFor(m), 'live-migration', 'ask the source', {}, 'debug'));
    return info?.task === 'migrating';
  }

  /** Ends the migration with `outcome`, unless the owner key says the destination committed it; returns how it ended. */
  private async conclude(m: MigrationRecord, outcome: Outcome, reason: string): Promise<Outcome> {
    if (outcome !== 'completed') {
      // Whatever was lost on the way, the owner key says where the guest runs; settle it.
      // Unsettled (Redis unreachable) counts as aborted: the guest then stays on the source.
      const settled = await settleOutcome(this.d.redis, redisKeys.migrationOutcome(m.uuid)).catch(
        suppressed(this.logFor(m), 'live-migration', 'settle outcome'),
      );
      if (settled === 'committed') outcome = 'completed';
    }
    if (outcome === 'completed') await this.finish(m);
    else await this.rollback(m, outcome, reason);
    return outcome;
  }

  /** Post-migration: the allocation and the records follow the guest to the destination. */
  private async finish(m: MigrationRecord): Promise<void> {
    const log = this.logFor(m);
    await this.d.scheduler.moveAllocation(m.uuid, m.instanceUuid);
    const moved = { host: m.destCompute, node: m.destNode };
    try {
      const updated = await this.d.instances.update(
        m.instanceUuid,
        { ...moved, taskState: null, powerState: PowerState.POWER_STATE_RUNNING },
        { taskState: [TaskState.MIGRATING] },
      );
      // The guest runs on: a paused guest stays paused, a running one runs (vm_state unchanged).
      log.info({ vmState: updated.vmState }, 'live migration completed');
    } catch (err) {
      // No longer migrating: deleted (the delete wins) or reset meanwhile. The host fields still
      // follow the guest, so that a delete under way finds it where it runs; after a delete that
      // already ended, what moved with the guest is freed here.
      if (err instanceof InstanceStateConflictError) {
        const live = Object.values(VmState).filter((s) => s !== VmState.DELETED);
        await this.d.instances
          .update(m.instanceUuid, moved, { vmState: live })
          .catch(suppressed(log, 'live-migration', 'move host fields'));
      } else if (err instanceof NotFoundError) {
        await this.d.clients
          .at(m.destHost)
          .destroy(m.instanceUuid)
          .catch((e: unknown) => log.warn({ err: errorMessage(e) }, 'cannot destroy the migrated guest'));
        await this.d.scheduler.releaseAllocation(m.instanceUuid);
      } else {
        throw err;
      }
      log.warn({ err: errorMessage(err) }, 'live migration completed on an instance no longer migrating');
    }
    await updateMigration(this.d.redis, m.uuid, { status: 'completed' }, MIGRATION_IN_PROGRESS);
  }

  private async rollback(m: MigrationRecord, outcome: 'cancelled' | 'error', reason: string): Promise<void> {
    const log = this.logFor(m);
    log.warn({ outcome, err: reason }, 'live migration did not complete; the instance stays on the source');
    // A migration that ended before the scheduler answered has no destination to roll back.
    if (m.destHost) {
      await this.d.clients
        .at(m.destHost)
        .rollbackLiveMigration({ instanceUuid: m.instanceUuid, migrationId: m.uuid })
        .catch((err: unknown) =>
          log.warn(
            { err: errorMessage(err) },
            'destination rollback failed; its agent discards the VM when it is back',
          ),
        );
    }
    await this.d.scheduler
      .releaseAllocation(m.uuid)
      .catch((err: unknown) => log.error({ err: errorMessage(err) }, 'cannot release the destination claim'));
    await this.d.instances
      .update(m.instanceUuid, { taskState: null }, { taskState: [TaskState.MIGRATING] })
      .catch(suppressed(log, 'live-migration', 'clear task state'));
    await updateMigration(this.d.redis, m.uuid, { status: outcome, error: reason }, MIGRATION_IN_PROGRESS);
  }
}

class Cancelled extends Error {
  constructor() {
    super('aborted before it started');
  }
}
