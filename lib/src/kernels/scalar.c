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

const sm_kernel sm_kernel_scalar_ = {
    .name = "scalar",
    .dot = dot_scalar,
    .axpy = axpy_scalar,
    .sparse_dot = sparse_dot_scalar,
};
