/* S-mode test payload for the SBI firmware fixture: run with
 *   -bios fw.elf -kernel sbi-payload.elf
 * It checks the boot hand-off, every SBI call the firmware serves, the
 * firmware's trap redirection and its emulation paths, then powers off
 * through SBI SRST (so a pass also proves SRST). */
#include "fw.h"

#define BIT(i) (1u << (i))
#define PTE_SUPER(pa) ((((uint32_t)(pa) >> 12) << 10) | 0xcf)   /* V R W X A D */

struct sbiret { int32_t error; uint32_t value; };

static struct sbiret sbi(uint32_t eid, uint32_t fid, uint32_t a0, uint32_t a1,
                         uint32_t a2, uint32_t a3)
{
    register uint32_t r0 __asm__("a0") = a0, r1 __asm__("a1") = a1;
    register uint32_t r2 __asm__("a2") = a2, r3 __asm__("a3") = a3;
    register uint32_t r6 __asm__("a6") = fid, r7 __asm__("a7") = eid;
    __asm__ volatile("ecall" : "+r"(r0), "+r"(r1) : "r"(r2), "r"(r3), "r"(r6), "r"(r7) : "memory");
    return (struct sbiret){ (int32_t)r0, r1 };
}

static uint32_t legacy(uint32_t eid, uint32_t a0, uint32_t a1)
{
    return (uint32_t)sbi(eid, 0, a0, a1, 0, 0).error;
}

static uint64_t rdtime64(void)
{
    uint32_t hi, lo;
    do {
        hi = csr_read(timeh);
        lo = csr_read(time);
    } while (hi != csr_read(timeh));
    return ((uint64_t)hi << 32) | lo;
}

/* ---- S interrupts ---- */
static volatile uint32_t n_sti, n_ssi;
static volatile uint64_t sti_time;

static int irq_hook(struct frame *f, uint32_t cause, uint32_t level)
{
    (void)f;
    (void)level;
    if (cause == (MCAUSE_INT | IRQ_STI)) {
        sti_time = clint_mtime();
        n_sti++;
        sbi(SBI_EXT_TIME, 0, 0xffffffff, 0xffffffff, 0, 0);   /* also clears STIP */
        return 1;
    }
    if (cause == (MCAUSE_INT | IRQ_SSI)) {
        n_ssi++;
        csr_clear(sip, BIT(IRQ_SSI));
        return 1;
    }
    return 0;
}

static void wait_for(volatile uint32_t *counter, uint32_t n)
{
    uint64_t end = clint_mtime() + 1000000;   /* 100 ms */
    while (*counter < n && clint_mtime() < end)
        ;
}

static void test_entry(uint32_t hartid, uint32_t dtb)
{
    hn_section("entry");
    CHECK("a0 = hartid 0", hartid, 0);
    CHECK("a1 = DTB (magic)", mmio_r32(dtb), 0xedfe0dd0);   /* 0xd00dfeed big-endian */
    /* The firmware's /memreserve/ entry covers it (big-endian 64-bit pairs). */
    const uint8_t *p = (const uint8_t *)dtb;
    uint32_t rsv = ((uint32_t)p[16] << 24) | (p[17] << 16) | (p[18] << 8) | p[19];
    const uint8_t *e = p + rsv;
    uint32_t base = ((uint32_t)e[4] << 24) | (e[5] << 16) | (e[6] << 8) | e[7];
    uint32_t size = ((uint32_t)e[12] << 24) | (e[13] << 16) | (e[14] << 8) | e[15];
    CHECK("memreserve base = firmware", base, RAM_BASE);
    CHECK("memreserve size below the kernel", size > 0 && size <= 0x400000, 1);
    hn_expect(HN_SKIP);
    uint32_t pc;
    __asm__ volatile("la %0, 1f\n1: csrr a0, mstatus" : "=&r"(pc) :: "a0");
    hn_check_trap("mstatus from S: illegal, redirected to S", EXC_ILLEGAL, pc, 0x30002573);
    CHECK("  handled at S", hn_last.level, PRV_S);
    CHECK("  SPP = S", !!(hn_last.status & MSTATUS_SPP), 1);
    hn_expect(HN_SKIP);
    __asm__ volatile("la %0, 1f\n1: .word 0" : "=&r"(pc));
    hn_check_trap("zero word: illegal, redirected", EXC_ILLEGAL, pc, 0);
}

