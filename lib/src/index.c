/* index.c — builds the block-envelope index that lets the search skip spectra exactly (see sm_internal.h). */
/* madvise, MADV_HUGEPAGE (sm_alloc_big_) */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kernels/kernels.h"
#include "sm_internal.h"

size_t sm_index_small_ = SM_INDEX_SMALL;

/* Large arrays read in no predictable order (the sketches) on 2 MB pages where the
 * system allows, so that reading them misses the address translation cache less
 * (1M: 2-3 % more queries/s). */
void *sm_alloc_big_(size_t size)
{
#if defined(MADV_HUGEPAGE)
    const size_t huge = (size_t)2 << 20;
    if (size >= huge) {
        size_t r = (size + huge - 1) & ~(huge - 1);
        void *p = aligned_alloc(huge, r);
        if (p != NULL)
            madvise(p, r, MADV_HUGEPAGE);
        return p;
    }
#endif
    return malloc(size);
}

void sm_index_free_(sm_index *ix)
{
    if (ix == NULL)
        return;
    free(ix->order);
    free(ix->block_max_first);
    free(ix->norm);
    free(ix->pos_of);
    free(ix->env);
    free(ix->row_dense);
    free(ix->sp_off);
    free(ix->sp_block);
    free(ix->sp_code);
    free(ix->row_scale);
    free(ix->ratio);
    free(ix->sk_off);
    free(ix->sk_mz);
    free(ix->sk_val);
    free(ix->first_mz);
    free(ix);
}

typedef struct {
    uint64_t key;
    uint32_t index;
} keyed;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Clustering key: the m/z of the KEY_PEAKS peaks of largest weight m * I, strongest
 * first, 12 bits each (m/z above 4,095 share the top value), so that spectra sharing
 * their main ions land in the same blocks and the blocks' envelopes stay tight. */
#define KEY_PEAKS 5

static uint64_t cluster_key(sm_nominal s)
{
    double best[KEY_PEAKS];
    unsigned mz[KEY_PEAKS];
    for (int j = 0; j < KEY_PEAKS; j++) {
        best[j] = -1;
        mz[j] = 0;
    }
    for (size_t k = 0; k < s.n; k++) {
        double w = (double)s.mz[k] * s.intensity[k];
        for (int j = 0; j < KEY_PEAKS; j++) {
            if (w > best[j]) {
                for (int t = KEY_PEAKS - 1; t > j; t--) {
                    best[t] = best[t - 1];
                    mz[t] = mz[t - 1];
                }
                best[j] = w;
                mz[j] = s.mz[k];
                break;
            }
        }
    }
    uint64_t key = 0;
    for (int j = 0; j < KEY_PEAKS; j++)
        key = key << 12 | (mz[j] < 4095 ? mz[j] : 4095);
    return key;
}

/* Blocks made of look-alikes. Walking the spectra in key order, each block starts
 * with the first spectrum not yet placed (the seed) and takes the block - 1 spectra
 * most like it (cosine of the sqrt(m I) weights) among the next FILL_WINDOW not yet
 * placed. Keys alone put unlike spectra side by side where the main ions agree and
 * the rest differ, and an envelope is only as tight as its block is alike. The
 * window is wide because the index is built once, with the library (the 1M
 * benchmark's searches: 15-20 % faster with 4,096 than with 128). The minor peaks
 * decide which spectra are alike (ranking by the 16 strongest alone lost all of
 * that), so the cosine is the whole one; it is computed only for candidates that may
 * still be among the best: the cosine over a candidate's SIG_PEAKS strongest peaks
 * plus the norm of its other weights (the seed's weights have norm 1) bounds its
 * whole cosine from above. */
#define FILL_WINDOW 4096
/* A library indexed when opened (a file without a stored index) keeps the narrow
 * window it always had: there the time to open counts. */
#define FILL_WINDOW_OPEN 128
#define SIG_PEAKS 16
#define SIG_FIRST 16 /* candidates scored first, by their bound: a floor early */

/* Spectrum s's SIG_PEAKS largest weights sqrt(m I) / sqrt(sum m I), their m/z (zeros
 * past its peaks), and the norm of the rest (plus a margin for the float sums). */
