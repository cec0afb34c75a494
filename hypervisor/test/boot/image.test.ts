import assert from 'node:assert/strict';
import { GuestRam } from '../../src/bus/ram.js';
import { BootImageError } from '../../src/boot/elf.js';
import { loadRaw, parseLinuxImageHeader } from '../../src/boot/image.js';

const RAM_BASE = 0x8000_0000;

/** The 64-byte header Linux puts at the start of arch/riscv/boot/Image. */
function linuxImage(opts: { magic?: boolean; magic2?: boolean } = {}): Uint8Array {
  const b = new Uint8Array(0x2000);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x0000_006f, true); // j .
  v.setBigUint64(0x08, 0x40_0000n, true);
  v.setBigUint64(0x10, 0x1_2000n, true);
  v.setBigUint64(0x18, 0n, true);
  v.setUint32(0x20, 0x0002, true);
  if (opts.magic ?? true) b.set(new TextEncoder().encode('RISCV\0\0\0'), 0x30);
  if (opts.magic2 ?? true) b.set(new TextEncoder().encode('RSC\x05'), 0x38);
  return b;
}

describe('raw images', () => {
  it('recognises a Linux RISC-V Image by either magic', () => {
    assert.deepEqual(parseLinuxImageHeader(linuxImage()), {
      textOffset: 0x40_0000,
      imageSize: 0x1_2000,
      flags: 0,
      version: 2,
    });
    assert.ok(parseLinuxImageHeader(linuxImage({ magic: false })));
    assert.ok(parseLinuxImageHeader(linuxImage({ magic2: false })));
  });

  it('takes anything else for a flat binary', () => {
    assert.equal(parseLinuxImageHeader(linuxImage({ magic: false, magic2: false })), undefined);
    assert.equal(parseLinuxImageHeader(new Uint8Array(16)), undefined);
  });

  it('refuses an implausible header', () => {
    const b = linuxImage();
    new DataView(b.buffer).setBigUint64(0x10, 1n << 60n, true);
    assert.throws(() => parseLinuxImageHeader(b), /implausible image_size/);
  });

  it('copies a flat binary to RAM', () => {
    const ram = new GuestRam(RAM_BASE, 0x1_0000);
    const data = Uint8Array.from([1, 2, 3, 4, 5]);
    assert.deepEqual(loadRaw(ram, data, RAM_BASE + 0x100), { end: RAM_BASE + 0x105 });
    assert.deepEqual(ram.bytes.subarray(0x100, 0x105), data);
  });

  it('says when an image is larger than RAM or does not fit where it goes', () => {
    const ram = new GuestRam(RAM_BASE, 0x1_0000);
    assert.throws(
      () => loadRaw(ram, new Uint8Array(0x1_0001), RAM_BASE, 'kernel'),
      (e: Error) =>
        e instanceof BootImageError &&
        /kernel of 65537 bytes is larger than RAM \(65536 bytes, 0x80000000\.\.0x80010000\)/.test(e.message),
    );
    assert.throws(
      () => loadRaw(ram, new Uint8Array(0x100), RAM_BASE + 0xff80, 'initrd'),
      /initrd of 256 bytes at 0x8000ff80 does not fit in RAM 0x80000000\.\.0x80010000/,
    );
    assert.throws(() => loadRaw(ram, new Uint8Array(1), 0x1000), /does not fit in RAM/);
  });
});
