// Block migration support: the extents an image's top layer holds, and write tracking that sees
// every change virtio-blk makes (writes, write-zeroes, discards). The copy test replays what a
// migration does (extents, then the blocks dirtied meanwhile) and checks with qemu-img compare.
import assert from 'node:assert/strict';
import { allocatedExtents, DirtyLog, openDisk, Qcow2, RawBackend, type BlockBackend } from '../../src/block/index.js';
import { BlkFeature, BlkStatus, VirtioBlk } from '../../src/devices/virtio/blk/blk.js';
import { bit } from '../../src/devices/virtio/constants.js';
import { BlkReq, blkRequest, dwzSegment, plug } from '../devices/virtio/setup.js';
import { hasQemuImg, qemuImg, Rng, tempDir } from '../../testing/block.js';

const MiB = 1 << 20;
const BLOCK = 64 * 1024;

describe('block/dirty', () => {
  const tmp = tempDir();
  after(() => tmp.remove());

  /** A raw base with data everywhere, and an empty qcow2 overlay over it. */
  function overlay(name: string, size = 4 * MiB, clusterBits = 16): { base: string; top: string } {
    const base = tmp.path(`${name}-base.raw`);
    RawBackend.create(base, size);
    const b = RawBackend.open(base);
    b.write(0, new Rng(7).bytes(size));
    b.close();
    const top = tmp.path(`${name}.qcow2`);
    Qcow2.create(top, { size, clusterBits, backingFile: base, backingFormat: 'raw' });
    return { base, top };
  }

  describe('DirtyLog', () => {
    it('marks every block a range touches, fetches ascending and clears, costs nothing while off', () => {
      const log = new DirtyLog(10 * BLOCK + 100);
      log.note(0, BLOCK); // off: ignored
      assert.equal(log.active, false);
      log.start(BLOCK);
      log.note(5 * BLOCK - 1, 2); // straddles blocks 4 and 5
      log.note(10 * BLOCK, 100); // the short last block
      log.note(0, 1);
      log.note(0, 0); // empty: nothing
      log.note(4 * BLOCK, 1); // already marked
      assert.deepEqual(log.fetch(), [0, 4, 5, 10]);
      assert.deepEqual(log.fetch(), []);
      log.note(3 * BLOCK, 1);
      assert.deepEqual(log.fetch(), [3]);
      assert.throws(() => log.start(BLOCK), /already in use/);
      log.stop();
      log.note(0, BLOCK);
      log.start(BLOCK);
      assert.deepEqual(log.fetch(), [], 'a restart forgets what was marked before');
    });
  });

  describe('allocatedExtents', () => {
    it('lists a qcow2 overlay’s own clusters (data and zero), merged, never the backing file’s', () => {
      const { top } = overlay('ext');
      const d = openDisk(top);
      assert.deepEqual(allocatedExtents(d), []);
      d.write(BLOCK + 10, new Uint8Array([1])); // cluster 1
      d.write(2 * BLOCK, new Uint8Array(BLOCK).fill(2)); // cluster 2: merges with 1
      d.writeZeroes!(5 * BLOCK, 2 * BLOCK, true); // clusters 5, 6: zero clusters over the backing file
      d.write(20 * BLOCK, new Uint8Array(1)); // cluster 20
      assert.deepEqual(allocatedExtents(d), [
        { offset: BLOCK, length: 2 * BLOCK, zero: false },
        { offset: 5 * BLOCK, length: 2 * BLOCK, zero: true },
        { offset: 20 * BLOCK, length: BLOCK, zero: false },
      ]);
      d.close();
    });

    it('clips the last cluster to the disk size; a raw disk holds all of itself', () => {
      const p = tmp.path('odd.qcow2');
      Qcow2.create(p, { size: 3 * BLOCK + 512 });
      const d = openDisk(p);
      d.write(3 * BLOCK, new Uint8Array(512).fill(9));
      assert.deepEqual(allocatedExtents(d), [{ offset: 3 * BLOCK, length: 512, zero: false }]);
      d.close();
      const r = tmp.path('whole.raw');
      RawBackend.create(r, MiB);
      const raw = openDisk(r);
      assert.deepEqual(allocatedExtents(raw), [{ offset: 0, length: MiB, zero: false }]);
      raw.close();
    });
  });

  for (const fmt of ['qcow2', 'raw'] as const) {
    it(`catches virtio-blk writes, write-zeroes and discards on a ${fmt} disk`, () => {
      const path = fmt === 'qcow2' ? overlay('virtio').top : tmp.path('virtio.raw');
      if (fmt === 'raw') RawBackend.create(path, 4 * MiB);
      const disk = openDisk(path);
      const t = plug(new VirtioBlk(disk), 1 << 21);
      t.drv.init(bit(BlkFeature.DISCARD) | bit(BlkFeature.WRITE_ZEROES));
      const vq = t.drv.setupQueue(0);
      t.drv.driverOk();
      const sectors = BLOCK / 512;
      disk.dirtyLog!.start(BLOCK);
      assert.equal(
        blkRequest(vq, BlkReq.OUT, 1 * sectors + 3, { out: new Uint8Array(1024).fill(1) }).status,
        BlkStatus.OK,
      );
      assert.equal(
        blkRequest(vq, BlkReq.WRITE_ZEROES, 0, { out: dwzSegment(7 * sectors, sectors + 1, 1) }).status,
        BlkStatus.OK,
      );
      assert.equal(blkRequest(vq, BlkReq.DISCARD, 0, { out: dwzSegment(30 * sectors, sectors) }).status, BlkStatus.OK);
      assert.equal(blkRequest(vq, BlkReq.IN, 50 * sectors, { inLen: 512 }).status, BlkStatus.OK); // reads are not changes
      assert.deepEqual(disk.dirtyLog!.fetch(), [1, 7, 8, 30]);
      disk.dirtyLog!.stop();
      disk.close();
    });
  }

  it('extents, then the blocks dirtied meanwhile, rebuild the overlay over the same base (qemu-img compare agrees)', function () {
    const size = 4 * MiB;
    const src = overlay('copy-src', size, 12); // 4 KiB clusters: the log's blocks span several
    const dstTop = tmp.path('copy-dst.qcow2');
    Qcow2.create(dstTop, { size, backingFile: src.base, backingFormat: 'raw' });
    const s = openDisk(src.top);
    const d = openDisk(dstTop);
    const rng = new Rng(3);
    const scribble = (n: number): void => {
      for (let i = 0; i < n; i++) {
        const off = rng.int(size - 9000);
        if (i % 5 === 0) s.writeZeroes!(off - (off % 4096), 8192, i % 2 === 0);
        else if (i % 7 === 0) s.discard!(off - (off % 4096), 4096);
        else s.write(off, rng.bytes(1 + rng.int(9000)));
      }
    };
    scribble(40); // before the migration
    s.dirtyLog!.start(BLOCK);
    const copy = (disk: BlockBackend, offset: number, length: number): void => {
      const buf = new Uint8Array(length);
      disk.read(offset, buf);
      if (buf.every((b) => b === 0)) d.writeZeroes!(offset, length, true);
      else d.write(offset, buf);
    };
    for (const e of allocatedExtents(s)) {
      for (let off = e.offset; off < e.offset + e.length; off += BLOCK) {
        copy(s, off, Math.min(BLOCK, e.offset + e.length - off));
        if (off % (4 * BLOCK) === 0) scribble(3); // the guest keeps writing meanwhile
      }
    }
    for (let round = 0; round < 3; round++) {
      if (round < 2) scribble(10);
      for (const b of s.dirtyLog!.fetch()) copy(s, b * BLOCK, Math.min(BLOCK, size - b * BLOCK));
    }
    s.dirtyLog!.stop();
    const a = new Uint8Array(size);
    const b = new Uint8Array(size);
    s.read(0, a);
    d.read(0, b);
    assert.ok(Buffer.from(a).equals(Buffer.from(b)), 'the destination overlay reads as the source');
    s.close();
    d.close();
    if (hasQemuImg()) {
      const r = qemuImg('compare', '-f', 'qcow2', '-F', 'qcow2', src.top, dstTop);
      assert.equal(r.status, 0, r.stdout + r.stderr);
    } else this.skip();
  });
});
