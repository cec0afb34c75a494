/* Hypernova SBI firmware fixture: shared declarations. */
#ifndef FW_H
#define FW_H

#include "hn.h"

/* SBI error codes */
#define SBI_SUCCESS               0
#define SBI_ERR_FAILED           -1
#define SBI_ERR_NOT_SUPPORTED    -2
#define SBI_ERR_INVALID_PARAM    -3
#define SBI_ERR_DENIED           -4
#define SBI_ERR_INVALID_ADDRESS  -5
#define SBI_ERR_ALREADY_AVAILABLE -6

/* Extension IDs */
#define SBI_EXT_BASE  0x10
#define SBI_EXT_TIME  0x54494d45
#define SBI_EXT_IPI   0x00735049
#define SBI_EXT_RFNC  0x52464e43
#define SBI_EXT_HSM   0x0048534d
#define SBI_EXT_SRST  0x53525354
/* Fixture-only extension in the experimental range: lets the S-mode test
 * payload drive paths QEMU never triggers by itself. */
#define SBI_EXT_HNTEST 0x08484e58
#define HNTEST_SET_MCOUNTEREN 0     /* a0 = new value, returns old */
#define HNTEST_EMULATE_AT     1     /* a0 = insn address, a1 = data address */

#define SBI_LEGACY_SET_TIMER   0
#define SBI_LEGACY_PUTCHAR     1
#define SBI_LEGACY_GETCHAR     2
#define SBI_LEGACY_CLEAR_IPI   3
#define SBI_LEGACY_SEND_IPI    4
#define SBI_LEGACY_FENCE_I     5
#define SBI_LEGACY_SFENCE_VMA  6
#define SBI_LEGACY_SFENCE_ASID 7
#define SBI_LEGACY_SHUTDOWN    8

#define SBI_SPEC_VERSION  0x01000000u  /* 1.0 */
#define SBI_IMPL_ID       0x48594e56u  /* "HYNV", not a registered id */
#define SBI_IMPL_VERSION  0x00010000u

/* fw_dynamic_info as QEMU's reset vector passes it in a2 (rv32 layout). */
struct fw_dynamic_info {
    uint32_t magic, version, next_addr, next_mode, options, boot_hart;
};
#define FW_DYNAMIC_INFO_MAGIC 0x4942534fu  /* "OSBI" */
#define FW_DYNAMIC_NEXT_MODE_S 1
#define DEFAULT_NEXT_ADDR 0x80400000u

/* Accesses with the privilege and translation of the trapped mode
 * (mstatus.MPRV); a fault is caught and returned in *t instead of trapping
 * into the firmware's own vector. */
struct fw_uptrap { uint32_t cause, tval; };
uint32_t fw_unpriv_lbu(uint32_t addr, struct fw_uptrap *t);
uint32_t fw_unpriv_fetch(uint32_t addr, struct fw_uptrap *t);   /* lw with MXR */
void fw_unpriv_sb(uint32_t addr, uint32_t val, struct fw_uptrap *t);

/* Hand a trap to S-mode as if it had been delegated. */
void fw_redirect(uint32_t cause, uint32_t epc, uint32_t tval);

/* Emulation; return 1 when handled (mepc advanced or a fault redirected).
 * The misaligned one decodes the load/store at insn_addr against data
 * address addr; trap_epc is what a fault reports as sepc, and mepc moves
 * past the instruction only when it is the one that trapped. */
int fw_emulate_misaligned(struct frame *f, uint32_t insn_addr, uint32_t addr, uint32_t trap_epc);
int fw_emulate_illegal(struct frame *f, uint32_t epc, uint32_t insn);

/* Adds a /memreserve/ entry for [base, base + size) to the DTB in place. */
int fw_fdt_reserve(uint32_t dtb, uint32_t base, uint32_t size);

void fw_panic(const char *why, uint32_t a, uint32_t b) __attribute__((noreturn));

#endif
