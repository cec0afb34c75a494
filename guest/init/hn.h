/* Base of the Hypernova guest programs: the kernel's own nolibc, plus what stock
 * Linux 6.1 nolibc lacks on rv32. Every program in this folder includes it. */
#ifndef HN_H
#define HN_H

/* rv32 has none of the y2038-unsafe syscalls that 6.1 nolibc still wraps. Giving them
 * a number no kernel implements lets nolibc compile; those wrappers then fail with
 * ENOSYS. Programs use the *_time64, waitid, llseek and statx syscalls instead. */
#include <asm/unistd.h>
#define __NR_gettimeofday __NR_syscalls
#define __NR_lseek __NR_syscalls
#define __NR_ppoll __NR_syscalls
#define __NR_pselect6 __NR_syscalls
#define __NR_newfstatat __NR_syscalls
#define __NR_wait4 __NR_syscalls
#include "nolibc.h"

/* From <linux/reboot.h>, whose other constants nolibc already defines. */
#define LINUX_REBOOT_CMD_CAD_OFF 0x00000000

#define HN_NSEC_PER_SEC 1000000000LL

static inline int hn_clock_gettime(int clock, struct __kernel_timespec *ts)
{
	return my_syscall2(__NR_clock_gettime64, clock, ts);
}

/* Sleeps until an absolute time; returns -EINTR when a signal handler ran. */
static inline int hn_sleep_until(int clock, const struct __kernel_timespec *ts)
{
	return my_syscall4(__NR_clock_nanosleep_time64, clock, TIMER_ABSTIME, ts, NULL);
}

static inline void hn_timespec_add_ns(struct __kernel_timespec *ts, long long ns)
{
	ts->tv_nsec += ns;
	while (ts->tv_nsec >= HN_NSEC_PER_SEC) {
		ts->tv_nsec -= HN_NSEC_PER_SEC;
		ts->tv_sec++;
	}
}

/* The kernel's struct sigaction on riscv: no sa_restorer (the vDSO provides the
 * return trampoline) and a 64-bit signal mask. */
struct hn_sigaction {
	void (*handler)(int);
	unsigned long flags;
	unsigned long mask[2];
};

static inline int hn_signal(int sig, void (*handler)(int))
{
	struct hn_sigaction sa = { .handler = handler };

	return my_syscall4(__NR_rt_sigaction, sig, &sa, NULL, sizeof(sa.mask));
}

/* printf-like output with %s and %u only, written with one write() so that a line is
 * never split by kernel messages on the shared console. */
static __attribute__((unused, format(printf, 1, 2)))
void hn_say(const char *fmt, ...)
{
	char line[256];
	unsigned int len = 0;
	va_list args;

	va_start(args, fmt);
	for (; *fmt && len < sizeof(line) - 12; fmt++) {
		if (fmt[0] == '%' && fmt[1] == 'u') {
			len += utoa_r(va_arg(args, unsigned int), line + len);
			fmt++;
		} else if (fmt[0] == '%' && fmt[1] == 's') {
			const char *s = va_arg(args, const char *);

			while (*s && len < sizeof(line) - 12)
				line[len++] = *s++;
			fmt++;
		} else {
			line[len++] = *fmt;
		}
	}
	va_end(args);
	line[len++] = '\n';
	write(1, line, len);
}

/* --- Helpers for the test programs (disktest, diskbench, nettest, rngtest) --- */

/* From <linux/fs.h>, <asm-generic/fcntl.h> and <linux/wait.h>: nolibc 6.1 lacks them. */
#ifndef MS_RDONLY
#define MS_RDONLY 1
#endif
#ifndef MS_REMOUNT
#define MS_REMOUNT 32
#endif
#define HN_O_DIRECT 0x4000
#define HN_P_PID 1
#define HN_WEXITED 4
#define HN_CLD_EXITED 1

/* Exit status with which an hn.run program asks init to reboot instead of going on (a
 * test that spans a reboot); see init.c. */
