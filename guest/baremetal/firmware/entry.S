/* Firmware entry, QEMU virt boot protocol: a0 = hartid, a1 = DTB,
 * a2 = fw_dynamic_info. fw_main returns the S-mode entry; a0/a1 are handed
 * on unchanged. */
#include "trapvec.h"

    .section .text.init, "ax"
    .globl _start
_start:
    mv s0, a0
    mv s1, a1
    mv s2, a2
    csrr t0, mhartid
    bnez t0, park           /* one hart; any other waits forever */
    la sp, fw_stack_top
    ZERO_RANGE __bss_start, __bss_end, t0, t1
    la t0, fw_trap_vector
    csrw mtvec, t0
    la t0, fw_trap_stack_top
    csrw mscratch, t0
    PMP_ALLOW_ALL t0
    mv a0, s0
    mv a1, s1
    mv a2, s2
    call fw_main
    csrw mepc, a0
    mv a0, s0
    mv a1, s1
    li a2, 0
    mret
park:
    wfi
    j park

    .text
    TRAP_VECTOR fw_trap_vector, mscratch, mret, fw_trap, 3

    .bss
    .balign 16
    .space 4096
    .globl fw_trap_stack_top
fw_trap_stack_top:
    .space 4096
fw_stack_top:
