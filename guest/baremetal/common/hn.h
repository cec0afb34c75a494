/* Hypernova bare-metal harness: CSR access, board addresses, console,
 * checks, trap bookkeeping and privilege switching shared by every guest
 * program (tests, SBI firmware fixture, benchmark). */
#ifndef HN_H
#define HN_H

#include <stdint.h>
#include <stddef.h>

/* ---- QEMU virt memory map ---- */
#define SYSCON_BASE   0x00100000u
#define CLINT_BASE    0x02000000u
#define CLINT_MSIP    (CLINT_BASE + 0x0000)
#define CLINT_MTIMECMP (CLINT_BASE + 0x4000)
#define CLINT_MTIME   (CLINT_BASE + 0xbff8)
#define PLIC_BASE     0x0c000000u
#define UART_BASE     0x10000000u
#define UART_IRQ      10
#define RAM_BASE      0x80000000u

#define SYSCON_PASS   0x5555u
#define SYSCON_FAIL   0x3333u
#define SYSCON_REBOOT 0x7777u

/* ---- CSR helpers ---- */
#define csr_read(csr) ({ uint32_t __v; \
    __asm__ volatile("csrr %0, " #csr : "=r"(__v) :: "memory"); __v; })
#define csr_write(csr, val) \
    __asm__ volatile("csrw " #csr ", %0" :: "rK"((uint32_t)(val)) : "memory")
#define csr_set(csr, val) \
    __asm__ volatile("csrs " #csr ", %0" :: "rK"((uint32_t)(val)) : "memory")
#define csr_clear(csr, val) \
    __asm__ volatile("csrc " #csr ", %0" :: "rK"((uint32_t)(val)) : "memory")
#define csr_swap(csr, val) ({ uint32_t __v; \
    __asm__ volatile("csrrw %0, " #csr ", %1" : "=r"(__v) : "rK"((uint32_t)(val)) : "memory"); __v; })

#define MSTATUS_SIE   (1u << 1)
#define MSTATUS_MIE   (1u << 3)
#define MSTATUS_SPIE  (1u << 5)
#define MSTATUS_MPIE  (1u << 7)
#define MSTATUS_SPP   (1u << 8)
#define MSTATUS_MPP   (3u << 11)
#define MSTATUS_MPRV  (1u << 17)
#define MSTATUS_SUM   (1u << 18)
#define MSTATUS_MXR   (1u << 19)
#define MSTATUS_TVM   (1u << 20)
#define MSTATUS_TW    (1u << 21)
#define MSTATUS_TSR   (1u << 22)
#define MPP_SHIFT     11

#define PRV_U 0u
#define PRV_S 1u
#define PRV_M 3u

#define IRQ_SSI 1
#define IRQ_MSI 3
#define IRQ_STI 5
#define IRQ_MTI 7
#define IRQ_SEI 9
#define IRQ_MEI 11
#define MCAUSE_INT 0x80000000u

#define EXC_INSN_MISALIGNED 0
#define EXC_INSN_ACCESS     1
#define EXC_ILLEGAL         2
#define EXC_BREAKPOINT      3
#define EXC_LOAD_MISALIGNED 4
#define EXC_LOAD_ACCESS     5
#define EXC_STORE_MISALIGNED 6
#define EXC_STORE_ACCESS    7
#define EXC_ECALL_U         8
#define EXC_ECALL_S         9
#define EXC_ECALL_M         11
#define EXC_INSN_PAGE       12
#define EXC_LOAD_PAGE       13
#define EXC_STORE_PAGE      15

#define SATP_SV32     0x80000000u

/* MMIO */
static inline void mmio_w32(uint32_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
static inline uint32_t mmio_r32(uint32_t a) { return *(volatile uint32_t *)a; }
static inline void mmio_w8(uint32_t a, uint8_t v) { *(volatile uint8_t *)a = v; }
static inline uint8_t mmio_r8(uint32_t a) { return *(volatile uint8_t *)a; }

/* 64-bit MMIO counters are read hi/lo/hi so a carry between halves is seen. */
static inline uint64_t clint_mtime(void)
{
    uint32_t hi, lo;
    do {
        hi = mmio_r32(CLINT_MTIME + 4);
        lo = mmio_r32(CLINT_MTIME);
    } while (hi != mmio_r32(CLINT_MTIME + 4));
    return ((uint64_t)hi << 32) | lo;
}

/* Writing lo = all-ones first keeps the comparator from matching a
 * half-updated value (the sequence the privileged spec recommends). */
static inline void clint_set_mtimecmp(uint64_t t)
{
    mmio_w32(CLINT_MTIMECMP, 0xffffffffu);
    mmio_w32(CLINT_MTIMECMP + 4, (uint32_t)(t >> 32));
    mmio_w32(CLINT_MTIMECMP, (uint32_t)t);
}

/* ---- console (ns16550a) ---- */
void uart_putc(char c);
int uart_getc(void);            /* -1 when nothing received */
void hn_puts(const char *s);
void hn_printf(const char *fmt, ...);  /* %s %c %d %u %x %08x %llu %llx */

/* ---- libc bits the compiler may call ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* ---- reporting ----
 * Exit code 0 = pass. Written to HTIF tohost as (code << 1) | 1 and to the
 * syscon as 0x5555 (pass) or (code << 16) | 0x3333 (fail). */
extern volatile uint32_t tohost[2], fromhost[2];  /* 64-bit words, low half used */
void hn_exit(uint32_t code) __attribute__((noreturn));

/* Checks: each failing check prints a line; the exit code is the ordinal of
 * the first failing check, so a failure can be found in the source. */
void hn_section(const char *name);
int hn_check(const char *what, uint32_t got, uint32_t want);
#define CHECK(what, got, want) hn_check((what), (uint32_t)(got), (uint32_t)(want))
#define CHECK_TRUE(what, cond) hn_check((what), !!(cond), 1)
/* Where QEMU 7.2 (the reference we validate on) departs from the spec, a
 * test accepts its value too and logs a note; our emulator should give the
 * spec value. */
int hn_check_quirk(const char *what, uint32_t got, uint32_t spec, uint32_t qemu72);
uint32_t hn_finish(const char *prog);  /* prints summary, returns exit code */

/* ---- traps ----
 * Both trap vectors (M and S) save all registers in a struct frame and call
 * hn_trap_common. A trap is either expected (armed by hn_expect*) and
 * recorded in hn_last, claimed by a test hook, an exit request from a lower
 * mode (see hn_run), or unexpected (the program fails). */
struct frame { uint32_t r[32]; };      /* r[2] = interrupted sp */
#define REG_RA 1
#define REG_SP 2
#define REG_A0 10
#define REG_A1 11
#define REG_A7 17

struct hn_trap {
    uint32_t cause, epc, tval, status;  /* status = mstatus/sstatus after entry */
    uint32_t level;                     /* PRV_M or PRV_S: who handled it */
    uint32_t count;                     /* traps recorded since hn_expect */
};
extern volatile struct hn_trap hn_last;

enum hn_resume { HN_SKIP = 1, HN_RESUME_RA = 2 };
/* Arm for one expected exception: afterwards resume at epc+4 (SKIP) or at the
 * return address in ra (RESUME_RA, for faults whose epc is the bad target). */
void hn_expect(enum hn_resume how);
/* Trap-count check helper: did exactly one trap with this cause happen? */
int hn_check_trap(const char *what, uint32_t cause, uint32_t epc, uint32_t tval);

/* Hook: return 1 when the trap was handled (hook manages epc itself). */
typedef int (*hn_hook_fn)(struct frame *f, uint32_t cause, uint32_t level);
extern hn_hook_fn hn_hook;

void hn_trap_common(struct frame *f, uint32_t level);
void hn_mtrap_vector(void);
void hn_strap_vector(void);

/* ---- privilege switching ----
 * hn_mrun (from M) / hn_srun (from S) enter fn(arg) in `mode` on stack sp;
 * when fn returns it lands in hn_lower_exit, which ecalls with
 * a7 = HN_EXIT_MAGIC; the handler then resumes the caller, returning fn's
 * result. sp = 0 picks a default stack: one on a user page (.udata) for U,
 * another for S, so S code may itself run U code. */
#define HN_EXIT_MAGIC 0x484e5854u  /* "HNXT" */
typedef uint32_t (*hn_fn)(uint32_t);
uint32_t hn_mrun(uint32_t mode, hn_fn fn, uint32_t arg, uint32_t sp);
uint32_t hn_srun(uint32_t mode, hn_fn fn, uint32_t arg, uint32_t sp);
void hn_mresume(uint32_t value) __attribute__((noreturn));
void hn_sresume(uint32_t value) __attribute__((noreturn));
extern uint32_t hn_srun_active;
extern uint8_t hn_lower_stack_top[];

/* Sections that a page table may map user-accessible (sv32 test). */
#define HN_USER_TEXT __attribute__((section(".utext"), noinline))
#define HN_USER_DATA __attribute__((section(".udata")))
extern uint8_t __user_start[], __user_end[], _end[];

#endif
