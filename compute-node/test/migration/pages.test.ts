// Page records: zero runs, raw pages and deltas against the copy the destination holds.
import { strict as assert } from 'node:assert';
import { GuestRam } from '@hypernova/hypervisor';
import {
  applyDelta,
  applyRecords,
  encodeDelta,
  inflateBody,
  PageCache,
  PageEncoder,
  ramSource,
  type PageQueue,
} from '../../src/migration/pages.js';
import { Flag, HEADER_SIZE } from '../../src/migration/wire.js';

const PAGE = 4096;

function queue(pages: number[]): PageQueue {
  let i = 0;
  return { peek: () => (i < pages.length ? pages[i]! : -1), take: () => void i++ };
}

/** Encodes `pages` of `src` and applies every frame to `dst`; returns the frames' body sizes. */
function transfer(enc: PageEncoder, src: GuestRam, dst: GuestRam, pages: number[]): number[] {
  const q = queue(pages);
  const sizes: number[] = [];
  for (let f = enc.next(q, ramSource(src)); f; f = enc.next(q, ramSource(src))) {
    let body = f.buf.subarray(HEADER_SIZE, HEADER_SIZE + f.bodyLength);
    if (f.flags & Flag.Deflated) body = inflateBody(body, 1 << 22) as Buffer;
    assert.equal(typeof applyRecords(body, dst), 'number');
    sizes.push(f.bodyLength);
    enc.recycle(f.buf);
  }
  return sizes;
}

