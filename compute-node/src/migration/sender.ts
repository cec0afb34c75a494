// The source side of a live migration: streams a running Machine's RAM to a destination over
// NATS (pre-copy), then pauses the guest, sends what is left plus the CPU and device state, and
// waits for the destination to say it resumed the guest. Any failure before the destination can
// have committed resumes the guest here, unchanged.
//
// Rounds: round 1 sends every page (zero pages as run markers); each later round sends the pages
// the dirty log caught meanwhile (CPU stores and device DMA alike). The guest keeps running in the
// same event loop, so the sender works in bounded turns and yields between them.
//
// With disks (block migration), each round first sends disk blocks (round 1: what the disks
// hold; then the blocks their dirty logs caught), then pages; the pause sends the last dirty
// blocks before the pages and the device state.
//
// With shared disks (no block migration: both nodes open the same image files), nothing of the
// disks travels; the pause flushes them before End, as QEMU inactivates its images at
// switch-over, so the destination, which opens them only after End, reads all the guest wrote.
import { createHash } from 'node:crypto';
import type { NatsConnection } from 'nats';
import { subjects } from '@hypernova/common';
import { PAGE_SIZE, type BlockBackend, type Machine } from '@hypernova/hypervisor';
import { BandwidthMeter, Convergence, DEFAULT_CONVERGENCE } from './convergence.js';
import { DISK_BLOCK, DISK_RECORD, DiskCopy } from './disks.js';
import { RateLimiter, SendWindow } from './flow.js';
import { DirtySet, PageCache, PageEncoder, ramSource, type EncodedFrame } from './pages.js';
import { wallNow } from './clock.js';
import { Endpoint, type Tap } from './transport.js';
import { MigrationError, type MigrationProgress, type MigrationStatus } from './types.js';
import {
  Channel,
  decodeCredit,
  decodeNack,
  frameBuffer,
  HEADER_SIZE,
  MsgType,
  parseJson,
  type EndBody,
  type Frame,
  type HelloBody,
  type ReadyBody,
  type ResultBody,
} from './wire.js';

export interface SourceOptions {
  /** The migration's id: frames carry a tag of it, and the subjects derive from it. */
  id: string;
  /** The migration's secret (wire.KEY_SIZE random bytes), the destination's too: it authenticates every frame. */
  key: Uint8Array;
  /** Encrypt the stream (AES-256-GCM); false: authenticate it only (HMAC-SHA256). Default true. */
  encrypt?: boolean;
  /** Subject prefix; default `hn.migration.<id>` (common's subjects.migration). */
  prefix?: string;
  /** Longest acceptable pause of the guest at switch-over (QEMU's downtime-limit). Default 300 ms. */
  downtimeLimitMs?: number;
  /** Bytes/s cap on the stream before the switch-over; default none. The final copy is never capped. */
  maxBandwidth?: number;
  /** Escalate (sender share, deflate, CPU throttle) when the guest outruns the link. Default true. */
  autoConverge?: boolean;
  /** First CPU throttle step of auto-converge (QEMU's cpu-throttle-initial). Default 0.2. */
  throttleInitial?: number;
  /** Each further step (QEMU's cpu-throttle-increment). Default 0.1; the throttle stops at 0.99. */
  throttleIncrement?: number;
  /**
   * Page records per frame, in bytes of body. Default 512 KiB: half of NATS's default 1 MiB
   * max_payload, and half the per-frame costs (PUB line, flush, write, credit) of 256 KiB frames.
   */
  batchBytes?: number;
  /** Memory for copies of rewritten pages, to send deltas. Default: the guest's RAM size (only pages rewritten after round 1 take any). */
  deltaCacheBytes?: number;
  /**
   * Block migration: the VM's disks (the backends its virtio-blk devices use), in slot order.
   * Each must have a dirty log (raw and qcow2 do); the destination must offer disks of the same
   * virtual sizes. What a disk itself holds is copied (a qcow2 overlay's own clusters, not its
   * backing file), then what the guest writes meanwhile. Default: none.
   */
  disks?: readonly BlockBackend[];
  /**
   * No block migration: the VM's disks, in slot order, on storage the destination opens too.
   * They are flushed in the pause, before End; once the migration completes the caller must not
   * write them again (close them: the destination owns the files). The destination must declare
   * the same virtual sizes. Default: none.
   */
  sharedDisks?: readonly BlockBackend[];
  /** Send a sha256 of RAM for the destination to check (test mode; costs a hash of RAM in the pause). */
  verify?: boolean;
  rtoMs?: number;
  stallTimeoutMs?: number;
  helloTimeoutMs?: number;
  /** How long to wait for the destination's result after the last frame. Default 15 s. */
  resultTimeoutMs?: number;
  /**
   * Decides the outcome when the destination's result never arrives: it must settle it for good
   * (e.g. in Redis: committed if ownership already flipped, otherwise mark the migration aborted
   * so the destination can no longer commit). Without it, no result counts as not committed.
   */
  resolveOutcome?: () => Promise<'committed' | 'aborted'>;
  onProgress?: (p: MigrationProgress) => void;
  progressIntervalMs?: number;
  /** Test hook: see and alter frames on the wire. */
  tap?: Tap;
}

