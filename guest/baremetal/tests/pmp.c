/* PMP CSRs as storage: pmpcfg0-3 and pmpaddr0-15 keep what is written for
 * unlocked entries with legal encodings (OFF/TOR/NA4/NAPOT, no W-without-R,
 * reserved bits clear). Enforcement is not tested: our emulator does not
 * implement it. Locked entries are never written: they would stick until
 * reset and could cut M-mode off from memory. */
#include "hn.h"

#define CFG_R 0x01
#define CFG_W 0x02
#define CFG_X 0x04
#define A_OFF 0x00
#define A_TOR 0x08
#define A_NA4 0x10
#define A_NAPOT 0x18

static void write_addr(int i, uint32_t v)
{
    switch (i) {
#define W(n) case n: csr_write(pmpaddr##n, v); break;
    W(0) W(1) W(2) W(3) W(4) W(5) W(6) W(7)
    W(8) W(9) W(10) W(11) W(12) W(13) W(14) W(15)
#undef W
    }
}

static uint32_t read_addr(int i)
{
    switch (i) {
#define R(n) case n: return csr_read(pmpaddr##n);
    R(0) R(1) R(2) R(3) R(4) R(5) R(6) R(7)
    R(8) R(9) R(10) R(11) R(12) R(13) R(14) R(15)
#undef R
    }
    return 0;
}

static void write_cfg(int i, uint32_t v)
{
    switch (i) {
    case 0: csr_write(pmpcfg0, v); break;
    case 1: csr_write(pmpcfg1, v); break;
    case 2: csr_write(pmpcfg2, v); break;
    case 3: csr_write(pmpcfg3, v); break;
    }
}

static uint32_t read_cfg(int i)
{
    switch (i) {
    case 0: return csr_read(pmpcfg0);
    case 1: return csr_read(pmpcfg1);
    case 2: return csr_read(pmpcfg2);
    case 3: return csr_read(pmpcfg3);
    }
    return 0;
}

static const char *const addr_names[16] = {
    "pmpaddr0", "pmpaddr1", "pmpaddr2", "pmpaddr3", "pmpaddr4", "pmpaddr5",
    "pmpaddr6", "pmpaddr7", "pmpaddr8", "pmpaddr9", "pmpaddr10", "pmpaddr11",
    "pmpaddr12", "pmpaddr13", "pmpaddr14", "pmpaddr15",
};
static const char *const cfg_names[4] = { "pmpcfg0", "pmpcfg1", "pmpcfg2", "pmpcfg3" };

int main(void)
{
    hn_puts("pmp: start\n");
    hn_section("pmpaddr");
    /* All cfg OFF first so no TOR/NAPOT entry is live while addresses move. */
    for (int i = 0; i < 4; i++)
        write_cfg(i, 0);
    static const uint32_t patterns[] = { 0x00000000, 0xffffffff, 0x2000ffff, 0x12345678 };
    for (unsigned p = 0; p < sizeof patterns / sizeof patterns[0]; p++) {
        for (int i = 0; i < 16; i++)
            write_addr(i, patterns[p] ^ (uint32_t)i);
        for (int i = 0; i < 16; i++)
            CHECK(addr_names[i], read_addr(i), patterns[p] ^ (uint32_t)i);
    }

    hn_section("pmpcfg");
    static const uint8_t modes[] = { A_OFF, A_TOR, A_NA4, A_NAPOT };
    static const uint8_t perms[] = { 0, CFG_R, CFG_R | CFG_W, CFG_R | CFG_X,
                                     CFG_R | CFG_W | CFG_X, CFG_X };
    /* Walk every legal (mode, perms) byte through every entry slot. */
    for (unsigned m = 0; m < 4; m++) {
        for (unsigned k = 0; k < 6; k++) {
            uint32_t v = 0;
            for (int b = 0; b < 4; b++)
                v |= (uint32_t)(modes[(m + b) % 4] | perms[(k + b) % 6]) << (8 * b);
            for (int i = 0; i < 4; i++)
                write_cfg(i, v);
            for (int i = 0; i < 4; i++)
                CHECK(cfg_names[i], read_cfg(i), v);
        }
    }

    /* Leave the allow-all setup crt0 made. */
    for (int i = 0; i < 4; i++)
        write_cfg(i, 0);
    for (int i = 0; i < 16; i++)
        write_addr(i, 0);
    write_addr(0, 0xffffffff);
    write_cfg(0, A_NAPOT | CFG_R | CFG_W | CFG_X);
    CHECK("allow-all restored", read_cfg(0), 0x1f);
    return hn_finish("pmp");
}
