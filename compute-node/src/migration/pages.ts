// Guest pages on the wire: the records inside a Pages frame, how the source picks each page's
// encoding, and how the destination applies them.
//
//   record = u32 page | u32 (kind << 24 | n) | payload
//   Zero   n = run length in pages, no payload (zero pages cost 8 bytes per run, not 4 KiB each)
//   Raw    n = 4096, the page
//   Delta  n = payload length: (u16 words skipped, u16 words changed, changed words)* against the
//          copy the destination already holds (XBZRLE-like; the source keeps that copy in a
//          PageCache). A guest that rewrites a word or two per page costs ~8 bytes per page
//          instead of 4 KiB, which is what lets a fast-dirtying guest converge.
// A frame's records may also be raw-deflated as a whole (Flag.Deflated) when that pays.
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { GuestRam } from '@hypernova/hypervisor';
import { PAGE_SIZE } from '@hypernova/hypervisor';
import { Flag, frameBuffer, frameBufferOf, HEADER_SIZE } from './wire.js';

export const enum PageKind {
  Zero = 0,
  Raw = 1,
  Delta = 2,
}

const RECORD = 8;
const WORDS = PAGE_SIZE / 4;
const MAX_RUN = 0xff_ffff;
/** A delta longer than this is sent raw instead. */
const MAX_DELTA = PAGE_SIZE - 512;
const ZERO_PAGE = Buffer.alloc(PAGE_SIZE);
/** Frame buffers an encoder keeps for reuse, at most. */
const POOL_MAX = 256;

const isZeroPage = (bytes: Uint8Array, off: number): boolean => ZERO_PAGE.compare(bytes, off, off + PAGE_SIZE) === 0;

/** Writes a record's head at `pos`; returns where its payload goes. */
function record(view: DataView, pos: number, page: number, kind: PageKind, n: number): number {
  view.setUint32(pos, page, true);
  view.setUint32(pos + 4, (kind << 24) | n, true);
  return pos + RECORD;
}

/** Where the encoder reads pages: live guest RAM, or the copy taken at the pause. */
export interface PageSource {
  bytes: Uint8Array;
  words: Uint32Array;
  /** Byte offset of `page` in bytes/words*4. */
  offset(page: number): number;
  /** Whether the page is known to be all zeros without reading it (live RAM: never written). */
  knownZero?(page: number): boolean;
}

export function ramSource(ram: GuestRam): PageSource {
  return {
    bytes: ram.bytes,
    words: new Uint32Array(ram.bytes.buffer, ram.bytes.byteOffset, ram.bytes.byteLength >>> 2),
    offset: (page) => page * PAGE_SIZE,
    // Reading a never-touched page would fault it in on the host: its flag says it is zero.
    knownZero: (page) => ram.isKnownZero(page),
  };
}

/** The pages to send, in ascending order. */
export interface PageQueue {
  /** The next page, or -1 when none is left. */
  peek(): number;
  take(): void;
}

/** The pages (or disk blocks) still to send: a bitmap swept in ascending order. */
export class DirtySet implements PageQueue {
  private readonly bits: Uint8Array;
  private cursor = 0;
  count = 0;

  constructor(readonly pages: number) {
    this.bits = new Uint8Array(pages);
  }

  addAll(): void {
    this.bits.fill(1);
    this.count = this.pages;
    this.cursor = 0;
  }

  /** Adds [first, end). */
  addRange(first: number, end: number): void {
    for (let p = first; p < end; p++) {
      if (this.bits[p]) continue;
      this.bits[p] = 1;
      this.count++;
    }
    if (first < end && first < this.cursor) this.cursor = first;
  }

  add(pages: readonly number[]): void {
    for (const p of pages) {
      if (this.bits[p]) continue;
      this.bits[p] = 1;
      this.count++;
      if (p < this.cursor) this.cursor = p;
    }
  }

  peek(): number {
    if (this.count === 0) return -1;
    while (this.bits[this.cursor] === 0) this.cursor++;
    return this.cursor;
  }

  take(): void {
    this.bits[this.cursor] = 0;
    this.count--;
    this.cursor++;
  }

  /** How many pages in the set satisfy `pred`. */
  countWhere(pred: (page: number) => boolean): number {
    let n = 0;
    for (let p = 0; p < this.pages; p++) if (this.bits[p] && pred(p)) n++;
    return n;
  }
}

/**
 * The source's copy of pages as the destination holds them, for deltas. Only pages sent again
 * after the first pass go in (those the guest rewrites), up to a capacity.
 */
