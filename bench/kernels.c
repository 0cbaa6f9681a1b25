/* kernels.c — micro-benchmark of each SIMD kernel this CPU runs (dot, axpy, axpy4_u8, bound_sums, group_sums, unpack, block_bounds, collect_u16, sketch_sums, sketch_links, group_sketch), as ns per call and speedup over scalar. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/kernels.h"
#include "sm_internal.h"
#include "specmatch/specmatch.h"

#include "bench_common.h"

#define TARGET_S 0.2 /* per measurement, split between RUNS runs (the best is kept) */
#define RUNS 3
#define AXPY_BIG 16384
#define SPARSE_N 100 /* peaks of the library spectrum bound_sums walks */
#define SPARSE_BINS 1000
#define MAX_KERNELS 8

enum { OP_DOT1024, OP_AXPY1024, OP_AXPY16384, OP_AXPY4U8, OP_BOUND100, OP_GROUP100,
       OP_UNPACK100, OP_BLOCKS16384, OP_COLLECT16384, OP_SKETCH107, OP_LINKS107, OP_GSKETCH107,
       N_OPS };
static const char *const op_key[N_OPS] = {"dot1024",  "axpy1024",  "axpy16384",
                                          "axpy4u8",  "bound100",  "group100",
                                          "unpack100", "blocks16384", "collect16384",
                                          "sketch107", "links107",  "gsketch107"};
static const char *const op_desc[N_OPS] = {"dot 1024",           "axpy 1024",
                                           "axpy 16384",         "axpy4_u8 4x16384",
                                           "bound_sums 100/1000", "group_sums 16x100",
                                           "unpack 100 peaks",   "block_bounds 16384",
                                           "collect_u16 16384",  "sketch_sums 8x107",
                                           "sketch_links 8x107", "group_sketch 16x8x107"};

static float *va, *vb, *vy;
static uint32_t word[SPARSE_BINS + 1]; /* word[0] stands for m/z -1 */
static uint16_t idx[SPARSE_N], val[SPARSE_N];
/* the same spectrum packed as an opened library keeps it (intensities at least 1) */
static uint16_t packed[SPARSE_N * 2], pk_val[SPARSE_N], out_mz[SPARSE_N], out_in[SPARSE_N];
static size_t n_packed;
/* four rows of envelope bytes, and a group of 16 queries over SPARSE_BINS m/z */
static uint8_t *rows[4];
static sm_group_tab group;
/* 16,384 blocks' envelope sums, ratios, first m/z and buckets, and a query's norms */
static float blk_src[AXPY_BIG], blk_acc[AXPY_BIG + 16], blk_ratio[AXPY_BIG];
static float blk_nu[SPARSE_BINS];
static uint16_t blk_first[AXPY_BIG], blk_bucket[AXPY_BIG + 16];
static uint32_t blk_list[AXPY_BIG + 16];
/* a block's sketch: 107 entries (the 1M library's mean for 8 spectra), 8 codes each */
#define SKETCH_N 107
static uint16_t sk_mz[SKETCH_N];
static uint8_t sk_val[SKETCH_N * 8 + SM_SKETCH_PAD];
static float sk_bw[SM_MAX_NOMINAL_MZ + 2];
/* Every result ends here, so the compiler cannot drop the calls. */
static volatile float sink;


