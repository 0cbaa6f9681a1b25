/* hybrid.c — analogue evidence: the hybrid match factor (direct and mass-shifted peak
 * pairs), mass shifts by FFT cross-correlation, and a molecular-weight estimate.
 * Definitions in docs/ANALOGUES.md. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <fftw3.h>

#include "sm_internal.h"

/* ------------------------------------------------------------------ */
/* Hybrid match factor                                                 */

typedef struct pair {
    double prod;      /* w_unknown * w_library */
    uint16_t lib;     /* library peak position */
    uint16_t mz;      /* unknown's m/z */
    uint8_t shifted;
} pair;

/* The order pairs are taken in: larger product first, then direct before shifted,
 * then library peak, then m/z. Strict (a library peak gives at most one pair of
 * each kind), so any correct sort yields the same sequence. */
static inline bool pair_before(const pair *x, const pair *y)
{
    if (x->prod != y->prod)
        return x->prod > y->prod;
    if (x->shifted != y->shifted)
        return x->shifted < y->shifted;
    if (x->lib != y->lib)
        return x->lib < y->lib;
    return x->mz < y->mz;
}

/* Bottom-up merge sort of p[0..n) with the comparison inlined: qsort's calls
 * through a pointer cost more than the rest of the hybrid MF. tmp holds n pairs. */
static void sort_pairs(pair *p, pair *tmp, size_t n)
{
    pair *src = p, *dst = tmp;
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                dst[k++] = pair_before(&src[j], &src[i]) ? src[j++] : src[i++];
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        pair *t = src;
        src = dst;
        dst = t;
    }
    if (src != p)
        memcpy(p, src, n * sizeof *p);
}

double sm_hybrid_match_factor_ex(sm_nominal u, sm_nominal l, int dm, size_t *n_direct,
                                 size_t *n_shifted, uint8_t *shifted)
{
    if (n_direct)
        *n_direct = 0;
    if (n_shifted)
        *n_shifted = 0;
    if (shifted && l.n)
        memset(shifted, 0, l.n);
    if (u.n == 0 || l.n == 0)
        return 0;
    /* The common range, widened by the shift: a peak counts when the other spectrum's
     * scan covers it directly or through the shift. */
    long first_u = u.mz[0], first_l = l.mz[0];
    uint16_t *in = calloc(SM_MAX_NOMINAL_MZ + 1, sizeof *in);
    uint8_t *used = calloc(SM_MAX_NOMINAL_MZ + 1, 1);
    pair *pairs = malloc(4 * l.n * sizeof *pairs); /* 2 l.n pairs, then the sort's room */
    uint8_t *lused = calloc(l.n, 1);
    double score = 0;
    if (!in || !used || !pairs || !lused)
        goto out;
    double nu = 0, nl = 0;
    for (size_t j = 0; j < u.n; j++)
        if ((u.mz[j] >= first_l || (long)u.mz[j] - dm >= first_l) && u.intensity[j] > 1 &&
            u.mz[j] <= SM_MAX_NOMINAL_MZ) {
            in[u.mz[j]] = u.intensity[j];
            nu += (double)u.mz[j] * u.intensity[j];
        }
    size_t np = 0;
    for (size_t j = 0; j < l.n; j++) {
        unsigned m = l.mz[j], il = l.intensity[j];
        if ((m < first_u && (long)m + dm < first_u) || il <= 1)
            continue;
        nl += (double)m * il;
        double wl = sqrt((double)m * il);
        if (in[m])
            pairs[np++] = (pair){wl * sqrt((double)m * in[m]), (uint16_t)j, (uint16_t)m, 0};
        long mm = (long)m + dm;
        if (dm != 0 && mm >= 1 && mm <= SM_MAX_NOMINAL_MZ && in[mm])
            pairs[np++] =
                (pair){wl * sqrt((double)mm * in[mm]), (uint16_t)j, (uint16_t)mm, 1};
    }
    if (nu <= 0 || nl <= 0)
        goto out;
    sort_pairs(pairs, pairs + 2 * l.n, np);
    double sum = 0;
    for (size_t k = 0; k < np; k++) {
        const pair *p = &pairs[k];
        if (lused[p->lib] || used[p->mz])
            continue;
        lused[p->lib] = 1;
        used[p->mz] = 1;
        sum += p->prod;
        if (p->shifted) {
            if (n_shifted)
                (*n_shifted)++;
            if (shifted)
                shifted[p->lib] = 1;
        } else if (n_direct) {
            (*n_direct)++;
        }
    }
    score = 1000.0 * sum * sum / (nu * nl);
    if (score > 1000)
        score = 1000;
out:
    free(in);
    free(used);
    free(pairs);
    free(lused);
    return score;
}

