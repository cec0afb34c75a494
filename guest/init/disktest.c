/* disktest: writes a file (or a block device) with a known pattern, makes it durable,
 * and reads it back, printing one result line the host checks.
 *
 *   disktest write PATH BYTES SEED    write, fsync the file and its directory, sync,
 *                                     read back; prints DISK-OK ... then "synced"
 *   disktest verify PATH BYTES SEED   read back and compare
 *   disktest persist PATH BYTES SEED  verify if PATH exists, else write and exit 100
 *                                     (init then reboots: write, reboot, read back)
 *   disktest churn PATH               rewrite 4 MiB of PATH forever without syncing,
 *                                     so a VM killed meanwhile has writes in flight
 *
 * BYTES takes K/M suffixes. The pattern is hn_pattern_word(SEED, offset / 4); result
 * lines are
 *   DISK-OK write|verify path=P bytes=N seed=S fnv=XXXXXXXX
 *   DISK-FAIL ... (with the first bad offset, or the failing call and errno)
 * where fnv is FNV-1a over the content read back. */
#include "hn.h"

#define CHUNK 65536u
#define CHURN_BYTES (4u << 20)

static unsigned char buf[CHUNK];
static unsigned char want[CHUNK];

static int fail(const char *what, const char *path)
{
	hn_say("DISK-FAIL %s path=%s errno=%u", what, path, errno);
	return 1;
}

/* Makes the directory entry of path durable too: fsync of a new file alone does not. */
static int sync_parent(const char *path)
{
	char dir[128];
	unsigned int len = strlen(path);
	int fd, ret;

	while (len > 0 && path[len - 1] != '/')
		len--;
	if (len == 0 || len >= sizeof(dir))
		return 0; /* no directory part (or a device such as /dev/vdb: nothing to do) */
	memcpy(dir, path, len);
	dir[len] = 0;
	fd = open(dir, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

static int check(const char *path, unsigned int bytes, unsigned int seed, const char *verb)
{
	unsigned int off, h = HN_FNV_INIT;
	char hex[9];
	int fd = open(path, O_RDONLY, 0);

	if (fd < 0)
		return fail("open", path);
	for (off = 0; off < bytes; off += CHUNK) {
		unsigned int len = bytes - off < CHUNK ? bytes - off : CHUNK;
		unsigned int i;

		if (read(fd, buf, len) != (ssize_t)len) {
			close(fd);
			return fail("read", path);
		}
		hn_pattern_fill(want, off, len, seed);
		if (memcmp(buf, want, len)) {
			for (i = 0; buf[i] == want[i]; i++)
				;
			hn_say("DISK-FAIL %s path=%s bad byte at offset %u", verb, path, off + i);
			close(fd);
			return 1;
		}
		h = hn_fnv1a(h, buf, len);
	}
	close(fd);
	hn_say("DISK-OK %s path=%s bytes=%u seed=%u fnv=%s", verb, path, bytes, seed, hn_hex32(h, hex));
	return 0;
}

static int write_file(const char *path, unsigned int bytes, unsigned int seed)
{
	unsigned int off;
	int fd = open(path, O_WRONLY | O_CREAT, 0644);

	if (fd < 0)
		return fail("open", path);
	for (off = 0; off < bytes; off += CHUNK) {
		unsigned int len = bytes - off < CHUNK ? bytes - off : CHUNK;

		hn_pattern_fill(buf, off, len, seed);
		if (write(fd, buf, len) != (ssize_t)len) {
			close(fd);
			return fail("write", path);
		}
	}
	if (fsync(fd)) {
		close(fd);
		return fail("fsync", path);
	}
	close(fd);
	if (sync_parent(path))
		return fail("fsync of the directory", path);
	hn_sync();
	if (check(path, bytes, seed, "write"))
		return 1;
	hn_say("synced");
	return 0;
}

static int churn(const char *path)
{
	unsigned int off = 0;
	int fd = open(path, O_WRONLY | O_CREAT, 0644);

	if (fd < 0)
		return fail("open", path);
	hn_say("churning %s", path);
	for (;;) {
		hn_pattern_fill(buf, off, CHUNK, hn_now_us());
		if (hn_seek(fd, off) || write(fd, buf, CHUNK) != (ssize_t)CHUNK)
			return fail("write", path);
		off = (off + CHUNK) % CHURN_BYTES;
	}
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	unsigned int bytes, seed;
	int fd;

	if (argc == 3 && !strcmp(cmd, "churn"))
		return churn(argv[2]);
	if (argc != 5) {
		hn_say("usage: disktest write|verify|persist PATH BYTES SEED | churn PATH");
		return 2;
	}
	bytes = hn_size_arg(argv[3]);
	seed = atoi(argv[4]);
	if (!strcmp(cmd, "write"))
		return write_file(argv[2], bytes, seed);
	if (!strcmp(cmd, "verify"))
		return check(argv[2], bytes, seed, "verify");
	if (!strcmp(cmd, "persist")) {
		fd = open(argv[2], O_RDONLY, 0);
		if (fd >= 0) {
			close(fd);
			return check(argv[2], bytes, seed, "verify");
		}
		return write_file(argv[2], bytes, seed) ? 1 : HN_EXIT_REBOOT;
	}
	hn_say("disktest: unknown command %s", cmd);
	return 2;
}
