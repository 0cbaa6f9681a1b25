/* kernels.h — the hot loops of the search, one implementation per instruction set, chosen once at start-up. */
#ifndef SM_KERNELS_H
#define SM_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Every kernel computes the same quantities as the scalar one; float sums may differ
 * in the last bits because the order of additions differs (the search applies a
 * safety margin to every bound it derives from them). */
struct sm_bound_sums;
struct sm_group_tab;
struct sm_group_sums;

typedef struct sm_kernel {
    const char *name;
    /* sum of a[i] * b[i], i < n */
    float (*dot)(const float *a, const float *b, size_t n);
    /* y[i] += a * x[i], i < n */
    void (*axpy)(float a, const float *x, float *y, size_t n);
    /* y[i] += a * x[i], i < n, for bytes x (quantized envelopes) */
    void (*axpy_u8)(float a, const uint8_t *x, float *y, size_t n);
    /* y[i] += a[0] x[0][i] + a[1] x[1][i] + a[2] x[2][i] + a[3] x[3][i], i < n: four
     * envelope rows in one pass over y (NULL: four axpy_u8) */
    void (*axpy4_u8)(const float a[4], const uint8_t *const x[4], float *y, size_t n);
    /* the same with eight rows (NULL: two axpy4_u8) */
    void (*axpy8_u8)(const float a[8], const uint8_t *const x[8], float *y, size_t n);
    /* What the search bounds one library spectrum with, in one pass over its peaks
     * (mz ascending, val its intensities; see sm_bound_sums). */
    void (*bound_sums)(const uint32_t *word, const uint16_t *mz, const uint16_t *val, size_t n,
                       unsigned lo, struct sm_bound_sums *out);
    /* Decodes nw packed words (the format below) into m/z and intensity arrays with
     * room for nw entries; returns the peaks, never more than nw. */
    size_t (*unpack)(const uint16_t *w, size_t nw, uint16_t *mz, uint16_t *in);
    /* bound_sums for up to SM_GROUP queries at once, one query a lane, over one
     * library spectrum's peaks (mz ascending, val its intensities; see
     * sm_group_sums). NULL: the kernel has none and batches search query by query. */
    unsigned (*group_sums)(const struct sm_group_tab *g, const uint16_t *mz,
                           const uint16_t *val, size_t n, double norm,
                           struct sm_group_sums *out);
    /* The bound of each of n blocks from its envelope sum acc[b] (search.c has the
     * definitions; NULL: the scalar kernel's, in double): with lo = max(first,
     * max_first[b]) but at most last, nu = nu_f[lo] (the query's norm from lo on,
     * rounded down), a = 1.0005 acc[b] ratio[b]: -0.5 where acc[b] is 0, 999.5
     * where nu is 0, else 1000 (min(a^2 / nu, 1) + 1) / 2 - 0.5; stored in acc[b]
     * plus 0.001, and bucket[b] = that bound / bucket_mf (0 when not above 0, at
     * most top_bucket). SIMD kernels in float, its rounding far inside the 1.0005. */
    void (*block_bounds)(float *acc, const float *ratio, const uint16_t *max_first, size_t n,
                         const float *nu_f, unsigned first, unsigned last, uint16_t *bucket,
                         float bucket_mf, unsigned top_bucket);
    /* The i < n with key[i] == want, ascending, into out (room for n + 16 entries);
     * returns their count. NULL: the scalar kernel's. */
    size_t (*collect_u16)(const uint16_t *key, size_t n, unsigned want, uint32_t *out);
    /* The first bound's sums over one block's sketch (sm_index in sm_internal.h): n
     * entries, mz[e] the m/z of entry e, ascending, and val[e * lanes + s] the code c
     * of the block's spectrum s there (lanes 4 or 8; val may be read up to 256 bytes
     * past its end). For each s, in float, any order: below[s] = sum of mz[e] c^2
     * over the entries with mz[e] < first, dot[s] = sum of bw[mz[e]] c over the others.
     * NULL: the scalar kernel's. */
    void (*sketch_sums)(const float *bw, const uint16_t *mz, const uint8_t *val, size_t n,
                        unsigned lanes, unsigned first, float *dot, float *below);
    /* The match factor's n1 (peaks in common) and n2 (ratios taken) of the query
     * against each spectrum s of one block, from the block's sketch (mz, val, n, lanes
     * as in sketch_sums; the codes tell a peak of intensity 1, code 8, from one above,
     * above 8) and the query's words (word as in bound_sums, indexed by m/z: its
     * intensity, and its count of peaks above 1 that shows a peak no spectrum of the
     * block has): score.c's walk, exactly, for every spectrum. NULL: the scalar
     * kernel's. */
    void (*sketch_links)(const uint32_t *word, const uint16_t *mz, const uint8_t *val, size_t n,
                         unsigned lanes, uint32_t *n1, uint32_t *n2);
    /* The first bound of sketch_sums for the `lanes` spectra of one block's sketch
     * (mz, val, n as there) and the SM_GROUP queries of a group at once (see
     * sm_group_sketch_scalar_). NULL: the kernel has none, and a group's spectra all
     * go to group_sums. */
    void (*group_sketch)(const struct sm_group_tab *g, const uint16_t *mz, const uint8_t *val,
                         size_t n, unsigned lanes, const float *norm, const uint16_t *first_mz,
                         uint16_t *pass);
} sm_kernel;

