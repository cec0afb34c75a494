// Zicsr and the CSRs of the privileged spec: the six instructions and their x0 rules, WARL
// fields, views (sstatus, sie, sip), privilege and read-only checks, and the counters.
import assert from 'node:assert/strict';
import { Cause, Priv } from '../../src/cpu/exceptions.js';
import { Mip } from '../../src/cpu/mip.js';
import * as A from '../../testing/asm.js';
import { a0, a1, a2, a3, a4, addi, CSR, csrr, csrw, li, zero } from '../../testing/asm.js';
import { CODE, Rig } from './rig.js';

const ALL = -1;
/** MIE, SIE, MPIE, SPIE, SPP, MPP, MPRV, SUM, MXR, TVM, TW, TSR: what a write of all ones leaves in mstatus. */
const MSTATUS_WRITABLE = 0x007e_19aa;
/** SIE, SPIE, SPP, SUM, MXR. */
const SSTATUS_VIEW = 0x000c_0122;
const S_INTERRUPTS = Mip.SSIP | Mip.STIP | Mip.SEIP;
const ALL_INTERRUPTS = S_INTERRUPTS | Mip.MSIP | Mip.MTIP | Mip.MEIP;

/** Runs one instruction in `priv` and expects an illegal-instruction trap into M with mtval = its bits. */
function expectIllegal(insn: number, priv: Priv, setup: (rig: Rig) => void = () => {}): void {
  const rig = new Rig();
  setup(rig);
  rig.exec([insn], priv);
  const what = `0x${insn.toString(16)} in priv ${priv}`;
  assert.deepEqual(rig.mTrap(), { cause: Cause.IllegalInstruction, epc: CODE, tval: insn >>> 0 }, what);
  assert.equal(rig.hart.priv, Priv.Machine);
}

/** Runs one instruction in `priv` and expects it to retire (the ecall after it traps with 8 + priv). */
function expectLegal(insn: number, priv: Priv, setup: (rig: Rig) => void = () => {}): Rig {
  const rig = new Rig();
  setup(rig);
  rig.exec([insn], priv);
  const want =
    priv === Priv.Machine ? { cause: 0, epc: 0, tval: 0 } : { cause: Cause.EcallFromU + priv, epc: CODE + 4, tval: 0 };
  assert.deepEqual(rig.mTrap(), want, `0x${insn.toString(16)} in priv ${priv}`);
  return rig;
}