static float signature(sm_nominal s, const float *sqrt_m, const float *sqrt_i, uint16_t *mz,
                       float *w)
{
    float total = 0;
    for (size_t k = 0; k < s.n; k++) {
        float v = sqrt_m[s.mz[k]] * sqrt_i[s.intensity[k]];
        total += v * v;
    }
    float r = total > 0 ? 1.0f / sqrtf(total) : 0.0f, kept = 0;
    size_t n = 0;
    for (size_t k = 0; k < s.n; k++) {
        float v = sqrt_m[s.mz[k]] * sqrt_i[s.intensity[k]] * r;
        if (n == SIG_PEAKS && v <= w[SIG_PEAKS - 1])
            continue;
        size_t j = n < SIG_PEAKS ? n++ : SIG_PEAKS - 1; /* insertion, largest first */
        while (j > 0 && w[j - 1] < v) {
            w[j] = w[j - 1];
            mz[j] = mz[j - 1];
            j--;
        }
        w[j] = v;
        mz[j] = s.mz[k];
    }
    for (size_t j = 0; j < n; j++)
        kept += w[j] * w[j];
    for (; n < SIG_PEAKS; n++) {
        w[n] = 0.0f;
        mz[n] = 0;
    }
    return sqrtf(kept < 1.0f ? 1.0f - kept : 0.0f) + 1e-3f;
}

/* The whole cosine of spectrum s with the seed's normalized weights. */
static float cosine(sm_nominal s, const float *seed, const float *sqrt_m, const float *sqrt_i)
{
    float dot = 0, nb = 0;
    for (size_t k = 0; k < s.n; k++) {
        float w = sqrt_m[s.mz[k]] * sqrt_i[s.intensity[k]];
        dot += w * seed[s.mz[k]];
        nb += w * w;
    }
    return nb > 0 ? dot / sqrtf(nb) : 0.0f;
}

/* The block's best so far: score descending, ties by key position. */
struct picks {
    size_t n, want;
    size_t pos[SM_INDEX_BLOCK_LARGE];
    float score[SM_INDEX_BLOCK_LARGE];
};

static void pick(struct picks *b, size_t p, float sc)
{
    if (b->n == b->want &&
        !(sc > b->score[b->n - 1] || (sc == b->score[b->n - 1] && p < b->pos[b->n - 1])))
        return;
    size_t j = b->n < b->want ? b->n++ : b->want - 1;
    while (j > 0 && (sc > b->score[j - 1] || (sc == b->score[j - 1] && p < b->pos[j - 1]))) {
        b->score[j] = b->score[j - 1];
        b->pos[j] = b->pos[j - 1];
        j--;
    }
    b->score[j] = sc;
    b->pos[j] = p;
}

