// The test encoder is checked against known words and, where the cross assembler is installed,
// against GNU as itself, so a wrong encoding cannot make a wrong hart pass.
import assert from 'node:assert/strict';
import * as A from '../../testing/asm.js';
import { a0, a1, a2, ra, sp, t0, t6, zero } from '../../testing/asm.js';
import { checkAgainstGnuAs } from './gnu-as.js';

/** [assembler text, our encoding]; branch and jump targets are relative to the instruction (`.`). */
const CASES: Array<[string, number]> = [
  ['lui a0, 0x12345', A.lui(a0, 0x12345)],
  ['lui t6, 0xfffff', A.lui(t6, 0xfffff)],
  ['auipc sp, 0x80000', A.auipc(sp, 0x80000)],
  ['jal ra, . + 0', A.jal(ra, 0)],
  ['jal zero, . - 1048576', A.jal(zero, -1048576)],
  ['jal t0, . + 1048574', A.jal(t0, 1048574)],
  ['jal ra, . + 2050', A.jal(ra, 2050)],
  ['jalr ra, -2048(a0)', A.jalr(ra, a0, -2048)],
  ['beq a0, a1, . + 8', A.beq(a0, a1, 8)],
  ['bne a0, a1, . - 4096', A.bne(a0, a1, -4096)],
  ['blt a0, a1, . + 4094', A.blt(a0, a1, 4094)],
  ['bge t6, zero, . + 2048', A.bge(t6, zero, 2048)],
  ['bltu a0, a1, . - 2', A.bltu(a0, a1, -2)],
  ['bgeu a2, a1, . + 30', A.bgeu(a2, a1, 30)],
  ['lb a0, -1(a1)', A.lb(a0, a1, -1)],
  ['lh a0, 2047(a1)', A.lh(a0, a1, 2047)],
  ['lw a0, 4(sp)', A.lw(a0, sp, 4)],
  ['lbu a0, 0(a1)', A.lbu(a0, a1, 0)],
  ['lhu a0, -2048(a1)', A.lhu(a0, a1, -2048)],
  ['sb a1, -1(a0)', A.sb(a1, a0, -1)],
  ['sh a1, 2047(a0)', A.sh(a1, a0, 2047)],
  ['sw a1, 4(a0)', A.sw(a1, a0, 4)],
  ['sw t6, -2048(sp)', A.sw(t6, sp, -2048)],
  ['addi a0, a0, 1', A.addi(a0, a0, 1)],
  ['addi t6, t6, -2048', A.addi(t6, t6, -2048)],
  ['slti a0, a1, -1', A.slti(a0, a1, -1)],
  ['sltiu a0, a1, 2047', A.sltiu(a0, a1, 2047)],
  ['xori a0, a1, -1', A.xori(a0, a1, -1)],
  ['ori a0, a1, 0x555', A.ori(a0, a1, 0x555)],
  ['andi a0, a1, 0xff', A.andi(a0, a1, 0xff)],
  ['slli a0, a1, 31', A.slli(a0, a1, 31)],
  ['srli a0, a1, 1', A.srli(a0, a1, 1)],
  ['srai a0, a1, 31', A.srai(a0, a1, 31)],
  ['add a0, a1, a2', A.add(a0, a1, a2)],
  ['sub a0, a1, a2', A.sub(a0, a1, a2)],
  ['sll a0, a1, a2', A.sll(a0, a1, a2)],
  ['slt a0, a1, a2', A.slt(a0, a1, a2)],
  ['sltu a0, a1, a2', A.sltu(a0, a1, a2)],
  ['xor a0, a1, a2', A.xor(a0, a1, a2)],
  ['srl a0, a1, a2', A.srl(a0, a1, a2)],
  ['sra a0, a1, a2', A.sra(a0, a1, a2)],
  ['or a0, a1, a2', A.or(a0, a1, a2)],
  ['and a0, a1, a2', A.and(a0, a1, a2)],
  ['fence iorw, iorw', A.fence()],
  ['fence.i', A.fence_i()],
  ['ecall', A.ecall()],
  ['ebreak', A.ebreak()],
  ['mul a0, a1, a2', A.mul(a0, a1, a2)],
  ['mulh a0, a1, a2', A.mulh(a0, a1, a2)],
  ['mulhsu a0, a1, a2', A.mulhsu(a0, a1, a2)],
  ['mulhu a0, a1, a2', A.mulhu(a0, a1, a2)],
  ['div a0, a1, a2', A.div(a0, a1, a2)],
  ['divu a0, a1, a2', A.divu(a0, a1, a2)],
  ['rem a0, a1, a2', A.rem(a0, a1, a2)],
  ['remu a0, a1, a2', A.remu(a0, a1, a2)],
  ['lr.w a0, (a1)', A.lr_w(a0, a1)],
  ['lr.w.aqrl a0, (a1)', A.lr_w(a0, a1, true, true)],
  ['sc.w a0, a2, (a1)', A.sc_w(a0, a2, a1)],
  ['amoswap.w a0, a2, (a1)', A.amoswap_w(a0, a2, a1)],
  ['amoadd.w a0, a2, (a1)', A.amoadd_w(a0, a2, a1)],
  ['amoadd.w.aq a0, a2, (a1)', A.amo(A.AmoOp.add, a0, a2, a1, true)],
  ['amoxor.w a0, a2, (a1)', A.amoxor_w(a0, a2, a1)],
  ['amoand.w a0, a2, (a1)', A.amoand_w(a0, a2, a1)],
  ['amoor.w a0, a2, (a1)', A.amoor_w(a0, a2, a1)],
  ['amomin.w a0, a2, (a1)', A.amomin_w(a0, a2, a1)],
  ['amomax.w a0, a2, (a1)', A.amomax_w(a0, a2, a1)],
  ['amominu.w a0, a2, (a1)', A.amominu_w(a0, a2, a1)],
  ['amomaxu.w.rl a0, a2, (a1)', A.amo(A.AmoOp.maxu, a0, a2, a1, false, true)],
  ['csrrw a0, mstatus, a1', A.csrrw(a0, A.CSR.mstatus, a1)],
  ['csrrs a0, mip, zero', A.csrrs(a0, A.CSR.mip, zero)],
  ['csrrc zero, sstatus, a1', A.csrrc(zero, A.CSR.sstatus, a1)],
  ['csrrwi a0, mscratch, 31', A.csrrwi(a0, A.CSR.mscratch, 31)],
  ['csrrsi a0, 0xfff, 1', A.csrrsi(a0, 0xfff, 1)],
  ['csrrci a0, satp, 17', A.csrrci(a0, A.CSR.satp, 17)],
  ['mret', A.mret()],
  ['sret', A.sret()],
  ['wfi', A.wfi()],
  ['sfence.vma', A.sfence_vma()],
  ['sfence.vma a0, a1', A.sfence_vma(a0, a1)],
];

