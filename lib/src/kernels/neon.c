/* neon.c — AArch64 Advanced SIMD kernels (4 floats a vector); NEON is part of the AArch64 baseline, so no flags and no CPU check. */
#include <arm_neon.h>

#include "kernels.h"

/* Four independent accumulators hide the FMA latency. */
static float dot_neon(const float *a, const float *b, size_t n)
{
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = vdupq_n_f32(0.0f);
    float32x4_t s2 = vdupq_n_f32(0.0f), s3 = vdupq_n_f32(0.0f);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
        s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
        s2 = vfmaq_f32(s2, vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
        s3 = vfmaq_f32(s3, vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
    }
    for (; i + 4 <= n; i += 4)
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static void axpy_neon(float a, const float *x, float *y, size_t n)
{
    const float32x4_t va = vdupq_n_f32(a);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        float32x4_t y0 = vfmaq_f32(vld1q_f32(y + i), va, vld1q_f32(x + i));
        float32x4_t y1 = vfmaq_f32(vld1q_f32(y + i + 4), va, vld1q_f32(x + i + 4));
        float32x4_t y2 = vfmaq_f32(vld1q_f32(y + i + 8), va, vld1q_f32(x + i + 8));
        float32x4_t y3 = vfmaq_f32(vld1q_f32(y + i + 12), va, vld1q_f32(x + i + 12));
        vst1q_f32(y + i, y0);
        vst1q_f32(y + i + 4, y1);
        vst1q_f32(y + i + 8, y2);
        vst1q_f32(y + i + 12, y3);
    }
    for (; i + 4 <= n; i += 4)
        vst1q_f32(y + i, vfmaq_f32(vld1q_f32(y + i), va, vld1q_f32(x + i)));
    for (; i < n; i++)
        y[i] += a * x[i];
}

/* Bytes widened in two steps to 32-bit lanes, converted, multiplied and added. */
static void axpy_u8_neon(float a, const uint8_t *x, float *y, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint16x8_t w = vmovl_u8(vld1_u8(x + i));
        float32x4_t lo = vcvtq_f32_u32(vmovl_u16(vget_low_u16(w)));
        float32x4_t hi = vcvtq_f32_u32(vmovl_u16(vget_high_u16(w)));
        vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), lo, a));
        vst1q_f32(y + i + 4, vfmaq_n_f32(vld1q_f32(y + i + 4), hi, a));
    }
    for (; i < n; i++)
        y[i] += a * (float)x[i];
}

/* The codes of one entry (4 lanes) widened to floats. */
static inline float32x4_t codes4(const uint8_t *v)
{
    uint16x4_t w = vget_low_u16(vmovl_u8(vcreate_u8((uint64_t)v[0] | (uint64_t)v[1] << 8 |
                                                    (uint64_t)v[2] << 16 |
                                                    (uint64_t)v[3] << 24)));
    return vcvtq_f32_u32(vmovl_u16(w));
}

/* Entry by entry, four lanes a vector (two vectors for eight): the codes widened to
 * floats, times the query's weight at the entry's m/z, or below first squared and
 * times the m/z. */
static void sketch_sums_neon(const float *bw, const uint16_t *mz, const uint8_t *val, size_t n,
                             unsigned lanes, unsigned first, float *dot, float *below)
{
    float32x4_t a[2] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    float32x4_t lo[2] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    const unsigned halves = lanes / 4;
    size_t e = 0;
    for (; e < n && mz[e] < first; e++)
        for (unsigned h = 0; h < halves; h++) {
            float32x4_t c = codes4(val + e * lanes + 4 * h);
            lo[h] = vfmaq_n_f32(lo[h], vmulq_f32(c, c), (float)mz[e]);
        }
    for (; e < n; e++)
        for (unsigned h = 0; h < halves; h++)
            a[h] = vfmaq_n_f32(a[h], codes4(val + e * lanes + 4 * h), bw[mz[e]]);
    for (unsigned h = 0; h < halves; h++) {
        vst1q_f32(dot + 4 * h, a[h]);
        vst1q_f32(below + 4 * h, lo[h]);
    }
}

/* group_sketch (kernels.h) for the lanes h .. h + 3: an entry a step, the quarter's 4
 * weights at its m/z times each spectrum's code (widened to floats a chunk at a
 * time by the caller) into an accumulator a spectrum; below the highest first m/z,
 * m c^2 too in the lanes whose first m/z is above (acc, low: the quarter's sums,
 * kept between chunks). L: the spectra of a block. */