/* One segment of the keys, blocked alone: its spectra's order into `order`. */
static sm_status fill_segment(const sm_library *lib, const sm_index *ix, const keyed *keys,
                              size_t n, size_t window, uint32_t *order)
{
    size_t bsz = ix->block;
    float *seed = calloc(ix->n_bins, sizeof *seed);
    float *sqrt_m = malloc(ix->n_bins * sizeof *sqrt_m);
    uint8_t *placed = calloc(n ? n : 1, 1);
    uint16_t *sig_mz = malloc((n ? n : 1) * SIG_PEAKS * sizeof *sig_mz);
    float *sig_w = malloc((n ? n : 1) * SIG_PEAKS * sizeof *sig_w);
    float *tail = malloc((n ? n : 1) * sizeof *tail);
    size_t *cand = malloc(window * sizeof *cand);
    float *bound = malloc(window * sizeof *bound);
    float sqrt_i[SM_BASE_PEAK + 1];
    sm_status st = SM_ERR_NOMEM;
    if (!seed || !sqrt_m || !placed || !sig_mz || !sig_w || !tail || !cand || !bound)
        goto out;
    /* weights sqrt(m I) as sqrt(m) sqrt(I), from two tables: this only ranks */
    for (size_t m = 0; m < ix->n_bins; m++)
        sqrt_m[m] = sqrtf((float)m);
    for (unsigned i = 0; i <= SM_BASE_PEAK; i++)
        sqrt_i[i] = sqrtf((float)i);
    /* signatures in key order, so that the window reads them in a row */
    for (size_t p = 0; p < n; p++)
        tail[p] = signature(sm_nominal_at_(lib, keys[p].index, NULL, NULL), sqrt_m, sqrt_i,
                            sig_mz + p * SIG_PEAKS, sig_w + p * SIG_PEAKS);
    size_t next = 0, out = 0; /* first key position not yet placed; spectra placed */
    while (out < n) {
        while (placed[next])
            next++;
        size_t i = keys[next].index;
        placed[next] = 1;
        order[out++] = (uint32_t)i;
        if (bsz == 1 || out == n)
            continue;
        sm_nominal a = sm_nominal_at_(lib, i, NULL, NULL);
        float total = 0;
        for (size_t k = 0; k < a.n; k++) {
            float v = sqrt_m[a.mz[k]] * sqrt_i[a.intensity[k]];
            seed[a.mz[k]] = v;
            total += v * v;
        }
        float r = total > 0 ? 1.0f / sqrtf(total) : 0.0f;
        for (size_t k = 0; k < a.n; k++)
            seed[a.mz[k]] *= r;
        /* each candidate's bound, and the SIG_FIRST best bounds (by index into cand) */
        size_t nc = 0, first[SIG_FIRST], nf = 0;
        for (size_t p = next + 1; p < n && nc < window; p++) {
            if (placed[p])
                continue;
            const uint16_t *cm = sig_mz + p * SIG_PEAKS;
            const float *cw = sig_w + p * SIG_PEAKS;
            float dot = 0;
            for (size_t k = 0; k < SIG_PEAKS; k++)
                dot += cw[k] * seed[cm[k]];
            float ub = dot + tail[p];
            size_t c = nc++;
            cand[c] = p;
            bound[c] = ub;
            if (nf == SIG_FIRST && ub <= bound[first[nf - 1]])
                continue;
            size_t j = nf < SIG_FIRST ? nf++ : SIG_FIRST - 1;
            while (j > 0 && bound[first[j - 1]] < ub) {
                first[j] = first[j - 1];
                j--;
            }
            first[j] = c;
        }
        struct picks best = {0, bsz - 1 < n - out ? bsz - 1 : n - out, {0}, {0}};
        for (size_t f = 0; f < nf; f++) {
            size_t c = first[f];
            pick(&best, cand[c],
                 cosine(sm_nominal_at_(lib, keys[cand[c]].index, NULL, NULL), seed, sqrt_m,
                        sqrt_i));
            bound[c] = -INFINITY; /* done */
        }
        for (size_t c = 0; c < nc; c++) {
            if (best.n == best.want && !(bound[c] >= best.score[best.n - 1]))
                continue;
            if (bound[c] == -INFINITY)
                continue;
            pick(&best, cand[c],
                 cosine(sm_nominal_at_(lib, keys[cand[c]].index, NULL, NULL), seed, sqrt_m,
                        sqrt_i));
        }
        for (size_t k = 0; k < a.n; k++)
            seed[a.mz[k]] = 0.0f;
        for (size_t t = 0; t < best.n; t++) {
            placed[best.pos[t]] = 1;
            order[out++] = keys[best.pos[t]].index;
        }
    }
    st = SM_OK;
out:
    free(seed);
    free(sqrt_m);
    free(placed);
    free(sig_mz);
    free(sig_w);
    free(tail);
    free(cand);
    free(bound);
    return st;
}

/* The keys are blocked in segments of sm_index_segment_ spectra (a whole number of
 * blocks), each alone and on its own thread: the greedy choice of a block's spectra
 * goes one block after another, and segments are what can go side by side. Their
 * size does not depend on the number of threads, so neither does the index. A
 * segment's last blocks choose among fewer candidates than FILL_WINDOW: at 1M, with
 * segments of 2^18, the last 4,096 of each 262,144 positions. */
size_t sm_index_segment_ = SM_INDEX_SEGMENT;

