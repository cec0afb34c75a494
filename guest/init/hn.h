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

#endif
