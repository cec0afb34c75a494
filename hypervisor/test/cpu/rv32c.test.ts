// RV32C (Zca): every compressed instruction, the reserved and unsupported encodings, HINTs,
// 2-byte alignment of jump targets, and 32-bit instructions that straddle a page. Every
// program runs on both tiers (the threaded interpreter and the compiled translator) and their
// results must agree. The compressed encoder below is written from the spec's field tables
// and checked against GNU as, so a wrong encoding cannot make a wrong hart pass.
import assert from 'node:assert/strict';
import { Cause, Priv } from '../../src/cpu/exceptions.js';
import * as A from '../../testing/asm.js';
import { a0, a1, a2, a3, a4, a5, li, ra, s0, s1, sp, t0, t1, wfi, zero } from '../../testing/asm.js';
import { checkAgainstGnuAs } from './gnu-as.js';
import { AD, CODE, DATA, flat, PageTables, RAM_BASE, Rig, RWX, type Program } from './rig.js';

// --- the compressed encoder ---

/**
 * Scatters the bits of `v` named in `order` (high to low, as the spec writes a field such as
 * imm[11|4|9:8|10|6|7|3:1|5]) into consecutive instruction bits from `top` down.
 */
function field(v: number, order: readonly number[], top: number): number {
  return order.reduce((w, bit, i) => w | (((v >>> bit) & 1) << (top - i)), 0);
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new RangeError(what);
}
const fits = (v: number, bits: number, align: number, signed: boolean): boolean =>
  Number.isInteger(v) &&
  v % align === 0 &&
  (signed ? v >= -(2 ** (bits - 1)) && v < 2 ** (bits - 1) : v >= 0 && v < 2 ** bits);
/** x8–x15, the registers the 3-bit fields name. */
function low(r: number): number {
  check(r >= 8 && r <= 15, `x${r} is not one of x8-x15`);
  return r - 8;
}
function reg(r: number): number {
  check(Number.isInteger(r) && r >= 0 && r < 32, `bad register ${r}`);
  return r;
}

const f3 = (f: number): number => f << 13;
/** CI format with a 6-bit immediate: imm[5] at bit 12, imm[4:0] at 6:2. */
const ci = (fn: number, op: number, rd: number, imm: number): number =>
  f3(fn) | field(imm, [5], 12) | (reg(rd) << 7) | field(imm, [4, 3, 2, 1, 0], 6) | op;
const cr = (f4: number, rd: number, rs2: number): number => (f4 << 12) | (reg(rd) << 7) | (reg(rs2) << 2) | 2;
const WORD_OFFSET = [5, 4, 3] as const;
const cls = (fn: number, r1: number, r2: number, off: number): number => {
  check(fits(off, 7, 4, false), `offset ${off}`);
  return f3(fn) | field(off, WORD_OFFSET, 12) | (low(r1) << 7) | field(off, [2, 6], 6) | (low(r2) << 2);
};
const CJ = [11, 4, 9, 8, 10, 6, 7, 3, 2, 1, 5];
const cj = (fn: number, off: number): number => {
  check(fits(off, 12, 2, true), `jump offset ${off}`);
  return f3(fn) | field(off, CJ, 12) | 1;
};
const cb = (fn: number, rs1: number, off: number): number => {
  check(fits(off, 9, 2, true), `branch offset ${off}`);
  return f3(fn) | field(off, [8, 4, 3], 12) | (low(rs1) << 7) | field(off, [7, 6, 2, 1, 5], 6) | 1;
};
const shift = (fn2: number, rd: number, shamt: number): number => {
  check(fits(shamt, 5, 1, false), `shamt ${shamt}`);
  return f3(4) | (fn2 << 10) | (low(rd) << 7) | (shamt << 2) | 1;
};
const arith = (fn2: number, rd: number, rs2: number): number =>
  f3(4) | (3 << 10) | (low(rd) << 7) | (fn2 << 5) | (low(rs2) << 2) | 1;