typedef struct fill_job {
    const sm_library *lib;
    const sm_index *ix;
    const keyed *keys;
    size_t n, window, seg, step, first; /* this thread's segments: first, first + step, ... */
    sm_status st;
} fill_job;

static void *fill_thread(void *arg)
{
    fill_job *j = arg;
    j->st = SM_OK;
    for (size_t s0 = j->first * j->seg; s0 < j->n && j->st == SM_OK; s0 += j->step * j->seg) {
        size_t len = j->n - s0 < j->seg ? j->n - s0 : j->seg;
        j->st = fill_segment(j->lib, j->ix, j->keys + s0, len, j->window, j->ix->order + s0);
    }
    return NULL;
}

static sm_status fill_blocks(const sm_library *lib, sm_index *ix, const keyed *keys, size_t n,
                             size_t window)
{
    size_t seg = sm_index_segment_ / ix->block * ix->block;
    if (seg == 0)
        seg = ix->block;
    size_t n_seg = n == 0 ? 1 : (n + seg - 1) / seg;
    size_t t = sm_cpu_count();
    t = t < n_seg ? t : n_seg;
    t = t < SM_MAX_THREADS_ ? t : SM_MAX_THREADS_;
    fill_job job[SM_MAX_THREADS_];
    for (size_t k = 0; k < t; k++)
        job[k] = (fill_job){lib, ix, keys, n, window, seg, t, k, SM_OK};
    sm_run_threads_(fill_thread, job, sizeof job[0], t);
    for (size_t k = 0; k < t; k++)
        if (job[k].st != SM_OK)
            return job[k].st;
    return SM_OK;
}

/* Envelope rows where few blocks have the m/z (high masses, odd ones: most rows of a
 * large library) are kept as lists of (block, byte). A list entry takes 5 bytes and a
 * search ~2 cycles (a scattered add), a dense row 1 byte a block and ~0.2 cycles a
 * block (sixteen at a time), so a row is listed when under a tenth of its blocks are
 * nonzero: at 1M spectra 86 rows more are dense than with a fifth (+11 MB in memory)
 * and a query's listed entries fall from ~152,000 to ~27,000 (+3 % queries/s). The
 * dense rows are packed together. */
static sm_status pack_rows(sm_index *ix)
{
    size_t nb = ix->n_bins, stride = ix->stride, n_dense = 0, n_sparse = 0;
    ix->row_dense = malloc(nb * sizeof *ix->row_dense);
    ix->sp_off = malloc((nb + 1) * sizeof *ix->sp_off);
    if (ix->row_dense == NULL || ix->sp_off == NULL)
        return SM_ERR_NOMEM;
    for (size_t m = 0; m < nb; m++) {
        const uint8_t *row = ix->env + m * stride;
        size_t nz = 0;
        for (size_t b = 0; b < ix->n_blocks; b++)
            nz += row[b] != 0;
        if (10 * nz < ix->n_blocks) {
            ix->row_dense[m] = -1;
            n_sparse += nz;
        } else {
            ix->row_dense[m] = (int32_t)n_dense++;
        }
    }
    uint8_t *dense = malloc((n_dense ? n_dense : 1) * stride);
    ix->sp_block = malloc((n_sparse ? n_sparse : 1) * sizeof *ix->sp_block);
    ix->sp_code = malloc(n_sparse ? n_sparse : 1);
    if (dense == NULL || ix->sp_block == NULL || ix->sp_code == NULL) {
        free(dense);
        return SM_ERR_NOMEM;
    }
    size_t e = 0;
    for (size_t m = 0; m < nb; m++) {
        const uint8_t *row = ix->env + m * stride;
        ix->sp_off[m] = e;
        if (ix->row_dense[m] >= 0) {
            memcpy(dense + (size_t)ix->row_dense[m] * stride, row, stride);
            continue;
        }
        for (size_t b = 0; b < ix->n_blocks; b++)
            if (row[b] != 0) {
                ix->sp_block[e] = (uint32_t)b;
                ix->sp_code[e++] = row[b];
            }
    }
    ix->sp_off[nb] = e;
    free(ix->env);
    ix->env = dense;
    return SM_OK;
}

