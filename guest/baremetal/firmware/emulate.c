/* Emulation of what S/U may trap on but expects to work: misaligned
 * loads/stores (Linux leaves them to the SBI) and reading time/timeh where
 * the CSR traps (mcounteren.TM clear or no hardware time CSR). */
#include "fw.h"

#define OP_LOAD  0x03
#define OP_STORE 0x23

static uint32_t insn_at(uint32_t addr, uint32_t trap_epc, int *ok)
{
    struct fw_uptrap t;
    uint32_t insn = fw_unpriv_fetch(addr, &t);
    *ok = !t.cause;
    if (t.cause) {
        /* The fetch is a load here; report it as the fetch fault it is. */
        uint32_t cause = t.cause == EXC_LOAD_PAGE ? EXC_INSN_PAGE : EXC_INSN_ACCESS;
        fw_redirect(cause, trap_epc, t.tval);
    }
    return insn;
}

int fw_emulate_misaligned(struct frame *f, uint32_t insn_addr, uint32_t addr, uint32_t trap_epc)
{
    int ok;
    uint32_t insn = insn_at(insn_addr, trap_epc, &ok);
    if (!ok)
        return 1;
    uint32_t op = insn & 0x7f, funct3 = (insn >> 12) & 7;
    uint32_t rd = (insn >> 7) & 31, rs2 = (insn >> 20) & 31;
    uint32_t len = (funct3 & 3) == 1 ? 2 : (funct3 & 3) == 2 ? 4 : 0;
    struct fw_uptrap t;

    if (op == OP_LOAD && len && funct3 != 6) {          /* lh lw lhu */
        uint32_t v = 0;
        for (uint32_t i = 0; i < len; i++) {
            v |= fw_unpriv_lbu(addr + i, &t) << (8 * i);
            if (t.cause) {
                fw_redirect(t.cause, trap_epc, t.tval);
                return 1;
            }
        }
        if (funct3 == 1 && (v & 0x8000))                  /* lh sign-extends */
            v |= 0xffff0000u;
        if (rd)
            f->r[rd] = v;
    } else if (op == OP_STORE && len && funct3 < 3) {   /* sh sw */
        uint32_t v = rs2 ? f->r[rs2] : 0;                 /* frame slot 0 is not x0 */
        for (uint32_t i = 0; i < len; i++) {
            fw_unpriv_sb(addr + i, v >> (8 * i), &t);
            if (t.cause) {
                fw_redirect(t.cause, trap_epc, t.tval);
                return 1;
            }
        }
    } else {
        return 0;          /* LR/SC/AMO or not a load/store: S gets the trap */
    }
    if (insn_addr == trap_epc)
        csr_write(mepc, trap_epc + 4);
    return 1;
}

#define CSR_TIME  0xc01
#define CSR_TIMEH 0xc81

int fw_emulate_illegal(struct frame *f, uint32_t epc, uint32_t insn)
{
    int ok = 1;
    if (!insn)                   /* mtval may be 0 where insn bits are not reported */
        insn = insn_at(epc, epc, &ok);
    if (!ok)
        return 1;
    /* Only csrrs rd, time/timeh, x0 (rdtime/rdtimeh). */
    if ((insn & 0x000ff07f) != 0x00002073)
        return 0;
    uint32_t csr = insn >> 20, rd = (insn >> 7) & 31;
    if (csr != CSR_TIME && csr != CSR_TIMEH)
        return 0;
    uint64_t now = clint_mtime();
    if (rd)
        f->r[rd] = csr == CSR_TIME ? (uint32_t)now : (uint32_t)(now >> 32);
    csr_write(mepc, epc + 4);
    return 1;
}
