// RV32I, instruction by instruction, against a plain JS model of each operation and a few
// hand-worked values (in case the model and the translator share a mistake).
import assert from 'node:assert/strict';
import { Cause } from '../../src/cpu/exceptions.js';
import * as A from '../../testing/asm.js';
import { a0, a1, a2, a3, addi, li, lw, ra, s0, sw, t0, wfi, zero } from '../../testing/asm.js';
import { allPairs, CODE, DATA, evalOp, Rig } from './rig.js';

const INT_MIN = -0x8000_0000;
const INT_MAX = 0x7fff_ffff;
/** Values where signedness, carries and shift masking show. */
const VALUES = [0, 1, -1, 2, 31, 32, 33, 63, INT_MAX, INT_MIN, 0x1234_5678, -0x0123_4568, 0xff, 0x8000];

type Model = (a: number, b: number) => number;

const R_OPS: Array<[string, (rd: number, rs1: number, rs2: number) => number, Model]> = [
  ['add', A.add, (a, b) => (a + b) | 0],
  ['sub', A.sub, (a, b) => (a - b) | 0],
  ['sll', A.sll, (a, b) => a << (b & 31)],
  ['slt', A.slt, (a, b) => (a < b ? 1 : 0)],
  ['sltu', A.sltu, (a, b) => (a >>> 0 < b >>> 0 ? 1 : 0)],
  ['xor', A.xor, (a, b) => a ^ b],
  ['srl', A.srl, (a, b) => (a >>> (b & 31)) | 0],
  ['sra', A.sra, (a, b) => a >> (b & 31)],
  ['or', A.or, (a, b) => a | b],
  ['and', A.and, (a, b) => a & b],
];

const IMMEDIATES = [0, 1, -1, 2047, -2048, 0x555, -0x556, 31];
const I_OPS: Array<[string, (rd: number, rs1: number, imm: number) => number, Model]> = [
  ['addi', A.addi, (a, b) => (a + b) | 0],
  ['slti', A.slti, (a, b) => (a < b ? 1 : 0)],
  ['sltiu', A.sltiu, (a, b) => (a >>> 0 < b >>> 0 ? 1 : 0)],
  ['xori', A.xori, (a, b) => a ^ b],
  ['ori', A.ori, (a, b) => a | b],
  ['andi', A.andi, (a, b) => a & b],
];
const SHIFT_OPS: Array<[string, (rd: number, rs1: number, shamt: number) => number, Model]> = [
  ['slli', A.slli, (a, s) => a << s],
  ['srli', A.srli, (a, s) => (a >>> s) | 0],
  ['srai', A.srai, (a, s) => a >> s],
];

/** [op, a, b, result]: worked by hand. */
const HAND: Array<[(rd: number, rs1: number, rs2: number) => number, number, number, number]> = [
  [A.sll, 1, 33, 2], // shift amounts use only their low 5 bits
  [A.srl, -8, 1, 0x7fff_fffc],
  [A.sra, -8, 1, -4],
  [A.sra, INT_MIN, 63, -1],
  [A.slt, -1, 1, 1],
  [A.sltu, -1, 1, 0],
  [A.sub, INT_MIN, 1, INT_MAX],
  [A.add, INT_MAX, 1, INT_MIN],
];

