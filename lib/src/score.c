/* score.c — the identity match factor and its reverse form (scalar reference definition). */
#include <math.h>

#include "kernels/kernels.h"
#include "sm_internal.h"

/* MF = 1000 (n1 T1 + n2 T2) / (n1 + n2) - 0.5, or 1000 T1 - 0.5 without ratios. */
static inline double mf_from_sums(double sum_ul, double sum_uu, double sum_ll, double sum_rm,
                                  long sum_m, long n1, long n2)
{
    if (n1 == 0)
        return -0.5;
    double t1 = sum_ul * sum_ul / (sum_uu * sum_ll);
    if (sum_m > 0) {
        double t2 = sum_rm / (double)sum_m;
        return 1000.0 * ((double)n1 * t1 + (double)n2 * t2) / (double)(n1 + n2) - 0.5;
    }
    return 1000.0 * t1 - 0.5;
}

/* Stein & Scott, JASMS 1994, 5:859, with the details of NIST MS Search that
 * Samokhin (JASMS 2024, 35:3178) established and mssearchr reproduces:
 *  - the spectrum that starts at the lower m/z is cut to the other's first m/z;
 *  - a peak of intensity <= 1 in both spectra (or in the only one holding it) is
 *    passed over: it neither adds to the sums nor breaks a chain of pairs;
 *  - a peak present in one spectrum only breaks the chain of adjacent pairs (term 2);
 *  - reverse: peaks of the unknown absent from the library add nothing to the
 *    unknown's norm, but still break the chain. */
double sm_match_factor(sm_nominal u, sm_nominal l, int reverse)
{
    size_t iu = 0, il = 0;
    const size_t nu = u.n, nl = l.n;
    if (nu == 0 || nl == 0)
        return -0.5;
    if (u.mz[0] > l.mz[0]) {
        while (il < nl && l.mz[il] < u.mz[0])
            il++;
    } else {
        while (iu < nu && u.mz[iu] < l.mz[0])
            iu++;
    }
    if (iu >= nu || il >= nl)
        return -0.5;

    double sum_ul = 0, sum_uu = 0, sum_ll = 0, sum_rm = 0;
    long sum_m = 0;
    long n1 = 0, n2 = 0;
    double prev_u = 0, prev_l = 0;
    int chain = 0;

    while (iu < nu || il < nl) {
        if (il >= nl || (iu < nu && u.mz[iu] < l.mz[il])) {
            /* unknown only */
            if (u.intensity[iu] > 1) {
                chain = 0;
                if (!reverse)
                    sum_uu += (double)u.mz[iu] * u.intensity[iu];
            }
            iu++;
        } else if (iu >= nu || l.mz[il] < u.mz[iu]) {
            /* library only */
            if (l.intensity[il] > 1) {
                chain = 0;
                sum_ll += (double)l.mz[il] * l.intensity[il];
            }
            il++;
        } else {
            unsigned iu_v = u.intensity[iu], il_v = l.intensity[il];
            if (iu_v > 1 || il_v > 1) {
                double m = u.mz[iu];
                double wu = sqrt(m * iu_v), wl = sqrt(m * il_v);
                sum_ul += wu * wl;
                sum_uu += m * iu_v; /* w1^2, exact in double */
                sum_ll += m * il_v;
                n1++;
                double su = sqrt((double)iu_v), sl = sqrt((double)il_v);
                if (chain) {
                    double num = su * prev_l, den = prev_u * sl;
                    sum_rm += m * (num < den ? num / den : den / num);
                    sum_m += (long)m;
                    n2++;
                }
                chain = 1;
                prev_u = su;
                prev_l = sl;
            }
            iu++;
            il++;
        }
    }
    return mf_from_sums(sum_ul, sum_uu, sum_ll, sum_rm, sum_m, n1, n2);
}

int sm_mf_display(double mf)
{
    double v = floor(mf + 0.5);
    if (!(v > 0))
        return 0;
    if (v > 999)
        return 999;
    return (int)v;
}

