/* test_kernels.c — every kernel this CPU can run against the scalar reference (the bound counts also against their definitions), and the kernel choice (SPECMATCH_KERNEL, sm_kernel_select). */
#include <sys/wait.h>

#include "test_common.h"

#include "kernels/kernels.h"
#include "sm_internal.h"

#define MAXN 1040
#define MAXOFF 3
#define BOUND_MAXN 2500 /* past the 2,048 peaks where the SIMD bound_sums hand over */

/* Fixed-seed LCG (Numerical Recipes constants): the same data on every run. */
static uint32_t lcg_state;
static uint32_t lcg(void)
{
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return lcg_state;
}
static float rnd(void) /* uniform in [-1, 1) */
{
    return (float)(lcg() >> 8) / 8388608.0f - 1.0f;
}

static const size_t lengths[] = {65, 67, 99, 127, 129, 255, 257, 511, 513, 1023, 1025, 1031};

/* Sums: kernels add in different orders, so allow 1e-5 of the sum of |terms| (the
 * condition of the sum: for same-sign terms it is a 1e-5 relative tolerance on the
 * result) plus 1e-6 absolute for sums near zero. */
static void check_sum(const char *kname, const char *what, size_t n, float got, float want,
                      double abs_terms)
{
    double tol = 1e-5 * abs_terms + 1e-6;
    if (!(fabs((double)got - (double)want) <= tol))
        fail_msg("%s %s n=%zu: %.9g, scalar %.9g (tolerance %g)", kname, what, n, (double)got,
                 (double)want, tol);
}

static void check_dot(const sm_kernel *k, size_t n, size_t oa, size_t ob, bool zeros)
{
    static float abuf[MAXN + MAXOFF], bbuf[MAXN + MAXOFF];
    float *a = abuf + oa, *b = bbuf + ob;
    double terms = 0;
    for (size_t i = 0; i < n; i++) {
        a[i] = zeros ? 0.0f : rnd();
        b[i] = zeros ? 0.0f : rnd();
        terms += fabs((double)a[i] * b[i]);
    }
    float want = sm_kernel_scalar_.dot(a, b, n);
    float got = k->dot(a, b, n);
    if (zeros || n == 0)
        assert_true(got == 0.0f);
    check_sum(k->name, "dot", n, got, want, terms);
}

static void check_axpy(const sm_kernel *k, size_t n, size_t ox, size_t oy, bool zeros)
{
    static float xbuf[MAXN + MAXOFF], ybuf[MAXN + MAXOFF + 8], want[MAXN + 8];
    float *x = xbuf + ox, *y = ybuf + oy;
    float a = zeros ? 0.0f : rnd() * 4.0f;
    for (size_t i = 0; i < oy; i++)
        ybuf[i] = 1234.5f; /* guards before and after y: must stay */
    for (size_t i = 0; i < n; i++) {
        x[i] = zeros ? 0.0f : rnd();
        y[i] = zeros ? 0.0f : rnd();
    }
    for (size_t i = n; i < n + 8; i++)
        y[i] = 1234.5f;
    memcpy(want, y, (n + 8) * sizeof *want);
    sm_kernel_scalar_.axpy(a, x, want, n);
    k->axpy(a, x, y, n);
    for (size_t i = 0; i < oy; i++)
        assert_true(ybuf[i] == 1234.5f);
    for (size_t i = 0; i < n; i++) {
        /* A fused multiply-add rounds once, y + a*x twice: allow those roundings. */
        double ax = fabs((double)a * x[i]);
        double tol = 1e-6 * (fabs((double)want[i]) + 2.0 * ax) + 1e-30;
        if (!(fabs((double)y[i] - (double)want[i]) <= tol))
            fail_msg("%s axpy n=%zu i=%zu: %.9g, scalar %.9g", k->name, n, i, (double)y[i],
                     (double)want[i]);
    }
    for (size_t i = n; i < n + 8; i++)
        assert_true(y[i] == 1234.5f);
}

/* Bytes: every value 0..255 appears, products are exact in float, so only the
 * rounding of the addition (fused or not) may differ. */
static void check_axpy_u8(const sm_kernel *k, size_t n, size_t ox, size_t oy, bool zeros)
{
    static uint8_t xbuf[MAXN + MAXOFF + 64];
    static float ybuf[MAXN + MAXOFF + 8], want[MAXN + 8];
    uint8_t *x = xbuf + ox;
    float *y = ybuf + oy;
    float a = zeros ? 0.0f : rnd() * 0.01f;
    for (size_t i = 0; i < oy; i++)
        ybuf[i] = 1234.5f;
    for (size_t i = 0; i < n + 64; i++)
        x[i] = (uint8_t)(zeros ? 0 : (i < n ? lcg() >> 24 : 0xAB)); /* bytes past n differ */
    for (size_t i = 0; i < n; i++)
        y[i] = zeros ? 0.0f : rnd();
    for (size_t i = n; i < n + 8; i++)
        y[i] = 1234.5f;
    memcpy(want, y, (n + 8) * sizeof *want);
    sm_kernel_scalar_.axpy_u8(a, x, want, n);
    k->axpy_u8(a, x, y, n);
    for (size_t i = 0; i < oy; i++)
        assert_true(ybuf[i] == 1234.5f);
    for (size_t i = 0; i < n; i++) {
        double ax = fabs((double)a * x[i]);
        double tol = 1e-6 * (fabs((double)want[i]) + 2.0 * ax) + 1e-30;
        if (!(fabs((double)y[i] - (double)want[i]) <= tol))
            fail_msg("%s axpy_u8 n=%zu i=%zu: %.9g, scalar %.9g", k->name, n, i, (double)y[i],
                     (double)want[i]);
    }
    for (size_t i = n; i < n + 8; i++)
        assert_true(y[i] == 1234.5f);
}


/* Four (axpy4_u8) or eight (axpy8_u8) rows of bytes at once against as many scalar
 * axpy_u8 passes: the same sums in another order (fused or not), so within the
 * rounding of that many additions. */
