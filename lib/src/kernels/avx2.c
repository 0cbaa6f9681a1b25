/* avx2.c — AVX2 + FMA kernels (8 floats a vector); built with -mavx2 -mfma, run only when the CPU has both. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels.h"

static inline float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    __m128 sh = _mm_movehdup_ps(s);
    s = _mm_add_ps(s, sh);
    sh = _mm_movehl_ps(sh, s);
    s = _mm_add_ss(s, sh);
    return _mm_cvtss_f32(s);
}

/* Four independent accumulators hide the FMA latency (4 cycles, 2 a cycle on
 * recent cores, but the two loads per FMA limit it to about one a cycle). */
static float dot_avx2(const float *a, const float *b, size_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static void axpy_avx2(float a, const float *x, float *y, size_t n)
{
    const __m256 va = _mm256_set1_ps(a);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 y0 = _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i));
        __m256 y1 = _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8));
        __m256 y2 = _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16));
        __m256 y3 = _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24));
        _mm256_storeu_ps(y + i, y0);
        _mm256_storeu_ps(y + i + 8, y1);
        _mm256_storeu_ps(y + i + 16, y2);
        _mm256_storeu_ps(y + i + 24, y3);
    }
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] += a * x[i];
}


/* Four rows of bytes, 8 a step, y read and written once for the four. */
static void axpy4_u8_avx2(const float a[4], const uint8_t *const x[4], float *y, size_t n)
{
    const __m256 a0 = _mm256_set1_ps(a[0]), a1 = _mm256_set1_ps(a[1]);
    const __m256 a2 = _mm256_set1_ps(a[2]), a3 = _mm256_set1_ps(a[3]);
    const uint8_t *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(y + i);
        v = _mm256_fmadd_ps(a0, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(
                                    _mm_loadl_epi64((const __m128i *)(x0 + i)))), v);
        v = _mm256_fmadd_ps(a1, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(
                                    _mm_loadl_epi64((const __m128i *)(x1 + i)))), v);
        v = _mm256_fmadd_ps(a2, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(
                                    _mm_loadl_epi64((const __m128i *)(x2 + i)))), v);
        v = _mm256_fmadd_ps(a3, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(
                                    _mm_loadl_epi64((const __m128i *)(x3 + i)))), v);
        _mm256_storeu_ps(y + i, v);
    }
    for (; i < n; i++)
        y[i] = fmaf(a[3], (float)x3[i],
                    fmaf(a[2], (float)x2[i], fmaf(a[1], (float)x1[i], fmaf(a[0], (float)x0[i], y[i]))));
}

/* Bytes widened to 32-bit lanes, converted, multiplied and added: 8 a step. */
static void axpy_u8_avx2(float a, const uint8_t *x, float *y, size_t n)
{
    const __m256 va = _mm256_set1_ps(a);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        for (size_t j = 0; j < 32; j += 8) {
            __m128i b = _mm_loadl_epi64((const __m128i *)(x + i + j));
            __m256 xf = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b));
            _mm256_storeu_ps(y + i + j, _mm256_fmadd_ps(va, xf, _mm256_loadu_ps(y + i + j)));
        }
    }
    for (; i + 8 <= n; i += 8) {
        __m128i b = _mm_loadl_epi64((const __m128i *)(x + i));
        __m256 xf = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b));
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, xf, _mm256_loadu_ps(y + i)));
    }
    for (; i < n; i++)
        y[i] = fmaf(a, (float)x[i], y[i]);
}

/* Eight peaks (m/z, intensity) widened to 32-bit lanes; when fewer than eight are
 * left, from a zero-padded copy: a peak at m/z 0 of intensity 0 is neither common
 * nor below the range (lo >= 1) and adds nothing. */
static inline void load_peaks(const uint16_t *mz, const uint16_t *val, size_t left, __m256i *m,
                              __m256i *b)
{
    uint16_t tail_mz[8] = {0}, tail_val[8] = {0};
    if (left < 8) {
        memcpy(tail_mz, mz, left * sizeof *mz);
        memcpy(tail_val, val, left * sizeof *val);
        mz = tail_mz;
        val = tail_val;
    }
    *m = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)mz));
    *b = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)val));
}

