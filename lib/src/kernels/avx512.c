/* avx512.c — AVX-512 (F, BW, VL) kernels, 16 floats a vector, masked tails; built with its own flags, run only when the CPU has them. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

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


/* Four rows of bytes, 16 a step: y is read and written once for the four (it is the
 * search's block bounds, larger than the L1 cache at 100k spectra and more). */
static void axpy4_u8_avx512(const float a[4], const uint8_t *const x[4], float *y, size_t n)
{
    const __m512 a0 = _mm512_set1_ps(a[0]), a1 = _mm512_set1_ps(a[1]);
    const __m512 a2 = _mm512_set1_ps(a[2]), a3 = _mm512_set1_ps(a[3]);
    const uint8_t *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(y + i);
        v = _mm512_fmadd_ps(a0, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(
                                    _mm_loadu_si128((const __m128i *)(x0 + i)))), v);
        v = _mm512_fmadd_ps(a1, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(
                                    _mm_loadu_si128((const __m128i *)(x1 + i)))), v);
        v = _mm512_fmadd_ps(a2, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(
                                    _mm_loadu_si128((const __m128i *)(x2 + i)))), v);
        v = _mm512_fmadd_ps(a3, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(
                                    _mm_loadu_si128((const __m128i *)(x3 + i)))), v);
        _mm512_storeu_ps(y + i, v);
    }
    for (; i < n; i++)
        y[i] = fmaf(a[3], (float)x3[i],
                    fmaf(a[2], (float)x2[i], fmaf(a[1], (float)x1[i], fmaf(a[0], (float)x0[i], y[i]))));
}

/* Eight rows, 16 a step: y read and written once for the eight. */
static void axpy8_u8_avx512(const float a[8], const uint8_t *const x[8], float *y, size_t n)
{
    __m512 va[8];
    for (unsigned r = 0; r < 8; r++)
        va[r] = _mm512_set1_ps(a[r]);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        if ((i & 63) == 0) /* eight streams at once: the rows asked for 512 bytes ahead */
            for (unsigned r = 0; r < 8; r++)
                _mm_prefetch((const char *)(x[r] + i + 512), _MM_HINT_T0);
        __m512 v0 = _mm512_loadu_ps(y + i), v1 = _mm512_setzero_ps();
        for (unsigned r = 0; r < 8; r += 2) {
            v0 = _mm512_fmadd_ps(va[r], _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(
                                            _mm_loadu_si128((const __m128i *)(x[r] + i)))), v0);
            v1 = _mm512_fmadd_ps(va[r + 1], _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(
                                                _mm_loadu_si128((const __m128i *)(x[r + 1] + i)))),
                                 v1);
        }
        _mm512_storeu_ps(y + i, _mm512_add_ps(v0, v1));
    }
    for (; i < n; i++) {
        float v = y[i];
        for (unsigned r = 0; r < 8; r++)
            v = fmaf(a[r], (float)x[r][i], v);
        y[i] = v;
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

/* The sixteen unsigned 32-bit lanes added up, without overflow. */
static inline uint64_t sum_lanes(__m512i v)
{
    __m512i lo = _mm512_cvtepu32_epi64(_mm512_castsi512_si256(v));
    __m512i hi = _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(v, 1));
    return (uint64_t)_mm512_reduce_add_epi64(_mm512_add_epi64(lo, hi));
}

/* bound_sums, 16 peaks a step with gathers. Each lane's predecessor is the lane
 * below it, lane 0's the last lane of the step before (carried over). Per-lane
 * sums of m * val stay below 2^31: at most 2,048 peaks, so 128 steps of
 * m * val <= 2,000 * 999 each. */
static void bound_sums_avx512(const uint32_t *word, const uint16_t *mz, const uint16_t *val,
                              size_t n, unsigned lo, sm_bound_sums *out)
{
    if (n > 2048) {
        sm_bound_sums_scalar_(word, mz, val, n, lo, out);
        return;
    }
    const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi32(1);
    const __m512i vlo = _mm512_set1_epi32((int)lo), low16 = _mm512_set1_epi32(0xffff);
    __m512 dot = _mm512_setzero_ps(), t2_num = _mm512_setzero_ps();
    __m512i below = zero, t2_den = zero;
    __m512i carry_cnt = zero, carry_a = zero, carry_b = zero;
    __mmask16 carry_ok = 0, carry_common = 0;
    uint32_t n1 = 0, n2 = 0;
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : tail_mask(n - i);
        __m512i m = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, mz + i));
        __m512i b = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, val + i));
        __m512i w = _mm512_mask_i32gather_epi32(zero, k, m, (const int *)word, 4);
        __m512i a = _mm512_and_si512(w, low16);
        /* m sqrt(a b) for dense[m] sqrt(b): one square root, no second gather */
        __m512 ab = _mm512_cvtepi32_ps(_mm512_mullo_epi32(a, b));
        dot = _mm512_fmadd_ps(_mm512_cvtepi32_ps(m), _mm512_sqrt_ps(ab), dot);
        __mmask16 a_gt1 = _mm512_mask_cmpgt_epu32_mask(k, a, one);
        /* the count at m - 1: the one at m less the peak at m */
        __m512i cnt = _mm512_srli_epi32(w, 16);
        __m512i cnt_m1 = _mm512_mask_sub_epi32(cnt, a_gt1, cnt, one);
        __mmask16 b_gt1 = _mm512_mask_cmpgt_epu32_mask(k, b, one);
        __mmask16 below_lo = _mm512_mask_cmplt_epu32_mask(k, m, vlo);
        below = _mm512_mask_add_epi32(below, (__mmask16)(below_lo & b_gt1), below,
                                      _mm512_mullo_epi32(m, b));
        __mmask16 a_pos = _mm512_mask_cmpgt_epu32_mask(k, a, zero);
        __mmask16 common = (__mmask16)(a_pos & (a_gt1 | b_gt1));
        __mmask16 ok = (__mmask16)(k & ~below_lo & ~(~a_pos & b_gt1));
        __mmask16 prev_ok = (__mmask16)((ok << 1) | carry_ok);
        __mmask16 prev_common = (__mmask16)((common << 1) | carry_common);
        __m512i prev_cnt = _mm512_alignr_epi32(cnt, carry_cnt, 15);
        __mmask16 link = (__mmask16)(common & prev_ok &
                                     _mm512_cmpeq_epu32_mask(cnt_m1, prev_cnt));
        /* term 2: sqrt(min/max) of the cross products where the predecessor is common */
        __mmask16 sure = (__mmask16)(link & prev_common);
        __m512i prev_a = _mm512_alignr_epi32(a, carry_a, 15);
        __m512i prev_b = _mm512_alignr_epi32(b, carry_b, 15);
        __m512 x1 = _mm512_cvtepi32_ps(_mm512_mullo_epi32(a, prev_b));
        __m512 x2 = _mm512_cvtepi32_ps(_mm512_mullo_epi32(prev_a, b));
        __m512 v = _mm512_sqrt_ps(
            _mm512_maskz_div_ps(sure, _mm512_min_ps(x1, x2), _mm512_max_ps(x1, x2)));
        __m512 mf = _mm512_cvtepi32_ps(m);
        __m512 term = _mm512_mask_mul_ps(mf, sure, mf, v); /* m v, or m where unsure */
        t2_num = _mm512_mask_add_ps(t2_num, link, t2_num, term);
        t2_den = _mm512_mask_add_epi32(t2_den, link, t2_den, m);
        n1 += (uint32_t)__builtin_popcount(common);
        n2 += (uint32_t)__builtin_popcount(link);
        carry_ok = (__mmask16)((ok >> 15) & 1);
        carry_common = (__mmask16)((common >> 15) & 1);
        carry_cnt = cnt;
        carry_a = a;
        carry_b = b;
    }
    out->dot = _mm512_reduce_add_ps(dot);
    out->t2_num = _mm512_reduce_add_ps(t2_num);
    out->below = sum_lanes(below);
    out->t2_den = sum_lanes(t2_den);
    out->n1 = n1;
    out->n2 = n2;
}

