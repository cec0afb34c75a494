// Live migration as the control protocol offers it (QEMU's migrate, migrate-incoming, ...), on
// top of the migration library (../migration): one migration at a time in either direction,
// the connections it needs, its status for query-migrate, and its events. The VM process holds
// no cluster credentials: the ownership step at the commit point is its client's (the agent's),
// asked for with a MIGRATION_OWNERSHIP event and answered with migrate-ownership.
import { setTimeout as delay } from 'node:timers/promises';
import type { NatsConnection } from '@hypernova/common';
import type { BlockBackend, Machine } from '@hypernova/hypervisor';
import type { MigrationDestination, MigrationError, MigrationProgress, MigrationSource } from '../migration/index.js';
import type { EventBus } from './events.js';
import {
  CommandError,
  type MigrateOwnershipArgs,
  type MigrationEventData,
  type MigrationInfo,
  type MigrationProgressInfo,
  type RunStatus,
} from './protocol.js';

/** How often an outgoing migration reports its progress (the library's default is 250 ms). */
const PROGRESS_INTERVAL_MS = 500;
/** Longest wait for NATS to send what is queued (a last Abort or Result) before closing. */
const FLUSH_MS = 1000;

export interface MigrationTarget {
  id: string;
  /** NATS URL. */
  uri: string;
  /** The migration's secret (the migration library's key). */
  key: Buffer;
  /** Encrypt what this side sends (else authenticate it only). */
  encrypt: boolean;
  /** The client settles ownership (MIGRATION_OWNERSHIP); false: nothing checks or flips it (tests, a single node). */
  ownership: boolean;
  /** On an authenticated cluster: the CA (PEM) and this migration's NATS creds file, from the agent. */
  auth?: { ca: string; creds?: string };
  /**
   * Block migration: the disks' contents travel with the guest (both sides must say so).
   * Without it the disks are on storage both hosts share: the source flushes them in the pause
   * and the destination opens them after End.
   */
  blk: boolean;
}

export interface MigrationParams {
  downtimeLimitMs?: number;
  /** Bytes/s; 0 = no cap. */
  maxBandwidth?: number;
}

export interface OutgoingRequest extends MigrationTarget, MigrationParams {
  verify: boolean;
}

/** The control client that started an incoming migration: the migration lasts only while it stays. */
export interface Supervisor {
  /** Calls `fn` when the client goes away (at once if it has); returns the way to stop watching. */
  onGone(fn: () => void): () => void;
}

/** What migrations need of the VM process. */
export interface MigrationHost {
  readonly machine: Machine;
  /** The disks in slot order (block migration copies them; without it both hosts open the same files). */
  readonly disks: readonly BlockBackend[];
  readonly events: EventBus;
  status(): RunStatus;
  /** Incoming migration done: the library resumed the guest here. */
  arrived(): void;
  /** Outgoing migration done: the guest runs at the destination. */
  departed(): void;
  /** Outgoing migration failed or cancelled: the guest carries on here. */
  stayed(): void;
  /** Incoming migration failed with its supervisor gone: nobody will reuse or end this process, so it ends (as QEMU's does). */
  abandoned(): void;
  /** Opens the disks an incoming VM left closed (see InactiveDisk); throws when one cannot be. */
  activateDisks(): void;
}

type Active =
  | { kind: 'outgoing'; source: MigrationSource; cancelled: boolean }
  | { kind: 'incoming'; destination: MigrationDestination };

type Outcome = NonNullable<MigrateOwnershipArgs['outcome']>;

export class Migrations {
  private info: MigrationInfo = { status: 'none' };
  private active: Active | undefined;
  /** Set by migrate-set-parameters: for the active migration and every later one. */
  private params: MigrationParams = {};
  private lastProgressAt = 0;
  /** Ownership requests waiting for the client's answer, by request number. */
  private readonly asked = new Map<number, { resolve: (o: Outcome) => void; reject: (e: Error) => void }>();
  private lastRequest = 0;

  constructor(private readonly host: MigrationHost) {}

  get inProgress(): boolean {
    return this.active !== undefined;
  }

  /** query-migrate: the last migration of either direction. */
  query(): MigrationInfo {
    return { ...this.info };
  }

