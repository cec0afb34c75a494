// Interoperability with the real qemu-img, both ways: images QEMU made read identically in
// ours; images we wrote pass `qemu-img check` and `qemu-img compare` against a reference.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { Qcow2, openDisk, checkQcow2 } from '../../src/block/index.js';
import { Mirror } from './mirror.js';
import { Rng, patterned, qemuImg, qemuImgOk, requireQemuImg, sha256, tempDir } from '../../testing/block.js';

const MiB = 1 << 20;

/** qemu-img check says the image is clean, and so does ours. */
function assertClean(path: string): void {
  const r = qemuImg('check', path);
  assert.equal(r.status, 0, `qemu-img check ${path}:\n${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /No errors were found on the image\./);
  const ours = checkQcow2(path);
  assert.deepEqual([ours.corruptions, ours.leaks, ours.messages], [0, 0, []]);
}

/** qemu-img reads the image exactly as the raw reference file. */
function assertSameAs(refRaw: string, image: string): void {
  const r = qemuImg('compare', '-f', 'raw', '-F', 'qcow2', refRaw, image);
  assert.equal(r.status, 0, `qemu-img compare ${refRaw} ${image}: ${r.stdout}${r.stderr}`);
}

function readAll(path: string): Uint8Array {
  const d = openDisk(path, { readOnly: true });
  try {
    const b = new Uint8Array(d.sizeBytes);
    d.read(0, b);
    return b;
  } finally {
    d.close();
  }
}

function assertBytesEqual(a: Uint8Array, b: Uint8Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  if (Buffer.compare(a, b) !== 0) assert.fail(`${what}: first difference at byte ${a.findIndex((x, i) => x !== b[i])}`);
}

describe('block/qcow2 interop with qemu-img', function () {
  this.timeout(300_000);
  const tmp = tempDir();
  before(function () {
    requireQemuImg(this);
  });
  after(() => tmp.remove());

  describe('images made by qemu-img read identically', () => {
    const variants: [string, string[]][] = [
      ['64 KiB clusters', []],
      ['512 B clusters', ['-o', 'cluster_size=512']],
      ['4 KiB clusters, 1-bit refcounts', ['-o', 'cluster_size=4096,refcount_bits=1']],
      ['2 MiB clusters, 64-bit refcounts', ['-o', 'cluster_size=2M,refcount_bits=64']],
      ['version 2 (compat=0.10)', ['-o', 'compat=0.10']],
      ['compressed clusters', ['-c']],
      ['compressed, 4 KiB clusters', ['-c', '-o', 'cluster_size=4096']],
    ];
    variants.forEach(([name, opts], i) => {
      it(name, () => {
        const raw = tmp.path(`src${i}.raw`);
        const img = tmp.path(`src${i}.qcow2`);
        const data = patterned(12 * MiB + 3 * 512, 24 * 1024, new Rng(100 + i));
        writeFileSync(raw, data);
        qemuImgOk('convert', '-f', 'raw', '-O', 'qcow2', ...opts, raw, img);
        assertBytesEqual(readAll(img), data, name);
      });
    });

    it('an empty qcow2 overlay made by qemu-img reads as its qcow2 base, through a raw base below', () => {
      const baseRaw = tmp.path('chain-base.raw');
      const data = patterned(8 * MiB, 64 * 1024, new Rng(7));
      writeFileSync(baseRaw, data);
      qemuImgOk('create', '-f', 'qcow2', '-b', 'chain-base.raw', '-F', 'raw', tmp.path('chain-mid.qcow2'));
      qemuImgOk('create', '-f', 'qcow2', '-b', 'chain-mid.qcow2', '-F', 'qcow2', tmp.path('chain-top.qcow2'));
      assertBytesEqual(readAll(tmp.path('chain-top.qcow2')), data, 'top of chain');
    });

    it('a qemu-written overlay with data and zero clusters over a base reads as its source', () => {
      const base = patterned(6 * MiB, 64 * 1024, new Rng(8), 0.9);
      writeFileSync(tmp.path('zb.raw'), base);
      qemuImgOk('convert', '-f', 'raw', '-O', 'qcow2', tmp.path('zb.raw'), tmp.path('zb.qcow2'));
      // The new content zeroes some of what the base has: qemu-img writes zero clusters there.
      const top = base.slice();
      top.fill(0, MiB, 2 * MiB);
      top.set(new Rng(9).bytes(300_000), 4 * MiB + 1234);
      writeFileSync(tmp.path('zt.raw'), top);
      qemuImgOk(
        'convert',
        '-f',
        'raw',
        '-O',
        'qcow2',
        '-B',
        'zb.qcow2',
        '-F',
        'qcow2',
        tmp.path('zt.raw'),
        tmp.path('zt.qcow2'),
      );
      const img = openDisk(tmp.path('zt.qcow2'), { readOnly: true }) as Qcow2;
      assert.equal(img.clusterKind(MiB), 'zero', 'qemu wrote a zero cluster');
      img.close();
      assertBytesEqual(readAll(tmp.path('zt.qcow2')), top, 'overlay');
    });
  });

  describe('images we write pass qemu-img check and compare', () => {
    const cases: {
      name: string;
      clusterBits?: number;
      refcountBits?: number;
      size: number;
      ops: number;
      maxLen: number;
    }[] = [
      { name: 'default 64 KiB clusters', size: 32 * MiB, ops: 300, maxLen: 200_000 },
      { name: '512 B clusters', clusterBits: 9, size: 4 * MiB, ops: 300, maxLen: 10_000 },
      {
        name: '4 KiB clusters, 1-bit refcounts',
        clusterBits: 12,
        refcountBits: 1,
        size: 8 * MiB,
        ops: 200,
        maxLen: 40_000,
      },
      {
        name: '2 MiB clusters, 64-bit refcounts',
        clusterBits: 21,
        refcountBits: 64,
        size: 40 * MiB,
        ops: 60,
        maxLen: 3 * MiB,
      },
      {
        name: 'odd size, not a multiple of the cluster size',
        clusterBits: 16,
        size: 5 * MiB + 3 * 512,
        ops: 200,
        maxLen: 100_000,
      },
    ];
    cases.forEach((c, i) => {
      it(c.name, () => {
        const p = tmp.path(`ours${i}.qcow2`);
        Qcow2.create(p, { size: c.size, clusterBits: c.clusterBits, refcountBits: c.refcountBits });
        const m = new Mirror(openDisk(p));
        m.scribble(new Rng(200 + i), c.ops, c.maxLen, { zeroes: true, discards: true });
        m.verify();
        m.disk.close();
        m.saveReference(tmp.path(`ours${i}.raw`));
        assertClean(p);
        assertSameAs(tmp.path(`ours${i}.raw`), p);
        assertBytesEqual(readAll(p), m.ref, 'reopened');
      });
    });

    it('grows past the first refcount block and the first refcount table cluster', () => {
      // 512-byte clusters with 64-bit refcounts: a block covers 64 clusters (32 KiB) and the
      // first table cluster 64 blocks (2 MiB), so 6 MiB of data needs both to grow.
      const p = tmp.path('grow.qcow2');
      Qcow2.create(p, { size: 8 * MiB, clusterBits: 9, refcountBits: 64 });
      const tableBefore = Number(readFileSync(p).readBigUInt64BE(48));
      const m = new Mirror(openDisk(p));
      const rng = new Rng(300);
      for (let off = 0; off < 6 * MiB; off += 64 * 1024) m.write(off, rng.bytes(64 * 1024));
      m.scribble(rng, 100, 20_000, { zeroes: true, discards: true });
      m.disk.flush();
      m.verify();
      m.disk.close();
      const h = readFileSync(p);
      assert.notEqual(Number(h.readBigUInt64BE(48)), tableBefore, 'the refcount table moved');
      assert.ok(h.readUInt32BE(56) > 1, 'the refcount table grew');
      m.saveReference(tmp.path('grow.raw'));
      assertClean(p);
      assertSameAs(tmp.path('grow.raw'), p);
    });

    it('writes through an overlay with partial clusters over the base; the base is unchanged byte for byte', () => {
      const baseData = patterned(16 * MiB, 48 * 1024, new Rng(400), 0.8);
      writeFileSync(tmp.path('ob.raw'), baseData);
      qemuImgOk('convert', '-f', 'raw', '-O', 'qcow2', tmp.path('ob.raw'), tmp.path('ob.qcow2'));
      const baseHash = sha256(tmp.path('ob.qcow2'));
      Qcow2.create(tmp.path('ov.qcow2'), { size: 16 * MiB, backingFile: 'ob.qcow2', backingFormat: 'qcow2' });
      const m = new Mirror(openDisk(tmp.path('ov.qcow2')), baseData);
      m.verify();
      m.scribble(new Rng(401), 400, 150_000, { zeroes: true, discards: true });
      m.verify();
      m.disk.close();
      assert.equal(sha256(tmp.path('ob.qcow2')), baseHash, 'base image untouched');
      m.saveReference(tmp.path('ov.raw'));
      assertClean(tmp.path('ov.qcow2'));
      assertSameAs(tmp.path('ov.raw'), tmp.path('ov.qcow2'));
      assertClean(tmp.path('ob.qcow2'));
    });

    it('writes through an overlay over a raw base shorter than the overlay', () => {
      const baseData = patterned(3 * MiB + 512, 16 * 1024, new Rng(500), 0.9);
      writeFileSync(tmp.path('rb.raw'), baseData);
      const baseHash = sha256(tmp.path('rb.raw'));
      Qcow2.create(tmp.path('rov.qcow2'), {
        size: 5 * MiB,
        clusterBits: 15,
        backingFile: 'rb.raw',
        backingFormat: 'raw',
      });
      const m = new Mirror(openDisk(tmp.path('rov.qcow2')), baseData);
      m.verify();
      m.scribble(new Rng(501), 200, 100_000, { zeroes: true, discards: true });
      m.verify();
      m.disk.close();
      assert.equal(sha256(tmp.path('rb.raw')), baseHash);
      m.saveReference(tmp.path('rov.raw'));
      assertClean(tmp.path('rov.qcow2'));
      assertSameAs(tmp.path('rov.raw'), tmp.path('rov.qcow2'));
    });

    it('writes over compressed clusters and a version 2 image made by qemu-img', () => {
      for (const [name, opts] of [
        ['cmp', ['-c', '-o', 'cluster_size=4096']],
        ['v2', ['-o', 'compat=0.10']],
      ] as const) {
        const data = patterned(4 * MiB, 16 * 1024, new Rng(600), 0.7);
        writeFileSync(tmp.path(`${name}.raw`), data);
        qemuImgOk('convert', '-f', 'raw', '-O', 'qcow2', ...opts, tmp.path(`${name}.raw`), tmp.path(`${name}.qcow2`));
        const m = new Mirror(openDisk(tmp.path(`${name}.qcow2`)), data);
        m.scribble(new Rng(601), 200, 30_000, { zeroes: true, discards: true });
        m.verify();
        m.disk.close();
        m.saveReference(tmp.path(`${name}-ref.raw`));
        assertClean(tmp.path(`${name}.qcow2`));
        assertSameAs(tmp.path(`${name}-ref.raw`), tmp.path(`${name}.qcow2`));
      }
    });

    it('writeZeroes sets zero clusters, keeping or dropping the allocation as asked', () => {
      const p = tmp.path('zc.qcow2');
      Qcow2.create(p, { size: 4 * MiB });
      const img = openDisk(p) as Qcow2;
      img.write(0, new Uint8Array(4 * MiB).fill(7));
      img.writeZeroes(0, 64 * 1024, false);
      img.writeZeroes(64 * 1024, 64 * 1024, true);
      img.writeZeroes(3 * 64 * 1024 + 100, 1000, true); // partial: written as data
      assert.equal(img.clusterKind(0), 'zero');
      assert.equal(img.clusterKind(64 * 1024), 'zero');
      assert.equal(img.clusterKind(3 * 64 * 1024), 'normal');
      const b = new Uint8Array(4 * 64 * 1024);
      img.read(0, b);
      assert.ok(b.subarray(0, 128 * 1024).every((x) => x === 0));
      assert.ok(b.subarray(3 * 64 * 1024 + 100, 3 * 64 * 1024 + 1100).every((x) => x === 0));
      assert.equal(b[3 * 64 * 1024 + 99], 7);
      img.close();
      assertClean(p);
      const map = JSON.parse(qemuImgOk('map', '--output=json', p)) as {
        start: number;
        zero: boolean;
        data: boolean;
        offset?: number;
      }[];
      const first = map.find((e) => e.start === 0)!;
      assert.equal(first.zero, true);
    });

    it('leaves internal snapshots intact: writes copy on write, and the snapshot still applies', () => {
      const data = patterned(4 * MiB, 32 * 1024, new Rng(700), 0.8);
      writeFileSync(tmp.path('sn.raw'), data);
      qemuImgOk('convert', '-f', 'raw', '-O', 'qcow2', tmp.path('sn.raw'), tmp.path('sn.qcow2'));
      qemuImgOk('snapshot', '-c', 'before', tmp.path('sn.qcow2'));
      const m = new Mirror(openDisk(tmp.path('sn.qcow2')), data);
      m.scribble(new Rng(701), 150, 100_000, { zeroes: true, discards: true });
      m.disk.close();
      m.saveReference(tmp.path('sn-now.raw'));
      assertClean(tmp.path('sn.qcow2'));
      assertSameAs(tmp.path('sn-now.raw'), tmp.path('sn.qcow2'));
      assert.match(qemuImgOk('snapshot', '-l', tmp.path('sn.qcow2')), /before/);
      qemuImgOk('snapshot', '-a', 'before', tmp.path('sn.qcow2'));
      assertSameAs(tmp.path('sn.raw'), tmp.path('sn.qcow2'));
      assertClean(tmp.path('sn.qcow2'));
    });

    it('an image with a persistent bitmap: we clear the autoclear bit as the spec asks, and agree with qemu-img on the result', () => {
      const p = tmp.path('bitmap.qcow2');
      qemuImgOk('create', '-q', '-f', 'qcow2', p, '16M');
      qemuImgOk('bitmap', '--add', p, 'b0');
      assert.equal(checkQcow2(p).leaks, 0, 'bitmap clusters are counted while the bitmaps are consistent');
      const m = new Mirror(openDisk(p));
      m.write(1000, new Rng(900).bytes(100_000));
      m.disk.close();
      assert.equal(readFileSync(p).readBigUInt64BE(88), 0n, 'autoclear features cleared');
      // The bitmap is now stale, so its clusters are leaks to both checkers; nothing is corrupt.
      const q = qemuImg('check', p);
      assert.equal(q.status, 3, q.stdout + q.stderr);
      const ours = checkQcow2(p);
      assert.equal(ours.corruptions, 0);
      assert.deepEqual(ours.messages, q.stderr.match(/Leaked cluster .*/g));
      m.saveReference(tmp.path('bitmap.raw'));
      assertSameAs(tmp.path('bitmap.raw'), p);
    });

    it('keeps the image consistent across many flushes with a small metadata cache', () => {
      const p = tmp.path('cache.qcow2');
      Qcow2.create(p, { size: 64 * MiB, clusterBits: 12 });
      // A 16-table L2 cache over 4 KiB clusters covers 32 MiB: eviction with dirty tables is routine.
      const img = Qcow2.open(p, { l2CacheBytes: 1 });
      const m = new Mirror(img);
      const rng = new Rng(800);
      for (let i = 0; i < 20; i++) {
        m.scribble(rng, 40, 20_000, { zeroes: true, discards: true });
        if (i % 3 === 0) img.flush();
      }
      m.verify();
      img.close();
      m.saveReference(tmp.path('cache.raw'));
      assertClean(p);
      assertSameAs(tmp.path('cache.raw'), p);
    });
  });
});
