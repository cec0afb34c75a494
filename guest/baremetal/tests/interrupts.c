/* Interrupts: CLINT timer and software, S-level interrupts raised by M
 * through mip, delegation, priority order, global-enable rules, WFI. */
#include "hn.h"

#define BIT(i) (1u << (i))
#define PLIC_PRIORITY(irq)  (PLIC_BASE + 4 * (irq))
#define PLIC_ENABLE(ctx)    (PLIC_BASE + 0x2000 + 0x80 * (ctx))
#define PLIC_THRESHOLD(ctx) (PLIC_BASE + 0x200000 + 0x1000 * (ctx))
#define PLIC_CLAIM(ctx)     (PLIC_THRESHOLD(ctx) + 4)
#define PLIC_CTX_M 0        /* hart 0 M-mode context on virt */
#define UART_IER (UART_BASE + 1)
#define IER_THRE 0x02

/* Every interrupt taken is logged as (level << 8) | irq number. */
static volatile uint32_t irq_log[16], irq_epc[16];
static volatile uint32_t n_irq;
static volatile uint32_t plic_claimed;

static void log_reset(void)
{
    n_irq = 0;
    for (int i = 0; i < 16; i++)
        irq_log[i] = 0;
}

/* Quiet the source of an interrupt at the level that took it. S cannot
 * clear STIP/SEIP (M owns them), so S masks them in sie instead. */
static void silence(uint32_t irq, uint32_t level)
{
    switch (irq) {
    case IRQ_MSI: mmio_w32(CLINT_MSIP, 0); break;
    case IRQ_MTI: clint_set_mtimecmp(~0ull); break;
    case IRQ_MEI:
        plic_claimed = mmio_r32(PLIC_CLAIM(PLIC_CTX_M));
        mmio_w8(UART_IER, 0);
        mmio_w32(PLIC_CLAIM(PLIC_CTX_M), plic_claimed);
        break;
    case IRQ_SSI:
        if (level == PRV_M) csr_clear(mip, BIT(IRQ_SSI)); else csr_clear(sip, BIT(IRQ_SSI));
        break;
    case IRQ_STI:
        if (level == PRV_M) csr_clear(mip, BIT(IRQ_STI)); else csr_clear(sie, BIT(IRQ_STI));
        break;
    case IRQ_SEI:
        if (level == PRV_M) csr_clear(mip, BIT(IRQ_SEI)); else csr_clear(sie, BIT(IRQ_SEI));
        break;
    }
}

static int irq_hook(struct frame *f, uint32_t cause, uint32_t level)
{
    (void)f;
    if (!(cause & MCAUSE_INT))
        return 0;
    uint32_t irq = cause & ~MCAUSE_INT;
    if (n_irq < 16) {
        irq_log[n_irq] = (level << 8) | irq;
        irq_epc[n_irq] = level == PRV_M ? csr_read(mepc) : csr_read(sepc);
    }
    n_irq++;
    silence(irq, level);
    return 1;
}

/* Spin until n interrupts were logged or 20 ms of mtime passed. Works in
 * any mode (memory and the CLINT only); bounded by time, not iterations,
 * because how fast a loop runs says nothing about when a timer fires. */
static uint32_t spin_for(uint32_t n)
{
    uint64_t end = clint_mtime() + 200000;
    while (n_irq < n && clint_mtime() < end)
        ;
    return n_irq;
}

static uint32_t lower_spin1(uint32_t x) { (void)x; return spin_for(1); }

/* S-mode: enable the given sie bits and SIE, spin for one interrupt. */
static uint32_t s_enable_and_spin(uint32_t sie_bits)
{
    csr_set(sie, sie_bits);
    csr_set(sstatus, MSTATUS_SIE);
    uint32_t n = spin_for(1);
    csr_clear(sstatus, MSTATUS_SIE);
    csr_clear(sie, sie_bits);
    return n;
}

static void test_machine_timer(void)
{
    hn_section("machine timer");
    log_reset();
    csr_write(mie, BIT(IRQ_MTI));
    clint_set_mtimecmp(clint_mtime() + 1000);   /* 100 us at 10 MHz */
    csr_set(mstatus, MSTATUS_MIE);
    spin_for(1);
    csr_clear(mstatus, MSTATUS_MIE);
    CHECK("one MTI taken", n_irq, 1);
    CHECK("cause MTI at M", irq_log[0], (PRV_M << 8) | IRQ_MTI);
    CHECK("MTIP clear after mtimecmp = max", csr_read(mip) & BIT(IRQ_MTI), 0);

    /* mtimecmp in the past pends at once; mip.MTIP is read-only to M. */
    clint_set_mtimecmp(0);
    CHECK("MTIP pending for mtimecmp = 0", !!(csr_read(mip) & BIT(IRQ_MTI)), 1);
    csr_clear(mip, BIT(IRQ_MTI));
    CHECK("MTIP not cleared by csrc mip", !!(csr_read(mip) & BIT(IRQ_MTI)), 1);
    clint_set_mtimecmp(~0ull);
    csr_write(mie, 0);
}