describe('RV32I', () => {
  describe('register-register ALU', () => {
    for (const [name, op, model] of R_OPS) {
      it(`${name} over signed/unsigned edge values`, () => {
        const pairs = allPairs(VALUES);
        const got = evalOp(op, pairs);
        pairs.forEach(([a, b], i) => assert.equal(got[i], model(a, b), `${name} ${a}, ${b}`));
      });
    }
    it('hand-worked results', () => {
      HAND.forEach(([op, a, b, want]) => assert.equal(evalOp(op, [[a, b]])[0], want));
    });
    it('works when rd, rs1 and rs2 are the same register', () => {
      const rig = new Rig().exec([li(a0, 21), A.add(a0, a0, a0), li(a1, 5), A.sub(a1, a1, a1)]);
      assert.equal(rig.x(a0), 42);
      assert.equal(rig.x(a1), 0);
    });
  });

  describe('register-immediate ALU', () => {
    for (const [name, op, model] of I_OPS) {
      it(`${name} with sign-extended 12-bit immediates`, () => {
        const pairs = VALUES.flatMap((a) => IMMEDIATES.map((imm): [number, number] => [a, imm]));
        const got = evalOp((rd, rs1, _rs2, imm) => op(rd, rs1, imm), pairs);
        pairs.forEach(([a, imm], i) => assert.equal(got[i], model(a, imm), `${name} ${a}, ${imm}`));
      });
    }
    for (const [name, op, model] of SHIFT_OPS) {
      it(`${name} by every amount 0..31`, () => {
        const pairs = [-0x1234_5679, 0x4321_8765, -1, 1].flatMap((a) =>
          Array.from({ length: 32 }, (_, s): [number, number] => [a, s]),
        );
        const got = evalOp((rd, rs1, _rs2, s) => op(rd, rs1, s), pairs);
        pairs.forEach(([a, s], i) => assert.equal(got[i], model(a, s), `${name} ${a}, ${s}`));
      });
    }
    it('shift-immediate encodings with imm[5] set or a bad funct7 are illegal', () => {
      for (const insn of [
        A.slli(a0, a0, 1) | (1 << 25),
        A.srli(a0, a0, 1) | (1 << 25),
        A.srai(a0, a0, 1) | (1 << 26),
      ]) {
        const rig = new Rig().exec([insn]);
        assert.deepEqual(rig.mTrap(), { cause: Cause.IllegalInstruction, epc: CODE, tval: insn >>> 0 });
      }
    });
  });

  describe('lui and auipc', () => {
    it('lui loads the upper 20 bits and clears the rest', () => {
      const rig = new Rig().exec([li(a0, -1), A.lui(a0, 0xfffff), A.lui(a1, 0x80000), A.lui(a2, 1)]);
      assert.equal(rig.u(a0), 0xffff_f000);
      assert.equal(rig.u(a1), 0x8000_0000);
      assert.equal(rig.u(a2), 0x1000);
    });
    it('auipc adds to its own pc, wrapping around 2^32', () => {
      const rig = new Rig().exec([A.nop(), A.auipc(a0, 0), A.auipc(a1, 1), A.auipc(a2, 0x80000), A.auipc(a3, 0xfffff)]);
      assert.equal(rig.u(a0), CODE + 4);
      assert.equal(rig.u(a1), CODE + 8 + 0x1000);
      assert.equal(rig.u(a2), (CODE + 12 + 0x8000_0000) >>> 0);
      assert.equal(rig.u(a3), (CODE + 16 - 0x1000) >>> 0);
    });
  });

  describe('x0', () => {
    it('ignores writes by every kind of instruction and always reads 0', () => {
      const rig = new Rig();
      rig.write32(DATA, 0xdead_beef);
      rig.write32(DATA + 4, 0x1234);
      rig.exec([
        li(s0, DATA),
        A.addi(zero, zero, 5),
        A.lui(zero, 0x12345),
        A.auipc(zero, 1),
        A.add(zero, s0, s0),
        A.lw(zero, s0, 0),
        A.mul(zero, s0, s0),
        A.csrrs(zero, A.CSR.mscratch, s0),
        A.amoadd_w(zero, s0, s0),
        A.jal(zero, 4),
        A.auipc(t0, 0),
        A.jalr(zero, t0, 8),
        A.nop(),
        A.addi(a0, zero, 0),
        A.add(a1, zero, zero),
        A.sw(zero, s0, 4),
      ]);
      assert.equal(rig.hart.x[0], 0);
      assert.equal(rig.x(a0), 0);
      assert.equal(rig.x(a1), 0);
      assert.equal(rig.read32(DATA + 4), 0);
    });
  });

  describe('loads and stores', () => {
    const BYTES = [0x80, 0x7f, 0xff, 0x01, 0x34, 0x12, 0x00, 0x80];
    const rigWithData = (): Rig => {
      const rig = new Rig();
      rig.ram.dmaWrite(DATA, Uint8Array.from(BYTES));
      return rig;
    };
    const LOADS: Array<[string, (rd: number, rs1: number, imm: number) => number, number, number]> = [
      // [name, op, offset, value]
      ['lb', A.lb, 0, -128],
      ['lb', A.lb, 1, 127],
      ['lb', A.lb, 2, -1],
      ['lbu', A.lbu, 0, 0x80],
      ['lbu', A.lbu, 2, 0xff],
      ['lh', A.lh, 0, 0x7f80],
      ['lh', A.lh, 2, 0x01ff],
      ['lh', A.lh, 6, -0x8000],
      ['lhu', A.lhu, 6, 0x8000],
      ['lhu', A.lhu, 2, 0x01ff],
      ['lw', A.lw, 0, 0x01ff7f80],
      ['lw', A.lw, 4, -0x7fffedcc],
    ];
    for (const [name, op, off, want] of LOADS) {
      it(`${name} at +${off} gives ${want} (sign or zero extension)`, () => {
        // Twice: the first load misses the TLB (slow path), the second hits it (translated fast path).
        const rig = rigWithData().exec([li(s0, DATA + 0x10), op(a0, s0, off - 0x10), op(a1, s0, off - 0x10)]);
        assert.equal(rig.x(a0), want);
        assert.equal(rig.x(a1), want);
      });
    }
    it('stores write only their own bytes', () => {
      const rig = rigWithData().exec([
        li(s0, DATA),
        li(a0, 0x1122_3344),
        A.sb(a0, s0, 1),
        A.sh(a0, s0, 4),
        A.sw(a0, s0, 8),
        A.sb(a0, s0, 8),
      ]);
      const got = Array.from({ length: 12 }, (_, i) => rig.read8(DATA + i));
      assert.deepEqual(got, [0x80, 0x44, 0xff, 0x01, 0x44, 0x33, 0x00, 0x80, 0x44, 0x33, 0x22, 0x11]);
    });
    it('a negative offset reaches below the base', () => {
      const rig = rigWithData().exec([li(s0, DATA + 2048), li(a0, 77), A.sw(a0, s0, -2048), A.lw(a1, s0, -2048)]);
      assert.equal(rig.x(a1), 77);
      assert.equal(rig.read32(DATA), 77);
    });
    it('a load into its own base register uses the old base', () => {
      const rig = rigWithData().exec([li(s0, DATA), A.lw(s0, s0, 4)]);
      assert.equal(rig.x(s0), -0x7fffedcc);
    });
    it('undefined load and store widths are illegal', () => {
      for (const insn of [
        A.lw(a0, s0, 0) | (3 << 12),
        A.lw(a0, s0, 0) | (6 << 12),
        A.sw(a0, s0, 0) | (3 << 12),
        A.sw(a0, s0, 0) | (4 << 12),
      ]) {
        const rig = new Rig().exec([insn]);
        assert.deepEqual(rig.mTrap(), { cause: Cause.IllegalInstruction, epc: CODE, tval: insn >>> 0 });
      }
    });
  });

  describe('branches', () => {
    const BRANCHES: Array<[string, (rs1: number, rs2: number, off: number) => number, Model]> = [
      ['beq', A.beq, (a, b) => +(a === b)],
      ['bne', A.bne, (a, b) => +(a !== b)],
      ['blt', A.blt, (a, b) => +(a < b)],
      ['bge', A.bge, (a, b) => +(a >= b)],
      ['bltu', A.bltu, (a, b) => +(a >>> 0 < b >>> 0)],
      ['bgeu', A.bgeu, (a, b) => +(a >>> 0 >= b >>> 0)],
    ];
    for (const [name, op, taken] of BRANCHES) {
      it(`${name} taken and not taken, as a side exit in the middle of a block`, () => {
        for (const [a, b] of allPairs([0, 1, -1, INT_MIN, INT_MAX])) {
          // a0 = 1 only on the fall-through path; the branch sits mid-block after the li's.
          const rig = new Rig().exec([
            li(a1, a),
            li(a2, b),
            addi(a0, zero, 0),
            op(a1, a2, 8),
            addi(a0, zero, 1),
            addi(a3, zero, 9),
          ]);
          const t = taken(a, b);
          assert.equal(rig.x(a0), 1 - t, `${name} ${a}, ${b}`);
          assert.equal(rig.x(a3), 9, 'the target executes');
          // li×2 (4) + addi + branch + [addi] + addi + wfi
          assert.equal(rig.hart.instret, t ? 8 : 9, 'instructions retired');
        }
      });
    }
    it('a backward branch loops', () => {
      const rig = new Rig().exec([
        addi(a0, zero, 10),
        addi(a1, zero, 0),
        addi(a1, a1, 3),
        addi(a0, a0, -1),
        A.bne(a0, zero, -8),
      ]);
      assert.equal(rig.x(a1), 30);
      assert.equal(rig.hart.instret, 2 + 3 * 10 + 1);
    });
  });

  describe('jal and jalr', () => {
    it('jal links pc+4 and jumps forward and backward', () => {
      const rig = new Rig().exec([
        A.jal(ra, 12), // 0: -> 12
        addi(a1, zero, 1), // 4: skipped first, then reached by the backward jump
        A.jal(zero, 12), // 8: -> 20
        A.jal(t0, -8), // 12: -> 4, t0 = 16
        addi(a2, zero, 1), // 16: skipped
        A.nop(), // 20
      ]);
      assert.equal(rig.u(ra), CODE + 4);
      assert.equal(rig.u(t0), CODE + 16);
      assert.equal(rig.x(a1), 1);
      assert.equal(rig.x(a2), 0);
    });
    it('jalr jumps to (rs1 + imm) with bit 0 cleared and links pc+4, even when rd = rs1', () => {
      const rig = new Rig().exec([
        A.auipc(a0, 0), // 0
        A.jalr(a0, a0, 13), // 4: -> 12 (13 with bit 0 cleared), a0 = 8
        addi(a1, zero, 1), // 8: skipped
        A.nop(), // 12
      ]);
      assert.equal(rig.u(a0), CODE + 8);
      assert.equal(rig.x(a1), 0);
    });
    it('jal across a page boundary continues in the next page', () => {
      const rig = new Rig();
      rig.load([addi(a0, zero, 7), wfi()], CODE + 0x1000);
      rig.load([A.jal(zero, 0x1000 - 0xff8)], CODE + 0xff8);
      rig.exec([A.jal(zero, 0xff8)]);
      assert.equal(rig.x(a0), 7);
    });
    it('falls through from one page into the next', () => {
      const rig = new Rig();
      rig.load([addi(a0, zero, 1), addi(a1, zero, 2), addi(a2, a0, 2), wfi()], CODE + 0xff8);
      rig.exec([A.jal(zero, 0xff8)]);
      assert.deepEqual([rig.x(a0), rig.x(a1), rig.x(a2)], [1, 2, 3]);
    });
  });

  describe('fence and misc', () => {
    it('fence and fence.i are no-ops for a single hart', () => {
      const rig = new Rig().exec([addi(a0, zero, 1), A.fence(), A.fence_i(), addi(a0, a0, 1)]);
      assert.equal(rig.x(a0), 2);
      assert.equal(rig.hart.instret, 5);
    });
    it('the all-zero word and the all-ones word are illegal', () => {
      for (const insn of [0, 0xffff_ffff]) {
        const rig = new Rig().exec([insn]);
        assert.deepEqual(rig.mTrap(), { cause: Cause.IllegalInstruction, epc: CODE, tval: insn });
      }
    });
    it('a store followed by a load of the same word sees it within a block', () => {
      const rig = new Rig().exec([li(s0, DATA), li(a0, -5), sw(a0, s0, 0), lw(a1, s0, 0), addi(a1, a1, 1)]);
      assert.equal(rig.x(a1), -4);
    });
  });
});