/* Seconds for reps calls of op. */
static double run(const sm_kernel *k, int op, size_t reps)
{
    float s = 0.0f;
    double t0 = now();
    switch (op) {
    case OP_DOT1024:
        for (size_t r = 0; r < reps; r++)
            s += k->dot(va, vb, 1024);
        break;
    case OP_AXPY1024:
    case OP_AXPY16384: {
        size_t n = op == OP_AXPY1024 ? 1024 : AXPY_BIG;
        /* Alternate the sign of a so that y stays bounded however many calls. */
        for (size_t r = 0; r < reps; r++)
            k->axpy((r & 1) ? 1e-3f : -1e-3f, va, vy, n);
        s = vy[reps % n];
        break;
    }
    case OP_BOUND100:
        for (size_t r = 0; r < reps; r++) {
            sm_bound_sums b;
            k->bound_sums(word + 1, idx, val, SPARSE_N, 40, &b);
            s += b.dot + (float)(b.n1 + b.n2);
        }
        break;
    case OP_AXPY4U8: {
        const uint8_t *const x[4] = {rows[0], rows[1], rows[2], rows[3]};
        for (size_t r = 0; r < reps; r++) {
            float a = (r & 1) ? 1e-5f : -1e-5f;
            const float a4[4] = {a, a, a, a};
            k->axpy4_u8(a4, x, vy, AXPY_BIG);
        }
        s = vy[reps % AXPY_BIG];
        break;
    }
    case OP_GROUP100:
        for (size_t r = 0; r < reps; r++) {
            sm_group_sums g;
            s += (float)k->group_sums(&group, idx, pk_val, SPARSE_N, 1e6, &g) + g.dot[r % 16];
        }
        break;
    case OP_BLOCKS16384:
        for (size_t r = 0; r < reps; r++) {
            /* the bounds overwrite the sums: the same sums every call */
            memcpy(blk_acc, blk_src, AXPY_BIG * sizeof *blk_acc);
            k->block_bounds(blk_acc, blk_ratio, blk_first, AXPY_BIG, blk_nu, 40, 400,
                            blk_bucket, 64.0f, 16);
            s += blk_acc[r % AXPY_BIG];
        }
        break;
    case OP_COLLECT16384:
        for (size_t r = 0; r < reps; r++)
            s += (float)k->collect_u16(blk_bucket, AXPY_BIG, (unsigned)(r % 17), blk_list);
        break;
    case OP_SKETCH107:
        for (size_t r = 0; r < reps; r++) {
            float dot[8], below[8];
            k->sketch_sums(sk_bw, sk_mz, sk_val, SKETCH_N, 8, 40, dot, below);
            s += dot[r % 8] + below[r % 8];
        }
        break;
    case OP_LINKS107: /* the bound_sums query's words over the same block */
        for (size_t r = 0; r < reps; r++) {
            uint32_t n1[8], n2[8];
            k->sketch_links(word + 1, sk_mz, sk_val, SKETCH_N, 8, n1, n2);
            s += (float)(n1[r % 8] + n2[r % 8]);
        }
        break;
    case OP_GSKETCH107: {
        /* the group's 16 queries against a block's 8 spectra */
        const float norm[8] = {1e6f, 1e6f, 1e6f, 1e6f, 1e6f, 1e6f, 1e6f, 1e6f};
        const uint16_t first[8] = {30, 30, 31, 30, 32, 30, 30, 31};
        for (size_t r = 0; r < reps; r++) {
            uint16_t pass[8];
            k->group_sketch(&group, sk_mz, sk_val, SKETCH_N, 8, norm, first, pass);
            s += (float)pass[r % 8];
        }
        break;
    }
    case OP_UNPACK100:
        for (size_t r = 0; r < reps; r++)
            s += (float)k->unpack(packed, n_packed, out_mz, out_in) + (float)out_mz[r % SPARSE_N];
        break;
    }
    double t = now() - t0;
    sink = s;
    return t;
}

/* Nanoseconds per call: grow reps until a run takes 10 ms, scale to TARGET_S / RUNS
 * a run, keep the fastest of RUNS runs (the least disturbed). */
static double ns_per_call(const sm_kernel *k, int op)
{
    size_t reps = 16;
    double t;
    while ((t = run(k, op, reps)) < 0.01)
        reps *= 4;
    reps = (size_t)((double)reps * (TARGET_S / RUNS) / t) + 1;
    double best = 1e300;
    for (int i = 0; i < RUNS; i++) {
        t = run(k, op, reps);
        if (t < best)
            best = t;
    }
    return best * 1e9 / (double)reps;
}


static uint32_t lcg_state = 42u;
static uint32_t lcg(void)
{
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return lcg_state;
}