const imm6 = (v: number): number => {
  check(fits(v, 6, 1, true), `immediate ${v}`);
  return v & 0x3f;
};

const C = {
  addi4spn: (rd: number, nzuimm: number): number => {
    check(nzuimm !== 0 && fits(nzuimm, 10, 4, false), `nzuimm ${nzuimm}`);
    return field(nzuimm, [5, 4, 9, 8, 7, 6, 2, 3], 12) | (low(rd) << 2);
  },
  lw: (rd: number, rs1: number, off: number): number => cls(2, rs1, rd, off),
  sw: (rs2: number, rs1: number, off: number): number => cls(6, rs1, rs2, off),
  nop: (): number => 0x0001,
  addi: (rd: number, imm: number): number => ci(0, 1, rd, imm6(imm)),
  jal: (off: number): number => cj(1, off),
  li: (rd: number, imm: number): number => ci(2, 1, rd, imm6(imm)),
  addi16sp: (nzimm: number): number => {
    check(nzimm !== 0 && fits(nzimm, 10, 16, true), `nzimm ${nzimm}`);
    return f3(3) | field(nzimm, [9], 12) | (sp << 7) | field(nzimm, [4, 6, 8, 7, 5], 6) | 1;
  },
  /** `imm20` as in `lui`: the 20-bit field, which must be a sign-extended 6-bit value. */
  lui: (rd: number, imm20: number): number => {
    const v = (imm20 << 12) >> 12;
    check(v !== 0 && rd !== sp && fits(v, 6, 1, true), `c.lui ${imm20}`);
    return ci(3, 1, rd, v & 0x3f);
  },
  srli: (rd: number, shamt: number): number => shift(0, rd, shamt),
  srai: (rd: number, shamt: number): number => shift(1, rd, shamt),
  andi: (rd: number, imm: number): number =>
    f3(4) | (2 << 10) | field(imm6(imm), [5], 12) | (low(rd) << 7) | ((imm & 31) << 2) | 1,
  sub: (rd: number, rs2: number): number => arith(0, rd, rs2),
  xor: (rd: number, rs2: number): number => arith(1, rd, rs2),
  or: (rd: number, rs2: number): number => arith(2, rd, rs2),
  and: (rd: number, rs2: number): number => arith(3, rd, rs2),
  j: (off: number): number => cj(5, off),
  beqz: (rs1: number, off: number): number => cb(6, rs1, off),
  bnez: (rs1: number, off: number): number => cb(7, rs1, off),
  slli: (rd: number, shamt: number): number => {
    check(fits(shamt, 5, 1, false), `shamt ${shamt}`);
    return ci(0, 2, rd, shamt);
  },
  lwsp: (rd: number, off: number): number => {
    check(rd !== 0 && fits(off, 8, 4, false), `c.lwsp x${rd}, ${off}`);
    return f3(2) | field(off, [5], 12) | (rd << 7) | field(off, [4, 3, 2, 7, 6], 6) | 2;
  },
  swsp: (rs2: number, off: number): number => {
    check(fits(off, 8, 4, false), `offset ${off}`);
    return f3(6) | field(off, [5, 4, 3, 2, 7, 6], 12) | (reg(rs2) << 2) | 2;
  },
  jr: (rs1: number): number => cr(8, rs1, 0),
  mv: (rd: number, rs2: number): number => cr(8, rd, rs2),
  ebreak: (): number => 0x9002,
  jalr: (rs1: number): number => cr(9, rs1, 0),
  add: (rd: number, rs2: number): number => cr(9, rd, rs2),
};