static void test_base(void)
{
    hn_section("base");
    struct sbiret r = sbi(SBI_EXT_BASE, 0, 0, 0, 0, 0);
    CHECK("get_spec_version ok", r.error, 0);
    CHECK("spec version >= 0.2", r.value >= 2, 1);
    CHECK("spec version", r.value, SBI_SPEC_VERSION);
    CHECK("impl id", sbi(SBI_EXT_BASE, 1, 0, 0, 0, 0).value, SBI_IMPL_ID);
    CHECK("impl version", sbi(SBI_EXT_BASE, 2, 0, 0, 0, 0).value, SBI_IMPL_VERSION);
    static const uint32_t exts[] = { SBI_EXT_BASE, SBI_EXT_TIME, SBI_EXT_IPI, SBI_EXT_RFNC,
                                     SBI_EXT_HSM, SBI_EXT_SRST, SBI_LEGACY_SET_TIMER,
                                     SBI_LEGACY_PUTCHAR, SBI_LEGACY_GETCHAR, SBI_LEGACY_SHUTDOWN };
    for (unsigned i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        r = sbi(SBI_EXT_BASE, 3, exts[i], 0, 0, 0);
        if (!CHECK("probe_extension available", r.error == 0 && r.value != 0, 1))
            hn_printf("    eid 0x%x\n", exts[i]);
    }
    r = sbi(SBI_EXT_BASE, 3, 0x12345678, 0, 0, 0);
    CHECK("probe unknown extension = 0", r.value, 0);
    for (uint32_t fid = 4; fid <= 6; fid++)
        CHECK("mvendorid/marchid/mimpid ok", sbi(SBI_EXT_BASE, fid, 0, 0, 0, 0).error, 0);
    CHECK("unknown base fid", sbi(SBI_EXT_BASE, 99, 0, 0, 0, 0).error, SBI_ERR_NOT_SUPPORTED);
    CHECK("unknown extension", sbi(0x12345678, 0, 0, 0, 0, 0).error, SBI_ERR_NOT_SUPPORTED);
}

static void test_timer(void)
{
    hn_section("timer");
    csr_set(sie, BIT(IRQ_STI));
    csr_set(sstatus, MSTATUS_SIE);

    uint64_t deadline = rdtime64() + 50000;   /* 5 ms */
    n_sti = 0;
    CHECK("set_timer", sbi(SBI_EXT_TIME, 0, (uint32_t)deadline, deadline >> 32, 0, 0).error, 0);
    CHECK("  STIP clear after set_timer", csr_read(sip) & BIT(IRQ_STI), 0);
    wait_for(&n_sti, 1);
    CHECK("  STI taken", n_sti, 1);
    CHECK("  not before the deadline", sti_time >= deadline, 1);

    n_sti = 0;
    sbi(SBI_EXT_TIME, 0, 0, 0, 0, 0);          /* in the past: at once */
    wait_for(&n_sti, 1);
    CHECK("set_timer(0) fires", n_sti, 1);

    n_sti = 0;
    deadline = rdtime64() + 20000;
    CHECK("legacy set_timer", legacy(SBI_LEGACY_SET_TIMER, (uint32_t)deadline, deadline >> 32), 0);
    wait_for(&n_sti, 1);
    CHECK("  STI taken", n_sti, 1);

    csr_clear(sstatus, MSTATUS_SIE);
    csr_clear(sie, BIT(IRQ_STI));
}

