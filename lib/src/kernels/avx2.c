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

/* group_sums (kernels.h): first a vector pass lays out, per peak of a chunk, what the
 * lanes compare with or add (shared by both halves of the group), then each half of 8
 * lanes walks the peaks. */
#define GROUP_CHUNK 256
enum { PRE_MZ, PRE_MSB, PRE_K, PRE_COMMON, PRE_LINK, PRE_BELOW, PRE_N };

/* Peaks [j0, j1) laid out in pre[][0 ..): the m/z, m sqrt(b), K = sqrt(b_prev) /
 * sqrt(b) (0 for the first peak), the limits of sa for a common peak (0 above
 * intensity 1, 1 at 1) and for one that keeps a chain (0, -1), m b above intensity 1;
 * and in nd_add 2^21 + m (n2 and t2_den in one sum). */
static void group_layout_avx2(const uint16_t *mz, const uint16_t *val, size_t j0, size_t j1,
                              float pre[PRE_N][GROUP_CHUNK], int32_t *nd_add)
{
    const __m256i one = _mm256_set1_epi32(1);
    const __m256 onef = _mm256_set1_ps(1.0f), zerof = _mm256_setzero_ps();
    for (size_t j = j0; j < j1; j += 8) {
        __m256i m, b;
        load_peaks(mz + j, val + j, j1 - j, &m, &b);
        __m256 mf = _mm256_cvtepi32_ps(m), bf = _mm256_cvtepi32_ps(b);
        /* sqrt(b), and 1 in the padding so that K stays finite there */
        __m256 sb = _mm256_sqrt_ps(_mm256_max_ps(bf, onef));
        __m256 sbp = _mm256_sqrt_ps(_mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(_mm_setr_epi16(
            (short)(j > 0 ? val[j - 1] : 0), (short)(j + 1 < j1 ? val[j] : 0),
            (short)(j + 2 < j1 ? val[j + 1] : 0), (short)(j + 3 < j1 ? val[j + 2] : 0),
            (short)(j + 4 < j1 ? val[j + 3] : 0), (short)(j + 5 < j1 ? val[j + 4] : 0),
            (short)(j + 6 < j1 ? val[j + 5] : 0), (short)(j + 7 < j1 ? val[j + 6] : 0)))));
        __m256 gt1 = _mm256_castsi256_ps(_mm256_cmpgt_epi32(b, one));
        size_t c = j - j0;
        _mm256_store_ps(pre[PRE_MZ] + c, mf);
        _mm256_store_ps(pre[PRE_MSB] + c, _mm256_mul_ps(mf, sb));
        _mm256_store_ps(pre[PRE_K] + c, _mm256_div_ps(sbp, sb));
        _mm256_store_ps(pre[PRE_COMMON] + c, _mm256_blendv_ps(onef, zerof, gt1));
        _mm256_store_ps(pre[PRE_LINK] + c, _mm256_blendv_ps(_mm256_set1_ps(-1.0f), zerof, gt1));
        _mm256_store_ps(pre[PRE_BELOW] + c, _mm256_and_ps(gt1, _mm256_mul_ps(mf, bf)));
        _mm256_store_si256((__m256i *)(nd_add + c),
                           _mm256_add_epi32(m, _mm256_set1_epi32(1 << 21)));
    }
}

/* One peak of group_sums for the 8 lanes of half h (masks are all-ones lanes), its
 * state in the registers suffixed X, the previous peak's in those suffixed Y; LOW:
 * m/z may be under some lane's first (the walk's first peaks only), where `below`
 * grows and links may not start. As the AVX-512 kernel: common when sa >
 * pre[PRE_COMMON], a peak that keeps the chain when sa > pre[PRE_LINK], a link when
 * the query's count of peaks above 1 before m (lt) equals its count up to the
 * previous peak (le there); the ratio min(p, q) / max(p, q) with p = sa K and q the
 * previous sa, AVX's 12-bit reciprocal estimate refined by one Newton step (relative
 * error near 2^-22, inside the 2^-14 kernels.h allows). */