/** [assembler text, our encoding]. */
const CASES: Array<[string, number]> = [
  ['c.addi4spn a0, sp, 4', C.addi4spn(a0, 4)],
  ['c.addi4spn s0, sp, 1020', C.addi4spn(s0, 1020)],
  ['c.lw a0, 0(a1)', C.lw(a0, a1, 0)],
  ['c.lw s1, 124(a5)', C.lw(s1, a5, 124)],
  ['c.sw a1, 64(a0)', C.sw(a1, a0, 64)],
  ['c.sw a5, 4(s0)', C.sw(a5, s0, 4)],
  ['c.nop', C.nop()],
  ['c.addi a0, -32', C.addi(a0, -32)],
  ['c.addi t6, 31', C.addi(31, 31)],
  ['c.jal . + 2046', C.jal(2046)],
  ['c.jal . - 2048', C.jal(-2048)],
  ['c.jal . + 0x2aa', C.jal(0x2aa)],
  ['c.li a0, -1', C.li(a0, -1)],
  ['c.li ra, 31', C.li(ra, 31)],
  ['c.addi16sp sp, -512', C.addi16sp(-512)],
  ['c.addi16sp sp, 496', C.addi16sp(496)],
  ['c.addi16sp sp, 80', C.addi16sp(80)],
  ['c.lui a0, 1', C.lui(a0, 1)],
  ['c.lui t6, 0xfffe0', C.lui(31, 0xfffe0)],
  ['c.lui ra, 0x1f', C.lui(ra, 0x1f)],
  ['c.srli a0, 1', C.srli(a0, 1)],
  ['c.srli s1, 31', C.srli(s1, 31)],
  ['c.srai a5, 17', C.srai(a5, 17)],
  ['c.andi a0, -32', C.andi(a0, -32)],
  ['c.andi s0, 21', C.andi(s0, 21)],
  ['c.sub a0, a1', C.sub(a0, a1)],
  ['c.xor s0, a5', C.xor(s0, a5)],
  ['c.or a2, a3', C.or(a2, a3)],
  ['c.and a4, s1', C.and(a4, s1)],
  ['c.j . - 2', C.j(-2)],
  ['c.j . + 0x554', C.j(0x554)],
  ['c.beqz a0, . + 254', C.beqz(a0, 254)],
  ['c.beqz s1, . - 256', C.beqz(s1, -256)],
  ['c.bnez a5, . + 0xaa', C.bnez(a5, 0xaa)],
  ['c.bnez s0, . - 0x56', C.bnez(s0, -0x56)],
  ['c.slli a0, 1', C.slli(a0, 1)],
  ['c.slli t6, 31', C.slli(31, 31)],
  ['c.lwsp a0, 0(sp)', C.lwsp(a0, 0)],
  ['c.lwsp ra, 252(sp)', C.lwsp(ra, 252)],
  ['c.lwsp t0, 0x54(sp)', C.lwsp(t0, 0x54)],
  ['c.swsp a0, 252(sp)', C.swsp(a0, 252)],
  ['c.swsp zero, 0xa8(sp)', C.swsp(zero, 0xa8)],
  ['c.jr ra', C.jr(ra)],
  ['c.mv a0, a1', C.mv(a0, a1)],
  ['c.ebreak', C.ebreak()],
  ['c.jalr t0', C.jalr(t0)],
  ['c.add a0, t6', C.add(a0, 31)],
];

/** Words GNU as gives for some cases (from its listing), so the check stands without a toolchain. */
const KNOWN: Record<string, number> = {
  'c.nop': 0x0001,
  'c.ebreak': 0x9002,
  'c.jr ra': 0x8082,
  'c.mv a0, a1': 0x852e,
  'c.li a0, -1': 0x557d,
  'c.addi16sp sp, -512': 0x7101,
  'c.lw a0, 0(a1)': 0x4188,
  'c.swsp a0, 252(sp)': 0xdfaa,
};

// --- running mixed programs ---

/** A program's words and parcels as bytes: a 32-bit instruction has low bits 11, a compressed one never does. */
function bytesOf(program: Program): Uint8Array {
  const out: number[] = [];
  for (const w of flat(program)) for (let b = 0; b < ((w & 3) === 3 ? 4 : 2); b++) out.push((w >>> (8 * b)) & 0xff);
  return Uint8Array.from(out);
}