void sm_qdense_set_(sm_qdense *d, sm_nominal q)
{
    /* in[] is all zero between queries (sm_qdense_clear_ undoes this). The square
     * roots are the very expressions sm_match_factor evaluates, computed once. */
    if (!d->ready) {
        for (unsigned i = 0; i <= SM_BASE_PEAK; i++) {
            d->sqrt_i[i] = sqrt((double)i);
            d->sqrt_f[i] = sqrtf((float)i);
        }
        d->ready = true;
    }
    for (size_t j = 0; j < q.n; j++) {
        unsigned m = q.mz[j], a = q.intensity[j];
        d->in[m] = (uint16_t)a;
        d->w[m] = sqrt((double)m * a);
        d->r[m] = sqrt((double)a);
        d->bw[m] = (float)((double)m * d->r[m]);
    }
    uint16_t c = 0;
    d->word[0] = 0;
    for (size_t m = 0; m <= SM_MAX_NOMINAL_MZ + 1; m++) {
        c = (uint16_t)(c + (d->in[m] > 1));
        d->cnt[m] = c;
        d->word[1 + m] = (uint32_t)d->in[m] | (uint32_t)c << 16;
    }
    double sum = 0;
    for (size_t m = SM_MAX_NOMINAL_MZ + 2; m-- > 0;) {
        if (d->in[m] > 1)
            sum += (double)m * d->in[m];
        d->suffix[m] = sum;
    }
    d->first = q.n ? q.mz[0] : 0;
    d->last = q.n ? q.mz[q.n - 1] : 0;
}

void sm_qdense_clear_(sm_qdense *d, sm_nominal q)
{
    for (size_t j = 0; j < q.n; j++) {
        d->in[q.mz[j]] = 0;
        d->bw[q.mz[j]] = 0.0f;
    }
}

/* The same sums as sm_match_factor, in the same order where order matters (the
 * cross term and the ratios run over common peaks in ascending m/z either way;
 * the norms are sums of whole numbers, exact in any order):
 *  - the unknown's norm over the common range is suffix[lo], plus the common
 *    peaks where the unknown has intensity 1 and the library more;
 *  - a chain of pairs breaks at a library-only peak above 1, met on the walk, or
 *    at an unknown peak above 1 strictly between two common peaks, which cnt[]
 *    counts (any such peak is unknown-only: a common one would itself be the
 *    previous common peak). */
double sm_match_factor_dense_(const sm_qdense *d, sm_nominal l)
{
    const size_t nl = l.n;
    if (nl == 0 || d->first == 0)
        return -0.5;
    unsigned lo = d->first > l.mz[0] ? d->first : l.mz[0];
    size_t il = 0;
    while (il < nl && l.mz[il] < lo)
        il++;
    /* nothing at or above lo on either side ends with n1 = 0 below, as in
     * sm_match_factor */
    double sum_ul = 0, sum_uu = d->suffix[lo], sum_ll = 0, sum_rm = 0;
    long sum_m = 0;
    long n1 = 0, n2 = 0;
    double prev_u = 0, prev_l = 0;
    unsigned prev_m = 0;
    int chain = 0;
    for (; il < nl; il++) {
        unsigned m = l.mz[il], b = l.intensity[il], a = d->in[m];
        if (a == 0) {
            if (b > 1) {
                chain = 0;
                sum_ll += (double)m * b;
            }
            continue;
        }
        if (a <= 1 && b <= 1)
            continue; /* passed over */
        double md = m;
        double wu = d->w[m], wl = sqrt(md * b);
        sum_ul += wu * wl;
        if (a == 1)
            sum_uu += md; /* not in suffix[], which counts intensities above 1 */
        sum_ll += md * b;
        n1++;
        double su = d->r[m], sl = b <= SM_BASE_PEAK ? d->sqrt_i[b] : sqrt((double)b);
        if (chain && d->cnt[m - 1] == d->cnt[prev_m]) {
            double num = su * prev_l, den = prev_u * sl;
            sum_rm += md * (num < den ? num / den : den / num);
            sum_m += (long)m;
            n2++;
        }
        chain = 1;
        prev_u = su;
        prev_l = sl;
        prev_m = m;
    }
    return mf_from_sums(sum_ul, sum_uu, sum_ll, sum_rm, sum_m, n1, n2);
}