/* 16 words a step: steps from the words, an inclusive prefix sum across the lanes
 * (four shifted adds) on top of the m/z so far, then the peak lanes (intensity not 0)
 * compressed to the front and stored as 16-bit values, exactly as many as there are. */
static size_t unpack_avx512(const uint16_t *w, size_t nw, uint16_t *mz, uint16_t *in)
{
    const __m512i int_mask = _mm512_set1_epi32((int)SM_PACK_INT_MASK);
    const __m512i one = _mm512_set1_epi32(1), zero = _mm512_setzero_si512();
    const __m512i last = _mm512_set1_epi32(15);
    __m512i carry = _mm512_set1_epi32(-1);
    size_t n = 0;
    for (size_t j = 0; j < nw; j += 16) {
        __mmask16 valid = nw - j >= 16 ? (__mmask16)0xFFFF : tail_mask(nw - j);
        __m512i x = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(valid, w + j));
        __m512i i = _mm512_and_si512(x, int_mask);
        __m512i d = _mm512_add_epi32(_mm512_srli_epi32(x, 10), one);
        __mmask16 peak = _mm512_mask_test_epi32_mask(valid, x, int_mask);
        __m512i step = _mm512_maskz_mov_epi32(valid, _mm512_mask_blend_epi32(
                                                         peak, _mm512_slli_epi32(d, 6), d));
        step = _mm512_add_epi32(step, _mm512_alignr_epi32(step, zero, 15));
        step = _mm512_add_epi32(step, _mm512_alignr_epi32(step, zero, 14));
        step = _mm512_add_epi32(step, _mm512_alignr_epi32(step, zero, 12));
        step = _mm512_add_epi32(step, _mm512_alignr_epi32(step, zero, 8));
        __m512i m = _mm512_add_epi32(step, carry);
        carry = _mm512_permutexvar_epi32(last, m);
        if (peak == valid) { /* no escape word: nothing to compress */
            _mm256_mask_storeu_epi16(mz + n, valid, _mm512_cvtepi32_epi16(m));
            _mm256_mask_storeu_epi16(in + n, valid, _mm512_cvtepi32_epi16(i));
            n += nw - j >= 16 ? 16 : nw - j;
            continue;
        }
        unsigned k = (unsigned)__builtin_popcount(peak);
        __mmask16 out = k == 16 ? (__mmask16)0xFFFF : tail_mask(k);
        _mm256_mask_storeu_epi16(mz + n, out,
                                 _mm512_cvtepi32_epi16(_mm512_maskz_compress_epi32(peak, m)));
        _mm256_mask_storeu_epi16(in + n, out,
                                 _mm512_cvtepi32_epi16(_mm512_maskz_compress_epi32(peak, i)));
        n += k;
    }
    return n;
}

/* sketch_links: 128 code bytes a step (16 entries of 8 spectra, or 32 of 4). Each
 * entry's class for the query (its word gathered: intensity above 1, 1 or 0, and a
 * gap, a query peak above 1 no entry has since the entry before) is laid over the
 * entry's bytes; with the codes' own (not 0, above 8) that gives, a bit a code, the
 * peaks in common h and those that let a chain run on k (neither a break nor a gap)
 * for the walk of the scalar kernel, prev_j = h_j | (prev_j-1 & k_j), here a doubling
 * scan of 128-bit masks, the last entry's carried to the next step. The counts add
 * up in byte lanes, flushed before they can wrap. */
__extension__ typedef unsigned __int128 sm_u128;

#define LINK_CHUNK 256
enum { CLS_GT1 = 1, CLS_ONE = 2, CLS_NONE = 4, CLS_GAP = 8 };

/* c[s] += the bytes p of a and b (positions p and 64 + p) with p % lanes == s */
static inline void add_columns(__m512i a, __m512i b, unsigned lanes, uint32_t *c)
{
    __m512i s0 = _mm512_add_epi16(_mm512_cvtepu8_epi16(_mm512_castsi512_si256(a)),
                                  _mm512_cvtepu8_epi16(_mm512_castsi512_si256(b)));
    __m512i s1 = _mm512_add_epi16(_mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(a, 1)),
                                  _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(b, 1)));
    __m512i t = _mm512_add_epi16(s0, s1); /* word i: the positions == i mod 32 */
    __m256i u = _mm256_add_epi16(_mm512_castsi512_si256(t), _mm512_extracti64x4_epi64(t, 1));
    __m128i v = _mm_add_epi16(_mm256_castsi256_si128(u), _mm256_extracti128_si256(u, 1));
    uint16_t sum[8];
    _mm_storeu_si128((__m128i *)sum, v); /* word i: the positions == i mod 8 */
    for (unsigned s = 0; s < lanes; s++)
        c[s] += (uint32_t)sum[s] + (lanes == 4 ? sum[s + 4] : 0u);
}

