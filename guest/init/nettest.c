/* nettest: two guests on one Ethernet segment exchange raw frames over virtio-net.
 *
 *   nettest IFACE COUNT TIMEOUT_S
 *
 * Brings IFACE up, then every 20 ms sends one frame (AF_PACKET, ethertype 0x88b5, no
 * IP configuration needed) carrying a sequence number 0..COUNT-1, cycling, plus a
 * payload derived from the sender's MAC and the sequence number; broadcast until a
 * frame from the peer has been seen, then unicast to the peer's MAC. Each frame also
 * says how many of the peer's sequence numbers the sender has received, so both sides
 * know when the other has everything; a side that has all COUNT of the peer's frames
 * and has heard the peer say the same stops. Cycling makes it indifferent to which
 * guest boots first and to frames dropped while the other is not listening yet.
 *
 * Prints "NET-OK mac=M peer=P count=N sent=S received=R bad=0", or NET-FAIL. */
#include "hn.h"

#define ETH_P_HN 0x88b5
#define AF_PACKET 17
#define SOCK_RAW 3
#define AF_INET 2
#define SOCK_DGRAM 2
#define IFF_UP 1
#define SIOCGIFFLAGS 0x8913
#define SIOCSIFFLAGS 0x8914
#define SIOCGIFHWADDR 0x8927
#define SIOCGIFINDEX 0x8933
#define MSG_DONTWAIT 0x40

#define MAGIC 0x484e4554u /* "HNET" */
#define MAX_COUNT 256
#define PAYLOAD_WORDS 64
#define TICK_NS 20000000
/* Frames of the final report, so the peer sees that we have everything even if one
 * is dropped. */
#define LINGER_TICKS 10

/* struct ifreq: the name, then a 16-byte union (flags, hwaddr, ifindex). */
struct ifreq {
	char name[16];
	union {
		short flags;
		int index;
		struct {
			unsigned short family;
			unsigned char data[14];
		} hwaddr;
		char pad[24];
	};
};

struct sockaddr_ll {
	unsigned short family;
	unsigned short protocol; /* big endian */
	int ifindex;
	unsigned short hatype;
	unsigned char pkttype;
	unsigned char halen;
	unsigned char addr[8];
};

/* The frame: Ethernet header, then big-endian words. */
struct frame {
	unsigned char dst[6], src[6];
	unsigned char type[2];
	unsigned char words[4 * (4 + PAYLOAD_WORDS)];
};
enum { W_MAGIC, W_SEQ, W_COUNT, W_GOT, W_PAYLOAD };

