// The bare-metal self-test programs (guest/baremetal, validated on QEMU) run on our machine from
// reset in M-mode, as with QEMU's -bios none, and must report success through HTIF or the syscon.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBaremetal } from '@hypernova/guest';
import { Machine, type BiosChoice } from '../../src/index.js';

interface Manifest {
  selftests: string[];
  htif_only: string[];
  firmware: string;
  firmware_payloads: string[];
}

async function runProgram(kernel: string, bios: BiosChoice = 'none'): Promise<{ code: number; log: string }> {
  let log = '';
  const m = new Machine(
    { kernel: readFileSync(kernel), bios },
    { config: { memoryMiB: 64 }, console: (b) => (log += Buffer.from(b).toString('latin1')) },
  );
  const exit = await m.run();
  return { code: exit.code, log };
}

describe('bare-metal programs', function () {
  this.timeout(600_000);
  let dir: string;
  let manifest: Manifest;

  before(async () => {
    dir = await ensureBaremetal();
    manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  });

  it('every self-test passes, with no QEMU-quirk notes where we follow the spec', async () => {
    for (const name of manifest.selftests) {
      const { code, log } = await runProgram(join(dir, name));
      assert.equal(code, 0, `${name} failed:\n${log}`);
      assert.match(log, /: PASS \d+ checks/, name);
    }
  });

  it('a program that reports only through HTIF tohost ends with its code', async () => {
    for (const name of manifest.htif_only) {
      const { code, log } = await runProgram(join(dir, name));
      assert.equal(code, 0, `${name}:\n${log}`);
    }
  });

  it('the M-mode SBI firmware boots an S-mode payload (QEMU virt boot protocol)', async () => {
    const fw = readFileSync(join(dir, manifest.firmware));
    for (const name of manifest.firmware_payloads) {
      const { code, log } = await runProgram(join(dir, name), fw);
      assert.equal(code, 0, `${name}:\n${log}`);
      assert.match(log, /PASS/);
    }
  });
});