static void test_machine_software(void)
{
    hn_section("machine software");
    log_reset();
    mmio_w32(CLINT_MSIP, 1);
    CHECK("msip reads back 1", mmio_r32(CLINT_MSIP), 1);
    CHECK("MSIP pending", !!(csr_read(mip) & BIT(IRQ_MSI)), 1);
    CHECK("nothing taken while MIE=0", spin_for(1), 0);
    csr_write(mie, BIT(IRQ_MSI));
    CHECK("nothing taken while mstatus.MIE=0", spin_for(1), 0);
    csr_set(mstatus, MSTATUS_MIE);
    spin_for(1);
    csr_clear(mstatus, MSTATUS_MIE);
    CHECK("one MSI taken", n_irq, 1);
    CHECK("cause MSI at M", irq_log[0], (PRV_M << 8) | IRQ_MSI);
    CHECK("MSIP clear", csr_read(mip) & BIT(IRQ_MSI), 0);

    /* M-level interrupts are taken in S/U whatever mstatus.MIE says. */
    log_reset();
    mmio_w32(CLINT_MSIP, 1);
    CHECK("MSI taken in S with MIE=0", hn_mrun(PRV_S, lower_spin1, 0, 0), 1);
    CHECK("  cause MSI at M", irq_log[0], (PRV_M << 8) | IRQ_MSI);
    csr_write(mie, 0);
}

static void test_s_interrupts_at_m(void)
{
    hn_section("S interrupts, not delegated");
    csr_write(mideleg, 0);
    static const uint32_t irqs[] = { IRQ_SSI, IRQ_STI, IRQ_SEI };
    static const char *names[] = { "SSIP", "STIP", "SEIP" };
    for (int i = 0; i < 3; i++) {
        log_reset();
        csr_set(mip, BIT(irqs[i]));
        CHECK(names[i], !!(csr_read(mip) & BIT(irqs[i])), 1);
        csr_write(mie, BIT(irqs[i]));
        csr_set(mstatus, MSTATUS_MIE);
        spin_for(1);
        csr_clear(mstatus, MSTATUS_MIE);
        CHECK(names[i], irq_log[0], (PRV_M << 8) | irqs[i]);
        CHECK(names[i], n_irq, 1);
        csr_write(mie, 0);
    }
}

static void test_delegated(void)
{
    hn_section("delegated S interrupts");
    uint32_t deleg = BIT(IRQ_SSI) | BIT(IRQ_STI) | BIT(IRQ_SEI);
    csr_write(mideleg, deleg);
    CHECK("mideleg holds SSIP|STIP|SEIP", csr_read(mideleg), deleg);

    /* Pending and delegated: M does not take it even with MIE=1. */
    log_reset();
    csr_write(mie, BIT(IRQ_SSI));
    csr_set(mip, BIT(IRQ_SSI));
    csr_set(mstatus, MSTATUS_MIE);
    CHECK("delegated SSI not taken in M", spin_for(1), 0);
    csr_clear(mstatus, MSTATUS_MIE);
    CHECK("SSIP visible in sip", !!(csr_read(sip) & BIT(IRQ_SSI)), 1);
    CHECK("sie aliases mie", csr_read(sie), BIT(IRQ_SSI));
    csr_write(mie, 0);

    /* Software interrupt raised by M through mip.SSIP, taken in S. */
    CHECK("SSI taken in S", hn_mrun(PRV_S, s_enable_and_spin, BIT(IRQ_SSI), 0), 1);
    CHECK("  at S, cause SSI", irq_log[0], (PRV_S << 8) | IRQ_SSI);
    CHECK("  S cleared sip.SSIP", csr_read(mip) & BIT(IRQ_SSI), 0);

    /* Timer: M sets mip.STIP as an SBI does for a delegated timer. */
    log_reset();
    csr_set(mip, BIT(IRQ_STI));
    CHECK("STI taken in S", hn_mrun(PRV_S, s_enable_and_spin, BIT(IRQ_STI), 0), 1);
    CHECK("  at S, cause STI", irq_log[0], (PRV_S << 8) | IRQ_STI);
    CHECK("  STIP still pending (S cannot clear it)", !!(csr_read(mip) & BIT(IRQ_STI)), 1);
    csr_clear(mip, BIT(IRQ_STI));

    log_reset();
    csr_set(mip, BIT(IRQ_SEI));
    CHECK("SEI taken in S", hn_mrun(PRV_S, s_enable_and_spin, BIT(IRQ_SEI), 0), 1);
    CHECK("  at S, cause SEI", irq_log[0], (PRV_S << 8) | IRQ_SEI);
    csr_clear(mip, BIT(IRQ_SEI));

    /* In U, S interrupts are enabled whatever sstatus.SIE says. */
    log_reset();
    csr_write(mie, BIT(IRQ_SSI));
    csr_clear(sstatus, MSTATUS_SIE);
    csr_set(mip, BIT(IRQ_SSI));
    CHECK("SSI taken in U with SIE=0", hn_mrun(PRV_U, lower_spin1, 0, 0), 1);
    CHECK("  at S, cause SSI", irq_log[0], (PRV_S << 8) | IRQ_SSI);
    csr_write(mie, 0);
    csr_write(mideleg, 0);
}