static inline __attribute__((always_inline)) void
group_sketch_quarter(const sm_group_tab *g, const uint16_t *mz, const float *code, size_t e0,
                     size_t e1, size_t n_low, const unsigned L, unsigned h, float32x4_t *acc,
                     float32x4_t *low)
{
    const float32x4_t firstf = vcvtq_f32_u32(vld1q_u32(g->first + h));
    float32x4_t a[8];
    for (unsigned s = 0; s < L; s++)
        a[s] = acc[s];
    size_t e = e0;
    for (; e < e1 && e < n_low; e++) {
        const float *c = code + (e - e0) * L;
        float32x4_t row = vld1q_f32(g->bw + (size_t)mz[e] * SM_GROUP + h);
        float m = (float)mz[e];
        uint32x4_t under = vcltq_f32(vdupq_n_f32(m), firstf);
        for (unsigned s = 0; s < L; s++) {
            a[s] = vfmaq_n_f32(a[s], row, c[s]);
            float32x4_t add = vreinterpretq_f32_u32(
                vandq_u32(under, vreinterpretq_u32_f32(vdupq_n_f32(m * c[s] * c[s]))));
            low[s] = vaddq_f32(low[s], add);
        }
    }
    for (; e < e1; e++) {
        const float *c = code + (e - e0) * L;
        float32x4_t row = vld1q_f32(g->bw + (size_t)mz[e] * SM_GROUP + h);
        for (unsigned s = 0; s < L; s++)
            a[s] = vfmaq_n_f32(a[s], row, c[s]);
    }
    for (unsigned s = 0; s < L; s++)
        acc[s] = a[s];
}

#define SKETCH_CHUNK 64
static inline __attribute__((always_inline)) void
group_sketch_l_neon(const sm_group_tab *g, const uint16_t *mz, const uint8_t *val, size_t n,
                    const unsigned L, const float *norm, const uint16_t *first_mz,
                    uint16_t *pass)
{
    float32x4_t acc[4][8], low[4][8];
    for (unsigned q = 0; q < 4; q++)
        for (unsigned s = 0; s < 8; s++)
            acc[q][s] = low[q][s] = vdupq_n_f32(0.0f);
    unsigned max_first = 0;
    for (unsigned l = 0; l < SM_GROUP; l++)
        max_first = g->first[l] > max_first ? g->first[l] : max_first;
    size_t n_low = 0;
    while (n_low < n && mz[n_low] < max_first)
        n_low++;
    float code[SKETCH_CHUNK * 8];
    for (size_t e0 = 0; e0 < n; e0 += SKETCH_CHUNK) {
        size_t e1 = n - e0 > SKETCH_CHUNK ? e0 + SKETCH_CHUNK : n;
        const size_t nc = (e1 - e0) * L;
        for (size_t i = 0; i < nc; i++)
            code[i] = (float)val[e0 * L + i];
        for (unsigned q = 0; q < 4; q++)
            group_sketch_quarter(g, mz, code, e0, e1, n_low, L, 4 * q, acc[q], low[q]);
    }
    const float32x4_t zero = vdupq_n_f32(0.0f);
    for (unsigned s = 0; s < L; s++) {
        unsigned keep = 0;
        for (unsigned q = 0; q < 4; q++) {
            float32x4_t need = vld1q_f32(g->t1_need + 4 * q);
            float32x4_t nu = vld1q_f32(g->nu + (size_t)first_mz[s] * SM_GROUP + 4 * q);
            float32x4_t nl = vfmsq_n_f32(vdupq_n_f32(norm[s]), low[q][s], 1.001f / 64.0f);
            float32x4_t d = vmulq_n_f32(acc[q][s], 1.001f / 8.0f);
            uint32x4_t none = vceqq_f32(acc[q][s], zero);
            uint32x4_t low_t1 = vcltq_f32(vmulq_f32(d, d), vmulq_f32(vmulq_f32(need, nu), nl));
            low_t1 = vandq_u32(low_t1, vandq_u32(vcgtq_f32(nu, zero), vcgtq_f32(nl, zero)));
            uint32x4_t out = vandq_u32(vcgtq_f32(need, zero), vorrq_u32(none, low_t1));
            uint32_t bits[4];
            vst1q_u32(bits, out);
            keep |= ((~bits[0] & 1u) | (~bits[1] & 1u) << 1 | (~bits[2] & 1u) << 2 |
                     (~bits[3] & 1u) << 3)
                    << (4 * q);
        }
        pass[s] = (uint16_t)keep;
    }
}

