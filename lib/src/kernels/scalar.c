/* scalar.c — the reference kernels: plain loops, sequential float accumulation, any ISA. */
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

static float sparse_dot_scalar(const float *dense, const uint16_t *idx, const uint16_t *val,
                               const float *table, size_t n)
{
    float s = 0.0f;
    for (size_t i = 0; i < n; i++)
        s += dense[idx[i]] * table[val[i]];
    return s;
}

/* y[i] += a * x[i] for bytes x: the quantized envelopes. */
static void axpy_u8_scalar(float a, const uint8_t *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] += a * (float)x[i];
}

/* Four running sums, loads one entry at a time: on the CPUs measured this beats
 * hardware gathers, whose latency dominates at ~100 entries. */
float sm_sparse_dot_unrolled_(const float *dense, const uint16_t *idx, const uint16_t *val,
                                 const float *table, size_t n)
{
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += dense[idx[i]] * table[val[i]];
        s1 += dense[idx[i + 1]] * table[val[i + 1]];
        s2 += dense[idx[i + 2]] * table[val[i + 2]];
        s3 += dense[idx[i + 3]] * table[val[i + 3]];
    }
    for (; i < n; i++)
        s0 += dense[idx[i]] * table[val[i]];
    return (s0 + s1) + (s2 + s3);
}

const sm_kernel sm_kernel_scalar_ = {
    .name = "scalar",
    .dot = dot_scalar,
    .axpy = axpy_scalar,
    .sparse_dot = sparse_dot_scalar,
    .axpy_u8 = axpy_u8_scalar,
};
