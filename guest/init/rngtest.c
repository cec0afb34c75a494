/* rngtest: reads entropy from the hardware RNG (virtio-rng through /dev/hwrng).
 *
 *   rngtest BYTES
 *
 * Prints which RNG the kernel uses, then
 *   RNG-OK bytes=N distinct=D ones=O fnv=XXXXXXXX first=<16 bytes in hex>
 * (distinct byte values, set bits) so the host can judge the data, or RNG-FAIL. */
#include "hn.h"

#define MAX_BYTES 65536u

int main(int argc, char **argv)
{
	static unsigned char data[MAX_BYTES];
	static unsigned char seen[256];
	char current[64], hex[33], fnv[9];
	unsigned int want, have = 0, distinct = 0, ones = 0, i;
	int fd, n;

	want = argc == 2 ? hn_size_arg(argv[1]) : 0;
	if (want == 0 || want > MAX_BYTES) {
		hn_say("usage: rngtest BYTES (1..%u)", MAX_BYTES);
		return 2;
	}
	fd = open("/sys/class/misc/hw_random/rng_current", O_RDONLY, 0);
	n = fd < 0 ? -1 : read(fd, current, sizeof(current) - 1);
	if (n > 0) {
		current[n - (current[n - 1] == '\n')] = 0;
		hn_say("rngtest: current rng %s", current);
	}
	if (fd >= 0)
		close(fd);

	fd = open("/dev/hwrng", O_RDONLY, 0);
	if (fd < 0) {
		hn_say("RNG-FAIL open /dev/hwrng errno=%u", errno);
		return 1;
	}
	/* The driver returns what the device has at hand: read until we have enough. */
	while (have < want) {
		n = read(fd, data + have, want - have);
		if (n <= 0) {
			hn_say("RNG-FAIL read after %u bytes errno=%u", have, n < 0 ? errno : 0);
			return 1;
		}
		have += n;
	}
	close(fd);
	for (i = 0; i < have; i++) {
		unsigned int b = data[i];

		distinct += !seen[b];
		seen[b] = 1;
		for (; b; b &= b - 1)
			ones++;
	}
	for (i = 0; i < 16 && i < have; i++) {
		hex[2 * i] = "0123456789abcdef"[data[i] >> 4];
		hex[2 * i + 1] = "0123456789abcdef"[data[i] & 15];
	}
	hex[2 * i] = 0;
	hn_say("RNG-OK bytes=%u distinct=%u ones=%u fnv=%s first=%s", have, distinct, ones,
	       hn_hex32(hn_fnv1a(HN_FNV_INIT, data, have), fnv), hex);
	return 0;
}
