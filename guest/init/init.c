/* The init of the Hypernova test guest, both /init of the built-in initramfs and
 * /sbin/init of the root filesystem image (guest/rootfs): prints BOOT-OK, then either
 * runs the hn.run commands and powers off, or prints "heartbeat N" once a second.
 *
 * Options, read from /proc/cmdline (Linux hands dotted words such as hn.x=y to
 * neither init's argv nor its environment, taking them for module parameters):
 *   hn.run=PROG,ARG,...  run PROG with these arguments (commas separate them) and wait
 *                       for it; repeat the option to run several commands in order.
 *                       After the last one, or the first that fails, init syncs,
 *                       remounts / read-only and powers off. A command that exits with
 *                       HN_EXIT_REBOOT (100) makes init reboot instead (tests that span
 *                       a reboot); "hn: run PROG exit N" lines report each command.
 *   hn.dirty_mib_s=R    dirty R MiB of memory per second (so live migration has
 *                       pages to chase), spread over the second
 *   hn.wss_mib=W        ... cycling through a working set of W MiB (default 4)
 *   hn.poweroff_after=N power off after N heartbeats
 * SIGTERM, SIGPWR and SIGINT (ctrl-alt-del) power the guest off cleanly.
 *
 * Root on a disk: "root=/dev/vda rw rdinit=/none" makes the kernel skip the
 * initramfs (it has no /none), mount /dev/vda itself and start /sbin/init from it;
 * no switch_root code is needed here. See guest/init/README.md.
 *
 * Dirtying stores one word per 4 KiB page, the unit migration tracks, which keeps
 * the rate cheap to produce on an emulator. Each store also checks the value the
 * previous pass left there, so memory lost or corrupted by a migration shows up as
 * a MEMCHECK-FAIL line. */
#include "hn.h"

#define PAGE_SIZE 4096u
#define PAGES_PER_MIB (1048576u / PAGE_SIZE)
/* Slices per second when dirtying, so the writes are spread over time. */
#define SLICES 10

static volatile int stop_signal;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

#define MAX_RUN 8
#define MAX_ARGS 16

static struct {
	char *run[MAX_RUN]; /* hn.run values, in order */
	unsigned int runs;
	unsigned int dirty_mib_s;
	unsigned int wss_mib;
	unsigned int poweroff_after;
} opt = { .wss_mib = 4 };

static void parse_cmdline(void)
{
	static char cmdline[1024];
	int fd = open("/proc/cmdline", O_RDONLY);
	int len = fd < 0 ? -1 : read(fd, cmdline, sizeof(cmdline) - 1);
	char *word, *end;

	if (len < 0) {
		hn_say("hn: cannot read /proc/cmdline, using defaults");
		return;
	}
	close(fd);
	cmdline[len] = 0;
	for (word = cmdline; *word; word = end) {
		for (end = word; *end && *end != ' ' && *end != '\n'; end++)
			;
		if (*end)
			*end++ = 0;
		if (!strncmp(word, "hn.dirty_mib_s=", 15))
			opt.dirty_mib_s = atoi(word + 15);
		else if (!strncmp(word, "hn.wss_mib=", 11))
			opt.wss_mib = atoi(word + 11);
		else if (!strncmp(word, "hn.poweroff_after=", 18))
			opt.poweroff_after = atoi(word + 18);
		else if (!strncmp(word, "hn.run=", 7) && opt.runs < MAX_RUN)
			opt.run[opt.runs++] = word + 7;
		else if (!strncmp(word, "hn.", 3))
			hn_say("hn: unknown option %s", word);
	}
}

static struct {
	unsigned int *mem;
	unsigned int pages;
	unsigned int next; /* next page to write */
	unsigned int pass; /* value this pass writes; the previous pass wrote pass - 1 */
} wss;

static void dirty_pages(unsigned int count)
{
	while (count--) {
		unsigned int *word = wss.mem + wss.next * (PAGE_SIZE / sizeof(*word));

		if (*word != wss.pass - 1)
			hn_say("MEMCHECK-FAIL page %u: expected %u, found %u",
			       wss.next, wss.pass - 1, *word);
		*word = wss.pass;
		if (++wss.next == wss.pages) {
			wss.next = 0;
			wss.pass++;
		}
	}
}