double sm_hybrid_match_factor(sm_nominal u, sm_nominal l, int dm)
{
    return sm_hybrid_match_factor_ex(u, l, dm, NULL, NULL, NULL);
}

/* ------------------------------------------------------------------ */
/* Mass shifts by FFT cross-correlation                                */

/* Linear (not circular) correlations of spectra whose last m/z is at most R need
 * 2R + 1 points (sm_shifter_propose): the next power of two, from 2^FFT_MIN_LOG2 up
 * to FFT_N (spectra up to m/z 5000). Most EI spectra fit in 1,024 or 2,048 points. */
#define FFT_N 16384
#define FFT_C (FFT_N / 2 + 1)
#define FFT_MIN_LOG2 10
#define FFT_SIZES 5 /* 1,024 ... 16,384 */

struct sm_shifter {
    fftwf_plan fwd[FFT_SIZES], inv[FFT_SIZES]; /* made when first needed */
    float *a, *b, *r;                 /* real buffers [FFT_N] */
    fftwf_complex *fa, *fb, *fr;      /* spectra [FFT_C] */
    uint16_t last_mz[SM_MAX_NOMINAL_MZ + 1], last_in[SM_MAX_NOMINAL_MZ + 1];
    size_t last_n;                    /* the unknown whose transform fa holds */
    size_t last_size;                 /* ... at this many points */
    bool have_last;
};

/* FFTW's planner is not thread-safe: plans are made under one lock. */
static pthread_mutex_t planner_lock = PTHREAD_MUTEX_INITIALIZER;

sm_status sm_shifter_new(sm_shifter **out, sm_error *err)
{
    *out = NULL;
    sm_shifter *s = calloc(1, sizeof *s);
    if (s == NULL)
        return sm_seterr_(err, SM_ERR_NOMEM, NULL, 0, "out of memory");
    s->a = fftwf_alloc_real(FFT_N);
    s->b = fftwf_alloc_real(FFT_N);
    s->r = fftwf_alloc_real(FFT_N);
    s->fa = fftwf_alloc_complex(FFT_C);
    s->fb = fftwf_alloc_complex(FFT_C);
    s->fr = fftwf_alloc_complex(FFT_C);
    if (!s->a || !s->b || !s->r || !s->fa || !s->fb || !s->fr) {
        sm_shifter_free(s);
        return sm_seterr_(err, SM_ERR_NOMEM, NULL, 0, "out of memory");
    }
    *out = s;
    return SM_OK;
}

/* The plans for 2^(FFT_MIN_LOG2 + k) points, made under the planner's lock the first
 * time; false when FFTW cannot make them. */
static bool plans_for(sm_shifter *s, size_t k)
{
    if (s->fwd[k] != NULL && s->inv[k] != NULL)
        return true;
    int n = 1 << (FFT_MIN_LOG2 + k);
    pthread_mutex_lock(&planner_lock);
    if (s->fwd[k] == NULL)
        s->fwd[k] = fftwf_plan_dft_r2c_1d(n, s->a, s->fa, FFTW_ESTIMATE);
    if (s->inv[k] == NULL)
        s->inv[k] = fftwf_plan_dft_c2r_1d(n, s->fr, s->r, FFTW_ESTIMATE);
    pthread_mutex_unlock(&planner_lock);
    return s->fwd[k] != NULL && s->inv[k] != NULL;
}

