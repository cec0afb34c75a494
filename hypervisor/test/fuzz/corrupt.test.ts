// Corrupt qcow2 images and snapshots, a short sample of bench/fuzz.ts: each is refused with a
// BlockError or StateError, never another exception or a hang.
import assert from 'node:assert/strict';
import { tempDir } from '../../testing/block.js';
import { fuzzQcow2, fuzzSnapshot } from '../../testing/fuzz-corrupt.js';

describe('fuzz: corrupt images and snapshots', function () {
  this.timeout(120_000);
  const tmp = tempDir('hypernova-fuzz-');
  after(() => tmp.remove());

  it('100 damaged qcow2 images (ours and qemu-img made)', () => {
    const r = fuzzQcow2(1, 100, tmp.path);
    assert.ok(r.refused > 0);
  });

  it('100 damaged snapshots and device states', () => {
    const r = fuzzSnapshot(1, 100);
    assert.ok(r.refused > 50);
  });
});