static void test_ipi_rfence_hsm(void)
{
    hn_section("ipi");
    csr_set(sie, BIT(IRQ_SSI));
    csr_set(sstatus, MSTATUS_SIE);
    n_ssi = 0;
    CHECK("send_ipi(hart 0)", sbi(SBI_EXT_IPI, 0, 1, 0, 0, 0).error, 0);
    wait_for(&n_ssi, 1);
    CHECK("  SSI taken", n_ssi, 1);
    CHECK("send_ipi(all harts)", sbi(SBI_EXT_IPI, 0, 0, 0xffffffff, 0, 0).error, 0);
    wait_for(&n_ssi, 2);
    CHECK("  SSI taken", n_ssi, 2);
    CHECK("send_ipi(hart 1) invalid", sbi(SBI_EXT_IPI, 0, 2, 0, 0, 0).error, SBI_ERR_INVALID_PARAM);
    static volatile uint32_t mask = 1;
    CHECK("legacy send_ipi(&mask)", legacy(SBI_LEGACY_SEND_IPI, (uint32_t)&mask, 0), 0);
    wait_for(&n_ssi, 3);
    CHECK("  SSI taken", n_ssi, 3);
    csr_clear(sstatus, MSTATUS_SIE);
    legacy(SBI_LEGACY_SEND_IPI, 0, 0);
    CHECK("legacy clear_ipi", legacy(SBI_LEGACY_CLEAR_IPI, 0, 0), 0);
    CHECK("  SSIP clear", csr_read(sip) & BIT(IRQ_SSI), 0);
    csr_clear(sie, BIT(IRQ_SSI));

    hn_section("rfence");
    CHECK("remote_fence_i", sbi(SBI_EXT_RFNC, 0, 1, 0, 0, 0).error, 0);
    CHECK("remote_sfence_vma", sbi(SBI_EXT_RFNC, 1, 1, 0, 0, 0xffffffff).error, 0);
    CHECK("remote_sfence_vma_asid", sbi(SBI_EXT_RFNC, 2, 0, 0xffffffff, 0, 0x1000).error, 0);
    CHECK("hfence not supported", sbi(SBI_EXT_RFNC, 3, 1, 0, 0, 0).error, SBI_ERR_NOT_SUPPORTED);
    CHECK("fence on hart 3 invalid", sbi(SBI_EXT_RFNC, 0, 8, 0, 0, 0).error, SBI_ERR_INVALID_PARAM);
    CHECK("legacy remote_fence_i", legacy(SBI_LEGACY_FENCE_I, 0, 0), 0);
    CHECK("legacy remote_sfence_vma", legacy(SBI_LEGACY_SFENCE_VMA, (uint32_t)&mask, 0), 0);

    hn_section("hsm");
    struct sbiret r = sbi(SBI_EXT_HSM, 2, 0, 0, 0, 0);
    CHECK("hart_get_status(0) ok", r.error, 0);
    CHECK("hart 0 STARTED", r.value, 0);
    CHECK("hart_get_status(1) invalid", sbi(SBI_EXT_HSM, 2, 1, 0, 0, 0).error, SBI_ERR_INVALID_PARAM);
    CHECK("hart_start(0) already", sbi(SBI_EXT_HSM, 0, 0, 0, 0, 0).error, SBI_ERR_ALREADY_AVAILABLE);

    hn_section("srst");
    CHECK("system_reset bad type", sbi(SBI_EXT_SRST, 0, 5, 0, 0, 0).error, SBI_ERR_INVALID_PARAM);
}

static void test_console(void)
{
    hn_section("console");
    static const char msg[] = "payload: via legacy putchar\n";
    uint32_t err = 0;
    for (const char *c = msg; *c; c++) {
        if (*c == '\n')
            err |= legacy(SBI_LEGACY_PUTCHAR, '\r', 0);
        err |= legacy(SBI_LEGACY_PUTCHAR, (uint8_t)*c, 0);
    }
    CHECK("legacy putchar", err, 0);
    int32_t ch = (int32_t)legacy(SBI_LEGACY_GETCHAR, 0, 0);
    CHECK("legacy getchar: -1 or a byte", ch >= -1 && ch <= 255, 1);
}

/* ---- misaligned accesses and the firmware's emulation ---- */
static uint8_t buf[16] __attribute__((aligned(16))) = {
    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00,
};
static uint32_t root[1024] __attribute__((aligned(4096)));
#define ALIAS 0xc0000000u     /* superpage alias of this payload's 4 MiB */
#define UNMAPPED 0xd0000001u
#define TO_ALIAS(p) ((uint32_t)(p) - 0x80400000u + ALIAS)

/* Instructions never executed: the firmware decodes them on request
 * (HNTEST_EMULATE_AT). Loads target a3, stores take a2. */
__asm__(".text\n.balign 4\n"
        "emu_lw: lw a3, 0(zero)\n emu_lh: lh a3, 0(zero)\n emu_lhu: lhu a3, 0(zero)\n"
        "emu_sw: sw a2, 0(zero)\n emu_sh: sh a2, 0(zero)\n emu_amo: amoadd.w a3, a2, (zero)\n");
extern char emu_lw[], emu_lh[], emu_lhu[], emu_sw[], emu_sh[], emu_amo[];