/** The first half of a 32-bit instruction, alone. */
const firstHalf = (insn: number): Uint8Array => Uint8Array.of(insn & 0xff, (insn >>> 8) & 0xff);

function loadMixed(rig: Rig, program: Program, at = CODE): void {
  rig.ram.dmaWrite(at, bytesOf(program));
}

/** The hart state a test compares between the two tiers. */
function state(rig: Rig): object {
  const h = rig.hart;
  const { mstatus, mepc, mcause, mtval, sepc, scause, stval, instret, priv } = h;
  return { x: [...h.x], pc: h.pc, mstatus, mepc, mcause, mtval, sepc, scause, stval, instret, priv };
}

/**
 * Runs `test` on a fresh rig whose hart only interprets and on one that compiles every block;
 * asserts both end in the same state and returns the first.
 */
function bothTiers(test: (rig: Rig) => void): Rig {
  const run = (hotRuns: number): Rig => {
    const rig = new Rig();
    rig.hart.hotRuns = hotRuns;
    test(rig);
    return rig;
  };
  const interpreted = run(Infinity);
  assert.deepEqual(state(run(0)), state(interpreted), 'the compiled tier agrees with the interpreter');
  return interpreted;
}

/** Runs `program` (then wfi, or ecall below M) loaded at `at`, after `setup`, on both tiers. */
function exec(program: Program, setup: (rig: Rig) => void = () => {}, priv = Priv.Machine, at = CODE): Rig {
  return bothTiers((rig) => {
    setup(rig);
    loadMixed(rig, [...program, priv === Priv.Machine ? wfi() : A.ecall()], at);
    rig.start(at, priv).runToHalt();
  });
}

const ILLEGAL = (epc: number, parcel: number): object => ({ cause: Cause.IllegalInstruction, epc, tval: parcel });