/* The eight unsigned 32-bit lanes added up. */
static inline uint64_t sum_lanes(__m256i v)
{
    uint32_t lanes[8];
    _mm256_storeu_si256((__m256i *)lanes, v);
    uint64_t sum = 0;
    for (int j = 0; j < 8; j++)
        sum += lanes[j];
    return sum;
}

/* bound_sums, 8 peaks a step with gathers. Each lane's predecessor is the lane
 * below it, lane 0's the last lane of the step before (carried over). Per-lane sums of m * val
 * stay below 2^31: at most 2,048 peaks, 256 steps of m * val <= 2,000 * 999. */
static inline __m256i up_one_lane(__m256i v, __m256i carry)
{
    /* lane i gets v[i - 1], lane 0 gets carry[7] */
    const __m256i rot = _mm256_setr_epi32(7, 0, 1, 2, 3, 4, 5, 6);
    return _mm256_blend_epi32(_mm256_permutevar8x32_epi32(v, rot),
                              _mm256_permutevar8x32_epi32(carry, rot), 1);
}

static inline unsigned lanes_of(__m256i v)
{
    return (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(v));
}

static void bound_sums_avx2(const uint32_t *word, const uint16_t *mz, const uint16_t *val,
                            size_t n, unsigned lo, sm_bound_sums *out)
{
    if (n > 2048) {
        sm_bound_sums_scalar_(word, mz, val, n, lo, out);
        return;
    }
    const __m256i zero = _mm256_setzero_si256(), one = _mm256_set1_epi32(1);
    const __m256i ones = _mm256_set1_epi32(-1), low16 = _mm256_set1_epi32(0xffff);
    const __m256i vlo = _mm256_set1_epi32((int)lo);
    __m256 dot = _mm256_setzero_ps(), t2_num = _mm256_setzero_ps();
    __m256i below = zero, t2_den = zero;
    __m256i carry_cnt = zero, carry_a = zero, carry_b = zero;
    __m256i carry_ok = zero, carry_common = zero;
    uint32_t n1 = 0, n2 = 0;
    for (size_t i = 0; i < n; i += 8) {
        __m256i m, b;
        load_peaks(mz + i, val + i, n - i, &m, &b);
        __m256i w = _mm256_i32gather_epi32((const int *)word, m, 4);
        __m256i a = _mm256_and_si256(w, low16);
        __m256 ab = _mm256_cvtepi32_ps(_mm256_mullo_epi32(a, b));
        dot = _mm256_fmadd_ps(_mm256_cvtepi32_ps(m), _mm256_sqrt_ps(ab), dot);
        __m256i a_gt1 = _mm256_cmpgt_epi32(a, one);
        /* the count at m - 1: the one at m less the peak at m (a_gt1 is -1 there) */
        __m256i cnt = _mm256_srli_epi32(w, 16), cnt_m1 = _mm256_add_epi32(cnt, a_gt1);
        __m256i b_gt1 = _mm256_cmpgt_epi32(b, one);
        __m256i below_lo = _mm256_cmpgt_epi32(vlo, m);
        below = _mm256_add_epi32(below, _mm256_and_si256(_mm256_and_si256(below_lo, b_gt1),
                                                         _mm256_mullo_epi32(m, b)));
        __m256i a_pos = _mm256_cmpgt_epi32(a, zero);
        __m256i common = _mm256_and_si256(a_pos, _mm256_or_si256(a_gt1, b_gt1));
        __m256i bad = _mm256_andnot_si256(a_pos, b_gt1); /* library-only above 1 */
        __m256i ok = _mm256_andnot_si256(_mm256_or_si256(below_lo, bad), ones);
        __m256i link = _mm256_and_si256(
            _mm256_and_si256(common, up_one_lane(ok, carry_ok)),
            _mm256_cmpeq_epi32(cnt_m1, up_one_lane(cnt, carry_cnt)));
        /* term 2: sqrt(min/max) of the cross products where the predecessor is common */
        __m256i sure = _mm256_and_si256(link, up_one_lane(common, carry_common));
        __m256 x1 = _mm256_cvtepi32_ps(_mm256_mullo_epi32(a, up_one_lane(b, carry_b)));
        __m256 x2 = _mm256_cvtepi32_ps(_mm256_mullo_epi32(up_one_lane(a, carry_a), b));
        __m256 hi = _mm256_max_ps(x1, x2);
        /* lanes not sure divide 0 by 1: no NaN */
        hi = _mm256_blendv_ps(_mm256_set1_ps(1.0f), hi, _mm256_castsi256_ps(sure));
        __m256 lo_x = _mm256_and_ps(_mm256_min_ps(x1, x2), _mm256_castsi256_ps(sure));
        __m256 v = _mm256_sqrt_ps(_mm256_div_ps(lo_x, hi));
        __m256 mf = _mm256_cvtepi32_ps(m);
        __m256 term = _mm256_blendv_ps(mf, _mm256_mul_ps(mf, v), _mm256_castsi256_ps(sure));
        t2_num = _mm256_add_ps(t2_num, _mm256_and_ps(term, _mm256_castsi256_ps(link)));
        t2_den = _mm256_add_epi32(t2_den, _mm256_and_si256(m, link));
        n1 += (uint32_t)__builtin_popcount(lanes_of(common));
        n2 += (uint32_t)__builtin_popcount(lanes_of(link));
        carry_ok = ok;
        carry_common = common;
        carry_cnt = cnt;
        carry_a = a;
        carry_b = b;
    }
    out->dot = hsum256(dot);
    out->t2_num = hsum256(t2_num);
    out->below = sum_lanes(below);
    out->t2_den = sum_lanes(t2_den);
    out->n1 = n1;
    out->n2 = n2;
}