/** Words GNU as gives for some of the cases, so the check stands without a toolchain too. */
const KNOWN: Record<string, number> = {
  'addi a0, a0, 1': 0x0015_0513,
  'lui a0, 0x12345': 0x1234_5537,
  'sw a1, 4(a0)': 0x00b5_2223,
  'beq a0, a1, . + 8': 0x00b5_0463,
  'jal ra, . + 0': 0x0000_00ef,
  'lr.w a0, (a1)': 0x1005_a52f,
  'amoadd.w a0, a2, (a1)': 0x00c5_a52f,
  'csrrw a0, mstatus, a1': 0x3005_9573,
  'sfence.vma': 0x1200_0073,
  mret: 0x3020_0073,
  'srai a0, a1, 31': 0x41f5_d513,
};

describe('test encoder (asm.ts)', () => {
  checkAgainstGnuAs(CASES, KNOWN, { march: 'rv32ima_zicsr_zifencei', options: ['norvc'], width: 4 });

  it('li builds any value, rounding the upper part for negative low halves', () => {
    for (const v of [0, 1, -1, 0x7ff, 0x800, -2048, -2049, 0x7fff_ffff, -0x8000_0000, 0x1234_5fff, 0xdead_beef]) {
      const [hi, lo] = A.li(a0, v);
      const upper = hi & 0xffff_f000;
      const low = (lo | 0) >> 20;
      assert.equal((upper + low) | 0, v | 0, `li ${v}`);
    }
  });

  it('rejects immediates that do not fit', () => {
    assert.throws(() => A.addi(a0, a0, 2048), RangeError);
    assert.throws(() => A.beq(a0, a0, 3), RangeError);
    assert.throws(() => A.jal(a0, 1 << 20), RangeError);
    assert.throws(() => A.slli(a0, a0, 32), RangeError);
    assert.throws(() => A.add(32, a0, a0), RangeError);
  });
});