static void check_axpy_rows(const sm_kernel *k, unsigned rows, size_t n, size_t ox, size_t oy,
                            bool zeros)
{
    static uint8_t xbuf[8][MAXN + MAXOFF + 64];
    static float ybuf[MAXN + MAXOFF + 8], want[MAXN + 8];
    const uint8_t *x[8];
    float a[8];
    float *y = ybuf + oy;
    for (unsigned r = 0; r < rows; r++) {
        uint8_t *xr = xbuf[r] + (ox + (size_t)r) % (MAXOFF + 1);
        for (size_t i = 0; i < n + 64; i++)
            xr[i] = (uint8_t)(zeros ? 0 : (i < n ? lcg() >> 24 : 0xAB));
        x[r] = xr;
        a[r] = zeros ? 0.0f : rnd() * 0.01f;
    }
    for (size_t i = 0; i < oy; i++)
        ybuf[i] = 1234.5f;
    for (size_t i = 0; i < n; i++)
        y[i] = zeros ? 0.0f : rnd();
    for (size_t i = n; i < n + 8; i++)
        y[i] = 1234.5f;
    memcpy(want, y, (n + 8) * sizeof *want);
    for (unsigned r = 0; r < rows; r++)
        sm_kernel_scalar_.axpy_u8(a[r], x[r], want, n);
    if (rows == 8)
        k->axpy8_u8(a, x, y, n);
    else
        k->axpy4_u8(a, x, y, n);
    for (size_t i = 0; i < oy; i++)
        assert_true(ybuf[i] == 1234.5f);
    for (size_t i = 0; i < n; i++) {
        double terms = fabs((double)want[i]);
        for (unsigned r = 0; r < rows; r++)
            terms += 2.0 * fabs((double)a[r] * x[r][i]);
        if (!(fabs((double)y[i] - (double)want[i]) <= 2e-6 * terms + 1e-30))
            fail_msg("%s axpy%u_u8 n=%zu i=%zu: %.9g, %u axpy_u8 %.9g", k->name, rows, n, i,
                     (double)y[i], rows, (double)want[i]);
    }
    for (size_t i = n; i < n + 8; i++)
        assert_true(y[i] == 1234.5f);
}

/* The counts of bound_sums by their definitions in kernels.h, walked with branches:
 * an independent reading against which the scalar kernel is held. */
static void bound_counts_ref(const uint32_t *word, const uint16_t *mz, const uint16_t *val,
                             size_t n, unsigned lo, sm_bound_sums *out)
{
    *out = (sm_bound_sums){0};
    for (size_t j = 0; j < n; j++) {
        unsigned m = mz[j], b = val[j], a = word[m] & 0xffffu;
        if (m < lo && b > 1)
            out->below += (uint64_t)m * b;
        if (!(a > 0 && (a > 1 || b > 1)))
            continue;
        out->n1++;
        if (j == 0)
            continue;
        unsigned pm = mz[j - 1], pb = val[j - 1], pa = word[pm] & 0xffffu;
        bool breaker = pa == 0 && pb > 1;
        /* query peaks above 1 strictly between the two */
        unsigned between = (word[m - 1] >> 16) - (word[pm] >> 16);
        if (pm >= lo && !breaker && between == 0) {
            out->n2++;
            out->t2_den += m;
            if (pa > 0 && (pa > 1 || pb > 1)) { /* the ratio against a common predecessor */
                double r = sqrt((double)a / b * pb / pa);
                out->t2_num += (float)(m * (r < 1 ? r : 1 / r));
            } else {
                out->t2_num += (float)m;
            }
        }
    }
}

static void check_bound(const sm_kernel *k, size_t n, size_t oi, size_t ov, bool zeros)
{
    enum { BINS = SM_MAX_NOMINAL_MZ + 2 };
    static uint32_t wbuf[BINS + 1];
    static float bw[BINS];
    static uint16_t ibuf[BOUND_MAXN + MAXOFF], vbuf[BOUND_MAXN + MAXOFF];
    uint32_t *word = wbuf + 1;
    uint16_t *mz = ibuf + oi, *val = vbuf + ov;
    /* a query on about a third of the bins, a quarter of its peaks at intensity 1 */
    uint32_t cnt = 0;
    wbuf[0] = 0;
    for (unsigned m = 0; m < BINS; m++) {
        uint32_t a = 0;
        if (!zeros && m > 0 && lcg() % 3 == 0)
            a = lcg() % 4 == 0 ? 1 : 2 + lcg() % (SM_BASE_PEAK - 1);
        cnt += a > 1;
        word[m] = a | cnt << 16;
        bw[m] = (float)(m * sqrt((double)a));
    }
    /* library peaks: n distinct m/z ascending, from 1 up */
    unsigned m = 0;
    double terms = 0;
    for (size_t j = 0; j < n; j++) {
        /* steps of 1 to 3, of 1 or 2 past 1,500 peaks: m/z stays <= 5,000 */
        m += 1 + (lcg() % 2 == 0 ? 0 : lcg() % (n > 1500 ? 2 : 3));
        mz[j] = (uint16_t)m;
        val[j] = (uint16_t)(lcg() % 5 == 0 ? 1 : 2 + lcg() % (SM_BASE_PEAK - 1));
        terms += fabs((double)bw[m] * sqrt((double)val[j]));
    }
    unsigned lo = 1 + lcg() % 80;
    sm_bound_sums want, got, ref;
    bound_counts_ref(word, mz, val, n, lo, &ref);
    sm_kernel_scalar_.bound_sums(word, mz, val, n, lo, &want);
    k->bound_sums(word, mz, val, n, lo, &got);
    if (want.n1 != ref.n1 || want.n2 != ref.n2 || want.below != ref.below ||
        want.t2_den != ref.t2_den)
        fail_msg("scalar bound_sums n=%zu lo=%u: n1 %u n2 %u below %llu t2_den %llu, by "
                 "definition %u %u %llu %llu", n, lo, want.n1, want.n2,
                 (unsigned long long)want.below, (unsigned long long)want.t2_den, ref.n1, ref.n2,
                 (unsigned long long)ref.below, (unsigned long long)ref.t2_den);
    check_sum("scalar", "bound_sums t2_num by definition", n, want.t2_num, ref.t2_num,
              (double)ref.t2_den);
    if (got.n1 != want.n1 || got.n2 != want.n2 || got.below != want.below ||
        got.t2_den != want.t2_den)
        fail_msg("%s bound_sums n=%zu lo=%u: n1 %u n2 %u below %llu t2_den %llu, scalar %u "
                 "%u %llu %llu", k->name, n, lo, got.n1, got.n2, (unsigned long long)got.below,
                 (unsigned long long)got.t2_den, want.n1, want.n2,
                 (unsigned long long)want.below, (unsigned long long)want.t2_den);
    if (zeros || n == 0)
        assert_true(got.dot == 0.0f && got.t2_num == 0.0f && got.n1 == 0 && got.n2 == 0);
    check_sum(k->name, "bound_sums dot", n, got.dot, want.dot, terms);
    check_sum(k->name, "bound_sums t2_num", n, got.t2_num, want.t2_num, (double)want.t2_den);
}