/* unpack, 8 words a step: the steps' prefix sum within each 128-bit half, the low
 * half's total carried into the high half, the m/z so far added. AVX2 has no
 * compress: a step with an escape word (0.06 % of SWGDRUG's words) is done one word
 * at a time. The 8 values are stored whole: n <= j, so n + 8 <= j + 8 <= nw stays in
 * the room the caller gives. */
static size_t unpack_avx2(const uint16_t *w, size_t nw, uint16_t *mz, uint16_t *in)
{
    const __m256i int_mask = _mm256_set1_epi32((int)SM_PACK_INT_MASK);
    const __m256i one = _mm256_set1_epi32(1), zero = _mm256_setzero_si256();
    unsigned m = ~0u; /* -1, as the packing starts */
    size_t n = 0, j = 0;
    for (; j + 8 <= nw; j += 8) {
        __m256i x = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(w + j)));
        __m256i i = _mm256_and_si256(x, int_mask);
        if (_mm256_movemask_epi8(_mm256_cmpeq_epi32(i, zero)) != 0) {
            for (size_t k = j; k < j + 8; k++) {
                unsigned v = w[k], iv = v & SM_PACK_INT_MASK, d = (v >> 10) + 1;
                m += iv != 0 ? d : d * SM_PACK_STEP;
                mz[n] = (uint16_t)m;
                in[n] = (uint16_t)iv;
                n += iv != 0;
            }
            continue;
        }
        __m256i step = _mm256_add_epi32(_mm256_srli_epi32(x, 10), one);
        step = _mm256_add_epi32(step, _mm256_slli_si256(step, 4));
        step = _mm256_add_epi32(step, _mm256_slli_si256(step, 8));
        __m256i low_total = _mm256_shuffle_epi32(step, 0xFF);
        step = _mm256_add_epi32(step, _mm256_permute2x128_si256(low_total, low_total, 0x08));
        __m256i mv = _mm256_add_epi32(step, _mm256_set1_epi32((int)m));
        _mm_storeu_si128((__m128i *)(mz + n),
                         _mm_packus_epi32(_mm256_castsi256_si128(mv),
                                          _mm256_extracti128_si256(mv, 1)));
        _mm_storeu_si128((__m128i *)(in + n),
                         _mm_packus_epi32(_mm256_castsi256_si128(i),
                                          _mm256_extracti128_si256(i, 1)));
        n += 8;
        m = (unsigned)_mm256_extract_epi32(mv, 7);
    }
    for (; j < nw; j++) {
        unsigned v = w[j], iv = v & SM_PACK_INT_MASK, d = (v >> 10) + 1;
        m += iv != 0 ? d : d * SM_PACK_STEP;
        mz[n] = (uint16_t)m;
        in[n] = (uint16_t)iv;
        n += iv != 0;
    }
    return n;
}