static void setup_dirtying(void)
{
	if (!opt.dirty_mib_s || !opt.wss_mib)
		return;
	wss.pages = opt.wss_mib * PAGES_PER_MIB;
	wss.mem = mmap(NULL, wss.pages * PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (wss.mem == MAP_FAILED) {
		hn_say("hn: cannot map %u MiB, not dirtying memory", opt.wss_mib);
		opt.dirty_mib_s = 0;
		return;
	}
	wss.pass = 1;
	hn_say("hn: dirtying %u MiB/s over %u MiB", opt.dirty_mib_s, opt.wss_mib);
}

/* Powers off (or restarts) as a shutdown would: data written, root file system clean. */
static void power_off(int restart)
{
	hn_sync();
	/* Fails harmlessly when / is the initramfs or busy; an ext2 root is then left
	 * marked clean, so the next boot (or e2fsck) finds nothing to repair. */
	mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL);
	hn_say(restart ? "hn: rebooting" : "hn: powering off");
	reboot(restart ? LINUX_REBOOT_CMD_RESTART : LINUX_REBOOT_CMD_POWER_OFF);
	hn_say("hn: power off failed");
}

/* Runs one hn.run command ("PROG,ARG,...", split in place) and returns its exit status. */
static int run_command(char *spec)
{
	static char *const envp[] = { "PATH=/bin:/sbin", NULL };
	char *argv[MAX_ARGS + 1];
	unsigned int argc = 0;
	int pid, status;

	while (argc < MAX_ARGS) {
		argv[argc++] = spec;
		while (*spec && *spec != ',')
			spec++;
		if (!*spec)
			break;
		*spec++ = 0;
	}
	argv[argc] = NULL;
	pid = fork();
	if (pid == 0) {
		execve(argv[0], argv, envp);
		hn_say("hn: cannot run %s (errno %u)", argv[0], errno);
		exit(127);
	}
	if (pid < 0) {
		hn_say("hn: cannot fork (errno %u)", errno);
		return 127;
	}
	status = hn_wait(pid);
	hn_say("hn: run %s exit %u", argv[0], (unsigned int)status);
	return status;
}

/* Runs the hn.run commands in order, then powers off, or reboots when one asks. */
static void run_commands(void)
{
	unsigned int i;
	int status = 0;

	for (i = 0; i < opt.runs && status == 0 && !stop_signal; i++)
		status = run_command(opt.run[i]);
	power_off(status == HN_EXIT_REBOOT);
}

int main(void)
{
	static const char *const mounts[][2] = {
		{ "devtmpfs", "/dev" }, { "proc", "/proc" }, { "sysfs", "/sys" },
	};
	struct __kernel_timespec next;
	unsigned int i, slices, beat, slice;

	/* With its root on a disk the kernel has mounted /dev already (DEVTMPFS_MOUNT). */
	for (i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++)
		if (mount(mounts[i][0], mounts[i][1], mounts[i][0], 0, NULL) && errno != EBUSY)
			hn_say("hn: cannot mount %s (errno %u)", mounts[i][1], errno);
	/* Make ctrl-alt-del signal init (SIGINT) instead of rebooting at once. */
	reboot(LINUX_REBOOT_CMD_CAD_OFF);
	hn_signal(SIGTERM, on_stop_signal);
	hn_signal(SIGPWR, on_stop_signal);
	hn_signal(SIGINT, on_stop_signal);
	parse_cmdline();
	setup_dirtying();
	slices = opt.dirty_mib_s ? SLICES : 1;
	hn_say("BOOT-OK");
	if (opt.runs) {
		run_commands();
		return 1;
	}

	hn_clock_gettime(CLOCK_MONOTONIC, &next);
	for (beat = 1; !stop_signal; beat++) {
		for (slice = 1; slice <= slices && !stop_signal; slice++) {
			/* Cumulative targets, so rounding never loses pages over a second. */
			unsigned int per_s = opt.dirty_mib_s * PAGES_PER_MIB;

			dirty_pages(per_s * slice / slices - per_s * (slice - 1) / slices);
			hn_timespec_add_ns(&next, 1000000000u / slices);
			while (hn_sleep_until(CLOCK_MONOTONIC, &next) == -EINTR && !stop_signal)
				;
		}
		if (stop_signal)
			break;
		hn_say("heartbeat %u", beat);
		if (beat == opt.poweroff_after)
			break;
	}
	if (stop_signal)
		hn_say("hn: signal %u", stop_signal);
	power_off(0);
	return 1;
}