/* Rounded up to float: stays an upper bound. */
static float float_up(double v)
{
    float f = (float)v;
    if ((double)f < v)
        f = nextafterf(f, INFINITY);
    return f;
}

/* The index of lib's spectra and the spectra packed in its blocked order (pk).
 * With install, the library takes both and its unpacked arrays are freed as soon as
 * the packed ones exist, before the envelopes are built (the peak of memory while
 * opening); without, lib is left as it was (the writer's copy for the file). */
static sm_status index_make(sm_library *lib, bool install, sm_index **out, sm_packed_ *pk,
                            sm_error *err)
{
    size_t n = lib->n;
    sm_index *ix = calloc(1, sizeof *ix);
    keyed *keys = NULL;
    *out = NULL;
    memset(pk, 0, sizeof *pk);
    if (ix == NULL)
        goto nomem;

    unsigned max_mz = 0;
    for (size_t k = 0; k < lib->n_nom; k++)
        if (lib->nom_mz[k] > max_mz)
            max_mz = lib->nom_mz[k];
    ix->n_bins = (size_t)max_mz + 1;
    ix->block = n <= sm_index_small_ ? SM_INDEX_BLOCK_SMALL : SM_INDEX_BLOCK_LARGE;
    ix->n_blocks = (n + ix->block - 1) / ix->block;
    ix->stride = (ix->n_blocks + 15) & ~(size_t)15;
    if (ix->stride == 0)
        ix->stride = 16;

    ix->order = calloc(n ? n : 1, sizeof *ix->order);
    ix->norm = calloc(n ? n : 1, sizeof *ix->norm);
    ix->block_max_first = calloc(ix->stride, sizeof *ix->block_max_first);
    ix->row_scale = calloc(ix->n_bins, sizeof *ix->row_scale);
    ix->ratio = calloc(ix->stride * SM_INDEX_CUTS, sizeof *ix->ratio);
    keys = calloc(n ? n : 1, sizeof *keys);
    if (!ix->order || !ix->norm || !ix->block_max_first || !ix->row_scale || !ix->ratio || !keys)
        goto nomem;

    /* each row's scale: the largest weight any spectrum has at that m/z. The largest
     * m I / N is kept and its square root taken once: sqrt and the rounding up are
     * monotonic, so this is the largest of the rounded-up weights. */
    double *row_max = calloc(ix->n_bins, sizeof *row_max);
    if (row_max == NULL)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        sm_nominal s = sm_nominal_at_(lib, i, NULL, NULL);
        keys[i].key = cluster_key(s);
        keys[i].index = (uint32_t)i;
        double sum = 0;
        for (size_t k = 0; k < s.n; k++)
            if (s.intensity[k] > 1)
                sum += (double)s.mz[k] * s.intensity[k];
        ix->norm[i] = sum; /* a whole number: exact in double */
        for (size_t k = 0; k < s.n; k++) {
            double x = sum > 0 ? (double)s.mz[k] * s.intensity[k] / sum : INFINITY;
            if (x > row_max[s.mz[k]])
                row_max[s.mz[k]] = x;
        }
    }
    for (size_t m = 0; m < ix->n_bins; m++)
        ix->row_scale[m] = row_max[m] > 0 ? float_up(sqrt(row_max[m])) : 0.0f;
    free(row_max);
    qsort(keys, n, sizeof *keys, cmp_keyed);
    if (fill_blocks(lib, ix, keys, n, install ? FILL_WINDOW_OPEN : FILL_WINDOW) != SM_OK)
        goto nomem;
    free(keys);
    keys = NULL;

    /* Lay the nominal spectra out in blocked order, packed 2 bytes a peak
     * (kernels.h): scanning a block then reads one short stretch of memory instead
     * of eight scattered ones, and the peaks take half the memory. Done before the
     * envelopes, so that the unpacked arrays are gone before those are built (the
     * peak of memory while opening). */
    uint64_t *off = malloc((n + 1) * sizeof *off);
    double *norm_pos = malloc((n ? n : 1) * sizeof *norm_pos);
    uint16_t *peaks = malloc((n ? n : 1) * sizeof *peaks);
    ix->pos_of = malloc((n ? n : 1) * sizeof *ix->pos_of);
    uint16_t *w = NULL;
    if (off && norm_pos && peaks && ix->pos_of) {
        off[0] = 0;
        for (size_t p = 0; p < n; p++) {
            size_t i = ix->order[p];
            sm_nominal s = sm_nominal_at_(lib, i, NULL, NULL);
            off[p + 1] = off[p] + sm_pack_(s, NULL);
            peaks[p] = (uint16_t)s.n;
            norm_pos[p] = ix->norm[i];
            ix->pos_of[i] = (uint32_t)p;
        }
        w = malloc((off[n] ? off[n] : 1) * sizeof *w);
    }
    if (w == NULL) {
        free(off);
        free(norm_pos);
        free(peaks);
        goto nomem;
    }
    for (size_t p = 0; p < n; p++)
        sm_pack_(sm_nominal_at_(lib, ix->order[p], NULL, NULL), w + off[p]);
    *pk = (sm_packed_){off, w, peaks, off[n]};
    if (install) {
        sm_library_take_packed_(lib, pk);
        memset(pk, 0, sizeof *pk);
    }
    free(ix->norm);
    ix->norm = norm_pos;

    /* Envelopes, block by block, from the packed spectra (by position now). Each
     * cell's byte is that of the block's largest m I / N at that m/z (the code is
     * monotonic in it), so one square root a cell, not a peak. */
    sm_nominal_buf *buf = malloc(sizeof *buf);
    double *cell_max = calloc(ix->n_bins, sizeof *cell_max);
    uint16_t *touched = malloc(ix->n_bins * sizeof *touched);
    ix->env = calloc(ix->n_bins * ix->stride, sizeof *ix->env);
    if (buf == NULL || cell_max == NULL || touched == NULL || ix->env == NULL) {
        free(buf);
        free(cell_max);
        free(touched);
        goto nomem;
    }
    size_t n_touched = 0;
    for (size_t p = 0; p < n; p++) {
        size_t b = p / ix->block;
        uint64_t o = off[p];
        size_t np = sm_kernel_get_()->unpack(w + o, (size_t)(off[p + 1] - o), buf->mz,
                                             buf->intensity);
        sm_nominal s = {np, buf->mz, buf->intensity};
        double total = ix->norm[p];
        if (s.n > 0 && s.mz[0] > ix->block_max_first[b])
            ix->block_max_first[b] = s.mz[0];
        for (size_t k = 0; k < s.n; k++) {
            unsigned m = s.mz[k];
            /* m I > 0: a cell at 0 is one no spectrum of the block has yet */
            double x = total > 0 ? (double)m * s.intensity[k] / total : INFINITY;
            if (cell_max[m] == 0)
                touched[n_touched++] = (uint16_t)m;
            if (x > cell_max[m])
                cell_max[m] = x;
        }
        /* the norm left above each cut, walking the peaks once */
        float *ratio = ix->ratio + b; /* ratio[c * stride] */
        double below = 0;
        size_t k = 0;
        for (unsigned c = 0; c < SM_INDEX_CUTS; c++) {
            unsigned cut = SM_INDEX_CUT0 + c * SM_INDEX_CUT_STEP;
            for (; k < s.n && s.mz[k] < cut; k++)
                if (s.intensity[k] > 1)
                    below += (double)s.mz[k] * s.intensity[k];
            double left = total - below;
            float r = left > 0 ? float_up(sqrt(total / left)) : INFINITY;
            if (r > ratio[c * ix->stride])
                ratio[c * ix->stride] = r;
        }
        if (p + 1 < n && (p + 1) / ix->block == b)
            continue;
        for (size_t t = 0; t < n_touched; t++) { /* the block is complete */
            unsigned m = touched[t];
            double scale = ix->row_scale[m], v = sqrt(cell_max[m]);
            /* bytes rounded up, so that code * scale / 255 >= v */
            double code = isfinite(scale) && scale > 0 ? ceil(v / scale * 255.0) : 255.0;
            ix->env[(size_t)m * ix->stride + b] = code >= 255.0 ? 255 : (uint8_t)code;
            cell_max[m] = 0;
        }
        n_touched = 0;
    }
    free(cell_max);
    free(touched);
    free(buf);
    if (pack_rows(ix) != SM_OK)
        goto nomem;
    if (install)
        lib->index = ix;
    else
        *out = ix;
    return SM_OK;