void sm_shifter_free(sm_shifter *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&planner_lock);
    for (size_t k = 0; k < FFT_SIZES; k++) {
        if (s->fwd[k])
            fftwf_destroy_plan(s->fwd[k]);
        if (s->inv[k])
            fftwf_destroy_plan(s->inv[k]);
    }
    pthread_mutex_unlock(&planner_lock);
    fftwf_free(s->a);
    fftwf_free(s->b);
    fftwf_free(s->r);
    fftwf_free(s->fa);
    fftwf_free(s->fb);
    fftwf_free(s->fr);
    free(s);
}

/* Weights sqrt(m I) of the peaks with I > 1 at m >= lo, spread over buf; returns the
 * sum of squares. */
static double spread(float *buf, size_t n_points, sm_nominal x, unsigned lo)
{
    memset(buf, 0, n_points * sizeof *buf);
    double n2 = 0;
    for (size_t j = 0; j < x.n; j++)
        if (x.mz[j] >= lo && x.intensity[j] > 1) {
            double w = sqrt((double)x.mz[j] * x.intensity[j]);
            buf[x.mz[j]] = (float)w;
            n2 += w * w;
        }
    return n2;
}

size_t sm_shifter_propose(sm_shifter *s, sm_nominal u, sm_nominal l, int max_shift,
                          int *shifts, double *scores, size_t max_out)
{
    if (u.n == 0 || l.n == 0 || max_out == 0)
        return 0;
    if (max_shift > SM_MAX_NOMINAL_MZ)
        max_shift = SM_MAX_NOMINAL_MZ;
    /* No common-range cut here: a shifted fragment may sit below the other's first
     * m/z. Only intensity-1 peaks are left out. */
    unsigned lo = 1;
    /* Beyond the larger last m/z, R, no shift overlaps anything. Shifts up to +-R,
     * of either spectrum against the other or itself, read indices from 1 - R to 2R:
     * 2R + 1 points keep them from wrapping onto each other. */
    int reach = u.mz[u.n - 1] > l.mz[l.n - 1] ? u.mz[u.n - 1] : l.mz[l.n - 1];
    if (max_shift > reach)
        max_shift = reach;
    size_t need = 2 * (size_t)reach + 1, k = 0;
    while (k + 1 < FFT_SIZES && ((size_t)1 << (FFT_MIN_LOG2 + k)) < need)
        k++;
    const size_t n_pts = (size_t)1 << (FFT_MIN_LOG2 + k), n_c = n_pts / 2 + 1;
    if (!plans_for(s, k))
        return 0;
    bool same = s->have_last && s->last_size == n_pts && s->last_n == u.n &&
                memcmp(s->last_mz, u.mz, u.n * sizeof *u.mz) == 0 &&
                memcmp(s->last_in, u.intensity, u.n * sizeof *u.intensity) == 0;
    double nu = 0;
    for (size_t j = 0; j < u.n; j++)
        if (u.intensity[j] > 1)
            nu += (double)u.mz[j] * u.intensity[j];
    if (!same) {
        spread(s->a, n_pts, u, lo);
        fftwf_execute_dft_r2c(s->fwd[k], s->a, s->fa);
        memcpy(s->last_mz, u.mz, u.n * sizeof *u.mz);
        memcpy(s->last_in, u.intensity, u.n * sizeof *u.intensity);
        s->last_n = u.n;
        s->last_size = n_pts;
        s->have_last = true;
    }
    double nl = spread(s->b, n_pts, l, lo);
    if (nu <= 0 || nl <= 0)
        return 0;
    fftwf_execute_dft_r2c(s->fwd[k], s->b, s->fb);

    /* r[s] = sum_m a[m + s] b[m]: the product A conj(B) transformed back. And the
     * library's autocorrelation, |B|^2, for what the direct overlap explains. */
    for (size_t c = 0; c < n_c; c++) {
        float ar = s->fa[c][0], ai = s->fa[c][1], br = s->fb[c][0], bi = s->fb[c][1];
        s->fr[c][0] = ar * br + ai * bi;
        s->fr[c][1] = ai * br - ar * bi;
    }
    fftwf_execute_dft_c2r(s->inv[k], s->fr, s->r);
    /* keep the cross-correlation in b (b's own content is no longer needed) */
    memcpy(s->b, s->r, n_pts * sizeof *s->b);
    for (size_t c = 0; c < n_c; c++) {
        float br = s->fb[c][0], bi = s->fb[c][1];
        s->fr[c][0] = br * br + bi * bi;
        s->fr[c][1] = 0;
    }
    fftwf_execute_dft_c2r(s->inv[k], s->fr, s->r);
    const double scale = 1.0 / (double)n_pts; /* FFTW's transforms are unnormalized */
    double c0 = s->b[0] * scale, r0 = s->r[0] * scale;
    double k0 = r0 > 0 ? c0 / r0 : 0;
    double norm = sqrt(nu * nl);

    double *best = malloc(max_out * sizeof *best);
    if (best == NULL)
        return 0;
    size_t n_out = 0;
    for (int sh = -max_shift; sh <= max_shift; sh++) {
        if (sh == 0)
            continue;
        size_t at = sh >= 0 ? (size_t)sh : (size_t)((long)n_pts + sh);
        double excess = (s->b[at] - k0 * s->r[at]) * scale / norm;
        if (!(excess > 1e-6))
            continue;
        /* keep the max_out largest, best first; on ties the one seen first (the
         * more negative shift) stays ahead */
        size_t pos = n_out;
        if (pos == max_out) {
            if (excess <= best[max_out - 1])
                continue;
            pos = max_out - 1;
        } else {
            n_out++;
        }
        while (pos > 0 && best[pos - 1] < excess) {
            best[pos] = best[pos - 1];
            shifts[pos] = shifts[pos - 1];
            pos--;
        }
        best[pos] = excess;
        shifts[pos] = sh;
    }
    if (scores)
        memcpy(scores, best, n_out * sizeof *scores);
    free(best);
    return n_out;
}