export class PageCache {
  private readonly slotOf: Int32Array;
  private readonly slabs: Uint32Array[] = [];
  private used = 0;
  private static readonly SLAB_PAGES = 256;

  constructor(
    pages: number,
    readonly capacityPages: number,
  ) {
    this.slotOf = new Int32Array(pages).fill(-1);
  }

  get size(): number {
    return this.used;
  }

  get bytes(): number {
    return this.slabs.length * PageCache.SLAB_PAGES * PAGE_SIZE;
  }

  has(page: number): boolean {
    return this.slotOf[page]! >= 0;
  }

  /** The words array holding the cached copy of `page` (which must be cached), from wordOf(page). */
  slab(page: number): Uint32Array {
    return this.slabs[(this.slotOf[page]! / PageCache.SLAB_PAGES) | 0]!;
  }

  wordOf(page: number): number {
    return (this.slotOf[page]! % PageCache.SLAB_PAGES) * WORDS;
  }

  /** Records the page's content as sent; false when the cache is full (the page stays uncached). */
  store(page: number, src: Uint32Array, word: number): boolean {
    let slot = this.slotOf[page]!;
    if (slot < 0) {
      if (this.used >= this.capacityPages) return false;
      slot = this.used++;
      if (slot % PageCache.SLAB_PAGES === 0) this.slabs.push(new Uint32Array(PageCache.SLAB_PAGES * WORDS));
      this.slotOf[page] = slot;
    }
    this.slab(page).set(src.subarray(word, word + WORDS), this.wordOf(page));
    return true;
  }

  /** The destination now holds zeros there. */
  storeZero(page: number): void {
    if (!this.has(page)) return;
    const at = this.wordOf(page);
    this.slab(page).fill(0, at, at + WORDS);
  }
}

/**
 * The changed words of `cur` against `old` (u16 skip, u16 count, words), written at out[pos];
 * returns the length, 0 when nothing changed, -1 when longer than `max`. `old` is brought up to
 * date as it goes (the cache then holds what the destination will hold); when -1 is returned it
 * is partly updated, and the caller stores the whole page.
 */
export function encodeDelta(
  cur8: Uint8Array,
  cur32: Uint32Array,
  curWord: number,
  old32: Uint32Array,
  oldWord: number,
  out: Uint8Array,
  pos: number,
  max: number,
): number {
  let i = 0;
  let n = pos;
  const end = pos + max;
  while (i < WORDS) {
    const skipFrom = i;
    while (i < WORDS && cur32[curWord + i] === old32[oldWord + i]) i++;
    if (i === WORDS) break;
    const from = i;
    for (; i < WORDS; i++) {
      const w = cur32[curWord + i]!;
      if (w === old32[oldWord + i]) break;
      old32[oldWord + i] = w;
    }
    const skip = from - skipFrom;
    const count = i - from;
    if (n + 4 + count * 4 > end) return -1;
    out[n] = skip & 0xff;
    out[n + 1] = skip >>> 8;
    out[n + 2] = count & 0xff;
    out[n + 3] = count >>> 8;
    out.set(cur8.subarray((curWord + from) * 4, (curWord + i) * 4), n + 4);
    n += 4 + count * 4;
  }
  return n - pos;
}

/** Applies a delta to the page at `off` in `page8`; false when the delta is malformed. */
export function applyDelta(page8: Uint8Array, off: number, delta: Uint8Array): boolean {
  let pos = 0;
  let w = 0;
  while (pos < delta.length) {
    if (pos + 4 > delta.length) return false;
    w += delta[pos]! | (delta[pos + 1]! << 8);
    const count = delta[pos + 2]! | (delta[pos + 3]! << 8);
    pos += 4;
    if (w + count > WORDS || pos + count * 4 > delta.length) return false;
    page8.set(delta.subarray(pos, pos + count * 4), off + w * 4);
    pos += count * 4;
    w += count;
  }
  return true;
}

export interface EncodeStats {
  /** Pages looked at (every page of every round). */
  pages: number;
  zeroPages: number;
  rawPages: number;
  deltaPages: number;
  /** Dirty pages whose content equals what the destination holds: nothing sent. */
  unchangedPages: number;
  /** Bytes of records (before frame headers and deflate). */
  recordBytes: number;
  deltaBytes: number;
  /** Time spent diffing cached pages: a delta is a few bytes but not free, and the pause must count it. */
  deltaMs: number;
}

export const emptyEncodeStats = (): EncodeStats => ({
  pages: 0,
  zeroPages: 0,
  rawPages: 0,
  deltaPages: 0,
  unchangedPages: 0,
  recordBytes: 0,
  deltaBytes: 0,
  deltaMs: 0,
});

