// The destination side of a live migration: a paused Machine of the same configuration takes
// the source's pages and state, checks it has all of it, lets the caller commit (flip the
// instance's ownership), and resumes the guest. On any failure it never resumes: the caller
// discards the machine, and the source (told by an Abort frame, or by its own timeouts) resumes.
// With disks (block migration) it writes the source's disk blocks into its own disks as they
// come, and flushes them before the commit. With shared disks (no block migration) it opens
// them only once End is here, the source having paused the guest and flushed them: nothing of
// the images is read, let alone cached, while the source still writes them.
import { createHash } from 'node:crypto';
import type { NatsConnection } from 'nats';
import { subjects } from '@hypernova/common';
import { PAGE_SIZE, type BlockBackend, type Machine } from '@hypernova/hypervisor';
import { applyDiskRecords } from './disks.js';
import { ReceiveWindow } from './flow.js';
import { applyRecords, inflateBody } from './pages.js';
import { wallNow } from './clock.js';
import { Endpoint, type Tap } from './transport.js';
import { MigrationError, type RejectCounters } from './types.js';
import {
  Channel,
  encodeCredit,
  encodeNack,
  Flag,
  HEADER_SIZE,
  MsgType,
  parseJson,
  type EndBody,
  type Frame,
  type HelloBody,
  type ResultBody,
} from './wire.js';

export interface DestinationOptions {
  id: string;
  /** The migration's secret, the source's too (see SourceOptions.key). */
  key: Uint8Array;
  /** Encrypt what this side sends (credits, results); false: authenticate it only. Default true. */
  encrypt?: boolean;
  /** Subject prefix; default `hn.migration.<id>`. */
  prefix?: string;
  /** Frames the source may have in flight (the credit window). Default 32 (16 MiB of 512 KiB frames). */
  window?: number;
  /**
   * Called once everything has arrived and checked out, before the guest resumes here: flip the
   * instance's ownership (atomically, e.g. a Redis compare-and-set). Throwing refuses the switch.
   */
  commit?: () => Promise<void> | void;
  /**
   * Touch every page of guest RAM in listen(), before the source starts, as QEMU's -mem-prealloc
   * does: first touches cost page faults, which would otherwise land inside the migration (and
   * on some hosts cost tens of µs each). And the memory receive buffers will take (see
   * RECEIVE_WARMUP_BYTES). Default true.
   */
  prefault?: boolean;
  /**
   * Block migration: this machine's disks, in slot order, writable, of the same virtual sizes as
   * the source's (each typically a fresh overlay over the same base image). The migration is
   * refused when the source brings a different number of disks or sizes. Blocks are written as
   * they arrive: when the migration fails, discard the disks with the machine. Default: none.
   */
  disks?: readonly BlockBackend[];
  /** No block migration: the disks this machine opens from the storage the source writes. Default: none. */
  sharedDisks?: SharedDisks;
  /** No frame from the source for this long while receiving: give up. Default 20 s. */
  stallTimeoutMs?: number;
  /** Test hook: see and alter frames on the wire. */
  tap?: Tap;
}

/** Disks on storage both nodes share, not yet open here (QEMU's inactive images). */
export interface SharedDisks {
  /** The virtual sizes the guest sees, in slot order (checked against the source's in the handshake). */
  readonly sizes: readonly number[];
  /** Opens them: called once, after End (the source flushed them), before the device state is restored. Throwing fails the migration. */
  attach(): void;
}

export interface DestinationResult {
  id: string;
  /** Wall clock ms (clock.ts wallNow) when the guest resumed here. */
  resumedAt: number;
  pagesApplied: number;
  /** Disk bytes written (data and zeroes), every round counted. */
  diskBytesApplied: number;
  bytesReceived: number;
  rejected: RejectCounters;
  /** The end of the pause, here: End received (wall clock), then checking + restoring the devices, flushing the disks, then the commit hook. */
  switchover: { endAt: number; restoreMs: number; flushMs: number; commitMs: number };
}

type Phase = 'listening' | 'receiving' | 'completing' | 'done' | 'failed';

const NACK_INTERVAL_MS = 100;
const WARMUP_ROUNDS = 20;
/** Restores rehearsed when the source says the pause is coming (each about 0.1 ms). */
const PREPARE_ROUNDS = 3;
const RESULT_RESEND_MS = 200;
const RESULT_RESEND_FOR_MS = 5_000;
/**
 * Node and nats.js allocate a buffer per socket read and per large message, and the GC frees
 * them in batches (V8 collects about 32 MiB of them at a time): until the first batch is freed,
 * each comes from fresh memory, a page fault per 4 KiB, a fifth of this side's CPU time in a
 * 32 MiB first pass. Allocating and dropping this much in listen() leaves that memory touched.
 */
const RECEIVE_WARMUP_BYTES = 48 << 20;

