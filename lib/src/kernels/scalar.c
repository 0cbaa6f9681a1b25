/* scalar.c — the reference kernels: plain loops, sequential float accumulation, any ISA. */
#include <math.h>

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

/* One peak of bound_sums. The dot goes to one of four running sums, so that the
 * float additions do not wait on each other. */
#define BOUND_STEP(J, DOT)                                                               \
    do {                                                                                 \
        uint32_t m = mz[J], b = val[J], w = word[m], a = w & 0xffffu;                     \
        DOT += dense[m] * sqrtf((float)b);                                               \
        below += (uint64_t)((m < lo) & (b > 1)) * m * b;                                 \
        uint32_t common = (a > 0) & ((a > 1) | (b > 1));                                 \
        n1 += common;                                                                    \
        /* the count at m - 1: the one at m less the peak at m */                        \
        n2 += common & prev_ok & (((w >> 16) - (a > 1)) == prev_cnt);                    \
        prev_ok = (m >= lo) & !((a == 0) & (b > 1));                                     \
        prev_cnt = w >> 16;                                                              \
    } while (0)

void sm_bound_sums_scalar_(const float *dense, const uint32_t *word, const uint16_t *mz,
                           const uint16_t *val, size_t n, unsigned lo, sm_bound_sums *out)
{
    float d0 = 0.0f, d1 = 0.0f, d2 = 0.0f, d3 = 0.0f;
    uint64_t below = 0;
    uint32_t n1 = 0, n2 = 0;
    uint32_t prev_ok = 0, prev_cnt = 0;
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        BOUND_STEP(j, d0);
        BOUND_STEP(j + 1, d1);
        BOUND_STEP(j + 2, d2);
        BOUND_STEP(j + 3, d3);
    }
    for (; j < n; j++)
        BOUND_STEP(j, d0);
    out->dot = (d0 + d1) + (d2 + d3);
    out->below = below;
    out->n1 = n1;
    out->n2 = n2;
}

const sm_kernel sm_kernel_scalar_ = {
    .name = "scalar",
    .dot = dot_scalar,
    .axpy = axpy_scalar,
    .axpy_u8 = axpy_u8_scalar,
    .bound_sums = sm_bound_sums_scalar_,
};
