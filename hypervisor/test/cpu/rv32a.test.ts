// The A extension: LR/SC reservations, every AMO against a model, and the faults AMOs raise
// (misaligned: store/AMO address misaligned, 6, or load address misaligned, 4, for LR).
import assert from 'node:assert/strict';
import { Cause } from '../../src/cpu/exceptions.js';
import * as A from '../../testing/asm.js';
import { a0, a1, a2, a3, addi, li, lw, s0, s1, sw, zero } from '../../testing/asm.js';
import { allPairs, CODE, DATA, RESULTS, Rig, UNMAPPED } from './rig.js';

const INT_MIN = -0x8000_0000;
const INT_MAX = 0x7fff_ffff;

type Model = (mem: number, src: number) => number;

const AMOS: Array<[string, (rd: number, rs2: number, rs1: number) => number, Model]> = [
  ['amoswap.w', A.amoswap_w, (_m, s) => s],
  ['amoadd.w', A.amoadd_w, (m, s) => (m + s) | 0],
  ['amoxor.w', A.amoxor_w, (m, s) => m ^ s],
  ['amoand.w', A.amoand_w, (m, s) => m & s],
  ['amoor.w', A.amoor_w, (m, s) => m | s],
  ['amomin.w', A.amomin_w, (m, s) => Math.min(m, s)],
  ['amomax.w', A.amomax_w, (m, s) => Math.max(m, s)],
  ['amominu.w', A.amominu_w, (m, s) => (m >>> 0 < s >>> 0 ? m : s)],
  ['amomaxu.w', A.amomaxu_w, (m, s) => (m >>> 0 > s >>> 0 ? m : s)],
];

const VALUES = [0, 1, -1, INT_MIN, INT_MAX, 0x0f0f_0f0f, -0x1234_5679];

