// Distance kernels for CPUs with AVX2 and FMA, chosen at run time (the Swift code is built for baseline x86-64,
// whose SIMD types lower to SSE). Same contract as LynxIndex's Distance: no allocation, unaligned loads.
#include "clynxkernels.h"
#include <stdlib.h>
#include <string.h>
#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx2,fma")))
static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma")))
float lynx_l2sq_avx2(const float *a, const float *b, long n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
        __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
        __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
        acc0 = _mm256_fmadd_ps(d0, d0, acc0);
        acc1 = _mm256_fmadd_ps(d1, d1, acc1);
        acc2 = _mm256_fmadd_ps(d2, d2, acc2);
        acc3 = _mm256_fmadd_ps(d3, d3, acc3);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        acc0 = _mm256_fmadd_ps(d, d, acc0);
    }
    float s = hsum256(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    for (; i < n; i++) {
        float d = a[i] - b[i];
        s += d * d;
    }
    return s;
}

__attribute__((target("avx2,fma")))
float lynx_dot_avx2(const float *a, const float *b, long n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
    }
    for (; i + 8 <= n; i += 8) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    }
    float s = hsum256(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

// ---- Blocked inner products for batched exact search ----
// One call computes a block of query × row inner products. The micro-tile is 4 queries × 3 rows: 12 ymm
// accumulators, plus 3 row registers and 1 query register = all 16 ymm registers; per 8 floats of d it does
// 7 loads for 12 FMAs, so it is FMA-bound while the rows come from L2 (the caller tiles the rows so they do).
// A micro-benchmark on the dev machine (Zen 3) measured ~80 GFLOP/s for 4×3 against ~40 for 3×4.
// The last d % 8 floats use masked loads, so any d works. Results differ from lynx_dot_avx2 only by summation
// order (callers that need exact distances re-rank with the single-pair kernels).

__attribute__((target("avx2,fma")))
static inline __m256i tail_mask(long rest) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)rest), lanes);
}

#define LYNX_DOT_TILE(M, N)                                                                                      \
__attribute__((target("avx2,fma")))                                                                             \
static void dot_tile_##M##x##N(const float *q, const float *x, long d, float *out, long ldo) {                  \
    __m256 acc[M][N];                                                                                           \
    for (int i = 0; i < M; i++) for (int j = 0; j < N; j++) acc[i][j] = _mm256_setzero_ps();                    \
    long t = 0;                                                                                                 \
    for (; t + 8 <= d; t += 8) {                                                                                \
        __m256 xv[N];                                                                                           \
        for (int j = 0; j < N; j++) xv[j] = _mm256_loadu_ps(x + j * d + t);                                     \
        for (int i = 0; i < M; i++) {                                                                           \
            __m256 qv = _mm256_loadu_ps(q + i * d + t);                                                         \
            for (int j = 0; j < N; j++) acc[i][j] = _mm256_fmadd_ps(qv, xv[j], acc[i][j]);                      \
        }                                                                                                       \
    }                                                                                                           \
    if (t < d) {                                                                                                \
        __m256i mask = tail_mask(d - t);                                                                        \
        __m256 xv[N];                                                                                           \
        for (int j = 0; j < N; j++) xv[j] = _mm256_maskload_ps(x + j * d + t, mask);                            \
        for (int i = 0; i < M; i++) {                                                                           \
            __m256 qv = _mm256_maskload_ps(q + i * d + t, mask);                                                \
            for (int j = 0; j < N; j++) acc[i][j] = _mm256_fmadd_ps(qv, xv[j], acc[i][j]);                      \
        }                                                                                                       \
    }                                                                                                           \
    for (int i = 0; i < M; i++) for (int j = 0; j < N; j++) out[i * ldo + j] = hsum256(acc[i][j]);              \
}

LYNX_DOT_TILE(4, 3) LYNX_DOT_TILE(4, 2) LYNX_DOT_TILE(4, 1)
LYNX_DOT_TILE(1, 3) LYNX_DOT_TILE(1, 2) LYNX_DOT_TILE(1, 1)

typedef void (*dot_tile_fn)(const float *, const float *, long, float *, long);

// Rows [0, nx) against the 4 (or 1) queries of `tiles`, in steps of 3 rows and then the 1–2 left over.
__attribute__((target("avx2,fma")))
static void dot_rows(const dot_tile_fn tiles[4], const float *q, const float *x, long nx, long d,
                     float *out, long ldo) {
    long j = 0;
    for (; j + 3 <= nx; j += 3) tiles[3](q, x + j * d, d, out + j, ldo);
    if (nx - j > 0) tiles[nx - j](q, x + j * d, d, out + j, ldo);
}