/* Packs s, checks the word count against the format's rule, unpacks with k (output
 * at offset off, input at offset woff: unaligned) and compares with s. */
static void check_unpack_one(const sm_kernel *k, sm_nominal s, size_t off, size_t woff)
{
    static uint16_t w[SM_MAX_NOMINAL_MZ + 1 + MAXOFF];
    static uint16_t mz[SM_MAX_NOMINAL_MZ + 1 + MAXOFF], in[SM_MAX_NOMINAL_MZ + 1 + MAXOFF];
    size_t nw = sm_pack_(s, NULL);
    assert_true(nw <= SM_MAX_NOMINAL_MZ + 1);
    assert_int_equal(sm_pack_(s, w + woff), nw);
    /* words: one a peak, plus escapes for each step over 64 */
    size_t want = s.n;
    for (size_t j = 0; j < s.n; j++) {
        long d = (long)s.mz[j] - (j ? (long)s.mz[j - 1] : -1);
        while (d > SM_PACK_STEP) {
            long e = (d - 1) / SM_PACK_STEP;
            d -= (e > 64 ? 64 : e) * SM_PACK_STEP;
            want++;
        }
    }
    assert_int_equal(nw, want);
    memset(mz, 0xA5, sizeof mz);
    memset(in, 0xA5, sizeof in);
    size_t n = k->unpack(w + woff, nw, mz + off, in + off);
    if (n != s.n)
        fail_msg("%s unpack: %zu peaks, expected %zu", k->name, n, s.n);
    for (size_t j = 0; j < n; j++)
        if (mz[off + j] != s.mz[j] || in[off + j] != s.intensity[j])
            fail_msg("%s unpack: peak %zu is (%u, %u), expected (%u, %u)", k->name, j,
                     mz[off + j], in[off + j], s.mz[j], s.intensity[j]);
    for (size_t j = 0; j < off; j++) /* nothing written before the output */
        assert_int_equal(mz[j], 0xA5A5);
}

/* Packed peaks back as they were: every step size (1, 64, 65, 4,096, 4,160 and more
 * with escapes), m/z 0 and 5,000, intensities 1 and 999, empty, one peak, every m/z. */
static void check_unpack(const sm_kernel *k)
{
    static uint16_t mz[SM_MAX_NOMINAL_MZ + 1], in[SM_MAX_NOMINAL_MZ + 1];
    sm_nominal s = {0, mz, in};
    check_unpack_one(k, s, 0, 0);
    /* all 5,001 m/z, then every other, then sparse random ones */
    for (unsigned stride = 1; stride <= 3; stride++) {
        s.n = 0;
        for (unsigned m = 0; m <= SM_MAX_NOMINAL_MZ; m += stride) {
            mz[s.n] = (uint16_t)m;
            in[s.n++] = (uint16_t)(1 + lcg() % 999);
        }
        check_unpack_one(k, s, stride % 2, stride % 3);
    }
    static const unsigned steps[] = {1, 2, 63, 64, 65, 127, 128, 129, 4095, 4096, 4097,
                                     4160, 4161, 4999, 5000};
    for (size_t a = 0; a < sizeof steps / sizeof steps[0]; a++) {
        /* one peak at m/z step - 1 (its step from -1), then pairs step apart */
        s.n = 0;
        mz[s.n] = (uint16_t)(steps[a] - 1);
        in[s.n++] = 999;
        check_unpack_one(k, s, 1, 0);
        s.n = 0;
        for (unsigned m = 0; m <= SM_MAX_NOMINAL_MZ; m += steps[a]) {
            mz[s.n] = (uint16_t)m;
            in[s.n] = s.n % 2 ? 1 : 999;
            s.n++;
        }
        check_unpack_one(k, s, 2, 1);
    }
    for (int rep = 0; rep < 200; rep++) {
        s.n = 0;
        unsigned m = lcg() % 300;
        while (m <= SM_MAX_NOMINAL_MZ) {
            mz[s.n] = (uint16_t)m;
            in[s.n++] = (uint16_t)(1 + lcg() % 999);
            unsigned r = lcg() % 100;
            m += r < 80 ? 1 + lcg() % 8 : r < 95 ? 1 + lcg() % 100 : 1 + lcg() % 3000;
        }
        check_unpack_one(k, s, (size_t)rep % (MAXOFF + 1), (size_t)rep % 3);
    }
}

/* group_sums against bound_sums of the scalar kernel, lane by lane: 16 random
 * queries (every fifth lane left empty, as a group not full) against n library
 * peaks. Counts exact, float sums within their tolerance (term 2's quotients within
 * 2^-12 on top), and the lanes it lets through: every lane whose exact bound (from
 * the scalar sums) is not below its floor, none whose floor is 50 above it. */
