import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ensureLinuxGuest } from '../src/index.js';

describe('guest: Linux build', function () {
  // A clean kernel build takes minutes; a cached one returns at once.
  this.timeout(30 * 60_000);

  it('is a RISC-V Linux Image of a sensible size', async () => {
    const { image, key } = await ensureLinuxGuest();
    assert.match(key, /^linux-[0-9a-f]{16}$/);
    const header = readFileSync(image).subarray(0, 64);
    // arch/riscv/include/asm/image.h: magic at 0x30, magic2 at 0x38, image size at 0x10.
    assert.equal(header.toString('latin1', 0x30, 0x38), 'RISCV\0\0\0');
    assert.equal(header.toString('latin1', 0x38, 0x3c), 'RSC\x05');
    const { size } = statSync(image);
    assert.ok(Number(header.readBigUInt64LE(0x10)) >= size, 'image_size covers the file');
    // ~4 MB trimmed; 20 MB and more means STRICT_KERNEL_RWX padding or =m turned =y.
    assert.ok(size > 2e6 && size < 8e6, `Image is ${size} bytes`);
  });

  it('returns the cached build, with the same key, on a second call', async () => {
    const first = await ensureLinuxGuest();
    const second = await ensureLinuxGuest();
    assert.deepEqual(second, first);
    assert.ok(existsSync(join(first.dir, 'bin', 'init')));
  });

});