/* The classes of entries e0 .. e0 + n into cls[0 .. n), a byte each (n <= LINK_CHUNK):
 * the entries' words gathered into wd[1 ..] first, wd[0] holding the word of the entry
 * before (its count only matters), then the classes from the words in place, so that
 * no gather waits on another step. wd[n] is left as the next chunk's wd[0]. */
static inline void link_classes(const uint32_t *word, const uint16_t *mz, size_t e0, size_t n,
                                uint32_t *wd, uint8_t *cls)
{
    const __m512i one = _mm512_set1_epi32(1), low16 = _mm512_set1_epi32(0xFFFF);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 valid = n - i >= 16 ? (__mmask16)0xFFFF : tail_mask(n - i);
        __m512i m = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(valid, mz + e0 + i));
        _mm512_mask_storeu_epi32(wd + 1 + i, valid,
                                 _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), valid, m,
                                                             (const int *)word, 4));
    }
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 valid = n - i >= 16 ? (__mmask16)0xFFFF : tail_mask(n - i);
        __m512i w = _mm512_maskz_loadu_epi32(valid, wd + 1 + i);
        __m512i before = _mm512_srli_epi32(_mm512_maskz_loadu_epi32(valid, wd + i), 16);
        __m512i a = _mm512_and_si512(w, low16), cnt = _mm512_srli_epi32(w, 16);
        __mmask16 gt1 = _mm512_mask_cmpgt_epu32_mask(valid, a, one);
        __mmask16 eq1 = _mm512_mask_cmpeq_epi32_mask(valid, a, one);
        __mmask16 none = _mm512_mask_testn_epi32_mask(valid, a, a);
        __m512i clt = _mm512_mask_sub_epi32(cnt, gt1, cnt, one);
        __mmask16 gap = _mm512_mask_cmpneq_epi32_mask(valid, clt, before);
        __m512i c = _mm512_or_si512(
            _mm512_or_si512(_mm512_maskz_mov_epi32(gt1, _mm512_set1_epi32(CLS_GT1)),
                            _mm512_maskz_mov_epi32(eq1, _mm512_set1_epi32(CLS_ONE))),
            _mm512_or_si512(_mm512_maskz_mov_epi32(none, _mm512_set1_epi32(CLS_NONE)),
                            _mm512_maskz_mov_epi32(gap, _mm512_set1_epi32(CLS_GAP))));
        _mm_storeu_si128((__m128i *)(cls + i), _mm512_cvtepi32_epi8(c));
    }
}

/* Of 64 code bytes c and their entries' classes qc (over the same bytes): the codes
 * in common (h), those a chain runs on through (k: no break, no gap) and the gaps. */
static inline void link_masks(__m512i c, __m512i qc, __mmask64 *h, __mmask64 *k, __mmask64 *g)
{
    const __m512i v8 = _mm512_set1_epi8(8);
    __mmask64 nz = _mm512_test_epi8_mask(c, c), gt8 = _mm512_cmpgt_epu8_mask(c, v8);
    __mmask64 g1 = _mm512_test_epi8_mask(qc, _mm512_set1_epi8(CLS_GT1));
    __mmask64 e1 = _mm512_test_epi8_mask(qc, _mm512_set1_epi8(CLS_ONE));
    __mmask64 z0 = _mm512_test_epi8_mask(qc, _mm512_set1_epi8(CLS_NONE));
    *g = _mm512_test_epi8_mask(qc, v8);
    *h = (g1 & nz) | (e1 & gt8);
    *k = ~((g1 & ~nz) | (z0 & gt8) | *g);
}