nomem:
    free(keys);
    sm_index_free_(ix);
    sm_packed_free_(pk);
    return sm_seterr_(err, SM_ERR_NOMEM, NULL, 0, "out of memory building the search index");
}

sm_status sm_index_build_(sm_library *lib, sm_error *err)
{
    sm_index *ix;
    sm_packed_ pk;
    return index_make(lib, true, &ix, &pk, err);
}

sm_status sm_index_compute_(const sm_library *lib, sm_index **out, sm_packed_ *pk, sm_error *err)
{
    /* without install, index_make only reads lib */
    return index_make((sm_library *)lib, false, out, pk, err);
}

void sm_library_take_packed_(sm_library *lib, const sm_packed_ *pk)
{
    free(lib->nom_mz);
    free(lib->nom_int);
    free(lib->nom_off);
    lib->nom_mz = lib->nom_int = NULL;
    lib->nom_off = pk->off;
    lib->nom_w = pk->w;
    lib->nom_peaks = pk->peaks;
    lib->n_words = pk->n_words;
}

void sm_packed_free_(sm_packed_ *pk)
{
    free(pk->off);
    free(pk->w);
    free(pk->peaks);
    memset(pk, 0, sizeof *pk);
}

/* The sketch code of intensity i: ceil(8 sqrt(i)), so that code / 8 >= sqrt(i)
 * (8 sqrt(i) is a whole number only for squares, where sqrt is exact; elsewhere it
 * is at least 1/506 from one, far past sqrt's rounding). */