SM_GROUP_SKETCH_ENTRY(group_sketch_neon, group_sketch_l_neon)

/* One peak of group_sums for the 4 lanes h .. h + 3 (masks are all-ones lanes), as in
 * the AVX2 kernel: LOW, m/z may be under some lane's first (the walk's first peaks
 * only), where `below` grows and links may not start. */
#define GROUP_STEP4(LOW)                                                                   \
    do {                                                                                   \
        unsigned m = mz[j], b = val[j];                                                    \
        size_t o = (size_t)m * SM_GROUP + h;                                               \
        uint32x4_t w = vld1q_u32(g->word + o);                                             \
        float32x4_t sa = vld1q_f32(g->sa + o);                                             \
        float32x4_t sb = vdupq_n_f32(g->sqrt_f[b]);                                        \
        uint32x4_t vm = vdupq_n_u32(m);                                                    \
        dot = vfmaq_f32(dot, vld1q_f32(g->bw + o), sb);                                    \
        uint32x4_t b_gt1 = vdupq_n_u32(b > 1 ? ~0u : 0u);                                  \
        uint32x4_t ge = ones;                                                              \
        if (LOW) {                                                                         \
            uint32x4_t lt = vcgtq_u32(first, vm);                                          \
            ge = vmvnq_u32(lt);                                                            \
            below = vaddq_f32(below, vreinterpretq_f32_u32(vandq_u32(                      \
                                         vandq_u32(lt, b_gt1),                             \
                                         vreinterpretq_u32_f32(vdupq_n_f32((float)(m * b))))));\
        }                                                                                  \
        uint32x4_t a_pos = vcgtq_f32(sa, zerof), a_gt1 = vcgtq_f32(sa, onef);              \
        uint32x4_t common = vandq_u32(a_pos, vorrq_u32(a_gt1, b_gt1));                     \
        n1 = vsubq_u32(n1, common);                                                        \
        uint32x4_t link = vandq_u32(vandq_u32(common, prev_ok),                            \
                                    vceqq_u32(vshrq_n_u32(w, 16), prev_cnt));              \
        uint32x4_t sure = vandq_u32(link, prev_common);                                    \
        float32x4_t p = vmulq_f32(sa, prev_sb), q = vmulq_f32(prev_sa, sb);                \
        float32x4_t v = vdivq_f32(vminq_f32(p, q), vmaxq_f32(p, q));                       \
        float32x4_t mf = vcvtq_f32_u32(vm);                                                \
        float32x4_t term = vbslq_f32(sure, vmulq_f32(mf, v), mf);                          \
        t2 = vaddq_f32(t2, vreinterpretq_f32_u32(                                          \
                               vandq_u32(vreinterpretq_u32_f32(term), link)));             \
        n2 = vsubq_u32(n2, link);                                                          \
        t2_den = vaddq_u32(t2_den, vandq_u32(vm, link));                                   \
        prev_ok = vandq_u32(ge, vorrq_u32(a_pos, vmvnq_u32(b_gt1)));                       \
        prev_cnt = vandq_u32(w, low16);                                                    \
        prev_common = common;                                                              \
        prev_sa = sa;                                                                      \
        prev_sb = sb;                                                                      \
    } while (0)

/* group_sums for lanes h .. h + 3; returns their bits of the lanes let through. The
 * quotient of term 2 is a division (exact to the float); the bound at the end is
 * sm_group_sums_scalar_'s estimate, four lanes at once. */
