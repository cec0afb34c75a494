/* ns16550a console, polled. Register offsets with reg-shift 0 as on virt. */
#include "hn.h"

#define UART_RBR 0
#define UART_THR 0
#define UART_LSR 5
#define LSR_DR   0x01
#define LSR_THRE 0x20

void uart_putc(char c)
{
    while (!(mmio_r8(UART_BASE + UART_LSR) & LSR_THRE))
        ;
    mmio_w8(UART_BASE + UART_THR, (uint8_t)c);
}

int uart_getc(void)
{
    if (!(mmio_r8(UART_BASE + UART_LSR) & LSR_DR))
        return -1;
    return mmio_r8(UART_BASE + UART_RBR);
}

void hn_puts(const char *s)
{
    while (*s) {
        if (*s == '\n')
            uart_putc('\r');
        uart_putc(*s++);
    }
}
