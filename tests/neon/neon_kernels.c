/* neon_kernels.c — the NEON kernels against the scalar ones, cross-compiled for
 * AArch64 and run under qemu on an x86-64 machine (run-qemu.sh): no cmocka, no HDF5,
 * only the two kernel files. Exit status 0 when every kernel agrees. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels.h"

extern const sm_kernel sm_kernel_neon_, sm_kernel_scalar_;

static uint32_t lcg_state = 12345u;
static uint32_t lcg(void)
{
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return lcg_state >> 8;
}

static int failures;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond) && failures++ < 20) {                                                  \
            printf(__VA_ARGS__);                                                           \
            printf("\n");                                                                  \
        }                                                                                  \
    } while (0)

#define MAXN 1100
#define MAX_MZ 5000 /* SM_MAX_NOMINAL_MZ (specmatch.h) */

/* dot, axpy and axpy_u8 on lengths 0..70 and past, at offsets 0..3 (unaligned). */
static void check_dense(const sm_kernel *k, const sm_kernel *s)
{
    static float a[MAXN + 4], b[MAXN + 4], y1[MAXN + 4], y2[MAXN + 4];
    static uint8_t u[MAXN + 4];
    for (size_t n = 0; n < MAXN; n = n < 70 ? n + 1 : n * 3 / 2 + 1) {
        for (size_t off = 0; off < 4; off++) {
            for (size_t i = 0; i < n + off; i++) {
                a[i] = (float)(lcg() % 2000) / 1000.0f - 1.0f;
                b[i] = (float)(lcg() % 2000) / 1000.0f - 1.0f;
                u[i] = (uint8_t)lcg();
                y1[i] = y2[i] = (float)(lcg() % 100);
            }
            double want = 0, mag = 0;
            for (size_t i = 0; i < n; i++) {
                want += (double)a[i + off] * b[i];
                mag += fabs((double)a[i + off] * b[i]);
            }
            float got = k->dot(a + off, b, n);
            CHECK(fabs(got - want) <= 1e-5 * mag + 1e-6, "dot n=%zu off=%zu: %g, want %g", n,
                  off, (double)got, want);
            k->axpy(0.37f, a + off, y1 + off, n);
            s->axpy(0.37f, a + off, y2 + off, n);
            for (size_t i = 0; i < n; i++)
                CHECK(fabsf(y1[i + off] - y2[i + off]) <= 1e-5f * (1.0f + fabsf(y2[i + off])),
                      "axpy n=%zu off=%zu i=%zu", n, off, i);
            k->axpy_u8(0.11f, u + off, y1 + off, n);
            s->axpy_u8(0.11f, u + off, y2 + off, n);
            for (size_t i = 0; i < n; i++)
                CHECK(fabsf(y1[i + off] - y2[i + off]) <= 1e-4f * (1.0f + fabsf(y2[i + off])),
                      "axpy_u8 n=%zu off=%zu i=%zu", n, off, i);
        }
    }
}

/* sketch_sums with 4 and 8 lanes: ascending m/z, some lanes all zero, the query's
 * weights zero at most m/z, its first below none, some or all of the entries; the
 * codes start at an odd offset. */
