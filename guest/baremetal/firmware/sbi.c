/* Hypernova SBI firmware fixture: M-mode setup, trap dispatch and the SBI
 * calls Linux 6.1 rv32 makes (see README.md). Single hart. */
#include "fw.h"

#define BIT(i) (1u << (i))

void fw_panic(const char *why, uint32_t a, uint32_t b)
{
    hn_printf("\nhnsbi: PANIC %s (0x%x 0x%x) mepc 0x%x mcause 0x%x mtval 0x%x\n",
              why, a, b, csr_read(mepc), csr_read(mcause), csr_read(mtval));
    mmio_w32(SYSCON_BASE, (0xf0u << 16) | SYSCON_FAIL);
    for (;;)
        __asm__ volatile("wfi");
}

static uint32_t next_entry(const struct fw_dynamic_info *info)
{
    if (info && info->magic == FW_DYNAMIC_INFO_MAGIC && info->version >= 1 &&
        info->version <= 2 && info->next_mode == FW_DYNAMIC_NEXT_MODE_S && info->next_addr)
        return info->next_addr;
    return DEFAULT_NEXT_ADDR;
}

uint32_t fw_main(uint32_t hartid, uint32_t dtb, const struct fw_dynamic_info *info)
{
    uint32_t next = next_entry(info);
    hn_printf("hnsbi: Hypernova SBI fixture, hart %u, dtb 0x%x, next 0x%x\n", hartid, dtb, next);

    /* What S-mode handles itself, as OpenSBI delegates. Illegal
     * instructions and misaligned accesses stay here for emulation. */
    csr_write(medeleg, BIT(EXC_INSN_MISALIGNED) | BIT(EXC_BREAKPOINT) | BIT(EXC_ECALL_U) |
                       BIT(EXC_INSN_PAGE) | BIT(EXC_LOAD_PAGE) | BIT(EXC_STORE_PAGE));
    csr_write(mideleg, BIT(IRQ_SSI) | BIT(IRQ_STI) | BIT(IRQ_SEI));
    csr_write(mcounteren, 7);             /* cycle, time, instret readable in S */
    csr_write(mie, 0);
    clint_set_mtimecmp(~0ull);
    mmio_w32(CLINT_MSIP, 0);

    /* Keep the kernel's allocator off the firmware. */
    uint32_t size = ((uint32_t)_end - RAM_BASE + 0xfff) & ~0xfffu;
    if (fw_fdt_reserve(dtb, RAM_BASE, size))
        hn_printf("hnsbi: warning: could not add /memreserve/ to the DTB\n");

    uint32_t ms = csr_read(mstatus);
    ms &= ~(MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE | MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_MPRV);
    csr_write(mstatus, ms | (PRV_S << MPP_SHIFT));
    return next;
}

void fw_redirect(uint32_t cause, uint32_t epc, uint32_t tval)
{
    uint32_t old = csr_read(mstatus), ms = old;
    uint32_t from = (ms & MSTATUS_MPP) >> MPP_SHIFT;
    if (from == PRV_M)
        fw_panic("cannot redirect a trap from M", cause, epc);
    csr_write(scause, cause);
    csr_write(sepc, epc);
    csr_write(stval, tval);
    /* The S trap entry: SPP = where it came from, SPIE = SIE, SIE = 0. */
    ms &= ~(MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE | MSTATUS_MPP);
    if (old & MSTATUS_SIE)
        ms |= MSTATUS_SPIE;
    if (from == PRV_S)
        ms |= MSTATUS_SPP;
    csr_write(mstatus, ms | (PRV_S << MPP_SHIFT));
    csr_write(mepc, csr_read(stvec) & ~3u);
}

/* ---- SBI ---- */
struct sbiret { int32_t error; uint32_t value; };

static void set_timer(uint64_t when)
{
    clint_set_mtimecmp(when);
    csr_clear(mip, BIT(IRQ_STI));
    csr_set(mie, BIT(IRQ_MTI));
}

/* Is every hart in (mask, base) hart 0? base = -1 means all harts. */
static int harts_valid(uint32_t mask, uint32_t base, int *self)
{
    *self = 0;
    if (base == 0xffffffffu) {
        *self = 1;
        return 1;
    }
    for (uint32_t bit = 0; bit < 32; bit++) {
        if (!(mask & BIT(bit)))
            continue;
        if (base + bit != 0)
            return 0;
        *self = 1;
    }
    return 1;
}