describe('CSRs', () => {
  describe('the six instructions', () => {
    it('csrrw/csrrs/csrrc return the old value and write, set, clear', () => {
      const rig = new Rig().exec([
        li(a1, 0xf0f0),
        csrw(CSR.mscratch, a1),
        li(a2, 0x0ff0),
        A.csrrs(a0, CSR.mscratch, a2),
        csrr(a3, CSR.mscratch),
        A.csrrc(a4, CSR.mscratch, a1),
        csrr(a1, CSR.mscratch),
      ]);
      assert.equal(rig.x(a0), 0xf0f0);
      assert.equal(rig.x(a3), 0xfff0);
      assert.equal(rig.x(a4), 0xfff0);
      assert.equal(rig.x(a1), 0x0f00);
    });
    it('the immediate forms use a zero-extended 5-bit uimm', () => {
      const rig = new Rig().exec([
        A.csrrwi(a0, CSR.mscratch, 31),
        A.csrrsi(a1, CSR.mscratch, 0),
        A.csrrci(a2, CSR.mscratch, 5),
        A.csrrsi(a3, CSR.mscratch, 16),
        csrr(a4, CSR.mscratch),
      ]);
      assert.equal(rig.x(a0), 0);
      assert.equal(rig.x(a1), 31);
      assert.equal(rig.x(a2), 31);
      assert.equal(rig.x(a3), 26);
      assert.equal(rig.x(a4), 26);
    });
    it('csrrw with rd = x0 writes; rd = rs1 reads the old value and writes the old rs1', () => {
      const rig = new Rig().exec([
        li(a1, 123),
        csrw(CSR.mscratch, a1),
        li(a1, 456),
        A.csrrw(a1, CSR.mscratch, a1),
        csrr(a2, CSR.mscratch),
      ]);
      assert.equal(rig.x(a1), 123);
      assert.equal(rig.x(a2), 456);
    });

    // Writes to a read-only CSR are illegal only when the instruction writes at all.
    const READ_ONLY_ACCESSES: Array<[string, number, boolean]> = [
      ['csrrs rs1=x0', A.csrrs(a0, CSR.mhartid, zero), true],
      ['csrrc rs1=x0', A.csrrc(a0, CSR.mhartid, zero), true],
      ['csrrsi uimm=0', A.csrrsi(a0, CSR.mvendorid, 0), true],
      ['csrrci uimm=0', A.csrrci(a0, CSR.marchid, 0), true],
      ['csrrs rs1=a1 (value 0)', A.csrrs(a0, CSR.mhartid, a1), false],
      ['csrrc rs1=a1 (value 0)', A.csrrc(a0, CSR.mimpid, a1), false],
      ['csrrw rd=x0', A.csrrw(zero, CSR.mhartid, zero), false],
      ['csrrwi uimm=0', A.csrrwi(a0, CSR.mhartid, 0), false],
      ['csrrsi uimm=1', A.csrrsi(a0, CSR.mhartid, 1), false],
      ['csrrw to cycle', A.csrrw(a0, CSR.cycle, a1), false],
      ['csrrs to instret', A.csrrsi(a0, CSR.instret, 1), false],
      ['csrrw to time', A.csrrw(a0, CSR.time, a1), false],
      ['csrrw to timeh', A.csrrw(a0, CSR.timeh, a1), false],
    ];
    for (const [what, insn, legal] of READ_ONLY_ACCESSES) {
      it(`read-only CSR, ${what}: ${legal ? 'reads' : 'illegal, mtval = the instruction'}`, () => {
        if (legal) expectLegal(insn, Priv.Machine);
        else expectIllegal(insn, Priv.Machine);
      });
    }

    it('CSRs that do not exist are illegal', () => {
      for (const csr of [0x7c0, 0x5c0, 0x800, 0x205, 0x3a4, 0xfff, 0x015]) expectIllegal(csrr(a0, csr), Priv.Machine);
    });
  });

  describe('privilege', () => {
    // [csr, lowest privilege that may read it]
    const LEVELS: Array<[string, number, Priv]> = [
      ['mstatus', CSR.mstatus, Priv.Machine],
      ['mscratch', CSR.mscratch, Priv.Machine],
      ['mhartid', CSR.mhartid, Priv.Machine],
      ['minstret', CSR.minstret, Priv.Machine],
      ['mip', CSR.mip, Priv.Machine],
      ['sstatus', CSR.sstatus, Priv.Supervisor],
      ['sscratch', CSR.sscratch, Priv.Supervisor],
      ['satp', CSR.satp, Priv.Supervisor],
      ['sip', CSR.sip, Priv.Supervisor],
    ];
    for (const [name, csr, lowest] of LEVELS) {
      it(`${name} is readable from privilege ${lowest} up and illegal below`, () => {
        for (const priv of [Priv.User, Priv.Supervisor, Priv.Machine]) {
          if (priv >= lowest) expectLegal(csrr(a0, csr), priv);
          else
            for (const insn of [csrr(a0, csr), A.csrrw(zero, csr, zero), A.csrrsi(zero, csr, 1)])
              expectIllegal(insn, priv);
        }
      });
    }
    it('an illegal CSR access leaves rd and the CSR untouched', () => {
      const rig = new Rig();
      rig.hart.mscratch = 77;
      rig.exec([li(a0, 5), li(a1, 9), A.csrrw(a0, CSR.mscratch, a1)], Priv.Supervisor);
      assert.equal(rig.hart.mcause, Cause.IllegalInstruction);
      assert.equal(rig.x(a0), 5);
      assert.equal(rig.hart.mscratch, 77);
    });
  });

  describe('mstatus and sstatus', () => {
    it('mstatus keeps only its writable fields; sstatus is a view of it', () => {
      const rig = new Rig().exec([li(a1, ALL), csrw(CSR.mstatus, a1), csrr(a0, CSR.mstatus), csrr(a2, CSR.sstatus)]);
      // MPP=3 of all ones is M; the rest are the single-bit fields.
      assert.equal(rig.u(a0), MSTATUS_WRITABLE);
      assert.equal(rig.u(a2), SSTATUS_VIEW);
    });
    it('MPP is WARL: the reserved value 2 is not kept', () => {
      const rig = new Rig().exec([li(a1, 2 << 11), csrw(CSR.mstatus, a1), csrr(a0, CSR.mstatus)]);
      assert.notEqual((rig.x(a0) >>> 11) & 3, 2);
    });
    it('writing sstatus from S changes only the S fields of mstatus', () => {
      const rig = new Rig();
      rig.exec([li(a1, ALL), csrw(CSR.sstatus, a1), csrr(a0, CSR.sstatus)], Priv.Supervisor);
      assert.equal(rig.u(a0), SSTATUS_VIEW);
      // The closing ecall from S only set MPP = S (MIE was 0, so MPIE stays 0).
      assert.equal(rig.hart.mstatus >>> 0, SSTATUS_VIEW | (Priv.Supervisor << 11));
    });
    it('csrrc on sstatus from M clears only the S fields', () => {
      const rig = new Rig().exec([
        li(a1, ALL),
        csrw(CSR.mstatus, a1),
        csrw(CSR.sstatus, zero),
        A.csrrc(zero, CSR.sstatus, a1),
        csrr(a0, CSR.mstatus),
      ]);
      assert.equal(rig.u(a0), MSTATUS_WRITABLE & ~SSTATUS_VIEW);
    });
  });

  describe('interrupt registers', () => {
    it('mie keeps the six standard bits; mideleg only the S interrupts; medeleg all but ecall-from-M and reserved codes', () => {
      const rig = new Rig().exec([
        li(a1, ALL),
        csrw(CSR.mie, a1),
        csrw(CSR.mideleg, a1),
        csrw(CSR.medeleg, a1),
        csrr(a0, CSR.mie),
        csrr(a2, CSR.mideleg),
        csrr(a3, CSR.medeleg),
      ]);
      assert.equal(rig.u(a0), ALL_INTERRUPTS);
      assert.equal(rig.u(a2), S_INTERRUPTS);
      assert.equal(rig.u(a3), 0xb3ff);
    });
    it('sie and sip show only what mideleg delegates', () => {
      const rig = new Rig();
      rig.hart.setPending(Mip.MTIP | Mip.STIP | Mip.SEIP, true);
      rig.exec([
        li(a1, ALL),
        csrw(CSR.mie, a1),
        li(a1, Mip.SSIP | Mip.STIP),
        csrw(CSR.mideleg, a1),
        csrr(a0, CSR.sie),
        csrr(a2, CSR.sip),
        csrr(a3, CSR.mip),
        csrw(CSR.mie, zero), // so the final wfi sleeps
      ]);
      assert.equal(rig.u(a0), Mip.SSIP | Mip.STIP);
      assert.equal(rig.u(a2), Mip.STIP);
      assert.equal(rig.u(a3), Mip.MTIP | Mip.STIP | Mip.SEIP);
    });
    it('sie writes reach only delegated bits of mie', () => {
      const rig = new Rig().exec([
        li(a1, Mip.SSIP),
        csrw(CSR.mideleg, a1),
        li(a1, Mip.MTIP),
        csrw(CSR.mie, a1),
        li(a1, ALL),
        csrw(CSR.sie, a1),
        csrr(a0, CSR.mie),
        csrw(CSR.sie, zero),
        csrr(a2, CSR.mie),
      ]);
      assert.equal(rig.u(a0), Mip.MTIP | Mip.SSIP);
      assert.equal(rig.u(a2), Mip.MTIP);
    });
    it('M software may set SSIP, STIP and SEIP in mip but not the M bits the devices drive', () => {
      const rig = new Rig().exec([li(a1, ALL), csrw(CSR.mip, a1), csrr(a0, CSR.mip)]);
      assert.equal(rig.u(a0), S_INTERRUPTS);
    });
    it('a device-driven bit stays set across an mip write that clears everything', () => {
      const rig = new Rig();
      rig.hart.setPending(Mip.MTIP | Mip.SEIP, true);
      rig.exec([csrw(CSR.mip, zero), csrr(a0, CSR.mip)]);
      assert.equal(rig.u(a0), Mip.MTIP | Mip.SEIP);
    });
    it("csrs/csrc on mip modify only the software-writable bits, not a device's SEIP level", () => {
      // Privileged spec, mip: "Only the software-writable SEIP bit participates in the
      // read-modify-write sequence of a CSRRS or CSRRC instruction." An M firmware doing
      // csrs mip, STIP while the PLIC asserts SEIP must not latch SEIP once the PLIC lets go.
      for (const insn of [A.csrrs(zero, CSR.mip, a1), A.csrrc(zero, CSR.mip, a2)]) {
        const rig = new Rig();
        rig.hart.setPending(Mip.SEIP, true);
        rig.exec([li(a1, Mip.STIP), li(a2, Mip.SSIP), insn]);
        rig.hart.setPending(Mip.SEIP, false);
        assert.equal(rig.hart.mip & Mip.SEIP, 0, `0x${insn.toString(16)}`);
      }
    });
    it('a SEIP written by M software stays when the device level drops; reads show the OR', () => {
      const rig = new Rig();
      rig.hart.setPending(Mip.SEIP, true);
      rig.exec([li(a1, Mip.SEIP), A.csrrs(zero, CSR.mip, a1), csrr(a0, CSR.mip)]);
      rig.hart.setPending(Mip.SEIP, false);
      assert.equal(rig.u(a0), Mip.SEIP);
      assert.equal(rig.hart.mip, Mip.SEIP);
    });
    it('S may write SSIP through sip only when it is delegated; STIP never', () => {
      const run = (mideleg: number): number => {
        const rig = new Rig();
        rig.hart.mideleg = mideleg;
        rig.exec([li(a1, ALL), csrw(CSR.sip, a1)], Priv.Supervisor);
        return rig.hart.mip;
      };
      assert.equal(run(S_INTERRUPTS), Mip.SSIP);
      assert.equal(run(0), 0);
    });
  });

  describe('identification and WARL registers', () => {
    it('misa is RV32 with A, C, I, M, S, U and ignores writes', () => {
      const rig = new Rig().exec([
        li(a1, 0),
        csrw(CSR.misa, a1),
        csrr(a0, CSR.misa),
        csrr(a2, CSR.mhartid),
        csrr(a3, CSR.mvendorid),
      ]);
      assert.equal(rig.u(a0), 0x4014_1105);
      assert.equal(rig.x(a2), 0);
      assert.equal(rig.x(a3), 0);
    });
    it('mtvec/stvec keep direct and vectored modes and drop reserved ones; mepc/sepc drop bit 0 (C is on)', () => {
      const rig = new Rig().exec([
        li(a1, 0x8000_1001),
        csrw(CSR.mtvec, a1),
        csrr(a0, CSR.mtvec),
        li(a1, 0x8000_1002),
        csrw(CSR.stvec, a1),
        csrr(a2, CSR.stvec),
        li(a1, 0x8000_1003),
        csrw(CSR.mepc, a1),
        csrr(a3, CSR.mepc),
        csrw(CSR.sepc, a1),
        csrr(a4, CSR.sepc),
      ]);
      assert.equal(rig.u(a0), 0x8000_1001);
      assert.equal(rig.u(a2) & 3, 0, 'mode 2 is reserved');
      assert.equal(rig.u(a3), 0x8000_1002);
      assert.equal(rig.u(a4), 0x8000_1002);
    });
    it('pmpcfg and pmpaddr read back; a locked entry ignores writes to itself and its address', () => {
      const LOCK = 0x80;
      const rig = new Rig().exec([
        li(a1, 0x1f1f_1f1f),
        csrw(0x3a0, a1),
        li(a1, 0x1234_5678),
        csrw(0x3b0, a1),
        csrw(0x3b1, a1),
        li(a1, LOCK | 0x1f),
        csrw(0x3a0, a1), // entry 0 locked, entries 1..3 cleared
        li(a1, -1),
        csrw(0x3b0, a1),
        csrw(0x3b1, a1),
        csrw(0x3a0, a1),
        csrr(a0, 0x3a0),
        csrr(a2, 0x3b0),
        csrr(a3, 0x3b1),
        csrr(a4, 0x3bf),
      ]);
      assert.equal(rig.u(a0), 0xffff_ff9f, 'byte 0 kept, bytes 1..3 written');
      assert.equal(rig.u(a2), 0x1234_5678, 'pmpaddr0 locked');
      assert.equal(rig.x(a3), -1, 'pmpaddr1 not locked');
      assert.equal(rig.x(a4), 0);
    });
    it('satp has no ASID bits', () => {
      const rig = new Rig().exec([li(a1, ALL), csrw(CSR.satp, a1), csrr(a0, CSR.satp), csrw(CSR.satp, zero)]);
      assert.equal(rig.u(a0), 0x803f_ffff);
    });
  });

  describe('debug triggers (the hart has none)', () => {
    const TSELECT = 0x7a0,
      TDATA1 = 0x7a1,
      TDATA2 = 0x7a2,
      TDATA3 = 0x7a3,
      TINFO = 0x7a4;
    it('tselect keeps no value but 0; tdata1 reads type 0 (no trigger); tdata2/3 read 0; tinfo reads 1', () => {
      const rig = new Rig().exec([
        li(a1, ALL),
        A.csrrw(a0, TSELECT, a1),
        csrr(a2, TSELECT),
        csrw(TDATA1, a1),
        csrr(a3, TDATA1),
        csrw(TDATA2, a1),
        csrw(TDATA3, a1),
        csrr(a4, TDATA2),
        A.csrrs(a4, TDATA3, a4),
        csrr(a1, TINFO),
      ]);
      assert.equal(rig.x(a0), 0, 'tselect resets to 0');
      assert.equal(rig.x(a2), 0, 'a write of another value reads back 0');
      assert.equal(rig.x(a3), 0, 'tdata1: type 0, dmode 0, data 0');
      assert.equal(rig.x(a4), 0);
      assert.equal(rig.x(a1), 1, 'tinfo.info: type 0 only');
    });
    it('the trigger registers are M-mode only, and tinfo is read-only', () => {
      for (const csr of [TSELECT, TDATA1, TDATA2, TDATA3, TINFO]) {
        expectIllegal(csrr(a0, csr), Priv.Supervisor);
        expectIllegal(csrr(a0, csr), Priv.User);
      }
      expectIllegal(csrw(TINFO, a1), Priv.Machine);
    });
  });

  describe('counters', () => {
    it('instret and cycle count the instructions retired before the reading one', () => {
      const rig = new Rig().exec([
        A.nop(),
        A.nop(),
        csrr(a0, CSR.instret),
        csrr(a1, CSR.cycle),
        csrr(a2, CSR.minstret),
        csrr(a3, CSR.instreth),
      ]);
      assert.deepEqual([rig.x(a0), rig.x(a1), rig.x(a2), rig.x(a3)], [2, 3, 4, 0]);
    });
    it('a minstret write is what the next instruction sees; minstreth sets the high half', () => {
      const rig = new Rig().exec([
        li(a1, -2),
        csrw(CSR.minstret, a1),
        csrr(a0, CSR.minstret),
        addi(a1, zero, 5),
        csrw(CSR.minstreth, a1),
        csrr(a2, CSR.instreth),
        csrr(a3, CSR.instret),
        csrr(a4, CSR.cycleh),
      ]);
      assert.equal(rig.x(a0), -2);
      assert.equal(rig.x(a2), 5);
      // -2, then 3 more instructions: the low half wrapped into the high one, then minstreth set it to 5.
      assert.equal(rig.u(a3), 1);
      assert.equal(rig.x(a4), 5);
    });
    it('mcycle writes set the same count', () => {
      const rig = new Rig().exec([li(a1, 1000), csrw(CSR.mcycle, a1), csrr(a0, CSR.instret)]);
      assert.equal(rig.x(a0), 1000);
    });
    it('time and timeh read the clock', () => {
      const rig = new Rig();
      rig.clock.ticks = 0x1_2345_6789;
      rig.exec([csrr(a0, CSR.time), csrr(a1, CSR.timeh)]);
      assert.equal(rig.u(a0), 0x2345_6789);
      assert.equal(rig.x(a1), 1);
    });

    // [priv, mcounteren, scounteren, allowed]: U needs both enables, S only mcounteren's.
    const GATES: Array<[Priv, number, number, boolean]> = [
      [Priv.Supervisor, 0, ALL, false],
      [Priv.Supervisor, ALL, 0, true],
      [Priv.User, ALL, 0, false],
      [Priv.User, 0, ALL, false],
      [Priv.User, ALL, ALL, true],
    ];
    const COUNTERS: Array<[string, number, number]> = [
      ['cycle', CSR.cycle, 0],
      ['time', CSR.time, 1],
      ['instret', CSR.instret, 2],
      ['cycleh', CSR.cycleh, 0],
      ['timeh', CSR.timeh, 1],
      ['instreth', CSR.instreth, 2],
      ['hpmcounter3', 0xc03, 3],
    ];
    for (const [priv, m, s, allowed] of GATES) {
      it(`from ${priv === Priv.User ? 'U' : 'S'} with mcounteren=${m ? 'all' : 0}, scounteren=${s ? 'all' : 0}: ${allowed ? 'readable' : 'illegal'}`, () => {
        for (const [, csr, bit] of COUNTERS) {
          // Enable every counter but this one's bit where the case says 0, to see the bit is per counter.
          const setup = (rig: Rig): void => {
            rig.hart.mcounteren = m || ~(1 << bit);
            rig.hart.scounteren = s || ~(1 << bit);
          };
          if (allowed) expectLegal(csrr(a0, csr), priv, setup);
          else expectIllegal(csrr(a0, csr), priv, setup);
        }
      });
    }
    it('M may read every counter whatever the enables', () => {
      for (const [, csr] of COUNTERS) expectLegal(csrr(a0, csr), Priv.Machine);
    });
  });
});
