/* Counters: cycle/instret/time and their high halves, time vs the CLINT,
 * writable machine counters, mcounteren/scounteren gating of S/U reads. */
#include "hn.h"

#define READ64(lo, hi) ({ uint32_t __h, __l; \
    do { __h = csr_read(hi); __l = csr_read(lo); } while (__h != csr_read(hi)); \
    ((uint64_t)__h << 32) | __l; })

static void test_monotonic(void)
{
    hn_section("monotonic");
    uint64_t c0 = READ64(mcycle, mcycleh), i0 = READ64(minstret, minstreth);
    uint64_t uc0 = READ64(cycle, cycleh), ui0 = READ64(instret, instreth);
    for (volatile int k = 0; k < 1000; k++)
        ;
    uint64_t c1 = READ64(mcycle, mcycleh), i1 = READ64(minstret, minstreth);
    uint64_t uc1 = READ64(cycle, cycleh), ui1 = READ64(instret, instreth);
    CHECK("mcycle increases", c1 > c0, 1);
    CHECK("minstret increases", i1 > i0, 1);
    CHECK("cycle increases", uc1 > uc0, 1);
    CHECK("instret increases", ui1 > ui0, 1);
    /* The user aliases are the same counters, read a few instructions later. */
    CHECK("cycle follows mcycle", uc0 >= c0 && uc0 <= c1, 1);
    CHECK("instret follows minstret", ui0 >= i0 && ui0 <= i1, 1);
    hn_printf("  instret delta over a 1000-iteration loop: %llu\n", i1 - i0);
}

static void test_time(void)
{
    hn_section("time");
    uint64_t m0 = clint_mtime();
    uint64_t t = READ64(time, timeh);
    uint64_t m1 = clint_mtime();
    CHECK("time within CLINT mtime reads", t >= m0 && t <= m1, 1);
    CHECK("timeh = mtime high word", csr_read(timeh), (uint32_t)(clint_mtime() >> 32));
    /* 10 MHz: 1 ms of mtime is 10000 ticks on both. */
    uint64_t end = clint_mtime() + 10000;
    while (clint_mtime() < end)
        ;
    uint64_t t2 = READ64(time, timeh);
    CHECK("time advanced with mtime", t2 >= t + 10000, 1);
}

static void test_writable(void)
{
    hn_section("writable counters");
    csr_write(minstret, 0);
    csr_write(minstreth, 1);
    csr_write(minstret, 1000);
    uint64_t i = READ64(minstret, minstreth);
    CHECK("minstret written", i >= 0x1000003e8ull && i < 0x1000003e8ull + 1000000, 1);
    csr_write(mcycle, 0);
    csr_write(mcycleh, 2);
    uint64_t c = READ64(mcycle, mcycleh);
    CHECK("mcycle written", c >= 0x200000000ull && c < 0x200000000ull + 100000000, 1);
}

/* Gated reads: each fn reads one counter and returns the pc of the read. */
#define READER(name, csr) static uint32_t name(uint32_t x) { (void)x; uint32_t pc; \
    __asm__ volatile("la %0, 1f\n1: csrr a0, " #csr : "=&r"(pc) :: "a0"); return pc; }
READER(rd_cycle, cycle)
READER(rd_time, time)
READER(rd_instret, instret)
READER(rd_cycleh, cycleh)
READER(rd_timeh, timeh)
READER(rd_instreth, instreth)

static const struct { const char *name; hn_fn fn; uint32_t bit; uint32_t insn; } readers[] = {
    { "cycle",    rd_cycle,    0, 0xc0002573 },
    { "time",     rd_time,     1, 0xc0102573 },
    { "instret",  rd_instret,  2, 0xc0202573 },
    { "cycleh",   rd_cycleh,   0, 0xc8002573 },
    { "timeh",    rd_timeh,    1, 0xc8102573 },
    { "instreth", rd_instreth, 2, 0xc8202573 },
};

static void gated_read(unsigned r, uint32_t mode, int allowed)
{
    hn_expect(HN_SKIP);
    uint32_t pc = hn_mrun(mode, readers[r].fn, 0, 0);
    if (allowed) {
        CHECK(readers[r].name, hn_last.count, 0);
    } else {
        hn_check_trap(readers[r].name, EXC_ILLEGAL, pc, readers[r].insn);
    }
}

static void test_gating(void)
{
    hn_section("counteren gating");
    for (unsigned r = 0; r < sizeof readers / sizeof readers[0]; r++) {
        uint32_t bit = 1u << readers[r].bit;
        csr_write(mcounteren, 0);
        csr_write(scounteren, 0);
        gated_read(r, PRV_S, 0);            /* mcounteren clear: S traps */
        gated_read(r, PRV_U, 0);            /* ... and so does U */
        csr_write(mcounteren, bit);
        gated_read(r, PRV_S, 1);            /* S needs only mcounteren */
        gated_read(r, PRV_U, 0);            /* U also needs scounteren */
        csr_write(scounteren, bit);
        gated_read(r, PRV_U, 1);
        csr_write(mcounteren, 0);
        gated_read(r, PRV_U, 0);            /* scounteren alone is not enough */
    }
    csr_write(mcounteren, 7);
    CHECK("mcounteren CY|TM|IR writable", csr_read(mcounteren) & 7, 7);
    csr_write(scounteren, 7);
    CHECK("scounteren CY|TM|IR writable", csr_read(scounteren) & 7, 7);
    csr_write(mcounteren, 0);
    csr_write(scounteren, 0);
}

int main(void)
{
    hn_puts("counters: start\n");
    test_monotonic();
    test_time();
    test_writable();
    test_gating();
    return hn_finish("counters");
}