describe('RV32C', () => {
  describe('test encoder', () => {
    checkAgainstGnuAs(CASES, KNOWN, { march: 'rv32imac', options: ['rvc', 'norelax'], width: 2 });
    it('rejects the reserved forms', () => {
      assert.throws(() => C.addi4spn(a0, 0), RangeError);
      assert.throws(() => C.addi16sp(0), RangeError);
      assert.throws(() => C.lui(a0, 0), RangeError);
      assert.throws(() => C.lwsp(zero, 4), RangeError);
      assert.throws(() => C.lw(a0, t0, 0), RangeError, 'x5 has no 3-bit name');
    });
  });

  describe('quadrant 0', () => {
    it('c.addi4spn adds a scaled immediate to sp', () => {
      const rig = exec([li(sp, 0x1000), C.addi4spn(a0, 1020), C.addi4spn(s1, 4)]);
      assert.equal(rig.x(a0), 0x1000 + 1020);
      assert.equal(rig.x(s1), 0x1004);
    });
    it('c.lw and c.sw move words at base + offset', () => {
      const rig = exec(
        [li(a1, DATA), li(a2, 0x1234_5678), C.sw(a2, a1, 124), C.lw(a3, a1, 124), C.lw(a4, a1, 0)],
        (r) => r.write32(DATA, 0xdead_beef),
      );
      assert.equal(rig.read32(DATA + 124), 0x1234_5678);
      assert.equal(rig.u(a3), 0x1234_5678);
      assert.equal(rig.u(a4), 0xdead_beef);
    });
    it('c.lw faults with the address in mtval and mepc at the parcel', () => {
      const rig = exec([li(a1, 0x4000_0000), C.lw(a0, a1, 4)]);
      assert.deepEqual(rig.mTrap(), { cause: Cause.LoadAccessFault, epc: CODE + 8, tval: 0x4000_0004 });
    });
  });

  describe('quadrant 1', () => {
    it('c.nop, c.addi, c.li', () => {
      const rig = exec([C.nop(), C.li(a0, -32), C.addi(a0, 31), C.li(a1, 31), C.addi(a1, -32)]);
      assert.equal(rig.x(a0), -1);
      assert.equal(rig.x(a1), -1);
      assert.equal(rig.hart.instret, 6);
    });
    it('c.jal links pc+2 and jumps; c.j jumps without linking, forward and backward', () => {
      const rig = exec([
        C.jal(6), // 0 -> 6, ra = 2
        C.li(a0, 1), // 2: skipped
        C.j(6), // 4 -> 10
        C.mv(a1, ra), // 6
        C.j(-4), // 8 -> 4
        C.nop(), // 10
      ]);
      assert.equal(rig.u(ra), CODE + 2);
      assert.equal(rig.u(a1), CODE + 2);
      assert.equal(rig.x(a0), 0);
      assert.equal(rig.hart.instret, 6);
    });
    it('c.addi16sp and c.lui', () => {
      const rig = exec([li(sp, 0x10_0000), C.addi16sp(-512), C.lui(a0, 0xfffe0), C.lui(a1, 1), C.lui(a2, 0x1f)]);
      assert.equal(rig.x(sp), 0x10_0000 - 512);
      assert.equal(rig.u(a0), 0xfffe_0000);
      assert.equal(rig.x(a1), 0x1000);
      assert.equal(rig.x(a2), 0x1_f000);
    });
    it('c.srli, c.srai, c.andi', () => {
      const rig = exec([
        li(a0, -0x100),
        C.mv(a1, a0),
        C.mv(a2, a0),
        C.srli(a0, 4),
        C.srai(a1, 31),
        C.andi(a2, 0x15),
        C.mv(a3, a2),
        C.andi(a3, -32),
      ]);
      assert.equal(rig.u(a0), 0x0fff_fff0);
      assert.equal(rig.x(a1), -1);
      assert.equal(rig.x(a2), 0);
      assert.equal(rig.x(a3), 0);
      const rig2 = exec([li(a2, 0x77), C.andi(a2, -32), li(a3, 0x77), C.andi(a3, 21)]);
      assert.equal(rig2.x(a2), 0x60);
      assert.equal(rig2.x(a3), 0x15);
    });
    it('c.sub, c.xor, c.or, c.and', () => {
      const rig = exec([
        li(a0, 0x0ff0),
        li(a1, 0x3c3c),
        C.mv(a2, a0),
        C.mv(a3, a0),
        C.mv(a4, a0),
        C.mv(a5, a0),
        C.sub(a2, a1),
        C.xor(a3, a1),
        C.or(a4, a1),
        C.and(a5, a1),
      ]);
      assert.equal(rig.x(a2), 0x0ff0 - 0x3c3c);
      assert.equal(rig.x(a3), 0x0ff0 ^ 0x3c3c);
      assert.equal(rig.x(a4), 0x0ff0 | 0x3c3c);
      assert.equal(rig.x(a5), 0x0ff0 & 0x3c3c);
    });
    it('c.beqz and c.bnez branch on zero, forward and backward', () => {
      const rig = exec([
        C.li(a0, 5), // 0
        C.li(a1, 0), // 2
        C.addi(a1, 3), // 4
        C.addi(a0, -1), // 6
        C.bnez(a0, -4), // 8 -> 4 while a0 != 0
        C.beqz(a0, 4), // 10 -> 14
        C.li(a2, 1), // 12: skipped
        C.bnez(a0, 4), // 14: not taken
        C.li(a3, 1), // 16
      ]);
      assert.equal(rig.x(a1), 15);
      assert.equal(rig.x(a2), 0);
      assert.equal(rig.x(a3), 1);
    });
  });

  describe('quadrant 2', () => {
    it('c.slli, c.mv, c.add', () => {
      const rig = exec([C.li(a0, 3), C.slli(a0, 30), C.li(a1, 7), C.mv(a2, a1), C.add(a2, a1), C.add(a2, a0)]);
      assert.equal(rig.u(a0), 0xc000_0000);
      assert.equal(rig.x(a2), (14 + 0xc000_0000) | 0);
    });
    it('c.lwsp and c.swsp address off sp', () => {
      const rig = exec([li(sp, DATA), li(t1, 0x5555_aaaa), C.swsp(t1, 252), C.lwsp(ra, 252), C.lwsp(t0, 0)], (r) =>
        r.write32(DATA, 42),
      );
      assert.equal(rig.read32(DATA + 252), 0x5555_aaaa);
      assert.equal(rig.u(ra), 0x5555_aaaa);
      assert.equal(rig.x(t0), 42);
    });
    it('c.jr jumps to rs1; c.jalr links pc+2 even when rs1 is ra', () => {
      const rig = exec([
        A.auipc(t0, 0), // 0
        A.addi(t0, t0, 14), // 4: t0 = CODE + 14
        C.jalr(t0), // 8 -> 14, ra = 10
        C.li(a0, 1), // 10: skipped first; reached by the c.jr below
        C.j(8), // 12 -> 20
        C.mv(a1, ra), // 14
        C.jr(ra), // 16 -> 10
        C.li(a2, 1), // 18: never
        C.mv(a3, ra), // 20
        A.auipc(ra, 0), // 22
        A.addi(ra, ra, 10), // 26: ra = CODE + 32
        C.jalr(ra), // 30 -> 32, ra = 32
        C.nop(), // 32
      ]);
      assert.equal(rig.u(a1), CODE + 10);
      assert.equal(rig.x(a0), 1);
      assert.equal(rig.x(a2), 0);
      assert.equal(rig.u(ra), CODE + 32, 'c.jalr ra: target read before the link is written');
    });
    it('c.ebreak raises a breakpoint at its pc', () => {
      const rig = exec([C.nop(), C.ebreak()]);
      assert.deepEqual(rig.mTrap(), { cause: Cause.Breakpoint, epc: CODE + 2, tval: CODE + 2 });
    });
  });

  describe('illegal and reserved encodings: mtval holds the 16 bits', () => {
    /** [what, parcel]: F/D forms (no F or D here), reserved code points, RV64-only and custom (NSE) ones. */
    const ILLEGALS: Array<[string, number]> = [
      ['all zeros', 0x0000],
      ['c.addi4spn with nzuimm 0', 3 << 2],
      ['c.fld', 0x2000 | (1 << 7)],
      ['c.flw', 0x6000 | (1 << 7)],
      ['quadrant 0 funct3 100 (reserved)', 0x8000 | (1 << 5)],
      ['c.fsd', 0xa000],
      ['c.fsw', 0xe000],
      ['c.addi16sp with nzimm 0', ci(3, 1, sp, 0)],
      ['c.lui with nzimm 0', ci(3, 1, a0, 0)],
      ['c.lui x0 with nzimm 0', ci(3, 1, zero, 0)],
      ['c.srli with shamt[5] (custom on RV32)', shift(0, a0, 1) | 0x1000],
      ['c.srai with shamt[5]', shift(1, a0, 0) | 0x1000],
      ['c.subw (RV64)', arith(0, a0, a1) | 0x1000],
      ['c.addw (RV64)', arith(1, a0, a1) | 0x1000],
      ['reserved arithmetic 10', arith(2, a0, a1) | 0x1000],
      ['reserved arithmetic 11', arith(3, a0, a1) | 0x1000],
      ['c.slli with shamt[5]', ci(0, 2, a0, 0x21)],
      ['c.fldsp', ci(1, 2, a0, 0)],
      ['c.lwsp with rd 0', ci(2, 2, zero, 4)],
      ['c.flwsp', ci(3, 2, a0, 0)],
      ['c.jr with rs1 0', cr(8, zero, 0)],
      ['c.fsdsp', f3(5) | 2],
      ['c.fswsp', f3(7) | 2 | (a0 << 2)],
    ];
    for (const [what, parcel] of ILLEGALS) {
      it(what, () => {
        const rig = exec([C.li(a0, 9), parcel, C.li(a0, 1)]);
        assert.deepEqual(rig.mTrap(), ILLEGAL(CODE + 2, parcel));
        assert.equal(rig.x(a0), 9, 'nothing after it ran');
      });
    }
    it('delegated to S, stval holds the 16 bits too', () => {
      const rig = exec([C.nop(), 0x6000], (r) => (r.hart.medeleg = 1 << Cause.IllegalInstruction), Priv.Supervisor);
      assert.deepEqual(rig.sTrap(), ILLEGAL(CODE + 2, 0x6000));
    });
  });

  describe('HINTs execute as no-ops', () => {
    it('c.nop with an immediate, c.addi with imm 0, and rd = x0 forms of c.li, c.lui, c.mv, c.add, c.slli; shamt 0', () => {
      const hints = [
        ci(0, 1, zero, 5), // c.nop with nzimm != 0
        ci(0, 1, a0, 0), // c.addi a0, 0
        ci(2, 1, zero, 7), // c.li x0
        ci(3, 1, zero, 1), // c.lui x0
        cr(8, zero, a0), // c.mv x0, a0
        cr(9, zero, a0), // c.add x0, a0
        ci(0, 2, zero, 3), // c.slli x0
        ci(0, 2, a0, 0), // c.slli a0, 0
        shift(0, a0, 0), // c.srli a0, 0
        shift(1, a0, 0), // c.srai a0, 0
      ];
      const rig = exec([li(a0, -0x1234), ...hints]);
      assert.equal(rig.x(a0), -0x1234);
      assert.equal(rig.x(zero), 0);
      assert.equal(rig.hart.instret, 2 + hints.length + 1);
      assert.equal(rig.hart.mcause, 0, 'no trap');
    });
  });

  describe('alignment: instructions are 2-aligned', () => {
    it('a branch, jal and jalr may target a pc with bit 1 set', () => {
      const rig = exec([
        A.beq(zero, zero, 6), // 0 -> 6
        C.nop(), // 4
        C.nop(), // 6 <- (a 16-bit word boundary, not a 32-bit one)
        A.jal(ra, 6), // 8 -> 14, ra = 12
        C.li(a0, 1), // 12: skipped
        C.nop(), // 14
        A.auipc(t0, 0), // 16
        A.jalr(t1, t0, 11), // 20 -> 26 (27 with bit 0 cleared), t1 = 24
        C.li(a1, 1), // 24: skipped
        C.nop(), // 26
      ]);
      assert.equal(rig.hart.mcause, 0, 'no misaligned-instruction trap');
      assert.equal(rig.u(ra), CODE + 12);
      assert.equal(rig.u(t1), CODE + 24);
      assert.equal(rig.x(a0), 0);
      assert.equal(rig.x(a1), 0);
    });
    it('mepc keeps bit 1, and mret returns there', () => {
      const rig = exec(
        [
          li(a1, CODE + 0x102),
          A.csrw(A.CSR.mepc, a1),
          A.csrr(a2, A.CSR.mepc),
          li(a3, 0x1800), // MPP = M
          A.csrrs(zero, A.CSR.mstatus, a3),
          A.mret(),
        ],
        (r) => loadMixed(r, [C.li(a0, 7), wfi()], CODE + 0x102),
      );
      assert.equal(rig.u(a2), CODE + 0x102);
      assert.equal(rig.x(a0), 7);
    });
    it('exact stepping counts compressed and 32-bit instructions alike', () => {
      const rig = new Rig();
      loadMixed(rig, [C.li(a0, 1), A.addi(a0, a0, 1), C.addi(a0, 1), A.addi(a0, a0, 1), C.addi(a0, 1), wfi()]);
      rig.start();
      for (const [n, pc, a] of [
        [1, 2, 1],
        [2, 6, 2],
        [3, 8, 3],
        [5, 14, 5],
      ] as const) {
        rig.hart.run(n, true);
        assert.equal(rig.hart.instret, n);
        assert.equal((rig.hart.pc >>> 0) - CODE, pc);
        assert.equal(rig.x(a0), a);
      }
    });
  });

  describe('a 32-bit instruction across a page boundary', () => {
    const PAGE_END = CODE + 0x1000;
    const RAM_END = RAM_BASE + 0x10_0000;
    it('runs, and the next block starts after it', () => {
      const rig = exec([C.li(a0, 5), A.addi(a0, a0, 10), C.addi(a0, 1)], () => {}, Priv.Machine, PAGE_END - 4);
      assert.equal(rig.x(a0), 16);
      assert.equal(rig.hart.pc >>> 0, PAGE_END + 8);
    });
    it('an access fault on the second half: mtval = pc + 2, mepc = pc', () => {
      const rig = bothTiers((r) => {
        // RAM ends in the middle of the addi.
        r.ram.dmaWrite(RAM_END - 4, bytesOf([C.li(a0, 5)]));
        r.ram.dmaWrite(RAM_END - 2, firstHalf(A.addi(a0, a0, 10)));
        r.start(RAM_END - 4).runToHalt();
      });
      assert.deepEqual(rig.mTrap(), { cause: Cause.InstructionAccessFault, epc: RAM_END - 2, tval: RAM_END });
      assert.equal(rig.x(a0), 5);
    });
    describe('with Sv32', () => {
      const VA = 0x4000_0000;
      /** Maps VA to CODE and, if given, VA + 4 KiB to `second`, for S-mode code. */
      const map = (rig: Rig, second?: number): void => {
        const pt = new PageTables(rig, DATA, DATA + 0x1000).map(VA, CODE, RWX | AD);
        if (second !== undefined) pt.map(VA + 0x1000, second, RWX | AD);
        rig.hart.satp = pt.satp;
        rig.hart.translationChanged(true);
      };
      it('a page fault on the second page: mtval = pc + 2, mepc = pc', () => {
        const rig = bothTiers((r) => {
          map(r);
          loadMixed(r, [C.li(a0, 5), A.addi(a0, a0, 10)], CODE + 0xffc);
          r.start(VA + 0xffc, Priv.Supervisor).runToHalt();
        });
        assert.deepEqual(rig.mTrap(), { cause: Cause.InstructionPageFault, epc: VA + 0xffe, tval: VA + 0x1000 });
        assert.equal(rig.x(a0), 5);
      });
      it('the second half is fetched through the current mapping every time, never cached', () => {
        const [x, y] = [CODE + 0x4000, CODE + 0x5000];
        const rig = bothTiers((r) => {
          // Under mapping x the straddling instruction is addi a0, a0, 10; under y, addi a0, a0, 20
          // (the immediate is in the upper half). Each second page goes on with an ecall.
          for (const [pa, imm] of [
            [x, 10],
            [y, 20],
          ] as const) {
            const rest = new DataView(new ArrayBuffer(6));
            rest.setUint16(0, A.addi(a0, a0, imm) >>> 16, true);
            rest.setUint32(2, A.ecall(), true);
            r.ram.dmaWrite(pa, new Uint8Array(rest.buffer));
          }
          r.ram.dmaWrite(CODE + 0xffe, firstHalf(A.addi(a0, a0, 10)));
          map(r, x);
          r.start(VA + 0xffe, Priv.Supervisor).runToHalt();
          assert.equal(r.x(a0), 10);
          map(r, y);
          r.start(VA + 0xffe, Priv.Supervisor).runToHalt();
        });
        assert.equal(rig.x(a0), 30);
        assert.equal(rig.mTrap().cause, Cause.EcallFromS);
      });
    });
  });
});