static void check_sketch(const sm_kernel *k, const sm_kernel *s)
{
    static uint16_t mz[MAXN];
    static uint8_t raw[MAXN * 8 + 256 + 1];
    static float bw[MAX_MZ + 2];
    uint8_t *val = raw + 1;
    for (unsigned lanes = 4; lanes <= 8; lanes += 4) {
        for (size_t n = 0; n < MAXN; n = n < 40 ? n + 1 : n * 2 + 1) {
            for (size_t m = 0; m < MAX_MZ + 2; m++)
                bw[m] = lcg() % 5 == 0 ? (float)(m * (1 + lcg() % 31)) / 3.0f : 0.0f;
            unsigned m = lcg() % 40;
            for (size_t e = 0; e < n; e++) {
                m += 1 + lcg() % 3;
                mz[e] = (uint16_t)m;
                for (unsigned l = 0; l < lanes; l++)
                    val[e * lanes + l] = (uint8_t)(l % 3 == 1 ? 0 : lcg() % 254);
            }
            unsigned firsts[3] = {0, n > 0 ? mz[n / 3] : 1, MAX_MZ + 1};
            for (int f = 0; f < 3; f++) {
                float d1[8], b1[8], d2[8], b2[8];
                k->sketch_sums(bw, mz, val, n, lanes, firsts[f], d1, b1);
                s->sketch_sums(bw, mz, val, n, lanes, firsts[f], d2, b2);
                for (unsigned l = 0; l < lanes; l++) {
                    CHECK(fabsf(d1[l] - d2[l]) <= 1e-5f * fabsf(d2[l]) + 1e-3f,
                          "sketch_sums dot lanes %u n=%zu lane %u: %g, scalar %g", lanes, n, l,
                          (double)d1[l], (double)d2[l]);
                    CHECK(fabsf(b1[l] - b2[l]) <= 2e-4f * fabsf(b2[l]),
                          "sketch_sums below lanes %u n=%zu lane %u: %g, scalar %g", lanes, n, l,
                          (double)b1[l], (double)b2[l]);
                }
            }
        }
    }
}

/* group_sums against the scalar kernel's: 16 random queries (lanes 3, 8 and 13 not in
 * use, some starting past the library's first peaks), random spectra of 0..600 peaks;
 * the counts equal, the sums within float rounding, and the lanes let through the
 * same wherever the scalar decision does not change with the floor moved by 1 either
 * way. */