/* ------------------------------------------------------------------ */
/* Molecular weight estimate                                           */

/* Losses from a molecular ion to its first fragment that chemistry rules out or makes
 * unlikely: 3-14 and 21-25 u (the "lost mass" rule of EI interpretation). */
static bool implausible_loss(unsigned d)
{
    return (d >= 3 && d <= 14) || (d >= 21 && d <= 25);
}

void sm_estimate_mw(sm_nominal u, sm_mw_estimate *out)
{
    memset(out, 0, sizeof *out);
    if (u.n == 0)
        return;
    uint16_t in[SM_MAX_NOMINAL_MZ + 3] = {0};
    for (size_t j = 0; j < u.n; j++)
        in[u.mz[j]] = u.intensity[j];
    for (size_t j = u.n; j-- > 0;) {
        unsigned m = u.mz[j], i = u.intensity[j];
        if (i < 5) /* below 0.5 %: noise as often as not */
            continue;
        /* an isotope peak of the ion below it (M+1 of a strong M, M+2 of Cl/Br) */
        if (m >= 1 && in[m - 1] * 2 >= 3 * i)
            continue;
        if (m >= 2 && in[m - 2] * 10 >= 9 * i && in[m - 1] < i)
            continue;
        /* the next significant ion below (at least 1 % or a tenth of this one) */
        unsigned below = 0;
        for (size_t k = j; k-- > 0;) {
            if (u.intensity[k] >= 10 || u.intensity[k] * 10 >= i) {
                below = u.mz[k];
                if (m - below <= 2) /* its own isotope cluster: look further down */
                    continue;
                break;
            }
        }
        out->mw = m;
        out->intensity = i;
        out->confidence = (i >= 10 && (below == 0 || !implausible_loss(m - below))) ? 2 : 1;
        return;
    }
}
