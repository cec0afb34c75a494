// The VM process's control protocol: QMP's message shapes, one JSON object per line, over a
// unix stream socket. The agent (and anything else that supervises a VM) codes against these
// types; the server is control-server.ts, a client is client.ts.
//
//   server → client, once:  {"QMP": {"version": {...}, "capabilities": []}}
//   client → server:        {"execute": NAME, "arguments": {...}, "id": ANY}
//   server → client:        {"return": VALUE, "id": ANY} | {"error": {"class", "desc"}, "id": ANY}
//   server → every client:  {"event": NAME, "data": {...}, "timestamp": {"seconds", "microseconds"}}
//
// After a successful `console` command the connection stops speaking JSON and carries the
// serial port's bytes in both directions.

export const PROTOCOL_PACKAGE = 'hypernova';

export interface QmpGreeting {
  QMP: {
    version: { qemu: { major: number; minor: number; micro: number }; package: string };
    capabilities: string[];
  };
}

export interface QmpCommand {
  execute: string;
  arguments?: Record<string, unknown>;
  id?: unknown;
}

/** Error classes as QMP names them. */
export type QmpErrorClass = 'GenericError' | 'CommandNotFound' | 'DeviceNotActive' | 'DeviceNotFound';

export interface QmpErrorReply {
  error: { class: QmpErrorClass; desc: string };
  id?: unknown;
}

export interface QmpReturn<T = unknown> {
  return: T;
  id?: unknown;
}

export interface QmpEvent<T = Record<string, unknown>> {
  event: EventName;
  data: T;
  timestamp: { seconds: number; microseconds: number };
}

export type QmpMessage = QmpGreeting | QmpReturn | QmpErrorReply | QmpEvent;

/** QEMU's RunState names, the subset a Hypernova VM goes through. */
export type RunStatus = 'running' | 'paused' | 'inmigrate' | 'postmigrate' | 'shutdown';
/** What query-status says: a run status, or finish-migrate during an outgoing switch-over. */
export type QueryStatus = RunStatus | 'finish-migrate';

export interface StatusInfo {
  running: boolean;
  status: QueryStatus;
  singlestep: false;
}

export interface VmStats {
  /** Guest instructions retired since the machine was created (carried over by a restore). */
  instructions: number;
  /** Millions of guest instructions per second over the last sampling interval. */
  mips: number;
  /** Length of that interval in ms (sampled once a second). */
  mips_interval_ms: number;
  rss_bytes: number;
  /** Host CPU time of the whole VM process, in microseconds. */
  cpu_user_us: number;
  cpu_system_us: number;
  guest_memory_bytes: number;
  dirty_log_active: boolean;
  /** Pages reported by dirty-log-fetch since the process started. */
  dirty_pages_total: number;
  uptime_ms: number;
}

export interface DirtyLogFetch {
  /** Indexes of the 4 KiB pages written since the last fetch (or start); page 0 is the first page of RAM. */
  pages: number[];
  page_size: number;
  /** Guest-physical address of page 0. */
  ram_base: number;
}

// --- live migration (QEMU's migrate commands; see README.md) ---

export interface MigrateIncomingArgs {
  /** The migration's id, the same on both sides. */
  id: string;
  /** NATS URL, e.g. nats://127.0.0.1:4222. */
  uri: string;
  /** The migration's secret, 64 hex digits (256 random bits), the same on both sides: it authenticates every frame. */
  key: string;
  /** Encrypt what this side sends (default true); false: authenticate it only (HMAC-SHA256). */
  encrypt?: boolean;
  /**
   * The client settles the instance's ownership: at the commit point the VM process sends it a
   * MIGRATION_OWNERSHIP event and waits for its migrate-ownership answer. Without it nothing
   * checks or flips ownership (tests, a single node).
   */
  ownership?: boolean;
  /** An authenticated cluster's CA (PEM) and this migration's NATS creds file (see agent/migration-credentials.ts). */
  ca?: string;
  creds?: string;
}

/** The MIGRATION_OWNERSHIP event: a question for the client that settles ownership. */
export interface MigrationOwnershipRequest {
  id: string;
  /** Repeated in the answer. */
  request: number;
  /**
   * commit (destination): flip the owner from source to destination, once, unless the migration
   * was given up; settle (source, the destination's result lost): say how it ended, marking it
   * aborted if nothing decided yet.
   */
  action: 'commit' | 'settle';
}

/** migrate-ownership: the answer to a MIGRATION_OWNERSHIP request, an outcome or why there is none. */
export interface MigrateOwnershipArgs {
  request: number;
  outcome?: 'committed' | 'aborted';
  error?: string;
}

export interface MigrationParameters {
  /** Longest acceptable pause of the guest at switch-over, ms (library default 300). */
  'downtime-limit'?: number;
  /** Bytes/s cap on the stream before the switch-over; 0 = none (the default). */
  'max-bandwidth'?: number;
}

export interface MigrateArgs extends MigrateIncomingArgs, MigrationParameters {
  /** Send a sha256 of RAM for the destination to check (costs a hash of RAM in the pause). */
  verify?: boolean;
  /** Block migration: not available yet (an error when true). */
  blk?: boolean;
}

