// Random instruction streams in every mode, a short sample of bench/fuzz.ts: the hart never
// throws or hangs, traps are architectural, and RAM changes only under guest stores.
import assert from 'node:assert/strict';
import { CPU_FUZZ_MODES, fuzzCpu, FuzzFailure, modeName } from '../../testing/fuzz-cpu.js';

const SEEDS = [1, 2, 3, 4, 5];

describe('fuzz: random code on the hart', function () {
  this.timeout(120_000);

  for (const mode of CPU_FUZZ_MODES) {
    it(`${modeName(mode)} mode, seeds ${SEEDS.join(', ')}, 10^5 instructions each`, () => {
      for (const seed of SEEDS) {
        // Odd seeds compile every block at once: both tiers get fuzzed.
        const r = fuzzCpu({ ...mode, seed, instructions: 100_000, hotRuns: seed & 1 ? 0 : undefined });
        assert.ok(r.instructions >= 100_000 || r.rescues > 0, `seed ${seed} ran ${r.instructions}`);
        assert.ok(r.traps > 0);
      }
    });
  }

  for (const mode of CPU_FUZZ_MODES) {
    it(`${modeName(mode)} mode: the memory oracle catches a write that bypasses the store path`, () => {
      let n = 0;
      const tamper = (ram: { bytes: Uint8Array }): void => {
        // The last byte of RAM: neither code nor data, and never a store's target in a guarded run.
        if (++n === 3) ram.bytes[ram.bytes.length - 1] ^= 0x40;
      };
      assert.throws(
        () => fuzzCpu({ ...mode, seed: 9, instructions: 50_000, between: tamper }),
        (e: unknown) => e instanceof FuzzFailure && e.kind === 'check' && /RAM at 0x800fffff changed/.test(e.message),
      );
    });
  }
});
