/* The C half of both trap vectors. One body serves M and S: the level
 * argument picks which CSR set describes the trap. */
#include "hn.h"

volatile struct hn_trap hn_last;
hn_hook_fn hn_hook;
static enum hn_resume armed;

void hn_expect(enum hn_resume how)
{
    hn_last.count = 0;
    hn_last.cause = hn_last.epc = hn_last.tval = hn_last.status = 0xdeadbeef;
    armed = how;
}

int hn_check_trap(const char *what, uint32_t cause, uint32_t epc, uint32_t tval)
{
    int ok = CHECK(what, hn_last.count, 1);
    ok &= CHECK(what, hn_last.cause, cause);
    ok &= CHECK(what, hn_last.epc, epc);
    ok &= CHECK(what, hn_last.tval, tval);
    armed = 0;
    return ok;
}

#define LEVEL_CSR(level, m, s) ((level) == PRV_M ? csr_read(m) : csr_read(s))

static void set_epc(uint32_t level, uint32_t epc)
{
    if (level == PRV_M)
        csr_write(mepc, epc);
    else
        csr_write(sepc, epc);
}

static int is_exit_request(struct frame *f, uint32_t cause)
{
    return (cause == EXC_ECALL_U || cause == EXC_ECALL_S || cause == EXC_ECALL_M) &&
           f->r[REG_A7] == HN_EXIT_MAGIC;
}

void hn_trap_common(struct frame *f, uint32_t level)
{
    uint32_t cause = LEVEL_CSR(level, mcause, scause);

    if (is_exit_request(f, cause)) {
        if (level == PRV_M)
            hn_mresume(f->r[REG_A0]);
        if (hn_srun_active)
            hn_sresume(f->r[REG_A0]);
        /* A U-mode exit delegated to S while M started the lower code:
         * pass it up. */
        register uint32_t a0 __asm__("a0") = f->r[REG_A0];
        register uint32_t a7 __asm__("a7") = HN_EXIT_MAGIC;
        __asm__ volatile("ecall" :: "r"(a0), "r"(a7));
    }

    if (hn_hook && hn_hook(f, cause, level))
        return;

    uint32_t epc = LEVEL_CSR(level, mepc, sepc);
    uint32_t tval = LEVEL_CSR(level, mtval, stval);
    if (!armed || (cause & MCAUSE_INT)) {
        hn_printf("unexpected trap at level %u: cause 0x%x epc 0x%x tval 0x%x\n",
                  level, cause, epc, tval);
        hn_exit(0xfffe);
    }
    hn_last.cause = cause;
    hn_last.epc = epc;
    hn_last.tval = tval;
    hn_last.status = LEVEL_CSR(level, mstatus, sstatus);
    hn_last.level = level;
    hn_last.count++;
    set_epc(level, armed == HN_RESUME_RA ? f->r[REG_RA] : epc + 4);
}
