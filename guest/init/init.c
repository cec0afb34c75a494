/* /init of the Hypernova test guest: prints BOOT-OK, then "heartbeat N" once a second.
 *
 * Options, read from /proc/cmdline (Linux hands dotted words such as hn.x=y to
 * neither init's argv nor its environment, taking them for module parameters):
 *   hn.dirty_mib_s=R    dirty R MiB of memory per second (so live migration has
 *                       pages to chase), spread over the second
 *   hn.wss_mib=W        ... cycling through a working set of W MiB (default 4)
 *   hn.poweroff_after=N power off after N heartbeats
 * SIGTERM, SIGPWR and SIGINT (ctrl-alt-del) power the guest off cleanly.
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

static struct {
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

static void power_off(void)
{
	hn_say("hn: powering off");
	reboot(LINUX_REBOOT_CMD_POWER_OFF);
	hn_say("hn: power off failed");
}

int main(void)
{
	static const char *const mounts[][2] = {
		{ "devtmpfs", "/dev" }, { "proc", "/proc" }, { "sysfs", "/sys" },
	};
	struct __kernel_timespec next;
	unsigned int i, slices, beat, slice;

	for (i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++)
		if (mount(mounts[i][0], mounts[i][1], mounts[i][0], 0, NULL))
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
	power_off();
	return 1;
}
