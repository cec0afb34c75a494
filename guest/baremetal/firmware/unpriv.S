/* Loads/stores on behalf of the trapped S/U context: MPRV makes them use
 * mstatus.MPP's privilege and translation. mtvec points at a local catcher
 * meanwhile, so a fault fills *t and skips the access instead of entering
 * the (non-re-entrant) firmware vector. mepc and mstatus are saved around
 * it because the nested trap overwrites them. */

#define MSTATUS_MPRV (1 << 17)
#define MSTATUS_MXR  (1 << 19)

/* UNPRIV name, mstatus bits, access instruction, register holding t */
.macro UNPRIV name, bits, access, trec
    .globl \name
\name:
    sw zero, 0(\trec)       /* before MPRV: plain M-mode store */
    mv t2, \trec
    csrr t3, mepc
    la t0, fw_unpriv_catch
    csrrw t0, mtvec, t0
    li t1, \bits
    csrrs t1, mstatus, t1
    \access
    csrw mstatus, t1
    csrw mtvec, t0
    csrw mepc, t3
    ret
.endm

    .text
    UNPRIV fw_unpriv_lbu, MSTATUS_MPRV, "lbu a0, 0(a0)", a1
    UNPRIV fw_unpriv_fetch, MSTATUS_MPRV | MSTATUS_MXR, "lw a0, 0(a0)", a1
    UNPRIV fw_unpriv_sb, MSTATUS_MPRV, "sb a1, 0(a0)", a2

/* The nested trap came from M, so MPP = M now and these stores are
 * untranslated despite MPRV. */
    .balign 4
fw_unpriv_catch:
    csrr t4, mcause
    sw t4, 0(t2)
    csrr t4, mtval
    sw t4, 4(t2)
    csrr t4, mepc
    addi t4, t4, 4
    csrw mepc, t4
    mret