static void check_group(const sm_kernel *k, size_t n, bool zeros)
{
    enum { BINS = SM_MAX_NOMINAL_MZ + 1 };
    static uint32_t qword[SM_GROUP][BINS + 1];
    static double suffix[SM_GROUP][BINS + 1];
    static uint16_t mz[BOUND_MAXN], val[BOUND_MAXN];
    size_t cells = (size_t)BINS * SM_GROUP;
    sm_group_tab g = {.n_tab = BINS};
    g.word = aligned_alloc(64, cells * sizeof *g.word);
    size_t half = (cells * sizeof *g.le + 63) & ~(size_t)63; /* a multiple of 64 */
    g.le = aligned_alloc(64, half);
    g.lt = aligned_alloc(64, half);
    g.bw = aligned_alloc(64, cells * sizeof *g.bw);
    g.sa = aligned_alloc(64, cells * sizeof *g.sa);
    g.nu = aligned_alloc(64, cells * sizeof *g.nu);
    assert_true(g.word && g.le && g.lt && g.bw && g.sa && g.nu);
    for (unsigned i = 0; i <= SM_BASE_PEAK; i++)
        g.sqrt_f[i] = sqrtf((float)i);
    for (unsigned l = 0; l < SM_GROUP; l++) {
        bool empty = zeros || l % 5 == 4;
        uint32_t cnt = 0;
        unsigned first = 0;
        qword[l][0] = 0; /* m/z -1 */
        for (unsigned m = 0; m < BINS; m++) {
            uint32_t a = 0;
            if (!empty && m > 0 && lcg() % 3 == 0)
                a = lcg() % 4 == 0 ? 1 : 2 + lcg() % (SM_BASE_PEAK - 1);
            if (a > 0 && first == 0)
                first = m;
            cnt += a > 1;
            qword[l][1 + m] = a | cnt << 16;
            g.bw[(size_t)m * SM_GROUP + l] = (float)((double)m * sqrt((double)a));
            g.sa[(size_t)m * SM_GROUP + l] = (float)sqrt((double)a);
        }
        /* a start past the first m/z of the library peaks now and then */
        if (!empty && l % 3 == 0) {
            first = 30 + lcg() % 60;
            for (unsigned m = 0; m < first; m++) {
                qword[l][1 + m] = 0;
                g.word[(size_t)m * SM_GROUP + l] = 0;
                g.bw[(size_t)m * SM_GROUP + l] = 0.0f;
                g.sa[(size_t)m * SM_GROUP + l] = 0.0f;
            }
            uint32_t c = 0;
            for (unsigned m = first; m < BINS; m++) {
                uint32_t a = qword[l][1 + m] & 0xffffu;
                c += a > 1;
                qword[l][1 + m] = a | c << 16;
            }
            while (first < BINS && (qword[l][1 + first] & 0xffffu) == 0)
                first++;
        }
        /* the group's word: counts up to m and up to m - 1; le and lt, the same */
        for (unsigned m = 0; m < BINS; m++) {
            size_t c = (size_t)m * SM_GROUP + l;
            g.word[c] = qword[l][1 + m] >> 16 | (qword[l][m] & 0xffff0000u);
            g.le[c] = (uint16_t)(qword[l][1 + m] >> 16);
            g.lt[c] = (uint16_t)(qword[l][m] >> 16);
        }
        double sum = 0;
        for (unsigned m = BINS; m-- > 0;) {
            uint32_t a = qword[l][1 + m] & 0xffffu;
            if (a > 1)
                sum += (double)m * a;
            suffix[l][m] = sum;
        }
        for (unsigned m = 0; m < BINS; m++) {
            double nu = suffix[l][m > first ? m : first];
            float f = (float)nu;
            g.nu[(size_t)m * SM_GROUP + l] = (double)f > nu ? nextafterf(f, 0.0f) : f;
        }
        g.first[l] = empty ? 0 : first;
    }
    unsigned m = 0;
    double norm = 0;
    for (size_t j = 0; j < n; j++) {
        m += 1 + (lcg() % 2 == 0 ? 0 : lcg() % (n > 1500 ? 2 : 3));
        mz[j] = (uint16_t)m;
        val[j] = (uint16_t)(lcg() % 5 == 0 ? 1 : 2 + lcg() % (SM_BASE_PEAK - 1));
        norm += val[j] > 1 ? (double)m * val[j] : 0;
    }
    sm_bound_sums want[SM_GROUP];
    double bound[SM_GROUP];
    for (unsigned l = 0; l < SM_GROUP; l++) {
        unsigned lo = n > 0 && mz[0] > g.first[l] ? mz[0] : g.first[l];
        sm_kernel_scalar_.bound_sums(qword[l] + 1, mz, val, n, lo, &want[l]);
        bound[l] = n == 0 ? -0.5
                          : sm_bound_from_sums_(suffix[l][lo], norm - (double)want[l].below,
                                                want[l].dot, want[l].n1, want[l].n2,
                                                want[l].t2_num, want[l].t2_den);
        /* a floor the bound just reaches (can_skip in search.c would keep it), or one
         * far above it; lanes not in use: +inf */
        bool empty = zeros || l % 5 == 4;
        g.floor[l] = empty ? INFINITY
                           : (float)(l % 2 ? bound[l] * 1.0005 + 0.01 : bound[l] + 50.0);
        if (!isfinite(bound[l]))
            g.floor[l] = INFINITY;
    }
    sm_group_sums got;
    unsigned pass = k->group_sums(&g, mz, val, n, norm, &got);
    for (unsigned l = 0; l < SM_GROUP; l++) {
        if (got.n1[l] != want[l].n1 || got.n2[l] != want[l].n2 ||
            got.t2_den[l] != want[l].t2_den)
            fail_msg("%s group_sums n=%zu lane %u: n1 %u n2 %u t2_den %u, bound_sums %u %u %llu",
                     k->name, n, l, got.n1[l], got.n2[l], got.t2_den[l], want[l].n1,
                     want[l].n2, (unsigned long long)want[l].t2_den);
        double terms = 0;
        for (size_t j = 0; j < n; j++)
            terms += (double)g.bw[(size_t)mz[j] * SM_GROUP + l] * sqrt((double)val[j]);
        check_sum(k->name, "group_sums dot", n, got.dot[l], want[l].dot, terms);
        double tol = (double)want[l].t2_den / 4096 + 1e-5 * (double)want[l].t2_den + 1e-6;
        if (!(fabs((double)got.t2_num[l] - (double)want[l].t2_num) <= tol))
            fail_msg("%s group_sums t2_num n=%zu lane %u: %.9g, bound_sums %.9g", k->name, n,
                     l, (double)got.t2_num[l], (double)want[l].t2_num);
        bool empty = zeros || l % 5 == 4;
        bool through = (pass >> l) & 1u;
        if (!empty && isfinite(bound[l]) && l % 2 && !through)
            fail_msg("%s group_sums n=%zu lane %u: bound %.4f at its floor left out", k->name,
                     n, l, bound[l]);
        if ((empty || l % 2 == 0) && through && isfinite(g.floor[l]))
            fail_msg("%s group_sums n=%zu lane %u: bound %.4f let through 50 below its floor",
                     k->name, n, l, bound[l]);
        if (empty && through)
            fail_msg("%s group_sums lane %u not in use let through", k->name, l);
    }
    free(g.word);
    free(g.le);
    free(g.lt);
    free(g.bw);
    free(g.sa);
    free(g.nu);
}

/* block_bounds against the definition in double (kernels.h): never below the bound
 * without the 1.0005 slack (it may exclude nothing the MF could reach), within
 * 0.01 above the one with it, the bucket its bound's, nothing written past n.
 * Blocks with a zero sum, with a zero norm where they start, starting past the
 * query's last peak or before its first. */
