/* avx512.c — AVX-512 (F, BW, VL) kernels, 16 floats a vector, masked tails; built with its own flags, run only when the CPU has them. */
#include <immintrin.h>
#include <math.h>

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


/* Bytes widened to 32-bit lanes, converted, multiplied and added: 16 a step. */
static void axpy_u8_avx512(float a, const uint8_t *x, float *y, size_t n)
{
    const __m512 va = _mm512_set1_ps(a);
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        for (size_t j = 0; j < 64; j += 16) {
            __m128i b = _mm_loadu_si128((const __m128i *)(x + i + j));
            __m512 xf = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b));
            _mm512_storeu_ps(y + i + j, _mm512_fmadd_ps(va, xf, _mm512_loadu_ps(y + i + j)));
        }
    }
    for (; i + 16 <= n; i += 16) {
        __m128i b = _mm_loadu_si128((const __m128i *)(x + i));
        __m512 xf = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b));
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, xf, _mm512_loadu_ps(y + i)));
    }
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        __m128i b = _mm_maskz_loadu_epi8(m, x + i);
        __m512 xf = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b));
        _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(va, xf, _mm512_maskz_loadu_ps(m, y + i)));
    }
}

const sm_kernel sm_kernel_avx512_ = {
    .name = "avx512",
    .dot = dot_avx512,
    .axpy = axpy_avx512,
    .sparse_dot = sm_sparse_dot_unrolled_,
    .axpy_u8 = axpy_u8_avx512,
};
