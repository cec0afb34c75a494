// Guest time. mtime runs at 10 MHz from the host's monotonic clock plus an offset that
// snapshots and migrations carry, so guest time never runs backwards. A virtual clock derives
// time from retired instructions instead, for deterministic runs.
import { TIMEBASE_HZ } from './memory-map.js';

export interface Clock {
  /** Current mtime in ticks (an integer below 2^53). */
  now(): number;
  /** Makes now() continue from `ticks` (restore after snapshot or migration). */
  resumeAt(ticks: number): void;
  /** Host milliseconds until mtime reaches `ticks` (0 when already past); Infinity when not host-driven. */
  msUntil(ticks: number): number;
}

const NS_PER_TICK = 1e9 / TIMEBASE_HZ;

/** mtime from process.hrtime. */
export class HostClock implements Clock {
  private offset = 0;
  private readonly origin = process.hrtime.bigint();

  private hostTicks(): number {
    return Math.floor(Number(process.hrtime.bigint() - this.origin) / NS_PER_TICK);
  }

  now(): number {
    return this.hostTicks() + this.offset;
  }

  resumeAt(ticks: number): void {
    this.offset = ticks - this.hostTicks();
  }

  msUntil(ticks: number): number {
    const d = ticks - this.now();
    return d <= 0 ? 0 : (d * NS_PER_TICK) / 1e6;
  }
}

/** mtime = instret / instructionsPerTick + offset: the same instruction stream sees the same time. */
export class VirtualClock implements Clock {
  private offset = 0;

  constructor(
    private readonly instret: () => number,
    private readonly instructionsPerTick = 10,
  ) {}

  private ticks(): number {
    return Math.floor(this.instret() / this.instructionsPerTick);
  }

  now(): number {
    return this.ticks() + this.offset;
  }

  resumeAt(ticks: number): void {
    this.offset = ticks - this.ticks();
  }

  msUntil(): number {
    return Infinity;
  }
}
