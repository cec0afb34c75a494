/* dirtier: the live-migration benchmark guest, M-mode from reset, the same ELF on our VMM and
 * on QEMU. Options come from the device tree's /chosen/bootargs (-append on QEMU):
 *   hn.wss_mib=W        working set, filled with incompressible non-zero data (default 32)
 *   hn.dirty_mib_s=R    every 10 ms, rewrite one word in R*256/100 distinct 4 KiB pages
 *   hn.beat_ms=B        print "heartbeat N" every B ms of guest time (default 250)
 * It prints "DIRTIER-READY" once the working set is filled. Each rewrite checks the value the
 * previous pass left in that word and prints MEMCHECK-FAIL on a mismatch (memory lost or torn
 * by a migration). Ticks missed because the hart was held back (a throttle) are not made up:
 * throttling the guest lowers its dirty rate, as it does for a real workload. */
#include "hn.h"

#define PAGE 4096u
#define TICK_MS 10u
#define TICKS_PER_MS 10000u /* mtime runs at 10 MHz on virt */
#define MARK 0x5a000000u

/* ---- /chosen/bootargs from the flattened device tree ---- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int str_eq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

static const char *bootargs(uint32_t dtb)
{
    const uint8_t *fdt = (const uint8_t *)dtb;
    if (!dtb || be32(fdt) != 0xd00dfeedu)
        return "";
    const uint8_t *p = fdt + be32(fdt + 8);
    const char *strings = (const char *)fdt + be32(fdt + 12);
    int depth = 0, in_chosen = 0;
    for (;;) {
        uint32_t token = be32(p);
        p += 4;
        if (token == 1) { /* FDT_BEGIN_NODE */
            const char *name = (const char *)p;
            depth++;
            if (depth == 2)
                in_chosen = str_eq(name, "chosen");
            p += (strlen(name) + 4) & ~3u;
        } else if (token == 2) { /* FDT_END_NODE */
            if (depth-- == 2)
                in_chosen = 0;
        } else if (token == 3) { /* FDT_PROP */
            uint32_t len = be32(p), nameoff = be32(p + 4);
            if (in_chosen && str_eq(strings + nameoff, "bootargs"))
                return (const char *)p + 8;
            p += 8 + ((len + 3) & ~3u);
        } else if (token != 4) { /* not FDT_NOP: FDT_END or garbage */
            return "";
        }
    }
}

static uint32_t option(const char *args, const char *key, uint32_t dflt)
{
    size_t n = strlen(key);
    for (const char *w = args; *w; w++) {
        if ((w == args || w[-1] == ' ') && !memcmp(w, key, n)) {
            uint32_t v = 0;
            for (w += n; *w >= '0' && *w <= '9'; w++)
                v = v * 10 + (uint32_t)(*w - '0');
            return v;
        }
    }
    return dflt;
}

/* ---- waiting on the timer with WFI (interrupts stay masked: WFI just returns) ---- */

static void sleep_until(uint64_t t)
{
    clint_set_mtimecmp(t);
    csr_set(mie, 1u << IRQ_MTI);
    while (clint_mtime() < t)
        __asm__ volatile("wfi");
    csr_clear(mie, 1u << IRQ_MTI);
    clint_set_mtimecmp(~0ull);
}

extern uint8_t _end[];

int main(uint32_t hartid, uint32_t dtb)
{
    (void)hartid;
    csr_clear(mstatus, MSTATUS_MIE);
    const char *args = bootargs(dtb);
    uint32_t wss_mib = option(args, "hn.wss_mib=", 32);
    uint32_t rate = option(args, "hn.dirty_mib_s=", 0);
    uint32_t beat_ms = option(args, "hn.beat_ms=", 250);
    uint32_t pages = wss_mib * (1048576u / PAGE);
    /* The working set starts on the MiB after the program; the DTB sits at the top of RAM. */
    uint32_t *wss = (uint32_t *)(((uint32_t)_end + 0xfffffu) & ~0xfffffu);

    uint32_t x = 0x9e3779b9u;
    for (uint32_t i = 0; i < pages * (PAGE / 4); i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        wss[i] = x | 1u; /* never zero: no zero pages to skip */
    }
    for (uint32_t pg = 0; pg < pages; pg++)
        wss[pg * (PAGE / 4)] = MARK;
    hn_printf("DIRTIER-READY wss=%u MiB rate=%u MiB/s\n", wss_mib, rate);

    /* Pages per tick as a fraction: rate * 256 / 100, carried between ticks. */
    uint32_t num = rate * 256u, acc = 0, next = 0, pass = 0, beat = 0;
    uint64_t now = clint_mtime();
    uint64_t tick = now + TICK_MS * TICKS_PER_MS;
    uint64_t beat_at = now + (uint64_t)beat_ms * TICKS_PER_MS;
    for (;;) {
        now = clint_mtime();
        if (now >= tick) {
            acc += num;
            uint32_t n = acc / 100u;
            acc %= 100u;
            while (n--) {
                uint32_t *w = &wss[next * (PAGE / 4)];
                if (*w != MARK + pass)
                    hn_printf("MEMCHECK-FAIL page %u: expected %x, found %x\n", next, MARK + pass, *w);
                *w = MARK + pass + 1;
                if (++next == pages) {
                    next = 0;
                    pass++;
                }
            }
            tick += TICK_MS * TICKS_PER_MS;
            if (tick <= now)
                tick = now + TICK_MS * TICKS_PER_MS; /* missed ticks are not made up */
        }
        if (now >= beat_at) {
            hn_printf("heartbeat %u\n", ++beat);
            beat_at += (uint64_t)beat_ms * TICKS_PER_MS;
            if (beat_at <= now)
                beat_at = now + (uint64_t)beat_ms * TICKS_PER_MS;
        }
        sleep_until(tick < beat_at ? tick : beat_at);
    }
}