static void check_group(const sm_kernel *k, const sm_kernel *s)
{
    enum { BINS = 1400 };
    static uint32_t qword[SM_GROUP][BINS + 1];
    static uint16_t mz[700], val[700];
    static sm_group_tab g;
    g.n_tab = BINS;
    g.word = calloc((size_t)BINS * SM_GROUP, sizeof *g.word);
    g.bw = calloc((size_t)BINS * SM_GROUP, sizeof *g.bw);
    g.sa = calloc((size_t)BINS * SM_GROUP, sizeof *g.sa);
    g.nu = calloc((size_t)BINS * SM_GROUP, sizeof *g.nu);
    if (!g.word || !g.bw || !g.sa || !g.nu) {
        CHECK(0, "out of memory");
        return;
    }
    for (unsigned i = 0; i <= 999; i++)
        g.sqrt_f[i] = sqrtf((float)i);
    for (unsigned l = 0; l < SM_GROUP; l++) {
        bool empty = l % 5 == 3;
        unsigned first = empty ? 0 : (l % 3 == 0 ? 30 + lcg() % 60 : 1 + lcg() % 20);
        uint32_t cnt = 0;
        double suffix = 0;
        qword[l][0] = 0;
        for (unsigned m = 0; m < BINS; m++) {
            uint32_t a = 0;
            if (!empty && m >= first && lcg() % 3 == 0)
                a = lcg() % 4 == 0 ? 1 : 2 + lcg() % 998;
            if (m == first && !empty)
                a = 2 + lcg() % 998;
            cnt += a > 1;
            qword[l][1 + m] = a | cnt << 16;
            size_t c = (size_t)m * SM_GROUP + l;
            g.bw[c] = (float)((double)m * sqrt((double)a));
            g.sa[c] = (float)sqrt((double)a);
        }
        for (unsigned m = 0; m < BINS; m++)
            g.word[(size_t)m * SM_GROUP + l] = qword[l][1 + m] >> 16 |
                                               (qword[l][m] & 0xffff0000u);
        for (unsigned m = BINS; m-- > 0;) {
            uint32_t a = qword[l][1 + m] & 0xffffu;
            if (a > 1)
                suffix += (double)m * a;
            if (m >= first)
                g.nu[(size_t)m * SM_GROUP + l] = (float)suffix;
        }
        for (unsigned m = 0; m < first; m++)
            g.nu[(size_t)m * SM_GROUP + l] = g.nu[(size_t)first * SM_GROUP + l];
        g.first[l] = first;
    }
    for (int rep = 0; rep < 400; rep++) {
        size_t n = rep < 20 ? (size_t)rep : lcg() % 600;
        unsigned m = lcg() % 40;
        double norm = 0;
        for (size_t j = 0; j < n; j++) {
            m += 1 + (lcg() % 2 == 0 ? 0 : lcg() % 3);
            mz[j] = (uint16_t)m;
            val[j] = (uint16_t)(lcg() % 5 == 0 ? 1 : 2 + lcg() % 998);
            norm += val[j] > 1 ? (double)m * val[j] : 0;
        }
        for (unsigned l = 0; l < SM_GROUP; l++)
            g.floor[l] = l % 5 == 3 ? INFINITY : (float)(lcg() % 1100) - 50.0f;
        sm_group_sums got, want;
        unsigned pass = k->group_sums(&g, mz, val, n, norm, &got);
        unsigned ref = s->group_sums(&g, mz, val, n, norm, &want);
        float keep[SM_GROUP];
        for (unsigned l = 0; l < SM_GROUP; l++) {
            keep[l] = g.floor[l];
            g.floor[l] = keep[l] - 1.0f;
        }
        unsigned lower = s->group_sums(&g, mz, val, n, norm, &want);
        for (unsigned l = 0; l < SM_GROUP; l++)
            g.floor[l] = keep[l] + 1.0f;
        unsigned upper = s->group_sums(&g, mz, val, n, norm, &want);
        for (unsigned l = 0; l < SM_GROUP; l++)
            g.floor[l] = keep[l];
        ref = s->group_sums(&g, mz, val, n, norm, &want);
        unsigned stable = ~(lower ^ upper) & 0xffffu;
        CHECK((pass & stable) == (ref & stable), "group_sums n=%zu: lanes %04x, scalar %04x",
              n, pass, ref);
        for (unsigned l = 0; l < SM_GROUP; l++) {
            CHECK(got.n1[l] == want.n1[l] && got.n2[l] == want.n2[l] &&
                      got.t2_den[l] == want.t2_den[l],
                  "group_sums n=%zu lane %u: n1 %u n2 %u t2_den %u, scalar %u %u %u", n, l,
                  got.n1[l], got.n2[l], got.t2_den[l], want.n1[l], want.n2[l], want.t2_den[l]);
            CHECK(fabsf(got.dot[l] - want.dot[l]) <= 1e-5f * fabsf(want.dot[l]) + 1e-3f,
                  "group_sums dot n=%zu lane %u: %g, scalar %g", n, l, (double)got.dot[l],
                  (double)want.dot[l]);
            CHECK(fabsf(got.t2_num[l] - want.t2_num[l]) <= 1e-5f * (float)want.t2_den[l] + 1e-3f,
                  "group_sums t2_num n=%zu lane %u: %g, scalar %g", n, l,
                  (double)got.t2_num[l], (double)want.t2_num[l]);
        }
    }
    free(g.word);
    free(g.bw);
    free(g.sa);
    free(g.nu);
}

/* group_sketch against the scalar kernel's: 16 random queries (some starting past
 * the library's first entries), blocks of 4 and 8 spectra with random codes, each
 * lane's need put just above or below one spectrum's bound or at 0. The lanes let
 * through must be the same, except where the scalar bound in double lies within
 * 1e-5 of the need (float sums in another order). */
