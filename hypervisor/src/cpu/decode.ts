// Instruction field extraction (RISC-V unprivileged spec, chapter 2 base formats).
export const opcode = (i: number): number => i & 0x7f;
export const rd = (i: number): number => (i >>> 7) & 31;
export const rs1 = (i: number): number => (i >>> 15) & 31;
export const rs2 = (i: number): number => (i >>> 20) & 31;
export const funct3 = (i: number): number => (i >>> 12) & 7;
export const funct7 = (i: number): number => i >>> 25;

export const immI = (i: number): number => i >> 20;
export const immS = (i: number): number => ((i >> 25) << 5) | ((i >>> 7) & 31);
export const immB = (i: number): number =>
  ((i >> 31) << 12) | (((i >>> 7) & 1) << 11) | (((i >>> 25) & 0x3f) << 5) | (((i >>> 8) & 0xf) << 1);
export const immU = (i: number): number => i & 0xfffff000;
export const immJ = (i: number): number =>
  ((i >> 31) << 20) | (((i >>> 12) & 0xff) << 12) | (((i >>> 20) & 1) << 11) | (((i >>> 21) & 0x3ff) << 1);

// 32-bit encodings, for expanding compressed instructions into the instructions they stand for.
const iType = (op: number, f3: number, rd: number, rs1: number, imm: number): number =>
  (imm << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
const rType = (f7: number, f3: number, rd: number, rs1: number, rs2: number): number =>
  (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | 0x33;
const sw = (rs1: number, rs2: number, imm: number): number =>
  ((imm >> 5) << 25) | (rs2 << 20) | (rs1 << 15) | (2 << 12) | ((imm & 31) << 7) | 0x23;
const bType = (f3: number, rs1: number, off: number): number =>
  (((off >> 12) & 1) << 31) |
  (((off >> 5) & 0x3f) << 25) |
  (rs1 << 15) |
  (f3 << 12) |
  (((off >> 1) & 0xf) << 8) |
  (((off >> 11) & 1) << 7) |
  0x63;
const jType = (rd: number, off: number): number =>
  (((off >> 20) & 1) << 31) |
  (((off >> 1) & 0x3ff) << 21) |
  (((off >> 11) & 1) << 20) |
  (off & 0xff000) |
  (rd << 7) |
  0x6f;

const sext = (v: number, bits: number): number => (v << (32 - bits)) >> (32 - bits);

/**
 * The 32-bit instruction a 16-bit RV32C (Zca) parcel stands for (unprivileged spec, "C" chapter,
 * RVC opcode map), or 0 for an illegal one: reserved encodings, the F/D loads and stores (no F
 * or D here), RV64-only forms and, on RV32, shifts with shamt[5] set (custom space). HINTs
 * expand to their base instruction, which writes x0 or changes nothing.
 */
export function expandCompressed(c: number): number {
  const rd = (c >>> 7) & 31;
  const rs2 = (c >>> 2) & 31;
  /** rd' / rs2' in bits 4:2, rs1' / rd' in bits 9:7: x8–x15. */
  const rLow = 8 + ((c >>> 2) & 7);
  const rHigh = 8 + ((c >>> 7) & 7);
  const imm6 = sext(((c >>> 7) & 0x20) | rs2, 6);
  const wordOffset = ((c >>> 7) & 0x38) | ((c >>> 4) & 4) | ((c << 1) & 0x40);
  const jump = (link: number): number =>
    jType(
      link,
      sext(
        ((c >>> 1) & 0xb40) |
          ((c >>> 7) & 0x10) |
          ((c << 2) & 0x400) |
          ((c << 1) & 0x80) |
          ((c >>> 2) & 0xe) |
          ((c << 3) & 0x20),
        12,
      ),
    );
  const branch = (f3: number): number =>
    bType(
      f3,
      rHigh,
      sext(((c >>> 4) & 0x100) | ((c >>> 7) & 0x18) | ((c << 1) & 0xc0) | ((c >>> 2) & 6) | ((c << 3) & 0x20), 9),
    );
  /** shamt[5] of the shifts; in quadrant 2 funct3 100 it picks c.add/c.jalr/c.ebreak over c.mv/c.jr. */
  const bit12 = c & 0x1000;
  // Quadrant (bits 1:0) and funct3 (bits 15:13).
  switch (((c & 3) << 3) | (c >>> 13)) {
    case 0x00: {
      const nzuimm = ((c >>> 7) & 0x30) | ((c >>> 1) & 0x3c0) | ((c >>> 4) & 4) | ((c >>> 2) & 8);
      return nzuimm === 0 ? 0 : iType(0x13, 0, rLow, 2, nzuimm); // c.addi4spn
    }
    case 0x02:
      return iType(0x03, 2, rLow, rHigh, wordOffset); // c.lw
    case 0x06:
      return sw(rHigh, rLow, wordOffset); // c.sw
    case 0x08:
      return iType(0x13, 0, rd, rd, imm6); // c.addi, c.nop
    case 0x09:
      return jump(1); // c.jal
    case 0x0a:
      return iType(0x13, 0, rd, 0, imm6); // c.li
    case 0x0b: {
      if (rd !== 2) return imm6 === 0 ? 0 : (imm6 << 12) | (rd << 7) | 0x37; // c.lui
      const nzimm = sext(
        ((c >>> 3) & 0x200) | ((c >>> 2) & 0x10) | ((c << 1) & 0x40) | ((c << 4) & 0x180) | ((c << 3) & 0x20),
        10,
      );
      return nzimm === 0 ? 0 : iType(0x13, 0, 2, 2, nzimm); // c.addi16sp
    }
    case 0x0c:
      switch ((c >>> 10) & 3) {
        case 0:
          return bit12 ? 0 : iType(0x13, 5, rHigh, rHigh, rs2); // c.srli
        case 1:
          return bit12 ? 0 : iType(0x13, 5, rHigh, rHigh, 0x400 | rs2); // c.srai
        case 2:
          return iType(0x13, 7, rHigh, rHigh, imm6); // c.andi
        default: {
          if (bit12) return 0; // c.subw, c.addw (RV64) and two reserved
          const f = (c >>> 5) & 3; // c.sub, c.xor, c.or, c.and
          return rType(f === 0 ? 0x20 : 0, [0, 4, 6, 7][f]!, rHigh, rHigh, rLow);
        }
      }
    case 0x0d:
      return jump(0); // c.j
    case 0x0e:
      return branch(0); // c.beqz
    case 0x0f:
      return branch(1); // c.bnez
    case 0x10:
      return bit12 ? 0 : iType(0x13, 1, rd, rd, rs2); // c.slli
    case 0x12: {
      const offset = ((c >>> 7) & 0x20) | ((c >>> 2) & 0x1c) | ((c << 4) & 0xc0);
      return rd === 0 ? 0 : iType(0x03, 2, rd, 2, offset); // c.lwsp
    }
    case 0x14:
      if (rs2 !== 0) return rType(0, 0, rd, bit12 ? rd : 0, rs2); // c.add, c.mv
      if (!bit12) return rd === 0 ? 0 : iType(0x67, 0, 0, rd, 0); // c.jr
      return rd === 0 ? 0x0010_0073 : iType(0x67, 0, 1, rd, 0); // c.ebreak, c.jalr
    case 0x16:
      return sw(2, rs2, ((c >>> 7) & 0x3c) | ((c >>> 1) & 0xc0)); // c.swsp
    default:
      return 0;
  }
}