static uint8_t sketch_code(unsigned i)
{
    return (uint8_t)ceil(8.0 * sqrt((double)i));
}

/* The sketches are built in two passes over the blocks (count the entries, then
 * fill them), each pass split into ranges of blocks, one a thread. */
typedef struct sketch_job {
    const sm_library *lib;
    sm_index *ix;
    const uint8_t *code;
    size_t b0, b1; /* this thread's blocks */
    bool fill;     /* second pass */
    bool nomem;
} sketch_job;

static void *sketch_thread(void *arg)
{
    sketch_job *j = arg;
    const sm_library *lib = j->lib;
    sm_index *ix = j->ix;
    const size_t n = lib->n, B = ix->block, W = SM_MAX_NOMINAL_MZ + 1;
    const sm_kernel *kern = sm_kernel_get_();
    /* the block's spectra unpacked one after another */
    uint16_t *bmz = malloc(B * W * sizeof *bmz), *bin = malloc(B * W * sizeof *bin);
    uint32_t *stamp = j->fill ? NULL : calloc(SM_MAX_NOMINAL_MZ + 2, sizeof *stamp);
    size_t len[SM_INDEX_BLOCK_LARGE > SM_INDEX_BLOCK_SMALL ? SM_INDEX_BLOCK_LARGE
                                                         : SM_INDEX_BLOCK_SMALL];
    j->nomem = !bmz || !bin || (!j->fill && !stamp);
    for (size_t b = j->b0; b < j->b1 && !j->nomem; b++) {
        size_t p0 = b * B, p1 = p0 + B < n ? p0 + B : n, nb = p1 - p0, u = 0;
        if (!j->fill) { /* the m/z the block's spectra have, counted once */
            for (size_t p = p0; p < p1; p++) {
                uint64_t o = lib->nom_off[p];
                size_t np = kern->unpack(lib->nom_w + o, (size_t)(lib->nom_off[p + 1] - o),
                                         bmz, bin);
                ix->first_mz[p] = np > 0 ? bmz[0] : UINT16_MAX;
                for (size_t k = 0; k < np; k++)
                    if (stamp[bmz[k]] != b + 1) {
                        stamp[bmz[k]] = (uint32_t)(b + 1);
                        u++;
                    }
            }
            ix->sk_off[b + 1] = u; /* a count until the prefix sum */
            continue;
        }
        /* the block's spectra merged in m/z order */
        size_t head[sizeof len / sizeof len[0]] = {0};
        for (size_t sp = 0; sp < nb; sp++) {
            uint64_t o = lib->nom_off[p0 + sp];
            len[sp] = kern->unpack(lib->nom_w + o, (size_t)(lib->nom_off[p0 + sp + 1] - o),
                                   bmz + sp * W, bin + sp * W);
        }
        for (uint64_t e = ix->sk_off[b]; e < ix->sk_off[b + 1]; e++) {
            unsigned m = UINT16_MAX;
            for (size_t sp = 0; sp < nb; sp++)
                if (head[sp] < len[sp] && bmz[sp * W + head[sp]] < m)
                    m = bmz[sp * W + head[sp]];
            ix->sk_mz[e] = (uint16_t)m;
            for (size_t sp = 0; sp < nb; sp++) {
                size_t c = sp * W + head[sp];
                if (head[sp] < len[sp] && bmz[c] == m) {
                    ix->sk_val[e * B + sp] = j->code[bin[c]];
                    head[sp]++;
                }
            }
        }
    }
    free(bmz);
    free(bin);
    free(stamp);
    return NULL;
}

