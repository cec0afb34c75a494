// The record decoders below the migration's authentication, fuzzed directly: frames are
// AES-GCM authenticated, so bit flips on the wire never reach them, but a bug or a hostile
// peer holding the key could. Damaged page and disk records (bit flips, truncation, random
// heads, random deflate streams) must come back as an error message, never an exception, a
// hang, or a write outside guest RAM or the disk.
import { strict as assert } from 'node:assert';
import { deflateRawSync } from 'node:zlib';
import { GuestRam } from '@hypernova/hypervisor';
import { MemBackend, Rng } from '@hypernova/hypervisor/testing';
import { applyDiskRecords } from '../../src/migration/disks.js';
import { applyRecords, inflateBody } from '../../src/migration/pages.js';

const PAGE = 4096;
const RAM_PAGES = 64;
const CASES = 400;

/** A well-formed Pages body: a zero run, raw pages and deltas. */
function pageBody(rng: Rng): Buffer {
  const parts: Buffer[] = [];
  const head = (page: number, kind: number, n: number): Buffer => {
    const h = Buffer.alloc(8);
    h.writeUInt32LE(page, 0);
    h.writeUInt32LE(((kind << 24) | n) >>> 0, 4);
    return h;
  };
  parts.push(head(rng.int(RAM_PAGES / 2), 0, 1 + rng.int(4)));
  for (let k = 0; k < 3; k++) parts.push(head(rng.int(RAM_PAGES), 1, PAGE), Buffer.from(rng.bytes(PAGE)));
  const delta = Buffer.alloc(4 + 8);
  delta.writeUInt16LE(rng.int(1000), 0);
  delta.writeUInt16LE(2, 2);
  parts.push(head(rng.int(RAM_PAGES), 2, delta.length), delta);
  return Buffer.concat(parts);
}

/** A well-formed Disk body: a zero record and a data record. */
function diskBody(rng: Rng): Buffer {
  const rec = (kind: number, offset: number, length: number): Buffer => {
    const r = Buffer.alloc(16);
    r.writeUInt16LE(0, 0);
    r.writeUInt8(kind, 2);
    r.writeUInt32LE(length, 4);
    r.writeUInt32LE(offset, 8);
    return r;
  };
  return Buffer.concat([rec(0, 0, 65536), rec(1, 65536 * rng.int(8), 4096), Buffer.from(rng.bytes(4096))]);
}

/** Bit flips, random 32-bit words, truncation or an extension with junk. */
function damage(body: Buffer, rng: Rng): Buffer {
  let b = Buffer.from(body);
  for (let n = 1 + rng.int(4); n > 0; n--) {
    const at = rng.int(b.length - 4);
    if (rng.int(2)) b[at] ^= 1 << rng.int(8);
    else b.writeUInt32LE(rng.next(), at - (at % 4));
  }
  if (rng.int(4) === 0) b = b.subarray(0, rng.int(b.length));
  if (rng.int(8) === 0) b = Buffer.concat([b, Buffer.from(rng.bytes(rng.int(40)))]);
  return b;
}

describe('migration records: fuzzed below authentication', () => {
  it(`${CASES} damaged page bodies: an error string or a page count, RAM written in bounds`, () => {
    const rng = new Rng(11);
    let refused = 0;
    for (let c = 0; c < CASES; c++) {
      const ram = new GuestRam(0x8000_0000, RAM_PAGES * PAGE);
      const body = damage(pageBody(rng), rng);
      let r: number | string;
      assert.doesNotThrow(() => (r = applyRecords(body, ram)), `case ${c}`);
      if (typeof r! === 'string') refused++;
      else assert.ok(r! >= 0 && r! <= body.length, `case ${c}: ${r!} pages`);
      assert.equal(ram.bytes.length, RAM_PAGES * PAGE);
    }
    assert.ok(refused > CASES / 4, `${refused} refused`);
  });

  it(`${CASES} damaged or random deflate streams are refused or bounded (no zip bomb)`, () => {
    const rng = new Rng(12);
    const bomb = deflateRawSync(Buffer.alloc(64 << 20));
    for (let c = 0; c < CASES; c++) {
      const input = c === 0 ? bomb : damage(deflateRawSync(pageBody(rng)), rng);
      const out = inflateBody(input, 1 << 20);
      if (typeof out !== 'string') assert.ok(out.length <= 1 << 20, `case ${c}`);
    }
    assert.equal(typeof inflateBody(bomb, 1 << 20), 'string');
  });

  it(`${CASES} damaged disk bodies: an error string or a byte count, never past the disk`, () => {
    const rng = new Rng(13);
    let refused = 0;
    for (let c = 0; c < CASES; c++) {
      const disk = new MemBackend(1 << 20);
      const body = damage(diskBody(rng), rng);
      let r: number | string;
      assert.doesNotThrow(() => (r = applyDiskRecords(body, [disk])), `case ${c}`);
      if (typeof r! === 'string') refused++;
      assert.equal(disk.data.length, 1 << 20);
    }
    assert.ok(refused > CASES / 4, `${refused} refused`);
  });
});