static void check_block_bounds(const sm_kernel *k, size_t n)
{
    enum { NB = 600, TOP = 16 };
    static float acc[NB + 16], ratio[NB + 16], nu_f[NB];
    static uint16_t first[NB + 16], bucket[NB + 16];
    const unsigned q_first = 40, q_last = 300;
    for (unsigned m = 0; m < NB; m++) /* a suffix norm: falling, 0 from m/z 290 on */
        nu_f[m] = m < 290 ? (float)((290 - m) * 1000) : 0.0f;
    float want[NB + 16];
    for (size_t b = 0; b < n + 16; b++) {
        bool in = b < n;
        acc[b] = in ? (lcg() % 7 == 0 ? 0.0f : (float)(lcg() % 100000) / 1000.0f) : 7.0f;
        ratio[b] = 1.0f + (float)(lcg() % 1000) / 1000.0f;
        first[b] = (uint16_t)(lcg() % 350);
        bucket[b] = 0xABCD;
        want[b] = acc[b];
    }
    k->block_bounds(acc, ratio, first, n, nu_f, q_first, q_last, bucket, 64.0f, TOP);
    for (size_t b = 0; b < n; b++) {
        unsigned lo = first[b] > q_first ? first[b] : q_first;
        if (lo > q_last)
            lo = q_last;
        double nu = nu_f[lo], a = (double)want[b] * ratio[b];
        double t1 = nu > 0 ? a * a / nu : 0, t1s = nu > 0 ? t1 * 1.0005 * 1.0005 : 0;
        double low = want[b] == 0.0f ? -0.5 : nu > 0 ? 500.0 * (fmin(t1, 1.0) + 1) - 0.5 : 999.5;
        double high = want[b] == 0.0f ? -0.5 : nu > 0 ? 500.0 * (fmin(t1s, 1.0) + 1) - 0.5 : 999.5;
        double got = (double)acc[b] - 0.001;
        if (!(got >= low - 1e-4 && got <= high + 0.01))
            fail_msg("%s block_bounds n=%zu block %zu: %.6f, want %.6f to %.6f", k->name, n, b,
                     got, low, high);
        unsigned want_bucket = got <= 0 ? 0 : (unsigned)(got / 64.0);
        if (want_bucket > TOP)
            want_bucket = TOP;
        /* the bucket may round down across an edge, never up */
        if (!(bucket[b] == want_bucket || ((unsigned)bucket[b] + 1 == want_bucket &&
                                            fabs(got - 64.0 * want_bucket) < 1e-3)))
            fail_msg("%s block_bounds n=%zu block %zu: bucket %u for %.6f", k->name, n, b,
                     bucket[b], got);
    }
    for (size_t b = n; b < n + 16; b++)
        assert_true(acc[b] == 7.0f && bucket[b] == 0xABCD);
}

/* collect_u16 against a loop: every index of the wanted key, ascending. */
static void check_collect(const sm_kernel *k, size_t n)
{
    static uint16_t key[MAXN + 64];
    static uint32_t got[MAXN + 64], want[MAXN + 64];
    for (size_t i = 0; i < n + 64; i++)
        key[i] = (uint16_t)(i < n ? lcg() % 5 : 3); /* past n: the wanted key, not to be read */
    size_t nw = 0;
    for (size_t i = 0; i < n; i++)
        if (key[i] == 3)
            want[nw++] = (uint32_t)i;
    size_t ng = k->collect_u16(key, n, 3, got);
    assert_int_equal(ng, nw);
    for (size_t i = 0; i < nw; i++)
        assert_int_equal(got[i], want[i]);
}

/* sketch_sums against the sums in double: n entries of `lanes` codes (some lanes all
 * zero, some codes past n that must add nothing), ascending m/z, query weights zero
 * at most m/z as in a search; the codes start at an odd offset. `first` puts none,
 * some or all of the entries below it. */
static void check_sketch(const sm_kernel *k, size_t n, unsigned lanes, bool zeros)
{
    static uint16_t mz[MAXN + 1];
    static uint8_t raw[(MAXN + 1) * 8 + 256 + 1];
    static float bw[SM_MAX_NOMINAL_MZ + 2];
    uint8_t *val = raw + 1;
    for (size_t m = 0; m < SM_MAX_NOMINAL_MZ + 2; m++)
        bw[m] = lcg() % 5 == 0 ? (float)(m * (1 + lcg() % 31)) / 3.0f : 0.0f;
    unsigned m = lcg() % 40;
    for (size_t e = 0; e < n; e++) {
        m += 1 + lcg() % 3;
        mz[e] = (uint16_t)(m <= SM_MAX_NOMINAL_MZ ? m : SM_MAX_NOMINAL_MZ);
        for (unsigned l = 0; l < lanes; l++)
            val[e * lanes + l] = (uint8_t)(zeros && l % 3 == 1 ? 0 : lcg() % 254);
    }
    for (size_t i = n * lanes; i < n * lanes + 256; i++)
        val[i] = 0xFF; /* read by the vector kernels, multiplied by a zero weight */
    unsigned firsts[3] = {0, n > 0 ? mz[n / 3] : 1, SM_MAX_NOMINAL_MZ + 1};
    for (unsigned f = 0; f < 3; f++) {
        float got[8], got_below[8];
        k->sketch_sums(bw, mz, val, n, lanes, firsts[f], got, got_below);
        for (unsigned l = 0; l < lanes; l++) {
            double want = 0, mag = 0, want_below = 0;
            for (size_t e = 0; e < n; e++) {
                double c = val[e * lanes + l];
                if (mz[e] < firsts[f]) {
                    want_below += mz[e] * c * c;
                } else {
                    want += (double)bw[mz[e]] * c;
                    mag += fabs((double)bw[mz[e]] * c);
                }
            }
            if (fabs((double)got[l] - want) > 1e-5 * mag + 1e-6 ||
                fabs((double)got_below[l] - want_below) > 2e-4 * want_below)
                fail_msg("%s sketch_sums n=%zu lanes %u first %u lane %u: %.9g, %.9g below; "
                         "want %.9g, %.9g",
                         k->name, n, lanes, firsts[f], l, (double)got[l], (double)got_below[l],
                         want, want_below);
        }
    }
}

/* group_sketch against its definition in double (kernels.h): a block of `lanes`
 * spectra over n entries (each spectrum at about half of them, codes of random
 * intensities, some spectra empty) and 16 queries (three lanes starting past the
 * library's first entries, one not in use). Each lane's need is put just above or
 * just below one spectrum's T1 bound, or at 0 or below. A lane it excludes must be
 * one the exact bound excludes (no slack); one the exact bound excludes by 2 % more
 * than the kernel's float slack must be excluded; a lane with need <= 0 never is. */
