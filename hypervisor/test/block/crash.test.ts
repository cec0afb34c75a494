// Data the guest flushed survives kill -9 of the process writing the image, and the image
// is consistent wherever the kill lands (leaked clusters are allowed, corruption is not).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Qcow2, checkQcow2, openDisk } from '../../src/block/index.js';
import { REGION, REGION_BASE, regionData } from './crash-writer.js';
import { Rng, hasQemuImg, qemuImg, tempDir } from '../../testing/block.js';

const writer = fileURLToPath(new URL('./crash-writer.js', import.meta.url));

/** Runs the writer until it has acknowledged `flushes` flushes plus a random delay, then SIGKILLs it. */
function runAndKill(path: string, seed: number, flushes: number, delayMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, path, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let acked = -1;
    let killed = false;
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => (err += d));
    child.stdout.on('data', (d: string) => {
      out += d;
      const lines = out.split('\n');
      out = lines.pop()!;
      for (const l of lines) {
        const m = /^flushed (\d+)$/.exec(l);
        if (m) acked = Number(m[1]);
      }
      if (!killed && acked >= flushes) {
        killed = true;
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`writer exited with ${code ?? signal}: ${err}`));
      else resolve(acked);
    });
  });
}

describe('block/qcow2 crash consistency (kill -9)', function () {
  this.timeout(300_000);
  const tmp = tempDir();
  after(() => tmp.remove());

  // Rounds 6 and 7 use 512-byte clusters with 64-bit refcounts: the refcount table must
  // grow again and again while the writer runs, so kills land during growth too.
  for (let round = 0; round < 8; round++) {
    it(`round ${round}: flushed generations survive and the image is consistent`, async () => {
      const rng = new Rng(1234 + round);
      const base = tmp.path(`base${round}.raw`);
      writeFileSync(base, new Rng(round).bytes(64 << 20));
      const path = tmp.path(`disk${round}.qcow2`);
      // Small clusters and an overlay: many allocations, copy-on-write from the base, refcount growth.
      const small = round >= 6;
      Qcow2.create(path, {
        size: 64 << 20,
        clusterBits: small ? 9 : 12 + (round % 3) * 2,
        refcountBits: small ? 64 : 16,
        backingFile: `base${round}.raw`,
        backingFormat: 'raw',
      });
      const acked = await runAndKill(path, round, 5 + rng.int(40), rng.int(30));

      const check = checkQcow2(path);
      assert.equal(check.corruptions, 0, check.messages.join('\n'));
      if (hasQemuImg()) {
        const q = qemuImg('check', path);
        assert.ok(q.status === 0 || q.status === 3, `qemu-img check exited ${q.status}:\n${q.stdout}${q.stderr}`);
        assert.doesNotMatch(q.stderr, /ERROR/);
      }
      const disk = openDisk(path, { readOnly: true });
      const got = new Uint8Array(REGION);
      for (let g = 0; g <= acked; g++) {
        disk.read(REGION_BASE + g * REGION, got);
        assert.ok(Buffer.compare(got, regionData(round, g)) === 0, `generation ${g} of ${acked} flushed ones was lost`);
      }
      disk.close();
    });
  }
});