/* One peak of group_sums for the 8 lanes of half h (8 lanes a 256-bit vector;
 * masks are all-ones lanes). LOW as in the AVX-512 kernel. */
#define GROUP_STEP8(LOW, S)                                                                \
    do {                                                                                   \
        unsigned m = mz[j], b = val[j];                                                    \
        size_t o = (size_t)m * SM_GROUP + h;                                               \
        __m256i w = _mm256_load_si256((const __m256i *)(g->word + o));                     \
        __m256 sa = _mm256_load_ps(g->sa + o);                                             \
        __m256 sb = _mm256_set1_ps(g->sqrt_f[b]);                                          \
        __m256i vm = _mm256_set1_epi32((int)m);                                            \
        dot##S = _mm256_fmadd_ps(_mm256_load_ps(g->bw + o), sb, dot##S);                   \
        __m256i b_gt1 = _mm256_set1_epi32(-(int)(b > 1));                                  \
        __m256i ge = ones;                                                                 \
        if (LOW) {                                                                         \
            __m256i lt = _mm256_cmpgt_epi32(first, vm);                                    \
            ge = _mm256_xor_si256(lt, ones);                                               \
            below = _mm256_add_ps(below, _mm256_and_ps(_mm256_castsi256_ps(                \
                                                           _mm256_and_si256(lt, b_gt1)),   \
                                                       _mm256_set1_ps((float)(m * b))));   \
        }                                                                                  \
        __m256i a_pos = _mm256_castps_si256(_mm256_cmp_ps(sa, zerof, _CMP_GT_OQ));         \
        __m256i a_gt1 = _mm256_castps_si256(_mm256_cmp_ps(sa, onef, _CMP_GT_OQ));          \
        __m256i common = _mm256_and_si256(a_pos, _mm256_or_si256(a_gt1, b_gt1));           \
        n1 = _mm256_sub_epi32(n1, common);                                                 \
        __m256i link = _mm256_and_si256(_mm256_and_si256(common, prev_ok),                 \
                                        _mm256_cmpeq_epi32(_mm256_srli_epi32(w, 16),       \
                                                           prev_cnt));                     \
        __m256i sure = _mm256_and_si256(link, prev_common);                                \
        __m256 p = _mm256_mul_ps(sa, prev_sb), q = _mm256_mul_ps(prev_sa, sb);             \
        __m256 mx = _mm256_max_ps(p, q), rc = _mm256_rcp_ps(mx);                           \
        rc = _mm256_mul_ps(rc, _mm256_fnmadd_ps(mx, rc, two));                             \
        __m256 v = _mm256_mul_ps(_mm256_min_ps(p, q), rc);                                 \
        __m256 mf = _mm256_cvtepi32_ps(vm);                                                \
        __m256 term = _mm256_blendv_ps(mf, _mm256_mul_ps(mf, v), _mm256_castsi256_ps(sure)); \
        t2##S = _mm256_add_ps(t2##S, _mm256_and_ps(term, _mm256_castsi256_ps(link)));      \
        n2 = _mm256_sub_epi32(n2, link);                                                   \
        t2_den = _mm256_add_epi32(t2_den, _mm256_and_si256(vm, link));                     \
        prev_ok = _mm256_and_si256(ge, _mm256_or_si256(a_pos, _mm256_xor_si256(b_gt1, ones))); \
        prev_cnt = _mm256_and_si256(w, low16);                                             \
        prev_common = common;                                                              \
        prev_sa = sa;                                                                      \
        prev_sb = sb;                                                                      \
    } while (0)

