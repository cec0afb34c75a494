/* Result reporting through HTIF tohost and the syscon, and the check
 * bookkeeping every test uses. */
#include "hn.h"

/* riscv-tests layout: 64-bit words, 64-byte aligned, in their own section. */
volatile uint32_t tohost[2] __attribute__((section(".tohost"), aligned(64)));
volatile uint32_t fromhost[2] __attribute__((section(".tohost"), aligned(64)));

void hn_exit(uint32_t code)
{
    /* HTIF first: an emulator watching tohost stops here; QEMU treats it as
     * plain RAM and goes on to the syscon write. Only the low word is
     * written, as rv32 riscv-tests do. */
    tohost[0] = (code << 1) | 1;
    mmio_w32(SYSCON_BASE, code ? (code << 16) | SYSCON_FAIL : SYSCON_PASS);
    for (;;)
        __asm__ volatile("wfi");
}

static uint32_t n_checks, n_failed, first_failed;
static const char *section = "";

void hn_section(const char *name)
{
    section = name;
}

int hn_check(const char *what, uint32_t got, uint32_t want)
{
    n_checks++;
    if (got == want)
        return 1;
    n_failed++;
    if (!first_failed)
        first_failed = n_checks;
    hn_printf("  FAIL #%u %s: %s: got 0x%x want 0x%x\n", n_checks, section, what, got, want);
    return 0;
}

int hn_check_quirk(const char *what, uint32_t got, uint32_t spec, uint32_t qemu72)
{
    if (got == qemu72 && got != spec) {
        hn_printf("  note: %s: 0x%x is the known QEMU 7.2 deviation (spec: 0x%x)\n",
                  what, got, spec);
        n_checks++;
        return 1;
    }
    return hn_check(what, got, spec);
}

uint32_t hn_finish(const char *prog)
{
    if (n_failed) {
        hn_printf("%s: FAIL %u of %u checks (first #%u)\n", prog, n_failed, n_checks, first_failed);
        /* Syscon fail codes are 16 bits; keep the code non-zero. */
        return first_failed & 0xffff ? first_failed & 0xffff : 0xffff;
    }
    hn_printf("%s: PASS %u checks\n", prog, n_checks);
    return 0;
}
