/* preprocess.c — nominal-mass, base-peak-999 spectra for the identity score family (DESIGN.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sm_internal.h"

long sm_nominal_mz(double mz)
{
    /* AMDIS convention: a fraction up to .649 rounds down, above it rounds up
     * (Khrisanfov & Samokhin, RCM 2022). The small tolerance keeps decimal input
     * such as 44.649, which binary floating point stores as 44.64900000000000091,
     * on the side its text says. */
    double base = floor(mz);
    double frac = mz - base;
    long m = (long)base;
    if (frac > SM_MZ_ROUND_BOUNDARY + 1e-9)
        m++;
    return m;
}

sm_status sm_preprocess(const sm_peak *peaks, size_t n_peaks, uint16_t *mz,
                        uint16_t *intensity, size_t cap, size_t *n_out, sm_error *err)
{
    *n_out = 0;
    if (n_peaks == 0)
        return sm_seterr_(err, SM_ERR_PARSE, NULL, 0, "spectrum has no peaks");

    double *acc = calloc(SM_MAX_NOMINAL_MZ + 1, sizeof *acc);
    if (acc == NULL)
        return sm_seterr_(err, SM_ERR_NOMEM, NULL, 0, "out of memory");
    sm_status st = SM_OK;
    long lo = SM_MAX_NOMINAL_MZ + 1, hi = -1;
    for (size_t i = 0; i < n_peaks; i++) {
        double m = peaks[i].mz, a = peaks[i].intensity;
        if (!isfinite(m) || !isfinite(a) || a < 0) {
            st = sm_seterr_(err, SM_ERR_PARSE, NULL, 0,
                            "peak %zu: m/z %g abundance %g; expected finite values and "
                            "abundance >= 0", i + 1, m, a);
            goto out;
        }
        long nm = sm_nominal_mz(m);
        if (nm < 1 || nm > SM_MAX_NOMINAL_MZ) {
            st = sm_seterr_(err, SM_ERR_PARSE, NULL, 0,
                            "peak %zu: m/z %g is outside 1..%d after rounding to nominal "
                            "mass", i + 1, m, SM_MAX_NOMINAL_MZ);
            goto out;
        }
        acc[nm] += a; /* duplicates of one nominal mass are summed */
        if (nm < lo)
            lo = nm;
        if (nm > hi)
            hi = nm;
    }
    double max = 0;
    for (long m = lo; m <= hi; m++)
        if (acc[m] > max)
            max = acc[m];
    if (!(max > 0)) {
        st = sm_seterr_(err, SM_ERR_PARSE, NULL, 0,
                        "all abundances are zero; expected at least one peak above zero");
        goto out;
    }
    size_t n = 0;
    for (long m = lo; m <= hi; m++) {
        if (acc[m] <= 0)
            continue;
        /* Same operation order as mssearchr: 999 * (I / Imax), then +0.5, truncated. */
        double scaled = (double)SM_BASE_PEAK * (acc[m] / max) + 0.5;
        unsigned v = (unsigned)scaled;
        if (v == 0)
            continue; /* rounds to zero: dropped, as the design says */
        if (n == cap) {
            st = sm_seterr_(err, SM_ERR_ARG, NULL, 0, "output capacity %zu too small", cap);
            goto out;
        }
        mz[n] = (uint16_t)m;
        intensity[n] = (uint16_t)v;
        n++;
    }
    *n_out = n;
out:
    free(acc);
    return st;
}
