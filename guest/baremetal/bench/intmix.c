/* intmix: self-checking integer CPU benchmark, M-mode from reset.
 * Each round runs CRC32 (table and bitwise), a matrix multiply, a sort and
 * byte/string loops on data seeded by the round number. Every kernel is
 * checked by an independent property (not a stored answer), so any ITERS
 * works; a digest of all results is printed for cross-engine comparison.
 * Prints "INSTRET <n>" (minstret delta), "CHECK OK|FAIL", then powers off. */
#include "hn.h"

#ifndef ITERS
#define ITERS 10
#endif

static uint32_t rng_state;
static uint32_t rng(void)
{
    /* xorshift32: cheap, deterministic, no multiply/divide bias. */
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

static uint32_t failures;
static void expect(int ok, const char *what, uint32_t round)
{
    if (!ok && failures++ < 8)
        hn_printf("intmix: check failed: %s (round %u)\n", what, round);
}

/* ---- CRC32 (IEEE, reflected) ---- */
static uint32_t crc_table[256];

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32_table(const uint8_t *p, uint32_t n)
{
    uint32_t c = 0xffffffffu;
    while (n--)
        c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return ~c;
}

static uint32_t crc32_bitwise(const uint8_t *p, uint32_t n)
{
    uint32_t c = 0xffffffffu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & -(c & 1));
    }
    return ~c;
}

#define CRC_BYTES 16384
#define CRC_BITWISE_BYTES 2048
static uint8_t crc_buf[CRC_BYTES];

static uint32_t round_crc(uint32_t r)
{
    for (uint32_t i = 0; i < CRC_BYTES; i += 4) {
        uint32_t v = rng();
        crc_buf[i] = v;
        crc_buf[i + 1] = v >> 8;
        crc_buf[i + 2] = v >> 16;
        crc_buf[i + 3] = v >> 24;
    }
    uint32_t full = crc32_table(crc_buf, CRC_BYTES);
    uint32_t a = crc32_table(crc_buf, CRC_BITWISE_BYTES);
    uint32_t b = crc32_bitwise(crc_buf, CRC_BITWISE_BYTES);
    expect(a == b, "crc32 table == bitwise", r);
    return full ^ a;
}

/* ---- matrix multiply ---- */
#define N 40
static int32_t ma[N][N], mb[N][N], mc[N][N];

static uint32_t round_matmul(uint32_t r)
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            ma[i][j] = (int32_t)(rng() % 2001) - 1000;
            mb[i][j] = (int32_t)(rng() % 2001) - 1000;
        }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            int32_t s = 0;
            for (int k = 0; k < N; k++)
                s += ma[i][k] * mb[k][j];
            mc[i][j] = s;
        }
    /* sum(C) = sum_k colsum(A)[k] * rowsum(B)[k], in 64 bits. */
    int64_t total = 0, expect_total = 0;
    uint32_t digest = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            total += mc[i][j];
            digest = (digest << 5 | digest >> 27) ^ (uint32_t)mc[i][j];
        }
    for (int k = 0; k < N; k++) {
        int64_t ca = 0, rb = 0;
        for (int i = 0; i < N; i++) {
            ca += ma[i][k];
            rb += mb[k][i];
        }
        expect_total += ca * rb;
    }
    expect(total == expect_total, "matmul sum identity", r);
    return digest;
}

/* ---- sorting ---- */
#define SORT_N 3000
static uint32_t sort_buf[SORT_N];

static void sift_down(uint32_t *a, int start, int end)
{
    int root = start;
    while (2 * root + 1 <= end) {
        int child = 2 * root + 1, sw = root;
        if (a[sw] < a[child])
            sw = child;
        if (child + 1 <= end && a[sw] < a[child + 1])
            sw = child + 1;
        if (sw == root)
            return;
        uint32_t t = a[root];
        a[root] = a[sw];
        a[sw] = t;
        root = sw;
    }
}

static void heapsort(uint32_t *a, int n)
{
    for (int s = (n - 2) / 2; s >= 0; s--)
        sift_down(a, s, n - 1);
    for (int end = n - 1; end > 0; end--) {
        uint32_t t = a[end];
        a[end] = a[0];
        a[0] = t;
        sift_down(a, 0, end - 1);
    }
}

static void insertion_sort(uint32_t *a, int n)
{
    for (int i = 1; i < n; i++) {
        uint32_t v = a[i];
        int j = i - 1;
        while (j >= 0 && a[j] > v) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = v;
    }
}

static uint32_t mix(uint32_t v)   /* order-independent multiset fingerprint term */
{
    v ^= v >> 16;
    v *= 0x7feb352du;
    v ^= v >> 15;
    return v;
}

