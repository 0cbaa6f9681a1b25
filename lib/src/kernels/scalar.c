/* scalar.c — the reference kernels: plain loops, sequential float accumulation, any ISA. */
#include <math.h>
#include <string.h>
#include <stdbool.h>

#include "kernels.h"

static float dot_scalar(const float *a, const float *b, size_t n)
{
    float s = 0.0f;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static void axpy_scalar(float a, const float *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

/* y[i] += a * x[i] for bytes x: the quantized envelopes. */
static void axpy_u8_scalar(float a, const uint8_t *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] += a * (float)x[i];
}

static void axpy4_u8_scalar(const float a[4], const uint8_t *const x[4], float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] += a[0] * (float)x[0][i] + a[1] * (float)x[1][i] + a[2] * (float)x[2][i] +
                a[3] * (float)x[3][i];
}

/* One peak of bound_sums. The float sums go to one of four running sums each, so
 * that the additions do not wait on each other. */
#define BOUND_STEP(J, DOT, T2)                                                           \
    do {                                                                                 \
        uint32_t m = mz[J], b = val[J], w = word[m], a = w & 0xffffu;                     \
        DOT += (float)m * sqrtf((float)(a * b));                                         \
        below += (uint64_t)((m < lo) & (b > 1)) * m * b;                                 \
        uint32_t common = (a > 0) & ((a > 1) | (b > 1));                                 \
        n1 += common;                                                                    \
        /* the count at m - 1: the one at m less the peak at m */                        \
        uint32_t link = common & prev_ok & (((w >> 16) - (a > 1)) == prev_cnt);          \
        float x1 = (float)(a * prev_b), x2 = (float)(prev_a * b);                        \
        float hi = x1 > x2 ? x1 : x2, lo_x = x1 > x2 ? x2 : x1;                          \
        float v = (link & prev_common) && hi > 0.0f ? sqrtf(lo_x / hi) : 1.0f;           \
        T2 += link ? (float)m * v : 0.0f;                                                \
        t2_den += (uint64_t)link * m;                                                    \
        n2 += link;                                                                      \
        prev_ok = (m >= lo) & !((a == 0) & (b > 1));                                     \
        prev_cnt = w >> 16;                                                              \
        prev_common = common;                                                            \
        prev_a = a;                                                                      \
        prev_b = b;                                                                      \
    } while (0)

void sm_bound_sums_scalar_(const uint32_t *word, const uint16_t *mz, const uint16_t *val,
                           size_t n, unsigned lo, sm_bound_sums *out)
{
    float d0 = 0.0f, d1 = 0.0f, d2 = 0.0f, d3 = 0.0f;
    float r0 = 0.0f, r1 = 0.0f, r2 = 0.0f, r3 = 0.0f;
    uint64_t below = 0, t2_den = 0;
    uint32_t n1 = 0, n2 = 0;
    uint32_t prev_ok = 0, prev_cnt = 0, prev_common = 0, prev_a = 0, prev_b = 0;
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        BOUND_STEP(j, d0, r0);
        BOUND_STEP(j + 1, d1, r1);
        BOUND_STEP(j + 2, d2, r2);
        BOUND_STEP(j + 3, d3, r3);
    }
    for (; j < n; j++)
        BOUND_STEP(j, d0, r0);
    out->dot = (d0 + d1) + (d2 + d3);
    out->t2_num = (r0 + r1) + (r2 + r3);
    out->t2_den = t2_den;
    out->below = below;
    out->n1 = n1;
    out->n2 = n2;
}

/* group_sums lane by lane: bound_sums' walk for each query of the group, with the
 * square roots of term 2 taken from the tables (kernels.h), then the float estimate
 * of the lane's bound against its floor. */