/** Why the source's disk sizes (from its Hello, untrusted) do not match ours, or undefined. */
function sizesDiffer(what: string, source: unknown, mine: readonly number[]): string | undefined {
  const theirs: unknown[] = Array.isArray(source) ? source : [];
  if (theirs.length !== mine.length) return `source brings ${theirs.length} ${what}(s), destination has ${mine.length}`;
  const i = mine.findIndex((size, k) => theirs[k] !== size);
  return i < 0 ? undefined : `${what} ${i} is ${String(theirs[i])} bytes at the source, ${mine[i]} here`;
}

export class MigrationDestination {
  readonly id: string;
  readonly prefix: string;
  /** Settles when the guest runs here (resolves) or the migration failed (rejects: discard the machine). */
  readonly finished: Promise<DestinationResult>;
  private settle!: { resolve: (r: DestinationResult) => void; reject: (e: MigrationError) => void };
  private readonly channel: Channel;
  private readonly endpoint: Endpoint;
  private readonly rx: ReceiveWindow;
  private phase: Phase = 'listening';
  private hello: HelloBody | undefined;
  private stateChunks: Buffer[] = [];
  private blankState: Buffer = Buffer.alloc(0);
  private pagesApplied = 0;
  private diskBytesApplied = 0;
  private readonly disks: readonly BlockBackend[];
  private bytesReceived = 0;
  private lastFrameAt = performance.now();
  private stallTimer: NodeJS.Timeout | undefined;
  private creditScheduled = false;
  private result: ResultBody | undefined;
  private resultTimer: NodeJS.Timeout | undefined;
  private readonly maxBody: number;

  constructor(
    private readonly machine: Machine,
    nc: NatsConnection,
    private readonly opts: DestinationOptions,
  ) {
    this.id = opts.id;
    this.prefix = opts.prefix ?? subjects.migration(opts.id);
    this.channel = new Channel({ id: opts.id, key: opts.key, role: 'destination', encrypt: opts.encrypt });
    this.disks = opts.disks ?? [];
    this.rx = new ReceiveWindow(opts.window ?? 32, NACK_INTERVAL_MS);
    this.maxBody = Math.max(1 << 20, nc.info?.max_payload ?? 0);
    this.endpoint = new Endpoint(
      nc,
      { prefix: this.prefix, channel: this.channel, tap: opts.tap },
      (f) => this.onFrame(f),
      (e) => this.fail(e),
    );
    this.finished = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    // Callers that only await listen() must not see an unhandled rejection.
    // eslint-disable-next-line no-restricted-syntax -- observed by whoever awaits finished
    this.finished.catch(() => {});
  }

  /**
   * Prefaults RAM (unless told not to) and subscribes; once this resolves the source may start.
   * The machine is paused here; keep its run() loop going, so that the resume at the end takes
   * effect at once.
   */
  async listen(): Promise<void> {
    if (!this.machine.isPaused) this.machine.pause();
    if (this.opts.prefault ?? true) await this.prefault();
    this.blankState = this.machine.saveDeviceState();
    this.rehearse(WARMUP_ROUNDS);
    wallNow(); // its first reading calibrates it: not inside the pause
    // V8 compiles a function when it first runs: complete() returns at once before the stream
    // starts, so the one inside the pause finds it compiled.
    void this.complete(undefined);
    await this.endpoint.open();
  }

  /**
   * Restoring runs once, inside the guest's pause: run it now on this machine's own (blank) state,
   * which changes nothing, so that the pause does not pay for cold code and caches.
   */
  private rehearse(rounds: number): void {
    for (let i = 0; i < rounds; i++) this.machine.restoreDeviceState(this.blankState);
  }

  private async prefault(): Promise<void> {
    const bytes = this.machine.ram.bytes;
    for (let off = 0; off < bytes.length;) {
      // A chunk per turn: the process stays responsive (its control socket, other VMs).
      const end = Math.min(bytes.length, off + (8 << 20));
      for (; off < end; off += PAGE_SIZE) bytes[off] = bytes[off]!;
      await new Promise((r) => setImmediate(r));
    }
    for (let n = 0; n < RECEIVE_WARMUP_BYTES; n += 8 << 20) {
      for (let k = 0; k < 8; k++) Buffer.allocUnsafeSlow(1 << 20).fill(0);
      await new Promise((r) => setImmediate(r));
    }
  }

  /** Gives up (the source is told and resumes); no effect once everything has arrived (the commit decides then). */
  abort(reason = 'aborted at the destination'): boolean {
    if (this.phase !== 'listening' && this.phase !== 'receiving') return false;
    this.fail(new MigrationError('aborted', reason));
    return true;
  }

  get rejected(): RejectCounters {
    return { ...this.endpoint.rejected };
  }