describe('RV32A', () => {
  describe('AMOs', () => {
    for (const [name, op, model] of AMOS) {
      it(`${name}: rd gets the old value, memory gets op(old, rs2)`, () => {
        const pairs = allPairs(VALUES);
        const rig = new Rig();
        // Per case: memory word = old, a0 = amo(old, src), then results: [a0, new memory word].
        const program: Array<number | readonly number[]> = [li(s0, DATA), li(s1, RESULTS)];
        for (const [old, src] of pairs) {
          program.push(li(a1, old), [sw(a1, s0, 0)], li(a2, src), [
            op(a0, a2, s0),
            lw(a3, s0, 0),
            sw(a0, s1, 0),
            sw(a3, s1, 4),
            addi(s1, s1, 8),
          ]);
        }
        rig.exec(program);
        pairs.forEach(([old, src], i) => {
          assert.equal(rig.read32(RESULTS + 8 * i) | 0, old, `${name} rd for ${old}, ${src}`);
          assert.equal(rig.read32(RESULTS + 8 * i + 4) | 0, model(old, src), `${name} memory for ${old}, ${src}`);
        });
      });
    }

    it('rd = rs1 uses the address before overwriting it; rd = x0 still updates memory', () => {
      const rig = new Rig();
      rig.write32(DATA, 40);
      rig.exec([li(a0, DATA), addi(a2, zero, 2), A.amoadd_w(zero, a2, a0), A.amoadd_w(a0, a2, a0)]);
      assert.equal(rig.x(a0), 42);
      assert.equal(rig.read32(DATA), 44);
      assert.equal(rig.hart.x[0], 0);
    });

    it('aq and rl bits do not change the result', () => {
      const rig = new Rig();
      rig.write32(DATA, 5);
      rig.exec([
        li(s0, DATA),
        addi(a2, zero, 3),
        A.amo(A.AmoOp.add, a0, a2, s0, true, true),
        A.lr_w(a1, s0, true, false),
      ]);
      assert.equal(rig.x(a0), 5);
      assert.equal(rig.x(a1), 8);
    });
  });

  describe('LR/SC', () => {
    it('sc after lr to the same word succeeds (rd = 0) and stores', () => {
      const rig = new Rig();
      rig.write32(DATA, 7);
      rig.exec([li(s0, DATA), A.lr_w(a0, s0), addi(a1, a0, 1), A.sc_w(a2, a1, s0)]);
      assert.equal(rig.x(a0), 7);
      assert.equal(rig.x(a2), 0);
      assert.equal(rig.read32(DATA), 8);
    });

    const FAILING: Array<[string, Array<number | readonly number[]>]> = [
      ['without any lr', [li(s0, DATA), A.sc_w(a2, a1, s0)]],
      ['after lr of another word', [li(s0, DATA), A.lr_w(a0, s0), addi(s0, s0, 4), A.sc_w(a2, a1, s0)]],
      ['a second time after a successful sc', [li(s0, DATA), A.lr_w(a0, s0), A.sc_w(a2, a1, s0), A.sc_w(a2, a1, s0)]],
    ];
    for (const [what, program] of FAILING) {
      it(`sc fails (rd = 1) and does not store ${what}`, () => {
        const rig = new Rig();
        rig.write32(DATA, 7);
        rig.write32(DATA + 4, 9);
        rig.exec([addi(a1, zero, 100), ...program]);
        assert.equal(rig.x(a2), 1);
        // The successful first sc of the last case stored 100 into DATA; no failing sc stores.
        assert.equal(rig.read32(DATA + 4), 9);
        assert.equal(rig.read32(DATA), what.startsWith('a second') ? 100 : 7);
      });
    }
  });

  describe('faults', () => {
    const FAULTS: Array<[string, (addr: number) => number, number, number]> = [
      // [what, instruction on address register s0, address, cause]
      ['misaligned lr', (r) => A.lr_w(a0, r), DATA + 2, Cause.LoadMisaligned],
      ['misaligned sc', (r) => A.sc_w(a0, a1, r), DATA + 1, Cause.StoreMisaligned],
      ['misaligned amoadd', (r) => A.amoadd_w(a0, a1, r), DATA + 2, Cause.StoreMisaligned],
      ['misaligned amoswap', (r) => A.amoswap_w(a0, a1, r), DATA + 3, Cause.StoreMisaligned],
      ['lr from nothing', (r) => A.lr_w(a0, r), UNMAPPED, Cause.LoadAccessFault],
      ['amoor to nothing', (r) => A.amoor_w(a0, a1, r), UNMAPPED, Cause.StoreAccessFault],
    ];
    for (const [what, insn, addr, cause] of FAULTS) {
      it(`${what} raises cause ${cause} with tval = the address`, () => {
        const rig = new Rig();
        rig.write32(DATA, 1);
        rig.exec([li(a0, 0x55), li(s0, addr), insn(s0)]);
        assert.deepEqual(rig.mTrap(), { cause, epc: CODE + 16, tval: addr >>> 0 });
        assert.equal(rig.x(a0), 0x55, 'rd is not written');
        assert.equal(rig.read32(DATA), 1, 'memory is not written');
      });
    }

    it('sc to nothing after a failed reservation still faults or fails without writing', () => {
      // Either is allowed by the spec; what matters is no throw and no write.
      const rig = new Rig().exec([li(s0, UNMAPPED), A.sc_w(a0, a1, s0)]);
      const cause = rig.hart.mcause;
      assert.ok(cause === 0 ? rig.x(a0) === 1 : cause === Cause.StoreAccessFault);
    });

    it('lr with rs2 != 0 and amo with funct3 != 2 or an undefined funct5 are illegal', () => {
      for (const insn of [
        A.lr_w(a0, s0) | (1 << 20),
        A.amoadd_w(a0, a1, s0) ^ (1 << 12),
        A.amo(0x05, a0, a1, s0),
        A.amo(0x1e, a0, a1, s0),
      ]) {
        const rig = new Rig();
        rig.exec([li(s0, DATA), insn]);
        assert.deepEqual(rig.mTrap(), { cause: Cause.IllegalInstruction, epc: CODE + 8, tval: insn >>> 0 });
      }
    });
  });
});
