/* Minimal printf: enough for test logs, no division-heavy libgcc calls
 * (64-bit decimal is done by subtracting powers of ten). */
#include <stdarg.h>
#include "hn.h"

static void put_dec64(uint64_t v)
{
    static const uint64_t pow10[] = {
        10000000000000000000ull, 1000000000000000000ull, 100000000000000000ull,
        10000000000000000ull, 1000000000000000ull, 100000000000000ull,
        10000000000000ull, 1000000000000ull, 100000000000ull, 10000000000ull,
        1000000000ull, 100000000ull, 10000000ull, 1000000ull, 100000ull,
        10000ull, 1000ull, 100ull, 10ull, 1ull,
    };
    int started = 0;
    for (unsigned i = 0; i < sizeof pow10 / sizeof pow10[0]; i++) {
        char d = '0';
        while (v >= pow10[i]) {
            v -= pow10[i];
            d++;
        }
        if (d != '0' || started || i == sizeof pow10 / sizeof pow10[0] - 1) {
            uart_putc(d);
            started = 1;
        }
    }
}

static void put_hex(uint64_t v, int width)
{
    int digits = 1;
    for (uint64_t t = v >> 4; t; t >>= 4)
        digits++;
    for (int i = digits; i < width; i++)
        uart_putc('0');
    for (int i = digits - 1; i >= 0; i--)
        uart_putc("0123456789abcdef"[(v >> (4 * i)) & 15]);
}

void hn_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            if (*fmt == '\n')
                uart_putc('\r');
            uart_putc(*fmt);
            continue;
        }
        fmt++;
        int width = 0, longlong = 0;
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l') {
            longlong++;
            fmt++;
        }
        uint64_t v;
        switch (*fmt) {
        case 's': hn_puts(va_arg(ap, const char *)); break;
        case 'c': uart_putc((char)va_arg(ap, int)); break;
        case 'd': {
            int64_t s = longlong >= 2 ? va_arg(ap, int64_t) : va_arg(ap, int32_t);
            if (s < 0) {
                uart_putc('-');
                s = -s;
            }
            put_dec64((uint64_t)s);
            break;
        }
        case 'u':
            v = longlong >= 2 ? va_arg(ap, uint64_t) : va_arg(ap, uint32_t);
            put_dec64(v);
            break;
        case 'x':
            v = longlong >= 2 ? va_arg(ap, uint64_t) : va_arg(ap, uint32_t);
            put_hex(v, width);
            break;
        case '%': uart_putc('%'); break;
        default: uart_putc('?'); break;
        }
    }
    va_end(ap);
}
