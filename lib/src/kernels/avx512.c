/* avx512.c — AVX-512 (F, BW, VL) kernels, 16 floats a vector, masked tails; built with its own flags, run only when the CPU has them. */
#include <immintrin.h>

#include "kernels.h"

/* Lanes [0, r) of a 16-lane mask, r < 16. Masked loads do not fault on the lanes
 * left out, so tails read nothing past the end of the arrays. */
static inline __mmask16 tail_mask(size_t r)
{
    return (__mmask16)((1u << r) - 1u);
}

/* Four independent accumulators: with two loads per FMA the loop runs about one
 * FMA a cycle, and four chains cover the 4-cycle FMA latency. */
static float dot_avx512(const float *a, const float *b, size_t n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
    }
    for (; i + 16 <= n; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

static void axpy_avx512(float a, const float *x, float *y, size_t n)
{
    const __m512 va = _mm512_set1_ps(a);
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 y0 = _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i));
        __m512 y1 = _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16));
        __m512 y2 = _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i + 32), _mm512_loadu_ps(y + i + 32));
        __m512 y3 = _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i + 48), _mm512_loadu_ps(y + i + 48));
        _mm512_storeu_ps(y + i, y0);
        _mm512_storeu_ps(y + i + 16, y1);
        _mm512_storeu_ps(y + i + 32, y2);
        _mm512_storeu_ps(y + i + 48, y3);
    }
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        __m512 yv = _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i));
        _mm512_mask_storeu_ps(y + i, m, yv);
    }
}

/* idx and val are uint16: zero-extend (values above 32767 are valid) to int32
 * lanes and gather with a 4-byte scale; the tail loads 16-bit lanes under a mask
 * (AVX-512BW + VL) and gathers under the same mask. */
static float sparse_dot_avx512(const float *dense, const uint16_t *idx, const uint16_t *val,
                               const float *table, size_t n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512i i0 = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(idx + i)));
        __m512i v0 = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(val + i)));
        __m512i i1 = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(idx + i + 16)));
        __m512i v1 = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(val + i + 16)));
        s0 = _mm512_fmadd_ps(_mm512_i32gather_ps(i0, dense, 4), _mm512_i32gather_ps(v0, table, 4), s0);
        s1 = _mm512_fmadd_ps(_mm512_i32gather_ps(i1, dense, 4), _mm512_i32gather_ps(v1, table, 4), s1);
    }
    for (; i + 16 <= n; i += 16) {
        __m512i i0 = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(idx + i)));
        __m512i v0 = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(val + i)));
        s0 = _mm512_fmadd_ps(_mm512_i32gather_ps(i0, dense, 4), _mm512_i32gather_ps(v0, table, 4), s0);
    }
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        __m512i i0 = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, idx + i));
        __m512i v0 = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, val + i));
        __m512 d = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, i0, dense, 4);
        __m512 t = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, v0, table, 4);
        s1 = _mm512_fmadd_ps(d, t, s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

const sm_kernel sm_kernel_avx512_ = {
    .name = "avx512",
    .dot = dot_avx512,
    .axpy = axpy_avx512,
    .sparse_dot = sparse_dot_avx512,
};