export interface EncodedFrame {
  /** Frame buffer with the body at HEADER_SIZE, to be sealed. */
  buf: Buffer;
  bodyLength: number;
  flags: number;
  pages: number;
}

export interface EncoderOptions {
  batchBytes: number;
  cache?: PageCache;
}

/** Packs queued pages into Pages frame bodies, choosing zero run, delta or raw per page. */
export class PageEncoder {
  readonly stats = emptyEncodeStats();
  /** Store pages sent raw in the cache (after the first pass: pages the guest rewrites). */
  cacheNewPages = false;
  /** Deflate frame bodies when it shrinks them (convergence turns it on). */
  deflate = false;
  private readonly deflateSeen = { in: 0, out: 0 };
  /** Frame buffers back from acknowledged frames: fresh memory costs page faults on every frame. */
  private readonly pool: Buffer[] = [];

  constructor(private readonly opts: EncoderOptions) {}

  get cache(): PageCache | undefined {
    return this.opts.cache;
  }

  /** Deflate's measured ratio (out/in) so far; 1 before any try. */
  get deflateRatio(): number {
    return this.deflateSeen.in ? this.deflateSeen.out / this.deflateSeen.in : 1;
  }

  /**
   * One frame's worth of the queue, or undefined when nothing was left to send. A long run of
   * zero pages fills no frame: the frame is closed at `deadline` (performance.now()) instead, so
   * the caller can yield (reading never-touched RAM costs a page fault per page).
   */
  next(queue: PageQueue, src: PageSource, deadline = Infinity): EncodedFrame | undefined {
    const cap = this.opts.batchBytes;
    const buf = this.pool.pop() ?? frameBuffer(cap);
    // Every record starts 4-byte aligned (header, records and deltas are whole words): plain
    // 32-bit stores, much less code for the JIT than Buffer's checked writes.
    const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
    const cache = this.opts.cache;
    const st = this.stats;
    const end = HEADER_SIZE + cap;
    let pos = HEADER_SIZE;
    // The open zero run: its record is written when it starts and its length updated in place.
    let runAt = -1;
    let runNext = -1;
    let runLen = 0;
    let pages = 0;
    for (let page = queue.peek(); page >= 0; page = queue.peek()) {
      const off = src.offset(page);
      const cached = cache?.has(page) === true;
      // A cached page is diffed without a zero check first (the check costs as much as the diff):
      // a page now all zeros shows up as a delta too long, and is checked then.
      let zero = !cached && (src.knownZero?.(page) === true || isZeroPage(src.bytes, off));
      if (cached) {
        // Room for the page whole, not just for a delta: the diff brings the cached copy up to
        // date as it goes, so a page found too changed for a delta must go whole in this frame.
        if (pos + RECORD + PAGE_SIZE > end) break;
        const t0 = performance.now();
        const len = encodeDelta(
          src.bytes,
          src.words,
          off >>> 2,
          cache.slab(page),
          cache.wordOf(page),
          buf,
          pos + RECORD,
          MAX_DELTA,
        );
        if (len === 0) {
          st.unchangedPages++;
        } else if (len > 0) {
          pos = record(view, pos, page, PageKind.Delta, len) + len;
          runAt = -1;
          st.deltaPages++;
          st.deltaBytes += RECORD + len;
        } else if (isZeroPage(src.bytes, off)) {
          cache.storeZero(page);
          zero = true;
        } else {
          pos = this.raw(buf, view, pos, page, src, off);
          runAt = -1;
          cache.store(page, src.words, off >>> 2);
        }
        st.deltaMs += performance.now() - t0;
      }
      if (zero) {
        if (runAt >= 0 && page === runNext && runLen < MAX_RUN) {
          view.setUint32(runAt + 4, (PageKind.Zero << 24) | ++runLen, true);
        } else {
          if (pos + RECORD > end) break;
          runAt = pos;
          runLen = 1;
          pos = record(view, pos, page, PageKind.Zero, 1);
        }
        runNext = page + 1;
        if (!cached) cache?.storeZero(page);
        st.zeroPages++;
      } else if (!cached) {
        if (pos + RECORD + PAGE_SIZE > end) break;
        pos = this.raw(buf, view, pos, page, src, off);
        runAt = -1;
        if (this.cacheNewPages) cache?.store(page, src.words, off >>> 2);
      }
      st.pages++;
      pages++;
      queue.take();
      if ((pages & 63) === 0 && performance.now() > deadline) break;
    }
    const bodyLength = pos - HEADER_SIZE;
    // Nothing to send (no pages left, or only unchanged ones): no frame.
    if (bodyLength === 0) {
      this.pool.push(buf);
      return undefined;
    }
    st.recordBytes += bodyLength;
    return this.pack({ buf, bodyLength, flags: 0, pages });
  }

