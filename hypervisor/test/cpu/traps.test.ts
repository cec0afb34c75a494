// Synchronous traps: causes, xepc/xtval, the status stacks on entry and on mret/sret, delegation
// through medeleg, and the trap bits of mstatus (TSR, TW, TVM).
import assert from 'node:assert/strict';
import { Mstatus } from '../../src/cpu/csr.js';
import { Cause, Priv } from '../../src/cpu/exceptions.js';
import * as A from '../../testing/asm.js';
import { a0, a1, addi, CSR, csrr, csrw, ecall, li, zero } from '../../testing/asm.js';
import { CODE, M_TRAP, Rig, S_TRAP } from './rig.js';

const MPP_SHIFT = 11;
const mppOf = (mstatus: number): number => (mstatus >>> MPP_SHIFT) & 3;
const PRIVS: Array<[string, Priv]> = [
  ['U', Priv.User],
  ['S', Priv.Supervisor],
  ['M', Priv.Machine],
];

describe('traps', () => {
  describe('entry into M', () => {
    for (const [name, priv] of PRIVS) {
      it(`ecall from ${name} raises cause ${Cause.EcallFromU + priv} with mepc = the ecall, mtval = 0, MPP = ${name}`, () => {
        const rig = new Rig();
        rig.hart.mtval = 0x1234;
        rig.load([A.nop(), ecall()]);
        rig.start(CODE, priv).runToHalt();
        assert.deepEqual(rig.mTrap(), { cause: Cause.EcallFromU + priv, epc: CODE + 4, tval: 0 });
        assert.equal(rig.hart.priv, Priv.Machine);
        assert.equal(rig.hart.pc >>> 0, M_TRAP + 4, 'the handler ran');
        assert.equal(mppOf(rig.hart.mstatus), priv);
        assert.equal(rig.hart.instret, 2, "the nop and the handler's wfi: ecall does not retire");
      });
    }

    it('ebreak raises a breakpoint with mepc = the ebreak (mtval 0 or its pc)', () => {
      const rig = new Rig().exec([A.nop(), A.ebreak()]);
      const t = rig.mTrap();
      assert.equal(t.cause, Cause.Breakpoint);
      assert.equal(t.epc, CODE + 4);
      assert.ok(t.tval === 0 || t.tval === CODE + 4);
    });

    it('an illegal instruction in the middle of a block: mepc = it, mtval = its bits, earlier ones retired', () => {
      const bad = 0x0000_707f; // custom-3 opcode space: not an RV32IMA instruction
      const rig = new Rig().exec([addi(a0, zero, 1), addi(a0, a0, 1), bad, addi(a0, a0, 1)]);
      assert.deepEqual(rig.mTrap(), { cause: Cause.IllegalInstruction, epc: CODE + 8, tval: bad });
      assert.equal(rig.x(a0), 2);
      assert.equal(rig.hart.instret, 3, "two addi and the handler's wfi");
    });

    it('MPIE takes MIE, MIE is cleared', () => {
      for (const mie of [0, Mstatus.MIE]) {
        const rig = new Rig();
        rig.hart.mstatus = mie;
        rig.load([ecall()]);
        rig.start().step(1);
        assert.equal(rig.hart.mstatus & Mstatus.MIE, 0);
        assert.equal(rig.hart.mstatus & Mstatus.MPIE, mie ? Mstatus.MPIE : 0);
      }
    });

    it('traps go to the mtvec base even in vectored mode', () => {
      const rig = new Rig();
      rig.hart.mtvec = M_TRAP | 1;
      rig.exec([ecall()]);
      assert.equal(rig.hart.mcause, Cause.EcallFromM);
      assert.equal(rig.mTrap().epc, CODE);
    });
  });

  describe('ecalls served by the VMM (SBI)', () => {
    it('an S ecall the handler serves retires without a trap; U and M ecalls never reach it', () => {
      for (const [, priv] of PRIVS) {
        const rig = new Rig();
        const seen: number[] = [];
        rig.hart.ecallHandler = (h) => {
          seen.push(h.priv);
          h.x[a0] = 0x5b1;
          return true;
        };
        rig.load([ecall(), addi(a1, zero, 1), ecall()]);
        rig.start(CODE, priv).step(2);
        if (priv === Priv.Supervisor) {
          assert.deepEqual(seen, [Priv.Supervisor]);
          assert.equal(rig.x(a0), 0x5b1);
          assert.equal(rig.x(a1), 1);
          assert.equal(rig.hart.mcause, 0);
          assert.equal(rig.hart.pc >>> 0, CODE + 8);
        } else {
          assert.deepEqual(seen, []);
          assert.equal(rig.hart.mcause, Cause.EcallFromU + priv);
        }
      }
    });
    it('an ecall the handler declines traps as usual', () => {
      const rig = new Rig();
      rig.hart.ecallHandler = () => false;
      rig.exec([], Priv.Supervisor);
      assert.deepEqual(rig.mTrap(), { cause: Cause.EcallFromS, epc: CODE, tval: 0 });
    });
  });

  describe('delegation to S', () => {
    it('a delegated U ecall goes to stvec with scause/sepc/stval, SPP = U, SPIE = SIE; M registers untouched', () => {
      const rig = new Rig();
      rig.hart.medeleg = 1 << Cause.EcallFromU;
      rig.hart.mstatus = Mstatus.SIE;
      rig.hart.stval = 0x55;
      rig.load([A.nop(), ecall()]);
      rig.start(CODE, Priv.User).runToHalt();
      assert.deepEqual(rig.sTrap(), { cause: Cause.EcallFromU, epc: CODE + 4, tval: 0 });
      assert.equal(rig.hart.priv, Priv.Supervisor);
      assert.equal(rig.hart.pc >>> 0, S_TRAP + 4, 'the S handler ran');
      const s = rig.hart.mstatus;
      assert.equal(s & Mstatus.SPP, 0);
      assert.equal(s & Mstatus.SPIE, Mstatus.SPIE);
      assert.equal(s & Mstatus.SIE, 0);
      assert.deepEqual(rig.mTrap(), { cause: 0, epc: 0, tval: 0 });
    });

    it('a delegated illegal instruction from S sets SPP = S and stval = the instruction', () => {
      const rig = new Rig();
      rig.hart.medeleg = 1 << Cause.IllegalInstruction;
      rig.exec([A.mret()], Priv.Supervisor);
      assert.deepEqual(rig.sTrap(), { cause: Cause.IllegalInstruction, epc: CODE, tval: A.mret() });
      assert.equal(rig.hart.mstatus & Mstatus.SPP, Mstatus.SPP);
      assert.equal(rig.hart.mstatus & Mstatus.SPIE, 0, 'SIE was 0');
    });

    it('exceptions in M are never delegated', () => {
      const rig = new Rig();
      rig.hart.medeleg = 0xffff;
      rig.exec([A.ebreak()]);
      assert.equal(rig.hart.mcause, Cause.Breakpoint);
      assert.equal(rig.hart.scause, 0);
    });

    it('an undelegated exception from S goes to M', () => {
      const rig = new Rig();
      rig.hart.medeleg = 1 << Cause.EcallFromU;
      rig.exec([A.ebreak()], Priv.Supervisor);
      assert.equal(rig.hart.mcause, Cause.Breakpoint);
      assert.equal(mppOf(rig.hart.mstatus), Priv.Supervisor);
    });

    it('ecall from S with ecall-from-S delegated stays in S', () => {
      const rig = new Rig();
      rig.hart.medeleg = 1 << Cause.EcallFromS;
      rig.exec([A.nop()], Priv.Supervisor);
      assert.deepEqual(rig.sTrap(), { cause: Cause.EcallFromS, epc: CODE + 4, tval: 0 });
    });
  });

  describe('mret and sret', () => {
    it('mret restores MIE from MPIE, sets MPIE, drops to MPP, leaves MPP = U, jumps to mepc', () => {
      for (const [, to] of PRIVS) {
        const rig = new Rig();
        rig.hart.mepc = CODE + 0x100;
        rig.hart.mstatus = (to << MPP_SHIFT) | Mstatus.MPIE;
        rig.load([A.mret()]);
        rig.start().step(1);
        assert.equal(rig.hart.priv, to);
        assert.equal(rig.hart.pc >>> 0, CODE + 0x100);
        assert.equal(rig.hart.mstatus & (Mstatus.MIE | Mstatus.MPIE), Mstatus.MIE | Mstatus.MPIE);
        assert.equal(mppOf(rig.hart.mstatus), Priv.User);
        assert.equal(rig.hart.instret, 1, 'mret retires');
      }
    });

    it('mret to S or U clears MPRV; to M keeps it', () => {
      for (const [, to] of PRIVS) {
        const rig = new Rig();
        rig.hart.mepc = CODE + 0x100;
        rig.hart.mstatus = (to << MPP_SHIFT) | Mstatus.MPRV;
        rig.load([A.mret()]);
        rig.start().step(1);
        assert.equal(rig.hart.mstatus & Mstatus.MPRV, to === Priv.Machine ? Mstatus.MPRV : 0);
      }
    });

    it('sret restores SIE from SPIE, sets SPIE, drops to SPP, leaves SPP = U, jumps to sepc', () => {
      for (const [, to] of PRIVS.slice(0, 2)) {
        for (const from of [Priv.Supervisor, Priv.Machine]) {
          const rig = new Rig();
          rig.hart.sepc = CODE + 0x200;
          rig.hart.mstatus = (to === Priv.Supervisor ? Mstatus.SPP : 0) | Mstatus.SPIE;
          rig.load([A.sret()]);
          rig.start(CODE, from).step(1);
          assert.equal(rig.hart.priv, to);
          assert.equal(rig.hart.pc >>> 0, CODE + 0x200);
          assert.equal(rig.hart.mstatus & (Mstatus.SIE | Mstatus.SPIE | Mstatus.SPP), Mstatus.SIE | Mstatus.SPIE);
        }
      }
    });

    it('a round trip: M sets up U code with mret, U ecalls back, mepc points at the ecall', () => {
      const rig = new Rig();
      const user = CODE + 0x400;
      rig.load([addi(a0, zero, 42), ecall()], user);
      rig.exec([li(a1, user), csrw(CSR.mepc, a1), csrw(CSR.mstatus, zero), A.mret()]);
      assert.deepEqual(rig.mTrap(), { cause: Cause.EcallFromU, epc: user + 4, tval: 0 });
      assert.equal(rig.x(a0), 42);
    });

    // [instruction, privilege, mstatus bits]: each must be an illegal instruction.
    const ILLEGAL: Array<[string, number, Priv, number]> = [
      ['mret in S', A.mret(), Priv.Supervisor, 0],
      ['mret in U', A.mret(), Priv.User, 0],
      ['sret in U', A.sret(), Priv.User, 0],
      ['sret in S with TSR', A.sret(), Priv.Supervisor, Mstatus.TSR],
      ['wfi in U', A.wfi(), Priv.User, 0],
      ['wfi in S with TW', A.wfi(), Priv.Supervisor, Mstatus.TW],
      ['sfence.vma in U', A.sfence_vma(), Priv.User, 0],
      ['sfence.vma in S with TVM', A.sfence_vma(), Priv.Supervisor, Mstatus.TVM],
      ['csrr satp in S with TVM', csrr(a0, CSR.satp), Priv.Supervisor, Mstatus.TVM],
      ['csrw satp in S with TVM', csrw(CSR.satp, zero), Priv.Supervisor, Mstatus.TVM],
    ];
    for (const [what, insn, priv, bits] of ILLEGAL) {
      it(`${what} is illegal`, () => {
        const rig = new Rig();
        rig.hart.mstatus = bits;
        rig.exec([insn], priv);
        assert.deepEqual(rig.mTrap(), { cause: Cause.IllegalInstruction, epc: CODE, tval: insn >>> 0 });
      });
    }

    // The trap bits bind only the privilege below M.
    const ALLOWED: Array<[string, number, Priv, number]> = [
      ['sret in M with TSR', A.sret(), Priv.Machine, Mstatus.TSR],
      ['sfence.vma in M with TVM', A.sfence_vma(), Priv.Machine, Mstatus.TVM],
      ['csrr satp in M with TVM', csrr(a0, CSR.satp), Priv.Machine, Mstatus.TVM],
      ['sfence.vma in S', A.sfence_vma(a0, a1), Priv.Supervisor, 0],
      ['csrr satp in S', csrr(a0, CSR.satp), Priv.Supervisor, 0],
      ['wfi in S', A.wfi(), Priv.Supervisor, 0],
    ];
    for (const [what, insn, priv, bits] of ALLOWED) {
      it(`${what} is allowed`, () => {
        const rig = new Rig();
        rig.hart.mstatus = bits;
        rig.hart.sepc = CODE + 4; // sret lands on the next instruction
        rig.load([insn, ecall()]);
        rig.start(CODE, priv).step(1);
        assert.equal(rig.hart.mcause, 0, 'no trap');
        assert.equal(rig.hart.pc >>> 0, CODE + 4);
      });
    }
  });
});