static void check_group_sketch(const sm_kernel *k, const sm_kernel *s)
{
    enum { BINS = MAX_MZ + 1, N = 300 };
    size_t cells = (size_t)BINS * SM_GROUP;
    sm_group_tab g = {.n_tab = BINS};
    g.bw = calloc(cells, sizeof *g.bw);
    g.nu = calloc(cells, sizeof *g.nu);
    static uint16_t mz[N];
    static uint8_t val[N * 8 + 256];
    for (int rep = 0; rep < 200; rep++) {
        unsigned lanes = rep % 2 ? 8 : 4;
        size_t n = (size_t)(lcg() % N);
        unsigned m = 1 + lcg() % 50;
        for (size_t e = 0; e < n; e++) {
            mz[e] = (uint16_t)(m < BINS ? m : BINS - 1);
            m += 1 + lcg() % 3;
            for (unsigned sp = 0; sp < lanes; sp++)
                val[e * lanes + sp] = (uint8_t)(lcg() % 2 ? 0 : 8 + lcg() % 246);
        }
        float norm[8];
        uint16_t first_mz[8];
        for (unsigned sp = 0; sp < lanes; sp++) {
            double sum = 0;
            first_mz[sp] = 0;
            for (size_t e = n; e-- > 0;) {
                double c = val[e * lanes + sp] / 8.0;
                sum += mz[e] * c * c;
                if (val[e * lanes + sp] != 0)
                    first_mz[sp] = mz[e];
            }
            norm[sp] = (float)sum;
        }
        for (unsigned l = 0; l < SM_GROUP; l++) {
            unsigned first = l % 5 == 1 ? 20 + lcg() % 80 : 1 + lcg() % 10;
            g.first[l] = first;
            double nu = 0;
            for (unsigned q = BINS; q-- > 0;) {
                float a = q >= first && lcg() % 3 == 0 ? (float)(1 + lcg() % 999) : 0.0f;
                g.bw[(size_t)q * SM_GROUP + l] = (float)q * sqrtf(a);
                nu += (double)q * a;
                g.nu[(size_t)q * SM_GROUP + l] = (float)nu;
            }
            for (unsigned q = 0; q < first; q++)
                g.nu[(size_t)q * SM_GROUP + l] = g.nu[(size_t)first * SM_GROUP + l];
        }
        double t1[8][SM_GROUP];
        for (unsigned sp = 0; sp < lanes; sp++)
            for (unsigned l = 0; l < SM_GROUP; l++) {
                double dot = 0, below = 0;
                for (size_t e = 0; e < n; e++) {
                    double c = val[e * lanes + sp];
                    dot += (double)g.bw[(size_t)mz[e] * SM_GROUP + l] * c;
                    below += mz[e] < g.first[l] ? mz[e] * c * c : 0;
                }
                double nu = g.nu[(size_t)first_mz[sp] * SM_GROUP + l];
                double nl = norm[sp] - 1.001 * below / 64.0, d = 1.001 * dot / 8.0;
                t1[sp][l] = nu > 0 && nl > 0 ? d * d / (nu * nl) : INFINITY;
            }
        for (unsigned l = 0; l < SM_GROUP; l++) {
            double at = t1[lcg() % lanes][l];
            unsigned r = lcg() % 3;
            g.t1_need[l] = r == 0 || !isfinite(at) ? 0.0f
                                                   : (float)(at * (r == 1 ? 1.001 : 0.999));
        }
        uint16_t p1[8], p2[8];
        k->group_sketch(&g, mz, val, n, lanes, norm, first_mz, p1);
        s->group_sketch(&g, mz, val, n, lanes, norm, first_mz, p2);
        for (unsigned sp = 0; sp < lanes; sp++)
            for (unsigned l = 0; l < SM_GROUP; l++) {
                bool near = fabs(t1[sp][l] - g.t1_need[l]) <= 1e-5 * g.t1_need[l];
                CHECK(near || ((p1[sp] ^ p2[sp]) >> l & 1u) == 0,
                      "group_sketch lanes %u n=%zu spectrum %u lane %u: %u, scalar %u (T1 %g, "
                      "need %g)",
                      lanes, n, sp, l, p1[sp] >> l & 1u, p2[sp] >> l & 1u, t1[sp][l],
                      (double)g.t1_need[l]);
            }
    }
    free(g.bw);
    free(g.nu);
}

int main(void)
{
    const sm_kernel *k = &sm_kernel_neon_, *s = &sm_kernel_scalar_;
    check_dense(k, s);
    check_sketch(k, s);
    check_group(k, s);
    check_group_sketch(k, s);
    printf("neon kernels against scalar: %d disagreements\n", failures);
    return failures != 0;
}