#define HN_EXIT_REBOOT 100

/* sync(2): nolibc 6.1 has no wrapper. */
static inline void hn_sync(void)
{
	my_syscall0(__NR_sync);
}

/* Waits for a child: its exit status, 128 + signal if a signal ended it, or -errno.
 * rv32 has no wait4, so this goes through waitid; in the 32-bit siginfo_t, si_code is
 * the third int and SIGCHLD's si_status the sixth. */
static inline int hn_wait(int pid)
{
	int info[32] = { 0 };
	int ret = my_syscall5(__NR_waitid, HN_P_PID, pid, info, HN_WEXITED, NULL);

	if (ret < 0)
		return ret;
	return info[2] == HN_CLD_EXITED ? info[5] : 128 + info[5];
}

/* Sets a file's offset (below 4 GiB, enough for these disks); 0 or -errno. */
static inline int hn_seek(int fd, unsigned int offset)
{
	long long result;

	return my_syscall5(__NR_llseek, fd, 0, offset, &result, SEEK_SET);
}

/* Monotonic time in microseconds, truncated to 32 bits: differences are right for
 * intervals up to 71 minutes. */
static inline unsigned int hn_now_us(void)
{
	struct __kernel_timespec ts;

	hn_clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned int)ts.tv_sec * 1000000u + (unsigned int)ts.tv_nsec / 1000u;
}

/* a * m / d in 32-bit arithmetic (rv32 nolibc has no 64-bit division), exact while
 * d * m < 2^32 and the result fits. */
static inline unsigned int hn_scale(unsigned int a, unsigned int m, unsigned int d)
{
	return a / d * m + a % d * m / d;
}

/* A number with an optional K/M/G suffix (powers of 1024), e.g. "64M". */
static inline unsigned int hn_size_arg(const char *s)
{
	unsigned int n = 0;

	for (; *s >= '0' && *s <= '9'; s++)
		n = n * 10 + (*s - '0');
	switch (*s) {
	case 'G': return n << 30;
	case 'M': return n << 20;
	case 'K': return n << 10;
	default: return n;
	}
}

/* The test data: word i (bytes 4i..4i+3, little endian) of a stream seeded with seed.
 * Every word depends on its position, so data written to or read from the wrong place
 * shows up; the host computes the same (hypervisor/test/virtio-guest/pattern.ts). */
static inline unsigned int hn_pattern_word(unsigned int seed, unsigned int i)
{
	unsigned int x = seed ^ (i * 0x9e3779b9u);

	/* murmur3's finaliser: every input bit affects every output bit. */
	x ^= x >> 16;
	x *= 0x85ebca6bu;
	x ^= x >> 13;
	x *= 0xc2b2ae35u;
	x ^= x >> 16;
	return x;
}

/* Bytes [offset, offset + len) of the pattern for seed into p, as written to a file from
 * its start; offset and len are multiples of 4. */
static inline void hn_pattern_fill(unsigned char *p, unsigned int offset, unsigned int len,
				   unsigned int seed)
{
	unsigned int i;

	for (i = 0; i < len; i += 4) {
		unsigned int w = hn_pattern_word(seed, (offset + i) / 4);

		p[i] = w;
		p[i + 1] = w >> 8;
		p[i + 2] = w >> 16;
		p[i + 3] = w >> 24;
	}
}

#define HN_FNV_INIT 0x811c9dc5u

/* FNV-1a (32-bit) over bytes, continued from h: what the programs print of data so that
 * the host can compare it with its own. */
static inline unsigned int hn_fnv1a(unsigned int h, const unsigned char *p, unsigned int len)
{
	while (len--)
		h = (h ^ *p++) * 0x01000193u;
	return h;
}

/* Eight lowercase hex digits, zero padded, into out (9 bytes). */
static inline char *hn_hex32(unsigned int v, char *out)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 4)
		out[i] = "0123456789abcdef"[v & 15];
	out[8] = 0;
	return out;
}

#endif