static void local_fence(uint32_t sfence)
{
    if (sfence)
        __asm__ volatile("sfence.vma" ::: "memory");
    else
        __asm__ volatile("fence.i" ::: "memory");
}

static int probe(uint32_t eid)
{
    switch (eid) {
    case SBI_EXT_BASE: case SBI_EXT_TIME: case SBI_EXT_IPI: case SBI_EXT_RFNC:
    case SBI_EXT_HSM: case SBI_EXT_SRST: case SBI_EXT_HNTEST:
        return 1;
    default:
        return eid <= SBI_LEGACY_SHUTDOWN;
    }
}

static void system_reset(uint32_t type, uint32_t reason)
{
    hn_printf("hnsbi: system reset type %u reason %u\n", type, reason);
    if (type == 0)   /* shutdown; "system failure" becomes a failing exit */
        mmio_w32(SYSCON_BASE, reason == 1 ? (1u << 16) | SYSCON_FAIL : SYSCON_PASS);
    else
        mmio_w32(SYSCON_BASE, SYSCON_REBOOT);
    for (;;)
        __asm__ volatile("wfi");
}

static struct sbiret sbi_call(struct frame *f, uint32_t epc)
{
    uint32_t eid = f->r[17], fid = f->r[16];
    uint32_t a0 = f->r[10], a1 = f->r[11], a2 = f->r[12];
    struct sbiret r = { SBI_SUCCESS, 0 };
    int self;

    switch (eid) {
    case SBI_EXT_BASE:
        switch (fid) {
        case 0: r.value = SBI_SPEC_VERSION; break;
        case 1: r.value = SBI_IMPL_ID; break;
        case 2: r.value = SBI_IMPL_VERSION; break;
        case 3: r.value = probe(a0); break;
        case 4: r.value = csr_read(mvendorid); break;
        case 5: r.value = csr_read(marchid); break;
        case 6: r.value = csr_read(mimpid); break;
        default: r.error = SBI_ERR_NOT_SUPPORTED;
        }
        break;
    case SBI_EXT_TIME:
        if (fid == 0)
            set_timer(((uint64_t)a1 << 32) | a0);
        else
            r.error = SBI_ERR_NOT_SUPPORTED;
        break;
    case SBI_EXT_IPI:
        if (fid != 0)
            r.error = SBI_ERR_NOT_SUPPORTED;
        else if (!harts_valid(a0, a1, &self))
            r.error = SBI_ERR_INVALID_PARAM;
        else if (self)
            csr_set(mip, BIT(IRQ_SSI));
        break;
    case SBI_EXT_RFNC:
        if (fid > 2)
            r.error = SBI_ERR_NOT_SUPPORTED;   /* hypervisor fences */
        else if (!harts_valid(a0, a1, &self))
            r.error = SBI_ERR_INVALID_PARAM;
        else if (self)
            local_fence(fid != 0);
        break;
    case SBI_EXT_HSM:
        switch (fid) {
        case 0: r.error = a0 == 0 ? SBI_ERR_ALREADY_AVAILABLE : SBI_ERR_INVALID_PARAM; break;
        case 1: r.error = SBI_ERR_FAILED; break;          /* the only hart stays */
        case 2:
            if (a0 == 0)
                r.value = 0;                              /* STARTED */
            else
                r.error = SBI_ERR_INVALID_PARAM;
            break;
        case 3:                                           /* suspend */
            if (a0 == 0)
                __asm__ volatile("wfi");                  /* default retentive */
            else
                r.error = a0 == 0x80000000u ? SBI_ERR_NOT_SUPPORTED : SBI_ERR_INVALID_PARAM;
            break;
        default: r.error = SBI_ERR_NOT_SUPPORTED;
        }
        break;
    case SBI_EXT_SRST:
        if (fid != 0)
            r.error = SBI_ERR_NOT_SUPPORTED;
        else if (a0 <= 2)
            system_reset(a0, a1);
        else
            r.error = a0 >= 0xf0000000u ? SBI_ERR_NOT_SUPPORTED : SBI_ERR_INVALID_PARAM;
        break;
    case SBI_EXT_HNTEST:
        if (fid == HNTEST_SET_MCOUNTEREN)
            r.value = csr_swap(mcounteren, a0);
        else if (fid == HNTEST_EMULATE_AT)
            r.error = fw_emulate_misaligned(f, a0, a1, epc) ? SBI_SUCCESS : SBI_ERR_INVALID_PARAM;
        else
            r.error = SBI_ERR_NOT_SUPPORTED;
        break;
    default:
        r.error = SBI_ERR_NOT_SUPPORTED;
    }
    (void)a2;
    return r;
}

