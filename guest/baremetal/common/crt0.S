/* Reset entry of the M-mode test programs (QEMU -bios none jumps here with
 * a0 = hartid, a1 = DTB). main's return value is the exit code. */
#include "trapvec.h"

    .section .text.init, "ax"
    .globl _start
_start:
    csrr t0, mhartid
    bnez t0, park
    la sp, hn_stack_top
    ZERO_RANGE __bss_start, __bss_end, t0, t1
    la t0, hn_mtrap_vector
    csrw mtvec, t0
    la t0, hn_mtrap_stack_top
    csrw mscratch, t0
    la t0, hn_strap_vector
    csrw stvec, t0
    la t0, hn_strap_stack_top
    csrw sscratch, t0
    PMP_ALLOW_ALL t0
    call main
    tail hn_exit
park:
    wfi
    j park
