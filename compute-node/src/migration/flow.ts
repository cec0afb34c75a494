// Flow control and loss recovery for the data frames. Core NATS drops messages for a consumer
// that falls behind, so the receiver paces the sender with credits: it grants sequence numbers
// up to `limit`, and the sender never has frames beyond that in flight. Frames not yet
// acknowledged stay in a resend buffer (bounded by the window); a gap or a bad frame seen by the
// receiver comes back as a NACK and the sender goes back to the missing frame (go-back-N: NATS
// keeps order on one connection, so everything after a loss is also to be resent); a silent loss
// (the last frame, or credits lost while NATS restarts) is caught by a retransmission timeout.
import { MigrationError } from './types.js';

export interface SendWindowOptions {
  /** No acknowledgement for this long: resend what is in flight (doubling up to 8×). */
  rtoMs: number;
  /** No acknowledgement for this long: the link is gone, the migration fails. */
  stallTimeoutMs: number;
}

export class SendWindow {
  /** Highest sequence number sent, acknowledged, and allowed. */
  private sent = 0;
  private acked = 0;
  private limit = 0;
  private readonly unacked = new Map<number, Buffer>();
  /**
   * Frames sent more than once: not released when acknowledged, since the acknowledgement may be
   * for an earlier copy while a later one still waits in the socket (the transport hands the
   * socket the frame's own memory).
   */
  private readonly resent = new Set<number>();
  private inFlightBytes = 0;
  private waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private drainWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;
  private lastProgress = performance.now();
  private rto: number;
  private lastGoBack = { seq: 0, at: -Infinity };
  private timer: NodeJS.Timeout | undefined;
  private lastTick = performance.now();
  retransmits = 0;

  constructor(
    private readonly opts: SendWindowOptions,
    /** Sends frames again (the transport). */
    private readonly resend: (frame: Buffer) => void,
    /** Bytes newly acknowledged, for the bandwidth meter. */
    private readonly onAcked: (bytes: number) => void,
    /** A frame acknowledged (and sent once): its buffer may be reused. */
    private readonly onRelease: (frame: Buffer) => void,
    /** The stall timeout fired. */
    private readonly onStall: (e: MigrationError) => void,
  ) {
    this.rto = opts.rtoMs;
  }

  get nextSeq(): number {
    return this.sent + 1;
  }

  get lastAcked(): number {
    return this.acked;
  }

  get bytesInFlight(): number {
    return this.inFlightBytes;
  }

  get framesInFlight(): number {
    return this.sent - this.acked;
  }

  /** Opens the window (the receiver's first credit) and starts the retransmission timer. */
  open(limit: number): void {
    this.limit = Math.max(this.limit, limit);
    this.lastProgress = performance.now();
    this.timer ??= setInterval(() => this.tick(), Math.max(10, this.opts.rtoMs / 4));
    this.wake();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.unacked.clear();
    this.resent.clear();
    this.inFlightBytes = 0;
  }

  /** A frame may be sent now (waitForCredit would resolve at once). */
  get hasCredit(): boolean {
    return this.failure === undefined && this.sent < this.limit;
  }