/* Runs one pass on up to `threads` threads; false when one ran out of memory. */
static bool sketch_pass(const sm_library *lib, sm_index *ix, const uint8_t *code, bool fill,
                        unsigned threads)
{
    size_t nb = ix->n_blocks, t = threads == 0 ? 1 : threads;
    t = t < SM_MAX_THREADS_ ? t : SM_MAX_THREADS_;
    t = nb < 256 * t ? (nb + 255) / 256 : t; /* at least 256 blocks a thread */
    if (t == 0)
        t = 1;
    sketch_job job[SM_MAX_THREADS_];
    for (size_t k = 0; k < t; k++)
        job[k] = (sketch_job){lib, ix, code, nb * k / t, nb * (k + 1) / t, fill, false};
    sm_run_threads_(sketch_thread, job, sizeof job[0], t);
    bool ok = true;
    for (size_t k = 0; k < t; k++)
        ok = ok && !job[k].nomem;
    return ok;
}

sm_status sm_index_sketch_(const sm_library *lib, sm_index *ix, unsigned threads,
                           sm_error *err)
{
    const size_t n = lib->n, B = ix->block;
    uint8_t code[SM_BASE_PEAK + 1];
    for (unsigned i = 0; i <= SM_BASE_PEAK; i++)
        code[i] = sketch_code(i);
    ix->sk_off = malloc((ix->n_blocks + 1) * sizeof *ix->sk_off);
    ix->first_mz = malloc((n ? n : 1) * sizeof *ix->first_mz);
    if (!ix->sk_off || !ix->first_mz)
        goto nomem;
    /* first the entries of each block: the m/z its spectra have, counted once */
    ix->sk_off[0] = 0;
    if (!sketch_pass(lib, ix, code, false, threads))
        goto nomem;
    for (size_t b = 0; b < ix->n_blocks; b++)
        ix->sk_off[b + 1] += ix->sk_off[b];
    size_t entries = ix->sk_off[ix->n_blocks];
    ix->sk_mz = sm_alloc_big_((entries ? entries : 1) * sizeof *ix->sk_mz);
    ix->sk_val = sm_alloc_big_(entries * B + SM_SKETCH_PAD);
    if (ix->sk_val)
        memset(ix->sk_val, 0, entries * B + SM_SKETCH_PAD);
    if (!ix->sk_mz || !ix->sk_val)
        goto nomem;
    /* then each block's spectra merged in m/z order */
    if (!sketch_pass(lib, ix, code, true, threads))
        goto nomem;
    return SM_OK;
nomem:
    free(ix->sk_off);
    free(ix->sk_mz);
    free(ix->sk_val);
    free(ix->first_mz);
    ix->sk_off = NULL;
    ix->sk_mz = NULL;
    ix->sk_val = NULL;
    ix->first_mz = NULL;
    return sm_seterr_(err, SM_ERR_NOMEM, NULL, 0, "out of memory building the search index");
}
