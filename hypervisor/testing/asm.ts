// A tiny RV32IMA + Zicsr + Zifencei + privileged encoder for the hart's tests. Each function
// returns one 32-bit instruction word (unsigned); `li` returns two. Encodings follow the
// unprivileged spec (base formats, RV32IMA opcode map) and the privileged spec's instruction
// listing. Written independently of src/cpu/decode.ts on purpose, and checked against GNU as
// in test/cpu/asm.test.ts.

/** ABI register names, for readable tests. */
export const zero = 0,
  ra = 1,
  sp = 2,
  gp = 3,
  tp = 4,
  t0 = 5,
  t1 = 6,
  t2 = 7,
  s0 = 8,
  s1 = 9;
export const a0 = 10,
  a1 = 11,
  a2 = 12,
  a3 = 13,
  a4 = 14,
  a5 = 15,
  a6 = 16,
  a7 = 17;
export const s2 = 18,
  s3 = 19,
  s4 = 20,
  s5 = 21,
  t3 = 28,
  t4 = 29,
  t5 = 30,
  t6 = 31;

function checkReg(r: number): number {
  if (!Number.isInteger(r) || r < 0 || r > 31) throw new RangeError(`bad register ${r}`);
  return r;
}

/** Checks that `v` fits a signed field of `bits` bits (and is a multiple of `align`). */
function signed(v: number, bits: number, align = 1): number {
  const lim = 2 ** (bits - 1);
  if (!Number.isInteger(v) || v < -lim || v >= lim || v % align !== 0) {
    throw new RangeError(`immediate ${v} does not fit ${bits} signed bits (align ${align})`);
  }
  return v;
}

const rType = (op: number, f3: number, f7: number, rd: number, rs1: number, rs2: number): number =>
  ((f7 << 25) | (checkReg(rs2) << 20) | (checkReg(rs1) << 15) | (f3 << 12) | (checkReg(rd) << 7) | op) >>> 0;

const iType = (op: number, f3: number, rd: number, rs1: number, imm: number): number =>
  (((signed(imm, 12) & 0xfff) << 20) | (checkReg(rs1) << 15) | (f3 << 12) | (checkReg(rd) << 7) | op) >>> 0;

function sType(f3: number, rs2: number, rs1: number, imm: number): number {
  signed(imm, 12);
  return (
    ((((imm >> 5) & 0x7f) << 25) |
      (checkReg(rs2) << 20) |
      (checkReg(rs1) << 15) |
      (f3 << 12) |
      ((imm & 31) << 7) |
      0x23) >>>
    0
  );
}

function bType(f3: number, rs1: number, rs2: number, off: number): number {
  signed(off, 13, 2);
  const imm = off & 0x1fff;
  return (
    (((imm >> 12) << 31) |
      (((imm >> 5) & 0x3f) << 25) |
      (checkReg(rs2) << 20) |
      (checkReg(rs1) << 15) |
      (f3 << 12) |
      (((imm >> 1) & 0xf) << 8) |
      (((imm >> 11) & 1) << 7) |
      0x63) >>>
    0
  );
}

function uType(op: number, rd: number, imm20: number): number {
  if (!Number.isInteger(imm20) || imm20 < 0 || imm20 > 0xfffff) throw new RangeError(`U immediate ${imm20}`);
  return ((imm20 << 12) | (checkReg(rd) << 7) | op) >>> 0;
}

// --- RV32I ---

/** rd = imm20 << 12 (imm20 is the 20-bit field, as in the assembler's `lui rd, 0x12345`). */
export const lui = (rd: number, imm20: number): number => uType(0x37, rd, imm20);
export const auipc = (rd: number, imm20: number): number => uType(0x17, rd, imm20);

export function jal(rd: number, off: number): number {
  signed(off, 21, 2);
  const imm = off & 0x1f_ffff;
  return (
    (((imm >> 20) << 31) |
      (((imm >> 1) & 0x3ff) << 21) |
      (((imm >> 11) & 1) << 20) |
      (((imm >> 12) & 0xff) << 12) |
      (checkReg(rd) << 7) |
      0x6f) >>>
    0
  );
}
export const jalr = (rd: number, rs1: number, imm: number): number => iType(0x67, 0, rd, rs1, imm);

export const beq = (rs1: number, rs2: number, off: number): number => bType(0, rs1, rs2, off);
export const bne = (rs1: number, rs2: number, off: number): number => bType(1, rs1, rs2, off);
export const blt = (rs1: number, rs2: number, off: number): number => bType(4, rs1, rs2, off);
export const bge = (rs1: number, rs2: number, off: number): number => bType(5, rs1, rs2, off);
export const bltu = (rs1: number, rs2: number, off: number): number => bType(6, rs1, rs2, off);
export const bgeu = (rs1: number, rs2: number, off: number): number => bType(7, rs1, rs2, off);

