// Random MMIO and malformed virtqueues against the whole board, a short sample of bench/fuzz.ts.
import assert from 'node:assert/strict';
import { fuzzBoard } from '../../testing/fuzz-board.js';

describe('fuzz: MMIO and virtqueues', function () {
  this.timeout(120_000);

  for (const seed of [1, 2]) {
    it(`seed ${seed}: 500 cases, every device window, every virtio device`, () => {
      const r = fuzzBoard(seed, 500);
      assert.ok(r.broken > 0, 'some cases broke a device (and a reset recovered it)');
    });
  }
});
