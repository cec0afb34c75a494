/* A extension: LR/SC reservation rules and every AMO's result and memory
 * effect. */
#include "hn.h"

static volatile uint32_t word __attribute__((aligned(4096)));
static volatile uint32_t far_word __attribute__((aligned(4096)));  /* another page */

static uint32_t lr(volatile uint32_t *p)
{
    uint32_t v;
    __asm__ volatile("lr.w %0, (%1)" : "=r"(v) : "r"(p) : "memory");
    return v;
}

static uint32_t sc(volatile uint32_t *p, uint32_t v)
{
    uint32_t r;
    __asm__ volatile("sc.w %0, %2, (%1)" : "=r"(r) : "r"(p), "r"(v) : "memory");
    return r;
}

static void test_lrsc(void)
{
    hn_section("lr/sc");
    word = 5;
    CHECK("lr.w value", lr(&word), 5);
    CHECK("sc.w after lr succeeds (rd = 0)", sc(&word, 6), 0);
    CHECK("  stored", word, 6);
    CHECK("second sc.w fails (rd != 0)", sc(&word, 7) != 0, 1);
    CHECK("  not stored", word, 6);

    sc(&far_word, 0);   /* whatever it does, it ends any reservation */
    CHECK("sc.w without reservation fails", sc(&word, 8) != 0, 1);
    CHECK("  not stored", word, 6);

    lr(&word);
    CHECK("sc.w to another page than lr fails", sc(&far_word, 9) != 0, 1);
    CHECK("  not stored", far_word, 0);
    sc(&word, 0);

    uint32_t r;
    __asm__ volatile("lr.w.aq %0, (%1)" : "=r"(r) : "r"(&word) : "memory");
    __asm__ volatile("sc.w.rl %0, %2, (%1)" : "=r"(r) : "r"(&word), "r"(10) : "memory");
    CHECK("lr.w.aq / sc.w.rl", r, 0);
    CHECK("  stored", word, 10);

    /* The usual retry loop: an atomic increment. */
    word = 0;
    for (int i = 0; i < 100; i++) {
        uint32_t old, fail;
        do {
            old = lr(&word);
            fail = sc(&word, old + 1);
        } while (fail);
    }
    CHECK("lr/sc increment loop", word, 100);
}

enum amo { SWAP, ADD, XOR, AND, OR, MIN, MAX, MINU, MAXU, N_AMO };
static const char *const amo_names[N_AMO] = {
    "amoswap.w", "amoadd.w", "amoxor.w", "amoand.w", "amoor.w",
    "amomin.w", "amomax.w", "amominu.w", "amomaxu.w",
};

#define AMO(insn) __asm__ volatile(insn " %0, %2, (%1)" : "=r"(old) : "r"(p), "r"(v) : "memory")

static uint32_t do_amo(enum amo op, volatile uint32_t *p, uint32_t v)
{
    uint32_t old = 0;
    switch (op) {
    case SWAP: AMO("amoswap.w"); break;
    case ADD:  AMO("amoadd.w"); break;
    case XOR:  AMO("amoxor.w"); break;
    case AND:  AMO("amoand.w"); break;
    case OR:   AMO("amoor.w"); break;
    case MIN:  AMO("amomin.w"); break;
    case MAX:  AMO("amomax.w"); break;
    case MINU: AMO("amominu.w"); break;
    case MAXU: AMO("amomaxu.w"); break;
    default: break;
    }
    return old;
}

/* Reference semantics with plain integer ops. */
static uint32_t amo_ref(enum amo op, uint32_t m, uint32_t v)
{
    switch (op) {
    case SWAP: return v;
    case ADD:  return m + v;
    case XOR:  return m ^ v;
    case AND:  return m & v;
    case OR:   return m | v;
    case MIN:  return (int32_t)m < (int32_t)v ? m : v;
    case MAX:  return (int32_t)m > (int32_t)v ? m : v;
    case MINU: return m < v ? m : v;
    case MAXU: return m > v ? m : v;
    default:   return 0;
    }
}

static void test_amos(void)
{
    hn_section("amo");
    /* Pairs chosen so signed and unsigned min/max disagree. */
    static const uint32_t pairs[][2] = {
        { 0x00000005, 0x00000003 }, { 0xfffffffe, 0x00000001 },
        { 0x80000000, 0x7fffffff }, { 0x0f0f0f0f, 0xff00ff00 },
        { 0xffffffff, 0xffffffff }, { 0x7fffffff, 0x00000001 },
    };
    for (int op = 0; op < N_AMO; op++) {
        for (unsigned i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
            uint32_t m = pairs[i][0], v = pairs[i][1];
            word = m;
            int ok = CHECK(amo_names[op], do_amo(op, &word, v), m);
            ok &= CHECK(amo_names[op], word, amo_ref(op, m, v));
            if (!ok)
                hn_printf("    memory 0x%x operand 0x%x\n", m, v);
        }
    }
    uint32_t old;
    word = 40;
    __asm__ volatile("amoadd.w.aqrl %0, %2, (%1)" : "=r"(old) : "r"(&word), "r"(2) : "memory");
    CHECK("amoadd.w.aqrl", old, 40);
    CHECK("  memory", word, 42);
    __asm__ volatile("amoor.w zero, %1, (%0)" :: "r"(&word), "r"(0x100) : "memory");
    CHECK("amo with rd = x0 still writes", word, 0x12a);
    /* rd aliasing rs2: the old value lands in rd, the operand is used first. */
    word = 3;
    uint32_t x = 4;
    __asm__ volatile("amoadd.w %0, %0, (%1)" : "+r"(x) : "r"(&word) : "memory");
    CHECK("amoadd rd = rs2: rd", x, 3);
    CHECK("amoadd rd = rs2: memory", word, 7);
}

int main(void)
{
    hn_puts("atomics: start\n");
    test_lrsc();
    test_amos();
    return hn_finish("atomics");
}
