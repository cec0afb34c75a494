/* Assembly macros shared by the test harness and the SBI firmware.
 * Include from .S files only. */
#ifndef HN_TRAPVEC_H
#define HN_TRAPVEC_H

#define FRAME_SIZE (32 * 4)

/* TRAP_VECTOR name, scratch, xret, handler, level
 * The scratch CSR holds the top of this level's trap stack while code runs
 * outside the handler, so traps from a lower mode never trust its sp.
 * Calls handler(frame *, level) and returns with every register (including
 * a changed frame sp/a0/a1) reloaded from the frame. Not re-entrant. */
.macro TRAP_VECTOR name, scratch, xret, handler, level
    .balign 4
    .globl \name
\name:
    csrrw sp, \scratch, sp
    addi sp, sp, -FRAME_SIZE
    .irp r, 1,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    sw x\r, (\r * 4)(sp)
    .endr
    csrr t0, \scratch
    sw t0, 8(sp)
    mv a0, sp
    li a1, \level
    call \handler
    /* Re-arm the scratch with this stack's top before leaving. */
    addi t0, sp, FRAME_SIZE
    csrw \scratch, t0
    .irp r, 1,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    lw x\r, (\r * 4)(sp)
    .endr
    lw sp, 8(sp)
    \xret
.endm

/* PMP entry 0 = NAPOT over the whole address space, RWX: with any PMP
 * implemented, S/U accesses matching no entry fail, so firmware and tests
 * open everything up the way OpenSBI does. */
.macro PMP_ALLOW_ALL tmp
    li \tmp, -1
    csrw pmpaddr0, \tmp
    li \tmp, 0x1f
    csrw pmpcfg0, \tmp
.endm

/* Zero [start, end) word by word (both 4-byte aligned). */
.macro ZERO_RANGE start, end, t0, t1
    la \t0, \start
    la \t1, \end
1:  bgeu \t0, \t1, 2f
    sw zero, 0(\t0)
    addi \t0, \t0, 4
    j 1b
2:
.endm

#endif
