/* neon.c — AArch64 Advanced SIMD kernels (4 floats a vector); NEON is part of the AArch64 baseline, so no flags and no CPU check. */
#include <arm_neon.h>

#include "kernels.h"

/* Four independent accumulators hide the FMA latency. */
static float dot_neon(const float *a, const float *b, size_t n)
{
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = vdupq_n_f32(0.0f);
    float32x4_t s2 = vdupq_n_f32(0.0f), s3 = vdupq_n_f32(0.0f);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
        s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
        s2 = vfmaq_f32(s2, vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
        s3 = vfmaq_f32(s3, vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
    }
    for (; i + 4 <= n; i += 4)
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static void axpy_neon(float a, const float *x, float *y, size_t n)
{
    const float32x4_t va = vdupq_n_f32(a);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        float32x4_t y0 = vfmaq_f32(vld1q_f32(y + i), va, vld1q_f32(x + i));
        float32x4_t y1 = vfmaq_f32(vld1q_f32(y + i + 4), va, vld1q_f32(x + i + 4));
        float32x4_t y2 = vfmaq_f32(vld1q_f32(y + i + 8), va, vld1q_f32(x + i + 8));
        float32x4_t y3 = vfmaq_f32(vld1q_f32(y + i + 12), va, vld1q_f32(x + i + 12));
        vst1q_f32(y + i, y0);
        vst1q_f32(y + i + 4, y1);
        vst1q_f32(y + i + 8, y2);
        vst1q_f32(y + i + 12, y3);
    }
    for (; i + 4 <= n; i += 4)
        vst1q_f32(y + i, vfmaq_f32(vld1q_f32(y + i), va, vld1q_f32(x + i)));
    for (; i < n; i++)
        y[i] += a * x[i];
}

/* Bytes widened in two steps to 32-bit lanes, converted, multiplied and added. */
static void axpy_u8_neon(float a, const uint8_t *x, float *y, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint16x8_t w = vmovl_u8(vld1_u8(x + i));
        float32x4_t lo = vcvtq_f32_u32(vmovl_u16(vget_low_u16(w)));
        float32x4_t hi = vcvtq_f32_u32(vmovl_u16(vget_high_u16(w)));
        vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), lo, a));
        vst1q_f32(y + i + 4, vfmaq_n_f32(vld1q_f32(y + i + 4), hi, a));
    }
    for (; i < n; i++)
        y[i] += a * (float)x[i];
}

/* The codes of one entry (4 lanes) widened to floats. */
static inline float32x4_t codes4(const uint8_t *v)
{
    uint16x4_t w = vget_low_u16(vmovl_u8(vcreate_u8((uint64_t)v[0] | (uint64_t)v[1] << 8 |
                                                    (uint64_t)v[2] << 16 |
                                                    (uint64_t)v[3] << 24)));
    return vcvtq_f32_u32(vmovl_u16(w));
}

/* Entry by entry, four lanes a vector (two vectors for eight): the codes widened to
 * floats, times the query's weight at the entry's m/z, or below first squared and
 * times the m/z. */
static void sketch_sums_neon(const float *bw, const uint16_t *mz, const uint8_t *val, size_t n,
                             unsigned lanes, unsigned first, float *dot, float *below)
{
    float32x4_t a[2] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    float32x4_t lo[2] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    const unsigned halves = lanes / 4;
    size_t e = 0;
    for (; e < n && mz[e] < first; e++)
        for (unsigned h = 0; h < halves; h++) {
            float32x4_t c = codes4(val + e * lanes + 4 * h);
            lo[h] = vfmaq_n_f32(lo[h], vmulq_f32(c, c), (float)mz[e]);
        }
    for (; e < n; e++)
        for (unsigned h = 0; h < halves; h++)
            a[h] = vfmaq_n_f32(a[h], codes4(val + e * lanes + 4 * h), bw[mz[e]]);
    for (unsigned h = 0; h < halves; h++) {
        vst1q_f32(dot + 4 * h, a[h]);
        vst1q_f32(below + 4 * h, lo[h]);
    }
}

const sm_kernel sm_kernel_neon_ = {
    .name = "neon",
    .dot = dot_neon,
    .axpy = axpy_neon,
    .axpy_u8 = axpy_u8_neon,
    /* NEON has no gather and the bound looks up one entry per peak: the plain C
     * loop (not measured on an ARM machine) */
    .bound_sums = sm_bound_sums_scalar_,
    .unpack = sm_unpack_scalar_,
    .sketch_sums = sketch_sums_neon,
};
