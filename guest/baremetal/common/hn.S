/* Trap vectors, privilege switching and stacks of the harness. */
#include "trapvec.h"

#define HN_EXIT_MAGIC 0x484e5854

    .text
    TRAP_VECTOR hn_mtrap_vector, mscratch, mret, hn_trap_common, 3
    TRAP_VECTOR hn_strap_vector, sscratch, sret, hn_trap_common, 1

/* Callee-saved state of the code that called hn_{m,s}run. */
#define CTX_WORDS 14
.macro SAVE_CTX ctx
    la t0, \ctx
    sw ra, 0(t0)
    sw sp, 4(t0)
    .irp r, 0,1,2,3,4,5,6,7,8,9,10,11
    sw s\r, (8 + \r * 4)(t0)
    .endr
.endm

/* RUN name, ctx, epc, status, xret, pp_shift, pp_mask
 * a0 = target mode, a1 = fn, a2 = arg, a3 = stack (0 = default). */
.macro RUN name, ctx, epc, status, xret, pp_shift, pp_mask
    .globl \name
\name:
    SAVE_CTX \ctx
    csrw \epc, a1
    li t1, \pp_mask
    csrc \status, t1
    sll t2, a0, \pp_shift
    and t2, t2, t1
    csrs \status, t2
    /* U code gets the stack and exit stub that live on user pages; S code
     * gets its own (a page table may map user pages non-executable for S). */
    bnez a3, 1f
    la a3, hn_super_stack_top
    bnez a0, 1f
    la a3, hn_lower_stack_top
1:  mv sp, a3
    la ra, hn_super_exit
    bnez a0, 2f
    la ra, hn_lower_exit
2:  mv a0, a2
    \xret
.endm

/* RESUME name, ctx, scratch, trap_stack_top: called from a trap handler with
 * the lower code's result in a0; drops the trap frame and returns from the
 * matching RUN. */
.macro RESUME name, ctx, scratch, stack_top
    .globl \name
\name:
    la t0, \stack_top
    csrw \scratch, t0
    la t0, \ctx
    lw ra, 0(t0)
    lw sp, 4(t0)
    .irp r, 0,1,2,3,4,5,6,7,8,9,10,11
    lw s\r, (8 + \r * 4)(t0)
    .endr
    ret
.endm

    RUN hn_mrun, mctx, mepc, mstatus, mret, 11, 0x1800
    RESUME hn_mresume, mctx, mscratch, hn_mtrap_stack_top

    .globl hn_srun
hn_srun:
    la t0, hn_srun_active
    li t1, 1
    sw t1, 0(t0)
    j srun_body
    RUN srun_body, sctx, sepc, sstatus, sret, 8, 0x100

    .globl hn_sresume
hn_sresume:
    la t0, hn_srun_active
    sw zero, 0(t0)
    j sresume_body
    RESUME sresume_body, sctx, sscratch, hn_strap_stack_top

/* Where lower-mode code returns to: ask the handler to resume the caller. */
.macro EXIT_STUB name, section
    .section \section, "ax"
    .globl \name
\name:
    li a7, HN_EXIT_MAGIC
    ecall
1:  j 1b
.endm
    EXIT_STUB hn_super_exit, .text
    EXIT_STUB hn_lower_exit, .utext

    .section .udata, "aw"
    .balign 16
    .space 4096
    .globl hn_lower_stack_top
hn_lower_stack_top:

    .bss
    .balign 16
mctx: .space CTX_WORDS * 4
sctx: .space CTX_WORDS * 4
    .globl hn_srun_active
hn_srun_active: .space 4
    .balign 16
    .space 4096
    .globl hn_mtrap_stack_top
hn_mtrap_stack_top:
    .space 4096
    .globl hn_strap_stack_top
hn_strap_stack_top:
    .space 4096
    .globl hn_super_stack_top
hn_super_stack_top:
    .space 16384
    .globl hn_stack_top
hn_stack_top:
