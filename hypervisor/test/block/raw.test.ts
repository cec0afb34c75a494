import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { BlockError, RawBackend, openDisk } from '../../src/block/index.js';
import { Rng, tempDir } from '../../testing/block.js';

describe('block/raw', () => {
  const tmp = tempDir();
  after(() => tmp.remove());

  it('reads and writes at any byte offset, and the file is the disk', () => {
    const p = tmp.path('a.raw');
    RawBackend.create(p, 1 << 20);
    const d = RawBackend.open(p);
    assert.equal(d.sizeBytes, 1 << 20);
    const data = new Rng(1).bytes(5000);
    d.write(12345, data);
    const back = new Uint8Array(5000);
    d.read(12345, back);
    assert.deepEqual(back, data);
    d.flush();
    d.close();
    assert.deepEqual(new Uint8Array(readFileSync(p).subarray(12345, 17345)), data);
  });

  it('writeZeroes reads back zeroes; discard keeps the disk readable', () => {
    const p = tmp.path('z.raw');
    writeFileSync(p, Buffer.alloc(3 << 20, 0xaa));
    const d = openDisk(p);
    d.writeZeroes!(1000, (2 << 20) + 7, false);
    d.discard!(0, 4096);
    const all = new Uint8Array(d.sizeBytes);
    d.read(0, all);
    assert.ok(all.subarray(1000, 1000 + (2 << 20) + 7).every((x) => x === 0));
    assert.equal(all[999], 0xaa);
    assert.equal(all[1000 + (2 << 20) + 7], 0xaa);
    d.close();
  });

  it('rejects requests outside the disk, writes when read-only, and use after close', () => {
    const p = tmp.path('r.raw');
    RawBackend.create(p, 4096);
    const ro = openDisk(p, { readOnly: true });
    assert.equal(ro.readOnly, true);
    assert.throws(
      () => ro.read(4000, new Uint8Array(200)),
      (e: unknown) => e instanceof BlockError && e.code === 'ERANGE',
    );
    assert.throws(
      () => ro.read(-1, new Uint8Array(1)),
      (e: unknown) => e instanceof BlockError && e.code === 'ERANGE',
    );
    assert.throws(
      () => ro.write(0, new Uint8Array(1)),
      (e: unknown) => e instanceof BlockError && e.code === 'EROFS',
    );
    ro.close();
    assert.throws(
      () => ro.read(0, new Uint8Array(1)),
      (e: unknown) => e instanceof BlockError && e.code === 'ECLOSED',
    );
    assert.throws(
      () => openDisk(tmp.path('missing.raw')),
      (e: unknown) => e instanceof BlockError && e.code === 'ENOENT',
    );
  });

  it('has a GET_ID serial of at most 20 bytes, derived from the name or given', () => {
    const p = tmp.path('instance-00000042-with-a-long-name.raw');
    RawBackend.create(p, 512);
    const d = openDisk(p);
    assert.equal(d.id, 'instance-00000042-wi');
    d.close();
    const named = openDisk(p, { id: 'vol-1' });
    assert.equal(named.id, 'vol-1');
    named.close();
    assert.throws(() => openDisk(p, { id: 'x'.repeat(21) }), BlockError);
  });
});
