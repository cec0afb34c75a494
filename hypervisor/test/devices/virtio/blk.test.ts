import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockError } from '../../../src/block/backend.js';
import { RawBackend } from '../../../src/block/raw.js';
import { PAGE_SIZE } from '../../../src/bus/ram.js';
import {
  BLK_MAX_ZERO_SECTORS,
  BLK_SEG_MAX,
  BLK_SIZE_MAX,
  BlkConfig,
  BlkFeature,
  BlkStatus,
  VirtioBlk,
} from '../../../src/devices/virtio/blk/blk.js';
import { bit, DeviceId, Feature, MmioReg, Status } from '../../../src/devices/virtio/constants.js';
import { MemBackend, type MemBackendOptions } from '../../../testing/mem-backend.js';
import { BlkReq, blkRequest, dwzSegment, pattern, plug } from './setup.js';

const DISK = 1 << 20; // 2048 sectors
const ALL_BLK =
  bit(BlkFeature.SIZE_MAX) |
  bit(BlkFeature.SEG_MAX) |
  bit(BlkFeature.RO) |
  bit(BlkFeature.BLK_SIZE) |
  bit(BlkFeature.FLUSH) |
  bit(BlkFeature.DISCARD) |
  bit(BlkFeature.WRITE_ZEROES);

function blk(opts: MemBackendOptions & { size?: number; drop?: bigint; ram?: number } = {}) {
  const backend = new MemBackend(opts.size ?? DISK, opts);
  const dev = new VirtioBlk(backend);
  const t = plug(dev, opts.ram ?? 1 << 21);
  t.drv.init(ALL_BLK, { drop: opts.drop ?? 0n });
  const vq = t.drv.setupQueue(0);
  t.drv.driverOk();
  return { ...t, backend, dev, vq };
}

const cfg32 = (t: ReturnType<typeof blk>, off: number) => t.mmio.read(MmioReg.CONFIG + off, 4);

