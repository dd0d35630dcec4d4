#ifndef LYNX_CLYNXKERNELS_H
#define LYNX_CLYNXKERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Σ (a[i] − b[i])² with AVX2 + FMA (4 × 8-wide accumulators). Call only when lynx_kernels_avx2() is 1.
float lynx_l2sq_avx2(const float *a, const float *b, long n);

/// Σ a[i]·b[i] with AVX2 + FMA. Call only when lynx_kernels_avx2() is 1.
float lynx_dot_avx2(const float *a, const float *b, long n);

/// out[i·ldo + j] = Σ_t q[i·d + t]·x[j·d + t] for i < nq, j < nx: a block of inner products between nq query rows
/// and nx base rows (both row-major, d floats each), register-blocked 4 queries × 3 rows. Any d ≥ 1.
/// Call only when lynx_kernels_avx2() is 1.
void lynx_dot_block_avx2(const float *q, long nq, const float *x, long nx, long d, float *out, long ldo);

/// For j < n, s = term + row_term[j] + products[j]·scale·row_scale[j] (one query's approximate scores over a
/// tile of rows); writes each s < threshold to scores and its j to rows, in increasing j; returns how many
/// (at most n). Call only when lynx_kernels_avx2() is 1.
long lynx_scores_below_avx2(const float *products, const float *row_term, const float *row_scale, long n,
                            float term, float scale, float threshold, float *scores, int *rows);

/// Σ codes[i]·weights[i] in 32-bit integers (8-bit scalar codes against a query's 16-bit weights), with AVX2.
/// Exact as long as no partial sum leaves the int32 range: |weights[i]| ≤ (2³¹ − 1) / (255·n) keeps every one in it.
/// Call only when lynx_kernels_avx2() is 1.
int32_t lynx_dot_u8_i16_avx2(const uint8_t *codes, const int16_t *weights, long n);

/// The same sum, one term at a time (the kernel for CPUs without AVX2, and the reference the tests compare with).
int32_t lynx_dot_u8_i16(const uint8_t *codes, const int16_t *weights, long n);

/// Σ u[i]·weights[i] for 1-bit codes: u[i] is bit (i mod 8) of codes[i / 8] (RaBitQ's sign bits), so the sum is
/// that of the weights whose bit is set. Exact in 32 bits under the same bound as lynx_dot_u8_i16.
/// Call only when lynx_kernels_avx2() is 1.
int32_t lynx_dot_u1_i16_avx2(const uint8_t *codes, const int16_t *weights, long n);

/// The same sum, one term at a time (reference and fallback).
int32_t lynx_dot_u1_i16(const uint8_t *codes, const int16_t *weights, long n);

/// Σ u[i]·weights[i] for 4-bit codes (values 0...15) packed two to a byte in blocks of 32 dimensions: dimension
/// 32k + j is in byte 16k + (j mod 16), in its low nibble when j < 16 and its high nibble when j ≥ 16. A code of n
/// dimensions takes 16·⌊n/32⌋ + min(n mod 32, 16) bytes. Call only when lynx_kernels_avx2() is 1.
int32_t lynx_dot_u4_i16_avx2(const uint8_t *codes, const int16_t *weights, long n);

/// The same sum, one term at a time (reference and fallback).
int32_t lynx_dot_u4_i16(const uint8_t *codes, const int16_t *weights, long n);

/// 1 when the CPU has AVX2 and FMA and the environment does not say LYNX_KERNELS=sse; 0 otherwise.
int lynx_kernels_avx2(void);

/// lynx_kernels_avx2(), evaluated once at program load (a constructor). Read-only after that.
extern int lynx_kernels_avx2_flag;

/// Hint to load the cache line at `p` (no fault on any address; a no-op where the compiler has no prefetch).
static inline void lynx_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

#ifdef __cplusplus
}
#endif

#endif