  /** migrate-incoming: resolves once the destination listens (the source may start then); the rest runs in the background. */
  async incoming(target: MigrationTarget, supervisor: Supervisor): Promise<void> {
    const status = this.host.status();
    if (status !== 'inmigrate') {
      throw new CommandError(
        'GenericError',
        `migrate-incoming needs a VM started with --incoming defer and no guest yet; the status is '${status}'`,
      );
    }
    this.checkIdle();
    const disks = this.host.disks;
    if (target.blk) {
      // Block migration writes them as the blocks come; shared ones stay closed until End.
      try {
        this.host.activateDisks();
      } catch (e) {
        throw new CommandError('GenericError', `migrate-incoming: ${(e as Error).message}`);
      }
    }
    const links = await Links.open(target);
    let supervised = true;
    const destination = new links.lib.MigrationDestination(this.host.machine, links.nc, {
      id: target.id,
      key: target.key,
      encrypt: target.encrypt,
      disks: target.blk ? disks : undefined,
      sharedDisks: target.blk
        ? undefined
        : { sizes: disks.map((d) => d.sizeBytes), attach: () => this.host.activateDisks() },
      // abort() cannot stop a destination that already has everything: the commit checks too.
      // Once asked, the answer is awaited even if the supervisor goes: the step may have been
      // done, and giving up now could leave the guest running nowhere.
      commit: async () => {
        if (!supervised) throw new Error('the supervisor went away');
        if (target.ownership && (await this.ask(target.id, 'commit')) !== 'committed')
          throw new Error('the migration was given up');
      },
    });
    this.begin({ kind: 'incoming', destination });
    const unwatch = supervisor.onGone(() => {
      supervised = false;
      destination.abort('the supervisor went away');
    });
    // Registered on `finished` itself, no await in between: arrived() then runs before the
    // machine's loop does, so a --paused guest is stopped again before it runs at all.
    void destination.finished
      .then(
        () => {
          this.host.arrived();
          this.end('completed', {});
        },
        (e: Error) => {
          this.end('failed', { error: e.message });
          if (!supervised) this.host.abandoned();
        },
      )
      .finally(() => {
        unwatch();
        void links.close();
      });
    try {
      await destination.listen();
    } catch (e) {
      destination.abort(`cannot listen: ${(e as Error).message}`);
      throw new CommandError('GenericError', `migrate-incoming: ${(e as Error).message}`);
    }
    if (this.active?.kind === 'incoming' && this.active.destination === destination) this.setStatus('active');
  }

  /** migrate: returns once the connections are up; the migration runs in the background. */
  async outgoing(req: OutgoingRequest): Promise<void> {
    const status = this.host.status();
    if (status !== 'running' && status !== 'paused')
      throw new CommandError('GenericError', `migrate needs a running or paused guest; the status is '${status}'`);
    this.checkIdle();
    if (this.host.machine.ram.dirtyLogActive)
      throw new CommandError('GenericError', 'the dirty log is in use: dirty-log-stop first');
    const links = await Links.open(req);
    const source = new links.lib.MigrationSource(this.host.machine, links.nc, {
      id: req.id,
      key: req.key,
      encrypt: req.encrypt,
      downtimeLimitMs: req.downtimeLimitMs ?? this.params.downtimeLimitMs,
      maxBandwidth: req.maxBandwidth ?? this.params.maxBandwidth,
      verify: req.verify,
      disks: req.blk ? this.host.disks : undefined,
      sharedDisks: req.blk ? undefined : this.host.disks,
      resolveOutcome: req.ownership ? () => this.ask(req.id, 'settle') : undefined,
      progressIntervalMs: PROGRESS_INTERVAL_MS,
      onProgress: (p) => this.onProgress(p),
    });
    const active: Active = { kind: 'outgoing', source, cancelled: false };
    this.begin(active);
    void source
      .run()
      .then(
        (r) => {
          this.host.departed();
          this.end('completed', {
            total_ms: Math.round(r.totalMs),
            downtime_ms: round1(r.downtimeMs),
            transferred_bytes: r.transferredBytes,
            rounds: r.rounds,
          });
        },
        (e: MigrationError) => {
          this.host.stayed();
          this.end(active.cancelled && e.code === 'aborted' ? 'cancelled' : 'failed', { error: e.message });
        },
      )
      .finally(() => void links.close());
  }

  /** migrate-ownership: the client's answer to a MIGRATION_OWNERSHIP request. */
  answer(a: MigrateOwnershipArgs): void {
    const waiting = this.asked.get(a.request);
    if (!waiting) throw new CommandError('GenericError', `no ownership request ${a.request} is waiting`);
    this.asked.delete(a.request);
    if (a.outcome) waiting.resolve(a.outcome);
    else waiting.reject(new Error(a.error ?? 'no outcome'));
  }

  /** Asks the client for the ownership step (see MigrationOwnershipRequest) and waits for its answer. */
  private ask(id: string, action: 'commit' | 'settle'): Promise<Outcome> {
    const request = ++this.lastRequest;
    return new Promise((resolve, reject) => {
      this.asked.set(request, { resolve, reject });
      this.host.events.emit('MIGRATION_OWNERSHIP', { id, request, action });
    });
  }

  /** migrate_cancel: the guest carries on here. */
  cancel(): void {
    const active = this.outgoingActive('migrate_cancel');
    active.cancelled = active.source.abort('cancelled by request');
    if (!active.cancelled)
      throw new CommandError('GenericError', 'too late to cancel: the migration is already ending');
  }

  /** migrate-force-complete: pause the guest and copy what is left now. */
  forceComplete(): void {
    this.outgoingActive('migrate-force-complete').source.forceComplete();
  }