  /** Resolves once a frame may be sent; rejects when the migration fails meanwhile. */
  async waitForCredit(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.sent < this.limit) return;
    await new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Resolves once every frame sent is acknowledged. */
  async drained(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.acked === this.sent) return;
    await new Promise<void>((resolve, reject) => this.drainWaiters.push({ resolve, reject }));
  }

  /** Records a frame just sent with sequence number nextSeq. */
  track(frame: Buffer): void {
    this.sent++;
    this.unacked.set(this.sent, frame);
    this.inFlightBytes += frame.length;
  }

  onCredit(acked: number, limit: number): void {
    if (acked > this.sent) return; // acknowledges frames never sent: forged or stale, ignore
    if (acked > this.acked) {
      let bytes = 0;
      for (let s = this.acked + 1; s <= acked; s++) {
        const f = this.unacked.get(s);
        this.unacked.delete(s);
        if (f) {
          bytes += f.length;
          if (!this.resent.delete(s)) this.onRelease(f);
        }
      }
      this.inFlightBytes -= bytes;
      this.acked = acked;
      this.lastProgress = performance.now();
      this.rto = this.opts.rtoMs;
      this.onAcked(bytes);
    }
    if (limit > this.limit) this.limit = limit;
    this.wake();
  }

  /** The receiver is missing `expected`: everything before it arrived, everything from it is resent. */
  onNack(expected: number): void {
    if (expected <= this.acked || expected > this.sent) {
      if (expected - 1 > this.acked && expected - 1 <= this.sent) this.onCredit(expected - 1, this.limit);
      return;
    }
    this.onCredit(expected - 1, this.limit);
    // Frames after a loss keep arriving (and being refused) for a while: one go-back per loss.
    const now = performance.now();
    if (this.lastGoBack.seq === expected && now - this.lastGoBack.at < this.rto) return;
    this.goBack(expected, now);
  }

  fail(e: Error): void {
    this.failure ??= e;
    const waiters = [...this.waiters, ...this.drainWaiters];
    this.waiters = [];
    this.drainWaiters = [];
    for (const w of waiters) w.reject(this.failure);
    this.close();
  }

  private goBack(from: number, now: number): void {
    this.lastGoBack = { seq: from, at: now };
    for (let s = from; s <= this.sent; s++) {
      const f = this.unacked.get(s);
      if (!f) continue;
      this.retransmits++;
      this.resent.add(s);
      this.resend(f);
    }
  }

  private tick(): void {
    const now = performance.now();
    const late = now - this.lastTick > Math.max(20, this.opts.rtoMs / 2);
    this.lastTick = now;
    // Nothing in flight, or this process was busy (acknowledgements may be waiting unread): no timeout.
    if (this.sent === this.acked || late) {
      this.lastProgress = now;
      return;
    }
    const idle = performance.now() - this.lastProgress;
    if (idle > this.opts.stallTimeoutMs) {
      this.onStall(new MigrationError('stalled', `no acknowledgement from the destination for ${Math.round(idle)} ms`));
      return;
    }
    if (idle > this.rto && performance.now() - this.lastGoBack.at > this.rto) {
      this.goBack(this.acked + 1, performance.now());
      this.rto = Math.min(this.rto * 2, this.opts.rtoMs * 8);
    }
  }

  private wake(): void {
    if (this.acked === this.sent && this.drainWaiters.length) {
      const drained = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of drained) w.resolve();
    }
    if (this.sent >= this.limit) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.resolve();
  }
}

/** The receiver's side: frames are applied strictly in sequence; it says what to ask for. */
export class ReceiveWindow {
  /** The next sequence number to apply. */
  expected = 1;
  private sinceCredit = 0;
  private lastNack = { seq: 0, at: -Infinity };

  constructor(
    readonly window: number,
    private readonly nackIntervalMs: number,
  ) {}

  /** The highest sequence number the sender may send now. */
  get limit(): number {
    return this.expected - 1 + this.window;
  }

  classify(seq: number): 'next' | 'gap' | 'old' {
    if (seq === this.expected) return 'next';
    return seq > this.expected ? 'gap' : 'old';
  }

  /** After applying frame `expected`: true when a credit should go out now. */
  applied(): boolean {
    this.expected++;
    this.sinceCredit++;
    return this.sinceCredit >= Math.max(1, this.window >> 2);
  }

  creditSent(): void {
    this.sinceCredit = 0;
  }

  get creditPending(): boolean {
    return this.sinceCredit > 0;
  }

  /** A gap was seen: whether to NACK now (once per loss and interval, not once per later frame). */
  shouldNack(now: number): boolean {
    if (this.lastNack.seq === this.expected && now - this.lastNack.at < this.nackIntervalMs) return false;
    this.lastNack = { seq: this.expected, at: now };
    return true;
  }
}

/** Max bandwidth as a token bucket: bytes may go out while the bucket is not in debt. */
export class RateLimiter {
  private tokens = 0;
  private last = performance.now();
  /** Time spent waiting for tokens, so convergence can tell a capped link from a slow one. */
  waitedMs = 0;

  constructor(public bytesPerSecond: number) {}

  consume(bytes: number): void {
    if (!Number.isFinite(this.bytesPerSecond)) return;
    this.refill();
    this.tokens -= bytes;
  }

  /** Resolves when the next frame may go. */
  async ready(): Promise<void> {
    if (!Number.isFinite(this.bytesPerSecond) || this.bytesPerSecond <= 0) return;
    this.refill();
    if (this.tokens >= 0) return;
    const ms = (-this.tokens / this.bytesPerSecond) * 1000;
    this.waitedMs += ms;
    await new Promise((r) => setTimeout(r, Math.ceil(ms)));
  }

  private refill(): void {
    const now = performance.now();
    // A burst of at most 50 ms worth, so an idle limiter does not allow a flood afterwards.
    this.tokens = Math.min(this.tokens + ((now - this.last) / 1000) * this.bytesPerSecond, this.bytesPerSecond * 0.05);
    this.last = now;
  }
}
