// The guest's root filesystem image (guest/rootfs, ensureRootfs): a clean ext2 holding the
// init and the test programs of the same guest build, and reproducible byte for byte.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureRootfs, guestDir, type Rootfs } from '@hypernova/guest';
import { sha256, tempDir } from '../../testing/block.js';
import { fsck, readExt2File } from '../../testing/guest.js';

describe('guest root filesystem image', function () {
  this.timeout(600_000);
  const tmp = tempDir('hypernova-rootfs-');
  let rootfs: Rootfs;

  before(async () => {
    rootfs = await ensureRootfs();
  });
  after(() => tmp.remove());

  it('is a clean ext2 file system with /sbin/init and the test programs of the guest build', () => {
    const { status, output } = fsck(rootfs.image);
    assert.equal(status, 0, output);
    const bin = join(rootfs.linux.dir, 'bin');
    assert.ok(readExt2File(rootfs.image, '/sbin/init', tmp.path('init')).equals(readFileSync(join(bin, 'init'))));
    for (const program of ['disktest', 'diskbench', 'nettest', 'rngtest']) {
      assert.ok(
        readExt2File(rootfs.image, `/bin/${program}`, tmp.path(program)).equals(readFileSync(join(bin, program))),
        program,
      );
    }
  });

  it('builds to the same bytes again', () => {
    const out = tmp.path('again');
    const r = spawnSync('bash', [join(guestDir, 'rootfs', 'build-rootfs.sh'), out, join(rootfs.linux.dir, 'bin')], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(sha256(join(out, 'rootfs.ext2')), sha256(rootfs.image));
  });
});