static void check_group_sketch(const sm_kernel *k, size_t n, unsigned lanes)
{
    enum { BINS = SM_MAX_NOMINAL_MZ + 1 };
    static uint16_t mz[MAXN + 1], inten[(MAXN + 1) * 8];
    static uint8_t val[(MAXN + 1) * 8 + 256];
    static double suffix[SM_GROUP][BINS + 1], qa[SM_GROUP][BINS];
    size_t cells = (size_t)BINS * SM_GROUP;
    sm_group_tab g = {.n_tab = BINS};
    g.bw = aligned_alloc(64, cells * sizeof *g.bw);
    g.nu = aligned_alloc(64, cells * sizeof *g.nu);
    assert_true(g.bw && g.nu);
    unsigned m = 1 + lcg() % 60;
    for (size_t e = 0; e < n; e++) {
        mz[e] = (uint16_t)(m < BINS ? m : BINS - 1);
        m += 1 + lcg() % 3;
        for (unsigned s = 0; s < lanes; s++) {
            bool has = s != 2 && (lcg() % 2 == 0 || e == (size_t)s);
            unsigned i = has ? (lcg() % 4 == 0 ? 1 : 1 + lcg() % SM_BASE_PEAK) : 0;
            inten[e * lanes + s] = (uint16_t)i;
            val[e * lanes + s] = (uint8_t)ceil(8.0 * sqrt((double)i));
        }
    }
    for (size_t i = n * lanes; i < n * lanes + 256; i++)
        val[i] = 0xFF; /* past the end: read, never counted */
    float norm[8];
    uint16_t first_mz[8];
    double normd[8];
    for (unsigned s = 0; s < lanes; s++) {
        normd[s] = 0;
        first_mz[s] = 0;
        for (size_t e = n; e-- > 0;) {
            unsigned i = inten[e * lanes + s];
            normd[s] += i > 1 ? (double)mz[e] * i : 0;
            if (i > 0)
                first_mz[s] = mz[e];
        }
        float f = (float)normd[s];
        norm[s] = (double)f > normd[s] ? nextafterf(f, 0.0f) : f;
    }
    for (unsigned l = 0; l < SM_GROUP; l++) {
        unsigned first = l % 5 == 1 ? 20 + lcg() % 80 : 1 + lcg() % 10, got_first = 0;
        bool empty = l == 7;
        for (unsigned q = 0; q < BINS; q++) {
            qa[l][q] = !empty && q >= first && lcg() % 3 == 0 ? 1 + lcg() % SM_BASE_PEAK : 0;
            if (qa[l][q] > 0 && got_first == 0)
                got_first = q;
            g.bw[(size_t)q * SM_GROUP + l] = (float)((double)q * sqrt(qa[l][q]));
        }
        double sum = 0;
        for (unsigned q = BINS; q-- > 0;) {
            sum += qa[l][q] > 1 ? (double)q * qa[l][q] : 0;
            suffix[l][q] = sum;
        }
        g.first[l] = got_first;
        for (unsigned q = 0; q < BINS; q++) {
            double nu = suffix[l][q > got_first ? q : got_first];
            float f = (float)nu;
            g.nu[(size_t)q * SM_GROUP + l] = (double)f > nu ? nextafterf(f, 0.0f) : f;
        }
    }
    /* the exact T1 bound of each pair, and each lane's need near one of them */
    double t1[8][SM_GROUP];
    bool none[8][SM_GROUP];
    for (unsigned s = 0; s < lanes; s++)
        for (unsigned l = 0; l < SM_GROUP; l++) {
            double dot = 0, below = 0;
            for (size_t e = 0; e < n; e++) {
                double c = val[e * lanes + s];
                dot += (double)g.bw[(size_t)mz[e] * SM_GROUP + l] * c;
                below += mz[e] < g.first[l] ? mz[e] * c * c : 0;
            }
            double nu = suffix[l][first_mz[s] > g.first[l] ? first_mz[s] : g.first[l]];
            double nl = normd[s] - below / 64.0;
            none[s][l] = dot == 0;
            t1[s][l] = nu > 0 && nl > 0 ? dot * dot / 64.0 / (nu * nl) : INFINITY;
        }
    for (unsigned l = 0; l < SM_GROUP; l++) {
        double at = t1[lcg() % lanes][l];
        unsigned r = lcg() % 4;
        double need = r == 0 ? -0.25 * (lcg() % 2) : !isfinite(at) || at == 0 ? 0.3
                    : r == 1 ? at * (1 + 2e-7) : r == 2 ? at * (1 - 2e-7) : at * 1.5;
        g.t1_need[l] = (float)(need < 1 ? need : 1.0);
    }
    uint16_t pass[8];
    k->group_sketch(&g, mz, val, n, lanes, norm, first_mz, pass);
    for (unsigned s = 0; s < lanes; s++)
        for (unsigned l = 0; l < SM_GROUP; l++) {
            double need = g.t1_need[l];
            bool out = !((pass[s] >> l) & 1u);
            bool exact_out = need > 0 && (none[s][l] || t1[s][l] < need);
            bool clear_out = need > 0 && (none[s][l] || t1[s][l] * 1.001 * 1.001 * 1.02 < need);
            if ((out && !exact_out) || (clear_out && !out))
                fail_msg("%s group_sketch n=%zu lanes %u spectrum %u lane %u: %s, T1 bound "
                         "%.9g, need %.9g%s",
                         k->name, n, lanes, s, l, out ? "excluded" : "let through", t1[s][l],
                         need, none[s][l] ? " (nothing in common)" : "");
        }
    free(g.bw);
    free(g.nu);
}

/* lcg's high bits (its low ones repeat with short periods) */
static uint32_t pick(void)
{
    return lcg() >> 12;
}

/* n1 and n2 of the match factor for query u against spectrum l (score.c's walk,
 * counting only): the reference sketch_links is held to. */