export const lb = (rd: number, rs1: number, imm: number): number => iType(0x03, 0, rd, rs1, imm);
export const lh = (rd: number, rs1: number, imm: number): number => iType(0x03, 1, rd, rs1, imm);
export const lw = (rd: number, rs1: number, imm: number): number => iType(0x03, 2, rd, rs1, imm);
export const lbu = (rd: number, rs1: number, imm: number): number => iType(0x03, 4, rd, rs1, imm);
export const lhu = (rd: number, rs1: number, imm: number): number => iType(0x03, 5, rd, rs1, imm);

/** Stores take (rs2 = value, rs1 = base, imm), as in `sw rs2, imm(rs1)`. */
export const sb = (rs2: number, rs1: number, imm: number): number => sType(0, rs2, rs1, imm);
export const sh = (rs2: number, rs1: number, imm: number): number => sType(1, rs2, rs1, imm);
export const sw = (rs2: number, rs1: number, imm: number): number => sType(2, rs2, rs1, imm);

export const addi = (rd: number, rs1: number, imm: number): number => iType(0x13, 0, rd, rs1, imm);
export const slti = (rd: number, rs1: number, imm: number): number => iType(0x13, 2, rd, rs1, imm);
export const sltiu = (rd: number, rs1: number, imm: number): number => iType(0x13, 3, rd, rs1, imm);
export const xori = (rd: number, rs1: number, imm: number): number => iType(0x13, 4, rd, rs1, imm);
export const ori = (rd: number, rs1: number, imm: number): number => iType(0x13, 6, rd, rs1, imm);
export const andi = (rd: number, rs1: number, imm: number): number => iType(0x13, 7, rd, rs1, imm);

function shiftImm(f3: number, f7: number, rd: number, rs1: number, shamt: number): number {
  if (!Number.isInteger(shamt) || shamt < 0 || shamt > 31) throw new RangeError(`shamt ${shamt}`);
  return rType(0x13, f3, f7, rd, rs1, shamt);
}
export const slli = (rd: number, rs1: number, shamt: number): number => shiftImm(1, 0, rd, rs1, shamt);
export const srli = (rd: number, rs1: number, shamt: number): number => shiftImm(5, 0, rd, rs1, shamt);
export const srai = (rd: number, rs1: number, shamt: number): number => shiftImm(5, 0x20, rd, rs1, shamt);

export const add = (rd: number, rs1: number, rs2: number): number => rType(0x33, 0, 0, rd, rs1, rs2);
export const sub = (rd: number, rs1: number, rs2: number): number => rType(0x33, 0, 0x20, rd, rs1, rs2);
export const sll = (rd: number, rs1: number, rs2: number): number => rType(0x33, 1, 0, rd, rs1, rs2);
export const slt = (rd: number, rs1: number, rs2: number): number => rType(0x33, 2, 0, rd, rs1, rs2);
export const sltu = (rd: number, rs1: number, rs2: number): number => rType(0x33, 3, 0, rd, rs1, rs2);
export const xor = (rd: number, rs1: number, rs2: number): number => rType(0x33, 4, 0, rd, rs1, rs2);
export const srl = (rd: number, rs1: number, rs2: number): number => rType(0x33, 5, 0, rd, rs1, rs2);
export const sra = (rd: number, rs1: number, rs2: number): number => rType(0x33, 5, 0x20, rd, rs1, rs2);
export const or = (rd: number, rs1: number, rs2: number): number => rType(0x33, 6, 0, rd, rs1, rs2);
export const and = (rd: number, rs1: number, rs2: number): number => rType(0x33, 7, 0, rd, rs1, rs2);

/** fence with the usual `fence iorw, iorw`. */
export const fence = (pred = 0xf, succ = 0xf): number => ((pred << 24) | (succ << 20) | 0x0f) >>> 0;
export const fence_i = (): number => 0x0000_100f;
export const ecall = (): number => 0x0000_0073;
export const ebreak = (): number => 0x0010_0073;

// --- M ---

export const mul = (rd: number, rs1: number, rs2: number): number => rType(0x33, 0, 1, rd, rs1, rs2);
export const mulh = (rd: number, rs1: number, rs2: number): number => rType(0x33, 1, 1, rd, rs1, rs2);
export const mulhsu = (rd: number, rs1: number, rs2: number): number => rType(0x33, 2, 1, rd, rs1, rs2);
export const mulhu = (rd: number, rs1: number, rs2: number): number => rType(0x33, 3, 1, rd, rs1, rs2);
export const div = (rd: number, rs1: number, rs2: number): number => rType(0x33, 4, 1, rd, rs1, rs2);
export const divu = (rd: number, rs1: number, rs2: number): number => rType(0x33, 5, 1, rd, rs1, rs2);
export const rem = (rd: number, rs1: number, rs2: number): number => rType(0x33, 6, 1, rd, rs1, rs2);
export const remu = (rd: number, rs1: number, rs2: number): number => rType(0x33, 7, 1, rd, rs1, rs2);

// --- A ---

/** AMO funct5 values (unprivileged spec, table of the A extension). */
export const AmoOp = {
  add: 0x00,
  swap: 0x01,
  lr: 0x02,
  sc: 0x03,
  xor: 0x04,
  or: 0x08,
  and: 0x0c,
  min: 0x10,
  max: 0x14,
  minu: 0x18,
  maxu: 0x1c,
} as const;