/* Packed peaks: one 16-bit word a peak, its intensity (1..999) in the low 10 bits and
 * its m/z step from the previous peak (from -1 before the first, so m/z 0 can be
 * written) less one in the top 6, for
 * steps of 1..SM_PACK_STEP. A longer step is preceded by escape words, intensity 0,
 * that move m/z on by SM_PACK_STEP * (top 6 bits + 1) and are not peaks. */
#define SM_PACK_STEP 64
#define SM_PACK_INT_MASK 1023u

size_t sm_unpack_scalar_(const uint16_t *w, size_t nw, uint16_t *mz, uint16_t *in);

/* The sums of bound_sums. The query is given over m/z as word[m] = its intensity a
 * | (its peaks above intensity 1 at m' <= m) << 16, readable from word[-1] (all zero)
 * up; lo is the first m/z of the common range. Intensities are at most 999, so a * val
 * is a whole number float holds exactly.
 *  - dot: sum of m * sqrtf(a * val) over all peaks (float, any order): T1's cross
 *    term, sqrt(m a) sqrt(m val), with one square root;
 *  - below: sum of m * val over peaks with m < lo and val > 1 (exact);
 *  - n1: peaks in common, not passed over (query intensity a > 0, a > 1 or val > 1);
 *  - links: common peaks j whose predecessor j-1 is at m >= lo, is not a library-only
 *    peak above 1, and has no query peak above 1 between it and j: n2 of them, never
 *    fewer than the ratios the match factor takes (score.c explains why); t2_den is
 *    the sum of their m. Exact integers, equal in every kernel;
 *  - t2_num: over the links, m * sqrt(min(x, 1/x)), x = (a_j val_{j-1}) / (a_{j-1} val_j),
 *    where j-1 is common itself (then it is the peak the ratio is taken against, and
 *    this is the term the match factor adds), m * 1 where it is not (the ratio, if one
 *    is taken, is against a peak further back: at most 1). Float, any order. */
typedef struct sm_bound_sums {
    float dot;
    float t2_num;
    uint32_t n1;
    uint32_t n2;
    uint64_t t2_den;
    uint64_t below;
} sm_bound_sums;

/* A group of queries laid out for group_sums: lane l holds query l, and every
 * table has SM_GROUP entries an m/z, lane by lane, for m/z 0 .. n_tab - 1 (at least
 * the library's highest m/z). A lane not in use is all zero.
 *  - word[m]: the query's peaks above intensity 1 at m' <= m | those at m' < m << 16
 *    (bound_sums' counts, without the intensity, which sa gives);
 *  - le[m], lt[m]: the same two counts apart, 16 bits each (the AVX-512 kernel's);
 *  - bw[m]: m sqrt(a) in float, the query's side of the cross term;
 *  - sa[m]: sqrt(a) in float, a the query's intensity at m (0 where it has no peak);
 *  - nu[m]: the query's norm over m/z >= max(m, first[l]) (sm_qdense's suffix),
 *    rounded down to float;
 *  - first[l]: the query's first m/z (its intensity-1 peaks included);
 *  - floor[l]: the MF lane l's hits must reach (-inf: any; lanes not in use: +inf);
 *  - t1_need[l]: the T1 below which the first bound (T1 + 1) / 2 excludes at that
 *    floor, rounded down (0 or less: it excludes nothing; search.c's sketch_need);
 *  - sqrt_f[i]: sqrtf(i) for intensities 0..SM_BASE_PEAK. */
