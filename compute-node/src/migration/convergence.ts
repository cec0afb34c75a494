// When to stop copying and switch over, and what to do when the guest dirties memory faster
// than the link drains it.
//
// QEMU switches over as soon as remaining bytes / bandwidth fits the downtime limit. That
// limit is a ceiling, not a target: while another round still shrinks what is left, one more
// round is cheap (rounds get shorter as they shrink) and the guest's pause gets shorter, so we
// keep going until the estimate is a few milliseconds, stops shrinking, or rounds run out.
// When the estimate does not fit and does not shrink, escalate, mildest first:
//   1. give the sender a larger share of the VM process's event loop (the guest and the sender
//      share one thread: that is "raising the rate");
//   2. deflate frame bodies, when the link (a max bandwidth) rather than the CPU is the limit;
//   3. throttle the guest's CPU, 20 % then +10 % per round up to 99 % (auto-converge).
// Deltas against the pages already sent (pages.ts) are always on: they cost little and turn a
// rewritten page into a few bytes, so most guests converge before step 3.

export interface ConvergenceOptions {
  downtimeLimitMs: number;
  /** Escalate when not converging (steps 1–3 above). */
  autoConverge: boolean;
  throttleInitial: number;
  throttleIncrement: number;
  throttleMax: number;
}

export const DEFAULT_CONVERGENCE: ConvergenceOptions = {
  downtimeLimitMs: 300,
  autoConverge: true,
  throttleInitial: 0.2,
  throttleIncrement: 0.1,
  throttleMax: 0.99,
};

/** A pause this short is as good as it gets (state, a round trip, the resume). */
const GOOD_ENOUGH_MS = 5;
/** A round must cut the estimate by this factor to be worth another. */
const SHRINK = 0.7;
/** Rounds that fit the limit before switching regardless. */
const MAX_FITTING_ROUNDS = 5;
/** Shares of the event loop the sender may take, in ms per turn (the guest runs 4 ms slices). */
const PUMP_BUDGETS_MS = [4, 8, 16];

/** The bandwidth meter forgets by volume: older samples weigh half as much with every this many bytes newer. */
const METER_HALF_LIFE_BYTES = 16 * 1024 * 1024;

/** Link throughput: acknowledged bytes over the time frames were in flight (idle time excluded). */
export class BandwidthMeter {
  private bytes = 0;
  private busyMs = 0;
  private busySince = -1;
  private estimate = 0;
  /** Sums of the samples folded in so far, decayed by volume. */
  private sumBytes = 0;
  private sumMs = 0;

  /** The sender has frames in flight (true) or none (false). */
  busy(inFlight: boolean, now = performance.now()): void {
    if (inFlight && this.busySince < 0) this.busySince = now;
    else if (!inFlight && this.busySince >= 0) {
      this.busyMs += now - this.busySince;
      this.busySince = -1;
    }
  }

  acked(bytes: number): void {
    this.bytes += bytes;
  }

  /**
   * Bytes/s; folds the samples since the last call in (rounds too small to time keep the old
   * value). Samples are weighed by their size, not averaged as rates, and age by the bytes sent
   * after them, not by their count: a late round of a few MiB, slow to fill the pipe, must not
   * count as much as a 32 MiB one, nor make it count less.
   */
  sample(now = performance.now()): number {
    let ms = this.busyMs;
    if (this.busySince >= 0) {
      ms += now - this.busySince;
      this.busySince = now;
    }
    if (this.bytes >= 256 * 1024 && ms > 1) {
      const keep = 0.5 ** (this.bytes / METER_HALF_LIFE_BYTES);
      this.sumBytes = this.sumBytes * keep + this.bytes;
      this.sumMs = this.sumMs * keep + ms;
      this.estimate = (this.sumBytes / this.sumMs) * 1000;
      this.bytes = 0;
      this.busyMs = 0;
    } else if (this.busySince < 0) {
      this.busyMs = ms;
    }
    return this.estimate;
  }