/* Upper bound of the MF from the sums of bound_sums (kernels.h). With n1 the
 * common peaks and n2 the ratios taken, MF/1000 = (n1 T1 + n2 T2)/(n1 + n2): a mean
 * of T1 and T2 weighted n1 : n2.
 *  - T1 <= dot^2 / (nu nl) = T1': dot covers every common peak (the passed-over ones
 *    too); nu, the unknown's norm over the common range without its intensity-1
 *    peaks, and nl, the library's whole norm less its peaks below the range, are
 *    lower bounds of the norms the MF divides by.
 *  - The kernel's links are a superset of the ratios (below); at a link whose
 *    predecessor is common the ratio is the one the MF takes, at the others it is
 *    unknown but at most 1. So T2, an m-weighted mean over the ratios, is at most
 *    T2' = t2_num / t2_den: the same mean over all links with 1 at the unknown ones
 *    (adding terms of 1 to a mean of terms <= 1 never lowers it).
 *  - With n2 <= n2' links: if T2' <= T1', the MF, a mean of numbers <= T1', is at
 *    most T1'; else it is at most (n1 T1' + n2' T2')/(n1 + n2'), which grows with
 *    the weight of T2'. n2' = 0 means no ratio: MF = T1 <= T1'.
 * Spectra whose common peaks are seldom neighbours in the union, or whose ratios
 * disagree, are bounded far below DESIGN.md's (T1 + 1)/2.
 * Why the links hold every ratio: a ratio is taken at common peak j when the
 * previous common peak p is at m >= lo, no library peak between them is above 1
 * (else the chain broke) and no unknown peak above 1 lies between them. Library
 * peak j-1 is then p or a passed-over peak after p: at m >= lo, not a library-only
 * peak above 1, and with no unknown peak above 1 between it and j, since
 * (m_{j-1}, m_j) lies inside (m_p, m_j): the kernel links j. When j-1 is common it
 * is p itself.
 * Float sums are widened by SUM_SLACK, far past their rounding (at most 2,048 terms
 * of one sign: relative error below 2,048 x 2^-24 = 1.2e-4).
 * -0.5 (the exact MF) when nothing is in common; +inf when a norm is zero.
 * A spectrum with no peak at or above the common range's start (it ends before the
 * query begins) or that starts past the query's last peak has nothing in common:
 * -0.5, the exact MF, at once.
 * A first pass (t1_pass) gives T1' alone; when (T1' + 1)/2 is already below
 * `enough` that bound is returned and the second pass is saved. */
#define SUM_SLACK 1.0005

/* One packed word of the first pass: m/z moved on, then its term (an escape word
 * has intensity 0: sqrt_f[0] = 0 and it is never above 1, so it adds nothing). */
#define T1_WORD(X, S)                                                                    \
    do {                                                                                 \
        unsigned x_ = (X), i_ = x_ & SM_PACK_INT_MASK, d_ = (x_ >> 10) + 1;              \
        m += i_ != 0 ? d_ : d_ * SM_PACK_STEP;                                           \
        S += d->bw[m] * d->sqrt_f[i_];                                                   \
    } while (0)

/* The first pass: bound_sums' dot and below alone, straight from the packed words
 * (most spectra stop here, never unpacked). Plain loads, a table of square roots and
 * four running sums; on the CPU measured (AMD EPYC with AVX-512) this was as fast as
 * an AVX-512 version with gathers at ~100 peaks. */
