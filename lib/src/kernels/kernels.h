/* kernels.h — the hot loops of the search, one implementation per instruction set, chosen once at start-up. */
#ifndef SM_KERNELS_H
#define SM_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Every kernel computes the same quantities as the scalar one; float sums may differ
 * in the last bits because the order of additions differs (the search applies a
 * safety margin to every bound it derives from them). */
typedef struct sm_kernel {
    const char *name;
    /* sum of a[i] * b[i], i < n */
    float (*dot)(const float *a, const float *b, size_t n);
    /* y[i] += a * x[i], i < n */
    void (*axpy)(float a, const float *x, float *y, size_t n);
    /* sum of dense[idx[i]] * table[val[i]], i < n (idx, val: nominal m/z and
     * intensity of a sparse spectrum; table: a function of the intensity) */
    float (*sparse_dot)(const float *dense, const uint16_t *idx, const uint16_t *val,
                        const float *table, size_t n);
    /* y[i] += a * x[i], i < n, for bytes x (quantized envelopes) */
    void (*axpy_u8)(float a, const uint8_t *x, float *y, size_t n);
} sm_kernel;

/* sparse_dot with four running sums and plain loads (scalar.c, baseline flags):
 * the x86 tables use it because hardware gathers measured slower at ~100 entries. */
float sm_sparse_dot_unrolled_(const float *dense, const uint16_t *idx, const uint16_t *val,
                              const float *table, size_t n);

/* Per-ISA tables, defined in the per-ISA files (each compiled with its own flags). */
extern const sm_kernel sm_kernel_scalar_;
#if defined(SM_HAVE_AVX2)
extern const sm_kernel sm_kernel_avx2_;
#endif
#if defined(SM_HAVE_AVX512)
extern const sm_kernel sm_kernel_avx512_;
#endif
#if defined(SM_HAVE_NEON)
extern const sm_kernel sm_kernel_neon_;
#endif

#if defined(SM_HAVE_SHANI)
/* SHA-256 over nblocks 64-byte blocks with the SHA extensions (shani.c). */
void sm_sha256_blocks_shani_(uint32_t state[8], const uint8_t *data, size_t nblocks,
                             const uint32_t k[64]);
#endif

/* The active kernel (dispatch.c). The first call chooses: SPECMATCH_KERNEL when set
 * and valid, else the best the CPU supports. */
const sm_kernel *sm_kernel_get_(void);

#endif