__attribute__((target("avx2,fma")))
void lynx_dot_block_avx2(const float *q, long nq, const float *x, long nx, long d, float *out, long ldo) {
    static const dot_tile_fn four[4] = {0, dot_tile_4x1, dot_tile_4x2, dot_tile_4x3};
    static const dot_tile_fn one[4] = {0, dot_tile_1x1, dot_tile_1x2, dot_tile_1x3};
    long i = 0;
    for (; i + 4 <= nq; i += 4) dot_rows(four, q + i * d, x, nx, d, out + i * ldo, ldo);
    for (; i < nq; i++) dot_rows(one, q + i * d, x, nx, d, out + i * ldo, ldo);
}

// Approximate scores of one query against a tile of rows, keeping only those under the query's threshold: most
// rows of a batched scan are rejected here, 8 per compare, so the caller's top-k bookkeeping sees few rows.
__attribute__((target("avx2,fma")))
long lynx_scores_below_avx2(const float *products, const float *row_term, const float *row_scale, long n,
                            float term, float scale, float threshold, float *scores, int *rows) {
    const __m256 vterm = _mm256_set1_ps(term), vscale = _mm256_set1_ps(scale), vthr = _mm256_set1_ps(threshold);
    long found = 0, j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 p = _mm256_mul_ps(_mm256_loadu_ps(products + j), vscale);
        __m256 s = _mm256_fmadd_ps(p, _mm256_loadu_ps(row_scale + j), _mm256_add_ps(vterm, _mm256_loadu_ps(row_term + j)));
        unsigned mask = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(s, vthr, _CMP_LT_OQ));
        if (!mask) continue;
        float lane[8];
        _mm256_storeu_ps(lane, s);
        while (mask) {
            int b = __builtin_ctz(mask);
            mask &= mask - 1;
            scores[found] = lane[b];
            rows[found++] = (int)(j + b);
        }
    }
    for (; j < n; j++) {
        float s = fmaf(products[j] * scale, row_scale[j], term + row_term[j]);
        if (s < threshold) { scores[found] = s; rows[found++] = (int)j; }
    }
    return found;
}

/// The sum of the eight 32-bit lanes.
__attribute__((target("avx2,fma")))
static inline int32_t hsum256_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

/// Σ codes[i]·weights[i] over 32 codes per step: bytes widened to 16 bits, multiplied pairwise into 32-bit sums
/// (vpmaddwd). The caller bounds the weights so that no 32-bit lane can overflow (`lynx_dot_u8_i16` below).
__attribute__((target("avx2,fma")))
int32_t lynx_dot_u8_i16_avx2(const uint8_t *codes, const int16_t *weights, long n) {
    __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i c0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(codes + i)));
        __m256i c1 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(codes + i + 16)));
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(c0, _mm256_loadu_si256((const __m256i *)(weights + i))));
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(c1, _mm256_loadu_si256((const __m256i *)(weights + i + 16))));
    }
    if (i + 16 <= n) {
        __m256i c0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(codes + i)));
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(c0, _mm256_loadu_si256((const __m256i *)(weights + i))));
        i += 16;
    }
    int32_t sum = hsum256_epi32(_mm256_add_epi32(acc0, acc1));
    for (; i < n; i++) sum += (int32_t)codes[i] * (int32_t)weights[i];
    return sum;
}

/// 16 dimensions a step: the 16 code bits broadcast to every 16-bit lane, each lane keeps its own bit (a compare
/// gives −1 where set), and vpmaddwd of those −1s with the weights subtracts the chosen weights in pairs.
__attribute__((target("avx2,fma")))
int32_t lynx_dot_u1_i16_avx2(const uint8_t *codes, const int16_t *weights, long n) {
    const __m256i lanes = _mm256_setr_epi16(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192,
                                            (short)16384, (short)-32768);
    __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        uint16_t b0, b1;
        memcpy(&b0, codes + i / 8, 2);
        memcpy(&b1, codes + i / 8 + 2, 2);
        __m256i m0 = _mm256_cmpeq_epi16(_mm256_and_si256(_mm256_set1_epi16((short)b0), lanes), lanes);
        __m256i m1 = _mm256_cmpeq_epi16(_mm256_and_si256(_mm256_set1_epi16((short)b1), lanes), lanes);
        acc0 = _mm256_sub_epi32(acc0, _mm256_madd_epi16(m0, _mm256_loadu_si256((const __m256i *)(weights + i))));
        acc1 = _mm256_sub_epi32(acc1, _mm256_madd_epi16(m1, _mm256_loadu_si256((const __m256i *)(weights + i + 16))));
    }
    if (i + 16 <= n) {
        uint16_t b0;
        memcpy(&b0, codes + i / 8, 2);
        __m256i m0 = _mm256_cmpeq_epi16(_mm256_and_si256(_mm256_set1_epi16((short)b0), lanes), lanes);
        acc0 = _mm256_sub_epi32(acc0, _mm256_madd_epi16(m0, _mm256_loadu_si256((const __m256i *)(weights + i))));
        i += 16;
    }
    int32_t sum = hsum256_epi32(_mm256_add_epi32(acc0, acc1));
    for (; i < n; i++) sum += ((codes[i >> 3] >> (i & 7)) & 1) ? (int32_t)weights[i] : 0;
    return sum;
}

