// The wall clock that times the guest's pause across processes.
import { strict as assert } from 'node:assert';
import { wallNow } from '../../src/migration/clock.js';

describe('migration clock', () => {
  it('reads the wall clock (Date.now) at performance.now() resolution', () => {
    for (let i = 0; i < 50; i++) {
      const before = Date.now();
      const w = wallNow();
      const after = Date.now();
      // Date.now() truncates to the millisecond: w lies in [before, after + 1).
      assert.ok(w >= before - 0.05 && w < after + 1.05, `${w} outside [${before}, ${after + 1})`);
    }
    const a = wallNow();
    const p = performance.now();
    while (performance.now() - p < 2);
    const elapsed = performance.now() - p;
    assert.ok(Math.abs(wallNow() - a - elapsed) < 0.1, 'advances with the monotonic clock');
  });
});
