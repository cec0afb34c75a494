/* Sv32: translation for S and U, page-fault causes and stval, A/D updates,
 * U/SUM/MXR permission rules, superpages, sfence.vma, MPRV. */
#include "hn.h"

#define PTE_V (1u << 0)
#define PTE_R (1u << 1)
#define PTE_W (1u << 2)
#define PTE_X (1u << 3)
#define PTE_U (1u << 4)
#define PTE_G (1u << 5)
#define PTE_A (1u << 6)
#define PTE_D (1u << 7)
#define PTE(pa, flags) ((((uint32_t)(pa) >> 12) << 10) | (flags))
#define PTE_PA(pte) (((pte) >> 10) << 12)
#define RWX_AD (PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)

static uint32_t root[1024] __attribute__((aligned(4096)));
static uint32_t l2_ram[1024] __attribute__((aligned(4096)));   /* RAM 0x80000000..+4M */
static uint32_t l2_test[1024] __attribute__((aligned(4096)));  /* VA 0xc0000000..+4M */
static uint32_t tpage[8][1024] __attribute__((aligned(4096)));

#define TVA(i) (0xc0000000u + 0x1000u * (i))
enum {                 /* test pages at TVA(i) */
    T_RW,              /* S read/write */
    T_RO,              /* S read-only */
    T_XO,              /* execute-only, holds code */
    T_URW,             /* user read/write */
    T_AD,              /* S read/write, A and D clear */
    T_INVALID,         /* V = 0 */
    T_WO,              /* W without R: reserved encoding */
    T_SRWX,            /* S code page */
    T_URX,             /* user code page */
    T_REMAP,           /* remapped between two frames */
    T_NONLEAF,         /* pointer PTE at the last level */
};
#define SUPER_OK    0x40000000u  /* superpage -> RAM base */
#define SUPER_MISAL 0x40400000u  /* superpage with PPN[0] != 0 */
#define SUPER_AD    0x40800000u  /* superpage with A/D clear */

/* Probes: run in S (from .text) or U (from .utext); a trapped access is
 * skipped by the M handler so the sentinel comes back. *_insn labels give
 * the expected epc. */
#define SENTINEL 0xbad0bad0u
__asm__(
    ".macro PROBES p, sec\n"
    "  .section \\sec, \"ax\"\n"
    "  .globl \\p\\()_load, \\p\\()_store, \\p\\()_exec, \\p\\()_load_insn, \\p\\()_store_insn\n"
    "\\p\\()_load:\n"
    "  mv t0, a0\n  li a0, 0xbad0bad0\n"
    "\\p\\()_load_insn:\n  lw a0, 0(t0)\n  ret\n"
    "\\p\\()_store:\n"         /* stores the address itself */
    "\\p\\()_store_insn:\n  sw a0, 0(a0)\n  li a0, 0\n  ret\n"
    "\\p\\()_exec:\n"
    "  addi sp, sp, -16\n  sw ra, 12(sp)\n  mv t0, a0\n  li a0, 0xbad0bad0\n"
    "  jalr t0\n  lw ra, 12(sp)\n  addi sp, sp, 16\n  ret\n"
    ".endm\n"
    "PROBES s, .text\n"
    "PROBES u, .utext\n"
    ".text\n");
uint32_t s_load(uint32_t), s_store(uint32_t), s_exec(uint32_t);
uint32_t u_load(uint32_t), u_store(uint32_t), u_exec(uint32_t);
extern char s_load_insn[], s_store_insn[], u_load_insn[], u_store_insn[];

/* li a0, 42 ; ret */
static const uint32_t code42[] = { 0x02a00513, 0x00008067 };

enum kind { LOAD, STORE, EXEC };

/* Access va from mode; want_cause = 0 means "no trap" (then a load/exec
 * must return want_val). */
