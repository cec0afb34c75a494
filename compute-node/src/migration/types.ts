// What a migration reports: its error type, the progress it publishes while it runs, and the
// counters of frames it refused.

export type MigrationErrorCode =
  'aborted' | 'refused' | 'stalled' | 'connection' | 'protocol' | 'state' | 'verify' | 'commit' | 'timeout';

export class MigrationError extends Error {
  override readonly name = 'MigrationError';

  constructor(
    readonly code: MigrationErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type MigrationStatus = 'setup' | 'running' | 'switchover' | 'completing' | 'completed' | 'failed' | 'aborted';

/** A snapshot of a migration as it goes (Nova's memory_* fields map onto the *Bytes ones, disk_* onto disk*Bytes). */
export interface MigrationProgress {
  id: string;
  status: MigrationStatus;
  /** 1 = the first pass over all of RAM; then one per pass over the pages dirtied meanwhile. */
  round: number;
  /** Guest RAM size (memory_total_bytes). */
  totalBytes: number;
  /** Guest pages dealt with so far, × 4 KiB, every round counted (memory_processed_bytes). */
  processedBytes: number;
  /** Dirty pages still to send × 4 KiB (memory_remaining_bytes). */
  remainingBytes: number;
  /** Block migration, in 64 KiB blocks: what round 1 found the disks hold (disk_total_bytes); 0 without disks. */
  diskTotalBytes: number;
  /** Disk blocks sent so far, every round counted (disk_processed_bytes). */
  diskProcessedBytes: number;
  /** Disk blocks written and not yet sent (disk_remaining_bytes). */
  diskRemainingBytes: number;
  /** Bytes put on the wire (frames, headers included, retransmissions included). */
  transferredBytes: number;
  /** Measured link throughput, bytes/s (acknowledged frames over the time some were in flight). */
  bandwidthBytesPerSec: number;
  /** How fast the guest dirtied pages over the last round, bytes/s. */
  dirtyRateBytesPerSec: number;
  /** What stopping now would cost, from the estimate of the remaining bytes on the wire. */
  expectedDowntimeMs: number;
  downtimeLimitMs: number;
  /** Fraction of host time the guest is held back (auto-converge), 0..0.99. */
  throttle: number;
  /** Whether frame bodies are deflated. */
  deflate: boolean;
  pages: { zero: number; raw: number; delta: number; unchanged: number };
  retransmits: number;
  /** Frames refused: not for this migration or not authentic (forged), malformed (corrupt), or an old sequence number (replayed). */
  rejected: RejectCounters;
  elapsedMs: number;
  /** Source pause → destination's result, once known. */
  downtimeMs?: number;
  error?: string;
}

export interface RejectCounters {
  forged: number;
  corrupt: number;
  replayed: number;
}

export const emptyRejectCounters = (): RejectCounters => ({ forged: 0, corrupt: 0, replayed: 0 });
