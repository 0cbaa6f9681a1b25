/* similarity.c — alternative scores for comparison (DESIGN.md): cosine and spectral
 * entropy similarity (Li et al., Nat. Methods 2021), on preprocessed spectra. */
#include <math.h>
#include <string.h>

#include "sm_internal.h"

double sm_cosine_similarity(sm_nominal a, sm_nominal b)
{
    double ab = 0, aa = 0, bb = 0;
    size_t i = 0, j = 0;
    while (i < a.n || j < b.n) {
        if (j == b.n || (i < a.n && a.mz[i] < b.mz[j])) {
            aa += (double)a.intensity[i] * a.intensity[i];
            i++;
        } else if (i == a.n || b.mz[j] < a.mz[i]) {
            bb += (double)b.intensity[j] * b.intensity[j];
            j++;
        } else {
            ab += (double)a.intensity[i] * b.intensity[j];
            aa += (double)a.intensity[i] * a.intensity[i];
            bb += (double)b.intensity[j] * b.intensity[j];
            i++;
            j++;
        }
    }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}

/* Shannon entropy of intensities normalized to sum 1. */
static double entropy_of(const double *p, size_t n)
{
    double s = 0;
    for (size_t k = 0; k < n; k++)
        if (p[k] > 0)
            s -= p[k] * log(p[k]);
    return s;
}

/* Intensities to probabilities, with Li et al.'s weighting: a spectrum of entropy
 * S < 3 has its intensities raised to 0.25 + 0.25 S and normalized again. */
static double weigh(const sm_nominal x, double *p)
{
    double sum = 0;
    for (size_t k = 0; k < x.n; k++)
        sum += x.intensity[k];
    if (sum <= 0)
        return 0;
    for (size_t k = 0; k < x.n; k++)
        p[k] = x.intensity[k] / sum;
    double s = entropy_of(p, x.n);
    if (s < 3) {
        double w = 0.25 + 0.25 * s, t = 0;
        for (size_t k = 0; k < x.n; k++)
            t += p[k] = pow(p[k], w);
        for (size_t k = 0; k < x.n; k++)
            p[k] /= t;
        s = entropy_of(p, x.n);
    }
    return s;
}

double sm_entropy_similarity(sm_nominal a, sm_nominal b)
{
    if (a.n == 0 || b.n == 0 || a.n > SM_MAX_NOMINAL_MZ + 1 || b.n > SM_MAX_NOMINAL_MZ + 1)
        return 0;
    static _Thread_local double pa[SM_MAX_NOMINAL_MZ + 1], pb[SM_MAX_NOMINAL_MZ + 1];
    double sa = weigh(a, pa), sb = weigh(b, pb);
    /* entropy of the merged spectrum (pa + pb) / 2 */
    double sm = 0;
    size_t i = 0, j = 0;
    while (i < a.n || j < b.n) {
        double v;
        if (j == b.n || (i < a.n && a.mz[i] < b.mz[j]))
            v = pa[i++] / 2;
        else if (i == a.n || b.mz[j] < a.mz[i])
            v = pb[j++] / 2;
        else
            v = (pa[i++] + pb[j++]) / 2;
        if (v > 0)
            sm -= v * log(v);
    }
    double s = 1 - (2 * sm - sa - sb) / log(4);
    return s < 0 ? 0 : (s > 1 ? 1 : s);
}
