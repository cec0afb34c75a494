// Determinism of save/restore: the Linux guest runs N instructions on a virtual clock (time
// from retired instructions, so interrupts come at the same instruction in every run), is
// saved, and restored into a second machine; both then run M more instructions. Registers,
// CSRs, every device's state and a hash of RAM must be identical: the snapshot carries
// everything that decides what the guest does next, and nothing cached outside it (TLBs,
// translated code) changes the outcome.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ensureLinuxGuest } from '@hypernova/guest';
import { Machine, decodeSnapshotHeader } from '@hypernova/hypervisor';

/** Timer updates every this many instructions (as Machine.run does on its checkpoints). */
const SLICE = 1 << 16;

/**
 * Runs exactly `n` more instructions the way Machine.run does with a virtual clock: slices
 * ending on multiples of SLICE, timers updated after each, and virtual time jumping to the next
 * deadline while the hart waits in WFI.
 */
function step(m: Machine, n: number): void {
  const target = m.hart.instret + n;
  const updateTimers = (): void => {
    m.clint.update();
    m.sbi?.updateTimer();
  };
  while (m.hart.instret < target) {
    if (m.hart.wfi) {
      const deadline = Math.min(m.clint.nextDeadline(), m.sbi?.nextDeadline() ?? Infinity);
      assert.ok(Number.isFinite(deadline), 'the guest waits for an interrupt that never comes');
      m.clock.resumeAt(Math.max(deadline, m.clock.now()));
      updateTimers();
      continue;
    }
    const before = m.hart.instret;
    m.hart.run(Math.min(target, (Math.floor(before / SLICE) + 1) * SLICE), true);
    updateTimers();
    assert.ok(m.hart.instret > before || m.hart.wfi, `no progress at pc 0x${(m.hart.pc >>> 0).toString(16)}`);
  }
}

/** Everything the snapshot says about a machine except RAM (the header), and a hash of RAM. */
function fingerprint(m: Machine): { sections: { name: string; data: unknown }[]; ram: string; instret: number } {
  const { header } = decodeSnapshotHeader(m.saveState());
  // A CSR is 32 bits however the number holding it is signed (boot writes 0xffffffff, a restore -1).
  const cpu = header.sections.find((s) => s.name === 'cpu')!.data as { csr: Record<string, number> };
  for (const k of Object.keys(cpu.csr)) cpu.csr[k] = cpu.csr[k]! >>> 0;
  return {
    sections: header.sections,
    ram: createHash('sha256').update(m.ram.bytes).digest('hex'),
    instret: m.hart.instret,
  };
}

describe('VM determinism across save and restore', function () {
  this.timeout(600_000);

  it('a restored Linux guest and the original run the same M instructions to the same registers, CSRs, devices and RAM', async () => {
    const kernel = readFileSync((await ensureLinuxGuest()).image);
    const make = (log: string[]): Machine =>
      new Machine(
        { kernel, bios: 'builtin', append: 'console=ttyS0 hn.dirty_mib_s=4' },
        { config: { memoryMiB: 64, clock: 'virtual' }, console: (b) => log.push(Buffer.from(b).toString('latin1')) },
      );
    const N = 40_000_000; // just past BOOT-OK: the init is starting to rewrite its memory
    const M = 30_000_000; // ~180 guest seconds of heartbeats and rewriting (WFI skips ahead on a virtual clock)
    const original = make([]);
    step(original, N);
    const saved = original.saveState();

    const copy = make([]);
    step(copy, 1_000_000); // a different past, to be overwritten by the restore
    copy.restoreState(saved);
    assert.equal(copy.hart.instret, N);

    step(original, M);
    step(copy, M);
    const [a, b] = [fingerprint(original), fingerprint(copy)];
    assert.equal(a.instret, N + M);
    assert.equal(b.instret, N + M);
    const cpu = (f: typeof a): unknown => f.sections.find((s) => s.name === 'cpu');
    assert.deepEqual(cpu(b), cpu(a), 'registers and CSRs');
    assert.deepEqual(b.sections, a.sections, 'device state');
    assert.equal(b.ram, a.ram, 'RAM');
  });
});
