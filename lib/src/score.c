/* score.c — the identity match factor and its reverse form (scalar reference definition). */
#include <math.h>

#include "sm_internal.h"

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
    if (n1 == 0)
        return -0.5;
    double t1 = sum_ul * sum_ul / (sum_uu * sum_ll);
    if (sum_m > 0) {
        double t2 = sum_rm / (double)sum_m;
        return 1000.0 * ((double)n1 * t1 + (double)n2 * t2) / (double)(n1 + n2) - 0.5;
    }
    return 1000.0 * t1 - 0.5;
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