/* Ask the firmware to emulate insn against addr; returns a3, error in *err. */
static uint32_t emulate_at(const char *insn, uint32_t addr, uint32_t store_val, int32_t *err, uint32_t *pc)
{
    register uint32_t a0 __asm__("a0") = (uint32_t)insn, a1 __asm__("a1") = addr;
    register uint32_t a2 __asm__("a2") = store_val, a3 __asm__("a3") = 0xdeadbeef;
    register uint32_t a6 __asm__("a6") = HNTEST_EMULATE_AT, a7 __asm__("a7") = SBI_EXT_HNTEST;
    uint32_t at;
    __asm__ volatile("la %[at], 1f\n1: ecall"
                     : [at] "=&r"(at), "+r"(a0), "+r"(a1), "+r"(a3) : "r"(a2), "r"(a6), "r"(a7) : "memory");
    *err = (int32_t)a0;
    *pc = at;
    return a3;
}

static void emulation_checks(const char *tag, uint32_t (*addr)(void *))
{
    int32_t err;
    uint32_t pc;
    for (int i = 0; i < 16; i++)
        buf[i] = (uint8_t)(0x11 * (i + 1));
    hn_section(tag);
    CHECK("emulated lw @+1", emulate_at(emu_lw, addr(buf + 1), 0, &err, &pc), 0x55443322);
    CHECK("  ok", err, 0);
    CHECK("emulated lh @+3 (negative)", emulate_at(emu_lh, addr(buf + 7), 0, &err, &pc), 0xffff9988);
    CHECK("emulated lhu @+3", emulate_at(emu_lhu, addr(buf + 7), 0, &err, &pc), 0x9988);
    emulate_at(emu_sw, addr(buf + 5), 0xa1b2c3d4, &err, &pc);
    CHECK("emulated sw @+5", buf[5] | buf[6] << 8 | buf[7] << 16 | (uint32_t)buf[8] << 24, 0xa1b2c3d4);
    CHECK("  neighbours intact", buf[4] == 0x55 && buf[9] == 0xaa, 1);
    emulate_at(emu_sh, addr(buf + 11), 0x1234, &err, &pc);
    CHECK("emulated sh @+11", buf[11] | buf[12] << 8, 0x1234);
    CHECK("AMO is not emulated", (emulate_at(emu_amo, addr(buf + 1), 0, &err, &pc), err), SBI_ERR_INVALID_PARAM);
}

static uint32_t phys(void *p) { return (uint32_t)p; }
static uint32_t alias(void *p) { return TO_ALIAS(p); }

static void test_misaligned(void)
{
    hn_section("misaligned, direct");
    /* Whether hardware does these or the firmware emulates them, S sees
     * the right data and no trap. */
    volatile uint32_t *w = (volatile uint32_t *)(buf + 1);
    volatile int16_t *h = (volatile int16_t *)(buf + 7);
    hn_expect(HN_SKIP);
    for (int i = 0; i < 16; i++)
        buf[i] = (uint8_t)(0x11 * (i + 1));
    CHECK("lw @+1", *w, 0x55443322);
    CHECK("lh @+7", (uint32_t)(int32_t)*h, 0xffff9988);
    *w = 0x01020304;
    CHECK("sw @+1", buf[1] | buf[2] << 8 | buf[3] << 16 | (uint32_t)buf[4] << 24, 0x01020304);
    CHECK("no trap reached S", hn_last.count, 0);

    emulation_checks("emulation, bare", phys);

    /* The same through a page table: the firmware must read instruction and
     * data with the S translation (MPRV). */
    root[0x80000000u >> 22] = PTE_SUPER(0x80000000u);
    root[0x80400000u >> 22] = PTE_SUPER(0x80400000u);
    root[ALIAS >> 22] = PTE_SUPER(0x80400000u);
    root[0] = PTE_SUPER(0);                         /* syscon */
    root[CLINT_BASE >> 22] = PTE_SUPER(CLINT_BASE & ~0x3fffffu);
    root[UART_BASE >> 22] = PTE_SUPER(UART_BASE);
    csr_write(satp, SATP_SV32 | ((uint32_t)root >> 12));
    __asm__ volatile("sfence.vma" ::: "memory");

    emulation_checks("emulation, sv32 alias", alias);
    int32_t err;
    uint32_t pc;
    /* Instruction fetched through the alias too. */
    CHECK("insn via alias", emulate_at((const char *)TO_ALIAS(emu_lw), TO_ALIAS(buf + 1), 0, &err, &pc), 0x55443322);
    hn_expect(HN_SKIP);
    emulate_at(emu_lw, UNMAPPED, 0, &err, &pc);
    hn_check_trap("fault during emulation: page fault to S", EXC_LOAD_PAGE, pc, UNMAPPED);
    hn_expect(HN_SKIP);
    emulate_at(emu_sw, UNMAPPED, 0, &err, &pc);
    hn_check_trap("store fault during emulation", EXC_STORE_PAGE, pc, UNMAPPED);

    /* A real misaligned load through the alias, then a misaligned AMO,
     * which no one emulates: S gets it (cause 6, or 4 on QEMU 7.2). */
    hn_expect(HN_SKIP);
    CHECK("lw @alias+1", *(volatile uint32_t *)TO_ALIAS(buf + 1), 0x55443322);
    CHECK("  no trap", hn_last.count, 0);
    uint32_t v;
    hn_expect(HN_SKIP);
    __asm__ volatile("la %0, 1f\n1: amoadd.w %1, zero, (%2)" : "=&r"(pc), "=r"(v) : "r"(buf + 1) : "memory");
    CHECK("misaligned AMO reaches S", hn_last.count, 1);
    hn_check_quirk("  cause", hn_last.cause, EXC_STORE_MISALIGNED, EXC_LOAD_MISALIGNED);
    CHECK("  sepc", hn_last.epc, pc);
    CHECK("  stval", hn_last.tval, (uint32_t)(buf + 1));

    csr_write(satp, 0);
    __asm__ volatile("sfence.vma" ::: "memory");
}

