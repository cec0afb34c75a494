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