unsigned sm_group_sums_scalar_(const sm_group_tab *g, const uint16_t *mz, const uint16_t *val,
                               size_t n, double norm, sm_group_sums *out)
{
    unsigned pass = 0;
    for (unsigned l = 0; l < SM_GROUP; l++) {
        float dot = 0.0f, t2 = 0.0f, below = 0.0f;
        uint32_t n1 = 0, n2 = 0, t2_den = 0, first = g->first[l];
        uint32_t prev_ok = 0, prev_cnt = 0, prev_common = 0;
        float prev_sa = 0.0f, prev_sb = 0.0f;
        for (size_t j = 0; j < n; j++) {
            uint32_t m = mz[j], b = val[j], w = g->word[(size_t)m * SM_GROUP + l];
            float sa = g->sa[(size_t)m * SM_GROUP + l], sb = g->sqrt_f[b];
            uint32_t a_pos = sa > 0.0f, a_gt1 = sa > 1.0f; /* a > 0, a > 1 */
            dot += g->bw[(size_t)m * SM_GROUP + l] * sb;
            if (m < first && b > 1)
                below += (float)(m * b);
            uint32_t common = a_pos & (a_gt1 | (b > 1));
            n1 += common;
            uint32_t link = common & prev_ok & ((w >> 16) == prev_cnt);
            if (link) {
                float v = 1.0f;
                if (prev_common) {
                    float p = sa * prev_sb, q = prev_sa * sb;
                    v = p < q ? p / q : q / p;
                }
                t2 += (float)m * v;
                t2_den += m;
                n2++;
            }
            prev_ok = (m >= first) & !(!a_pos & (b > 1));
            prev_cnt = w & 0xffffu;
            prev_common = common;
            prev_sa = sa;
            prev_sb = sb;
        }
        out->dot[l] = dot;
        out->t2_num[l] = t2;
        out->n1[l] = n1;
        out->n2[l] = n2;
        out->t2_den[l] = t2_den;
        float bound = -0.5f;
        if (n > 0 && n1 > 0) {
            float nu = g->nu[(size_t)mz[0] * SM_GROUP + l], nl = (float)norm - below;
            float t1 = 1.0f;
            if (nu > 0.0f && nl > 1e-3f * (float)norm) {
                float dw = dot * 1.001f;
                t1 = dw * dw / (nu * nl);
                t1 = t1 < 1.0f ? t1 : 1.0f;
            }
            bound = 1000.0f * t1 - 0.5f;
            if (n2 > 0) {
                float r = t2 * 1.001f / (float)t2_den;
                r = r < 1.0f ? r : 1.0f;
                if (r > t1)
                    bound = 1000.0f * ((float)n1 * t1 + (float)n2 * r) / (float)(n1 + n2) - 0.5f;
            }
        }
        if (!(bound * 1.001f + 0.02f < g->floor[l]))
            pass |= 1u << l;
    }
    return pass;
}

size_t sm_unpack_scalar_(const uint16_t *w, size_t nw, uint16_t *mz, uint16_t *in)
{
    unsigned m = ~0u; /* -1: the first step lands on the first m/z */
    size_t n = 0;
    for (size_t j = 0; j < nw; j++) {
        unsigned x = w[j], i = x & SM_PACK_INT_MASK, d = (x >> 10) + 1;
        m += i != 0 ? d : d * SM_PACK_STEP;
        mz[n] = (uint16_t)m; /* written always, kept only for a peak */
        in[n] = (uint16_t)i;
        n += i != 0;
    }
    return n;
}

/* block_bounds in double (kernels.h); also what kernels without one use. */
static void block_bounds_scalar(float *acc, const float *ratio, const uint16_t *max_first,
                                size_t n, const float *nu_f, unsigned first, unsigned last,
                                uint16_t *bucket, float bucket_mf, unsigned top_bucket)
{
    for (size_t b = 0; b < n; b++) {
        unsigned lo = first > max_first[b] ? first : max_first[b];
        /* A member that starts past the query's last peak has nothing in common (MF
         * -0.5); the others start at or before it, where the query's norm is at least
         * its norm from the last peak on (0 when that peak is of intensity 1: no bound). */
        if (lo > last)
            lo = last;
        double nu = nu_f[lo];
        double a = (double)acc[b] * ratio[b] * 1.0005;
        double t1 = nu > 0 ? a * a / nu : 0;
        if (!(t1 < 1.0))
            t1 = 1.0;
        /* acc 0: no spectrum of the block has a peak at any of the query's m/z (every
         * peak leaves a byte of 1 at least), so none has anything in common: -0.5 */
        double bound = acc[b] == 0.0f ? -0.5 : nu > 0 ? 1000.0 * (t1 + 1.0) / 2.0 - 0.5 : 999.5;
        /* float's step near 1000 is 6e-5: 0.001 more keeps it above the bound */
        acc[b] = (float)(bound + 0.001);
        unsigned k = bound <= 0 ? 0 : (unsigned)(bound / bucket_mf);
        bucket[b] = (uint16_t)(k > top_bucket ? top_bucket : k);
    }
}

static size_t collect_u16_scalar(const uint16_t *key, size_t n, unsigned want, uint32_t *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (key[i] == want)
            out[k++] = (uint32_t)i;
    return k;
}

/* Entry by entry; the entries at m/z the query lacks (most of them) add nothing. */
static void sketch_sums_scalar(const float *bw, const uint16_t *mz, const uint8_t *val, size_t n,
                               unsigned lanes, unsigned first, float *dot, float *below)
{
    for (unsigned s = 0; s < lanes; s++)
        dot[s] = below[s] = 0.0f;
    size_t e = 0;
    for (; e < n && mz[e] < first; e++)
        for (unsigned s = 0; s < lanes; s++) {
            float c = (float)val[e * lanes + s];
            below[s] += (float)mz[e] * (c * c);
        }
    for (; e < n; e++) {
        float b = bw[mz[e]];
        if (b == 0.0f)
            continue;
        for (unsigned s = 0; s < lanes; s++)
            dot[s] += b * (float)val[e * lanes + s];
    }
}