static bool t1_pass(const sm_qdense *d, const uint16_t *w, size_t nw, unsigned lo, float *dot,
                    uint64_t *below)
{
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    unsigned m = ~0u; /* -1, as the packing starts */
    uint64_t b = 0;
    size_t j = 0;
    /* the words up to lo first (m/z ascending): the norm below the common range */
    for (; j < nw; j++) {
        unsigned x = w[j], i = x & SM_PACK_INT_MASK, step = (x >> 10) + 1;
        unsigned next = m + (i != 0 ? step : step * SM_PACK_STEP);
        if (next >= lo)
            break;
        m = next;
        s0 += d->bw[m] * d->sqrt_f[i];
        b += i > 1 ? (uint64_t)m * i : 0;
    }
    if (j == nw) /* every peak below the common range: nothing in common */
        return false;
    for (; j + 4 <= nw; j += 4) {
        T1_WORD(w[j], s0);
        T1_WORD(w[j + 1], s1);
        T1_WORD(w[j + 2], s2);
        T1_WORD(w[j + 3], s3);
    }
    for (; j < nw; j++)
        T1_WORD(w[j], s0);
    *dot = (s0 + s1) + (s2 + s3);
    *below = b;
    return true;
}

/* m/z of the first peak of packed words (nw > 0). */
static unsigned first_mz(const uint16_t *w, size_t nw)
{
    unsigned m = ~0u;
    for (size_t j = 0; j < nw; j++) {
        unsigned i = w[j] & SM_PACK_INT_MASK, step = (w[j] >> 10) + 1u;
        m += i != 0 ? step : step * SM_PACK_STEP;
        if (i != 0)
            break;
    }
    return m;
}

/* T1' from the dot and below sums; +inf when a norm is zero. */
static double t1_upper(const sm_qdense *d, unsigned lo, double norm_l, float dot_f,
                       uint64_t below)
{
    double nu = d->suffix[lo];
    double nl = norm_l - (double)below;
    if (!(nu > 0 && nl > 0))
        return INFINITY;
    double dot = (double)dot_f * SUM_SLACK;
    double t1 = dot * dot / (nu * nl);
    return t1 < 1.0 ? t1 : 1.0;
}

double sm_match_factor_bound_(const sm_qdense *d, const sm_kernel *kern, const uint16_t *w,
                              size_t nw, double norm_l, double enough, sm_nominal_buf *scratch)
{
    if (nw == 0 || d->first == 0) /* no peaks (a peak is one word at least) */
        return -0.5;
    unsigned l0 = first_mz(w, nw);
    unsigned lo = d->first > l0 ? d->first : l0;
    /* a spectrum that starts past the query's last peak has nothing in common */
    if (lo > d->last)
        return -0.5;
    /* first T1' alone, with DESIGN.md's MF/1000 < (T1 + 1)/2: a cheaper pass,
     * not worth making when it cannot reach `enough` even with T1' = 0 */
    if (enough > 499.5) {
        float dot1;
        uint64_t below1;
        if (!t1_pass(d, w, nw, lo, &dot1, &below1))
            return -0.5; /* the exact MF */
        double t1 = t1_upper(d, lo, norm_l, dot1, below1);
        double first = 1000.0 * (t1 + 1.0) / 2.0 - 0.5; /* +inf with a zero norm */
        if (first < enough)
            return first;
    }
    size_t n = kern->unpack(w, nw, scratch->mz, scratch->intensity);
    sm_bound_sums bs;
    kern->bound_sums(d->word + 1, scratch->mz, scratch->intensity, n, lo, &bs);
    return sm_bound_from_sums_(d->suffix[lo], norm_l - (double)bs.below, bs.dot, bs.n1, bs.n2,
                               (double)bs.t2_num, bs.t2_den);
}

double sm_bound_from_sums_(double nu, double nl, float dot_f, uint32_t n1_i, uint32_t n2_i,
                           double t2_num, uint64_t t2_den)
{
    if (n1_i == 0)
        return -0.5;
    if (!(nu > 0 && nl > 0))
        return INFINITY;
    double dot = (double)dot_f * SUM_SLACK;
    double t1 = dot * dot / (nu * nl);
    if (!(t1 < 1.0))
        t1 = 1.0;
    if (n2_i == 0)
        return 1000.0 * t1 - 0.5;
    double t2 = t2_num * SUM_SLACK / (double)t2_den;
    if (!(t2 < 1.0))
        t2 = 1.0;
    if (t2 <= t1)
        return 1000.0 * t1 - 0.5;
    double n1 = n1_i, n2 = n2_i;
    return 1000.0 * (n1 * t1 + n2 * t2) / (n1 + n2) - 0.5;
}