static void sketch_links_avx512(const uint32_t *word, const uint16_t *mz, const uint8_t *val,
                                size_t n, unsigned lanes, uint32_t *n1, uint32_t *n2)
{
    const unsigned L = lanes == 8 ? 8 : 4, G = 128 / L;
    /* byte 0 of each qword (8 lanes) or dword (4) over all of its bytes */
    const __m512i spread = L == 8 ? _mm512_set4_epi64(0x0808080808080808LL, 0,
                                                      0x0808080808080808LL, 0)
                                  : _mm512_set4_epi32(0x0C0C0C0C, 0x08080808, 0x04040404, 0);
    __m512i c1a = _mm512_setzero_si512(), c1b = c1a, c2a = c1a, c2b = c1a;
    uint32_t out1[8] = {0}, out2[8] = {0};
    unsigned since_flush = 0;
    uint32_t wd[LINK_CHUNK + 16];
    wd[0] = 0; /* before the first entry: no query peak above 1 counted */
    __m128i carry8 = _mm_setzero_si128(); /* 8 lanes: the last entry's prev in byte 0 */
    sm_u128 carry = 0;                    /* 4 lanes: in the low 4 bits */
    _Alignas(64) uint8_t cls[LINK_CHUNK + 64];
    for (size_t c0 = 0; c0 < n; c0 += LINK_CHUNK) {
        size_t c1 = n - c0 > LINK_CHUNK ? c0 + LINK_CHUNK : n;
        link_classes(word, mz, c0, c1 - c0, wd, cls);
        wd[0] = wd[c1 - c0];
        memset(cls + (c1 - c0), 0, 64); /* past n: no class, nothing in common, no break */
        for (size_t e0 = c0; e0 < c1; e0 += G) {
            const uint8_t *ce = cls + (e0 - c0);
            __m512i q[2];
            if (L == 8) {
                q[0] = _mm512_cvtepu8_epi64(_mm_loadl_epi64((const __m128i *)ce));
                q[1] = _mm512_cvtepu8_epi64(_mm_loadl_epi64((const __m128i *)(ce + 8)));
            } else {
                q[0] = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)ce));
                q[1] = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(ce + 16)));
            }
            __mmask64 hm[2], km[2], gm[2];
            for (unsigned h = 0; h < 2; h++)
                link_masks(_mm512_loadu_si512(val + e0 * L + 64 * (size_t)h),
                           _mm512_shuffle_epi8(q[h], spread), &hm[h], &km[h], &gm[h]);
            __mmask64 l0, l1;
            if (L == 8) { /* the scan a byte (an entry) at a time in one vector */
                __m128i H = _mm_set_epi64x((long long)hm[1], (long long)hm[0]);
                __m128i K = _mm_set_epi64x((long long)km[1], (long long)km[0]);
                const __m128i common = H;
                const __m128i ones = _mm_set1_epi8(-1);
#define LINK_SCAN(B)                                                                               \
    H = _mm_or_si128(H, _mm_and_si128(_mm_bslli_si128(H, B), K));                                  \
    K = _mm_and_si128(K, _mm_or_si128(_mm_bslli_si128(K, B), _mm_bsrli_si128(ones, 16 - (B))))
                LINK_SCAN(1);
                LINK_SCAN(2);
                LINK_SCAN(4);
                LINK_SCAN(8);
#undef LINK_SCAN
                __m128i prev = _mm_or_si128(H, _mm_and_si128(_mm_broadcastb_epi8(carry8), K));
                __m128i link = _mm_andnot_si128(
                    _mm_set_epi64x((long long)gm[1], (long long)gm[0]),
                    _mm_and_si128(common, _mm_or_si128(_mm_bslli_si128(prev, 1), carry8)));
                carry8 = _mm_bsrli_si128(prev, 15);
                l0 = (__mmask64)_mm_cvtsi128_si64(link);
                l1 = (__mmask64)_mm_extract_epi64(link, 1);
            } else { /* four bits an entry: in a 128-bit integer */
                const sm_u128 rep = ((sm_u128)0x1111111111111111ULL << 64) | 0x1111111111111111ULL;
                const sm_u128 common = (sm_u128)hm[0] | (sm_u128)hm[1] << 64;
                sm_u128 H = common, K = (sm_u128)km[0] | (sm_u128)km[1] << 64;
                for (unsigned d = 4; d < 128; d *= 2) {
                    H |= (H << d) & K;
                    K &= (K << d) | (((sm_u128)1 << d) - 1);
                }
                sm_u128 prev = H | (carry * rep & K);
                sm_u128 link = common & ((prev << 4) | carry) &
                               ~((sm_u128)gm[0] | (sm_u128)gm[1] << 64);
                carry = prev >> 124;
                l0 = (__mmask64)link;
                l1 = (__mmask64)(link >> 64);
            }
            c1a = _mm512_sub_epi8(c1a, _mm512_movm_epi8(hm[0]));
            c1b = _mm512_sub_epi8(c1b, _mm512_movm_epi8(hm[1]));
            c2a = _mm512_sub_epi8(c2a, _mm512_movm_epi8(l0));
            c2b = _mm512_sub_epi8(c2b, _mm512_movm_epi8(l1));
            if (++since_flush == 255) {
                add_columns(c1a, c1b, L, out1);
                add_columns(c2a, c2b, L, out2);
                c1a = c1b = c2a = c2b = _mm512_setzero_si512();
                since_flush = 0;
            }
        }
    }
    add_columns(c1a, c1b, L, out1);
    add_columns(c2a, c2b, L, out2);
    for (unsigned s = 0; s < L; s++) {
        n1[s] = out1[s];
        n2[s] = out2[s];
    }
}

/* group_sums walks the peaks in chunks: a vector pass first lays out, per peak,
 * what every lane compares with or adds (so that the walk broadcasts each from
 * memory and never branches on the data), then the walk itself. */
#define GROUP_CHUNK 256
enum { PRE_MZ, PRE_MSB, PRE_K, PRE_COMMON, PRE_LINK, PRE_BELOW, PRE_N };

/* One peak of group_sums (j: the peak, c: its place in the chunk), its state in the
 * registers suffixed X, the previous peak's in those suffixed Y (the walk takes two
 * peaks a round, so that no state is copied); LOW: m/z may be under some lane's
 * first (the walk's first peaks only), where `below` grows and links may not start.
 * With the query's sa = sqrt(a) (0 where it has no peak):
 *  - common (in n1, may take a ratio) when sa > 0 for a library peak above 1, and
 *    when sa > 1 (a above 1) for one of intensity 1: sa > pre[PRE_COMMON];
 *  - the next peak may link to this one unless this one breaks the chain, a
 *    library-only peak above 1 (sa = 0 with b > 1): sa > pre[PRE_LINK], -1 for b <= 1.
 * A link also needs the query's count of peaks above 1 before m (lt) to equal its
 * count up to the previous peak's m/z (le there). Where the previous peak is common
 * the term is m min(p, q) / max(p, q), p = sa K with K = sqrt(b_prev) / sqrt(b) and
 * q = the previous sa (the quotient of kernels.h, both sides over sqrt(b)), else m;
 * dot adds sa m sqrt(b); nd adds 2^21 + m a link (n2 above, t2_den below). */