  /** migrate-set-parameters. */
  setParameters(p: MigrationParams): void {
    this.params = { ...this.params, ...p };
    if (this.active?.kind !== 'outgoing') return;
    if (p.downtimeLimitMs !== undefined) this.active.source.setDowntimeLimit(p.downtimeLimitMs);
    if (p.maxBandwidth !== undefined) this.active.source.setMaxBandwidth(p.maxBandwidth);
  }

  /** The VM is going away: so is any migration (an outgoing one past its last frame is up to the destination). */
  abort(reason: string): void {
    if (this.active?.kind === 'outgoing') this.active.source.abort(reason);
    else this.active?.destination.abort(reason);
  }

  private checkIdle(): void {
    if (this.active)
      throw new CommandError(
        'GenericError',
        `a migration is already in progress (${this.active.kind}, status ${this.info.status})`,
      );
  }

  private outgoingActive(command: string): Extract<Active, { kind: 'outgoing' }> {
    if (this.active?.kind !== 'outgoing')
      throw new CommandError('GenericError', `${command}: no outgoing migration is in progress`);
    return this.active;
  }

  private begin(active: Active): void {
    this.active = active;
    this.info = { status: 'setup' };
    this.lastProgressAt = 0;
    this.host.events.emit('MIGRATION', { status: 'setup' });
  }

  private setStatus(status: 'active'): void {
    this.info.status = status;
    this.host.events.emit('MIGRATION', { status });
  }

  private end(status: 'completed' | 'failed' | 'cancelled', data: Omit<MigrationEventData, 'status'>): void {
    this.active = undefined;
    this.info = { ...this.info, status, ...(data.error === undefined ? {} : { error: data.error }) };
    this.host.events.emit('MIGRATION', { status, ...data });
  }

  /** The library reports on a timer and after every round: events go out at most every half interval. */
  private onProgress(p: MigrationProgress): void {
    const progress = progressInfo(p);
    this.info = { ...this.info, ...progress };
    // setup is before the first report; the end (completed, failed, aborted) comes from run().
    if (p.status !== 'running' && p.status !== 'switchover' && p.status !== 'completing') return;
    if (this.info.status !== 'active') this.setStatus('active');
    const now = performance.now();
    if (now - this.lastProgressAt < PROGRESS_INTERVAL_MS / 2) return;
    this.lastProgressAt = now;
    this.host.events.emit('MIGRATION_PROGRESS', progress);
  }
}

const round1 = (ms: number): number => Math.round(ms * 10) / 10;

function progressInfo(p: MigrationProgress): MigrationProgressInfo {
  return {
    round: p.round,
    total_bytes: p.totalBytes,
    processed_bytes: p.processedBytes,
    remaining_bytes: p.remainingBytes,
    transferred_bytes: p.transferredBytes,
    bandwidth_bytes_per_sec: p.bandwidthBytesPerSec,
    dirty_rate_bytes_per_sec: p.dirtyRateBytesPerSec,
    expected_downtime_ms: p.expectedDowntimeMs,
    downtime_limit_ms: p.downtimeLimitMs,
    throttle: p.throttle,
    retransmits: p.retransmits,
    rejected: p.rejected,
    elapsed_ms: p.elapsedMs,
    disk_total_bytes: p.diskTotalBytes,
    disk_processed_bytes: p.diskProcessedBytes,
    disk_remaining_bytes: p.diskRemainingBytes,
    ...(p.downtimeMs === undefined ? {} : { downtime_ms: round1(p.downtimeMs) }),
  };
}

/** The migration library and the NATS client, loaded at the first migration: most VM processes never migrate, and loading them costs every VM ~0.3 s of start-up and ~20 MiB. */
const loadLibraries = async () => ({
  common: await import('@hypernova/common'),
  lib: await import('../migration/index.js'),
});
type Libraries = Awaited<ReturnType<typeof loadLibraries>>;

/** One migration's connection: NATS for the stream. */
class Links {
  private constructor(
    readonly lib: Libraries['lib'],
    readonly nc: NatsConnection,
  ) {}

  static async open(target: MigrationTarget): Promise<Links> {
    const { common, lib } = await loadLibraries();
    const auth = target.auth;
    try {
      const nc = await common.connectNats(target.uri, {
        name: `hypernova-vm migration ${target.id}`,
        credentials: auth && { ca: auth.ca, natsCreds: auth.creds },
      });
      return new Links(lib, nc);
    } catch (e) {
      throw new CommandError('GenericError', `cannot connect to NATS at ${target.uri}: ${(e as Error).message}`);
    }
  }

  async close(): Promise<void> {
    // close() drops what NATS still has queued: flush first, but not for long (the server may be gone).
    const flushed = this.nc
      .flush()
      .catch((err: unknown) => process.stderr.write(`hypernova: migration: flush before close: ${String(err)}\n`));
    await Promise.race([flushed, delay(FLUSH_MS, undefined, { ref: false })]);
    await this.nc.close();
  }
}