/* group_sums for lanes h .. h + 7; returns their bits of the lanes let through. The
 * quotients of term 2 take AVX's 12-bit reciprocal estimate refined by one Newton
 * step (relative error near 2^-22, inside the 2^-14 kernels.h allows; a division
 * was 9 % slower), and even and odd peaks add to their own float sums (S). */
static unsigned group_half_avx2(const sm_group_tab *g, const uint16_t *mz, const uint16_t *val,
                                size_t n, double norm, sm_group_sums *out, unsigned h)
{
    const __m256i low16 = _mm256_set1_epi32(0xffff);
    const __m256i zero = _mm256_setzero_si256(), ones = _mm256_set1_epi32(-1);
    const __m256 zerof = _mm256_setzero_ps(), onef = _mm256_set1_ps(1.0f);
    const __m256i first = _mm256_loadu_si256((const __m256i *)(g->first + h));
    const __m256 two = _mm256_set1_ps(2.0f);
    __m256 dot0 = _mm256_setzero_ps(), t20 = _mm256_setzero_ps(), below = _mm256_setzero_ps();
    __m256 dot1 = _mm256_setzero_ps(), t21 = _mm256_setzero_ps();
    __m256i n1 = zero, n2 = zero, t2_den = zero, prev_cnt = zero, prev_ok = zero;
    __m256i prev_common = zero;
    __m256 prev_sa = _mm256_setzero_ps(), prev_sb = _mm256_setzero_ps();
    unsigned max_first = 0;
    for (unsigned l = h; l < h + 8; l++)
        max_first = g->first[l] > max_first ? g->first[l] : max_first;
    size_t j = 0;
    for (; j < n && mz[j] < max_first; j++)
        GROUP_STEP8(1, 0);
    for (; j + 2 <= n; j++) {
        GROUP_STEP8(0, 0);
        j++;
        GROUP_STEP8(0, 1);
    }
    for (; j < n; j++)
        GROUP_STEP8(0, 0);
    __m256 dot = _mm256_add_ps(dot0, dot1), t2 = _mm256_add_ps(t20, t21);
    _mm256_storeu_ps(out->dot + h, dot);
    _mm256_storeu_ps(out->t2_num + h, t2);
    _mm256_storeu_si256((__m256i *)(out->n1 + h), n1);
    _mm256_storeu_si256((__m256i *)(out->n2 + h), n2);
    _mm256_storeu_si256((__m256i *)(out->t2_den + h), t2_den);
    const __m256 floor = _mm256_loadu_ps(g->floor + h);
    if (n == 0)
        return (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_set1_ps(-0.5f * 1.001f + 0.02f),
                                                          floor, _CMP_NLT_UQ))
               << h;
    /* the bound in float, as the scalar kernel estimates it */
    const __m256 slack = _mm256_set1_ps(1.001f);
    const __m256 vnorm = _mm256_set1_ps((float)norm);
    __m256 nu = _mm256_load_ps(g->nu + (size_t)mz[0] * SM_GROUP + h);
    __m256 nl = _mm256_sub_ps(vnorm, below);
    __m256 norms = _mm256_and_ps(_mm256_cmp_ps(nu, _mm256_setzero_ps(), _CMP_GT_OQ),
                                 _mm256_cmp_ps(nl, _mm256_mul_ps(vnorm, _mm256_set1_ps(1e-3f)),
                                               _CMP_GT_OQ));
    __m256 dw = _mm256_mul_ps(dot, slack);
    __m256 t1 = _mm256_blendv_ps(onef, _mm256_div_ps(_mm256_mul_ps(dw, dw), _mm256_mul_ps(nu, nl)),
                                 norms);
    t1 = _mm256_min_ps(t1, onef);
    __m256 r = _mm256_min_ps(
        _mm256_div_ps(_mm256_mul_ps(t2, slack), _mm256_cvtepi32_ps(t2_den)), onef);
    __m256 n1f = _mm256_cvtepi32_ps(n1), n2f = _mm256_cvtepi32_ps(n2);
    __m256 mean = _mm256_div_ps(_mm256_fmadd_ps(n1f, t1, _mm256_mul_ps(n2f, r)),
                                _mm256_add_ps(n1f, n2f));
    __m256 use_mean = _mm256_and_ps(
        _mm256_castsi256_ps(_mm256_xor_si256(_mm256_cmpeq_epi32(n2, zero), ones)),
        _mm256_cmp_ps(r, t1, _CMP_GT_OQ));
    __m256 t = _mm256_blendv_ps(t1, mean, use_mean);
    __m256 bound = _mm256_fmsub_ps(t, _mm256_set1_ps(1000.0f), _mm256_set1_ps(0.5f));
    bound = _mm256_blendv_ps(bound, _mm256_set1_ps(-0.5f),
                             _mm256_castsi256_ps(_mm256_cmpeq_epi32(n1, zero)));
    __m256 widened = _mm256_fmadd_ps(bound, slack, _mm256_set1_ps(0.02f));
    return (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(widened, floor, _CMP_NLT_UQ)) << h;
}