  /** Deflates a frame's records (pages, or disk blocks) when deflate is on and it pays. */
  pack(f: EncodedFrame): EncodedFrame {
    if (!this.deflate || f.bodyLength < 4096) return f;
    const packed = deflateRawSync(f.buf.subarray(HEADER_SIZE, HEADER_SIZE + f.bodyLength), { level: 1 });
    this.deflateSeen.in += f.bodyLength;
    this.deflateSeen.out += packed.length;
    if (packed.length >= f.bodyLength * 0.9) return f;
    const out = frameBuffer(packed.length);
    packed.copy(out, HEADER_SIZE);
    this.recycle(f.buf);
    return { buf: out, bodyLength: packed.length, flags: Flag.Deflated, pages: f.pages };
  }

  /**
   * Fills the pool up to `frames` buffers, their memory touched: the first touch of fresh memory
   * costs a page fault per 4 KiB (7 of the source's 58 ms of CPU in a 32 MiB first pass), better
   * paid before the stream than in it, as the destination prefaults its RAM.
   */
  reserve(frames: number): void {
    while (this.pool.length < Math.min(frames, POOL_MAX)) this.pool.push(frameBuffer(this.opts.batchBytes).fill(0));
  }

  /** Takes back the buffer of a frame the destination acknowledged. */
  recycle(frame: Buffer): void {
    const buf = frameBufferOf(frame);
    if (buf?.length === HEADER_SIZE + this.opts.batchBytes && this.pool.length < POOL_MAX) this.pool.push(buf);
  }

  private raw(buf: Buffer, view: DataView, pos: number, page: number, src: PageSource, off: number): number {
    const at = record(view, pos, page, PageKind.Raw, PAGE_SIZE);
    buf.set(src.bytes.subarray(off, off + PAGE_SIZE), at);
    this.stats.rawPages++;
    return at + PAGE_SIZE;
  }
}

/** Inflates a Deflated body (page or disk records), refusing anything larger than a frame may carry (no zip bombs). */
export function inflateBody(body: Buffer, maxBytes: number): Buffer | string {
  try {
    return inflateRawSync(body, { maxOutputLength: maxBytes });
  } catch (e) {
    return `cannot inflate records: ${(e as Error).message}`;
  }
}

/**
 * Zeroes pages [first, end) of `ram`, but for those it knows hold zeros already: a destination's
 * fresh RAM is all such pages, and a guest's untouched memory (most of a large one) arrives as
 * zero runs; writing it would cost a memset of all of it.
 */
function zeroPages(ram: GuestRam, first: number, end: number): void {
  for (let p = first; p < end;) {
    if (ram.isKnownZero(p)) {
      p++;
      continue;
    }
    let q = p + 1;
    while (q < end && !ram.isKnownZero(q)) q++;
    ram.bytes.fill(0, p * PAGE_SIZE, q * PAGE_SIZE);
    ram.noteWriteRange(p * PAGE_SIZE, (q - p) * PAGE_SIZE);
    p = q;
  }
}

/** Writes a Pages body's records into guest RAM; returns the page count or an error message. */
export function applyRecords(body: Buffer, ram: GuestRam): number | string {
  let pos = 0;
  let pages = 0;
  while (pos < body.length) {
    if (pos + RECORD > body.length) return 'truncated page record';
    const page = body.readUInt32LE(pos);
    const word = body.readUInt32LE(pos + 4);
    const kind = word >>> 24;
    const n = word & 0xff_ffff;
    pos += RECORD;
    const off = page * PAGE_SIZE;
    if (kind === PageKind.Zero) {
      if (n === 0 || page + n > ram.pages) return `zero run ${page}+${n} outside RAM`;
      zeroPages(ram, page, page + n);
      pages += n;
      continue;
    }
    if (page >= ram.pages) return `page ${page} outside RAM`;
    if (pos + n > body.length) return 'truncated page data';
    if (kind === PageKind.Raw) {
      if (n !== PAGE_SIZE) return `raw page of ${n} bytes`;
      ram.bytes.set(body.subarray(pos, pos + n), off);
    } else if (kind === PageKind.Delta) {
      if (!applyDelta(ram.bytes, off, body.subarray(pos, pos + n))) return `malformed delta for page ${page}`;
    } else {
      return `unknown page record kind ${kind}`;
    }
    ram.noteWriteRange(off, PAGE_SIZE);
    pos += n;
    pages++;
  }
  return pages;
}