#define GROUP_STEP(LOW, X, Y)                                                             \
    do {                                                                                   \
        size_t o = (size_t)mz[j] * SM_GROUP;                                               \
        __m256i lt = _mm256_load_si256((const __m256i *)(g->lt + o));                      \
        le##X = _mm256_load_si256((const __m256i *)(g->le + o));                           \
        sa##X = _mm512_load_ps(g->sa + o);                                                 \
        dot##X = _mm512_fmadd_ps(sa##X, _mm512_set1_ps(pre[PRE_MSB][c]), dot##X);          \
        common##X = _mm512_cmp_ps_mask(sa##X, _mm512_set1_ps(pre[PRE_COMMON][c]), _CMP_GT_OQ); \
        ok##X = _mm512_cmp_ps_mask(sa##X, _mm512_set1_ps(pre[PRE_LINK][c]), _CMP_GT_OQ);    \
        if (LOW) {                                                                         \
            __mmask16 ge = _mm512_cmp_ps_mask(_mm512_set1_ps(pre[PRE_MZ][c]), firstf,      \
                                              _CMP_GE_OQ);                                 \
            below = _mm512_mask_add_ps(below, (__mmask16)~ge, below,                       \
                                       _mm512_set1_ps(pre[PRE_BELOW][c]));                 \
            ok##X = (__mmask16)(ok##X & ge);                                               \
        }                                                                                  \
        n1 = _mm512_mask_add_epi32(n1, common##X, n1, one);                                \
        __mmask16 link = _mm256_mask_cmpeq_epi16_mask((__mmask16)(common##X & ok##Y), lt,  \
                                                      le##Y);                              \
        __mmask16 sure = (__mmask16)(link & common##Y);                                    \
        __m512 p = _mm512_mul_ps(sa##X, _mm512_set1_ps(pre[PRE_K][c]));                    \
        __m512 v = _mm512_mask_mul_ps(onef, sure, _mm512_min_ps(p, sa##Y),                 \
                                      _mm512_rcp14_ps(_mm512_max_ps(p, sa##Y)));           \
        t2##X = _mm512_mask3_fmadd_ps(v, _mm512_set1_ps(pre[PRE_MZ][c]), t2##X, link);     \
        nd = _mm512_mask_add_epi32(nd, link, nd, _mm512_set1_epi32(nd_add[c]));            \
    } while (0)
#define GROUP_KEEP() /* a single step's state where the next step looks for it */         \
    do {                                                                                   \
        sa1 = sa0;                                                                         \
        le1 = le0;                                                                         \
        ok1 = ok0;                                                                         \
        common1 = common0;                                                                 \
    } while (0)

/* group_sums: a lane a query, one library peak a step, no gathers: each table holds
 * the group's 16 values of an m/z in a cache line (sa) or half of one (lt, le). Term
 * 2's quotient is a reciprocal estimate (relative error below 2^-14; kernels.h); the
 * sums of term 2's counts are exact in the 32-bit lanes of nd for at most 1,024
 * peaks below m/z 2,048 (the scalar kernel's otherwise). Even and odd peaks add to
 * their own float sums, which halves the chains of dependent additions. Measured on
 * the real spectra (16 of the benchmark's hardest queries against 40,000 spectra of
 * the 100k library, 66 peaks on average): 175 ns a spectrum with the word and bw
 * tables of the other kernels, a ratio from two products and separate counts; 159
 * ns so. The float estimate of the bounds at the end is sm_group_sums_scalar_'s,
 * lane for lane. */
static unsigned group_sums_avx512(const sm_group_tab *g, const uint16_t *mz,
                                  const uint16_t *val, size_t n, double norm,
                                  sm_group_sums *out)
{
    if (n > 1024 || (n > 0 && mz[n - 1] >= 2048))
        return sm_group_sums_scalar_(g, mz, val, n, norm, out);
    const __m512i one = _mm512_set1_epi32(1);
    const __m512 onef = _mm512_set1_ps(1.0f);
    const __m512i first = _mm512_loadu_si512(g->first);
    const __m512 firstf = _mm512_cvtepi32_ps(first);
    __m512 dot0 = _mm512_setzero_ps(), t20 = _mm512_setzero_ps();
    __m512 dot1 = _mm512_setzero_ps(), t21 = _mm512_setzero_ps();
    __m512 below = _mm512_setzero_ps();
    __m512i n1 = _mm512_setzero_si512(), nd = _mm512_setzero_si512();
    __m256i le0 = _mm256_setzero_si256(), le1 = _mm256_setzero_si256();
    __m512 sa0 = _mm512_setzero_ps(), sa1 = _mm512_setzero_ps();
    __mmask16 ok0 = 0, ok1 = 0, common0 = 0, common1 = 0;
    unsigned max_first = _mm512_reduce_max_epu32(first);
    _Alignas(64) float pre[PRE_N][GROUP_CHUNK];
    _Alignas(64) int32_t nd_add[GROUP_CHUNK]; /* 2^21 + m: what a link adds to nd */
    __m512 carry_sb = _mm512_setzero_ps();
    for (size_t j0 = 0; j0 < n; j0 += GROUP_CHUNK) {
        size_t j1 = n - j0 > GROUP_CHUNK ? j0 + GROUP_CHUNK : n;
        for (size_t j = j0; j < j1; j += 16) {
            __mmask16 valid = j1 - j >= 16 ? (__mmask16)0xFFFF : tail_mask(j1 - j);
            __m512i mi = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(valid, mz + j));
            __m512 m = _mm512_cvtepi32_ps(mi);
            __m512i bi = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(valid, val + j));
            __m512 b = _mm512_cvtepi32_ps(bi);
            /* sqrt(b), 1 in the lanes past the end */
            __m512 sb = _mm512_sqrt_ps(_mm512_mask_mov_ps(onef, valid, b));
            /* the previous peak's: this vector moved up a lane, the last one carried */
            __m512 sbp = _mm512_castsi512_ps(_mm512_alignr_epi32(
                _mm512_castps_si512(sb), _mm512_castps_si512(carry_sb), 15));
            carry_sb = sb;
            /* K = sbp / sb: the reciprocal estimate and a Newton step (~2^-27) */
            __m512 rc = _mm512_rcp14_ps(sb);
            rc = _mm512_fmadd_ps(_mm512_fnmadd_ps(sb, rc, onef), rc, rc);
            __mmask16 gt1 = _mm512_cmpgt_epu32_mask(bi, one);
            size_t c = j - j0;
            _mm512_store_ps(pre[PRE_MZ] + c, m);
            _mm512_store_ps(pre[PRE_MSB] + c, _mm512_mul_ps(m, sb));
            _mm512_store_ps(pre[PRE_K] + c, _mm512_mul_ps(sbp, rc));
            _mm512_store_ps(pre[PRE_BELOW] + c, _mm512_maskz_mul_ps(gt1, m, b));
            _mm512_store_ps(pre[PRE_COMMON] + c,
                            _mm512_mask_blend_ps(gt1, onef, _mm512_setzero_ps()));
            _mm512_store_ps(pre[PRE_LINK] + c, _mm512_mask_blend_ps(gt1, _mm512_set1_ps(-1.0f),
                                                                    _mm512_setzero_ps()));
            _mm512_store_si512(nd_add + c, _mm512_add_epi32(mi, _mm512_set1_epi32(1 << 21)));
        }
        size_t j = j0;
        for (; j + 2 <= j1 && mz[j + 1] < max_first; j++) {
            size_t c = j - j0;
            GROUP_STEP(1, 0, 1);
            j++;
            c++;
            GROUP_STEP(1, 1, 0);
        }
        for (; j < j1 && mz[j] < max_first; j++) {
            size_t c = j - j0;
            GROUP_STEP(1, 0, 1);
            GROUP_KEEP();
        }
        for (; j + 2 <= j1; j++) {
            size_t c = j - j0;
            GROUP_STEP(0, 0, 1);
            j++;
            c++;
            GROUP_STEP(0, 1, 0);
        }
        for (; j < j1; j++) {
            size_t c = j - j0;
            GROUP_STEP(0, 0, 1);
            GROUP_KEEP();
        }
    }
    __m512 dot = _mm512_add_ps(dot0, dot1), t2 = _mm512_add_ps(t20, t21);
    __m512i n2 = _mm512_srli_epi32(nd, 21);
    __m512i t2_deni = _mm512_and_si512(nd, _mm512_set1_epi32((1 << 21) - 1));
    __m512 t2_den = _mm512_cvtepi32_ps(t2_deni);
    _mm512_storeu_ps(out->dot, dot);
    _mm512_storeu_ps(out->t2_num, t2);
    _mm512_storeu_si512(out->n1, n1);
    _mm512_storeu_si512(out->n2, n2);
    _mm512_storeu_si512(out->t2_den, t2_deni);
    if (n == 0)
        return (unsigned)_mm512_cmp_ps_mask(_mm512_set1_ps(-0.5f * 1.001f + 0.02f),
                                            _mm512_loadu_ps(g->floor), _CMP_NLT_UQ);
    /* the bound in float, as the scalar kernel estimates it */
    const __m512 slack = _mm512_set1_ps(1.001f);
    const __m512 vnorm = _mm512_set1_ps((float)norm);
    __m512 nu = _mm512_load_ps(g->nu + (size_t)mz[0] * SM_GROUP);
    __m512 nl = _mm512_sub_ps(vnorm, below);
    __mmask16 norms = (__mmask16)(_mm512_cmp_ps_mask(nu, _mm512_setzero_ps(), _CMP_GT_OQ) &
                                  _mm512_cmp_ps_mask(nl, _mm512_mul_ps(vnorm,
                                                                       _mm512_set1_ps(1e-3f)),
                                                     _CMP_GT_OQ));
    __m512 dw = _mm512_mul_ps(dot, slack);
    __m512 t1 = _mm512_mask_div_ps(onef, norms, _mm512_mul_ps(dw, dw), _mm512_mul_ps(nu, nl));
    t1 = _mm512_min_ps(t1, onef);
    __m512 r = _mm512_min_ps(_mm512_div_ps(_mm512_mul_ps(t2, slack), t2_den), onef);
    __m512 n1f = _mm512_cvtepu32_ps(n1), n2f = _mm512_cvtepu32_ps(n2);
    __m512 mean = _mm512_div_ps(_mm512_fmadd_ps(n1f, t1, _mm512_mul_ps(n2f, r)),
                                _mm512_add_ps(n1f, n2f));
    __mmask16 use_mean = (__mmask16)(_mm512_test_epi32_mask(n2, n2) &
                                     _mm512_cmp_ps_mask(r, t1, _CMP_GT_OQ));
    __m512 t = _mm512_mask_mov_ps(t1, use_mean, mean);
    __m512 bound = _mm512_fmsub_ps(t, _mm512_set1_ps(1000.0f), _mm512_set1_ps(0.5f));
    bound = _mm512_mask_mov_ps(bound, _mm512_testn_epi32_mask(n1, n1), _mm512_set1_ps(-0.5f));
    __m512 widened = _mm512_fmadd_ps(bound, slack, _mm512_set1_ps(0.02f));
    return (unsigned)_mm512_cmp_ps_mask(widened, _mm512_loadu_ps(g->floor), _CMP_NLT_UQ);
}

/* group_sketch: the codes widened to floats a chunk at a time (and below the lanes'
 * highest first m/z, m c^2 too), then an entry a step: the group's 16 weights at
 * its m/z (one cache line) times each spectrum's code, broadcast from memory, into
 * an accumulator a spectrum; below, m c^2 into the lanes whose first m/z is above.
 * The test at the end is sm_group_sketch_scalar_'s, 16 lanes at once. L: the
 * spectra of a block (a constant where it is called, so that the accumulators stay
 * in registers). */
#define SKETCH_CHUNK 64
static inline __attribute__((always_inline)) void
group_sketch_l(const sm_group_tab *g, const uint16_t *mz, const uint8_t *val, size_t n,
               const unsigned L, const float *norm, const uint16_t *first_mz, uint16_t *pass)
{
    __m512 acc[8], low[8];
    _Pragma("GCC unroll 8") for (unsigned s = 0; s < L; s++)
        acc[s] = low[s] = _mm512_setzero_ps();
    const __m512i first = _mm512_loadu_si512(g->first);
    const __m512 firstf = _mm512_cvtepi32_ps(first);
    const unsigned max_first = _mm512_reduce_max_epu32(first);
    size_t n_low = 0;
    while (n_low < n && mz[n_low] < max_first)
        n_low++;
    _Alignas(64) float code[SKETCH_CHUNK * 8 + 16];
    for (size_t e0 = 0; e0 < n; e0 += SKETCH_CHUNK) {
        size_t e1 = n - e0 > SKETCH_CHUNK ? e0 + SKETCH_CHUNK : n;
        const size_t nc = (e1 - e0) * L;
        for (size_t i = 0; i < nc; i += 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(val + e0 * L + i));
            _mm512_store_ps(code + i, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(v)));
        }
        size_t e = e0;
        for (; e < e1 && e < n_low; e++) {
            const float *c = code + (e - e0) * L;
            __m512 row = _mm512_load_ps(g->bw + (size_t)mz[e] * SM_GROUP);
            __m512 m = _mm512_set1_ps((float)mz[e]);
            __mmask16 under = _mm512_cmp_ps_mask(m, firstf, _CMP_LT_OQ);
            _Pragma("GCC unroll 8") for (unsigned s = 0; s < L; s++) {
                __m512 cs = _mm512_set1_ps(c[s]);
                acc[s] = _mm512_fmadd_ps(row, cs, acc[s]);
                low[s] = _mm512_mask3_fmadd_ps(_mm512_mul_ps(cs, cs), m, low[s], under);
            }
        }
        for (; e < e1; e++) {
            const float *c = code + (e - e0) * L;
            __m512 row = _mm512_load_ps(g->bw + (size_t)mz[e] * SM_GROUP);
            _Pragma("GCC unroll 8") for (unsigned s = 0; s < L; s++)
                acc[s] = _mm512_fmadd_ps(row, _mm512_set1_ps(c[s]), acc[s]);
        }
    }
    const __m512 need = _mm512_loadu_ps(g->t1_need), zero = _mm512_setzero_ps();
    const __mmask16 can = _mm512_cmp_ps_mask(need, zero, _CMP_GT_OQ);
    _Pragma("GCC unroll 8") for (unsigned s = 0; s < L; s++) {
        __m512 nu = _mm512_load_ps(g->nu + (size_t)first_mz[s] * SM_GROUP);
        __m512 nl = _mm512_fnmadd_ps(low[s], _mm512_set1_ps(1.001f / 64.0f),
                                     _mm512_set1_ps(norm[s]));
        __m512 d = _mm512_mul_ps(acc[s], _mm512_set1_ps(1.001f / 8.0f));
        __mmask16 none = _mm512_cmp_ps_mask(acc[s], zero, _CMP_EQ_OQ);
        __mmask16 low_t1 = _mm512_cmp_ps_mask(_mm512_mul_ps(d, d),
                                              _mm512_mul_ps(_mm512_mul_ps(need, nu), nl),
                                              _CMP_LT_OQ);
        low_t1 &= _mm512_cmp_ps_mask(nu, zero, _CMP_GT_OQ) &
                  _mm512_cmp_ps_mask(nl, zero, _CMP_GT_OQ);
        pass[s] = (uint16_t)~(can & (none | low_t1));
    }
}

SM_GROUP_SKETCH_ENTRY(group_sketch_avx512, group_sketch_l)

/* Sixteen blocks a step; nu from a gather of the query's float norms. */
static void block_bounds_avx512(float *acc, const float *ratio, const uint16_t *max_first,
                                size_t n, const float *nu_f, unsigned first, unsigned last,
                                uint16_t *bucket, float bucket_mf, unsigned top_bucket)
{
    const __m512i vfirst = _mm512_set1_epi32((int)first), vlast = _mm512_set1_epi32((int)last);
    const __m512i vtop = _mm512_set1_epi32((int)top_bucket);
    const __m512 zero = _mm512_setzero_ps(), onef = _mm512_set1_ps(1.0f);
    const __m512 slack = _mm512_set1_ps(1.0005f), per = _mm512_set1_ps(1.0f / bucket_mf);
    const unsigned lo0 = first < last ? first : last;
    const __m512i vlo0 = _mm512_set1_epi32((int)lo0);
    const __m512 nu0 = _mm512_set1_ps(nu_f[lo0]);
    for (size_t b = 0; b < n; b += 16) {
        __mmask16 valid = n - b >= 16 ? (__mmask16)0xFFFF : tail_mask(n - b);
        __m512 s = _mm512_maskz_loadu_ps(valid, acc + b);
        __m512 r = _mm512_maskz_loadu_ps(valid, ratio + b);
        __m512i f = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(valid, max_first + b));
        __m512i lo = _mm512_min_epu32(_mm512_max_epu32(f, vfirst), vlast);
        /* most blocks start where the query does or before: one norm for all of them,
         * a gather only for the others */
        __mmask16 past = _mm512_mask_cmpneq_epu32_mask(valid, lo, vlo0);
        __m512 nu = _mm512_maskz_mov_ps(valid, nu0);
        if (past != 0)
            nu = _mm512_mask_i32gather_ps(nu, past, lo, nu_f, 4);
        __m512 a = _mm512_mul_ps(_mm512_mul_ps(s, r), slack);
        /* nu 0 gives inf or NaN here, replaced below; min returns 1 for NaN */
        __m512 t1 = _mm512_min_ps(_mm512_div_ps(_mm512_mul_ps(a, a), nu), onef);
        __m512 bound = _mm512_fmadd_ps(t1, _mm512_set1_ps(500.0f), _mm512_set1_ps(499.5f));
        bound = _mm512_mask_mov_ps(_mm512_set1_ps(999.5f),
                                   _mm512_cmp_ps_mask(nu, zero, _CMP_GT_OQ), bound);
        bound = _mm512_mask_mov_ps(bound, _mm512_cmp_ps_mask(s, zero, _CMP_EQ_OQ),
                                   _mm512_set1_ps(-0.5f));
        __m512i k = _mm512_cvttps_epu32(_mm512_mul_ps(_mm512_max_ps(bound, zero), per));
        k = _mm512_min_epu32(k, vtop);
        _mm512_mask_storeu_ps(acc + b, valid, _mm512_add_ps(bound, _mm512_set1_ps(0.001f)));
        _mm256_mask_storeu_epi16(bucket + b, valid, _mm512_cvtepi32_epi16(k));
    }
}

/* 32 keys a step; the matches' indices compressed in a register and stored whole
 * (a compress straight to memory is slow on some AMD cores). */
static size_t collect_u16_avx512(const uint16_t *key, size_t n, unsigned want, uint32_t *out)
{
    const __m512i vw = _mm512_set1_epi16((short)want);
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    size_t k = 0;
    for (size_t b = 0; b < n; b += 32) {
        __mmask32 valid = n - b >= 32 ? 0xFFFFFFFFu : (__mmask32)((1u << (n - b)) - 1u);
        __m512i x = _mm512_maskz_loadu_epi16(valid, key + b);
        __mmask32 eq = _mm512_mask_cmpeq_epu16_mask(valid, x, vw);
        if (eq == 0)
            continue;
        __mmask16 lo = (__mmask16)(eq & 0xFFFFu), hi = (__mmask16)(eq >> 16);
        __m512i base = _mm512_add_epi32(iota, _mm512_set1_epi32((int)b));
        _mm512_storeu_si512(out + k, _mm512_maskz_compress_epi32(lo, base));
        k += (size_t)__builtin_popcount(lo);
        _mm512_storeu_si512(out + k, _mm512_maskz_compress_epi32(
                                         hi, _mm512_add_epi32(base, _mm512_set1_epi32(16))));
        k += (size_t)__builtin_popcount(hi);
    }
    return k;
}

/* Sixteen bytes of codes a step (two entries of eight lanes, or four of four), widened
 * to floats and multiplied by the entries' weights, each broadcast to its lanes (a
 * gather of the weights was slower: they are often out of the first-level cache);
 * below first, the codes squared times the m/z. A weight past n is 0, and the codes
 * read there (within the padding) add nothing. */
static inline __m512 pair_of(float x0, float x1)
{
    return _mm512_castpd_ps(_mm512_insertf64x4(
        _mm512_castps_pd(_mm512_castps256_ps512(_mm256_set1_ps(x0))),
        _mm256_castps_pd(_mm256_set1_ps(x1)), 1));
}

static inline __m512 codes16(const uint8_t *v)
{
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)v)));
}

