// The shared storage probe of the live-migration prechecks: a node sees another's probe only in a
// directory they share, and only probe names are ever looked up or removed.
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProbe, removeProbe, seesProbe } from '../../src/agent/shared-storage.js';

describe('agent: shared storage probe', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'hn-probe-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('is seen through the same directory (even by another path to it), not from a directory of its own', () => {
    const shared = join(root, 'nfs');
    const own = join(root, 'local');
    mkdirSync(shared);
    mkdirSync(own);
    symlinkSync(shared, join(root, 'mnt'));
    const name = createProbe(shared, 'node-b');
    assert.match(name, /^\.hn-shared-probe-[0-9a-f-]{36}$/);
    assert.equal(seesProbe(join(root, 'mnt'), name), true, 'the source mounts the share elsewhere');
    assert.equal(seesProbe(own, name), false);
    assert.notEqual(createProbe(shared, 'node-b'), name, 'every check gets a name of its own');
  });

  it('is removed by its maker, idempotently', () => {
    const name = createProbe(root, 'node-b');
    assert.equal(removeProbe(root, name), true);
    assert.equal(removeProbe(root, name), false);
    assert.equal(seesProbe(root, name), false);
    assert.deepEqual(readdirSync(root), []);
  });

  it('refuses names that are not probes (no lookups or removals elsewhere)', () => {
    mkdirSync(join(root, 'disk'));
    for (const bad of [
      '../etc/passwd',
      'disk',
      '.hn-shared-probe-x',
      '.hn-shared-probe-00000000-0000-0000-0000-000000000000/..',
      '',
    ]) {
      assert.throws(() => seesProbe(root, bad), /invalid shared storage probe name/);
      assert.throws(() => removeProbe(root, bad), /invalid shared storage probe name/);
    }
    assert.deepEqual(readdirSync(root), ['disk']);
  });
});