  get bytesPerSec(): number {
    return this.estimate;
  }
}

export interface RoundReport {
  round: number;
  /** Bytes the pages still to send will take on the wire (estimate). */
  remainingWireBytes: number;
  /** CPU the pages still to send cost beyond their bytes (deltas: diffing here, applying there). */
  remainingCpuMs: number;
  /** Measured link throughput, bytes/s. */
  bandwidth: number;
  /** A max bandwidth held the sender back for much of the round. */
  linkLimited: boolean;
  /** Deflate's measured out/in ratio (1 when never tried). */
  deflateRatio: number;
  /** Fixed cost of a switch-over beyond the pages: device state, round trip, resume. */
  overheadMs: number;
}

export interface Decision {
  switchOver: boolean;
  expectedDowntimeMs: number;
  reason: string;
}

export class Convergence {
  throttle = 0;
  deflate = false;
  private deflateTried = false;
  pumpBudgetMs = PUMP_BUDGETS_MS[0]!;
  private lastEstimate = Infinity;
  private fittingRounds = 0;

  constructor(public opts: ConvergenceOptions) {}

  /** Estimated pause for `wireBytes` still to send. */
  downtimeFor(wireBytes: number, bandwidth: number, overheadMs: number): number {
    return overheadMs + (bandwidth > 0 ? (wireBytes / bandwidth) * 1000 : wireBytes > 0 ? Infinity : 0);
  }

  /** Called after each round with what is left; says whether to switch over and escalates if needed. */
  afterRound(r: RoundReport): Decision {
    const est = this.downtimeFor(r.remainingWireBytes, r.bandwidth, r.overheadMs + r.remainingCpuMs);
    const previous = this.lastEstimate;
    this.lastEstimate = est;
    const decide = (switchOver: boolean, reason: string): Decision => ({ switchOver, expectedDowntimeMs: est, reason });
    if (est <= this.opts.downtimeLimitMs) {
      this.fittingRounds++;
      if (est <= GOOD_ENOUGH_MS) return decide(true, 'remaining data fits a minimal pause');
      if (est > previous * SHRINK) {
        // Before settling for this pause, give the sender a larger share once more if it can have one.
        if (this.opts.autoConverge && this.raiseShare())
          return decide(false, `fits the limit; sender share raised to ${this.pumpBudgetMs} ms per turn`);
        return decide(true, 'fits the downtime limit and no longer shrinking');
      }
      if (this.fittingRounds >= MAX_FITTING_ROUNDS) return decide(true, 'fits the downtime limit');
      return decide(false, 'fits the limit, one more round shrinks the pause');
    }
    this.fittingRounds = 0;
    if (r.round >= 2 && est > previous * 0.9 && this.opts.autoConverge) return decide(false, this.escalate(r));
    return decide(false, 'iterating');
  }

  private raiseShare(): boolean {
    const i = PUMP_BUDGETS_MS.indexOf(this.pumpBudgetMs);
    if (i + 1 >= PUMP_BUDGETS_MS.length) return false;
    this.pumpBudgetMs = PUMP_BUDGETS_MS[i + 1]!;
    return true;
  }

  private escalate(r: RoundReport): string {
    if (this.raiseShare()) return `not converging: sender share raised to ${this.pumpBudgetMs} ms per turn`;
    if (!this.deflateTried && r.linkLimited) {
      this.deflate = this.deflateTried = true;
      return 'not converging on a capped link: deflating frames';
    }
    if (this.deflate && r.deflateRatio > 0.9) this.deflate = false; // it did not pay
    const o = this.opts;
    this.throttle =
      this.throttle === 0 ? o.throttleInitial : Math.min(o.throttleMax, this.throttle + o.throttleIncrement);
    return `not converging: guest throttled to ${Math.round(this.throttle * 100)} %`;
  }
}
