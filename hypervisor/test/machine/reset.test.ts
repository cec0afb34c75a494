// A reboot (Machine.reset, or the guest's through syscon or SBI) starts the board's devices over:
// the CLINT, PLIC and UART come back in their power-on state, as the CPU does.
import { strict as assert } from 'node:assert';
import { Mip } from '../../src/cpu/mip.js';
import { ClintReg } from '../../src/devices/clint/clint.js';
import { PlicReg } from '../../src/devices/plic/plic.js';
import { UartReg } from '../../src/devices/uart/uart.js';
import { Machine } from '../../src/index.js';

describe('machine reset', () => {
  it('puts the CLINT, PLIC and UART back in their power-on state', async () => {
    let reboots = 0;
    const m = new Machine(
      { kernel: Uint8Array.of(0x6f, 0, 0, 0), bios: 'none' },
      { config: { memoryMiB: 16 }, console: () => {}, onReboot: () => reboots++ },
    ); // j .
    m.clint.write(ClintReg.MSIP, 4, 1);
    m.clint.write(ClintReg.MTIMECMP_HI, 4, 0);
    m.clint.write(ClintReg.MTIMECMP_LO, 4, 0);
    m.plic.write(PlicReg.PRIORITY + 4 * 10, 4, 3);
    m.plic.write(PlicReg.CONTEXT + PlicReg.CONTEXT_STRIDE + PlicReg.THRESHOLD, 4, 1);
    m.uart.write(UartReg.SCR, 1, 0x5a);
    m.uart.write(UartReg.IER_DLM, 1, 0x02);
    assert.notEqual(m.hart.mip, 0);

    const done = m.run();
    m.reset();
    await new Promise((r) => setTimeout(r, 20));
    m.powerOffNow();
    await done;

    assert.equal(reboots, 1);
    assert.equal(m.clint.read(ClintReg.MSIP, 4), 0);
    assert.equal(m.clint.mtimecmp, Infinity);
    assert.equal(m.plic.read(PlicReg.PRIORITY + 4 * 10, 4), 0);
    assert.equal(m.plic.read(PlicReg.CONTEXT + PlicReg.CONTEXT_STRIDE + PlicReg.THRESHOLD, 4), 0);
    assert.equal(m.uart.read(UartReg.SCR, 1), 0);
    assert.equal(m.uart.read(UartReg.IER_DLM, 1), 0);
    assert.equal(m.hart.mip, 0, 'no interrupt left pending');
  });

  it("disarms the VMM SBI's S-mode timer", async () => {
    // A kernel left with a timer armed through SBI (deadline 0: STIP pending) until the reboot.
    const m = new Machine(
      { kernel: Uint8Array.of(0x6f, 0, 0, 0), bios: 'builtin' },
      { config: { memoryMiB: 16 }, console: () => {} },
    ); // j .
    const sbi = m.sbi!;
    sbi.timerDeadline = 0;
    sbi.updateTimer();
    assert.notEqual(m.hart.mip & Mip.STIP, 0);

    const done = m.run();
    m.reset();
    await new Promise((r) => setTimeout(r, 20));
    m.powerOffNow();
    await done;

    assert.equal(sbi.timerDeadline, Infinity);
    assert.equal(sbi.nextDeadline(), Infinity);
    assert.equal(m.hart.mip & Mip.STIP, 0);
  });
});