#define GROUP_STEP8(LOW, X, Y)                                                             \
    do {                                                                                   \
        size_t o = (size_t)mz[j] * SM_GROUP + h;                                           \
        __m256i lt = _mm256_cvtepu16_epi32(_mm_load_si128((const __m128i *)(g->lt + o)));   \
        le##X = _mm256_cvtepu16_epi32(_mm_load_si128((const __m128i *)(g->le + o)));        \
        sa##X = _mm256_load_ps(g->sa + o);                                                 \
        dot##X = _mm256_fmadd_ps(sa##X, _mm256_broadcast_ss(pre[PRE_MSB] + c), dot##X);     \
        common##X = _mm256_castps_si256(                                                   \
            _mm256_cmp_ps(sa##X, _mm256_broadcast_ss(pre[PRE_COMMON] + c), _CMP_GT_OQ));   \
        ok##X = _mm256_castps_si256(                                                       \
            _mm256_cmp_ps(sa##X, _mm256_broadcast_ss(pre[PRE_LINK] + c), _CMP_GT_OQ));     \
        if (LOW) {                                                                         \
            __m256i under = _mm256_cmpgt_epi32(first, _mm256_set1_epi32((int)mz[j]));      \
            below = _mm256_add_ps(below, _mm256_and_ps(_mm256_castsi256_ps(under),          \
                                                       _mm256_broadcast_ss(pre[PRE_BELOW] + c))); \
            ok##X = _mm256_andnot_si256(under, ok##X);                                     \
        }                                                                                  \
        n1 = _mm256_sub_epi32(n1, common##X);                                              \
        __m256i link = _mm256_and_si256(_mm256_and_si256(common##X, ok##Y),                \
                                        _mm256_cmpeq_epi32(lt, le##Y));                    \
        __m256i sure = _mm256_and_si256(link, common##Y);                                  \
        __m256 p = _mm256_mul_ps(sa##X, _mm256_broadcast_ss(pre[PRE_K] + c));              \
        __m256 mx = _mm256_max_ps(p, sa##Y), rc = _mm256_rcp_ps(mx);                       \
        rc = _mm256_mul_ps(rc, _mm256_fnmadd_ps(mx, rc, two));                             \
        __m256 v = _mm256_blendv_ps(onef, _mm256_mul_ps(_mm256_min_ps(p, sa##Y), rc),      \
                                    _mm256_castsi256_ps(sure));                            \
        t2##X = _mm256_fmadd_ps(_mm256_and_ps(v, _mm256_castsi256_ps(link)),               \
                                _mm256_broadcast_ss(pre[PRE_MZ] + c), t2##X);              \
        nd = _mm256_add_epi32(nd, _mm256_and_si256(link, _mm256_set1_epi32(nd_add[c])));   \
    } while (0)
#define GROUP_KEEP8() /* a single step's state where the next step looks for it */       \
    do {                                                                                   \
        sa1 = sa0;                                                                         \
        le1 = le0;                                                                         \
        ok1 = ok0;                                                                         \
        common1 = common0;                                                                 \
    } while (0)

/* The walk of half h over one chunk's peaks [j0, j1), laid out in pre. */
#define GROUP_WALK8()                                                                      \
    do {                                                                                   \
        size_t j = j0;                                                                     \
        for (; j + 2 <= j1 && mz[j + 1] < max_first; j++) {                                \
            size_t c = j - j0;                                                             \
            GROUP_STEP8(1, 0, 1);                                                          \
            j++;                                                                           \
            c++;                                                                           \
            GROUP_STEP8(1, 1, 0);                                                          \
        }                                                                                  \
        for (; j < j1 && mz[j] < max_first; j++) {                                         \
            size_t c = j - j0;                                                             \
            GROUP_STEP8(1, 0, 1);                                                          \
            GROUP_KEEP8();                                                                 \
        }                                                                                  \
        for (; j + 2 <= j1; j++) {                                                         \
            size_t c = j - j0;                                                             \
            GROUP_STEP8(0, 0, 1);                                                          \
            j++;                                                                           \
            c++;                                                                           \
            GROUP_STEP8(0, 1, 0);                                                          \
        }                                                                                  \
        for (; j < j1; j++) {                                                              \
            size_t c = j - j0;                                                             \
            GROUP_STEP8(0, 0, 1);                                                          \
            GROUP_KEEP8();                                                                 \
        }                                                                                  \
    } while (0)

/* The state of one half across chunks. */
struct half8 {
    __m256 dot0, dot1, t20, t21, below, sa0, sa1;
    __m256i n1, nd, le0, le1, ok0, ok1, common0, common1;
};

static void group_half_walk(const sm_group_tab *g, const uint16_t *mz, size_t j0, size_t j1,
                            float pre[PRE_N][GROUP_CHUNK], const int32_t *nd_add, unsigned h,
                            struct half8 *st)
{
    const __m256 onef = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f);
    const __m256i first = _mm256_loadu_si256((const __m256i *)(g->first + h));
    unsigned max_first = 0;
    for (unsigned l = h; l < h + 8; l++)
        max_first = g->first[l] > max_first ? g->first[l] : max_first;
    __m256 dot0 = st->dot0, dot1 = st->dot1, t20 = st->t20, t21 = st->t21, below = st->below;
    __m256 sa0 = st->sa0, sa1 = st->sa1;
    __m256i n1 = st->n1, nd = st->nd, le0 = st->le0, le1 = st->le1, ok0 = st->ok0;
    __m256i ok1 = st->ok1, common0 = st->common0, common1 = st->common1;
    GROUP_WALK8();
    *st = (struct half8){dot0, dot1, t20, t21, below, sa0, sa1,
                         n1, nd, le0, le1, ok0, ok1, common0, common1};
}

/* The sums of half h stored and its lanes let through, estimated in float as the
 * scalar kernel does. */
static unsigned group_half_end(const sm_group_tab *g, const uint16_t *mz, size_t n, double norm,
                               sm_group_sums *out, unsigned h, const struct half8 *st)
{
    const __m256i zero = _mm256_setzero_si256(), ones = _mm256_set1_epi32(-1);
    const __m256 onef = _mm256_set1_ps(1.0f);
    __m256 dot = _mm256_add_ps(st->dot0, st->dot1), t2 = _mm256_add_ps(st->t20, st->t21);
    __m256i n1 = st->n1, n2 = _mm256_srli_epi32(st->nd, 21);
    __m256i t2_den = _mm256_and_si256(st->nd, _mm256_set1_epi32((1 << 21) - 1));
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
    const __m256 slack = _mm256_set1_ps(1.001f);
    const __m256 vnorm = _mm256_set1_ps((float)norm);
    __m256 nu = _mm256_load_ps(g->nu + (size_t)mz[0] * SM_GROUP + h);
    __m256 nl = _mm256_sub_ps(vnorm, st->below);
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

/* The two halves of the group over each chunk laid out once; the counts of term 2
 * share one 32-bit sum (n2 above bit 21), exact up to 1,024 peaks below m/z 2,048
 * (the scalar kernel's otherwise). */
static unsigned group_sums_avx2(const sm_group_tab *g, const uint16_t *mz, const uint16_t *val,
                                size_t n, double norm, sm_group_sums *out)
{
    if (n > 1024 || (n > 0 && mz[n - 1] >= 2048))
        return sm_group_sums_scalar_(g, mz, val, n, norm, out);
    _Alignas(32) float pre[PRE_N][GROUP_CHUNK];
    _Alignas(32) int32_t nd_add[GROUP_CHUNK];
    struct half8 st[2];
    for (int k = 0; k < 2; k++) {
        const __m256 z = _mm256_setzero_ps();
        const __m256i zi = _mm256_setzero_si256();
        st[k] = (struct half8){z, z, z, z, z, z, z, zi, zi, zi, zi, zi, zi, zi, zi};
    }
    for (size_t j0 = 0; j0 < n; j0 += GROUP_CHUNK) {
        size_t j1 = n - j0 > GROUP_CHUNK ? j0 + GROUP_CHUNK : n;
        group_layout_avx2(mz, val, j0, j1, pre, nd_add);
        group_half_walk(g, mz, j0, j1, pre, nd_add, 0, &st[0]);
        group_half_walk(g, mz, j0, j1, pre, nd_add, 8, &st[1]);
    }
    return group_half_end(g, mz, n, norm, out, 0, &st[0]) |
           group_half_end(g, mz, n, norm, out, 8, &st[1]);
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
/* group_sketch (kernels.h): the codes widened to floats a chunk at a time, then
 * each half of the group's lanes in turn, an entry a step: the half's 8 weights at
 * its m/z times each spectrum's code, broadcast from memory, into an accumulator a
 * spectrum (kept in acc[] between chunks); below the half's highest first m/z,
 * m c^2 too in the lanes whose first m/z is above. The test at the end is
 * sm_group_sketch_scalar_'s, 8 lanes at once. L: the spectra of a block, a constant
 * where it is called. */
#define SKETCH_CHUNK 64
static inline __attribute__((always_inline)) void
group_sketch_half(const sm_group_tab *g, const uint16_t *mz, const float *code, size_t e0,
                  size_t e1, size_t n_low, const unsigned L, unsigned h, __m256 *acc, __m256 *low)
{
    const __m256 firstf = _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(g->first + h)));
    __m256 a[8];
    _Pragma("GCC unroll 8") for (unsigned s = 0; s < L; s++)
        a[s] = acc[s];
    size_t e = e0;
    for (; e < e1 && e < n_low; e++) {
        const float *c = code + (e - e0) * L;
        __m256 row = _mm256_load_ps(g->bw + (size_t)mz[e] * SM_GROUP + h);
        __m256 m = _mm256_set1_ps((float)mz[e]);
        __m256 under = _mm256_cmp_ps(m, firstf, _CMP_LT_OQ);
        for (unsigned s = 0; s < L; s++) {
            __m256 cs = _mm256_broadcast_ss(c + s);
            a[s] = _mm256_fmadd_ps(row, cs, a[s]);
            low[s] = _mm256_add_ps(low[s], _mm256_and_ps(under, _mm256_mul_ps(m, _mm256_mul_ps(cs, cs))));
        }
    }
    for (; e < e1; e++) {
        const float *c = code + (e - e0) * L;
        __m256 row = _mm256_load_ps(g->bw + (size_t)mz[e] * SM_GROUP + h);
        _Pragma("GCC unroll 8") for (unsigned s = 0; s < L; s++)
            a[s] = _mm256_fmadd_ps(row, _mm256_broadcast_ss(c + s), a[s]);
    }
    _Pragma("GCC unroll 8") for (unsigned s = 0; s < L; s++)
        acc[s] = a[s];
}

static inline __attribute__((always_inline)) void
group_sketch_l_avx2(const sm_group_tab *g, const uint16_t *mz, const uint8_t *val, size_t n,
                    const unsigned L, const float *norm, const uint16_t *first_mz,
                    uint16_t *pass)
{
    __m256 acc[2][8], low[2][8];
    for (unsigned h = 0; h < 2; h++)
        for (unsigned s = 0; s < 8; s++)
            acc[h][s] = low[h][s] = _mm256_setzero_ps();
    unsigned max_first = 0;
    for (unsigned l = 0; l < SM_GROUP; l++)
        max_first = g->first[l] > max_first ? g->first[l] : max_first;
    size_t n_low = 0;
    while (n_low < n && mz[n_low] < max_first)
        n_low++;
    _Alignas(32) float code[SKETCH_CHUNK * 8 + 8];
    for (size_t e0 = 0; e0 < n; e0 += SKETCH_CHUNK) {
        size_t e1 = n - e0 > SKETCH_CHUNK ? e0 + SKETCH_CHUNK : n;
        const size_t nc = (e1 - e0) * L;
        for (size_t i = 0; i < nc; i += 8) {
            __m128i v = _mm_loadl_epi64((const __m128i *)(val + e0 * L + i));
            _mm256_store_ps(code + i, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v)));
        }
        group_sketch_half(g, mz, code, e0, e1, n_low, L, 0, acc[0], low[0]);
        group_sketch_half(g, mz, code, e0, e1, n_low, L, 8, acc[1], low[1]);
    }
    const __m256 zero = _mm256_setzero_ps();
    for (unsigned s = 0; s < L; s++) {
        unsigned keep = 0;
        for (unsigned h = 0; h < 2; h++) {
            __m256 need = _mm256_loadu_ps(g->t1_need + 8 * h);
            __m256 nu = _mm256_load_ps(g->nu + (size_t)first_mz[s] * SM_GROUP + 8 * h);
            __m256 nl = _mm256_fnmadd_ps(low[h][s], _mm256_set1_ps(1.001f / 64.0f),
                                         _mm256_set1_ps(norm[s]));
            __m256 d = _mm256_mul_ps(acc[h][s], _mm256_set1_ps(1.001f / 8.0f));
            __m256 none = _mm256_cmp_ps(acc[h][s], zero, _CMP_EQ_OQ);
            __m256 low_t1 = _mm256_cmp_ps(_mm256_mul_ps(d, d),
                                          _mm256_mul_ps(_mm256_mul_ps(need, nu), nl), _CMP_LT_OQ);
            low_t1 = _mm256_and_ps(low_t1, _mm256_and_ps(_mm256_cmp_ps(nu, zero, _CMP_GT_OQ),
                                                         _mm256_cmp_ps(nl, zero, _CMP_GT_OQ)));
            __m256 out = _mm256_and_ps(_mm256_cmp_ps(need, zero, _CMP_GT_OQ),
                                       _mm256_or_ps(none, low_t1));
            keep |= (unsigned)(~_mm256_movemask_ps(out) & 0xFF) << (8 * h);
        }
        pass[s] = (uint16_t)keep;
    }
}

SM_GROUP_SKETCH_ENTRY(group_sketch_avx2, group_sketch_l_avx2)

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
    .group_sketch = group_sketch_avx2,
    .block_bounds = block_bounds_avx2,
    .collect_u16 = collect_u16_avx2,
    .sketch_sums = sketch_sums_avx2,
};
