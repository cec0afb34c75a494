// What the boot loader hands the guest beyond its images: the device tree's /chosen/rng-seed,
// fresh entropy for every boot as QEMU's virt gives, and none in a deterministic run.
import { strict as assert } from 'node:assert';
import { decodeFdt } from '../../src/boot/fdt.js';
import { Machine } from '../../src/index.js';

/** j . (raw, from reset in M-mode: the device tree is all these tests look at) */
const LOOP = Uint8Array.of(0x6f, 0, 0, 0);

function rngSeed(clock: 'host' | 'virtual'): Uint8Array | undefined {
  const m = new Machine({ kernel: LOOP, bios: 'builtin' }, { config: { memoryMiB: 16, clock }, console: () => {} });
  const dtb = m.ram.bytes.subarray(m.ram.size - 0x1_0000);
  return decodeFdt(dtb).root.find('/chosen')!.get('rng-seed');
}

describe('boot loader', () => {
  it('gives every boot its own 32-byte rng-seed', () => {
    const a = rngSeed('host');
    const b = rngSeed('host');
    assert.equal(a?.length, 32);
    assert.equal(b?.length, 32);
    assert.notDeepEqual(a, b);
  });

  it('gives a deterministic run no seed, so two runs boot alike', () => {
    assert.equal(rngSeed('virtual'), undefined);
  });
});
