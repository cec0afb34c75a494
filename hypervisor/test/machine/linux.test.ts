// The Linux guest (guest/: Linux 6.1 rv32 with a nolibc init) boots on the machine to BOOT-OK,
// both with the VMM serving SBI and through the M-mode SBI firmware, and an idle guest (in WFI
// between heartbeats) keeps receiving timer interrupts.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBaremetal, ensureLinuxGuest } from '@hypernova/guest';
import { Machine, type BiosChoice } from '../../src/index.js';

/** Boots until `done(log)` holds, then powers the machine off; returns the console log. */
async function bootUntil(
  bios: BiosChoice,
  append: string,
  done: (log: string) => boolean,
): Promise<{ log: string; machine: Machine }> {
  const { image } = await ensureLinuxGuest();
  let log = '';
  const machine: Machine = new Machine(
    { kernel: readFileSync(image), bios, append },
    {
      config: { memoryMiB: 128 },
      console: (b) => {
        log += Buffer.from(b).toString('latin1');
        if (done(log)) machine.powerOffNow();
      },
    },
  );
  await machine.run();
  return { log, machine };
}

describe('Linux guest', function () {
  this.timeout(600_000);

  it('boots to BOOT-OK with the SBI served by the VMM, and powers off through SRST', async () => {
    const { image } = await ensureLinuxGuest();
    let log = '';
    const m = new Machine(
      { kernel: readFileSync(image), bios: 'builtin', append: 'console=ttyS0 hn.poweroff_after=1' },
      { config: { memoryMiB: 128 }, console: (b) => (log += Buffer.from(b).toString('latin1')) },
    );
    const exit = await m.run();
    assert.match(log, /BOOT-OK/);
    assert.match(log, /heartbeat 1/);
    assert.equal(exit.code, 0);
  });

  it('boots to BOOT-OK through the M-mode SBI firmware (QEMU virt boot protocol)', async () => {
    const fw = readFileSync(join(await ensureBaremetal(), 'fw.elf'));
    const { log } = await bootUntil(fw, 'console=ttyS0', (l) => l.includes('BOOT-OK'));
    assert.match(log, /hnsbi: Hypernova SBI fixture/);
    assert.match(log, /BOOT-OK/);
  });

  it('an idle guest sleeping in WFI keeps receiving timer interrupts, at little host CPU', async () => {
    let cpuAtFirst = 0;
    let wallAtFirst = 0;
    const { log } = await bootUntil('builtin', 'console=ttyS0 quiet', (l) => {
      if (!cpuAtFirst && l.includes('heartbeat 1')) {
        const u = process.cpuUsage();
        cpuAtFirst = u.user + u.system;
        wallAtFirst = performance.now();
      }
      return l.includes('heartbeat 4');
    });
    const u = process.cpuUsage();
    const cpuMs = (u.user + u.system - cpuAtFirst) / 1000;
    const wallMs = performance.now() - wallAtFirst;
    assert.match(log, /heartbeat 2\r?\nheartbeat 3\r?\nheartbeat 4/);
    // Three heartbeats a second apart: most of that time the hart sleeps on a host timer.
    assert.ok(cpuMs < wallMs / 2, `idle guest used ${cpuMs.toFixed(0)} ms of CPU in ${wallMs.toFixed(0)} ms`);
  });
});