static unsigned int get32(const unsigned char *p, int i)
{
	p += 4 * i;
	return (unsigned int)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static void put32(unsigned char *p, int i, unsigned int v)
{
	p += 4 * i;
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* Seeds each sender's payload with the low four bytes of its MAC. */
static unsigned int mac_seed(const unsigned char *mac)
{
	return get32(mac + 2, 0);
}

static char *format_mac(const unsigned char *mac, char *out)
{
	int i;

	for (i = 0; i < 6; i++) {
		out[3 * i] = "0123456789abcdef"[mac[i] >> 4];
		out[3 * i + 1] = "0123456789abcdef"[mac[i] & 15];
		out[3 * i + 2] = i < 5 ? ':' : 0;
	}
	return out;
}

static int fail(const char *what)
{
	hn_say("NET-FAIL %s errno=%u", what, errno);
	return 1;
}

static int sys_ret(long ret)
{
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return ret;
}

int main(int argc, char **argv)
{
	static unsigned char seen[MAX_COUNT];
	static const unsigned char broadcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	unsigned char mac[6], peer[6];
	unsigned int count, timeout_ticks, tick, got = 0, peer_got = 0, sent = 0, received = 0, bad = 0;
	unsigned int linger = 0, i;
	int have_peer = 0, ctl, fd;
	struct ifreq ifr;
	struct sockaddr_ll sll;
	struct frame f, in;
	struct __kernel_timespec next;
	char m1[18], m2[18];

	if (argc != 4 || atoi(argv[2]) < 1 || atoi(argv[2]) > MAX_COUNT) {
		hn_say("usage: nettest IFACE COUNT(1..%u) TIMEOUT_S", MAX_COUNT);
		return 2;
	}
	count = atoi(argv[2]);
	timeout_ticks = atoi(argv[3]) * (1000000000 / TICK_NS);

	ctl = sys_ret(my_syscall3(__NR_socket, AF_INET, SOCK_DGRAM, 0));
	if (ctl < 0)
		return fail("socket(AF_INET)");
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.name, argv[1], sizeof(ifr.name) - 1);
	if (ioctl(ctl, SIOCGIFFLAGS, &ifr))
		return fail("SIOCGIFFLAGS");
	ifr.flags |= IFF_UP;
	if (ioctl(ctl, SIOCSIFFLAGS, &ifr))
		return fail("SIOCSIFFLAGS");
	if (ioctl(ctl, SIOCGIFHWADDR, &ifr))
		return fail("SIOCGIFHWADDR");
	memcpy(mac, ifr.hwaddr.data, 6);
	if (ioctl(ctl, SIOCGIFINDEX, &ifr))
		return fail("SIOCGIFINDEX");

	fd = sys_ret(my_syscall3(__NR_socket, AF_PACKET, SOCK_RAW, (ETH_P_HN >> 8) | (ETH_P_HN & 0xff) << 8));
	if (fd < 0)
		return fail("socket(AF_PACKET)");
	memset(&sll, 0, sizeof(sll));
	sll.family = AF_PACKET;
	sll.protocol = (ETH_P_HN >> 8) | (ETH_P_HN & 0xff) << 8;
	sll.ifindex = ifr.index;
	if (sys_ret(my_syscall3(__NR_bind, fd, &sll, sizeof(sll))))
		return fail("bind");

	memcpy(f.src, mac, 6);
	f.type[0] = ETH_P_HN >> 8;
	f.type[1] = ETH_P_HN & 0xff;
	hn_say("nettest: %s is %s, sending %u frames", argv[1], format_mac(mac, m1), count);
	hn_clock_gettime(CLOCK_MONOTONIC, &next);
	for (tick = 0; tick < timeout_ticks; tick++) {
		unsigned int seq = tick % count;
		ssize_t n;

		memcpy(f.dst, have_peer ? peer : broadcast, 6);
		put32(f.words, W_MAGIC, MAGIC);
		put32(f.words, W_SEQ, seq);
		put32(f.words, W_COUNT, count);
		put32(f.words, W_GOT, got);
		for (i = 0; i < PAYLOAD_WORDS; i++)
			put32(f.words, W_PAYLOAD + i, hn_pattern_word(mac_seed(mac), seq * PAYLOAD_WORDS + i));
		if (sys_ret(my_syscall6(__NR_sendto, fd, &f, sizeof(f), 0, NULL, 0)) != sizeof(f))
			return fail("send");
		sent++;

		while ((n = my_syscall6(__NR_recvfrom, fd, &in, sizeof(in), MSG_DONTWAIT, NULL, NULL)) > 0) {
			unsigned int rseq = get32(in.words, W_SEQ);
			int ok = n == sizeof(in) && get32(in.words, W_MAGIC) == MAGIC &&
				 get32(in.words, W_COUNT) == count && rseq < count;

			if (!memcmp(in.src, mac, 6))
				continue;
			received++;
			for (i = 0; ok && i < PAYLOAD_WORDS; i++)
				ok = get32(in.words, W_PAYLOAD + i) ==
				     hn_pattern_word(mac_seed(in.src), rseq * PAYLOAD_WORDS + i);
			if (!ok || (have_peer && memcmp(in.src, peer, 6))) {
				bad++;
				continue;
			}
			if (!have_peer) {
				memcpy(peer, in.src, 6);
				have_peer = 1;
			}
			if (!seen[rseq]) {
				seen[rseq] = 1;
				got++;
			}
			peer_got = get32(in.words, W_GOT);
		}
		if (got == count && peer_got == count && ++linger >= LINGER_TICKS)
			break;

		hn_timespec_add_ns(&next, TICK_NS);
		while (hn_sleep_until(CLOCK_MONOTONIC, &next) == -EINTR)
			;
	}
	if (got != count || peer_got != count) {
		hn_say("NET-FAIL timeout mac=%s got=%u/%u peer_got=%u sent=%u received=%u bad=%u",
		       format_mac(mac, m1), got, count, peer_got, sent, received, bad);
		return 1;
	}
	hn_say("NET-OK mac=%s peer=%s count=%u sent=%u received=%u bad=%u", format_mac(mac, m1),
	       format_mac(peer, m2), count, sent, received, bad);
	return bad ? 1 : 0;
}