static inline __m512 quad_of(const float *w, const uint16_t *mz, size_t e, size_t n)
{
    __m128 q[4];
    for (unsigned k = 0; k < 4; k++)
        q[k] = e + k < n ? _mm_broadcast_ss(w + mz[e + k]) : _mm_setzero_ps();
    __m256 lo = _mm256_set_m128(q[1], q[0]), hi = _mm256_set_m128(q[3], q[2]);
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)),
                                               _mm256_castps_pd(hi), 1));
}

static void sketch_sums_avx512(const float *bw, const uint16_t *mz, const uint8_t *val,
                               size_t n, unsigned lanes, unsigned first, float *dot,
                               float *below)
{
    __m512 lo = _mm512_setzero_ps(), a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    size_t pre = 0;
    while (pre < n && mz[pre] < first)
        pre++;
    if (lanes == 8) {
        for (size_t e = 0; e < pre; e += 2) {
            __m512 c = codes16(val + e * 8);
            float m1 = e + 1 < pre ? (float)mz[e + 1] : 0.0f;
            lo = _mm512_fmadd_ps(_mm512_mul_ps(c, c), pair_of((float)mz[e], m1), lo);
        }
        size_t e = pre;
        for (; e + 4 <= n; e += 4) {
            a0 = _mm512_fmadd_ps(pair_of(bw[mz[e]], bw[mz[e + 1]]), codes16(val + e * 8), a0);
            a1 = _mm512_fmadd_ps(pair_of(bw[mz[e + 2]], bw[mz[e + 3]]),
                                 codes16(val + e * 8 + 16), a1);
        }
        for (; e < n; e += 2)
            a0 = _mm512_fmadd_ps(pair_of(bw[mz[e]], e + 1 < n ? bw[mz[e + 1]] : 0.0f),
                                 codes16(val + e * 8), a0);
        __m512 a = _mm512_add_ps(a0, a1);
        _mm256_storeu_ps(dot, _mm256_add_ps(_mm512_castps512_ps256(a),
                                            _mm256_castpd_ps(_mm512_extractf64x4_pd(
                                                _mm512_castps_pd(a), 1))));
        _mm256_storeu_ps(below, _mm256_add_ps(_mm512_castps512_ps256(lo),
                                              _mm256_castpd_ps(_mm512_extractf64x4_pd(
                                                  _mm512_castps_pd(lo), 1))));
        return;
    }
    /* four lanes: four entries a vector; the m/z as floats for the weights below first */
    float mzf[4];
    for (size_t e = 0; e < pre; e += 4) {
        for (unsigned k = 0; k < 4; k++)
            mzf[k] = e + k < pre ? (float)mz[e + k] : 0.0f;
        __m512 c = codes16(val + e * 4);
        __m512 w = _mm512_castpd_ps(_mm512_insertf64x4(
            _mm512_castps_pd(_mm512_castps256_ps512(_mm256_set_m128(_mm_set1_ps(mzf[1]),
                                                                    _mm_set1_ps(mzf[0])))),
            _mm256_castps_pd(_mm256_set_m128(_mm_set1_ps(mzf[3]), _mm_set1_ps(mzf[2]))), 1));
        lo = _mm512_fmadd_ps(_mm512_mul_ps(c, c), w, lo);
    }
    for (size_t e = pre; e < n; e += 8) {
        a0 = _mm512_fmadd_ps(quad_of(bw, mz, e, n), codes16(val + e * 4), a0);
        if (e + 4 < n)
            a1 = _mm512_fmadd_ps(quad_of(bw, mz, e + 4, n), codes16(val + e * 4 + 16), a1);
    }
    __m512 r[2] = {_mm512_add_ps(a0, a1), lo};
    float *out[2] = {dot, below};
    for (unsigned k = 0; k < 2; k++) {
        __m256 h = _mm256_add_ps(_mm512_castps512_ps256(r[k]), _mm256_castpd_ps(_mm512_extractf64x4_pd(
                                                                  _mm512_castps_pd(r[k]), 1)));
        _mm_storeu_ps(out[k], _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
    }
}

const sm_kernel sm_kernel_avx512_ = {
    .name = "avx512",
    .dot = dot_avx512,
    .axpy = axpy_avx512,
    .axpy_u8 = axpy_u8_avx512,
    .axpy4_u8 = axpy4_u8_avx512,
    .axpy8_u8 = axpy8_u8_avx512,
    .bound_sums = bound_sums_avx512,
    .unpack = unpack_avx512,
    .group_sums = group_sums_avx512,
    .group_sketch = group_sketch_avx512,
    .block_bounds = block_bounds_avx512,
    .collect_u16 = collect_u16_avx512,
    .sketch_sums = sketch_sums_avx512,
    .sketch_links = sketch_links_avx512,
};