static void mf_counts(sm_nominal u, sm_nominal l, uint32_t *n1, uint32_t *n2)
{
    size_t iu = 0, il = 0;
    *n1 = *n2 = 0;
    if (u.n == 0 || l.n == 0)
        return;
    while (il < l.n && l.mz[il] < u.mz[0])
        il++;
    while (iu < u.n && u.mz[iu] < l.mz[0])
        iu++;
    bool chain = false;
    while (iu < u.n || il < l.n) {
        if (il >= l.n || (iu < u.n && u.mz[iu] < l.mz[il])) {
            chain = chain && u.intensity[iu] <= 1;
            iu++;
        } else if (iu >= u.n || l.mz[il] < u.mz[iu]) {
            chain = chain && l.intensity[il] <= 1;
            il++;
        } else {
            if (u.intensity[iu] > 1 || l.intensity[il] > 1) {
                ++*n1;
                *n2 += chain;
                chain = true;
            }
            iu++;
            il++;
        }
    }
}

/* sketch_links against mf_counts: a block of `lanes` spectra over n entries (each
 * spectrum at about half of them, a quarter of its peaks of intensity 1, spectrum 2
 * empty) and a query with peaks at a third of the entries' m/z and between them (no
 * spectrum there), some of intensity 1. The codes past n are read, never counted. */
static void check_links(const sm_kernel *k, size_t n, unsigned lanes)
{
    enum { BINS = SM_MAX_NOMINAL_MZ + 1 };
    static uint16_t mz[MAXN + 1], inten[(MAXN + 1) * 8];
    static uint8_t val[(MAXN + 1) * 8 + 256];
    static uint16_t qmz[BINS], qin[BINS], smz[MAXN + 1], sin[MAXN + 1];
    static uint32_t word[BINS + 2];
    unsigned m = 1 + pick() % 60;
    size_t nq = 0;
    for (size_t e = 0; e < n && m < BINS - 4; e++) {
        if (pick() % 5 == 0) /* a query peak no spectrum has */
            qmz[nq] = (uint16_t)m++, qin[nq++] = (uint16_t)(pick() % 4 == 0 ? 1 : 2 + pick() % 998);
        mz[e] = (uint16_t)m;
        if (pick() % 3 == 0)
            qmz[nq] = (uint16_t)m, qin[nq++] = (uint16_t)(pick() % 4 == 0 ? 1 : 2 + pick() % 998);
        m += 1 + pick() % 2;
        for (unsigned s = 0; s < lanes; s++) {
            bool has = s != 2 && (pick() % 2 == 0 || e == (size_t)s);
            unsigned i = has ? (pick() % 4 == 0 ? 1 : 2 + pick() % (SM_BASE_PEAK - 1)) : 0;
            inten[e * lanes + s] = (uint16_t)i;
            val[e * lanes + s] = (uint8_t)ceil(8.0 * sqrt((double)i));
        }
        n = e + 1 < n && m >= BINS - 4 ? e + 1 : n;
    }
    for (size_t i = n * lanes; i < n * lanes + 256; i++)
        val[i] = 0xFF;
    memset(word, 0, sizeof word);
    uint32_t *w = word + 1; /* w[-1] readable, as the searcher's table */
    for (size_t j = 0; j < nq; j++)
        w[qmz[j]] = qin[j];
    for (unsigned q = 0, c = 0; q < BINS; q++) {
        c += (w[q] & 0xFFFFu) > 1;
        w[q] |= c << 16;
    }
    uint32_t n1[8], n2[8];
    k->sketch_links(w, mz, val, n, lanes, n1, n2);
    for (unsigned s = 0; s < lanes; s++) {
        size_t ns = 0;
        for (size_t e = 0; e < n; e++)
            if (inten[e * lanes + s] != 0)
                smz[ns] = mz[e], sin[ns++] = inten[e * lanes + s];
        uint32_t want1, want2;
        mf_counts((sm_nominal){nq, qmz, qin}, (sm_nominal){ns, smz, sin}, &want1, &want2);
        if (n1[s] != want1 || n2[s] != want2)
            fail_msg("%s sketch_links n=%zu lanes %u spectrum %u: n1 %u n2 %u, want %u %u",
                     k->name, n, lanes, s, n1[s], n2[s], want1, want2);
    }
}

static void run_all(const sm_kernel *k)
{
    check_unpack(k);
    lcg_state = 12345u;
    for (int zeros = 0; zeros <= 1; zeros++) {
        for (size_t n = 0; n <= 64 + sizeof lengths / sizeof lengths[0]; n++) {
            size_t len = n <= 64 ? n : lengths[n - 65];
            for (size_t o1 = 0; o1 <= MAXOFF; o1++) {
                size_t o2 = (o1 + len) % (MAXOFF + 1); /* varied pairs, not all 16 */
                check_dot(k, len, o1, o2, zeros);
                check_dot(k, len, o2, o1, zeros);
                check_axpy(k, len, o1, o2, zeros);
                check_axpy(k, len, o2, o1, zeros);
                check_bound(k, len, o1, o2, zeros);
                check_axpy_u8(k, len, o1, o2, zeros);
                if (k->axpy4_u8 != NULL)
                    check_axpy_rows(k, 4, len, o1, o2, zeros);
                if (k->axpy8_u8 != NULL)
                    check_axpy_rows(k, 8, len, o1, o2, zeros);
            }
            if (k->group_sums != NULL)
                check_group(k, len, zeros);
            if (k->block_bounds != NULL && !zeros)
                check_block_bounds(k, len > 600 ? 600 : len);
            if (k->collect_u16 != NULL && !zeros)
                check_collect(k, len);
            if (k->sketch_sums != NULL) {
                check_sketch(k, len, 4, zeros);
                check_sketch(k, len, 8, zeros);
            }
            if (k->sketch_links != NULL && !zeros && len <= MAXN) {
                check_links(k, len, 4);
                check_links(k, len, 8);
            }
            if (k->group_sketch != NULL && !zeros && len <= MAXN && (len < 16 || len % 4 == 1)) {
                check_group_sketch(k, len, 4);
                check_group_sketch(k, len, 8);
            }
        }
    }
    /* past the SIMD kernels' 2,048 peaks */
    check_bound(k, 2049, 1, 2, false);
    check_bound(k, BOUND_MAXN, 0, 3, false);
    if (k->group_sums != NULL) {
        check_group(k, 2049, false);
        check_group(k, BOUND_MAXN, false);
    }
    /* n = 0 must not touch the arrays. */
    assert_true(k->dot(NULL, NULL, 0) == 0.0f);
    k->axpy(1.0f, NULL, NULL, 0);
    k->axpy_u8(1.0f, NULL, NULL, 0);
    sm_bound_sums none;
    k->bound_sums(NULL, NULL, NULL, 0, 1, &none);
    assert_true(none.dot == 0.0f && none.t2_num == 0.0f && none.n1 == 0 && none.n2 == 0 &&
                none.below == 0 && none.t2_den == 0);
}

