/* Reserve the firmware's memory in the DTB with a /memreserve/ entry, so
 * Linux's memblock never hands it out (OpenSBI adds a reserved-memory node
 * instead; an entry in the reservation block needs no node insertion). The
 * blob grows by 16 bytes in place: QEMU puts it at a 2 MiB aligned address
 * with room after it. */
#include "fw.h"

#define FDT_MAGIC 0xd00dfeedu
enum { H_MAGIC, H_TOTALSIZE, H_OFF_STRUCT, H_OFF_STRINGS, H_OFF_RSVMAP, H_VERSION };

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

static uint32_t hdr(uint8_t *fdt, int i) { return be32(fdt + 4 * i); }
static void set_hdr(uint8_t *fdt, int i, uint32_t v) { put_be32(fdt + 4 * i, v); }

int fw_fdt_reserve(uint32_t dtb, uint32_t base, uint32_t size)
{
    uint8_t *fdt = (uint8_t *)dtb;
    if (!dtb || hdr(fdt, H_MAGIC) != FDT_MAGIC || hdr(fdt, H_VERSION) < 17)
        return -1;
    uint32_t total = hdr(fdt, H_TOTALSIZE), rsv = hdr(fdt, H_OFF_RSVMAP);
    uint32_t off_struct = hdr(fdt, H_OFF_STRUCT), off_strings = hdr(fdt, H_OFF_STRINGS);
    if (rsv >= off_struct || rsv >= off_strings || rsv >= total)
        return -1;   /* reservation block not first: unusual layout, leave it */

    /* Already there (e.g. a warm restart)? Entries are 64-bit address, size. */
    for (uint8_t *e = fdt + rsv; e + 16 <= fdt + total; e += 16) {
        uint32_t a = be32(e + 4), s = be32(e + 12);
        if (!a && !s && !be32(e) && !be32(e + 8))
            break;
        if (a == base && s == size)
            return 0;
    }
    memmove(fdt + rsv + 16, fdt + rsv, total - rsv);
    put_be32(fdt + rsv, 0);
    put_be32(fdt + rsv + 4, base);
    put_be32(fdt + rsv + 8, 0);
    put_be32(fdt + rsv + 12, size);
    set_hdr(fdt, H_TOTALSIZE, total + 16);
    set_hdr(fdt, H_OFF_STRUCT, off_struct + 16);
    set_hdr(fdt, H_OFF_STRINGS, off_strings + 16);
    return 0;
}