/**
 * A completed migration. The guest runs at the destination; the source machine is left paused
 * with its dirty log off, for its owner to power off and free.
 */
export interface SourceResult {
  id: string;
  rounds: number;
  totalMs: number;
  /** Source pause → destination resume (wall clock; source pause → result received when clocks disagree). */
  downtimeMs: number;
  pausedAt: number;
  resumedAt?: number;
  transferredBytes: number;
  /** Switched over by the policy (not forced). */
  converged: boolean;
  /** Where the pause went, at the source: encoding what was left (+ device state), sending it, the destination's confirmation. */
  switchover: { encodeMs: number; sendMs: number; confirmMs: number };
  progress: MigrationProgress;
}

const yieldTurn = (): Promise<void> => new Promise((r) => setImmediate(r));
const RAW_WIRE = PAGE_SIZE + 8;
/** Longest wait for the destination's Prepared (longer when the round trip is). */
const PREPARE_TIMEOUT_MS = 20;

export class MigrationSource {
  readonly id: string;
  readonly prefix: string;
  private readonly channel: Channel;
  private readonly endpoint: Endpoint;
  private readonly window: SendWindow;
  private readonly limiter: RateLimiter;
  private readonly meter = new BandwidthMeter();
  private readonly convergence: Convergence;
  private readonly encoder: PageEncoder;
  private readonly dirty: DirtySet;
  private readonly disks: DiskCopy;
  private readonly batchBytes: number;

