// Live migration as the node takes part in it (Nova's compute manager side): the source drives
// its VM process's `migrate` and relays progress to the caller and to the migration's record in
// Redis; the destination (ComputeManager.prepareIncoming) has a VM process waiting for the
// stream. The VM processes talk to each other over NATS, with the migration's key (from the
// gateway, in memory only) on their control sockets; they hold no Redis connection: at the commit
// point each asks its agent (MIGRATION_OWNERSHIP), which does the step in Redis (ownership.ts).
import { errorMessage, redisKeys, type Logger, type Redis } from '@hypernova/common';
import { MIGRATION_IN_PROGRESS, updateMigration, type MigrationProgressFields } from '@hypernova/cluster-state';
import type { compute } from '@hypernova/proto';
import { redisOwnership, type Ownership } from '../migration/index.js';
import { migrationKeyArg, type ComputeManager, type MigrationEndpoints } from './manager.js';
import { migrationLinks } from './migration-credentials.js';

export interface MigrationDefaults {
  downtimeLimitMs: number;
  maxBandwidth: number;
  verify: boolean;
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** A MIGRATION / MIGRATION_PROGRESS / query-migrate payload of the VM process as the gRPC message. */
export function toProgress(migrationId: string, status: string, d: Record<string, unknown>): compute.MigrationProgress {
  return {
    migrationId,
    status,
    round: num(d.round),
    memoryTotalBytes: num(d.total_bytes),
    memoryProcessedBytes: num(d.processed_bytes),
    memoryRemainingBytes: num(d.remaining_bytes),
    diskTotalBytes: num(d.disk_total_bytes),
    diskProcessedBytes: num(d.disk_processed_bytes),
    diskRemainingBytes: num(d.disk_remaining_bytes),
    transferredBytes: num(d.transferred_bytes),
    dirtyRateBytesPerS: num(d.dirty_rate_bytes_per_sec),
    bandwidthBytesPerS: num(d.bandwidth_bytes_per_sec),
    expectedDowntimeMs: num(d.expected_downtime_ms),
    downtimeMs: num(d.downtime_ms),
    throttle: num(d.throttle),
    elapsedMs: num(d.elapsed_ms ?? d.total_ms),
    error: typeof d.error === 'string' ? d.error : '',
  };
}

/** The record fields a progress report updates. */
function progressFields(p: compute.MigrationProgress): MigrationProgressFields {
  return {
    memoryTotalBytes: p.memoryTotalBytes,
    memoryProcessedBytes: p.memoryProcessedBytes,
    memoryRemainingBytes: p.memoryRemainingBytes,
    diskTotalBytes: p.diskTotalBytes,
    diskProcessedBytes: p.diskProcessedBytes,
    diskRemainingBytes: p.diskRemainingBytes,
    round: p.round,
    transferredBytes: p.transferredBytes,
    dirtyRateBytesPerS: p.dirtyRateBytesPerS,
    expectedDowntimeMs: p.expectedDowntimeMs,
    downtimeMs: p.downtimeMs,
  };
}

export class LiveMigrations {
  constructor(
    private readonly manager: ComputeManager,
    private readonly redis: Redis,
    private readonly host: string,
    private readonly endpoints: MigrationEndpoints,
    private readonly defaults: MigrationDefaults,
    private readonly logger: Logger,
  ) {}

  /** Destination, precheck: a probe file for the source to look for (see shared-storage.ts). */
  checkDestination(): compute.SharedStorageProbe {
    return { fileName: this.manager.createSharedStorageProbe() };
  }

  /** Source, precheck: whether it shares the instance's storage with the destination that made the probe. */
  checkSource(req: compute.SharedStorageCheckRequest): compute.SharedStorageCheck {
    return { sharedStorage: this.manager.sharesStorage(req.instanceUuid, req.fileName) };
  }

  /** Destination, after the prechecks. */
  cleanupCheck(req: compute.SharedStorageProbe): compute.DestroyResponse {
    return { existed: this.manager.removeSharedStorageProbe(req.fileName) };
  }

  /** Destination: see ComputeManager.prepareIncoming; its VM process asks for the commit. */
  prepare(req: compute.PrepareLiveMigrationRequest): Promise<compute.InstanceInfo> {
    const ownership = this.ownership(req.instance?.instanceUuid ?? '', req.migrationId, req.sourceHost, this.host);
    return this.manager.prepareIncoming(req, this.endpoints, ownership);
  }

  private ownership(uuid: string, migrationId: string, source: string, destination: string): Ownership {
    return redisOwnership(this.redis, {
      ownerKey: redisKeys.instanceOwner(uuid),
      outcomeKey: redisKeys.migrationOutcome(migrationId),
      source,
      destination,
    });
  }

  /**
   * Source: migrates the instance to the prepared destination; `onProgress` sees every report.
   * Resolves with the last one: completed (the instance is gone from here), failed or cancelled
   * (it still runs here).
   */
  async migrate(
    req: compute.LiveMigrateRequest,
    onProgress: (p: compute.MigrationProgress) => void,
  ): Promise<compute.MigrationProgress> {
    const id = req.migrationId;
    const uuid = req.instanceUuid;
    const vm = this.manager.get(uuid);
    const ownership = this.ownership(uuid, id, this.host, req.destHost);
    // The owner key predates migration for instances spawned by older gateways: make sure it names us.
    await this.redis.set(redisKeys.instanceOwner(uuid), this.host, 'NX');
    const args = {
      id,
      ...migrationLinks(this.endpoints, id),
      key: migrationKeyArg(req.migrationKey),
      encrypt: this.endpoints.encrypt,
      'downtime-limit': req.downtimeLimitMs || this.defaults.downtimeLimitMs,
      'max-bandwidth': Number(req.maxBandwidthBytesPerS) || this.defaults.maxBandwidth || undefined,
      verify: this.defaults.verify,
      blk: req.blockMigration,
    };
    const report = (p: compute.MigrationProgress): void => {
      onProgress(p);
      updateMigration(this.redis, id, progressFields(p), MIGRATION_IN_PROGRESS).catch((err: unknown) =>
        this.logger.warn({ migration: id, err: errorMessage(err) }, 'cannot record migration progress'),
      );
    };
    this.logger.info({ instance: uuid, migration: id, dest: req.destHost }, 'live migration starting');
    const end = await vm.serialize('migrating', () =>
      vm.migrateOut(args, (d) => report(toProgress(id, 'active', d)), ownership),
    );
    const last = toProgress(id, end.status, end.data);
    // Without block migration the destination runs on the same disk.
    if (end.status === 'completed') await this.manager.forget(uuid, !req.blockMigration);
    this.logger.info(
      { instance: uuid, migration: id, status: end.status, err: last.error || undefined },
      'live migration ended',
    );
    onProgress(last);
    return last;
  }

  /** Source: cancels (migrate_cancel) or forces the switch-over of the running migration. */
  async control(
    ref: compute.MigrationRef,
    command: 'migrate_cancel' | 'migrate-force-complete',
  ): Promise<compute.MigrationProgress> {
    const vm = this.manager.get(ref.instanceUuid);
    await vm.migrationControl(command);
    const q = await vm.migrationControl('query-migrate');
    return toProgress(ref.migrationId, String(q.status ?? ''), q);
  }

  /** Destination: drops the instance prepared for a migration that did not complete. */
  async rollback(ref: compute.MigrationRef): Promise<compute.DestroyResponse> {
    return { existed: await this.manager.discardIncoming(ref.instanceUuid) };
  }
}