static void probe(const char *what, uint32_t mode, enum kind k, uint32_t va,
                  uint32_t want_cause, uint32_t want_val)
{
    static const hn_fn fns[2][3] = { { u_load, u_store, u_exec }, { s_load, s_store, s_exec } };
    uint32_t epc = k == EXEC ? va
                 : (uint32_t)(mode == PRV_U ? (k == LOAD ? u_load_insn : u_store_insn)
                                            : (k == LOAD ? s_load_insn : s_store_insn));
    hn_expect(k == EXEC ? HN_RESUME_RA : HN_SKIP);
    uint32_t v = hn_mrun(mode, fns[mode == PRV_S][k], va, 0);
    if (want_cause) {
        hn_check_trap(what, want_cause, epc, va);
    } else {
        CHECK(what, hn_last.count, 0);
        if (k != STORE)
            CHECK(what, v, want_val);
    }
}

static void build_tables(void)
{
    for (uint32_t i = 0; i < 1024; i++) {
        uint32_t pa = RAM_BASE + 0x1000 * i;
        int user = pa >= (uint32_t)__user_start && pa < (uint32_t)__user_end;
        l2_ram[i] = PTE(pa, RWX_AD | (user ? PTE_U : 0));
    }
    root[RAM_BASE >> 22] = PTE(l2_ram, PTE_V);
    /* Devices stay reachable from S (console and syscon for failure reports). */
    root[0x00000000 >> 22] = PTE(0x00000000, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
    root[UART_BASE >> 22] = PTE(UART_BASE, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
    root[TVA(0) >> 22] = PTE(l2_test, PTE_V);
    root[SUPER_OK >> 22] = PTE(RAM_BASE, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
    root[SUPER_MISAL >> 22] = PTE(RAM_BASE + 0x1000, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
    root[SUPER_AD >> 22] = PTE(RAM_BASE, PTE_V | PTE_R | PTE_W);

    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 1024; j++)
            tpage[i][j] = 0x10000000u * (i + 1) + j;
    memcpy(tpage[2], code42, sizeof code42);
    memcpy(tpage[5], code42, sizeof code42);
    memcpy(tpage[6], code42, sizeof code42);
    const uint32_t ad = PTE_V | PTE_A | PTE_D;
    l2_test[T_RW] = PTE(tpage[0], ad | PTE_R | PTE_W);
    l2_test[T_RO] = PTE(tpage[1], ad | PTE_R);
    l2_test[T_XO] = PTE(tpage[2], ad | PTE_X);
    l2_test[T_URW] = PTE(tpage[3], ad | PTE_U | PTE_R | PTE_W);
    l2_test[T_AD] = PTE(tpage[4], PTE_V | PTE_R | PTE_W);
    l2_test[T_INVALID] = PTE(tpage[4], PTE_R | PTE_W);
    l2_test[T_WO] = PTE(tpage[4], ad | PTE_W);
    l2_test[T_SRWX] = PTE(tpage[5], ad | PTE_R | PTE_W | PTE_X);
    l2_test[T_URX] = PTE(tpage[6], ad | PTE_U | PTE_R | PTE_X);
    l2_test[T_REMAP] = PTE(tpage[7], ad | PTE_R | PTE_W);
    l2_test[T_NONLEAF] = PTE(tpage[4], PTE_V);
}

static void test_basic(void)
{
    hn_section("basic");
    csr_write(satp, SATP_SV32 | ((uint32_t)root >> 12));
    CHECK("satp reads back", csr_read(satp), SATP_SV32 | ((uint32_t)root >> 12));
    __asm__ volatile("sfence.vma" ::: "memory");
    probe("S load RW page", PRV_S, LOAD, TVA(T_RW) + 0x10, 0, tpage[0][4]);
    probe("S store RW page", PRV_S, STORE, TVA(T_RW) + 0x20, 0, 0);
    CHECK("  store landed", tpage[0][8], TVA(T_RW) + 0x20);
    probe("S exec RWX page", PRV_S, EXEC, TVA(T_SRWX), 0, 42);
    probe("U load U page", PRV_U, LOAD, TVA(T_URW) + 0x30, 0, tpage[3][12]);
    probe("U store U page", PRV_U, STORE, TVA(T_URW) + 0x40, 0, 0);
    CHECK("  store landed", tpage[3][16], TVA(T_URW) + 0x40);
    probe("U exec U page", PRV_U, EXEC, TVA(T_URX), 0, 42);
}

static void test_faults(void)
{
    hn_section("page faults");
    probe("load invalid", PRV_S, LOAD, TVA(T_INVALID) + 0x124, EXC_LOAD_PAGE, 0);
    probe("store invalid", PRV_S, STORE, TVA(T_INVALID) + 0x128, EXC_STORE_PAGE, 0);
    probe("exec invalid", PRV_S, EXEC, TVA(T_INVALID) + 0x100, EXC_INSN_PAGE, 0);
    probe("load unmapped 1st level", PRV_S, LOAD, 0x20000040, EXC_LOAD_PAGE, 0);
    probe("store read-only", PRV_S, STORE, TVA(T_RO) + 8, EXC_STORE_PAGE, 0);
    probe("load read-only", PRV_S, LOAD, TVA(T_RO) + 8, 0, tpage[1][2]);
    probe("exec non-X page", PRV_S, EXEC, TVA(T_RW), EXC_INSN_PAGE, 0);
    probe("load W-only (reserved)", PRV_S, LOAD, TVA(T_WO), EXC_LOAD_PAGE, 0);
    probe("store W-only (reserved)", PRV_S, STORE, TVA(T_WO), EXC_STORE_PAGE, 0);
    probe("load via pointer PTE at leaf level", PRV_S, LOAD, TVA(T_NONLEAF), EXC_LOAD_PAGE, 0);
    CHECK("faulting store wrote nothing", tpage[1][2], 0x20000002);
}

static void test_user_bit(void)
{
    hn_section("U bit / SUM");
    probe("U load S page", PRV_U, LOAD, TVA(T_RW), EXC_LOAD_PAGE, 0);
    probe("U store S page", PRV_U, STORE, TVA(T_RW), EXC_STORE_PAGE, 0);
    probe("U exec S page", PRV_U, EXEC, TVA(T_SRWX), EXC_INSN_PAGE, 0);
    probe("S load U page, SUM=0", PRV_S, LOAD, TVA(T_URW), EXC_LOAD_PAGE, 0);
    probe("S store U page, SUM=0", PRV_S, STORE, TVA(T_URW), EXC_STORE_PAGE, 0);
    csr_set(mstatus, MSTATUS_SUM);
    probe("S load U page, SUM=1", PRV_S, LOAD, TVA(T_URW) + 4, 0, tpage[3][1]);
    probe("S store U page, SUM=1", PRV_S, STORE, TVA(T_URW) + 0x44, 0, 0);
    probe("S exec U page, SUM=1", PRV_S, EXEC, TVA(T_URX), EXC_INSN_PAGE, 0);
    csr_clear(mstatus, MSTATUS_SUM);
}

static void test_mxr(void)
{
    hn_section("MXR");
    probe("S exec X-only", PRV_S, EXEC, TVA(T_XO), 0, 42);
    probe("S load X-only, MXR=0", PRV_S, LOAD, TVA(T_XO), EXC_LOAD_PAGE, 0);
    csr_set(mstatus, MSTATUS_MXR);
    probe("S load X-only, MXR=1", PRV_S, LOAD, TVA(T_XO), 0, code42[0]);
    probe("S store X-only, MXR=1", PRV_S, STORE, TVA(T_XO), EXC_STORE_PAGE, 0);
    csr_clear(mstatus, MSTATUS_MXR);
}

static void test_ad(void)
{
    hn_section("A/D bits");
    probe("load with A clear", PRV_S, LOAD, TVA(T_AD), 0, tpage[4][0]);
    CHECK("  A set by load", !!(l2_test[T_AD] & PTE_A), 1);
    CHECK("  D still clear", !!(l2_test[T_AD] & PTE_D), 0);
    probe("store with D clear", PRV_S, STORE, TVA(T_AD) + 4, 0, 0);
    CHECK("  D set by store", !!(l2_test[T_AD] & PTE_D), 1);
    probe("superpage store with A/D clear", PRV_S, STORE, SUPER_AD + ((uint32_t)&tpage[4][9] - RAM_BASE), 0, 0);
    CHECK("  superpage A set", !!(root[SUPER_AD >> 22] & PTE_A), 1);
    CHECK("  superpage D set", !!(root[SUPER_AD >> 22] & PTE_D), 1);
}

static void test_superpages(void)
{
    hn_section("superpages");
    uint32_t off = (uint32_t)&tpage[1][5] - RAM_BASE;
    probe("load via 4 MiB superpage", PRV_S, LOAD, SUPER_OK + off, 0, tpage[1][5]);
    probe("load via misaligned superpage", PRV_S, LOAD, SUPER_MISAL + 0x300, EXC_LOAD_PAGE, 0);
    probe("exec via misaligned superpage", PRV_S, EXEC, SUPER_MISAL + 0x400, EXC_INSN_PAGE, 0);
}

static uint32_t s_flush_and_load(uint32_t va)
{
    __asm__ volatile("sfence.vma %0, zero" :: "r"(va) : "memory");
    return *(volatile uint32_t *)va;
}

static void test_sfence(void)
{
    hn_section("sfence.vma");
    uint32_t va = TVA(T_REMAP) + 8;
    probe("before remap", PRV_S, LOAD, va, 0, tpage[7][2]);
    l2_test[T_REMAP] = PTE(tpage[6], PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
    __asm__ volatile("sfence.vma" ::: "memory");
    probe("after remap + global sfence (M)", PRV_S, LOAD, va, 0, tpage[6][2]);
    l2_test[T_REMAP] = PTE(tpage[7], PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
    CHECK("after remap + sfence.vma va (S)", hn_mrun(PRV_S, s_flush_and_load, va, 0), tpage[7][2]);
}

static void test_delegated_fault(void)
{
    hn_section("delegated page fault");
    csr_write(medeleg, 1u << EXC_LOAD_PAGE);
    probe("S load fault to S", PRV_S, LOAD, TVA(T_INVALID) + 0x10, EXC_LOAD_PAGE, 0);
    CHECK("  handled at S", hn_last.level, PRV_S);
    probe("U load fault to S", PRV_U, LOAD, TVA(T_RW) + 0x10, EXC_LOAD_PAGE, 0);
    CHECK("  handled at S", hn_last.level, PRV_S);
    CHECK("  SPP = U", !!(hn_last.status & MSTATUS_SPP), 0);
    csr_write(medeleg, 0);
}

/* MPRV: M loads/stores translated as MPP. The trapping variant clears MPRV
 * right after the access, since the handler's mret leaves MPP = U. */
static uint32_t mprv_load(uint32_t mpp, uint32_t va, uint32_t *pc)
{
    uint32_t v;
    csr_clear(mstatus, MSTATUS_MPP);
    csr_set(mstatus, mpp << MPP_SHIFT);
    __asm__ volatile("li %0, 0xbad0bad0\n la %1, 1f\n csrs mstatus, %3\n"
                     "1: lw %0, 0(%2)\n csrc mstatus, %3"
                     : "=&r"(v), "=&r"(*pc) : "r"(va), "r"(MSTATUS_MPRV) : "memory");
    csr_clear(mstatus, MSTATUS_MPP);
    return v;
}

static void test_mprv(void)
{
    hn_section("MPRV");
    uint32_t pc;
    hn_expect(HN_SKIP);
    CHECK("M load as S through page table", mprv_load(PRV_S, TVA(T_RW) + 12, &pc), tpage[0][3]);
    CHECK("  no trap", hn_last.count, 0);
    hn_expect(HN_SKIP);
    CHECK("M load as U from S page", mprv_load(PRV_U, TVA(T_RW), &pc), SENTINEL);
    hn_check_trap("  load page fault", EXC_LOAD_PAGE, pc, TVA(T_RW));
    hn_expect(HN_SKIP);
    CHECK("M load as U from U page", mprv_load(PRV_U, TVA(T_URW) + 8, &pc), tpage[3][2]);
    CHECK("  no trap", hn_last.count, 0);
}

int main(void)
{
    hn_puts("sv32: start\n");
    build_tables();
    test_basic();
    test_faults();
    test_user_bit();
    test_mxr();
    test_ad();
    test_superpages();
    test_sfence();
    test_delegated_fault();
    test_mprv();
    csr_write(satp, 0);
    __asm__ volatile("sfence.vma" ::: "memory");
    return hn_finish("sv32");
}