describe('virtio-blk', () => {
  it('is device 2 with capacity, size_max, seg_max and blk_size in its config', () => {
    const t = blk({ size: DISK + 100 }); // a partial last sector is not visible
    assert.equal(t.drv.r(MmioReg.DEVICE_ID), DeviceId.BLOCK);
    assert.equal(cfg32(t, BlkConfig.CAPACITY), 2048);
    assert.equal(cfg32(t, BlkConfig.CAPACITY + 4), 0);
    assert.equal(cfg32(t, BlkConfig.SIZE_MAX), BLK_SIZE_MAX);
    assert.equal(cfg32(t, BlkConfig.SEG_MAX), BLK_SEG_MAX);
    assert.equal(cfg32(t, BlkConfig.BLK_SIZE), 512);
    assert.equal(cfg32(t, BlkConfig.MAX_DISCARD_SECTORS), BLK_MAX_ZERO_SECTORS);
    assert.equal(cfg32(t, BlkConfig.MAX_WRITE_ZEROES_SECTORS), BLK_MAX_ZERO_SECTORS);
    assert.equal(t.mmio.read(MmioReg.CONFIG + BlkConfig.WRITE_ZEROES_MAY_UNMAP, 1), 1);
    const f = t.drv.features;
    for (const b of [
      BlkFeature.SIZE_MAX,
      BlkFeature.SEG_MAX,
      BlkFeature.BLK_SIZE,
      BlkFeature.FLUSH,
      BlkFeature.DISCARD,
      BlkFeature.WRITE_ZEROES,
    ]) {
      assert.ok(f & bit(b), `feature ${b}`);
    }
    assert.ok(!(f & bit(BlkFeature.RO)));
  });

  it('reads 64-bit capacities beyond 2^32 sectors through the high word', () => {
    const backend = new MemBackend(4096);
    Object.defineProperty(backend, 'sizeBytes', { value: 2 ** 33 * 512 + 1024 });
    const { mmio } = plug(new VirtioBlk(backend));
    assert.equal(mmio.read(MmioReg.CONFIG, 4), 2);
    assert.equal(mmio.read(MmioReg.CONFIG + 4, 4), 2);
  });

  for (const indirect of [true, false]) {
    it(`writes and reads back across several segments (${indirect ? 'indirect' : 'direct'} descriptors)`, () => {
      const t = blk({ drop: indirect ? 0n : bit(Feature.INDIRECT_DESC) });
      assert.equal(t.vq.useIndirect, indirect);
      const data = pattern(8192, 3);
      const w = blkRequest(t.vq, BlkReq.OUT, 10, { out: data, segments: 3 });
      assert.equal(w.status, BlkStatus.OK);
      assert.equal(w.usedLen, 1);
      assert.deepEqual(t.backend.data.subarray(10 * 512, 10 * 512 + 8192), data);
      const r = blkRequest(t.vq, BlkReq.IN, 10, { inLen: 8192, segments: 5 });
      assert.equal(r.status, BlkStatus.OK);
      assert.equal(r.usedLen, 8193);
      assert.deepEqual(r.data, data);
      assert.equal(t.vq.numFree, t.vq.num, 'every descriptor came back');
    });
  }

  it('handles a header, data and status packed in one descriptor each way', () => {
    const t = blk({ drop: bit(Feature.INDIRECT_DESC) });
    t.backend.data.set(pattern(512, 9), 512 * 7);
    const mem = t.mem;
    const hdr = mem.alloc(16);
    mem.setU32(hdr, BlkReq.IN);
    mem.setU32(hdr + 8, 7);
    const inBuf = mem.alloc(513); // data + status in one writable descriptor
    t.vq.add([{ addr: hdr, len: 16 }], [{ addr: inBuf, len: 513 }]);
    t.vq.kick();
    assert.equal(t.vq.getBuf()?.len, 513);
    assert.deepEqual(mem.read(inBuf, 512), pattern(512, 9));
    assert.equal(mem.read(inBuf + 512, 1)[0], BlkStatus.OK);
  });

  it('flushes the backend on FLUSH', () => {
    const t = blk();
    assert.equal(blkRequest(t.vq, BlkReq.FLUSH, 0).status, BlkStatus.OK);
    assert.equal(t.backend.flushes, 1);
  });

  it('returns the 20-byte serial on GET_ID, NUL-padded', () => {
    const t = blk({ id: 'disk-0001' });
    const r = blkRequest(t.vq, BlkReq.GET_ID, 0, { inLen: 20 });
    assert.equal(r.status, BlkStatus.OK);
    assert.equal(r.usedLen, 21);
    const want = new Uint8Array(20);
    want.set(new TextEncoder().encode('disk-0001'));
    assert.deepEqual(r.data, want);
    const full = blk({ id: 'ABCDEFGHIJKLMNOPQRST' });
    assert.equal(
      new TextDecoder().decode(blkRequest(full.vq, BlkReq.GET_ID, 0, { inLen: 20 }).data),
      'ABCDEFGHIJKLMNOPQRST',
    );
  });

  it('discards and writes zeroes through the backend, one or several segments', () => {
    const t = blk();
    t.backend.data.fill(0xaa);
    const d = blkRequest(t.vq, BlkReq.DISCARD, 0, { out: Buffer.concat([dwzSegment(8, 16), dwzSegment(100, 8)]) });
    assert.equal(d.status, BlkStatus.OK);
    assert.deepEqual(t.backend.discards, [
      [8 * 512, 16 * 512],
      [100 * 512, 8 * 512],
    ]);
    const z = blkRequest(t.vq, BlkReq.WRITE_ZEROES, 0, { out: dwzSegment(4, 2, 1) });
    assert.equal(z.status, BlkStatus.OK);
    assert.deepEqual(t.backend.zeroes, [[4 * 512, 1024, true]]);
    assert.ok(t.backend.data.subarray(4 * 512, 6 * 512).every((b) => b === 0));
    assert.equal(t.backend.data[6 * 512], 0xaa);
    blkRequest(t.vq, BlkReq.WRITE_ZEROES, 0, { out: dwzSegment(20, 1, 0) });
    assert.equal(t.backend.zeroes[1]![2], false, 'no UNMAP flag: may not unmap');
  });

  it('answers UNSUPP for bad discard flags, unknown types and missing backend support', () => {
    const t = blk();
    assert.equal(
      blkRequest(t.vq, BlkReq.DISCARD, 0, { out: dwzSegment(0, 1, 1) }).status,
      BlkStatus.UNSUPP,
      'UNMAP on discard',
    );
    assert.equal(
      blkRequest(t.vq, BlkReq.WRITE_ZEROES, 0, { out: dwzSegment(0, 1, 2) }).status,
      BlkStatus.UNSUPP,
      'unknown flag',
    );
    assert.equal(blkRequest(t.vq, 10 /* GET_LIFETIME */, 0, { inLen: 8 }).status, BlkStatus.UNSUPP);
    assert.equal(blkRequest(t.vq, 99, 0).status, BlkStatus.UNSUPP);
    assert.equal(t.backend.discards.length + t.backend.zeroes.length, 0);

    const bare = blk({ noDiscard: true, noWriteZeroes: true });
    assert.ok(!(bare.drv.deviceFeatures() & (bit(BlkFeature.DISCARD) | bit(BlkFeature.WRITE_ZEROES))));
    assert.equal(cfg32(bare, BlkConfig.MAX_DISCARD_SECTORS), 0);
    assert.equal(blkRequest(bare.vq, BlkReq.DISCARD, 0, { out: dwzSegment(0, 1) }).status, BlkStatus.UNSUPP);
    assert.equal(blkRequest(bare.vq, BlkReq.WRITE_ZEROES, 0, { out: dwzSegment(0, 1) }).status, BlkStatus.UNSUPP);
  });

  it('answers IOERR for discard / write-zeroes outside the disk or over the limits, touching nothing', () => {
    const t = blk();
    const st = (out: Uint8Array) => blkRequest(t.vq, BlkReq.WRITE_ZEROES, 0, { out }).status;
    assert.equal(st(dwzSegment(2047, 2)), BlkStatus.IOERR);
    assert.equal(
      st(Buffer.concat([dwzSegment(0, 1), dwzSegment(5000, 1)])),
      BlkStatus.IOERR,
      'one bad segment fails all',
    );
    assert.equal(st(dwzSegment(0, BLK_MAX_ZERO_SECTORS + 1)), BlkStatus.IOERR);
    assert.equal(st(new Uint8Array(8)), BlkStatus.IOERR, 'a torn segment');
    assert.equal(
      st(Buffer.concat(Array.from({ length: 17 }, () => dwzSegment(0, 1)))),
      BlkStatus.IOERR,
      'too many segments',
    );
    assert.deepEqual(t.backend.zeroes, []);
  });

  it('answers IOERR for reads and writes outside the disk or not in whole sectors', () => {
    const t = blk();
    assert.equal(blkRequest(t.vq, BlkReq.IN, 2047, { inLen: 1024 }).status, BlkStatus.IOERR);
    assert.equal(blkRequest(t.vq, BlkReq.IN, 2048, { inLen: 512 }).status, BlkStatus.IOERR);
    assert.equal(blkRequest(t.vq, BlkReq.IN, 2 ** 40, { inLen: 512 }).status, BlkStatus.IOERR);
    assert.equal(blkRequest(t.vq, BlkReq.OUT, 2 ** 52, { out: new Uint8Array(512) }).status, BlkStatus.IOERR);
    assert.equal(blkRequest(t.vq, BlkReq.OUT, 0, { out: new Uint8Array(100) }).status, BlkStatus.IOERR);
    assert.equal(blkRequest(t.vq, BlkReq.IN, 2047, { inLen: 512 }).status, BlkStatus.OK, 'the last sector is fine');
    assert.equal(blkRequest(t.vq, BlkReq.IN, 0, { inLen: 0 }).status, BlkStatus.OK, 'an empty read is fine');
    assert.equal(t.drv.status & Status.DEVICE_NEEDS_RESET, 0);
  });

  it('turns disk failures (BlockError) into IOERR, counts them and keeps going', () => {
    const t = blk();
    t.backend.failNext = new BlockError('EIO', 'disk on fire');
    assert.equal(blkRequest(t.vq, BlkReq.IN, 0, { inLen: 512 }).status, BlkStatus.IOERR);
    t.backend.failNext = new BlockError('EIO', 'fsync failed');
    assert.equal(blkRequest(t.vq, BlkReq.FLUSH, 0).status, BlkStatus.IOERR);
    t.backend.failNext = new BlockError('EIO', 'no');
    assert.equal(blkRequest(t.vq, BlkReq.DISCARD, 0, { out: dwzSegment(0, 1) }).status, BlkStatus.IOERR);
    assert.equal(blkRequest(t.vq, BlkReq.IN, 0, { inLen: 512 }).status, BlkStatus.OK);
    assert.equal(t.drv.status & Status.DEVICE_NEEDS_RESET, 0);
    assert.deepEqual(t.dev.stats(), { ioErrors: 3, internalErrors: 0, lastError: 'BlockError: no' });
  });

  it('does not pass a bug in the backend off as IOERR: the device breaks and records it', () => {
    const t = blk();
    t.backend.failNext = new TypeError('a bug in a backend');
    assert.throws(() => blkRequest(t.vq, BlkReq.OUT, 0, { out: new Uint8Array(512) }), /request not completed/);
    assert.ok(t.drv.status & Status.DEVICE_NEEDS_RESET);
    assert.match(t.mmio.lastError ?? '', /a bug in a backend/);
    assert.deepEqual(t.dev.stats(), { ioErrors: 0, internalErrors: 1, lastError: 'TypeError: a bug in a backend' });
  });

  it('offers VIRTIO_BLK_F_RO on a read-only disk and fails writes with IOERR', () => {
    const t = blk({ readOnly: true });
    assert.ok(t.drv.features & bit(BlkFeature.RO));
    assert.ok(!(t.drv.deviceFeatures() & (bit(BlkFeature.DISCARD) | bit(BlkFeature.WRITE_ZEROES))));
    t.backend.data.fill(7);
    assert.equal(blkRequest(t.vq, BlkReq.OUT, 0, { out: new Uint8Array(512) }).status, BlkStatus.IOERR);
    assert.equal(t.backend.data[0], 7);
    assert.equal(blkRequest(t.vq, BlkReq.DISCARD, 0, { out: dwzSegment(0, 1) }).status, BlkStatus.UNSUPP);
    assert.equal(blkRequest(t.vq, BlkReq.IN, 0, { inLen: 512 }).data[0], 7);
  });

  it('serves several requests made available before one kick', () => {
    const t = blk();
    t.backend.data.set(pattern(2048, 5));
    const mem = t.mem;
    const reqs = [0, 1, 2, 3].map((sector) => {
      const hdr = mem.alloc(16);
      mem.setU32(hdr, BlkReq.IN);
      mem.setU32(hdr + 8, sector);
      const data = mem.alloc(512);
      const status = mem.alloc(1);
      t.vq.add(
        [{ addr: hdr, len: 16 }],
        [
          { addr: data, len: 512 },
          { addr: status, len: 1 },
        ],
      );
      return { data, status, sector };
    });
    assert.ok(t.vq.kick());
    for (const r of reqs) {
      assert.ok(t.vq.getBuf());
      assert.equal(mem.read(r.status, 1)[0], BlkStatus.OK);
      assert.deepEqual(mem.read(r.data, 512), pattern(2048, 5).subarray(r.sector * 512, r.sector * 512 + 512));
    }
    assert.equal(t.drv.interrupt() & 1, 1);
  });

  it('marks exactly the pages it writes dirty: data, status byte and used ring', () => {
    const t = blk({ ram: 1 << 21 });
    const ram = t.ram;
    t.backend.data.set(pattern(3 * PAGE_SIZE, 2));
    // A read buffer spanning pages 0x100..0x102 (starting mid-page), far from everything else.
    const inAddr = ram.base + 0x100 * PAGE_SIZE + 0x800;
    const inLen = 2 * PAGE_SIZE;
    ram.startDirtyLog();
    const r = blkRequest(t.vq, BlkReq.IN, 0, { inLen, inAddr, segments: 2 });
    assert.equal(r.status, BlkStatus.OK);
    const page = (addr: number) => (addr - ram.base) >>> 12;
    const want = new Set([0x100, 0x101, 0x102, page(r.statusAddr), page(t.vq.used)]);
    // The driver's own stores (header, descriptors, avail ring) go through the CPU in a real
    // guest; here they are plain array writes, so only device writes can show up.
    assert.deepEqual(new Set(ram.fetchDirtyLog()), want);
    assert.deepEqual(r.data, pattern(3 * PAGE_SIZE, 2).subarray(0, inLen));
    // A write request dirties no data page.
    blkRequest(t.vq, BlkReq.OUT, 0, { out: new Uint8Array(4096) });
    const after = ram.fetchDirtyLog();
    assert.ok(!after.includes(0x100) && !after.includes(0x101));
    ram.stopDirtyLog();
  });

  it('reads and writes a raw image file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hn-virtio-blk-'));
    try {
      const path = join(dir, 'disk.raw');
      writeFileSync(path, Buffer.alloc(DISK));
      const backend = RawBackend.open(path);
      const dev = new VirtioBlk(backend);
      const t = plug(dev, 1 << 21);
      t.drv.init(ALL_BLK);
      const vq = t.drv.setupQueue(0);
      t.drv.driverOk();
      const data = pattern(4096, 11);
      assert.equal(blkRequest(vq, BlkReq.OUT, 3, { out: data, segments: 4 }).status, BlkStatus.OK);
      assert.equal(blkRequest(vq, BlkReq.FLUSH, 0).status, BlkStatus.OK);
      assert.deepEqual(new Uint8Array(readFileSync(path).subarray(3 * 512, 3 * 512 + 4096)), data);
      assert.deepEqual(blkRequest(vq, BlkReq.IN, 3, { inLen: 4096 }).data, data);
      assert.equal(blkRequest(vq, BlkReq.WRITE_ZEROES, 0, { out: dwzSegment(3, 2) }).status, BlkStatus.OK);
      assert.ok(
        readFileSync(path)
          .subarray(3 * 512, 5 * 512)
          .every((b) => b === 0),
      );
      assert.equal(blkRequest(vq, BlkReq.IN, 2048, { inLen: 512 }).status, BlkStatus.IOERR);
      backend.close();
      // After close the backend throws ECLOSED: still only IOERR for the guest.
      assert.equal(blkRequest(vq, BlkReq.IN, 0, { inLen: 512 }).status, BlkStatus.IOERR);
      const ro = RawBackend.open(path, { readOnly: true });
      const t2 = plug(new VirtioBlk(ro), 1 << 21);
      t2.drv.init(ALL_BLK);
      const vq2 = t2.drv.setupQueue(0);
      assert.ok(t2.drv.features & bit(BlkFeature.RO));
      assert.equal(blkRequest(vq2, BlkReq.OUT, 0, { out: new Uint8Array(512) }).status, BlkStatus.IOERR);
      ro.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