/* ---- time CSR emulation and illegal-instruction redirection ---- */
static void test_time_emulation(void)
{
    hn_section("rdtime");
    uint64_t m0 = clint_mtime(), t = rdtime64(), m1 = clint_mtime();
    CHECK("rdtime (hardware) within mtime", t >= m0 && t <= m1, 1);

    struct sbiret r = sbi(SBI_EXT_HNTEST, HNTEST_SET_MCOUNTEREN, 5, 0, 0, 0);   /* TM off */
    CHECK("mcounteren was 7", r.value, 7);
    hn_expect(HN_SKIP);
    m0 = clint_mtime();
    t = rdtime64();
    m1 = clint_mtime();
    CHECK("rdtime (emulated) within mtime", t >= m0 && t <= m1, 1);
    CHECK("  no trap reached S", hn_last.count, 0);

    sbi(SBI_EXT_HNTEST, HNTEST_SET_MCOUNTEREN, 0, 0, 0, 0);
    uint32_t pc;
    hn_expect(HN_SKIP);
    __asm__ volatile("la %0, 1f\n1: csrr a0, cycle" : "=&r"(pc) :: "a0");
    hn_check_trap("rdcycle gated: illegal redirected", EXC_ILLEGAL, pc, 0xc0002573);
    sbi(SBI_EXT_HNTEST, HNTEST_SET_MCOUNTEREN, 7, 0, 0, 0);
}

/* ---- U mode under the firmware's delegation ---- */
static uint32_t u_ecall(uint32_t x)
{
    (void)x;
    uint32_t pc;
    __asm__ volatile("li a7, 0\n la %0, 1f\n1: ecall" : "=&r"(pc) :: "a0", "a7");
    return pc;
}

static uint32_t u_ebreak(uint32_t x)
{
    (void)x;
    uint32_t pc;
    __asm__ volatile("la %0, 1f\n1: ebreak" : "=&r"(pc));
    return pc;
}

static void test_user(void)
{
    hn_section("user");
    hn_expect(HN_SKIP);
    uint32_t pc = hn_srun(PRV_U, u_ecall, 0, 0);
    hn_check_trap("U ecall delegated to S", EXC_ECALL_U, pc, 0);
    CHECK("  at S", hn_last.level, PRV_S);
    hn_expect(HN_SKIP);
    pc = hn_srun(PRV_U, u_ebreak, 0, 0);
    CHECK("U ebreak delegated to S", hn_last.cause, EXC_BREAKPOINT);
    CHECK("  sepc", hn_last.epc, pc);
}

uint32_t payload_main(uint32_t hartid, uint32_t dtb)
{
    hn_puts("payload: start (S-mode)\n");
    hn_hook = irq_hook;
    test_entry(hartid, dtb);
    test_base();
    test_timer();
    test_ipi_rfence_hsm();
    test_console();
    test_misaligned();
    test_time_emulation();
    test_user();
    uint32_t code = hn_finish("sbi-payload");
    if (code)
        return code;
    sbi(SBI_EXT_SRST, 0, 0, 0, 0, 0);   /* shutdown, no reason */
    hn_puts("payload: SRST returned\n");
    return 0xfff0;
}