static unsigned group_sums_avx2(const sm_group_tab *g, const uint16_t *mz, const uint16_t *val,
                                size_t n, double norm, sm_group_sums *out)
{
    return group_half_avx2(g, mz, val, n, norm, out, 0) |
           group_half_avx2(g, mz, val, n, norm, out, 8);
}

/* block_bounds for 8 blocks (kernels.h), nu from a gather of the query's norms. */
static inline void block_bounds8(float *acc, const float *ratio, const uint16_t *max_first,
                                 const float *nu_f, __m256i vfirst, __m256i vlast, __m256i vtop,
                                 __m256 per, uint16_t *bucket)
{
    const __m256 zero = _mm256_setzero_ps(), onef = _mm256_set1_ps(1.0f);
    __m256 s = _mm256_loadu_ps(acc), r = _mm256_loadu_ps(ratio);
    __m256i f = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)max_first));
    __m256i lo = _mm256_min_epu32(_mm256_max_epu32(f, vfirst), vlast);
    __m256 nu = _mm256_i32gather_ps(nu_f, lo, 4);
    __m256 a = _mm256_mul_ps(_mm256_mul_ps(s, r), _mm256_set1_ps(1.0005f));
    /* nu 0 gives inf or NaN here, replaced below; min returns 1 for NaN */
    __m256 t1 = _mm256_min_ps(_mm256_div_ps(_mm256_mul_ps(a, a), nu), onef);
    __m256 bound = _mm256_fmadd_ps(t1, _mm256_set1_ps(500.0f), _mm256_set1_ps(499.5f));
    bound = _mm256_blendv_ps(_mm256_set1_ps(999.5f), bound, _mm256_cmp_ps(nu, zero, _CMP_GT_OQ));
    bound = _mm256_blendv_ps(bound, _mm256_set1_ps(-0.5f), _mm256_cmp_ps(s, zero, _CMP_EQ_OQ));
    __m256i k = _mm256_cvttps_epi32(_mm256_mul_ps(_mm256_max_ps(bound, zero), per));
    k = _mm256_min_epu32(k, vtop);
    _mm256_storeu_ps(acc, _mm256_add_ps(bound, _mm256_set1_ps(0.001f)));
    _mm_storeu_si128((__m128i *)bucket, _mm_packus_epi32(_mm256_castsi256_si128(k),
                                                         _mm256_extracti128_si256(k, 1)));
}

/* Eight blocks a step; a last partial step through copies of its blocks. */
static void block_bounds_avx2(float *acc, const float *ratio, const uint16_t *max_first,
                              size_t n, const float *nu_f, unsigned first, unsigned last,
                              uint16_t *bucket, float bucket_mf, unsigned top_bucket)
{
    const __m256i vfirst = _mm256_set1_epi32((int)first), vlast = _mm256_set1_epi32((int)last);
    const __m256i vtop = _mm256_set1_epi32((int)top_bucket);
    const __m256 per = _mm256_set1_ps(1.0f / bucket_mf);
    size_t b = 0;
    for (; b + 8 <= n; b += 8)
        block_bounds8(acc + b, ratio + b, max_first + b, nu_f, vfirst, vlast, vtop, per,
                      bucket + b);
    if (b < n) {
        float a8[8] = {0}, r8[8] = {0};
        uint16_t f8[8] = {0}, k8[8];
        for (size_t i = 0; i < n - b; i++) {
            a8[i] = acc[b + i];
            r8[i] = ratio[b + i];
            f8[i] = max_first[b + i];
        }
        block_bounds8(a8, r8, f8, nu_f, vfirst, vlast, vtop, per, k8);
        for (size_t i = 0; i < n - b; i++) {
            acc[b + i] = a8[i];
            bucket[b + i] = k8[i];
        }
    }
}