/* Must run first: the first call in a fresh process reads SPECMATCH_KERNEL once
 * and cannot report an invalid one, so it takes the best kernel. Checked in
 * children, whose first call is really the first. */
static int child_first_choice(const char *env)
{
    pid_t pid = fork();
    if (pid == 0) {
        setenv("SPECMATCH_KERNEL", env, 1);
        const char *want = strcmp(env, "scalar") == 0 ? "scalar" : NULL;
        if (want == NULL) { /* the best supported */
            for (size_t i = 0; i < sm_kernel_count() && want == NULL; i++)
                if (sm_kernel_supported_at(i))
                    want = sm_kernel_name_at(i);
        }
        _exit(strcmp(sm_kernel_get_()->name, want) == 0 ? 0 : 1);
    }
    int status = 0;
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

static void test_first_choice(void **state)
{
    (void)state;
    assert_int_equal(child_first_choice("scalar"), 0);
    assert_int_equal(child_first_choice("bogus"), 0);
}

static void test_table(void **state)
{
    (void)state;
    size_t n = sm_kernel_count();
    assert_true(n >= 1);
    assert_string_equal(sm_kernel_name_at(n - 1), "scalar");
    assert_true(sm_kernel_supported_at(n - 1));
    assert_null(sm_kernel_name_at(n));
    assert_false(sm_kernel_supported_at(n));
#if defined(__x86_64__) && defined(SM_HAVE_AVX512)
    /* Also proves that the tests link the per-ISA objects (extract_all_objects). */
    assert_string_equal(sm_kernel_avx512_.name, "avx512");
    assert_string_equal(sm_kernel_name_at(0), "avx512");
#endif
#if defined(SM_HAVE_AVX2)
    assert_string_equal(sm_kernel_avx2_.name, "avx2");
#endif
}

static void test_every_kernel(void **state)
{
    (void)state;
    size_t tested = 0;
    for (size_t i = 0; i < sm_kernel_count(); i++) {
        const char *name = sm_kernel_name_at(i);
        if (!sm_kernel_supported_at(i)) {
            print_message("kernel %s: not supported by this CPU, skipped\n", name);
            continue;
        }
        sm_error err = {0};
        assert_int_equal(sm_kernel_select(name, &err), SM_OK);
        assert_string_equal(sm_kernel_active(), name);
        const sm_kernel *k = sm_kernel_get_();
        assert_string_equal(k->name, name);
        run_all(k);
        print_message("kernel %s: matches scalar\n", name);
        tested++;
    }
#if defined(__x86_64__) && defined(SM_HAVE_AVX512)
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl"))
        assert_true(tested >= 3);
#endif
}

static void test_select_errors(void **state)
{
    (void)state;
    sm_error err = {0};
    assert_int_equal(sm_kernel_select("scalar", &err), SM_OK);
    assert_int_equal(sm_kernel_select("nope", &err), SM_ERR_ARG);
    assert_int_equal(err.status, SM_ERR_ARG);
    assert_non_null(strstr(err.message, "unknown kernel 'nope'; expected one of: "));
    assert_non_null(strstr(err.message, "scalar"));
    assert_string_equal(sm_kernel_active(), "scalar"); /* unchanged by the failure */
    assert_int_equal(sm_kernel_select("", NULL), SM_ERR_ARG);
    assert_int_equal(sm_kernel_select("AVX2", NULL), SM_ERR_ARG); /* names are exact */

    /* A kernel compiled in but not supported gives SM_ERR_UNSUPPORTED. This CPU may
     * support them all; "neon" is then the error path we can reach on x86, where it
     * is not compiled in, hence unknown (SM_ERR_ARG). */
    for (size_t i = 0; i < sm_kernel_count(); i++)
        if (!sm_kernel_supported_at(i)) {
            assert_int_equal(sm_kernel_select(sm_kernel_name_at(i), &err), SM_ERR_UNSUPPORTED);
            assert_non_null(strstr(err.message, "is not supported by this CPU"));
        }
#if !defined(SM_HAVE_NEON)
    sm_status st = sm_kernel_select("neon", &err);
    assert_true(st == SM_ERR_ARG || st == SM_ERR_UNSUPPORTED);
#endif
    assert_string_equal(sm_kernel_active(), "scalar");
}

/* sm_kernel_select(NULL) reads SPECMATCH_KERNEL again on each call. */
static void test_select_env(void **state)
{
    (void)state;
    sm_error err = {0};
    const char *best = NULL;
    for (size_t i = 0; i < sm_kernel_count() && best == NULL; i++)
        if (sm_kernel_supported_at(i))
            best = sm_kernel_name_at(i);

    unsetenv("SPECMATCH_KERNEL");
    assert_int_equal(sm_kernel_select("scalar", NULL), SM_OK);
    assert_int_equal(sm_kernel_select(NULL, &err), SM_OK);
    assert_string_equal(sm_kernel_active(), best);

    setenv("SPECMATCH_KERNEL", "scalar", 1);
    assert_int_equal(sm_kernel_select(NULL, &err), SM_OK);
    assert_string_equal(sm_kernel_active(), "scalar");

    setenv("SPECMATCH_KERNEL", "bogus", 1);
    assert_int_equal(sm_kernel_select(NULL, &err), SM_ERR_ARG);
    assert_non_null(strstr(err.message, "SPECMATCH_KERNEL"));
    assert_non_null(strstr(err.message, "unknown kernel 'bogus'"));
    assert_string_equal(sm_kernel_active(), "scalar"); /* unchanged */
    assert_int_equal(sm_kernel_select(NULL, NULL), SM_ERR_ARG);
    /* An explicit name wins over the variable. */
    assert_int_equal(sm_kernel_select(best, &err), SM_OK);
    assert_string_equal(sm_kernel_active(), best);

    setenv("SPECMATCH_KERNEL", "", 1); /* empty: as if unset */
    assert_int_equal(sm_kernel_select("scalar", NULL), SM_OK);
    assert_int_equal(sm_kernel_select(NULL, &err), SM_OK);
    assert_string_equal(sm_kernel_active(), best);
    unsetenv("SPECMATCH_KERNEL");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_choice), /* first: nothing has chosen yet */
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_every_kernel),
        cmocka_unit_test(test_select_errors),
        cmocka_unit_test(test_select_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