describe('migration page records', () => {
  it('a delta carries only the changed words and rebuilds the page', () => {
    const old = new Uint32Array(1024).map((_, i) => i * 2654435761);
    const cur = Uint32Array.from(old);
    cur[0] = 1;
    cur[500] = 2;
    cur[501] = 3;
    cur[1023] = 4;
    const out = new Uint8Array(8192);
    const len = encodeDelta(new Uint8Array(cur.buffer), cur, 0, old, 0, out, 10, 4000);
    assert.equal(len, 3 * 4 + 4 * 4); // three runs: 1, 2 and 1 words
    const page = new Uint8Array(old.buffer.slice(0));
    assert.ok(applyDelta(page, 0, out.subarray(10, 10 + len)));
    assert.deepEqual(new Uint32Array(page.buffer), cur);
    assert.equal(encodeDelta(new Uint8Array(old.buffer), old, 0, old, 0, out, 0, 4000), 0, 'unchanged');
    assert.equal(encodeDelta(new Uint8Array(cur.buffer), cur, 0, new Uint32Array(1024), 0, out, 0, 64), -1, 'too long');
    assert.equal(applyDelta(page, 0, Uint8Array.of(0, 4, 1, 0, 1, 2, 3, 4)), false, 'past the page end');
  });

  it('zero runs, raw pages, then deltas once rewritten pages are cached; deflate when asked', () => {
    const src = new GuestRam(0x8000_0000, 4 << 20);
    const dst = new GuestRam(0x8000_0000, 4 << 20);
    dst.bytes.fill(0xee); // the destination's old content must all be overwritten
    dst.noteWriteRange(0, dst.size);
    for (let p = 100; p < 300; p++) src.bytes.fill(p & 0xff || 1, p * PAGE, (p + 1) * PAGE);
    src.noteWriteRange(100 * PAGE, 200 * PAGE); // writes outside the CPU report themselves (GuestRam's contract)
    const cache = new PageCache(src.pages, 150);
    const enc = new PageEncoder({ batchBytes: 64 * 1024, cache });
    transfer(enc, src, dst, [...Array(src.pages).keys()]);
    assert.deepEqual(dst.bytes, src.bytes);
    assert.equal(enc.stats.zeroPages, src.pages - 200);
    assert.equal(enc.stats.rawPages, 200);

    // Round 2: rewritten pages go raw and into the cache (up to its capacity).
    enc.cacheNewPages = true;
    const dirty = [...Array(200).keys()].map((i) => 100 + i);
    for (const p of dirty) src.bytes[p * PAGE + 8] ^= 0xff;
    transfer(enc, src, dst, dirty);
    assert.deepEqual(dst.bytes, src.bytes);
    assert.equal(cache.size, 150);

    // Round 3: cached pages are deltas of a few bytes; a page now all zero is a zero marker.
    for (const p of dirty) src.bytes[p * PAGE + 8] ^= 0x0f;
    src.bytes.fill(0, 100 * PAGE, 101 * PAGE);
    const before = { ...enc.stats };
    const sizes = transfer(enc, src, dst, dirty);
    assert.deepEqual(dst.bytes, src.bytes);
    assert.equal(enc.stats.deltaPages - before.deltaPages, 149);
    assert.ok(sizes.reduce((a, b) => a + b) < 149 * 16 + 50 * (PAGE + 8) + 16);

    // Unchanged dirty pages cost nothing; deflate shrinks compressible frames.
    assert.equal(transfer(enc, src, dst, dirty.slice(1, 150)).length, 0);
    enc.deflate = true;
    const packed = transfer(enc, src, dst, dirty.slice(150));
    assert.ok(packed[0]! < (50 * PAGE) / 10, `deflated to ${packed[0]}`);
    assert.deepEqual(dst.bytes, src.bytes);
  });

  it('a cached page that turns out too changed for a delta, with no room left for it whole, goes whole in the next frame', () => {
    const src = new GuestRam(0x8000_0000, 1 << 20);
    const dst = new GuestRam(0x8000_0000, 1 << 20);
    for (const p of [0, 1]) src.bytes.fill(p + 1, p * PAGE, (p + 1) * PAGE);
    src.noteWriteRange(0, 2 * PAGE);
    // Room for one raw page and a long delta (3584 bytes), not for two raw pages.
    const enc = new PageEncoder({ batchBytes: 2 * 8 + PAGE + 3600, cache: new PageCache(src.pages, 1) });
    enc.cacheNewPages = true;
    transfer(enc, src, dst, [1, 0]); // page 1 cached, page 0 not (the cache is full)
    for (let i = 0; i < PAGE; i += 4) src.bytes[PAGE + i] ^= 0xff; // page 1 rewritten all over
    src.bytes[0] ^= 0xff;
    transfer(enc, src, dst, [0, 1]);
    assert.deepEqual(dst.bytes, src.bytes);
  });

  it('a zero run zeroes the pages written before and leaves pages known to be zero alone', () => {
    const ram = new GuestRam(0x8000_0000, 1 << 20);
    ram.bytes.fill(7, 5 * PAGE, 7 * PAGE);
    ram.noteWriteRange(5 * PAGE, 2 * PAGE);
    const run = Buffer.alloc(8);
    run.writeUInt32LE(2, 0);
    run.writeUInt32LE(10, 4); // pages 2..11, zero
    assert.equal(applyRecords(run, ram), 10);
    assert.ok(ram.bytes.every((b) => b === 0));
    // Untouched pages were not written (a fresh destination's RAM costs no memset, no faults).
    assert.deepEqual(
      [2, 4, 7, 11].map((p) => ram.isKnownZero(p)),
      [true, true, true, true],
    );
  });

  it('malformed records are refused', () => {
    const ram = new GuestRam(0x8000_0000, 1 << 20);
    const rec = (page: number, word: number, extra = 0): Buffer => {
      const b = Buffer.alloc(8 + extra);
      b.writeUInt32LE(page, 0);
      b.writeUInt32LE(word >>> 0, 4);
      return b;
    };
    assert.match(String(applyRecords(rec(250, 10), ram)), /outside RAM/); // zero run past the end
    assert.match(String(applyRecords(rec(9999, (1 << 24) | 4096, 4096), ram)), /outside RAM/);
    assert.match(String(applyRecords(rec(1, (1 << 24) | 4096, 10), ram)), /truncated/);
    assert.match(String(applyRecords(rec(1, (1 << 24) | 100, 100), ram)), /raw page of 100/);
    assert.match(String(applyRecords(rec(1, 7 << 24), ram)), /unknown/);
    assert.match(String(applyRecords(Buffer.alloc(5), ram)), /truncated/);
    assert.match(String(inflateBody(Buffer.from('not deflate'), 1 << 20)), /cannot inflate/);
  });
});
