/* diskbench: disk throughput from inside the guest, for `npm run bench:disk`.
 *
 *   diskbench DEV SIZE RAND_OPS SEED
 *
 * On the first SIZE bytes (K/M/G suffixes) of DEV, a block device: sequential 1 MiB
 * writes then reads, then RAND_OPS random 4 KiB reads then writes at 4 KiB-aligned
 * offsets drawn from SEED. Writes end with an fsync, inside the timed span. With
 * O_DIRECT (falling back to buffered I/O with fsync where the device refuses it) the
 * guest's page cache is out of the way, so each operation reaches the device.
 *
 * One line per phase, raw counts first so the host can compute exact figures, then
 * MB/s (10^6 bytes) and IOPS for people reading the console:
 *   BENCH seq-write bs=1048576 ops=N bytes=B usec=U mbps=X.Y iops=I direct=1
 * and "BENCH-DONE" at the end (or BENCH-FAIL with the failing call). */
#include "hn.h"

#define MIB (1u << 20)
#define SMALL 4096u

static unsigned int rng_state;

/* xorshift32: cheap, and the same offsets on every machine for the same seed. */
static unsigned int next_random(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

struct phase {
	const char *name;
	int write;
	unsigned int bs;
	int random;
};

static int run_phase(int fd, const struct phase *p, unsigned char *buf, unsigned int size,
		     unsigned int ops, int direct)
{
	unsigned int i, start, usec, ms;
	char tenths[2] = { 0, 0 };
	unsigned int mbps10;

	start = hn_now_us();
	for (i = 0; i < ops; i++) {
		unsigned int off = p->random ? next_random() % (size / p->bs) * p->bs : i * p->bs;
		ssize_t n;

		if (hn_seek(fd, off)) {
			hn_say("BENCH-FAIL %s seek errno=%u", p->name, errno);
			return 1;
		}
		n = p->write ? write(fd, buf, p->bs) : read(fd, buf, p->bs);
		if (n != (ssize_t)p->bs) {
			hn_say("BENCH-FAIL %s %s errno=%u", p->name, p->write ? "write" : "read", errno);
			return 1;
		}
	}
	if (p->write && fsync(fd)) {
		hn_say("BENCH-FAIL %s fsync errno=%u", p->name, errno);
		return 1;
	}
	usec = hn_now_us() - start;
	if (usec == 0)
		usec = 1;
	ms = usec / 1000 ? usec / 1000 : 1;
	mbps10 = hn_scale(ops * p->bs, 10, usec);
	tenths[0] = '0' + mbps10 % 10;
	hn_say("BENCH %s bs=%u ops=%u bytes=%u usec=%u mbps=%u.%s iops=%u direct=%u", p->name, p->bs,
	       ops, ops * p->bs, usec, mbps10 / 10, tenths, ops * 1000 / ms, (unsigned int)direct);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct phase phases[] = {
		{ "seq-write", 1, MIB, 0 },
		{ "seq-read", 0, MIB, 0 },
		{ "rand-read", 0, SMALL, 1 },
		{ "rand-write", 1, SMALL, 1 },
	};
	unsigned int size, rand_ops, i;
	unsigned char *buf;
	int fd, direct = 1;

	if (argc != 5) {
		hn_say("usage: diskbench DEV SIZE RAND_OPS SEED");
		return 2;
	}
	size = hn_size_arg(argv[2]) / MIB * MIB;
	rand_ops = atoi(argv[3]);
	rng_state = atoi(argv[4]) | 1;
	if (size == 0) {
		hn_say("BENCH-FAIL size must be at least 1M");
		return 2;
	}
	fd = open(argv[1], O_RDWR | HN_O_DIRECT, 0);
	if (fd < 0 && errno == EINVAL) {
		direct = 0;
		fd = open(argv[1], O_RDWR, 0);
	}
	if (fd < 0) {
		hn_say("BENCH-FAIL open %s errno=%u", argv[1], errno);
		return 1;
	}
	/* O_DIRECT needs aligned buffers: mmap gives whole pages. */
	buf = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		hn_say("BENCH-FAIL mmap errno=%u", errno);
		return 1;
	}
	/* Non-zero data, so no layer can take a shortcut for zeroes. */
	for (i = 0; i < MIB; i += 4)
		*(unsigned int *)(buf + i) = hn_pattern_word(rng_state, i / 4);
	for (i = 0; i < sizeof(phases) / sizeof(phases[0]); i++) {
		const struct phase *p = &phases[i];

		if (run_phase(fd, p, buf, size, p->random ? rand_ops : size / p->bs, direct))
			return 1;
	}
	close(fd);
	hn_say("BENCH-DONE");
	return 0;
}
