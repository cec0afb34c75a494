/* M extension: every op on sign/overflow corner cases, including the
 * defined results of division by zero and INT_MIN / -1 (no traps). */
#include "hn.h"

#define NPAIRS 15
/* Operands (rs1, rs2), read through volatile so nothing is folded. */
static volatile const uint32_t operands[NPAIRS][2] = {
    { 0x80000000, 0xffffffff },
    { 0x80000000, 0x00000001 },
    { 0x00000007, 0x00000000 },
    { 0xfffffff9, 0x00000000 },
    { 0x00000000, 0x00000000 },
    { 0x00000007, 0x00000002 },
    { 0xfffffff9, 0x00000002 },
    { 0x00000007, 0xfffffffe },
    { 0xfffffff9, 0xfffffffe },
    { 0xffffffff, 0xffffffff },
    { 0x12345678, 0x9abcdef0 },
    { 0x7fffffff, 0x7fffffff },
    { 0x80000000, 0x80000000 },
    { 0xdeadbeef, 0x00000007 },
    { 0x00000003, 0xffffffff },
};

/* Expected rd per op and operand pair, computed from the spec's definitions
 * (64-bit products, truncating division, the divide-by-zero table). */
static const uint32_t expected[8][NPAIRS] = {
    /* mul    */ {
        0x80000000, 0x80000000, 0x00000000, 0x00000000, 0x00000000,
        0x0000000e, 0xfffffff2, 0xfffffff2, 0x0000000e, 0x00000001,
        0x242d2080, 0x00000001, 0x00000000, 0x16c03889, 0xfffffffd,
    },
    /* mulh   */ {
        0x00000000, 0xffffffff, 0x00000000, 0x00000000, 0x00000000,
        0x00000000, 0xffffffff, 0xffffffff, 0x00000000, 0x00000000,
        0xf8cc93d6, 0x3fffffff, 0x40000000, 0xffffffff, 0xffffffff,
    },
    /* mulhsu */ {
        0x80000000, 0xffffffff, 0x00000000, 0x00000000, 0x00000000,
        0x00000000, 0xffffffff, 0x00000006, 0xfffffff9, 0xffffffff,
        0x0b00ea4e, 0x3fffffff, 0xc0000000, 0xffffffff, 0x00000002,
    },
    /* mulhu  */ {
        0x7fffffff, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
        0x00000000, 0x00000001, 0x00000006, 0xfffffff7, 0xfffffffe,
        0x0b00ea4e, 0x3fffffff, 0x40000000, 0x00000006, 0x00000002,
    },
    /* div    */ {
        0x80000000, 0x80000000, 0xffffffff, 0xffffffff, 0xffffffff,
        0x00000003, 0xfffffffd, 0xfffffffd, 0x00000003, 0x00000001,
        0x00000000, 0x00000001, 0x00000001, 0xfb3d646c, 0xfffffffd,
    },
    /* divu   */ {
        0x00000000, 0x80000000, 0xffffffff, 0xffffffff, 0xffffffff,
        0x00000003, 0x7ffffffc, 0x00000000, 0x00000000, 0x00000001,
        0x00000000, 0x00000001, 0x00000001, 0x1fcfad8f, 0x00000000,
    },
    /* rem    */ {
        0x00000000, 0x00000000, 0x00000007, 0xfffffff9, 0x00000000,
        0x00000001, 0xffffffff, 0x00000001, 0xffffffff, 0x00000000,
        0x12345678, 0x00000000, 0x00000000, 0xfffffffb, 0x00000000,
    },
    /* remu   */ {
        0x80000000, 0x00000000, 0x00000007, 0xfffffff9, 0x00000000,
        0x00000001, 0x00000001, 0x00000007, 0xfffffff9, 0x00000000,
        0x12345678, 0x00000000, 0x00000000, 0x00000006, 0x00000003,
    },
};

static const char *const names[8] = { "mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu" };

#define OP(insn) __asm__ volatile(insn " %0, %1, %2" : "=r"(r) : "r"(a), "r"(b))

static uint32_t run(int op, uint32_t a, uint32_t b)
{
    uint32_t r = 0;
    switch (op) {
    case 0: OP("mul"); break;
    case 1: OP("mulh"); break;
    case 2: OP("mulhsu"); break;
    case 3: OP("mulhu"); break;
    case 4: OP("div"); break;
    case 5: OP("divu"); break;
    case 6: OP("rem"); break;
    case 7: OP("remu"); break;
    }
    return r;
}

int main(void)
{
    hn_puts("mext: start\n");
    hn_section("M extension");
    /* Any trap here (e.g. a divide-by-zero exception) fails the program. */
    for (int op = 0; op < 8; op++) {
        for (int i = 0; i < NPAIRS; i++) {
            uint32_t a = operands[i][0], b = operands[i][1];
            if (!CHECK(names[op], run(op, a, b), expected[op][i]))
                hn_printf("    operands 0x%x, 0x%x\n", a, b);
        }
    }
    /* rd = x0 must stay zero; rd aliasing a source must read sources first. */
    uint32_t z, x = 6;
    __asm__ volatile("div zero, %1, %1\n mv %0, zero" : "=r"(z) : "r"(x));
    CHECK("div to x0", z, 0);
    __asm__ volatile("mul %0, %0, %0" : "+r"(x));
    CHECK("mul rd = rs1 = rs2", x, 36);
    return hn_finish("mext");
}