  private onFrame(f: Frame): void {
    if (this.phase === 'done' || this.phase === 'failed') {
      // The source may not have heard the result yet.
      if (f.type === MsgType.End && this.result) this.sendResult();
      if (f.type === MsgType.Bye) this.stopResult();
      return;
    }
    switch (f.type) {
      case MsgType.Hello:
        return this.onHello(f);
      case MsgType.Abort:
        return this.fail(
          new MigrationError(
            'aborted',
            `source aborted: ${parseJson<{ reason?: string }>(f.body)?.reason ?? 'no reason given'}`,
          ),
          false,
        );
      case MsgType.Bye:
        return this.stopResult();
      case MsgType.Prepare:
        if (this.phase !== 'receiving') return;
        this.rehearse(PREPARE_ROUNDS);
        return this.endpoint.send(this.channel.encode(MsgType.Prepared, this.endpoint.nextControlSeq()));
      case MsgType.Pages:
      case MsgType.Disk:
      case MsgType.State:
      case MsgType.End:
        return this.onData(f);
      default:
        return;
    }
  }

  private onHello(f: Frame): void {
    const h = parseJson<HelloBody>(f.body);
    if (!h || h.id !== this.id) return;
    if (this.phase === 'listening') {
      const error = this.checkHello(h);
      if (error) {
        this.endpoint.send(this.channel.encodeJson(MsgType.Refuse, this.endpoint.nextControlSeq(), { error }));
        this.fail(new MigrationError('refused', error), false);
        return;
      }
      this.hello = h;
      this.phase = 'receiving';
      this.lastFrameAt = performance.now();
      const stall = this.opts.stallTimeoutMs ?? 20_000;
      this.stallTimer = setInterval(
        () => {
          const idle = performance.now() - this.lastFrameAt;
          if (this.phase === 'receiving' && idle > stall)
            this.fail(new MigrationError('stalled', `no frame from the source for ${Math.round(idle)} ms`));
        },
        Math.min(1000, stall / 4),
      );
    }
    // A repeated Hello (our Ready was lost) gets the same answer.
    if (this.phase === 'receiving' && this.rx.expected === 1) {
      this.endpoint.send(
        this.channel.encodeJson(MsgType.Ready, this.endpoint.nextControlSeq(), {
          limit: this.rx.limit,
          window: this.rx.window,
        }),
      );
    }
  }

  private checkHello(h: HelloBody): string | undefined {
    if (h.pageSize !== PAGE_SIZE) return `page size ${h.pageSize}, expected ${PAGE_SIZE}`;
    if (h.ramBytes !== this.machine.ram.size)
      return `source RAM is ${h.ramBytes} bytes, destination has ${this.machine.ram.size}`;
    const mine = this.machine.config as unknown as Record<string, unknown>;
    const diff = Object.keys(mine).filter((k) => h.config?.[k] !== mine[k]);
    if (diff.length)
      return `machine config differs: ${diff.map((k) => `${k} ${String(h.config?.[k])} vs ${String(mine[k])}`).join(', ')}`;
    const copied = sizesDiffer(
      'disk',
      h.disks,
      this.disks.map((d) => d.sizeBytes),
    );
    if (copied) return copied;
    for (const [i, d] of this.disks.entries()) {
      if (d.readOnly || !d.writeZeroes) return `disk ${i} is not writable here (read-only, or no write-zeroes)`;
    }
    const shared = sizesDiffer('shared disk', h.sharedDisks, this.opts.sharedDisks?.sizes ?? []);
    if (shared) return shared;
    return undefined;
  }

  private onData(f: Frame): void {
    if (this.phase !== 'receiving') return;
    this.lastFrameAt = performance.now();
    const cls = this.rx.classify(f.seq);
    if (cls === 'old') {
      this.endpoint.rejected.replayed++;
      // A resent frame means our credit may have been lost: say again where we are.
      this.scheduleCredit();
      return;
    }
    if (cls === 'gap') {
      if (this.rx.shouldNack(performance.now()))
        this.endpoint.send(encodeNack(this.channel, this.endpoint.nextControlSeq(), this.rx.expected));
      return;
    }
    this.bytesReceived += f.body.length + HEADER_SIZE;
    const body = f.flags & Flag.Deflated ? inflateBody(f.body, this.maxBody * 4) : f.body;
    if (typeof body === 'string') return this.fail(new MigrationError('protocol', body));
    if (f.type === MsgType.Pages) {
      const r = applyRecords(body, this.machine.ram);
      if (typeof r === 'string') return this.fail(new MigrationError('protocol', r));
      this.pagesApplied += r;
    } else if (f.type === MsgType.Disk) {
      const r = applyDiskRecords(body, this.disks);
      if (typeof r === 'string') return this.fail(new MigrationError('protocol', r));
      this.diskBytesApplied += r;
    } else if (f.type === MsgType.State) {
      this.stateChunks.push(Buffer.from(f.body));
    }
    const creditNow = this.rx.applied();
    // End is acknowledged with the result: the guest's pause is not the time for other writes.
    if (f.type === MsgType.End) return void this.complete(parseJson<EndBody>(f.body));
    if (creditNow) this.sendCredit();
    else this.scheduleCredit();
  }