  private status: MigrationStatus = 'setup';
  private round = 0;
  private started = false;
  private forced = false;
  private endSent = false;
  private pausedByUs = false;
  private failure: MigrationError | undefined;
  private failListeners: ((e: MigrationError) => void)[] = [];
  private readyWaiter: ((r: ReadyBody) => void) | undefined;
  private preparedWaiter: (() => void) | undefined;
  private resultWaiter: ((r: ResultBody | MigrationError) => void) | undefined;
  private startedAt = 0;
  private lastFetch = 0;
  private dirtyRate = 0;
  private expectedDowntimeMs = Infinity;
  private rttMs = 1;
  private stateBytes = 0;
  private downtimeMs: number | undefined;
  private progressTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly machine: Machine,
    nc: NatsConnection,
    private readonly opts: SourceOptions,
  ) {
    this.id = opts.id;
    this.prefix = opts.prefix ?? subjects.migration(opts.id);
    this.channel = new Channel({ id: opts.id, key: opts.key, role: 'source', encrypt: opts.encrypt });
    const ram = machine.ram;
    this.dirty = new DirtySet(ram.pages);
    this.batchBytes = Math.max(PAGE_SIZE * 2, opts.batchBytes ?? 512 * 1024);
    const cachePages = Math.floor((opts.deltaCacheBytes ?? ram.size) / PAGE_SIZE);
    this.disks = new DiskCopy(opts.disks ?? [], Math.max(this.batchBytes, DISK_BLOCK + DISK_RECORD));
    this.encoder = new PageEncoder({
      batchBytes: this.batchBytes,
      cache: cachePages > 0 ? new PageCache(ram.pages, cachePages) : undefined,
    });
    this.convergence = new Convergence({
      ...DEFAULT_CONVERGENCE,
      downtimeLimitMs: opts.downtimeLimitMs ?? DEFAULT_CONVERGENCE.downtimeLimitMs,
      autoConverge: opts.autoConverge ?? true,
      throttleInitial: opts.throttleInitial ?? DEFAULT_CONVERGENCE.throttleInitial,
      throttleIncrement: opts.throttleIncrement ?? DEFAULT_CONVERGENCE.throttleIncrement,
    });
    this.limiter = new RateLimiter(opts.maxBandwidth ?? Infinity);
    this.endpoint = new Endpoint(
      nc,
      { prefix: this.prefix, channel: this.channel, tap: opts.tap },
      (f) => this.onFrame(f),
      (e) => this.fail(e),
    );
    this.window = new SendWindow(
      { rtoMs: opts.rtoMs ?? 500, stallTimeoutMs: opts.stallTimeoutMs ?? 15_000 },
      (frame) => this.endpoint.send(frame),
      (bytes) => {
        this.meter.acked(bytes);
        this.meter.busy(this.window.framesInFlight > 0);
      },
      (frame) => this.encoder.recycle(frame),
      (e) => this.fail(e),
    );
  }

  // --- controls (any time while it runs) ---

  /** Stops iterating: pause the guest and copy what is left now (stop-and-copy). */
  forceComplete(): void {
    this.forced = true;
  }

  /** Gives up and resumes the guest here; has no effect once the last frame is out (the destination may have committed). */
  abort(reason = 'aborted by request'): boolean {
    if (this.endSent || this.failure) return false;
    this.fail(new MigrationError('aborted', reason));
    return true;
  }

  setDowntimeLimit(ms: number): void {
    this.convergence.opts = { ...this.convergence.opts, downtimeLimitMs: ms };
  }

  setMaxBandwidth(bytesPerSecond: number): void {
    this.limiter.bytesPerSecond = bytesPerSecond > 0 ? bytesPerSecond : Infinity;
  }

  progress(): MigrationProgress {
    const st = this.encoder.stats;
    const bw = this.meter.bytesPerSec;
    return {
      id: this.id,
      status: this.status,
      round: this.round,
      totalBytes: this.machine.ram.size,
      processedBytes: st.pages * PAGE_SIZE,
      remainingBytes: this.dirty.count * PAGE_SIZE,
      diskTotalBytes: this.disks.totalBytes,
      diskProcessedBytes: this.disks.blocksSent * DISK_BLOCK,
      diskRemainingBytes: this.disks.remainingBlocks * DISK_BLOCK,
      transferredBytes: this.endpoint.bytesSent,
      bandwidthBytesPerSec: Math.round(bw),
      dirtyRateBytesPerSec: Math.round(this.dirtyRate),
      expectedDowntimeMs: Number.isFinite(this.expectedDowntimeMs) ? Math.round(this.expectedDowntimeMs * 10) / 10 : -1,
      downtimeLimitMs: this.convergence.opts.downtimeLimitMs,
      throttle: this.convergence.throttle,
      deflate: this.encoder.deflate,
      pages: { zero: st.zeroPages, raw: st.rawPages, delta: st.deltaPages, unchanged: st.unchangedPages },
      retransmits: this.window.retransmits,
      rejected: { ...this.endpoint.rejected },
      elapsedMs: this.startedAt ? Math.round(performance.now() - this.startedAt) : 0,
      downtimeMs: this.downtimeMs,
      error: this.failure?.message,
    };
  }

  // --- the migration ---

  /** Runs the migration; resolves once the destination runs the guest, rejects (guest resumed here) otherwise. */
  async run(): Promise<SourceResult> {
    if (this.started) throw new Error('migration already started');
    this.started = true;
    this.startedAt = performance.now();
    this.progressTimer = setInterval(() => this.emitProgress(), this.opts.progressIntervalMs ?? 250);
    try {
      const ram = this.machine.ram;
      if (ram.dirtyLogActive) throw new MigrationError('state', 'the dirty log is in use by someone else');
      this.disks.check();
      await this.endpoint.open();
      // Saving runs inside the pause: warm it up now (and learn its size for the estimate); the
      // clock is read there too (its first reading calibrates it).
      for (let i = 0; i < 20; i++) this.stateBytes = this.machine.saveDeviceState().length;
      wallNow();
      await this.handshake();
      // The logs start before the first page or block is read: any write after them is seen.
      this.disks.start();
      ram.startDirtyLog();
      this.lastFetch = performance.now();
      this.dirty.addAll();
      this.status = 'running';
      const live = ramSource(ram);
      for (this.round = 1; ; this.round++) {
        this.encoder.cacheNewPages = this.round > 1;
        const waited = this.limiter.waitedMs;
        const roundStart = performance.now();
        const budget = (): number => this.convergence.pumpBudgetMs;
        const seqAtStart = this.window.nextSeq;
        await this.pump(MsgType.Disk, (deadline) => this.nextDiskFrame(deadline), budget);
        await this.pump(MsgType.Pages, (deadline) => this.encoder.next(this.dirty, live, deadline), budget);
        if (this.forced) break;
        await this.guard(this.window.drained());
        const now = performance.now();
        const fetched = ram.fetchDirtyLog();
        const diskDirtied = this.disks.collect();
        this.dirtyRate = ((fetched.length * PAGE_SIZE + diskDirtied) * 1000) / Math.max(1, now - this.lastFetch);
        this.lastFetch = now;
        this.dirty.add(fetched);
        const bandwidth = this.meter.sample();
        const decision = this.convergence.afterRound({
          round: this.round,
          ...this.remaining(),
          bandwidth,
          linkLimited: this.limiter.waitedMs - waited > 0.2 * (now - roundStart),
          deflateRatio: this.encoder.deflateRatio,
          overheadMs: this.overheadMs(bandwidth),
        });
        this.expectedDowntimeMs = decision.expectedDowntimeMs;
        this.machine.setThrottle(this.convergence.throttle);
        this.encoder.deflate = this.convergence.deflate;
        this.emitProgress();
        if (decision.switchOver || this.forced) break;
        // A round that sent nothing awaited only settled promises: let the guest (and the control socket) run.
        if (this.window.nextSeq === seqAtStart) await yieldTurn();
      }
      await this.prepareDestination();
      return await this.switchOver();
    } catch (e) {
      const err = e instanceof MigrationError ? e : new MigrationError('protocol', (e as Error).message ?? String(e));
      this.rollBack(err);
      throw this.failure ?? err;
    } finally {
      clearInterval(this.progressTimer);
      this.window.close();
      this.endpoint.close();
    }
  }

  private async handshake(): Promise<void> {
    const ram = this.machine.ram;
    const hello: HelloBody = {
      id: this.id,
      config: { ...this.machine.config },
      ramBytes: ram.size,
      pageSize: PAGE_SIZE,
      digest: this.opts.verify === true,
      disks: this.disks.sizes,
      sharedDisks: (this.opts.sharedDisks ?? []).map((d) => d.sizeBytes),
    };
    const ready = new Promise<ReadyBody>((resolve) => (this.readyWaiter = resolve));
    const deadline = performance.now() + (this.opts.helloTimeoutMs ?? 10_000);
    // Hello until the destination answers: it may not be subscribed yet.
    for (;;) {
      const sentAt = performance.now();
      this.endpoint.send(this.channel.encodeJson(MsgType.Hello, this.endpoint.nextControlSeq(), hello));
      const r = await this.guard(Promise.race([ready, new Promise<undefined>((res) => setTimeout(res, 250))]));
      if (r) {
        this.rttMs = Math.max(0.2, performance.now() - sentAt);
        this.window.open(r.limit);
        // Buffers for the frames a full window holds (plus the one being filled), or for all the
        // pages the guest ever wrote if fewer.
        let written = 0;
        for (let p = 0; p < ram.pages; p++) if (!ram.isKnownZero(p)) written++;
        this.encoder.reserve(Math.min(r.limit, Math.ceil((written * RAW_WIRE) / this.batchBytes)) + 1);
        return;
      }
      if (performance.now() > deadline)
        throw new MigrationError('timeout', `no answer from the destination on ${this.prefix}`);
    }
  }

  /** Sends the frames `next` encodes (until it has none) as credit allows, yielding to the guest every budget. */
  private async pump(
    type: MsgType,
    next: (deadline: number) => EncodedFrame | undefined,
    budgetMs: () => number,
  ): Promise<void> {
    let turn = performance.now();
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.forced) return;
      await this.guard(this.window.waitForCredit());
      await this.limiter.ready();
      const f = next(turn + budgetMs());
      if (!f) return;
      this.sendData(type, f.buf, f.bodyLength, f.flags);
      if (performance.now() - turn > budgetMs()) {
        await yieldTurn();
        turn = performance.now();
      }
    }
  }

  private nextDiskFrame(deadline?: number): EncodedFrame | undefined {
    const f = this.disks.next(deadline);
    return f && this.encoder.pack(f);
  }

  private sendData(type: MsgType, buf: Buffer, bodyLength: number, flags = 0): void {
    const frame = this.channel.seal(buf, bodyLength, type, this.window.nextSeq, flags);
    this.window.track(frame);
    this.meter.busy(true);
    this.endpoint.send(frame);
    if (this.status !== 'switchover') this.limiter.consume(frame.length);
  }

  /**
   * Tells the destination the pause is coming and waits (briefly) for it to be ready: it runs its
   * side of the switch-over on its own blank state, so that the real one, inside the pause, finds
   * its code compiled and its data in the caches (cold, it took three times as long). The guest
   * runs meanwhile; what it dirties goes in the pause. No answer in time (a lost message) only
   * costs a colder switch-over.
   */
  private async prepareDestination(): Promise<void> {
    const prepared = new Promise<void>((resolve) => (this.preparedWaiter = resolve));
    this.endpoint.send(this.channel.encode(MsgType.Prepare, this.endpoint.nextControlSeq()));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((r) => (timer = setTimeout(r, Math.max(PREPARE_TIMEOUT_MS, 4 * this.rttMs))));
    try {
      await this.guard(Promise.race([prepared, timeout]));
    } finally {
      clearTimeout(timer);
      this.preparedWaiter = undefined;
    }
  }

  private async switchOver(): Promise<SourceResult> {
    const ram = this.machine.ram;
    // The device state is saved once, inside the pause: a save now brings its code and data back
    // into the caches the rounds evicted (cold, it takes three times as long).
    this.machine.saveDeviceState();
    // nats.js writes queued messages (the last round's progress) in a microtask: before the pause,
    // not at its first await. A microtask only: a turn of the event loop would let the guest run.
    await Promise.resolve();
    this.status = 'switchover';
    // A guest its owner had paused stays paused if the migration fails.
    this.pausedByUs = !this.machine.isPaused;
    this.machine.pause();
    const pausedAt = wallNow();
    const pausedMono = performance.now();
    this.dirty.add(ram.fetchDirtyLog());
    this.disks.collect();
    // Everything the destination gets from here is encoded now, in one go, while paused: a
    // paused VM can still take device input (a network frame) that must not tear what is sent.
    const frames: EncodedFrame[] = [];
    // Nothing is diffed after this copy: copying pages into the cache would only lengthen the pause.
    this.encoder.cacheNewPages = false;
    const src = ramSource(ram);
    for (let f = this.encoder.next(this.dirty, src); f; f = this.encoder.next(this.dirty, src)) frames.push(f);
    const state = this.machine.saveDeviceState();
    const digest = this.opts.verify ? createHash('sha256').update(ram.bytes).digest('hex') : undefined;
    const encodedAt = performance.now();

    // Frames are sent without yielding (no await: even of a settled promise) while credit allows:
    // nats.js then writes the small ones (the last pages, the state, End) to the socket together,
    // and they arrive together.
    // Disk blocks are read as they go: unlike RAM, a paused guest's disks take no writes.
    for (let f = this.nextDiskFrame(); f; f = this.nextDiskFrame()) {
      if (!this.window.hasCredit) await this.guard(this.window.waitForCredit());
      this.sendData(MsgType.Disk, f.buf, f.bodyLength, f.flags);
    }
    for (const f of frames) {
      if (!this.window.hasCredit) await this.guard(this.window.waitForCredit());
      this.sendData(MsgType.Pages, f.buf, f.bodyLength, f.flags);
    }
    // Last, right before End: the destination opens the shared disks once End is there.
    try {
      for (const d of this.opts.sharedDisks ?? []) d.flush();
    } catch (e) {
      throw new MigrationError('state', `shared disk flush: ${(e as Error).message}`);
    }
    for (let at = 0; at < state.length || at === 0; at += this.batchBytes) {
      const chunk = state.subarray(at, at + this.batchBytes);
      if (!this.window.hasCredit) await this.guard(this.window.waitForCredit());
      const buf = frameBuffer(chunk.length);
      chunk.copy(buf, HEADER_SIZE);
      this.sendData(MsgType.State, buf, chunk.length);
    }
    if (!this.window.hasCredit) await this.guard(this.window.waitForCredit());
    const end = Buffer.from(JSON.stringify({ digest, rounds: this.round } satisfies EndBody), 'utf8');
    const endFrame = frameBuffer(end.length);
    end.copy(endFrame, HEADER_SIZE);
    // From here the destination may commit: no more unilateral rollback.
    this.endSent = true;
    this.sendData(MsgType.End, endFrame, end.length);
    const endSentAt = performance.now();
    this.status = 'completing';
    // The guest's pause now ends at the destination: this process does nothing more until it
    // answers, not to compete for the host's cores with it (nor to set off progress reports,
    // which the VM process's owner passes on). The bookkeeping waits for the result.
    const result = await this.awaitResult();
    const resultAt = wallNow();
    ram.stopDirtyLog();
    this.disks.stop();
    if (!result.committed)
      throw new MigrationError(
        result.error?.startsWith('verify') ? 'verify' : 'commit',
        result.error ?? 'destination did not commit',
      );
    this.endpoint.send(this.channel.encode(MsgType.Bye, this.endpoint.nextControlSeq()));
    const upper = resultAt - pausedAt;
    const guestView = result.resumedAt !== undefined ? result.resumedAt - pausedAt : NaN;
    this.downtimeMs = guestView >= 0 && guestView <= upper ? guestView : upper;
    this.status = 'completed';
    this.machine.setThrottle(0);
    const progress = this.progress();
    this.endpoint.publishProgress(progress);
    this.opts.onProgress?.(progress);
    return {
      id: this.id,
      rounds: this.round,
      totalMs: performance.now() - this.startedAt,
      downtimeMs: this.downtimeMs,
      pausedAt,
      resumedAt: result.resumedAt,
      transferredBytes: this.endpoint.bytesSent,
      converged: !this.forced,
      switchover: {
        encodeMs: encodedAt - pausedMono,
        sendMs: endSentAt - encodedAt,
        confirmMs: performance.now() - endSentAt,
      },
      progress,
    };
  }

  /** The destination's word, or, when it never comes, the outcome settled by resolveOutcome. */
  private async awaitResult(): Promise<ResultBody> {
    const timeoutMs = this.opts.resultTimeoutMs ?? 15_000;
    const r = await new Promise<ResultBody | MigrationError | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      this.resultWaiter = (v) => {
        clearTimeout(timer);
        resolve(v);
      };
    });
    this.resultWaiter = undefined;
    if (r && !(r instanceof MigrationError)) return r;
    // An abort from the destination means it did not commit; silence is settled by the hook.
    if (r?.code === 'aborted') return { committed: false, error: r.message };
    const outcome = this.opts.resolveOutcome ? await this.opts.resolveOutcome() : 'aborted';
    return outcome === 'committed'
      ? { committed: true }
      : { committed: false, error: r?.message ?? `no result from the destination in ${timeoutMs} ms` };
  }

  private onFrame(f: Frame): void {
    switch (f.type) {
      case MsgType.Ready: {
        const r = parseJson<ReadyBody>(f.body);
        if (r && Number.isInteger(r.limit)) this.readyWaiter?.(r);
        return;
      }
      case MsgType.Prepared:
        this.preparedWaiter?.();
        return;
      case MsgType.Refuse:
        this.fail(
          new MigrationError(
            'refused',
            `destination refused: ${parseJson<{ error?: string }>(f.body)?.error ?? 'no reason given'}`,
          ),
        );
        return;
      case MsgType.Credit: {
        const c = decodeCredit(f.body);
        if (c) this.window.onCredit(c.acked, c.limit);
        return;
      }
      case MsgType.Nack: {
        const e = decodeNack(f.body);
        if (e !== undefined) this.window.onNack(e);
        return;
      }
      case MsgType.Result: {
        const r = parseJson<ResultBody>(f.body);
        if (r && typeof r.committed === 'boolean') this.resultWaiter?.(r);
        return;
      }
      case MsgType.Abort:
        this.fail(
          new MigrationError(
            'aborted',
            `destination aborted: ${parseJson<{ reason?: string }>(f.body)?.reason ?? 'no reason given'}`,
          ),
        );
        return;
      default:
        return;
    }
  }

  /** Records the first failure; before the last frame it ends the migration, after it only the result counts. */
  private fail(e: MigrationError): void {
    if (this.endSent) {
      // Once End is out the destination may commit: only its result or resolveOutcome decide.
      if (e.code === 'aborted') this.resultWaiter?.(e);
      return;
    }
    if (this.failure) return;
    this.failure = e;
    this.window.fail(e);
    for (const l of this.failListeners) l(e);
  }

  /** Waits for `p`, or throws as soon as the migration fails. */
  private guard<T>(p: Promise<T>): Promise<T> {
    if (this.failure) {
      // p rejects too once the migration failed: nobody waits for it any more.
      // eslint-disable-next-line no-restricted-syntax -- the migration's failure is reported instead
      p.catch(() => undefined);
      return Promise.reject(this.failure);
    }
    return new Promise<T>((resolve, reject) => {
      const onFail = (e: MigrationError): void => reject(e);
      this.failListeners.push(onFail);
      p.then(resolve, reject).finally(() => {
        this.failListeners = this.failListeners.filter((l) => l !== onFail);
      });
    });
  }

  /** The guest carries on here as if nothing happened. */
  private rollBack(e: MigrationError): void {
    this.failure ??= e;
    this.window.fail(this.failure);
    const ram = this.machine.ram;
    if (ram.dirtyLogActive) ram.stopDirtyLog();
    this.disks.stop();
    this.machine.setThrottle(0);
    if (this.pausedByUs) this.machine.resume();
    if (this.handshakeDone()) {
      this.endpoint.send(
        this.channel.encodeJson(MsgType.Abort, this.endpoint.nextControlSeq(), { reason: this.failure.message }),
      );
    }
    this.status = this.failure.code === 'aborted' ? 'aborted' : 'failed';
    const progress = this.progress();
    this.endpoint.publishProgress(progress);
    this.opts.onProgress?.(progress);
  }

  private handshakeDone(): boolean {
    return this.status !== 'setup';
  }

  /** What the pages and disk blocks still to send will cost: deltas for pages the cache holds, whole pages and blocks otherwise. */
  private remaining(): { remainingWireBytes: number; remainingCpuMs: number } {
    const cache = this.encoder.cache;
    const st = this.encoder.stats;
    const disk = this.disks.remainingBlocks * (DISK_BLOCK + DISK_RECORD);
    if (!cache || cache.size === 0)
      return { remainingWireBytes: disk + this.dirty.count * RAW_WIRE, remainingCpuMs: 0 };
    const diffed = st.deltaPages + st.unchangedPages;
    const bytesPerDelta = diffed > 0 ? st.deltaBytes / diffed : 64;
    // Diffing here, about as much again to apply there.
    const msPerDelta = diffed > 0 ? (2 * st.deltaMs) / diffed : 0.005;
    const cached = this.dirty.countWhere((p) => cache.has(p));
    return {
      remainingWireBytes: disk + cached * bytesPerDelta + (this.dirty.count - cached) * RAW_WIRE,
      remainingCpuMs: cached * msPerDelta,
    };
  }

  private overheadMs(bandwidth: number): number {
    return 1 + this.rttMs + (bandwidth > 0 ? (this.stateBytes / bandwidth) * 1000 : 0);
  }

  private emitProgress(): void {
    if (this.status === 'setup') return;
    const p = this.progress();
    this.endpoint.publishProgress(p);
    this.opts.onProgress?.(p);
  }
}