static uint32_t round_sort(uint32_t r)
{
    uint32_t sum_before = 0, sum_after = 0, xor_before = 0, xor_after = 0;
    for (int i = 0; i < SORT_N; i++) {
        sort_buf[i] = rng() % 100000;
        sum_before += mix(sort_buf[i]);
        xor_before ^= mix(sort_buf[i] + 1);
    }
    heapsort(sort_buf, SORT_N - 200);
    insertion_sort(sort_buf, SORT_N);   /* merges the 200 unsorted tail items */
    int sorted = 1;
    for (int i = 0; i < SORT_N; i++) {
        sum_after += mix(sort_buf[i]);
        xor_after ^= mix(sort_buf[i] + 1);
        if (i && sort_buf[i - 1] > sort_buf[i])
            sorted = 0;
    }
    expect(sorted, "sort order", r);
    expect(sum_before == sum_after && xor_before == xor_after, "sort keeps elements", r);
    return sort_buf[0] ^ sort_buf[SORT_N / 2] ^ sort_buf[SORT_N - 1];
}

/* ---- byte / string loops ---- */
#define TEXT_N 6000
static char text[TEXT_N + 1], rev[TEXT_N + 1];

static uint32_t round_strings(uint32_t r)
{
    static const char *const words[] = { "risc", "five", "hyper", "nova", "vm", "a", "migrate" };
    uint32_t n = 0, nwords = 0;
    while (n < TEXT_N - 10) {
        const char *w = words[rng() % 7];
        while (*w)
            text[n++] = *w++;
        text[n++] = ' ';
        nwords++;
    }
    text[n] = 0;

    uint32_t len = (uint32_t)strlen(text);
    expect(len == n, "strlen", r);
    /* Count words by scanning for transitions, compare with what was built. */
    uint32_t counted = 0;
    for (uint32_t i = 0; i < len; i++)
        if (text[i] != ' ' && (i == 0 || text[i - 1] == ' '))
            counted++;
    expect(counted == nwords, "word count", r);
    /* Histogram adds up to the length. */
    uint32_t hist[256] = { 0 }, total = 0;
    for (uint32_t i = 0; i < len; i++)
        hist[(uint8_t)text[i]]++;
    for (int i = 0; i < 256; i++)
        total += hist[i];
    expect(total == len, "histogram", r);
    /* Reverse twice is the identity; upper-casing changes only letters. */
    for (uint32_t i = 0; i < len; i++)
        rev[i] = text[len - 1 - i];
    rev[len] = 0;
    uint32_t same = 1;
    for (uint32_t i = 0; i < len; i++)
        same &= rev[len - 1 - i] == text[i];
    expect(same, "reverse", r);
    uint32_t upper = 0;
    for (uint32_t i = 0; i < len; i++) {
        char c = text[i];
        if (c >= 'a' && c <= 'z')
            c -= 32;
        upper = upper * 31 + (uint8_t)c;
    }
    expect(memcmp(text, text, len) == 0 && memcmp(text, rev, len) != 0, "memcmp", r);
    return upper ^ hist['a'] ^ (hist[' '] << 16);
}

static uint64_t instret(void)
{
    uint32_t hi, lo;
    do {
        hi = csr_read(minstreth);
        lo = csr_read(minstret);
    } while (hi != csr_read(minstreth));
    return ((uint64_t)hi << 32) | lo;
}

int main(void)
{
    hn_printf("intmix: %u rounds\n", (uint32_t)ITERS);
    uint64_t start = instret();

    crc_init();
    expect(crc32_table((const uint8_t *)"123456789", 9) == 0xcbf43926u, "crc32 check value", 0);
    expect(crc32_bitwise((const uint8_t *)"123456789", 9) == 0xcbf43926u, "crc32 bitwise check value", 0);

    uint32_t digest = 0;
    for (uint32_t r = 0; r < ITERS; r++) {
        rng_state = 0x9e3779b9u ^ (r * 0x85ebca6bu) ^ 1;
        digest = (digest << 7 | digest >> 25) ^ round_crc(r);
        digest = (digest << 7 | digest >> 25) ^ round_matmul(r);
        digest = (digest << 7 | digest >> 25) ^ round_sort(r);
        digest = (digest << 7 | digest >> 25) ^ round_strings(r);
    }

    uint64_t end = instret();
    hn_printf("INSTRET %llu\n", end - start);
    hn_printf("DIGEST %08x\n", digest);
    hn_printf("CHECK %s\n", failures ? "FAIL" : "OK");
    return failures ? 1 : 0;
}