/* Legacy (v0.1) calls return one value in a0. Hart masks are pointers
 * into S memory (NULL = all harts). */
static uint32_t legacy_hart_mask(uint32_t ptr, int *ok)
{
    *ok = 1;
    if (!ptr)
        return 1;
    struct fw_uptrap t;
    uint32_t mask = 0;
    for (int i = 0; i < 4; i++) {
        mask |= fw_unpriv_lbu(ptr + i, &t) << (8 * i);
        if (t.cause)
            *ok = 0;
    }
    return mask;
}

static int32_t legacy_call(struct frame *f)
{
    uint32_t eid = f->r[17], a0 = f->r[10];
    int ok;
    switch (eid) {
    case SBI_LEGACY_SET_TIMER:
        set_timer(((uint64_t)f->r[11] << 32) | a0);
        return 0;
    case SBI_LEGACY_PUTCHAR:
        uart_putc((char)a0);
        return 0;
    case SBI_LEGACY_GETCHAR:
        return uart_getc();
    case SBI_LEGACY_CLEAR_IPI:
        csr_clear(mip, BIT(IRQ_SSI));
        return 0;
    case SBI_LEGACY_SEND_IPI:
    case SBI_LEGACY_FENCE_I:
    case SBI_LEGACY_SFENCE_VMA:
    case SBI_LEGACY_SFENCE_ASID: {
        uint32_t mask = legacy_hart_mask(a0, &ok);
        if (!ok)
            return SBI_ERR_INVALID_ADDRESS;
        if (!(mask & 1))
            return 0;
        if (eid == SBI_LEGACY_SEND_IPI)
            csr_set(mip, BIT(IRQ_SSI));
        else
            local_fence(eid != SBI_LEGACY_FENCE_I);
        return 0;
    }
    case SBI_LEGACY_SHUTDOWN:
        system_reset(0, 0);
    }
    return SBI_ERR_NOT_SUPPORTED;
}

static void interrupt(uint32_t irq)
{
    switch (irq) {
    case IRQ_MTI:
        /* Hand the timer to S: STIP until the next set_timer. */
        csr_set(mip, BIT(IRQ_STI));
        csr_clear(mie, BIT(IRQ_MTI));
        break;
    case IRQ_MSI:
        mmio_w32(CLINT_MSIP, 0);
        csr_set(mip, BIT(IRQ_SSI));
        break;
    default:
        fw_panic("unexpected interrupt", irq, 0);
    }
}

void fw_trap(struct frame *f, uint32_t level)
{
    (void)level;
    uint32_t cause = csr_read(mcause), epc = csr_read(mepc), tval = csr_read(mtval);
    if (cause & MCAUSE_INT) {
        interrupt(cause & ~MCAUSE_INT);
        return;
    }
    if (((csr_read(mstatus) & MSTATUS_MPP) >> MPP_SHIFT) == PRV_M)
        fw_panic("trap in firmware", cause, tval);

    switch (cause) {
    case EXC_ECALL_S:
        csr_write(mepc, epc + 4);   /* before the call: it may redirect a fault */
        if (f->r[17] <= SBI_LEGACY_SHUTDOWN) {
            f->r[10] = (uint32_t)legacy_call(f);
        } else {
            struct sbiret r = sbi_call(f, epc);
            f->r[10] = (uint32_t)r.error;
            f->r[11] = r.value;
        }
        return;
    case EXC_LOAD_MISALIGNED:
    case EXC_STORE_MISALIGNED:
        if (fw_emulate_misaligned(f, epc, tval, epc))
            return;
        break;
    case EXC_ILLEGAL:
        if (fw_emulate_illegal(f, epc, tval))
            return;
        break;
    }
    fw_redirect(cause, epc, tval);
}