/* Entry by entry, score.c's walk for all the block's spectra at once, a byte each of
 * 64-bit words (the high bit of a byte a flag): `prev` flags the spectra whose last
 * peak that counts (not passed over) was in common. A query peak above 1 that no
 * spectrum of the block has (the query's count before an entry past its count at the
 * entry before) breaks every chain. The counts add up in bytes, flushed before they
 * can wrap; no branch on the data. */
static void sketch_links_scalar(const uint32_t *word, const uint16_t *mz, const uint8_t *val,
                                size_t n, unsigned lanes, uint32_t *n1, uint32_t *n2)
{
    const uint64_t hi = 0x8080808080808080u, lo7 = 0x7F7F7F7F7F7F7F7Fu;
    uint64_t prev = 0, c1 = 0, c2 = 0;
    uint32_t cnt_prev = 0;
    unsigned since = 0;
    for (unsigned s = 0; s < lanes; s++)
        n1[s] = n2[s] = 0;
    for (size_t e = 0; e < n; e++) {
        uint32_t w = word[mz[e]], a = w & 0xFFFFu, cnt = w >> 16;
        uint64_t x = 0; /* the codes, 8: intensity 1, above 8: above 1 */
        if (lanes == 8) {
            memcpy(&x, val + e * 8, 8);
        } else {
            uint32_t x4;
            memcpy(&x4, val + e * 4, 4);
            x = x4;
        }
        uint64_t nz = (((x & lo7) + lo7) | x) & hi;
        uint64_t gt8 = (((x & lo7) + 0x7777777777777777u) | x) & hi;
        uint64_t g1 = 0 - (uint64_t)(a > 1), e1 = 0 - (uint64_t)(a == 1);
        uint64_t z0 = 0 - (uint64_t)(a == 0);
        uint64_t common = (nz & g1) | (gt8 & e1);
        uint64_t brk = (~nz & hi & g1) | (gt8 & z0); /* in one spectrum only, above 1 */
        prev &= 0 - (uint64_t)(cnt - (a > 1) == cnt_prev);
        cnt_prev = cnt;
        c1 += common >> 7;
        c2 += (common & prev) >> 7;
        prev = common | (prev & ~brk);
        if (++since == 255 || e + 1 == n) {
            for (unsigned s = 0; s < lanes; s++) {
                n1[s] += (uint32_t)(c1 >> (8 * s)) & 0xFFu;
                n2[s] += (uint32_t)(c2 >> (8 * s)) & 0xFFu;
            }
            c1 = c2 = 0;
            since = 0;
        }
    }
}

void sm_group_sketch_scalar_(const sm_group_tab *g, const uint16_t *mz, const uint8_t *val,
                             size_t n, unsigned lanes, const float *norm,
                             const uint16_t *first_mz, uint16_t *pass)
{
    for (unsigned s = 0; s < lanes; s++) {
        unsigned keep = 0;
        for (unsigned l = 0; l < SM_GROUP; l++) {
            float dot = 0.0f, below = 0.0f, need = g->t1_need[l];
            for (size_t e = 0; e < n; e++) {
                float c = (float)val[e * lanes + s];
                dot += g->bw[(size_t)mz[e] * SM_GROUP + l] * c;
                if (mz[e] < g->first[l])
                    below += (float)mz[e] * (c * c);
            }
            float nu = g->nu[(size_t)first_mz[s] * SM_GROUP + l];
            float nl = norm[s] - below * (1.001f / 64.0f), d = dot * (1.001f / 8.0f);
            bool out = need > 0.0f &&
                       (dot == 0.0f || (nu > 0.0f && nl > 0.0f && d * d < need * nu * nl));
            keep |= (unsigned)!out << l;
        }
        pass[s] = (uint16_t)keep;
    }
}

const sm_kernel sm_kernel_scalar_ = {
    .name = "scalar",
    .dot = dot_scalar,
    .axpy = axpy_scalar,
    .axpy_u8 = axpy_u8_scalar,
    .axpy4_u8 = axpy4_u8_scalar,
    .bound_sums = sm_bound_sums_scalar_,
    .unpack = sm_unpack_scalar_,
    .group_sums = sm_group_sums_scalar_,
    .block_bounds = block_bounds_scalar,
    .collect_u16 = collect_u16_scalar,
    .sketch_sums = sketch_sums_scalar,
    .sketch_links = sketch_links_scalar,
    .group_sketch = sm_group_sketch_scalar_,
};
