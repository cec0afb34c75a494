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
 *   hn.write_file=PATH,BYTES,SEED
 *                       before the heartbeats, write PATH as "disktest write PATH BYTES
 *                       SEED" does (pattern, fsync of file and directory, DISK-OK line
 *                       with its FNV-1a); then, before printing heartbeat N, rewrite
 *                       4 KiB record (N - 1) % (BYTES / 4 KiB) of it with the pattern for
 *                       SEED + N and fsync it, so the disk changes while the guest runs
 *                       (a migration's dirty-block tracking has writes to catch) and each
 *                       heartbeat line vouches for its record
 * SIGTERM, SIGPWR and SIGINT (ctrl-alt-del) power the guest off cleanly.
 *
 * Root on a disk: "root=/dev/vda rw rdinit=/none" makes the kernel skip the
 * initramfs (it has no /none), mount /dev/vda itself and start /sbin/init from it;
 * no switch_root code is needed here. See guest/init/README.md.
 *
 * Records keep the pattern's positions (word i of the file is always word i of some
 * seed's stream), so a block that lands in the wrong place or is lost shows up as well
 * as a stale one; a record that fails to write prints DISK-FAIL and stops the records.
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
/* hn.write_file's record: one page, the unit the guest's page cache writes back. */
#define RECORD_SIZE 4096u

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
	char *write_file; /* hn.write_file value */
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
		else if (!strncmp(word, "hn.write_file=", 14))
			opt.write_file = word + 14;
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

/* Splits "A,B,..." in place into at most max words; returns how many it found. */
static unsigned int split_commas(char *s, char **words, unsigned int max)
{
	unsigned int n = 0;

	while (n < max) {
		words[n++] = s;
		while (*s && *s != ',')
			s++;
		if (!*s)
			break;
		*s++ = 0;
	}
	return n;
}

/* Runs a program (argv NULL-terminated) and returns its exit status. */
static int run_argv(char *const argv[])
{
	static char *const envp[] = { "PATH=/bin:/sbin", NULL };
	int pid, status;

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

/* Runs one hn.run command ("PROG,ARG,...", split in place) and returns its exit status. */
static int run_command(char *spec)
{
	char *argv[MAX_ARGS + 1];

	argv[split_commas(spec, argv, MAX_ARGS)] = NULL;
	return run_argv(argv);
}

static struct {
	const char *path;
	int fd; /* -1: no records to write */
	unsigned int records;
	unsigned int seed;
} file = { .fd = -1 };

/* hn.write_file: disktest writes the file (and prints its checksum); records follow. */
static void setup_file(void)
{
	char *argv[] = { "/bin/disktest", "write", NULL, NULL, NULL, NULL };

	if (!opt.write_file)
		return;
	if (split_commas(opt.write_file, argv + 2, 3) != 3) {
		hn_say("hn: hn.write_file wants PATH,BYTES,SEED");
		return;
	}
	if (run_argv(argv))
		return;
	file.path = argv[2];
	file.records = hn_size_arg(argv[3]) / RECORD_SIZE;
	file.seed = atoi(argv[4]);
	file.fd = file.records ? open(file.path, O_WRONLY, 0) : -1;
	if (file.fd >= 0)
		hn_say("hn: rewriting a record of %s per heartbeat", file.path);
}

/* Rewrites the record of heartbeat beat and makes it durable before the beat is printed. */
static void write_record(unsigned int beat)
{
	static unsigned char record[RECORD_SIZE];
	unsigned int offset;

	if (file.fd < 0)
		return;
	offset = (beat - 1) % file.records * RECORD_SIZE;
	hn_pattern_fill(record, offset, RECORD_SIZE, file.seed + beat);
	if (hn_seek(file.fd, offset) || write(file.fd, record, RECORD_SIZE) != (ssize_t)RECORD_SIZE ||
	    fsync(file.fd)) {
		hn_say("DISK-FAIL record path=%s beat=%u errno=%u", file.path, beat, errno);
		close(file.fd);
		file.fd = -1;
	}
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

	setup_file();
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
		write_record(beat);
		hn_say("heartbeat %u", beat);
		if (beat == opt.poweroff_after)
			break;
	}
	if (stop_signal)
		hn_say("hn: signal %u", stop_signal);
	power_off(0);
	return 1;
}