  /** Everything is here: check, restore the devices, commit, resume. */
  private async complete(end: EndBody | undefined): Promise<void> {
    if (this.phase !== 'receiving') return;
    this.phase = 'completing';
    clearInterval(this.stallTimer);
    const endAt = wallNow();
    const t0 = performance.now();
    let restored = t0;
    let flushed = t0;
    try {
      if (!end) throw new MigrationError('protocol', 'malformed End frame');
      if (this.hello?.digest) {
        const mine = createHash('sha256').update(this.machine.ram.bytes).digest('hex');
        if (mine !== end.digest)
          throw new MigrationError(
            'verify',
            `verify: RAM digest ${mine.slice(0, 16)}… differs from the source's ${String(end.digest).slice(0, 16)}…`,
          );
      }
      try {
        this.opts.sharedDisks?.attach();
      } catch (e) {
        throw new MigrationError('state', `shared disks: ${(e as Error).message}`);
      }
      try {
        this.machine.restoreDeviceState(Buffer.concat(this.stateChunks));
      } catch (e) {
        throw new MigrationError('state', `device state: ${(e as Error).message}`);
      }
      this.stateChunks = [];
      restored = performance.now();
      try {
        for (const d of this.disks) d.flush();
      } catch (e) {
        throw new MigrationError('state', `disk flush: ${(e as Error).message}`);
      }
      flushed = performance.now();
      try {
        // Awaited only when it is asynchronous: an await costs a turn of the microtask queue.
        const committing = this.opts.commit?.();
        if (committing) await committing;
      } catch (e) {
        throw new MigrationError('commit', `commit refused: ${(e as Error).message}`);
      }
    } catch (e) {
      const err = e instanceof MigrationError ? e : new MigrationError('protocol', String(e));
      this.result = { committed: false, error: err.message };
      this.sendCredit();
      this.sendResult();
      this.fail(err, false, true);
      return;
    }
    const committed = performance.now();
    this.machine.resume();
    const resumedAt = wallNow();
    this.phase = 'done';
    this.result = { committed: true, resumedAt };
    this.sendCredit();
    this.sendResult();
    // The source needs the result to let go of its copy: repeat it until it says Bye.
    const until = performance.now() + RESULT_RESEND_FOR_MS;
    this.resultTimer = setInterval(
      () => (performance.now() > until ? this.stopResult() : this.sendResult()),
      RESULT_RESEND_MS,
    );
    this.settle.resolve({
      id: this.id,
      resumedAt,
      pagesApplied: this.pagesApplied,
      diskBytesApplied: this.diskBytesApplied,
      bytesReceived: this.bytesReceived,
      rejected: this.rejected,
      switchover: { endAt, restoreMs: restored - t0, flushMs: flushed - restored, commitMs: committed - flushed },
    });
  }

  private sendResult(): void {
    if (this.result)
      this.endpoint.send(this.channel.encodeJson(MsgType.Result, this.endpoint.nextControlSeq(), this.result));
  }

  private stopResult(): void {
    clearInterval(this.resultTimer);
    this.resultTimer = undefined;
    if (this.phase === 'done' || this.phase === 'failed') this.endpoint.close();
  }

  private sendCredit(): void {
    this.rx.creditSent();
    this.endpoint.send(encodeCredit(this.channel, this.endpoint.nextControlSeq(), this.rx.expected - 1, this.rx.limit));
  }

  /** A credit after the frames NATS delivered in this batch, not one per frame. */
  private scheduleCredit(): void {
    if (this.creditScheduled) return;
    this.creditScheduled = true;
    setImmediate(() => {
      this.creditScheduled = false;
      if (this.phase === 'receiving') this.sendCredit();
    });
  }

  private fail(e: MigrationError, tellSource = true, fromComplete = false): void {
    if (this.phase === 'done' || this.phase === 'failed') return;
    // Once everything is here only complete() decides: an error meanwhile (the connection, say)
    // must not discard a guest that the commit hook may commit a moment later.
    if (this.phase === 'completing' && !fromComplete) return;
    this.phase = 'failed';
    clearInterval(this.stallTimer);
    if (tellSource)
      this.endpoint.send(this.channel.encodeJson(MsgType.Abort, this.endpoint.nextControlSeq(), { reason: e.message }));
    // Stay subscribed a little while when a result is owed (the source may ask again), else go.
    if (this.result) this.resultTimer = setTimeout(() => this.stopResult(), RESULT_RESEND_FOR_MS);
    else this.endpoint.close();
    this.settle.reject(e);
  }
}
