/* Entry of the S-mode payload the firmware starts: a0 = hartid, a1 = DTB.
 * payload_main returns an exit code; 0 never comes back (it powers off
 * through SBI SRST). */
#include "trapvec.h"

    .section .text.init, "ax"
    .globl _start
_start:
    mv s0, a0
    mv s1, a1
    la sp, hn_stack_top
    ZERO_RANGE __bss_start, __bss_end, t0, t1
    la t0, hn_strap_vector
    csrw stvec, t0
    la t0, hn_strap_stack_top
    csrw sscratch, t0
    mv a0, s0
    mv a1, s1
    call payload_main
    tail hn_exit
