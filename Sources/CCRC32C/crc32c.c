// CRC-32C (Castagnoli). Hardware path: SSE4.2 crc32 instruction, runtime-detected.
// Software path: slicing-by-8 tables built once.
#include "ccrc32c.h"

#include <string.h>
#include <pthread.h>

#define POLY 0x82F63B78u

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_tables(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ POLY : (c >> 1);
        table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = table[0][n];
        for (int t = 1; t < 8; t++) {
            c = table[0][c & 0xff] ^ (c >> 8);
            table[t][n] = c;
        }
    }
}

// Arithmetic modulo P on reflected polynomials (bit 31 is x^0), as zlib's crc32_combine does it.
static uint32_t multmodp(uint32_t a, uint32_t b) {
    uint32_t m = 1u << 31, prod = 0;
    for (;;) {
        if (a & m) {
            prod ^= b;
            if ((a & (m - 1)) == 0) break;
        }
        m >>= 1;
        b = (b & 1) ? (b >> 1) ^ POLY : b >> 1;
    }
    return prod;
}

/// x^(8 * len) modulo P, by squaring: x^(2^k) for each set bit of 8 * len.
static uint32_t x8nmodp(uint64_t len) {
    uint32_t prod = 1u << 31;     // x^0
    uint32_t x2k = 1u << 23;      // x^8 (bit 31 - 8)
    while (len) {
        if (len & 1) prod = multmodp(x2k, prod);
        x2k = multmodp(x2k, x2k);
        len >>= 1;
    }
    return prod;
}

uint32_t lynx_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b) {
    return multmodp(x8nmodp(len_b), crc_a) ^ crc_b;
}

/// t[k][b] = (b << 8k) * x^(8 * len) mod P: shifting a register over `len` zero bytes, one lookup per byte.
__attribute__((unused))
static void build_shift_table(uint32_t t[4][256], uint64_t len) {
    uint32_t x = x8nmodp(len);
    for (int k = 0; k < 4; k++)
        for (uint32_t b = 0; b < 256; b++) t[k][b] = multmodp(x, b << (8 * k));
}

uint32_t lynx_crc32c_extend_sw(uint32_t crc, const void *data, size_t len) {
    pthread_once(&table_once, build_tables);
    const unsigned char *p = (const unsigned char *)data;
    uint32_t c = ~crc;
    while (len && ((uintptr_t)p & 7)) { c = table[0][(c ^ *p++) & 0xff] ^ (c >> 8); len--; }
    while (len >= 8) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4); memcpy(&hi, p + 4, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        lo = __builtin_bswap32(lo); hi = __builtin_bswap32(hi);
#endif
        lo ^= c;
        c = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24]
          ^ table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^ table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
        p += 8; len -= 8;
    }
    while (len--) c = table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return ~c;
}

#if defined(__x86_64__)
#include <nmmintrin.h>

// Three independent crc32 chains hide the instruction's 3-cycle latency (one chain runs at 8 bytes per 3 cycles,
// three at 8 bytes per cycle). A block of 3 x n bytes is checksummed as three streams, then the first two are
// shifted over the bytes that follow them (multiplied by x^(8n) modulo P, one table lookup per byte of the
// register) and XORed in: CRC registers are linear, so reg(A ++ B) = shift(reg(A), |B|) ^ reg_from_zero(B).
#define LONG_BLOCK 8192
#define SHORT_BLOCK 256
static uint32_t shift_long[4][256], shift_short[4][256];

__attribute__((target("sse4.2")))
static inline uint64_t shift_by(const uint32_t t[4][256], uint64_t c) {
    return t[0][c & 0xff] ^ t[1][(c >> 8) & 0xff] ^ t[2][(c >> 16) & 0xff] ^ t[3][(c >> 24) & 0xff];
}

/// One block of 3 x `block` bytes at p, as three interleaved chains joined by the shift table for `block` bytes.
__attribute__((target("sse4.2"), always_inline))
static inline uint64_t crc3_block(uint64_t c, const unsigned char *p, size_t block, const uint32_t t[4][256]) {
    uint64_t c1 = 0, c2 = 0;
    for (const unsigned char *end = p + block; p < end; p += 8) {
        uint64_t a, b, d;
        memcpy(&a, p, 8); memcpy(&b, p + block, 8); memcpy(&d, p + 2 * block, 8);
        c = _mm_crc32_u64(c, a); c1 = _mm_crc32_u64(c1, b); c2 = _mm_crc32_u64(c2, d);
    }
    c = shift_by(t, c) ^ c1;
    return shift_by(t, c) ^ c2;
}

__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const void *data, size_t len) {
    const unsigned char *p = (const unsigned char *)data;
    uint64_t c = (uint32_t)~crc;
    while (len && ((uintptr_t)p & 7)) { c = _mm_crc32_u8((uint32_t)c, *p++); len--; }
    for (; len >= 3 * LONG_BLOCK; p += 3 * LONG_BLOCK, len -= 3 * LONG_BLOCK) c = crc3_block(c, p, LONG_BLOCK, shift_long);
    for (; len >= 3 * SHORT_BLOCK; p += 3 * SHORT_BLOCK, len -= 3 * SHORT_BLOCK) c = crc3_block(c, p, SHORT_BLOCK, shift_short);
    while (len >= 8) { uint64_t v; memcpy(&v, p, 8); c = _mm_crc32_u64(c, v); p += 8; len -= 8; }
    while (len--) c = _mm_crc32_u8((uint32_t)c, *p++);
    return ~(uint32_t)c;
}

static int hw_state = 0; // 1 when the hardware path is used; set once, before any caller can run

// Runs at program load (before main and before any thread exists), so the flag and the shift tables are read
// without synchronisation afterwards.
__attribute__((constructor))
static void detect(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) {
        build_shift_table(shift_long, LONG_BLOCK);
        build_shift_table(shift_short, SHORT_BLOCK);
        hw_state = 1;
    }
}

uint32_t lynx_crc32c_extend(uint32_t crc, const void *data, size_t len) {
    if (hw_state) return crc32c_hw(crc, data, len);
    return lynx_crc32c_extend_sw(crc, data, len);
}

int lynx_crc32c_hardware(void) { return hw_state; }
#else
uint32_t lynx_crc32c_extend(uint32_t crc, const void *data, size_t len) {
    return lynx_crc32c_extend_sw(crc, data, len);
}
int lynx_crc32c_hardware(void) { return 0; }
#endif