#define SM_GROUP 16
typedef struct sm_group_tab {
    size_t n_tab;
    uint32_t *word;
    uint16_t *le;
    uint16_t *lt;
    float *bw;
    float *sa;
    float *nu;
    uint32_t first[SM_GROUP];
    float floor[SM_GROUP];
    float t1_need[SM_GROUP];
    float sqrt_f[1000];
} sm_group_tab;

/* Per lane l, the sums of bound_sums with lo = max(first[l], mz[0]), except
 * `below` (the caller's: it concerns the few peaks under first[l]):
 *  - dot: sum over all peaks of bw[m] sqrt(val);
 *  - n1, n2, t2_den: exactly bound_sums' (links by the same rule);
 *  - t2_num: at least bound_sums' sum: a term where the predecessor is common is
 *    min(p, q) / max(p, q) with p = sa_j sqrt(val_j-1), q = sa_j-1 sqrt(val_j), each
 *    factor a float and the quotient within 2^-14 of its value (a reciprocal
 *    estimate), so the caller widens the sum by 2^-12 on top of its float slack. */
typedef struct sm_group_sums {
    float dot[SM_GROUP];
    float t2_num[SM_GROUP];
    uint32_t n1[SM_GROUP];
    uint32_t n2[SM_GROUP];
    uint32_t t2_den[SM_GROUP];
} sm_group_sums;

/* group_sums returns the lanes whose bound, estimated in float from these sums with
 * a margin (norm: the spectrum's sum of m I over its peaks above 1), may reach
 * their floor: a lane left out cannot; one kept is bounded exactly by the caller. */
unsigned sm_group_sums_scalar_(const sm_group_tab *g, const uint16_t *mz, const uint16_t *val,
                               size_t n, double norm, sm_group_sums *out);

/* group_sketch lane by lane. For spectrum s of the block and lane l, in float:
 * dot = sum over the entries of bw[m] c (c the spectrum's code, 8 sqrt(I) rounded
 * up), below = sum of m c^2 over the entries with m < first[l], nu = nu[first_mz[s]],
 * nl = norm[s] (rounded down) - 1.001 below / 64, d = 1.001 dot / 8; the lane is
 * excluded (its bit clear in pass[s]) when t1_need[l] > 0 and either dot = 0 or
 * nu > 0, nl > 0 and d^2 < t1_need[l] nu nl. The 1.001 covers the float sums
 * (relative error near 1e-6), so a lane excluded so is one the exact first bound
 * excludes. first_mz[s] < n_tab. */
void sm_group_sketch_scalar_(const sm_group_tab *g, const uint16_t *mz, const uint8_t *val,
                             size_t n, unsigned lanes, const float *norm,
                             const uint16_t *first_mz, uint16_t *pass);

/* An ISA file's group_sketch entry: impl(g, mz, val, n, L, norm, first_mz, pass), an
 * always-inline function, for blocks of 8 and of 4 spectra (L a constant there, so
 * that its accumulators stay in registers), the scalar kernel's for any other count. */
#define SM_GROUP_SKETCH_ENTRY(name, impl)                                                 \
    static void name(const sm_group_tab *g, const uint16_t *mz, const uint8_t *val,       \
                     size_t n, unsigned lanes, const float *norm, const uint16_t *first_mz, \
                     uint16_t *pass)                                                        \
    {                                                                                      \
        if (lanes == 8)                                                                    \
            impl(g, mz, val, n, 8, norm, first_mz, pass);                                  \
        else if (lanes == 4)                                                               \
            impl(g, mz, val, n, 4, norm, first_mz, pass);                                  \
        else                                                                               \
            sm_group_sketch_scalar_(g, mz, val, n, lanes, norm, first_mz, pass);           \
    }

/* bound_sums in plain C without branches (scalar.c, baseline flags). */
void sm_bound_sums_scalar_(const uint32_t *word, const uint16_t *mz, const uint16_t *val,
                           size_t n, unsigned lo, sm_bound_sums *out);

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
