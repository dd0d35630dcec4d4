#ifndef LYNX_CLYNXKERNELS_H
#define LYNX_CLYNXKERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// Σ (a[i] − b[i])² with AVX2 + FMA (4 × 8-wide accumulators). Call only when lynx_kernels_avx2() is 1.
float lynx_l2sq_avx2(const float *a, const float *b, long n);

/// Σ a[i]·b[i] with AVX2 + FMA. Call only when lynx_kernels_avx2() is 1.
float lynx_dot_avx2(const float *a, const float *b, long n);

/// 1 when the CPU has AVX2 and FMA and the environment does not say LYNX_KERNELS=sse; 0 otherwise.
int lynx_kernels_avx2(void);

#ifdef __cplusplus
}
#endif

#endif