int main(void)
{
    va = aligned_alloc(64, AXPY_BIG * sizeof(float));
    vb = aligned_alloc(64, AXPY_BIG * sizeof(float));
    vy = aligned_alloc(64, AXPY_BIG * sizeof(float));
    if (!va || !vb || !vy) {
        fprintf(stderr, "bench_kernels: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < AXPY_BIG; i++) {
        va[i] = (float)(lcg() >> 8) / 16777216.0f;
        vb[i] = (float)(lcg() >> 8) / 16777216.0f;
        vy[i] = (float)(lcg() >> 8) / 16777216.0f;
    }
    /* blocks: sums up to 100 (one in ten 0), ratios 1-2, first m/z 20-299, and a
     * query's norms falling to 0 at m/z 400; their buckets for collect_u16 */
    for (size_t m = 0; m < SPARSE_BINS; m++)
        blk_nu[m] = m < 400 ? (float)((400 - m) * 500) : 0.0f;
    for (size_t i = 0; i < AXPY_BIG; i++) {
        blk_src[i] = lcg() % 10 == 0 ? 0.0f : (float)(lcg() % 100000) / 1000.0f;
        blk_ratio[i] = 1.0f + (float)(lcg() % 1000) / 1000.0f;
        blk_first[i] = (uint16_t)(20 + lcg() % 280);
        blk_acc[i] = blk_src[i];
    }
    sm_kernel_scalar_.block_bounds(blk_acc, blk_ratio, blk_first, AXPY_BIG, blk_nu, 40, 400,
                                   blk_bucket, 64.0f, 16);
    /* a query on about a third of the bins; word[] holds its intensity and the
     * running count of its peaks above 1, as the search lays it out */
    uint32_t cnt = 0;
    for (size_t i = 0; i < 1024; i++) {
        uint32_t a = i > 0 && i < SPARSE_BINS && lcg() % 3 == 0 ? 1 + lcg() % 999 : 0;
        cnt += a > 1;
        if (i < SPARSE_BINS)
            word[i + 1] = a | cnt << 16;
    }
    for (size_t i = 0; i < SPARSE_N; i++) { /* increasing m/z, as in a spectrum */
        idx[i] = (uint16_t)(i * (SPARSE_BINS / SPARSE_N) + lcg() % (SPARSE_BINS / SPARSE_N));
        val[i] = (uint16_t)(lcg() % SPARSE_BINS);
        pk_val[i] = val[i] ? val[i] : 1;
    }
    n_packed = sm_pack_((sm_nominal){SPARSE_N, idx, pk_val}, packed);
    /* the sketch from m/z 30 up, a few below the query's first (40); the query's
     * weights on about a third of the m/z */
    for (size_t e = 0; e < SKETCH_N; e++) {
        sk_mz[e] = (uint16_t)(30 + e * 2 + lcg() % 2);
        for (unsigned l = 0; l < 8; l++)
            sk_val[e * 8 + l] = (uint8_t)(lcg() % 4 == 0 ? 0 : 8 + lcg() % 246);
    }
    for (size_t m = 40; m < SPARSE_BINS; m++)
        sk_bw[m] = lcg() % 3 == 0 ? (float)m * sqrtf((float)(1 + lcg() % 999)) : 0.0f;
    for (int r = 0; r < 4; r++) {
        rows[r] = malloc(AXPY_BIG);
        if (rows[r] == NULL)
            return 1;
        for (size_t i = 0; i < AXPY_BIG; i++)
            rows[r][i] = (uint8_t)(lcg() >> 24);
    }
    /* 16 queries, each on about a third of the bins, floors at 500 */
    size_t cells = (size_t)SPARSE_BINS * SM_GROUP;
    group.n_tab = SPARSE_BINS;
    group.word = aligned_alloc(64, cells * sizeof *group.word);
    size_t half = (cells * sizeof *group.le + 63) & ~(size_t)63; /* a multiple of 64 */
    group.le = aligned_alloc(64, half);
    group.lt = aligned_alloc(64, half);
    group.bw = aligned_alloc(64, cells * sizeof *group.bw);
    group.sa = aligned_alloc(64, cells * sizeof *group.sa);
    group.nu = aligned_alloc(64, cells * sizeof *group.nu);
    if (!group.word || !group.le || !group.lt || !group.bw || !group.sa || !group.nu)
        return 1;
    for (unsigned i = 0; i <= SM_BASE_PEAK; i++)
        group.sqrt_f[i] = sqrtf((float)i);
    for (unsigned l = 0; l < SM_GROUP; l++) {
        uint32_t c = 0;
        for (unsigned m = 0; m < SPARSE_BINS; m++) {
            uint32_t a = m > 0 && lcg() % 3 == 0 ? 1 + lcg() % 999 : 0;
            size_t at = (size_t)m * SM_GROUP + l;
            group.word[at] = (c + (a > 1)) | c << 16; /* peaks above 1 up to m, before m */
            group.le[at] = (uint16_t)(c + (a > 1));
            group.lt[at] = (uint16_t)c;
            c += a > 1;
            group.sa[at] = sqrtf((float)a);
            group.bw[at] = (float)m * group.sa[at];
            group.nu[at] = 1e6f;
        }
        group.first[l] = 1;
        group.floor[l] = 500.0f;
        group.t1_need[l] = 0.2f; /* (a floor of 600) */
    }

    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    printf("cpu: %s\n", cpu);
    printf("default kernel: %s\n", sm_kernel_active());

    const char *names[MAX_KERNELS];
    double ns[MAX_KERNELS][N_OPS];
    size_t nk = 0, scalar_at = 0;
    for (size_t i = 0; i < sm_kernel_count() && nk < MAX_KERNELS; i++) {
        if (!sm_kernel_supported_at(i)) {
            printf("%-8s not supported by this CPU\n", sm_kernel_name_at(i));
            continue;
        }
        sm_error err;
        if (sm_kernel_select(sm_kernel_name_at(i), &err) != SM_OK) {
            fprintf(stderr, "bench_kernels: %s\n", err.message);
            return 1;
        }
        const sm_kernel *k = sm_kernel_get_();
        names[nk] = k->name;
        if (strcmp(k->name, "scalar") == 0)
            scalar_at = nk;
        for (int op = 0; op < N_OPS; op++)
            ns[nk][op] = (op == OP_AXPY4U8 && k->axpy4_u8 == NULL) ||
                                 (op == OP_GROUP100 && k->group_sums == NULL) ||
                                 (op == OP_BLOCKS16384 && k->block_bounds == NULL) ||
                                 (op == OP_COLLECT16384 && k->collect_u16 == NULL) ||
                                 (op == OP_SKETCH107 && k->sketch_sums == NULL) ||
                                 (op == OP_LINKS107 && k->sketch_links == NULL) ||
                                 (op == OP_GSKETCH107 && k->group_sketch == NULL)
                             ? NAN /* the kernel has none */
                             : ns_per_call(k, op);
        nk++;
    }

    printf("%-8s %-20s %12s %9s\n", "kernel", "operation", "ns/call", "speedup");
    for (size_t j = 0; j < nk; j++)
        for (int op = 0; op < N_OPS; op++)
            if (isnan(ns[j][op]))
                printf("%-8s %-20s %12s %9s\n", names[j], op_desc[op], "-", "n/a");
            else
                printf("%-8s %-20s %12.1f %8.2fx\n", names[j], op_desc[op], ns[j][op],
                       ns[scalar_at][op] / ns[j][op]);

    printf("BENCH_KERNELS {\"cpu\": \"%s\"", cpu);
    for (size_t j = 0; j < nk; j++)
        for (int op = 0; op < N_OPS; op++)
            if (isnan(ns[j][op]))
                printf(", \"%s_ns_%s\": null", op_key[op], names[j]);
            else
                printf(", \"%s_ns_%s\": %.2f", op_key[op], names[j], ns[j][op]);
    for (size_t j = 0; j < nk; j++)
        if (j != scalar_at)
            for (int op = 0; op < N_OPS; op++)
                if (!isnan(ns[j][op]))
                    printf(", \"%s_speedup_%s\": %.2f", op_key[op], names[j],
                           ns[scalar_at][op] / ns[j][op]);
    printf("}\n");

    for (int r = 0; r < 4; r++)
        free(rows[r]);
    free(group.word);
    free(group.le);
    free(group.lt);
    free(group.bw);
    free(group.sa);
    free(group.nu);
    free(va);
    free(vb);
    free(vy);
    return 0;
}