/* 16 keys a step; the matches (about one in N_BUCKETS) taken from the byte mask. */
static size_t collect_u16_avx2(const uint16_t *key, size_t n, unsigned want, uint32_t *out)
{
    const __m256i vw = _mm256_set1_epi16((short)want);
    size_t k = 0, b = 0;
    for (; b + 16 <= n; b += 16) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(key + b));
        unsigned bits = (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi16(x, vw)) & 0x55555555u;
        for (; bits != 0; bits &= bits - 1)
            out[k++] = (uint32_t)(b + ((unsigned)__builtin_ctz(bits) >> 1));
    }
    for (; b < n; b++)
        if (key[b] == want)
            out[k++] = (uint32_t)b;
    return k;
}

/* Entry by entry, a lane a spectrum: the entry's codes widened to floats, times the
 * query's weight at its m/z broadcast (or, below first, squared and times the m/z);
 * eight lanes a vector, or four. */
static void sketch_sums_avx2(const float *bw, const uint16_t *mz, const uint8_t *val, size_t n,
                             unsigned lanes, unsigned first, float *dot, float *below)
{
    size_t e = 0;
    if (lanes == 8) {
        __m256 lo = _mm256_setzero_ps(), a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        for (; e < n && mz[e] < first; e++) {
            __m256 c = _mm256_cvtepi32_ps(
                _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(val + e * 8))));
            lo = _mm256_fmadd_ps(_mm256_mul_ps(c, c), _mm256_set1_ps((float)mz[e]), lo);
        }
        for (; e + 2 <= n; e += 2) {
            __m256 c0 = _mm256_cvtepi32_ps(
                _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(val + e * 8))));
            __m256 c1 = _mm256_cvtepi32_ps(
                _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(val + e * 8 + 8))));
            a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(bw + mz[e]), c0, a0);
            a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(bw + mz[e + 1]), c1, a1);
        }
        if (e < n) {
            __m256 c0 = _mm256_cvtepi32_ps(
                _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(val + e * 8))));
            a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(bw + mz[e]), c0, a0);
        }
        _mm256_storeu_ps(dot, _mm256_add_ps(a0, a1));
        _mm256_storeu_ps(below, lo);
        return;
    }
    __m128 lo = _mm_setzero_ps(), a = _mm_setzero_ps();
    for (; e < n; e++) {
        uint32_t four;
        memcpy(&four, val + e * 4, sizeof four);
        __m128 c = _mm_cvtepi32_ps(_mm_cvtepu8_epi32(_mm_cvtsi32_si128((int)four)));
        if (mz[e] < first)
            lo = _mm_fmadd_ps(_mm_mul_ps(c, c), _mm_set1_ps((float)mz[e]), lo);
        else
            a = _mm_fmadd_ps(_mm_broadcast_ss(bw + mz[e]), c, a);
    }
    _mm_storeu_ps(dot, a);
    _mm_storeu_ps(below, lo);
}

const sm_kernel sm_kernel_avx2_ = {
    .name = "avx2",
    .dot = dot_avx2,
    .axpy = axpy_avx2,
    .axpy_u8 = axpy_u8_avx2,
    .axpy4_u8 = axpy4_u8_avx2,
    .bound_sums = bound_sums_avx2,
    .unpack = unpack_avx2,
    .group_sums = group_sums_avx2,
    .block_bounds = block_bounds_avx2,
    .collect_u16 = collect_u16_avx2,
    .sketch_sums = sketch_sums_avx2,
};
