// Disk block records without a network: what DiskCopy encodes, applyDiskRecords writes back
// identically (zero blocks as runs, deflated or not), and malformed bodies are refused.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDisk, Qcow2, type BlockBackend } from '@hypernova/hypervisor';
import { applyDiskRecords, DISK_BLOCK, DISK_RECORD, DiskCopy, DiskKind } from '../../src/migration/disks.js';
import { inflateBody, PageEncoder } from '../../src/migration/pages.js';
import { Flag, HEADER_SIZE } from '../../src/migration/wire.js';

const MiB = 1 << 20;

describe('migration: disk records', () => {
  let dir: string;
  const open: BlockBackend[] = [];
  before(() => (dir = mkdtempSync(join(tmpdir(), 'hn-disk-records-'))));
  afterEach(() => open.splice(0).forEach((d) => d.close()));
  after(() => rmSync(dir, { recursive: true, force: true }));

  function disk(name: string, size: number): BlockBackend {
    const p = join(dir, name);
    Qcow2.create(p, { size });
    const d = openDisk(p);
    open.push(d);
    return d;
  }

  /** Every frame DiskCopy has queued, applied to `to`; returns the frames' bodies as sent. */
  function transfer(copy: DiskCopy, to: BlockBackend[], encoder?: PageEncoder): Buffer[] {
    const bodies: Buffer[] = [];
    for (let f = copy.next(); f; f = copy.next()) {
      const g = encoder ? encoder.pack(f) : f;
      const sent = g.buf.subarray(HEADER_SIZE, HEADER_SIZE + g.bodyLength);
      bodies.push(Buffer.from(sent));
      const body = g.flags & Flag.Deflated ? (inflateBody(sent, 4 * MiB) as Buffer) : sent;
      const r = applyDiskRecords(body, to);
      assert.equal(typeof r, 'number', String(r));
    }
    return bodies;
  }

  function assertSame(a: BlockBackend, b: BlockBackend): void {
    const x = Buffer.alloc(a.sizeBytes);
    const y = Buffer.alloc(b.sizeBytes);
    a.read(0, x);
    b.read(0, y);
    assert.ok(x.equals(y));
  }

  it('sends what two disks hold, zero blocks as one run, and later only what was written', () => {
    const src = [disk('s0.qcow2', 4 * MiB + 4096), disk('s1.qcow2', 2 * MiB)];
    const dst = [disk('d0.qcow2', 4 * MiB + 4096), disk('d1.qcow2', 2 * MiB)];
    src[0]!.write(0, randomBytes(100_000)); // blocks 0, 1
    src[0]!.write(4 * MiB, randomBytes(4096)); // the short last block
    src[0]!.write(10 * DISK_BLOCK, Buffer.alloc(3 * DISK_BLOCK)); // allocated but zero: one run
    src[1]!.write(DISK_BLOCK + 5, randomBytes(10));
    const copy = new DiskCopy(src, 256 * 1024);
    copy.check();
    copy.start();
    assert.equal(copy.totalBytes, 7 * DISK_BLOCK);
    const bodies = transfer(copy, dst);
    const zeroRuns = bodies.flatMap((b) => {
      const runs: number[] = [];
      for (let pos = 0; pos < b.length;) {
        const kind = b.readUInt8(pos + 2);
        const length = b.readUInt32LE(pos + 4);
        if (kind === DiskKind.Zero) runs.push(length);
        pos += DISK_RECORD + (kind === DiskKind.Data ? length : 0);
      }
      return runs;
    });
    assert.deepEqual(zeroRuns, [3 * DISK_BLOCK]);
    assertSame(src[0]!, dst[0]!);
    assertSame(src[1]!, dst[1]!);
    assert.equal(copy.remainingBlocks, 0);

    src[1]!.writeZeroes!(DISK_BLOCK, DISK_BLOCK, true);
    src[0]!.write(3 * DISK_BLOCK - 1, randomBytes(2));
    assert.equal(copy.collect(), 3 * DISK_BLOCK);
    transfer(copy, dst);
    assertSame(src[0]!, dst[0]!);
    assertSame(src[1]!, dst[1]!);
    assert.equal(copy.blocksSent, 10);
    copy.stop();
    assert.equal(src[0]!.dirtyLog!.active, false);
  });

  it('deflated disk frames (the encoder’s deflate step) apply the same', () => {
    const src = [disk('z0.qcow2', 2 * MiB)];
    const dst = [disk('z1.qcow2', 2 * MiB)];
    src[0]!.write(0, Buffer.alloc(MiB, 'compressible text '));
    const copy = new DiskCopy(src, 256 * 1024);
    copy.start();
    const encoder = new PageEncoder({ batchBytes: 256 * 1024 });
    encoder.deflate = true;
    const bodies = transfer(copy, dst, encoder);
    assert.ok(bodies.reduce((n, b) => n + b.length, 0) < MiB / 10, 'deflated');
    assertSame(src[0]!, dst[0]!);
    copy.stop();
  });

  it('refuses malformed bodies and ranges outside the disks', () => {
    const dst = [disk('m.qcow2', MiB)];
    const record = (i: number, kind: number, offset: number, length: number): Buffer => {
      const b = Buffer.alloc(DISK_RECORD);
      b.writeUInt16LE(i, 0);
      b.writeUInt8(kind, 2);
      b.writeUInt32LE(length, 4);
      b.writeUInt32LE(offset, 8);
      return b;
    };
    assert.match(String(applyDiskRecords(record(1, DiskKind.Zero, 0, 512), dst)), /disk 1 does not exist/);
    assert.match(String(applyDiskRecords(record(0, DiskKind.Zero, MiB - 512, 1024), dst)), /outside the disk/);
    assert.match(String(applyDiskRecords(record(0, DiskKind.Data, 0, 512), dst)), /truncated disk data/);
    assert.match(String(applyDiskRecords(record(0, 9, 0, 512), dst)), /unknown disk record kind 9/);
    assert.match(
      String(applyDiskRecords(record(0, DiskKind.Zero, 0, 512).subarray(0, 10), dst)),
      /truncated disk record/,
    );
  });
});