static void test_priorities(void)
{
    hn_section("priorities");
    log_reset();
    csr_write(mideleg, 0);
    /* MEI from the UART's THR-empty interrupt through the PLIC. */
    mmio_w32(PLIC_PRIORITY(UART_IRQ), 1);
    mmio_w32(PLIC_ENABLE(PLIC_CTX_M), BIT(UART_IRQ));
    mmio_w32(PLIC_THRESHOLD(PLIC_CTX_M), 0);
    mmio_w8(UART_IER, IER_THRE);
    mmio_w32(CLINT_MSIP, 1);
    clint_set_mtimecmp(0);
    csr_set(mip, BIT(IRQ_SEI) | BIT(IRQ_SSI) | BIT(IRQ_STI));
    uint32_t all = BIT(IRQ_MEI) | BIT(IRQ_MSI) | BIT(IRQ_MTI) |
                   BIT(IRQ_SEI) | BIT(IRQ_SSI) | BIT(IRQ_STI);
    CHECK("all six pending", csr_read(mip) & all, all);
    csr_write(mie, all);
    csr_set(mstatus, MSTATUS_MIE);
    spin_for(6);
    csr_clear(mstatus, MSTATUS_MIE);
    /* Spec order MEI > MSI > MTI > SEI > SSI > STI; QEMU 7.2 (no AIA)
     * takes the lowest-numbered pending interrupt instead. */
    static const uint32_t spec[] = { IRQ_MEI, IRQ_MSI, IRQ_MTI, IRQ_SEI, IRQ_SSI, IRQ_STI };
    static const uint32_t qemu[] = { IRQ_SSI, IRQ_MSI, IRQ_STI, IRQ_MTI, IRQ_SEI, IRQ_MEI };
    uint32_t spec_ok = 1, qemu_ok = 1;
    CHECK("six interrupts", n_irq, 6);
    hn_printf("  order taken:");
    for (int i = 0; i < 6; i++) {
        hn_printf(" %u", irq_log[i] & 0xff);
        spec_ok &= irq_log[i] == ((PRV_M << 8) | spec[i]);
        qemu_ok &= irq_log[i] == ((PRV_M << 8) | qemu[i]);
    }
    hn_printf("\n");
    hn_check_quirk("priority order (1 = spec, 2 = lowest number first)",
                   spec_ok ? 1 : qemu_ok ? 2 : 0, 1, 2);
    CHECK("PLIC claim gave the UART irq", plic_claimed, UART_IRQ);
    CHECK("nothing pending afterwards", csr_read(mip) & all, 0);
    mmio_w32(PLIC_ENABLE(PLIC_CTX_M), 0);
    csr_write(mie, 0);
}

/* An enabled M-level interrupt beats a delegated S-level one: taken in S
 * with both pending, the M one (to M) comes first. */
static uint32_t s_spin_two(uint32_t x)
{
    (void)x;
    csr_set(sie, BIT(IRQ_SSI));
    csr_set(sstatus, MSTATUS_SIE);
    uint32_t n = spin_for(2);
    csr_clear(sstatus, MSTATUS_SIE);
    return n;
}

static void test_cross_level(void)
{
    hn_section("M before S level");
    log_reset();
    csr_write(mideleg, BIT(IRQ_SSI));
    csr_set(mip, BIT(IRQ_SSI));
    csr_write(mie, BIT(IRQ_MTI));
    clint_set_mtimecmp(0);
    CHECK("two interrupts", hn_mrun(PRV_S, s_spin_two, 0, 0), 2);
    CHECK("1st: MTI at M", irq_log[0], (PRV_M << 8) | IRQ_MTI);
    CHECK("2nd: SSI at S", irq_log[1], (PRV_S << 8) | IRQ_SSI);
    csr_write(mie, 0);
    csr_write(mideleg, 0);
}

static void test_wfi(void)
{
    hn_section("wfi");
    log_reset();
    /* WFI wakes on mip & mie != 0 even with mstatus.MIE = 0, and then no
     * trap is taken. */
    csr_clear(mstatus, MSTATUS_MIE);
    csr_write(mie, BIT(IRQ_MTI));
    uint64_t deadline = clint_mtime() + 20000;   /* 2 ms */
    clint_set_mtimecmp(deadline);
    __asm__ volatile("wfi" ::: "memory");
    CHECK("woke with MTIP pending", !!(csr_read(mip) & BIT(IRQ_MTI)), 1);
    CHECK("woke no earlier than mtimecmp", clint_mtime() >= deadline, 1);
    CHECK("no trap taken", n_irq, 0);
    clint_set_mtimecmp(~0ull);
    csr_write(mie, 0);
}

int main(void)
{
    hn_puts("interrupts: start\n");
    clint_set_mtimecmp(~0ull);
    hn_hook = irq_hook;
    test_machine_timer();
    test_machine_software();
    test_s_interrupts_at_m();
    test_delegated();
    test_priorities();
    test_cross_level();
    test_wfi();
    return hn_finish("interrupts");
}
