// Hostile and damaged images: each is refused with a clear BlockError, at open or at the
// access that finds the damage, and nothing in the file changes.

import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { BlockError, Qcow2, checkQcow2, openDisk, type BlockErrorCode } from '../../src/block/index.js';
import { Rng, hasQemuImg, qemuImg, sha256, tempDir } from '../../testing/block.js';

const K64 = 0x10000;

/** Layout of Qcow2.create(size 4 MiB) after one write at 0: header, refcount table, block, L1, L2, data. */
const L = { rt: 0x10000, block: 0x20000, l1: 0x30000, l2: 0x40000, data: 0x50000 };

function isBlockError(code: BlockErrorCode, pattern: RegExp): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof BlockError, `expected a BlockError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, pattern);
    return true;
  };
}

function patch(path: string, offset: number, fn: (b: Buffer) => void): void {
  const f = readFileSync(path);
  const piece = f.subarray(offset);
  fn(piece);
  writeFileSync(path, f);
}

describe('block/qcow2 bad input', () => {
  const tmp = tempDir();
  let pristine: string;
  let n = 0;
  after(() => tmp.remove());

  before(() => {
    pristine = tmp.path('pristine.qcow2');
    Qcow2.create(pristine, { size: 4 << 20 });
    const img = openDisk(pristine);
    img.write(0, new Uint8Array(K64).fill(0x5a));
    img.close();
  });

  /** A fresh copy of the pristine image, damaged by fn. */
  function damaged(fn: (path: string) => void): string {
    const p = tmp.path(`bad${n++}.qcow2`);
    copyFileSync(pristine, p);
    fn(p);
    return p;
  }

  /** Opening fails as expected, read-only and read/write, and the file is unchanged. */
  function refusedAtOpen(path: string, code: BlockErrorCode, pattern: RegExp): void {
    const before = sha256(path);
    assert.throws(() => openDisk(path, { format: 'qcow2', readOnly: true }), isBlockError(code, pattern));
    assert.throws(() => openDisk(path, { format: 'qcow2' }), isBlockError(code, pattern));
    assert.equal(sha256(path), before, 'file unchanged');
  }

  it('the layout these tests patch is what we expect', () => {
    const f = readFileSync(pristine);
    assert.equal(Number(f.readBigUInt64BE(48)), L.rt);
    assert.equal(Number(f.readBigUInt64BE(40)), L.l1);
    assert.equal(Number(f.readBigUInt64BE(L.rt)), L.block);
    assert.equal(Number(f.readBigUInt64BE(L.l1) & 0xffffffffffffn), L.l2);
    assert.equal(Number(f.readBigUInt64BE(L.l2) & 0xffffffffffffn), L.data);
  });

  describe('broken headers', () => {
    it('bad magic', () =>
      refusedAtOpen(
        damaged((p) => patch(p, 0, (b) => b.write('QFI\0', 'latin1'))),
        'EFORMAT',
        /not a qcow2 image/,
      ));
    it('unknown version', () =>
      refusedAtOpen(
        damaged((p) => patch(p, 4, (b) => b.writeUInt32BE(4))),
        'EUNSUPPORTED',
        /version 4/,
      ));
    it('cluster_bits out of range', () => {
      refusedAtOpen(
        damaged((p) => patch(p, 20, (b) => b.writeUInt32BE(8))),
        'EFORMAT',
        /cluster_bits 8/,
      );
      refusedAtOpen(
        damaged((p) => patch(p, 20, (b) => b.writeUInt32BE(40))),
        'EFORMAT',
        /cluster_bits 40/,
      );
    });
    it('header_length not a multiple of 8', () =>
      refusedAtOpen(
        damaged((p) => patch(p, 100, (b) => b.writeUInt32BE(107))),
        'EFORMAT',
        /header_length 107/,
      ));
    it('unknown incompatible feature bit', () => {
      refusedAtOpen(
        damaged((p) => patch(p, 72, (b) => b.writeBigUInt64BE(1n << 5n))),
        'EUNSUPPORTED',
        /incompatible feature.*bit 5/,
      );
    });
    it('unknown incompatible feature named in the feature table', () => {
      // Our feature table's first entry names incompatible bit 0; rename it to bit 9 and set bit 9.
      const p = damaged((p) => {
        const f = readFileSync(p);
        const at = f.indexOf('dirty bit', 0, 'latin1') - 2;
        f[at + 1] = 9;
        f.write('frobnication\0', at + 2, 'latin1');
        f.writeBigUInt64BE(1n << 9n, 72);
        writeFileSync(p, f);
      });
      refusedAtOpen(p, 'EUNSUPPORTED', /bit 9 \("frobnication"\)/);
    });
    it('encryption', () =>
      refusedAtOpen(
        damaged((p) => patch(p, 32, (b) => b.writeUInt32BE(2))),
        'EUNSUPPORTED',
        /encrypted.*LUKS/,
      ));
    it('external data file and extended L2 entries', () => {
      refusedAtOpen(
        damaged((p) => patch(p, 72, (b) => b.writeBigUInt64BE(4n))),
        'EUNSUPPORTED',
        /external data file/,
      );
      refusedAtOpen(
        damaged((p) => patch(p, 72, (b) => b.writeBigUInt64BE(16n))),
        'EUNSUPPORTED',
        /extended L2/,
      );
    });
    it('refcount_order beyond 64-bit refcounts', () =>
      refusedAtOpen(
        damaged((p) => patch(p, 96, (b) => b.writeUInt32BE(7))),
        'EFORMAT',
        /refcount_order 7/,
      ));
    it('a header extension running past the header cluster', () => {
      refusedAtOpen(
        damaged((p) => patch(p, 112 + 4, (b) => b.writeUInt32BE(0x20000))),
        'ECORRUPT',
        /header extension .* overflows/,
      );
    });
    it('a backing file name outside the header cluster', () => {
      const p = damaged((p) =>
        patch(p, 8, (b) => {
          b.writeBigUInt64BE(BigInt(K64 - 4));
          b.writeUInt32BE(10, 8);
        }),
      );
      refusedAtOpen(p, 'ECORRUPT', /backing file name .* not within the header cluster/);
    });
    it('an L1 table too small for the virtual size', () =>
      refusedAtOpen(
        damaged((p) => patch(p, 24, (b) => b.writeBigUInt64BE(1n << 40n))),
        'ECORRUPT',
        /L1 table of 1 entries is too small/,
      ));
  });

  describe('the dirty and corrupt bits', () => {
    for (const [name, bit, code] of [
      ['corrupt', 2n, 'ECORRUPT'],
      ['dirty', 1n, 'EUNSUPPORTED'],
    ] as const) {
      it(`a ${name} image opens read-only but not read/write`, () => {
        const p = damaged((p) => patch(p, 72, (b) => b.writeBigUInt64BE(bit)));
        const before = sha256(p);
        assert.throws(() => openDisk(p), isBlockError(code, new RegExp(`marked ${name}`)));
        const ro = openDisk(p, { readOnly: true });
        const b = new Uint8Array(16);
        ro.read(0, b);
        assert.equal(b[0], 0x5a);
        ro.close();
        assert.equal(sha256(p), before);
      });
    }
  });

  describe('table and cluster offsets', () => {
    it('misaligned L1 table', () =>
      refusedAtOpen(
        damaged((p) => patch(p, 40, (b) => b.writeBigUInt64BE(BigInt(L.l1 + 8)))),
        'ECORRUPT',
        /L1 table offset .* not aligned/,
      ));
    it('L1 table beyond the file', () =>
      refusedAtOpen(
        damaged((p) => patch(p, 40, (b) => b.writeBigUInt64BE(0x100000n))),
        'ECORRUPT',
        /L1 table .* beyond the end of the file/,
      ));
    it('refcount table beyond the file', () =>
      refusedAtOpen(
        damaged((p) => patch(p, 48, (b) => b.writeBigUInt64BE(0x7770000n))),
        'ECORRUPT',
        /refcount table .* beyond the end/,
      ));
    it('refcount block beyond the file', () =>
      refusedAtOpen(
        damaged((p) => patch(p, L.rt, (b) => b.writeBigUInt64BE(0x990000n))),
        'ECORRUPT',
        /refcount table entry 0 .* beyond the end of the file/,
      ));
    it('snapshot table beyond the file', () => {
      const p = damaged((p) =>
        patch(p, 60, (b) => {
          b.writeUInt32BE(1);
          b.writeBigUInt64BE(0x500000n, 4);
        }),
      );
      refusedAtOpen(p, 'ECORRUPT', /snapshot table .* beyond the end/);
    });

    /** Opens fine; the read that meets the damage fails; nothing changes on disk. */
    function refusedAtRead(path: string, pattern: RegExp, elsewhere?: number): void {
      const before = sha256(path);
      const img = openDisk(path);
      assert.throws(() => img.read(0, new Uint8Array(512)), isBlockError('ECORRUPT', pattern));
      if (elsewhere !== undefined) img.read(elsewhere, new Uint8Array(512)); // the rest of the disk still reads
      img.close();
      assert.equal(sha256(path), before, 'file unchanged');
    }

    it('L2 table beyond the file', () =>
      refusedAtRead(
        damaged((p) => patch(p, L.l1, (b) => b.writeBigUInt64BE(0x8000000000f00000n))),
        /L2 table .* beyond the end of the file/,
      ));
    it('misaligned L2 table', () =>
      refusedAtRead(
        damaged((p) => patch(p, L.l1, (b) => b.writeBigUInt64BE(0x8000000000048000n))),
        /L2 table .* not cluster aligned/,
      ));
    it('L2 table on top of the refcount table', () =>
      refusedAtRead(
        damaged((p) => patch(p, L.l1, (b) => b.writeBigUInt64BE(BigInt(0x8000000000000000n) | BigInt(L.rt)))),
        /overlaps the refcount table/,
      ));
    it('data cluster beyond the file', () =>
      refusedAtRead(
        damaged((p) => patch(p, L.l2, (b) => b.writeBigUInt64BE(0x8000000000f00000n))),
        /beyond the end of the file .*truncated/,
        2 << 20,
      ));
    it('misaligned data cluster', () =>
      refusedAtRead(
        damaged((p) => patch(p, L.l2, (b) => b.writeBigUInt64BE(0x8000000000058000n))),
        /unaligned host offset/,
        2 << 20,
      ));

    it('a data cluster mapped onto the L1 table is never written over', () => {
      const p = damaged((p) => patch(p, L.l2, (b) => b.writeBigUInt64BE(0x8000000000000000n | BigInt(L.l1))));
      const before = sha256(p);
      const img = openDisk(p);
      assert.throws(
        () => img.write(100, new Uint8Array(10).fill(1)),
        isBlockError('ECORRUPT', /holds the L1 table; refusing to overwrite metadata/),
      );
      assert.throws(() => img.write(3 << 20, new Uint8Array(10)), isBlockError('ECORRUPT', /writes refused/));
      img.close();
      assert.equal(sha256(p), before, 'file unchanged');
    });
  });

  describe('refcount overflow', () => {
    it('a cluster referenced more often than 1-bit refcounts can count is a corruption to check', function () {
      // Two guest clusters cross-linked to one host cluster, in an image with 1-bit refcounts.
      const p = tmp.path('overflow.qcow2');
      Qcow2.create(p, { size: 4 << 20, refcountBits: 1 });
      const img = openDisk(p);
      img.write(0, new Uint8Array(2 * K64).fill(3));
      img.close();
      patch(p, L.l2 + 8, (b) => b.writeBigUInt64BE(BigInt(L.data))); // entry 1 -> cluster of entry 0, not "copied"
      const r = checkQcow2(p);
      assert.ok(r.corruptions > 0);
      assert.ok(
        r.messages.some((m) => /ERROR: overflow cluster offset=0x50000/.test(m)),
        r.messages.join('\n'),
      );
      if (hasQemuImg()) {
        const q = qemuImg('check', p);
        assert.equal(q.status, 2, 'qemu-img also calls it a corruption');
        assert.match(q.stderr, /ERROR: overflow cluster offset=0x50000/);
      }
    });
  });

  describe('backing chains', () => {
    it('a loop a -> b -> a, and an image backed by itself', () => {
      Qcow2.create(tmp.path('loop-a.qcow2'), { size: 1 << 20, backingFile: 'loop-b.qcow2', backingFormat: 'qcow2' });
      Qcow2.create(tmp.path('loop-b.qcow2'), { size: 1 << 20, backingFile: 'loop-a.qcow2', backingFormat: 'qcow2' });
      assert.throws(
        () => openDisk(tmp.path('loop-a.qcow2')),
        isBlockError('ELOOP', /backing file loop: .*loop-a.qcow2 -> .*loop-b.qcow2 -> .*loop-a.qcow2/),
      );
      Qcow2.create(tmp.path('self.qcow2'), { size: 1 << 20, backingFile: 'self.qcow2' });
      assert.throws(() => openDisk(tmp.path('self.qcow2')), isBlockError('ELOOP', /backing file loop/));
    });

    it('a chain deeper than the limit', () => {
      Qcow2.create(tmp.path('deep0.qcow2'), { size: 1 << 20 });
      for (let i = 1; i <= 20; i++)
        Qcow2.create(tmp.path(`deep${i}.qcow2`), {
          size: 1 << 20,
          backingFile: `deep${i - 1}.qcow2`,
          backingFormat: 'qcow2',
        });
      assert.throws(() => openDisk(tmp.path('deep20.qcow2')), isBlockError('ELOOP', /deeper than 16/));
      openDisk(tmp.path('deep20.qcow2'), { maxChainDepth: 20 }).close();
      openDisk(tmp.path('deep10.qcow2')).close();
    });

    it('a missing backing file', () => {
      Qcow2.create(tmp.path('orphan.qcow2'), { size: 1 << 20, backingFile: 'gone.qcow2' });
      assert.throws(
        () => openDisk(tmp.path('orphan.qcow2')),
        isBlockError('ENOENT', /gone.qcow2: backing file of .*orphan.qcow2 not found/),
      );
    });

    it('a backing file that is not in the format the overlay says', () => {
      writeFileSync(tmp.path('plain.raw'), Buffer.alloc(1 << 20));
      Qcow2.create(tmp.path('liar.qcow2'), { size: 1 << 20, backingFile: 'plain.raw', backingFormat: 'qcow2' });
      assert.throws(() => openDisk(tmp.path('liar.qcow2')), isBlockError('EFORMAT', /plain.raw: not a qcow2 image/));
    });
  });

  describe('truncated files', () => {
    it('shorter than a header', () => {
      const p = damaged((p) => truncateSync(p, 50));
      refusedAtOpen(p, 'EFORMAT', /too short/);
    });
    it('cut inside the refcount table', () =>
      refusedAtOpen(
        damaged((p) => truncateSync(p, L.rt + 100)),
        'ECORRUPT',
        /table .* beyond the end of the file/,
      ));
    it('cut inside the L1 table', () =>
      refusedAtOpen(
        damaged((p) => truncateSync(p, L.l1 + 4)),
        'ECORRUPT',
        /L1 table .* beyond the end of the file/,
      ));
    it('cut before the data: the read finds it', () => {
      const p = damaged((p) => truncateSync(p, L.data));
      const img = openDisk(p, { readOnly: true });
      assert.throws(
        () => img.read(0, new Uint8Array(512)),
        isBlockError('ECORRUPT', /beyond the end of the file .*truncated/),
      );
      img.close();
    });
  });

  it('random damage to the metadata only ever yields BlockErrors', function () {
    this.timeout(120_000);
    const p0 = tmp.path('fuzz0.qcow2');
    Qcow2.create(p0, { size: 1 << 20, clusterBits: 12 });
    const img = openDisk(p0);
    img.write(0, new Rng(1).bytes(300_000));
    img.close();
    fuzz(readFileSync(p0), 400, 6 * 4096, 99);
  });

  it('random damage to a qemu-made image with compressed clusters and a snapshot only ever yields BlockErrors', function () {
    this.timeout(120_000);
    if (!hasQemuImg()) this.skip();
    const raw = tmp.path('fuzz1.raw');
    writeFileSync(raw, Buffer.concat([new Rng(2).bytes(200_000), Buffer.alloc(300_000), Buffer.alloc(548_576, 7)]));
    const p1 = tmp.path('fuzz1.qcow2');
    assert.equal(qemuImg('convert', '-c', '-f', 'raw', '-O', 'qcow2', '-o', 'cluster_size=4096', raw, p1).status, 0);
    assert.equal(qemuImg('snapshot', '-c', 'snap', p1).status, 0);
    const good = readFileSync(p1);
    fuzz(good, 400, good.length, 98);
  });

  function fuzz(good: Buffer, rounds: number, hotBytes: number, seed: number): void {
    const rng = new Rng(seed);
    const p = tmp.path(`fuzz-${seed}.qcow2`);
    let refused = 0;
    for (let i = 0; i < rounds; i++) {
      const f = Buffer.from(good);
      const flips = 1 + rng.int(4);
      for (let j = 0; j < flips; j++) {
        // Mostly the header and the first metadata clusters, sometimes anywhere.
        const at = rng.int(4) === 0 ? rng.int(f.length) : rng.int(Math.min(hotBytes, f.length));
        f[at] = rng.int(3) === 0 ? 0xff : f[at]! ^ (1 << rng.int(8));
      }
      writeFileSync(p, f);
      try {
        const d = openDisk(p, { format: 'qcow2' });
        try {
          const b = new Uint8Array(d.sizeBytes);
          d.read(0, b);
          d.write(rng.int(d.sizeBytes - 10_000), rng.bytes(10_000));
          d.writeZeroes!(0, 8192, true);
          d.discard!(65536, 65536);
          d.flush();
        } finally {
          d.close();
        }
      } catch (e) {
        if (!(e instanceof BlockError)) throw new Error(`iteration ${i}: ${String((e as Error).stack)}`);
        refused++;
      }
    }
    assert.ok(refused > rounds / 20, `only ${refused} of ${rounds} damaged images were refused`);
  }
});