/** QEMU's MigrationStatus names, the subset a Hypernova migration goes through. */
export type MigrationStatusName = 'none' | 'setup' | 'active' | 'completed' | 'failed' | 'cancelled';

/** An outgoing migration's progress (the library's MigrationProgress, snake_case). */
export interface MigrationProgressInfo {
  /** 1 = the first pass over all of RAM; then one per pass over the pages dirtied meanwhile. */
  round: number;
  total_bytes: number;
  /** Pages dealt with so far × 4 KiB, every round counted. */
  processed_bytes: number;
  remaining_bytes: number;
  /** Bytes put on the wire, headers and retransmissions included. */
  transferred_bytes: number;
  bandwidth_bytes_per_sec: number;
  dirty_rate_bytes_per_sec: number;
  /** What stopping now would cost; -1 before it can be estimated. */
  expected_downtime_ms: number;
  downtime_limit_ms: number;
  /** Fraction of host time the guest is held back (auto-converge), 0..0.99. */
  throttle: number;
  retransmits: number;
  /** Frames refused: of another migration, with a bad checksum, or replayed. */
  rejected: { forged: number; corrupt: number; replayed: number };
  elapsed_ms: number;
  /** Block migration: the disks' size, what was sent (every round counted) and what is still dirty. */
  disk_total_bytes: number;
  disk_processed_bytes: number;
  disk_remaining_bytes: number;
  /** Source pause → destination resume, once known. */
  downtime_ms?: number;
}

/**
 * query-migrate: the last migration of either direction. The progress fields are there for an
 * outgoing migration once it has started streaming; an incoming one reports its status only.
 */
export interface MigrationInfo extends Partial<MigrationProgressInfo> {
  status: MigrationStatusName;
  error?: string;
}

/** The MIGRATION event: each status change. */
export interface MigrationEventData {
  status: Exclude<MigrationStatusName, 'none'>;
  /** failed, cancelled: why. */
  error?: string;
  /** An outgoing migration's completion: */
  total_ms?: number;
  downtime_ms?: number;
  transferred_bytes?: number;
  rounds?: number;
}

export type EventName =
  | 'STOP'
  | 'RESUME'
  | 'RESET'
  | 'POWERDOWN'
  | 'SHUTDOWN'
  | 'GUEST_PANICKED'
  | 'MIGRATION'
  | 'MIGRATION_PROGRESS'
  | 'MIGRATION_OWNERSHIP';

/** SHUTDOWN and RESET reasons, as QEMU's ShutdownCause. */
export type ShutdownReason =
  | 'host-qmp-quit'
  | 'host-qmp-system-reset'
  | 'host-signal'
  | 'host-ui'
  | 'host-error'
  | 'guest-shutdown'
  | 'guest-reset';

/** A command failed: becomes an error reply, never takes the process down. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    readonly errorClass: QmpErrorClass,
    message: string,
  ) {
    super(message);
  }
}

export function timestamp(now = Date.now()): QmpEvent['timestamp'] {
  const us = Math.round(now * 1000);
  return { seconds: Math.floor(us / 1e6), microseconds: us % 1e6 };
}

export function greeting(): QmpGreeting {
  // QEMU-style tools look for version.qemu; Hypernova answers with its own numbering.
  return { QMP: { version: { qemu: { major: 0, minor: 1, micro: 0 }, package: PROTOCOL_PACKAGE }, capabilities: [] } };
}

/**
 * Splits a byte stream into lines, with a cap so one endless line cannot eat the process's
 * memory. Works on bytes, not text: a connection can stop being line-based part-way through a
 * chunk (the `console` command), and what follows must reach the guest unchanged.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private skipping = false;
  private stopped = false;

  /** `onLine` returns false to stop splitting; the bytes after that line are kept for takeRest(). */
  constructor(
    private readonly onLine: (line: string) => boolean | void,
    private readonly onOverflow: () => void,
    private readonly maxLine = 16 << 20,
  ) {}

  push(chunk: Buffer): void {
    if (this.stopped) {
      this.parts.push(chunk);
      return;
    }
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.skipping) {
        this.skipping = false;
        continue;
      }
      const line = Buffer.concat([...this.parts, piece]).toString('utf8');
      this.parts = [];
      this.size = 0;
      if (this.onLine(line) === false) {
        this.stopped = true;
        if (start < chunk.length) this.parts.push(chunk.subarray(start));
        return;
      }
    }
    if (this.skipping || start === chunk.length) return;
    this.parts.push(chunk.subarray(start));
    this.size += chunk.length - start;
    if (this.size > this.maxLine) {
      // Drop the rest of this line and report it once.
      this.parts = [];
      this.size = 0;
      this.skipping = true;
      this.onOverflow();
    }
  }

  /** After a stop: the bytes that followed the last line. */
  takeRest(): Buffer {
    const rest = Buffer.concat(this.parts);
    this.parts = [];
    return rest;
  }
}