/// 32 dimensions a step: 16 bytes give their low nibbles (dimensions 0...15 of the block) and high nibbles
/// (16...31), each widened to 16 bits and multiplied with the weights in pairs (vpmaddwd).
__attribute__((target("avx2,fma")))
int32_t lynx_dot_u4_i16_avx2(const uint8_t *codes, const int16_t *weights, long n) {
    const __m128i low = _mm_set1_epi8(0x0F);
    __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        __m128i v = _mm_loadu_si128((const __m128i *)(codes + i / 2));
        __m256i c0 = _mm256_cvtepu8_epi16(_mm_and_si128(v, low));
        __m256i c1 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(v, 4), low));
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(c0, _mm256_loadu_si256((const __m256i *)(weights + i))));
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(c1, _mm256_loadu_si256((const __m256i *)(weights + i + 16))));
    }
    int32_t sum = hsum256_epi32(_mm256_add_epi32(acc0, acc1));
    // The tail block: at most 31 dimensions, in the same layout.
    const uint8_t *block = codes + i / 2;
    for (long j = 0; i + j < n; j++) {
        uint8_t byte = block[j & 15];
        sum += (int32_t)(j < 16 ? byte & 0x0F : byte >> 4) * (int32_t)weights[i + j];
    }
    return sum;
}

int lynx_kernels_avx2(void) {
    const char *choice = getenv("LYNX_KERNELS");
    if (choice && strcmp(choice, "sse") == 0) return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

#else  // not x86-64: never selected

float lynx_l2sq_avx2(const float *a, const float *b, long n) { (void)a; (void)b; (void)n; abort(); }
float lynx_dot_avx2(const float *a, const float *b, long n) { (void)a; (void)b; (void)n; abort(); }
void lynx_dot_block_avx2(const float *q, long nq, const float *x, long nx, long d, float *out, long ldo) {
    (void)q; (void)nq; (void)x; (void)nx; (void)d; (void)out; (void)ldo; abort();
}
long lynx_scores_below_avx2(const float *products, const float *row_term, const float *row_scale, long n,
                            float term, float scale, float threshold, float *scores, int *rows) {
    (void)products; (void)row_term; (void)row_scale; (void)n; (void)term; (void)scale; (void)threshold;
    (void)scores; (void)rows; abort();
}
int32_t lynx_dot_u8_i16_avx2(const uint8_t *codes, const int16_t *weights, long n) {
    (void)codes; (void)weights; (void)n; abort();
}
int32_t lynx_dot_u1_i16_avx2(const uint8_t *codes, const int16_t *weights, long n) {
    (void)codes; (void)weights; (void)n; abort();
}
int32_t lynx_dot_u4_i16_avx2(const uint8_t *codes, const int16_t *weights, long n) {
    (void)codes; (void)weights; (void)n; abort();
}
int lynx_kernels_avx2(void) { return 0; }

#endif

int32_t lynx_dot_u8_i16(const uint8_t *codes, const int16_t *weights, long n) {
    int32_t sum = 0;
    for (long i = 0; i < n; i++) sum += (int32_t)codes[i] * (int32_t)weights[i];
    return sum;
}

int32_t lynx_dot_u1_i16(const uint8_t *codes, const int16_t *weights, long n) {
    int32_t sum = 0;
    for (long i = 0; i < n; i++) sum += (int32_t)((codes[i / 8] >> (i % 8)) & 1) * (int32_t)weights[i];
    return sum;
}

int32_t lynx_dot_u4_i16(const uint8_t *codes, const int16_t *weights, long n) {
    int32_t sum = 0;
    for (long i = 0; i < n; i++) {
        long j = i % 32;
        uint8_t byte = codes[16 * (i / 32) + j % 16];
        sum += (int32_t)(j < 16 ? byte & 0x0F : byte >> 4) * (int32_t)weights[i];
    }
    return sum;
}

/// lynx_kernels_avx2(), computed once when the program loads: a plain global that Swift reads without the
/// lazy-initialisation check a Swift `static let` costs on every distance call.
int lynx_kernels_avx2_flag = 0;

__attribute__((constructor)) static void lynx_kernels_init(void) {
    lynx_kernels_avx2_flag = lynx_kernels_avx2();
}