static unsigned group_quarter_neon(const sm_group_tab *g, const uint16_t *mz,
                                   const uint16_t *val, size_t n, double norm,
                                   sm_group_sums *out, unsigned h)
{
    const uint32x4_t low16 = vdupq_n_u32(0xffffu), zero = vdupq_n_u32(0);
    const uint32x4_t ones = vdupq_n_u32(~0u);
    const float32x4_t zerof = vdupq_n_f32(0.0f), onef = vdupq_n_f32(1.0f);
    const uint32x4_t first = vld1q_u32(g->first + h);
    float32x4_t dot = zerof, t2 = zerof, below = zerof, prev_sa = zerof, prev_sb = zerof;
    uint32x4_t n1 = zero, n2 = zero, t2_den = zero, prev_cnt = zero, prev_ok = zero;
    uint32x4_t prev_common = zero;
    unsigned max_first = vmaxvq_u32(first);
    size_t j = 0;
    for (; j < n && mz[j] < max_first; j++)
        GROUP_STEP4(1);
    for (; j < n; j++)
        GROUP_STEP4(0);
    vst1q_f32(out->dot + h, dot);
    vst1q_f32(out->t2_num + h, t2);
    vst1q_u32(out->n1 + h, n1);
    vst1q_u32(out->n2 + h, n2);
    vst1q_u32(out->t2_den + h, t2_den);
    const float32x4_t floor = vld1q_f32(g->floor + h);
    uint32x4_t through;
    if (n == 0) {
        /* (not below the floor: NaN floors count as not below) */
        through = vmvnq_u32(vcltq_f32(vdupq_n_f32(-0.5f * 1.001f + 0.02f), floor));
    } else {
        const float32x4_t slack = vdupq_n_f32(1.001f), vnorm = vdupq_n_f32((float)norm);
        float32x4_t nu = vld1q_f32(g->nu + (size_t)mz[0] * SM_GROUP + h);
        float32x4_t nl = vsubq_f32(vnorm, below);
        uint32x4_t norms = vandq_u32(vcgtq_f32(nu, zerof),
                                     vcgtq_f32(nl, vmulq_f32(vnorm, vdupq_n_f32(1e-3f))));
        float32x4_t dw = vmulq_f32(dot, slack);
        float32x4_t t1 = vbslq_f32(norms, vdivq_f32(vmulq_f32(dw, dw), vmulq_f32(nu, nl)), onef);
        t1 = vminq_f32(t1, onef);
        float32x4_t r = vminq_f32(vdivq_f32(vmulq_f32(t2, slack), vcvtq_f32_u32(t2_den)), onef);
        float32x4_t n1f = vcvtq_f32_u32(n1), n2f = vcvtq_f32_u32(n2);
        float32x4_t mean = vdivq_f32(vfmaq_f32(vmulq_f32(n2f, r), n1f, t1), vaddq_f32(n1f, n2f));
        uint32x4_t use_mean = vandq_u32(vmvnq_u32(vceqq_u32(n2, zero)), vcgtq_f32(r, t1));
        float32x4_t t = vbslq_f32(use_mean, mean, t1);
        float32x4_t bound = vsubq_f32(vmulq_f32(t, vdupq_n_f32(1000.0f)), vdupq_n_f32(0.5f));
        bound = vbslq_f32(vceqq_u32(n1, zero), vdupq_n_f32(-0.5f), bound);
        float32x4_t widened = vfmaq_f32(vdupq_n_f32(0.02f), bound, slack);
        through = vmvnq_u32(vcltq_f32(widened, floor));
    }
    uint32_t bits[4];
    vst1q_u32(bits, through);
    return ((bits[0] & 1u) | (bits[1] & 1u) << 1 | (bits[2] & 1u) << 2 | (bits[3] & 1u) << 3)
           << h;
}

/* The 16 lanes four at a time (four vectors a quarter's state, in registers). */
static unsigned group_sums_neon(const sm_group_tab *g, const uint16_t *mz, const uint16_t *val,
                                size_t n, double norm, sm_group_sums *out)
{
    unsigned pass = 0;
    for (unsigned h = 0; h < SM_GROUP; h += 4)
        pass |= group_quarter_neon(g, mz, val, n, norm, out, h);
    return pass;
}

const sm_kernel sm_kernel_neon_ = {
    .name = "neon",
    .dot = dot_neon,
    .axpy = axpy_neon,
    .axpy_u8 = axpy_u8_neon,
    /* NEON has no gather and the bound looks up one entry per peak: the plain C
     * loop (not measured on an ARM machine) */
    .bound_sums = sm_bound_sums_scalar_,
    .unpack = sm_unpack_scalar_,
    .sketch_sums = sketch_sums_neon,
    .group_sums = group_sums_neon,
    .group_sketch = group_sketch_neon,
};
