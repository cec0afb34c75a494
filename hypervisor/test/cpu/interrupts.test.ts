// Interrupts: priority, routing through mideleg, the global enables of each privilege, vectored
// mode, and WFI (sleep, wake-up by a pending interrupt even when globally disabled).
import assert from 'node:assert/strict';
import { Mstatus } from '../../src/cpu/csr.js';
import { Priv } from '../../src/cpu/exceptions.js';
import { Mip } from '../../src/cpu/mip.js';
import * as A from '../../testing/asm.js';
import { a0, a1, addi, CSR, csrw, li, zero } from '../../testing/asm.js';
import { CODE, M_TRAP, Rig, S_TRAP } from './rig.js';

const INTERRUPT = 0x8000_0000;
const ALL = Mip.MEIP | Mip.MSIP | Mip.MTIP | Mip.SEIP | Mip.SSIP | Mip.STIP;
const S_LEVEL = Mip.SEIP | Mip.SSIP | Mip.STIP;

/** A rig running a long run of nops at CODE, so an interrupt shows as the next trap. */
function nops(): Rig {
  const rig = new Rig();
  rig.load(Array.from({ length: 64 }, () => A.nop()));
  return rig;
}

describe('interrupts', () => {
  it('are taken in priority order MEI > MSI > MTI > SEI > SSI > STI', () => {
    const rig = nops();
    rig.hart.mie = ALL;
    rig.hart.setPending(ALL, true);
    for (const cause of [11, 3, 7, 9, 1, 5]) {
      rig.hart.mstatus = Mstatus.MIE;
      rig.start(CODE).step(1);
      assert.equal(rig.hart.mcause >>> 0, (INTERRUPT | cause) >>> 0);
      assert.equal(rig.hart.pc >>> 0, M_TRAP);
      assert.equal(rig.hart.mepc >>> 0, CODE + 4, 'mepc is the next instruction');
      rig.hart.setPending(1 << cause, false);
    }
  });

  it('M-level interrupts come before S-level ones whatever their numbers', () => {
    const rig = nops();
    rig.hart.mie = ALL;
    rig.hart.mideleg = Mip.SEIP;
    rig.hart.setPending(Mip.SEIP | Mip.STIP, true); // STI (5) is not delegated: it is M-level
    rig.start(CODE, Priv.Supervisor);
    rig.hart.mstatus = Mstatus.SIE;
    rig.step(1);
    assert.equal(rig.hart.mcause >>> 0, (INTERRUPT | 5) >>> 0);
    assert.equal(rig.hart.priv, Priv.Machine);
  });

  // [what, privilege, mstatus, mideleg, pending, expected: where it goes and the cause, or none]
  const ROUTES: Array<[string, Priv, number, number, number, ['M' | 'S', number] | null]> = [
    ['M-level in M with MIE', Priv.Machine, Mstatus.MIE, 0, Mip.MTIP, ['M', 7]],
    ['M-level in M without MIE', Priv.Machine, 0, 0, Mip.MTIP, null],
    ['M-level in S ignores MIE', Priv.Supervisor, 0, 0, Mip.MTIP, ['M', 7]],
    ['M-level in U ignores MIE', Priv.User, 0, 0, Mip.MEIP, ['M', 11]],
    ['undelegated S-level in S goes to M', Priv.Supervisor, 0, 0, Mip.SEIP, ['M', 9]],
    ['delegated in S with SIE', Priv.Supervisor, Mstatus.SIE, S_LEVEL, Mip.STIP, ['S', 5]],
    ['delegated in S without SIE', Priv.Supervisor, Mstatus.MIE, S_LEVEL, Mip.STIP, null],
    ['delegated in U ignores SIE', Priv.User, 0, S_LEVEL, Mip.SSIP, ['S', 1]],
    ['delegated in M is never taken', Priv.Machine, Mstatus.MIE | Mstatus.SIE, S_LEVEL, Mip.SEIP, null],
  ];
  for (const [what, priv, mstatus, mideleg, pending, want] of ROUTES) {
    it(`${what}: ${want ? `taken into ${want[0]}, cause ${want[1]}` : 'not taken'}`, () => {
      const rig = nops();
      rig.hart.mie = ALL;
      rig.hart.mideleg = mideleg;
      rig.hart.setPending(pending, true);
      rig.start(CODE, priv);
      rig.hart.mstatus = mstatus;
      rig.step(1);
      if (!want) {
        assert.equal(rig.hart.pc >>> 0, CODE + 4);
        assert.equal(rig.hart.priv, priv);
        assert.equal(rig.hart.mcause, 0);
        assert.equal(rig.hart.scause, 0);
        return;
      }
      const [to, cause] = want;
      const h = rig.hart;
      assert.equal(h.priv, to === 'M' ? Priv.Machine : Priv.Supervisor);
      assert.equal(h.pc >>> 0, to === 'M' ? M_TRAP : S_TRAP);
      assert.deepEqual(to === 'M' ? rig.mTrap() : rig.sTrap(), {
        cause: (INTERRUPT | cause) >>> 0,
        epc: CODE + 4,
        tval: 0,
      });
      if (to === 'S') assert.equal(h.mstatus & Mstatus.SPP, priv === Priv.Supervisor ? Mstatus.SPP : 0);
      else assert.equal((h.mstatus >>> 11) & 3, priv);
    });
  }

  it('an interrupt that is masked in mie is not taken', () => {
    const rig = nops();
    rig.hart.mie = Mip.MSIP;
    rig.hart.mstatus = Mstatus.MIE;
    rig.hart.setPending(Mip.MTIP, true);
    rig.start().step(10);
    assert.equal(rig.hart.mcause, 0);
    assert.equal(rig.hart.pc >>> 0, CODE + 40);
  });

  it('vectored mtvec sends interrupt n to base + 4n', () => {
    const rig = nops();
    rig.hart.mtvec = (M_TRAP - 0x100) | 1;
    rig.hart.mie = Mip.MTIP;
    rig.hart.mstatus = Mstatus.MIE;
    rig.hart.setPending(Mip.MTIP, true);
    rig.start().step(1);
    assert.equal(rig.hart.pc >>> 0, M_TRAP - 0x100 + 4 * 7);
  });

  it('is taken right after the CSR write that enables it', () => {
    const rig = new Rig();
    rig.hart.setPending(Mip.MSIP, true);
    rig.load([li(a1, Mip.MSIP), csrw(CSR.mie, a1), A.csrrsi(zero, CSR.mstatus, Mstatus.MIE), A.nop(), A.nop()]);
    rig.start().step(4);
    assert.equal(rig.hart.mcause >>> 0, (INTERRUPT | 3) >>> 0);
    assert.equal(rig.hart.mepc >>> 0, CODE + 16, 'mepc = the instruction after the csrrsi');
  });

  it('M software can raise SSIP through mip, taken by S when delegated', () => {
    const rig = new Rig();
    rig.hart.mideleg = Mip.SSIP;
    rig.hart.mie = Mip.SSIP;
    const user = CODE + 0x400;
    rig.load(
      Array.from({ length: 4 }, () => A.nop()),
      user,
    );
    rig.load([
      li(a1, user),
      csrw(CSR.mepc, a1),
      csrw(CSR.mstatus, zero),
      addi(a1, zero, Mip.SSIP),
      A.csrrs(zero, CSR.mip, a1),
      A.mret(),
    ]);
    rig.start().step(7);
    // Pending in M (not taken there: delegated), taken as soon as mret drops to U.
    assert.equal(rig.hart.priv, Priv.Supervisor);
    assert.deepEqual(rig.sTrap(), { cause: (INTERRUPT | 1) >>> 0, epc: user, tval: 0 });
    assert.equal(rig.hart.pc >>> 0, S_TRAP);
  });

  describe('WFI', () => {
    it('sleeps: run returns at once with hart.wfi set and pc after the wfi', () => {
      const rig = new Rig();
      rig.load([addi(a0, zero, 1), A.wfi(), addi(a0, a0, 1)]);
      rig.start().hart.run(1000);
      assert.ok(rig.hart.wfi);
      assert.equal(rig.hart.instret, 2);
      assert.equal(rig.hart.pc >>> 0, CODE + 8);
      rig.hart.run(2000);
      assert.equal(rig.hart.instret, 2, 'run does nothing while asleep');
    });

    it('a pending interrupt enabled in mie wakes it even with MIE = 0; execution goes on after the wfi', () => {
      const rig = new Rig();
      let woken = 0;
      rig.hart.onWake = () => woken++;
      rig.hart.mie = Mip.MTIP;
      rig.load([A.wfi(), addi(a0, zero, 7), A.wfi()]);
      rig.start().hart.run(100);
      assert.ok(rig.hart.wfi);
      rig.hart.setPending(Mip.MSIP, true);
      assert.ok(rig.hart.wfi, 'MSIP is not enabled in mie');
      assert.equal(woken, 0);
      rig.hart.setPending(Mip.MTIP, true);
      assert.ok(!rig.hart.wfi);
      assert.equal(woken, 1);
      rig.step(1);
      assert.equal(rig.x(a0), 7);
      assert.equal(rig.hart.mcause, 0, 'MIE = 0: no trap');
    });

    it('woken with MIE = 1, the interrupt is taken with mepc after the wfi', () => {
      const rig = new Rig();
      rig.hart.mie = Mip.MEIP;
      rig.hart.mstatus = Mstatus.MIE;
      rig.load([A.wfi(), A.nop(), A.nop()]);
      rig.start().hart.run(100);
      assert.ok(rig.hart.wfi);
      rig.hart.setPending(Mip.MEIP, true);
      rig.step(1);
      assert.equal(rig.hart.mcause >>> 0, (INTERRUPT | 11) >>> 0);
      const epc = rig.hart.mepc >>> 0;
      assert.ok(epc >= CODE + 4 && epc <= CODE + 12, `mepc 0x${epc.toString(16)} is after the wfi`);
    });

    it('does not sleep when an enabled interrupt is already pending', () => {
      const rig = new Rig();
      rig.hart.mie = Mip.SEIP;
      rig.hart.setPending(Mip.SEIP, true);
      rig.load([A.wfi(), addi(a0, zero, 3)]);
      rig.start().step(2);
      assert.ok(!rig.hart.wfi);
      assert.equal(rig.x(a0), 3);
    });

    it('in S with a delegated interrupt pending but SIE = 0 wakes and goes on', () => {
      const rig = new Rig();
      rig.hart.mideleg = S_LEVEL;
      rig.hart.mie = Mip.STIP;
      rig.load([A.wfi(), addi(a1, zero, 1)]);
      rig.start(CODE, Priv.Supervisor).hart.run(100);
      assert.ok(rig.hart.wfi);
      rig.hart.setPending(Mip.STIP, true);
      rig.step(1);
      assert.equal(rig.x(a1), 1);
      assert.equal(rig.hart.priv, Priv.Supervisor);
    });
  });
});
