/* neon_kernels.c — the NEON kernels against the scalar ones, cross-compiled for
 * AArch64 and run under qemu on an x86-64 machine (run-qemu.sh): no cmocka, no HDF5,
 * only the two kernel files. Exit status 0 when every kernel agrees. */
#include <math.h>
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

int main(void)
{
    const sm_kernel *k = &sm_kernel_neon_, *s = &sm_kernel_scalar_;
    check_dense(k, s);
    check_sketch(k, s);
    printf("neon kernels against scalar: %d disagreements\n", failures);
    return failures != 0;
}