/** Any A-extension instruction: `amo<op>.w rd, rs2, (rs1)`. */
export const amo = (f5: number, rd: number, rs2: number, rs1: number, aq = false, rl = false): number =>
  rType(0x2f, 2, (f5 << 2) | (aq ? 2 : 0) | (rl ? 1 : 0), rd, rs1, rs2);
export const lr_w = (rd: number, rs1: number, aq = false, rl = false): number => amo(AmoOp.lr, rd, 0, rs1, aq, rl);
export const sc_w = (rd: number, rs2: number, rs1: number): number => amo(AmoOp.sc, rd, rs2, rs1);
export const amoswap_w = (rd: number, rs2: number, rs1: number): number => amo(AmoOp.swap, rd, rs2, rs1);
export const amoadd_w = (rd: number, rs2: number, rs1: number): number => amo(AmoOp.add, rd, rs2, rs1);
export const amoxor_w = (rd: number, rs2: number, rs1: number): number => amo(AmoOp.xor, rd, rs2, rs1);
export const amoand_w = (rd: number, rs2: number, rs1: number): number => amo(AmoOp.and, rd, rs2, rs1);
export const amoor_w = (rd: number, rs2: number, rs1: number): number => amo(AmoOp.or, rd, rs2, rs1);
export const amomin_w = (rd: number, rs2: number, rs1: number): number => amo(AmoOp.min, rd, rs2, rs1);
export const amomax_w = (rd: number, rs2: number, rs1: number): number => amo(AmoOp.max, rd, rs2, rs1);
export const amominu_w = (rd: number, rs2: number, rs1: number): number => amo(AmoOp.minu, rd, rs2, rs1);
export const amomaxu_w = (rd: number, rs2: number, rs1: number): number => amo(AmoOp.maxu, rd, rs2, rs1);

// --- Zicsr ---

function csrType(f3: number, rd: number, csr: number, src: number): number {
  if (!Number.isInteger(csr) || csr < 0 || csr > 0xfff) throw new RangeError(`csr ${csr}`);
  return ((csr << 20) | (checkReg(src) << 15) | (f3 << 12) | (checkReg(rd) << 7) | 0x73) >>> 0;
}
export const csrrw = (rd: number, csr: number, rs1: number): number => csrType(1, rd, csr, rs1);
export const csrrs = (rd: number, csr: number, rs1: number): number => csrType(2, rd, csr, rs1);
export const csrrc = (rd: number, csr: number, rs1: number): number => csrType(3, rd, csr, rs1);
/** The immediate forms take a 5-bit zero-extended uimm where the register forms take rs1. */
export const csrrwi = (rd: number, csr: number, uimm: number): number => csrType(5, rd, csr, uimm);
export const csrrsi = (rd: number, csr: number, uimm: number): number => csrType(6, rd, csr, uimm);
export const csrrci = (rd: number, csr: number, uimm: number): number => csrType(7, rd, csr, uimm);
export const csrr = (rd: number, csr: number): number => csrrs(rd, csr, 0);
export const csrw = (csr: number, rs1: number): number => csrrw(0, csr, rs1);

// --- privileged ---

export const mret = (): number => 0x3020_0073;
export const sret = (): number => 0x1020_0073;
export const wfi = (): number => 0x1050_0073;
export const sfence_vma = (rs1 = 0, rs2 = 0): number => rType(0x73, 0, 0x09, 0, rs1, rs2);

// --- pseudo-instructions ---

export const nop = (): number => addi(0, 0, 0);
export const mv = (rd: number, rs: number): number => addi(rd, rs, 0);
export const j = (off: number): number => jal(0, off);
/** Loads any 32-bit value in two instructions (lui + addi, with the usual rounding of the upper part). */
export function li(rd: number, value: number): [number, number] {
  const v = value | 0;
  const lo = (v << 20) >> 20;
  const hi = ((v - lo) >>> 12) & 0xfffff;
  return [lui(rd, hi), addi(rd, rd, lo)];
}

/** Common CSR numbers (privileged spec, tables 2.2–2.5). */
export const CSR = {
  sstatus: 0x100,
  sie: 0x104,
  stvec: 0x105,
  scounteren: 0x106,
  sscratch: 0x140,
  sepc: 0x141,
  scause: 0x142,
  stval: 0x143,
  sip: 0x144,
  satp: 0x180,
  mstatus: 0x300,
  misa: 0x301,
  medeleg: 0x302,
  mideleg: 0x303,
  mie: 0x304,
  mtvec: 0x305,
  mcounteren: 0x306,
  mscratch: 0x340,
  mepc: 0x341,
  mcause: 0x342,
  mtval: 0x343,
  mip: 0x344,
  mcycle: 0xb00,
  minstret: 0xb02,
  mcycleh: 0xb80,
  minstreth: 0xb82,
  cycle: 0xc00,
  time: 0xc01,
  instret: 0xc02,
  cycleh: 0xc80,
  timeh: 0xc81,
  instreth: 0xc82,
  mvendorid: 0xf11,
  marchid: 0xf12,
  mimpid: 0xf13,
  mhartid: 0xf14,
} as const;
