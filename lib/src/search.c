/* search.c — exact top-k identity search: block-envelope bounds, per-spectrum bounds, then exact MF. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "sm_internal.h"

/* Float sums in the kernels carry a relative error near 1e-6; every bound is
 * widened well past that before it may exclude a spectrum. */
#define BOUND_SLACK 1.0005
/* Blocks are visited by buckets of BUCKET_MF of bound, best first, and within a
 * bucket in memory order, which the prefetcher streams. Wide buckets keep long runs
 * in memory order (a query with a low floor reads most blocks); measured on the
 * benchmark libraries, 64 beat 16 by 9 % at 100k and 4 % at 1M, the same at 3k. */
#ifndef BUCKET_MF
#define BUCKET_MF 64
#endif
/* (groups, below) a query is parked once it has scanned the budget if it still
 * needs at least 1 / GROUP_PARK_DIV of the blocks. With the blocks' sketches in
 * the sweep (block_lanes), 16 and a budget of 1 / 32 beat 8 and 1 / 64 by 3-4 % at
 * 1M and 9 % at 100k (AVX-512); the same without them (AVX2). */
#ifndef GROUP_PARK_DIV
#define GROUP_PARK_DIV 16
#endif
#define N_BUCKETS (1000 / BUCKET_MF + 2)

struct cand {
    double bound;
    uint32_t index;
};

typedef struct topk {
    sm_hit *hits;
    size_t k;
    size_t n;
    double min_mf; /* -inf: no minimum */
} topk;

struct sm_searcher {
    const sm_library *lib;
    const sm_kernel *kern;
    uint16_t qmz[SM_MAX_NOMINAL_MZ + 1];
    uint16_t qin[SM_MAX_NOMINAL_MZ + 1];
    sm_nominal_buf lbuf; /* the library spectrum at hand, unpacked */
    float *qw;        /* [n_bins] sqrt(m u): weights against the envelopes */
    sm_qdense *dense; /* the query spread over m/z: suffix norms, exact scoring */
    float *acc;       /* [stride] block bounds */
    uint32_t *sorted;       /* [stride + 16] the blocks of the bucket at hand */
    uint16_t *bucket_of;    /* [n_blocks] */
    float *row_a;           /* [n_bins] the query's dense envelope rows: weights, */
    const uint8_t **row_x;  /* and where each row starts */
    float *nu_f;            /* [SM_MAX_NOMINAL_MZ + 2] suffix norms rounded down to float,
                               from the query's first to its last m/z */
    struct cand *heap;      /* spectra bounded but not yet scored, best bound on top */
    size_t heap_n, heap_cap;
    sm_search_stats stats;
    double min_mf;    /* hits below are not wanted: a floor from the start */
    const uint8_t *skip; /* [n] by library index: nonzero = left out; NULL = none */
    /* spectra a block's sketch let through, their words asked for, bounded one by
     * one while the next block's sketch comes in (scan_block, run_deferred) */
    uint32_t deferred[SM_INDEX_BLOCK_LARGE > SM_INDEX_BLOCK_SMALL ? SM_INDEX_BLOCK_LARGE
                                                                : SM_INDEX_BLOCK_SMALL];
    unsigned n_deferred;
    /* a query stopped at the group budget (search_one), prepared and with its block
     * bounds still in acc[] and sorted[], until sm_group_adopt_ takes it */
    struct pending {
        bool on;
        sm_nominal q;
        topk t;
        size_t *n_hits;
        unsigned bucket; /* where it stopped: position p of the bucket's nb blocks */
        size_t p, nb;
    } pend;
};

/* The library spectrum at blocked position p, unpacked into the searcher's buffer
 * (sm_nominal_at_ without the checks, in the hot loops). */
static inline sm_nominal at_pos_(sm_searcher *s, size_t p)
{
    const sm_library *lib = s->lib;
    uint64_t o = lib->nom_off[p];
    size_t n = s->kern->unpack(lib->nom_w + o, (size_t)(lib->nom_off[p + 1] - o), s->lbuf.mz,
                               s->lbuf.intensity);
    return (sm_nominal){n, s->lbuf.mz, s->lbuf.intensity};
}

static inline bool left_out(const sm_searcher *s, size_t idx, size_t exclude)
{
    return idx == exclude || (s->skip != NULL && s->skip[idx] != 0);
}

sm_status sm_searcher_new(const sm_library *lib, sm_searcher **out, sm_error *err)
{
    *out = NULL;
    if (lib == NULL || lib->index == NULL)
        return sm_seterr_(err, SM_ERR_ARG, NULL, 0, "no opened library given");
    const sm_index *ix = lib->index;
    sm_searcher *s = calloc(1, sizeof *s);
    if (s == NULL)
        return sm_seterr_(err, SM_ERR_NOMEM, NULL, 0, "out of memory");
    s->lib = lib;
    s->min_mf = -INFINITY;
    s->kern = sm_kernel_get_();
    s->qw = calloc(ix->n_bins, sizeof *s->qw);
    s->dense = calloc(1, sizeof *s->dense);
    s->acc = calloc(ix->stride, sizeof *s->acc);
    s->sorted = calloc(ix->stride + 16, sizeof *s->sorted);
    s->nu_f = calloc(SM_MAX_NOMINAL_MZ + 2, sizeof *s->nu_f);
    s->bucket_of = calloc(ix->stride, sizeof *s->bucket_of);
    s->row_a = calloc(ix->n_bins, sizeof *s->row_a);
    s->row_x = calloc(ix->n_bins, sizeof *s->row_x);
    if (!s->qw || !s->dense || !s->acc || !s->sorted ||
        !s->bucket_of || !s->nu_f || !s->row_a || !s->row_x) {
        sm_searcher_free(s);
        return sm_seterr_(err, SM_ERR_NOMEM, NULL, 0, "out of memory");
    }
    *out = s;
    return SM_OK;
}

void sm_searcher_free(sm_searcher *s)
{
    if (s == NULL)
        return;
    free(s->qw);
    free(s->dense);
    free(s->acc);
    free(s->sorted);
    free(s->bucket_of);
    free(s->nu_f);
    free(s->row_a);
    free(s->row_x);
    free(s->heap);
    free(s);
}

void sm_searcher_set_min_mf(sm_searcher *s, double min_mf)
{
    s->min_mf = min_mf > 0 ? min_mf : -INFINITY;
}

void sm_searcher_stats(const sm_searcher *s, sm_search_stats *out)
{
    *out = s->stats;
}

/* Hit a ranks before hit b: higher MF first, then the lower library index, so the
 * order is total and the same for every kernel and thread count. */
static bool ranks_before(double mf_a, size_t ia, double mf_b, size_t ib)
{
    if (mf_a != mf_b)
        return mf_a > mf_b;
    return ia < ib;
}

/* MF a spectrum must beat (or tie) to enter the list; -inf while it is not full. */
static double topk_floor(const topk *t)
{
    double f = t->n < t->k ? -INFINITY : t->hits[t->n - 1].mf;
    return f > t->min_mf ? f : t->min_mf;
}

static void topk_offer(topk *t, size_t i, double mf)
{
    if (mf < t->min_mf)
        return;
    if (t->n == t->k && !ranks_before(mf, i, t->hits[t->n - 1].mf, t->hits[t->n - 1].index))
        return;
    size_t pos = t->n < t->k ? t->n : t->k - 1;
    while (pos > 0 && ranks_before(mf, i, t->hits[pos - 1].mf, t->hits[pos - 1].index)) {
        t->hits[pos] = t->hits[pos - 1];
        pos--;
    }
    t->hits[pos].index = i;
    t->hits[pos].mf = mf;
    if (t->n < t->k)
        t->n++;
}

/* A spectrum can be skipped only when its bound is below the floor. */
static bool can_skip(double bound, double floor)
{
    return bound * BOUND_SLACK + 0.01 < floor;
}

static void score_exact(const sm_library *lib, sm_nominal q, size_t i, topk *t,
                        sm_search_stats *st, sm_nominal_buf *buf)
{
    st->exact++;
    topk_offer(t, i, sm_match_factor(q, sm_library_nominal(lib, i, buf), 0));
}

/* The indexed search scores with the dense form: the same value, bit for bit. */
static void score_dense(sm_searcher *s, size_t i, topk *t)
{
    s->stats.exact++;
    topk_offer(t, i, sm_match_factor_dense_(s->dense, at_pos_(s, s->lib->index->pos_of[i])));
}

sm_status sm_search_exhaustive(const sm_library *lib, sm_nominal q, size_t k, size_t exclude,
                               sm_hit *hits, size_t *n_hits, sm_error *err)
{
    *n_hits = 0;
    if (k == 0)
        return SM_OK;
    if (hits == NULL || lib == NULL)
        return sm_seterr_(err, SM_ERR_ARG, NULL, 0, "no library or hit buffer");
    sm_nominal_buf *buf = malloc(sizeof *buf);
    if (buf == NULL)
        return sm_seterr_(err, SM_ERR_NOMEM, NULL, 0, "out of memory");
    topk t = {hits, k, 0, -INFINITY};
    sm_search_stats st = {0};
    for (size_t i = 0; i < lib->n; i++)
        if (i != exclude)
            score_exact(lib, q, i, &t, &st, buf);
    for (size_t j = 0; j < t.n; j++)
        hits[j].rmf = sm_match_factor(q, sm_library_nominal(lib, hits[j].index, buf), 1);
    free(buf);
    *n_hits = t.n;
    return SM_OK;
}

/* Upper bound of spectrum pos's MF against the query (score.c); the cheap first
 * bound is enough when it lets can_skip exclude the spectrum at this floor. With
 * first_done (the block's sketch bounded it already: scan_block) only the second. */
static double spectrum_bound(sm_searcher *s, size_t pos, double floor, bool first_done)
{
    const sm_library *lib = s->lib;
    uint64_t o = lib->nom_off[pos];
    if (!first_done)
        s->stats.bounded++;
    return sm_match_factor_bound_(s->dense, s->kern, lib->nom_w + o,
                                  (size_t)(lib->nom_off[pos + 1] - o), lib->index->norm[pos],
                                  first_done ? -INFINITY : (floor - 0.02) / BOUND_SLACK,
                                  &s->lbuf);
}

/* Max-heap of candidates by bound (ties: lower index first, for a fixed order). */
static bool cand_above(const struct cand *a, const struct cand *b)
{
    return a->bound > b->bound || (a->bound == b->bound && a->index < b->index);
}

static bool heap_push(sm_searcher *s, double bound, size_t i)
{
    if (s->heap_n == s->heap_cap) {
        size_t cap = s->heap_cap ? s->heap_cap * 2 : 1024;
        struct cand *h = realloc(s->heap, cap * sizeof *h);
        if (h == NULL)
            return false;
        s->heap = h;
        s->heap_cap = cap;
    }
    struct cand c = {bound, (uint32_t)i};
    size_t j = s->heap_n++;
    while (j > 0 && cand_above(&c, &s->heap[(j - 1) / 2])) {
        s->heap[j] = s->heap[(j - 1) / 2];
        j = (j - 1) / 2;
    }
    s->heap[j] = c;
    return true;
}

static struct cand heap_pop(sm_searcher *s)
{
    struct cand top = s->heap[0], last = s->heap[--s->heap_n];
    size_t j = 0, n = s->heap_n;
    for (;;) {
        size_t c = 2 * j + 1;
        if (c >= n)
            break;
        if (c + 1 < n && cand_above(&s->heap[c + 1], &s->heap[c]))
            c++;
        if (!cand_above(&s->heap[c], &last))
            break;
        s->heap[j] = s->heap[c];
        j = c;
    }
    if (n > 0)
        s->heap[j] = last;
    return top;
}

size_t sm_search_heap_cap_ = SM_SEARCH_HEAP_CAP;

/* Bounds one spectrum; a spectrum that may still enter the top k waits in the
 * heap (scored at once if the heap cannot grow). */
static void consider(sm_searcher *s, sm_nominal q, size_t pos, topk *t, bool first_done)
{
    double b = spectrum_bound(s, pos, topk_floor(t), first_done);
    if (can_skip(b, topk_floor(t)))
        return;
    size_t i = s->lib->index->order[pos];
    if (!heap_push(s, b, i)) {
        score_dense(s, i, t);
        return;
    }
    /* A query whose best spectra bound below every block left never drains the heap
     * while blocks remain: the floor would stay where it started and every spectrum
     * would wait here. Past sm_search_heap_cap_ the best waiting one is scored at once. */
    if (s->heap_n > sm_search_heap_cap_) {
        struct cand c = heap_pop(s);
        if (!can_skip(c.bound, topk_floor(t)))
            score_dense(s, c.index, t);
    }
}

/* Scores waiting candidates, best bound first, while their bound is at least
 * `until` and may still beat the top k. */
static void drain(sm_searcher *s, sm_nominal q, double until, topk *t)
{
    while (s->heap_n > 0 && s->heap[0].bound >= until) {
        struct cand c = heap_pop(s);
        if (can_skip(c.bound, topk_floor(t))) {
            s->heap_n = 0; /* everything left is bounded lower still */
            return;
        }
        score_dense(s, c.index, t);
    }
}

/* Queries that start above the last cut: every spectrum is bounded one by one. */
static void search_unblocked(sm_searcher *s, sm_nominal q, size_t exclude, topk *t)
{
    for (size_t pos = 0; pos < s->lib->n; pos++)
        if (!left_out(s, s->lib->index->order[pos], exclude))
            consider(s, q, pos, t, false);
    drain(s, q, -INFINITY, t);
}

static void prepare_query(sm_searcher *s, sm_nominal q)
{
    const sm_index *ix = s->lib->index;
    sm_qdense_set_(s->dense, q);
    for (unsigned m = q.mz[0]; m <= q.mz[q.n - 1]; m++) {
        double nu = s->dense->suffix[m];
        float f = (float)nu;
        s->nu_f[m] = (double)f > nu ? nextafterf(f, 0.0f) : f;
    }
    for (size_t j = 0; j < q.n; j++) {
        unsigned m = q.mz[j], u = q.intensity[j];
        if (m < ix->n_bins) {
            s->qw[m] = (float)sqrt((double)m * u);
        }
    }
}

static void clear_query(sm_searcher *s, sm_nominal q)
{
    const sm_index *ix = s->lib->index;
    sm_qdense_clear_(s->dense, q);
    for (size_t j = 0; j < q.n; j++) {
        if (q.mz[j] < ix->n_bins)
            s->qw[q.mz[j]] = 0;
    }
}

/* Blocks are visited in the order of their bounds, not of memory: the hardware
 * cannot guess the next one, so its sketch is asked for a few blocks ahead. */
#define PREFETCH_AHEAD 4

static void prefetch_range(const void *from, const void *to)
{
    for (const char *c = from; c < (const char *)to; c += 64)
        __builtin_prefetch(c);
    /* An effect the compiler must keep: without one GCC takes prefetch_block for a
     * function without effects (loads and prefetches only) and drops its calls, as it
     * did in every build before this line. */
    __asm__ volatile("");
}

static void prefetch_block(const sm_library *lib, size_t b)
{
    const sm_index *ix = lib->index;
    if (ix->sk_off != NULL) {
        uint64_t e0 = ix->sk_off[b], e1 = ix->sk_off[b + 1];
        prefetch_range(ix->sk_mz + e0, ix->sk_mz + e1);
        prefetch_range(ix->sk_val + e0 * ix->block, ix->sk_val + e1 * ix->block);
        return;
    }
    size_t p0 = b * ix->block, p1 = p0 + ix->block;
    if (p1 > lib->n)
        p1 = lib->n;
    prefetch_range(lib->nom_w + lib->nom_off[p0], lib->nom_w + lib->nom_off[p1]);
}

/* SUM_SLACK of score.c: float sums widened far past their rounding */
#define SKETCH_SLACK 1.0005

/* Whether the first bound of one spectrum from its block's sketch sums lets
 * can_skip exclude it, with need = the T1 below which it does (sketch_need, above 0:
 * the floor is then above 499.5, where -0.5 is always excluded). The bound is
 * score.c's T1' (dot^2 over the query's norm from lo and the library's norm less its
 * peaks below the query's first m/z) with every library square root rounded up to an
 * eighth, so that dot can only grow, and the norm below taken from the codes as well,
 * so that it can only grow and the norm left only shrink; then DESIGN.md's
 * (T1 + 1) / 2. dot = 0: no peak at any of the query's m/z (so also when lo is past
 * the query's last), nothing in common: -0.5, the MF. A zero norm bounds nothing.
 * Without branches: whether a spectrum of a block goes on is not predictable. */
static bool sketch_skips(const sm_qdense *d, float dot8, float below64, double norm,
                         unsigned first_mz, double need)
{
    unsigned lo = d->first > first_mz ? d->first : first_mz;
    lo = lo < d->last ? lo : d->last;
    double nu = d->suffix[lo], nl = norm - (double)below64 * SKETCH_SLACK / 64.0;
    double dot = (double)dot8 / 8.0 * SKETCH_SLACK;
    return (dot8 == 0.0f) | ((nu > 0) & (nl > 0) & (dot * dot < need * nu * nl));
}

/* Whether the first bound of one spectrum, with the match factor's own n1 and n2
 * from the block's sketch (sketch_links), lets can_skip exclude it: below `tau`, the
 * largest (MF + 0.5) / 1000 it excludes (link_tau). With T1' >= T1 as in sketch_skips
 * and T2 <= 1, MF / 1000 + 0.0005 = (n1 T1 + n2 T2) / (n1 + n2) <= (n1 T1' + n2) /
 * (n1 + n2), or T1' without ratios: the bound DESIGN.md gives, (T1 + 1) / 2, is this
 * with n2 = n1 - 1, and most spectra take far fewer ratios. Tested without divisions
 * (T1' above 1 as it is, which can only keep the spectrum); dot = 0: nothing in
 * common, MF -0.5, below any floor here. */
static bool link_skips(const sm_qdense *d, float dot8, float below64, double norm,
                       unsigned first_mz, uint32_t n1, uint32_t n2, double tau)
{
    unsigned lo = d->first > first_mz ? d->first : first_mz;
    lo = lo < d->last ? lo : d->last;
    double nu = d->suffix[lo], nl = norm - (double)below64 * SKETCH_SLACK / 64.0;
    double dot = (double)dot8 / 8.0 * SKETCH_SLACK;
    double c1 = n1 + n2 > 0 ? (double)n1 : 1.0, c2 = (double)n2;
    double r = tau * (c1 + c2) - c2;
    return (dot8 == 0.0f) | ((nu > 0) & (nl > 0) & (r > 0) & (c1 * dot * dot < r * nu * nl));
}

/* link_skips' tau at this floor (above 0): can_skip excludes below
 * (floor - 0.01) / BOUND_SLACK, a little less. */
static double link_tau(double floor)
{
    return ((floor - 0.01) / BOUND_SLACK + 0.5) / 1000.0 * (1.0 - 1e-9);
}

/* The T1 whose bound 1000 (T1 + 1) / 2 - 0.5 can_skip excludes at this floor: a
 * little below it, so that the test by products above is never the looser one. */
static double sketch_need(double floor)
{
    double need = ((floor - 0.01) / BOUND_SLACK + 0.5) / 500.0 - 1.0;
    return need > 1.0 ? 1.0 : need * (1.0 - 1e-9);
}

/* The spectra the last block's sketch let through, one by one (consider, the
 * second pass); before anything else reads the floor for good or the heap. */
static void run_deferred(sm_searcher *s, sm_nominal q, topk *t)
{
    for (unsigned i = 0; i < s->n_deferred; i++)
        consider(s, q, s->deferred[i], t, true);
    s->n_deferred = 0;
}

/* The spectra of block b: first bounded all together from the block's sketch
 * (sm_index), then those it cannot exclude at this floor one by one (consider,
 * the second pass). */
static void scan_block(sm_searcher *s, sm_nominal q, size_t b, size_t exclude, bool any_left_out,
                       topk *t)
{
    const sm_library *lib = s->lib;
    const sm_index *ix = lib->index;
    const size_t B = ix->block, p0 = b * B, p1 = p0 + B < lib->n ? p0 + B : lib->n;
    double floor = topk_floor(t), need = sketch_need(floor);
    if (ix->sk_off == NULL || !(floor > 0)) { /* (no first bound excludes anything here) */
        run_deferred(s, q, t);
        for (size_t pos = p0; pos < p1; pos++) {
            if (any_left_out && left_out(s, ix->order[pos], exclude))
                continue;
            s->stats.bounded += ix->sk_off != NULL; /* (else counted there) */
            consider(s, q, pos, t, ix->sk_off != NULL);
        }
        return;
    }
    const sm_qdense *d = s->dense;
    const uint64_t e0 = ix->sk_off[b];
    float dot[SM_INDEX_BLOCK_LARGE > SM_INDEX_BLOCK_SMALL ? SM_INDEX_BLOCK_LARGE
                                                        : SM_INDEX_BLOCK_SMALL];
    float below[sizeof dot / sizeof dot[0]];
    (s->kern->sketch_sums != NULL ? s->kern : &sm_kernel_scalar_)
        ->sketch_sums(d->bw, ix->sk_mz + e0, ix->sk_val + e0 * B,
                      (size_t)(ix->sk_off[b + 1] - e0), (unsigned)B, d->first, dot, below);
    unsigned on = 0;
    for (size_t pos = p0; pos < p1; pos++) {
        size_t l = pos - p0;
        if (any_left_out && left_out(s, ix->order[pos], exclude))
            continue;
        s->stats.bounded++;
        on |= (unsigned)(need <= 0 || !sketch_skips(d, dot[l], below[l], ix->norm[pos],
                                                     ix->first_mz[pos], need))
              << l;
    }
    if (on != 0) { /* the rest: bounded with the counts of peaks in common and of ratios */
        uint32_t n1[sizeof dot / sizeof dot[0]], n2[sizeof dot / sizeof dot[0]];
        (s->kern->sketch_links != NULL ? s->kern : &sm_kernel_scalar_)
            ->sketch_links(d->word + 1, ix->sk_mz + e0, ix->sk_val + e0 * B,
                           (size_t)(ix->sk_off[b + 1] - e0), (unsigned)B, n1, n2);
        double tau = link_tau(floor);
        for (unsigned m = on; m != 0; m &= m - 1) {
            unsigned l = (unsigned)__builtin_ctz(m);
            size_t pos = p0 + l;
            if (link_skips(d, dot[l], below[l], ix->norm[pos], ix->first_mz[pos], n1[l], n2[l],
                           tau))
                on &= ~(1u << l);
        }
    }
    /* the last block's, while this one's words come in */
    run_deferred(s, q, t);
    for (; on != 0; on &= on - 1) {
        size_t pos = p0 + (size_t)__builtin_ctz(on);
        prefetch_range(lib->nom_w + lib->nom_off[pos], lib->nom_w + lib->nom_off[pos + 1]);
        s->deferred[s->n_deferred++] = (uint32_t)pos;
    }
}

/* The blocks a query stopped at s->pend (bucket, p, nb) has not looked at and may
 * still need at this floor: the rest of the bucket's list and the lower buckets.
 * Their count, or at least `enough` once that many are found; with mark, each gets
 * `bit` there. */
static size_t blocks_left(const sm_searcher *s, double floor, uint16_t *mark, uint16_t bit,
                          size_t enough)
{
    const sm_index *ix = s->lib->index;
    const struct pending *pd = &s->pend;
    size_t left = 0;
    for (size_t r = pd->p; r < pd->nb && left < enough; r++) {
        size_t b = s->sorted[r];
        if (!can_skip(s->acc[b], floor)) {
            left++;
            if (mark != NULL)
                mark[b] |= bit;
        }
    }
    /* the lower buckets, in chunks without branches: a float threshold a little under
     * the one of can_skip (a block kept that can_skip would skip is read for nothing) */
    double t = (floor - 0.01) / BOUND_SLACK;
    const float tf = (float)(t - fabs(t) * 1e-6 - 1e-6);
    const uint16_t below = (uint16_t)pd->bucket;
    for (size_t b0 = 0; b0 < ix->n_blocks && left < enough; b0 += 4096) {
        size_t b1 = ix->n_blocks - b0 > 4096 ? b0 + 4096 : ix->n_blocks, c = 0;
        if (mark == NULL) {
            for (size_t b = b0; b < b1; b++)
                c += (size_t)((s->bucket_of[b] < below) & (s->acc[b] >= tf));
        } else {
            for (size_t b = b0; b < b1; b++) {
                unsigned on = (s->bucket_of[b] < below) & (s->acc[b] >= tf);
                c += on;
                mark[b] |= (uint16_t)(bit * on);
            }
        }
        left += c;
    }
    return left;
}

/* At the budget: the waiting candidates are scored, and true when the query still
 * needs at least 1 / GROUP_PARK_DIV of the blocks (it is then parked:
 * sm_group_adopt_ marks the ones it needs); else it goes on. */
static bool wants_park(sm_searcher *s, sm_nominal q, topk *t)
{
    drain(s, q, -INFINITY, t);
    size_t want = s->lib->index->n_blocks / GROUP_PARK_DIV;
    return blocks_left(s, topk_floor(t), NULL, 0, want) >= want;
}

/* The blocks of bucket k, in memory order, into s->sorted; their count. */
static size_t list_bucket(sm_searcher *s, unsigned k)
{
    const sm_kernel *kern = s->kern->collect_u16 != NULL ? s->kern : &sm_kernel_scalar_;
    return kern->collect_u16(s->bucket_of, s->lib->index->n_blocks, k, s->sorted);
}

/* y[0..n) += a[r] x[r][0..n) for the nr <= 8 rows: eight, then four, at a time
 * where the kernel can. */
static void add_rows(const sm_kernel *kern, const float *a, const uint8_t *const *x, unsigned nr,
                     float *y, size_t n)
{
    unsigned r = 0;
    if (nr == 8 && kern->axpy8_u8 != NULL) {
        kern->axpy8_u8(a, x, y, n);
        return;
    }
    for (; r + 4 <= nr && kern->axpy4_u8 != NULL; r += 4)
        kern->axpy4_u8(a + r, x + r, y, n);
    for (; r < nr; r++)
        kern->axpy_u8(a[r], x[r], y, n);
}

/* acc[] a tile of this many blocks at a time under all the query's envelope rows (64 KB) */
#ifndef ENV_TILE
#define ENV_TILE 16384
#endif

/* Searches the blocks best bound first. With a budget (in blocks scanned) below
 * what the query needs, it stops there: the waiting candidates are scored, and it
 * returns false with the sorted position in s->pend.p (a group finishes the query:
 * sm_group_adopt_, sm_group_flush_). */
static bool search_blocked(sm_searcher *s, sm_nominal q, unsigned cut, size_t exclude, topk *t,
                           size_t budget)
{
    const sm_library *lib = s->lib;
    const sm_index *ix = lib->index;
    const sm_kernel *kern = s->kern;
    unsigned first_u = q.mz[0], last_u = q.mz[q.n - 1];

    /* Bounds of all blocks at once: acc[b] = sum over query peaks of qw[m] env[m][b],
     * a dense row with the axpy kernel, a listed one entry by entry. */
    memset(s->acc, 0, ix->stride * sizeof *s->acc);
    size_t nd = 0;
    for (size_t j = 0; j < q.n; j++) {
        unsigned m = q.mz[j];
        if (m >= ix->n_bins)
            continue;
        float a = (float)((double)s->qw[m] * ix->row_scale[m] / 255.0 * (1.0 + 1e-6));
        if (ix->row_dense[m] >= 0) {
            s->row_a[nd] = a;
            s->row_x[nd++] = ix->env + (size_t)ix->row_dense[m] * ix->stride;
        } else {
            for (uint64_t e = ix->sp_off[m]; e < ix->sp_off[m + 1]; e++)
                s->acc[ix->sp_block[e]] += a * (float)ix->sp_code[e];
        }
    }
    /* the dense rows a tile of acc[] at a time (it stays in the nearest caches while
     * every row passes over it), eight rows a pass; then the tile's blocks' bounds
     * (kept in acc[], rounded up to float) and their buckets */
    const float *ratio = ix->ratio + (size_t)cut * ix->stride;
    const sm_kernel *kb = kern->block_bounds != NULL ? kern : &sm_kernel_scalar_;
    for (size_t t0 = 0; t0 < ix->n_blocks; t0 += ENV_TILE) {
        size_t len = ix->n_blocks - t0 < ENV_TILE ? ix->n_blocks - t0 : ENV_TILE;
        /* the tile's ratios and first m/z, asked for a part after each pass of rows
         * (block_bounds would wait on them) */
        const char *pr = (const char *)(ratio + t0), *pm = (const char *)(ix->block_max_first + t0);
        size_t n_pass = (nd + 7) / 8 + 1, pr_step = (len * sizeof *ratio / n_pass + 63) & ~(size_t)63,
               pm_step = (len * sizeof *ix->block_max_first / n_pass + 63) & ~(size_t)63;
        for (size_t r = 0; r < nd; r += 8) {
            unsigned nr = nd - r < 8 ? (unsigned)(nd - r) : 8;
            const uint8_t *x8[8];
            for (unsigned k = 0; k < nr; k++)
                x8[k] = s->row_x[r + k] + t0;
            add_rows(kern, s->row_a + r, x8, nr, s->acc + t0, len);
            prefetch_range(pr, pr + pr_step);
            prefetch_range(pm, pm + pm_step);
            pr += pr_step;
            pm += pm_step;
        }
        kb->block_bounds(s->acc + t0, ratio + t0, ix->block_max_first + t0, len, s->nu_f,
                         first_u, last_u, s->bucket_of + t0, (float)BUCKET_MF, N_BUCKETS - 1);
    }

    /* (the map to library order is read only when something is left out) */
    bool any_left_out = exclude != SIZE_MAX || s->skip != NULL;
    /* Best bucket first, and within a bucket memory order: a block is opened only
     * when no waiting candidate has a higher bound than the block, so the top k
     * fills with the best spectra early and the floor rises before most spectra are
     * looked at. A bucket's blocks are listed when the search gets to it: most
     * queries stop after a few of the N_BUCKETS. */
    size_t scanned = 0, listed = 0, checked = SIZE_MAX;
    for (unsigned bucket = N_BUCKETS; bucket-- > 0;) {
        double bucket_top = bucket == N_BUCKETS - 1 ? INFINITY : (double)(bucket + 1) * BUCKET_MF;
        if (can_skip(bucket_top, topk_floor(t))) /* this bucket and every later one */
            break;
        size_t nb = list_bucket(s, bucket);
        listed += nb;
        for (size_t p = 0; p < nb; p++) {
            size_t b = s->sorted[p];
            double floor = topk_floor(t);
            /* (once: blocks skipped after it leave scanned at the budget) */
            if (scanned == budget && checked != scanned) {
                checked = scanned;
                run_deferred(s, q, t);
                s->pend.bucket = bucket;
                s->pend.p = p;
                s->pend.nb = nb;
                if (wants_park(s, q, t))
                    return false;
            }
            if (can_skip(bucket_top, floor)) {
                s->stats.blocks_skipped += nb - p;
                goto done; /* (where the deferred spectra are bounded) */
            }
            if (p + 2 * PREFETCH_AHEAD < nb) { /* where the next ones' sketches are */
                size_t b2 = s->sorted[p + 2 * PREFETCH_AHEAD], p0 = b2 * ix->block;
                if (ix->sk_off != NULL) {
                    __builtin_prefetch(ix->sk_off + b2);
                    __builtin_prefetch(ix->first_mz + p0);
                }
                __builtin_prefetch(lib->nom_off + p0);
                __builtin_prefetch(ix->norm + p0);
            }
            if (p + PREFETCH_AHEAD < nb && !can_skip(s->acc[s->sorted[p + PREFETCH_AHEAD]], floor))
                prefetch_block(lib, s->sorted[p + PREFETCH_AHEAD]);
            double block_bound = s->acc[b];
            drain(s, q, block_bound, t);
            if (can_skip(block_bound, topk_floor(t))) {
                s->stats.blocks_skipped++;
                continue;
            }
            s->stats.blocks_scanned++;
            scanned++;
            scan_block(s, q, b, exclude, any_left_out, t);
        }
    }
done:
    run_deferred(s, q, t);
    s->stats.blocks_skipped += ix->n_blocks - listed;
    drain(s, q, -INFINITY, t);
    return true;
}

void sm_searcher_set_skip(sm_searcher *s, const uint8_t *skip)
{
    s->skip = skip;
}

/* One query; stopped (false) when it would scan more blocks than budget and still
 * needs many: it then waits in s->pend for a group (sm_group_adopt_). */
static bool search_one(sm_searcher *s, sm_nominal q, size_t k, size_t exclude, sm_hit *hits,
                       size_t *n_hits, size_t budget);

static sm_status search_checked(sm_searcher *s, sm_nominal q, size_t k, size_t exclude,
                                sm_hit *hits, size_t *n_hits, size_t budget, bool *parked,
                                sm_error *err)
{
    *n_hits = 0;
    *parked = false;
    if (k == 0)
        return SM_OK;
    if (hits == NULL)
        return sm_seterr_(err, SM_ERR_ARG, NULL, 0, "no hit buffer");
    if (q.n == 0)
        return sm_seterr_(err, SM_ERR_ARG, NULL, 0, "empty query spectrum");
    *parked = !search_one(s, q, k, exclude, hits, n_hits, budget);
    return SM_OK;
}

sm_status sm_search_nominal(sm_searcher *s, sm_nominal q, size_t k, size_t exclude,
                            sm_hit *hits, size_t *n_hits, sm_error *err)
{
    bool parked;
    return search_checked(s, q, k, exclude, hits, n_hits, SIZE_MAX, &parked, err);
}

/* A query is parked once it has scanned this many blocks best first (by then its
 * floor is about where it ends): the rest of its blocks are read once for the whole
 * group, in memory order; a block's sketch first bounds its spectra for all the
 * group's queries at once (group_sketch), and each spectrum some query may still
 * want is bounded for every query of the group in one pass over its peaks
 * (group_sums, a lane a query). */
#define GROUP_MIN_BLOCKS 256
#ifndef GROUP_BUDGET_DIV
#define GROUP_BUDGET_DIV 32
#endif

long sm_search_group_budget_ = -1;

bool sm_group_available_(const sm_library *lib)
{
    return lib != NULL && lib->index != NULL && sm_kernel_get_()->group_sums != NULL;
}

sm_status sm_search_or_park_(sm_searcher *s, bool may_park, sm_nominal q, size_t k,
                             sm_hit *hits, size_t *n_hits, bool *parked, sm_error *err)
{
    size_t budget = SIZE_MAX;
    /* (a group does not know of left-out spectra) */
    if (may_park && s->skip == NULL && sm_group_available_(s->lib)) {
        size_t b = s->lib->index->n_blocks / GROUP_BUDGET_DIV;
        budget = b > GROUP_MIN_BLOCKS ? b : GROUP_MIN_BLOCKS;
        if (sm_search_group_budget_ >= 0)
            budget = (size_t)sm_search_group_budget_;
    }
    return search_checked(s, q, k, SIZE_MAX, hits, n_hits, budget, parked, err);
}

/* RMF of the hits found, and their count. */
static void finish_hits(const sm_library *lib, sm_nominal q, topk *t, size_t *n_hits,
                        sm_nominal_buf *buf)
{
    for (size_t j = 0; j < t->n; j++)
        t->hits[j].rmf = sm_match_factor(q, sm_library_nominal(lib, t->hits[j].index, buf), 1);
    *n_hits = t->n;
}

sm_status sm_search(sm_searcher *s, const sm_spectrum *query, size_t k, sm_hit *hits,
                    size_t *n_hits, sm_error *err)
{
    *n_hits = 0;
    size_t n = 0;
    sm_status st = sm_preprocess(query->peaks, query->n_peaks, s->qmz, s->qin,
                                 SM_MAX_NOMINAL_MZ + 1, &n, err);
    if (st != SM_OK) {
        if (err)
            err->line = query->line;
        return st;
    }
    sm_nominal q = {n, s->qmz, s->qin};
    return sm_search_nominal(s, q, k, SIZE_MAX, hits, n_hits, err);
}

/* ------------------------------------------------------------------ */
/* Groups: the queries of a batch that need many blocks, finished together */

struct sm_group {
    const sm_library *lib;
    const sm_kernel *kern;
    sm_group_tab tab;
    uint16_t *mark;  /* [n_blocks]: the lanes that still need block b */
    unsigned n_lanes;
    struct lane {
        sm_nominal q;
        topk t;
        size_t *n_hits;
    } lane[SM_GROUP];
};

void sm_group_free_(sm_group *g)
{
    if (g == NULL)
        return;
    free(g->tab.word);
    free(g->tab.le);
    free(g->tab.lt);
    free(g->tab.bw);
    free(g->tab.sa);
    free(g->tab.nu);
    free(g->mark);
    free(g);
}

sm_status sm_group_new_(const sm_library *lib, sm_group **out, sm_error *err)
{
    *out = NULL;
    const sm_kernel *kern = sm_kernel_get_();
    if (!sm_group_available_(lib))
        return SM_OK; /* query by query */
    const sm_index *ix = lib->index;
    sm_group *g = calloc(1, sizeof *g);
    if (g == NULL)
        return sm_seterr_(err, SM_ERR_NOMEM, NULL, 0, "out of memory");
    g->lib = lib;
    g->kern = kern;
    g->tab.n_tab = ix->n_bins;
    size_t cells = ix->n_bins * SM_GROUP;
    /* one cache line an m/z: 16 lanes of 4 bytes */
    g->tab.word = aligned_alloc(64, cells * sizeof *g->tab.word);
    /* (aligned_alloc wants a multiple of the alignment: an odd n_bins is not one) */
    size_t half = (cells * sizeof *g->tab.le + 63) & ~(size_t)63;
    g->tab.le = aligned_alloc(64, half);
    g->tab.lt = aligned_alloc(64, half);
    g->tab.bw = aligned_alloc(64, cells * sizeof *g->tab.bw);
    g->tab.sa = aligned_alloc(64, cells * sizeof *g->tab.sa);
    g->tab.nu = aligned_alloc(64, cells * sizeof *g->tab.nu);
    g->mark = calloc(ix->n_blocks, sizeof *g->mark);
    if (!g->tab.word || !g->tab.le || !g->tab.lt || !g->tab.bw || !g->tab.sa || !g->tab.nu ||
        !g->mark) {
        sm_group_free_(g);
        return sm_seterr_(err, SM_ERR_NOMEM, NULL, 0, "out of memory");
    }
    memset(g->tab.word, 0, cells * sizeof *g->tab.word);
    memset(g->tab.le, 0, cells * sizeof *g->tab.le);
    memset(g->tab.lt, 0, cells * sizeof *g->tab.lt);
    memset(g->tab.bw, 0, cells * sizeof *g->tab.bw);
    memset(g->tab.sa, 0, cells * sizeof *g->tab.sa);
    memset(g->tab.nu, 0, cells * sizeof *g->tab.nu);
    for (unsigned l = 0; l < SM_GROUP; l++)
        g->tab.floor[l] = INFINITY; /* not in use */
    for (unsigned i = 0; i <= SM_BASE_PEAK; i++)
        g->tab.sqrt_f[i] = sqrtf((float)i);
    *out = g;
    return SM_OK;
}

bool sm_group_full_(const sm_group *g)
{
    return g != NULL && g->n_lanes == SM_GROUP;
}

bool sm_group_empty_(const sm_group *g)
{
    return g == NULL || g->n_lanes == 0;
}

/* Lane l's floor in the tables, and the T1 the first bound needs there. */
static void lane_floor(sm_group_tab *tab, unsigned l, double floor)
{
    tab->floor[l] = (float)floor;
    double need = sketch_need(floor);
    float f = (float)need;
    tab->t1_need[l] = (double)f > need ? nextafterf(f, -INFINITY) : f;
}

/* The query the searcher holds (s->pend, still prepared) becomes the group's next
 * lane: the blocks it still needs get the lane's bit in mark[]. */
void sm_group_adopt_(sm_searcher *s, sm_group *g)
{
    struct pending *pd = &s->pend;
    unsigned l = g->n_lanes++;
    uint16_t bit = (uint16_t)(1u << l);
    double floor = topk_floor(&pd->t);
    blocks_left(s, floor, g->mark, bit, SIZE_MAX);
    const sm_qdense *d = s->dense;
    sm_group_tab *tab = &g->tab;
    for (size_t m = 0; m < tab->n_tab; m++) {
        size_t c = m * SM_GROUP + l;
        /* the count of peaks above 1 up to m, and up to m - 1 (word[m]) */
        tab->word[c] = d->word[1 + m] >> 16 | (d->word[m] & 0xffff0000u);
        tab->le[c] = (uint16_t)(d->word[1 + m] >> 16);
        tab->lt[c] = (uint16_t)(d->word[m] >> 16);
        tab->bw[c] = d->bw[m];
        tab->sa[c] = (float)d->r[m] * (d->in[m] != 0);
        double nu = d->suffix[m > d->first ? m : d->first];
        float f = (float)nu;
        tab->nu[c] = (double)f > nu ? nextafterf(f, 0.0f) : f;
    }
    tab->first[l] = d->first;
    lane_floor(tab, l, floor);
    g->lane[l] = (struct lane){pd->q, pd->t, pd->n_hits};
    clear_query(s, pd->q);
    pd->on = false;
}

/* The query's sum of m I over its peaks above 1 at m/z >= lo: sm_qdense's
 * suffix[lo] (whole numbers, exact in any order), for the few spectra a lane's
 * float estimate lets through. */
static double query_suffix(sm_nominal q, unsigned lo)
{
    double sum = 0;
    for (size_t j = q.n; j-- > 0 && q.mz[j] >= lo;)
        if (q.intensity[j] > 1)
            sum += (double)q.mz[j] * q.intensity[j];
    return sum;
}

/* Lane l's bound for the spectrum of n peaks mz/in (norm: its sum of m I above 1). */
static double group_bound(const sm_group *g, unsigned l, const sm_group_sums *gs,
                          const uint16_t *mz, const uint16_t *in, size_t n, double norm)
{
    unsigned first = g->tab.first[l];
    unsigned lo = first > mz[0] ? first : mz[0];
    uint64_t below = 0;
    for (size_t j = 0; j < n && mz[j] < first; j++)
        below += in[j] > 1 ? (uint64_t)mz[j] * in[j] : 0;
    /* term 2's quotients are estimates within 2^-14 (kernels.h): 2^-12 on top */
    return sm_bound_from_sums_(query_suffix(g->lane[l].q, lo), norm - (double)below,
                               gs->dot[l], gs->n1[l], gs->n2[l],
                               (double)gs->t2_num[l] * (1.0 + 1.0 / 4096), gs->t2_den[l]);
}

/* One spectrum (at position pos, unpacked: n peaks mz/in) of a block that lanes
 * `need` of g still need: bounded for all lanes at once (group_sums, with tab's
 * floors), then exactly for the lanes let through, and scored for those whose bound
 * reaches the floor of their list ts[l]; tab->floor follows the lists. */
static void sweep_spectrum(const sm_library *lib, const sm_kernel *kern, sm_group *g,
                           sm_group_tab *tab, topk *const *ts, unsigned need, size_t pos,
                           const uint16_t *mz, const uint16_t *in, size_t n,
                           sm_search_stats *st)
{
    const sm_index *ix = lib->index;
    sm_group_sums gs;
    unsigned pass = kern->group_sums(tab, mz, in, n, ix->norm[pos], &gs);
    for (unsigned left = need & pass; left != 0; left &= left - 1) {
        unsigned l = (unsigned)__builtin_ctz(left);
        topk *t = ts[l];
        double bound = n > 0 ? group_bound(g, l, &gs, mz, in, n, ix->norm[pos]) : -0.5;
        if (can_skip(bound, topk_floor(t)))
            continue;
        st->exact++;
        topk_offer(t, ix->order[pos], sm_match_factor(g->lane[l].q, (sm_nominal){n, mz, in}, 0));
        lane_floor(tab, l, topk_floor(t));
    }
}

/* The lanes of `need` that each spectrum of block b (positions p0 .. p1) may still
 * interest, lanes[pos - p0]: those the block's sketch cannot exclude (group_sketch)
 * when it can exclude something for every lane of need, else all of need (a lane
 * whose floor is under 499.5 needs every spectrum's group_sums anyway). */
static void block_lanes(const sm_library *lib, const sm_kernel *kern, const sm_group_tab *tab,
                        size_t b, size_t p0, size_t p1, unsigned need, uint16_t *lanes,
                        sm_search_stats *st)
{
    const sm_index *ix = lib->index;
    bool sketch = kern->group_sketch != NULL && ix->sk_off != NULL;
    for (unsigned m = need; m != 0 && sketch; m &= m - 1)
        sketch = tab->t1_need[__builtin_ctz(m)] > 0.0f;
    st->bounded += (uint64_t)__builtin_popcount(need) * (p1 - p0);
    if (!sketch) {
        for (size_t pos = p0; pos < p1; pos++)
            lanes[pos - p0] = (uint16_t)need;
        return;
    }
    const size_t B = ix->block;
    float norm[SM_INDEX_BLOCK_LARGE > SM_INDEX_BLOCK_SMALL ? SM_INDEX_BLOCK_LARGE
                                                         : SM_INDEX_BLOCK_SMALL];
    uint16_t first[sizeof norm / sizeof norm[0]];
    for (size_t k = 0; k < B; k++) { /* (a last block's missing spectra: all codes 0) */
        size_t pos = p0 + k < p1 ? p0 + k : p0;
        norm[k] = (float)(ix->norm[pos] * (1.0 - 1e-7)); /* below the norm, rounded */
        first[k] = ix->first_mz[pos];
        if (first[k] >= tab->n_tab) /* (never: the tables cover the library) */
            first[k] = 0, norm[k] = 0.0f; /* no norm: only dot = 0 excludes */
    }
    const uint64_t e0 = ix->sk_off[b];
    kern->group_sketch(tab, ix->sk_mz + e0, ix->sk_val + e0 * B, (size_t)(ix->sk_off[b + 1] - e0),
                       (unsigned)B, norm, first, lanes);
    for (size_t pos = p0; pos < p1; pos++)
        lanes[pos - p0] &= (uint16_t)need;
}

/* Blocks [b0, b1) of the group's sweep, in memory order: each spectrum a lane still
 * needs (after the block's sketch) goes through sweep_spectrum. mark[] is cleared. */
static void sweep_blocks(const sm_library *lib, const sm_kernel *kern, sm_group *g,
                         sm_group_tab *tab, topk *const *ts, size_t b0, size_t b1,
                         sm_nominal_buf *buf, sm_search_stats *st)
{
    const sm_index *ix = lib->index;
    uint16_t *mz = buf->mz, *in = buf->intensity;
    uint16_t lanes[SM_INDEX_BLOCK_LARGE > SM_INDEX_BLOCK_SMALL ? SM_INDEX_BLOCK_LARGE
                                                             : SM_INDEX_BLOCK_SMALL];
    for (size_t b = b0; b < b1; b++) {
        unsigned need = g->mark[b];
        if (need == 0)
            continue;
        g->mark[b] = 0;
        st->blocks_scanned++;
        size_t p0 = b * ix->block, p1 = p0 + ix->block < lib->n ? p0 + ix->block : lib->n;
        block_lanes(lib, kern, tab, b, p0, p1, need, lanes, st);
        for (size_t pos = p0; pos < p1; pos++) {
            if (lanes[pos - p0] == 0)
                continue;
            uint64_t o = lib->nom_off[pos];
            size_t n = kern->unpack(lib->nom_w + o, (size_t)(lib->nom_off[pos + 1] - o), mz, in);
            sweep_spectrum(lib, kern, g, tab, ts, lanes[pos - p0], pos, mz, in, n, st);
        }
    }
}

/* Lane l of the tables all zero and out of use, as sm_group_new_ leaves it. */
static void clear_lane(sm_group_tab *tab, unsigned l)
{
    for (size_t m = 0; m < tab->n_tab; m++) {
        size_t c = m * SM_GROUP + l;
        tab->word[c] = 0;
        tab->le[c] = 0;
        tab->lt[c] = 0;
        tab->bw[c] = 0.0f;
        tab->sa[c] = 0.0f;
        tab->nu[c] = 0.0f;
    }
    tab->first[l] = 0;
    tab->floor[l] = INFINITY;
    tab->t1_need[l] = 0.0f;
}

/* The lanes' hits completed (RMF, counts) and the group emptied for reuse. */
static void group_finish(sm_group *g, sm_nominal_buf *buf)
{
    for (unsigned l = 0; l < g->n_lanes; l++) {
        struct lane *ln = &g->lane[l];
        finish_hits(g->lib, ln->q, &ln->t, ln->n_hits, buf);
        clear_lane(&g->tab, l);
    }
    g->n_lanes = 0;
}

void sm_group_flush_(sm_searcher *s, sm_group *g)
{
    if (g == NULL || g->n_lanes == 0)
        return;
    topk *ts[SM_GROUP];
    for (unsigned l = 0; l < g->n_lanes; l++)
        ts[l] = &g->lane[l].t;
    sweep_blocks(s->lib, g->kern, g, &g->tab, ts, 0, s->lib->index->n_blocks, &s->lbuf,
                 &s->stats);
    group_finish(g, &s->lbuf);
}

/* One thread's share of a group swept by several (sm_groups_sweep_): its own lists,
 * and its own copy of the tables' header for their floors. */
struct sm_group_part {
    sm_group_tab tab;
    topk t[SM_GROUP];
    sm_hit *hits; /* [SM_GROUP * k] */
    size_t k;
    sm_nominal_buf buf;
    sm_search_stats stats;
};

sm_status sm_group_part_new_(size_t k, sm_group_part **out, sm_error *err)
{
    *out = NULL;
    sm_group_part *p = calloc(1, sizeof *p);
    if (p != NULL)
        p->hits = calloc((size_t)SM_GROUP * (k > 0 ? k : 1), sizeof *p->hits);
    if (p == NULL || p->hits == NULL) {
        sm_group_part_free_(p);
        return sm_seterr_(err, SM_ERR_NOMEM, NULL, 0, "out of memory");
    }
    p->k = k;
    *out = p;
    return SM_OK;
}

void sm_group_part_free_(sm_group_part *p)
{
    if (p == NULL)
        return;
    free(p->hits);
    free(p);
}

void sm_group_part_begin_(sm_group_part *p, const sm_group *g)
{
    p->tab = g->tab;
    for (unsigned l = 0; l < g->n_lanes; l++) {
        /* only what can still enter the lane's list: at least its floor now */
        double floor = topk_floor(&g->lane[l].t);
        p->t[l] = (topk){p->hits + (size_t)l * p->k, p->k, 0, floor};
    }
}

/* The next chunk [*b0, *b1) of the n_blocks from the shared cursor; false when none
 * is left. */
static bool next_chunk(_Atomic size_t *cursor, size_t chunk, size_t n_blocks, size_t *b0,
                       size_t *b1)
{
    size_t c = atomic_fetch_add(cursor, 1);
    *b0 = c * chunk;
    if (*b0 >= n_blocks)
        return false;
    *b1 = n_blocks - *b0 > chunk ? *b0 + chunk : n_blocks;
    return true;
}

/* the sweep asks for the packed words this many blocks ahead: 2-4 % at 1M */
#ifndef SWEEP_AHEAD
#define SWEEP_AHEAD 4
#endif

/* Several groups swept at once (up to SM_SWEEP_GROUPS), each with this thread's part
 * ps[i]: a block any of them needs is unpacked once, then each group that needs it
 * takes its spectra in turn. Chunks of n_blocks / 64 blocks (16 to SM_GROUP_CHUNK)
 * from the shared cursor, so that a small library is shared among the threads too. */
void sm_groups_sweep_(const sm_library *lib, sm_group *const *gs, sm_group_part *const *ps,
                      size_t ng, _Atomic size_t *cursor)
{
    const sm_index *ix = lib->index;
    const size_t n_blocks = ix->n_blocks;
    size_t chunk = n_blocks / 64;
    chunk = chunk < 16 ? 16 : chunk > SM_GROUP_CHUNK ? SM_GROUP_CHUNK : chunk;
    if (ng == 0)
        return;
    /* the block's spectra one after another: at most block x (SM_MAX_NOMINAL_MZ + 1) */
    size_t cap = ix->block * (SM_MAX_NOMINAL_MZ + 1);
    uint16_t *bmz = malloc(cap * sizeof *bmz), *bin = malloc(cap * sizeof *bin);
    if (ng > SM_SWEEP_GROUPS || bmz == NULL || bin == NULL) { /* one after another */
        free(bmz);
        free(bin);
        size_t b0, b1;
        while (next_chunk(cursor, chunk, n_blocks, &b0, &b1)) {
            for (size_t i = 0; i < ng; i++) {
                topk *ts[SM_GROUP];
                for (unsigned l = 0; l < gs[i]->n_lanes; l++)
                    ts[l] = &ps[i]->t[l];
                sweep_blocks(lib, gs[i]->kern, gs[i], &ps[i]->tab, ts, b0, b1, &ps[i]->buf,
                             &ps[i]->stats);
            }
        }
        return;
    }
    topk *ts[SM_SWEEP_GROUPS][SM_GROUP];
    for (size_t i = 0; i < ng; i++)
        for (unsigned l = 0; l < gs[i]->n_lanes; l++)
            ts[i][l] = &ps[i]->t[l];
    const sm_kernel *kern = gs[0]->kern;
    enum { BMAX = SM_INDEX_BLOCK_LARGE > SM_INDEX_BLOCK_SMALL ? SM_INDEX_BLOCK_LARGE
                                                             : SM_INDEX_BLOCK_SMALL };
    const size_t slot = SM_MAX_NOMINAL_MZ + 1; /* spectrum k unpacked at k * slot */
    uint16_t lanes[SM_SWEEP_GROUPS][BMAX];
    size_t np[BMAX];
    size_t b0, b1;
    while (next_chunk(cursor, chunk, n_blocks, &b0, &b1)) {
        for (size_t b = b0; b < b1; b++) {
            unsigned any = 0;
            for (size_t i = 0; i < ng; i++)
                any |= gs[i]->mark[b];
            if (any == 0)
                continue;
            size_t p0 = b * ix->block, p1 = p0 + ix->block < lib->n ? p0 + ix->block : lib->n;
            if (b + SWEEP_AHEAD < b1) { /* the words of a block ahead */
                size_t q0 = (b + SWEEP_AHEAD) * ix->block;
                size_t q1 = q0 + ix->block < lib->n ? q0 + ix->block : lib->n;
                prefetch_range(lib->nom_w + lib->nom_off[q0], lib->nom_w + lib->nom_off[q1]);
            }
            unsigned wanted = 0; /* the spectra some group's lanes still need */
            for (size_t i = 0; i < ng; i++) {
                unsigned need = gs[i]->mark[b];
                for (size_t k = 0; k < p1 - p0; k++)
                    lanes[i][k] = 0;
                if (need == 0)
                    continue;
                gs[i]->mark[b] = 0;
                ps[i]->stats.blocks_scanned++;
                block_lanes(lib, kern, &ps[i]->tab, b, p0, p1, need, lanes[i], &ps[i]->stats);
                for (size_t k = 0; k < p1 - p0; k++)
                    wanted |= (unsigned)(lanes[i][k] != 0) << k;
            }
            for (unsigned w = wanted; w != 0; w &= w - 1) {
                size_t k = (size_t)__builtin_ctz(w);
                uint64_t o = lib->nom_off[p0 + k];
                np[k] = kern->unpack(lib->nom_w + o, (size_t)(lib->nom_off[p0 + k + 1] - o),
                                     bmz + k * slot, bin + k * slot);
            }
            for (size_t i = 0; i < ng; i++)
                for (size_t k = 0; k < p1 - p0; k++)
                    if (lanes[i][k] != 0)
                        sweep_spectrum(lib, kern, gs[i], &ps[i]->tab, ts[i], lanes[i][k], p0 + k,
                                       bmz + k * slot, bin + k * slot, np[k], &ps[i]->stats);
        }
    }
    free(bmz);
    free(bin);
}

/* A lane taken out of its group: its column of each table and what goes with it. */
struct lane_copy {
    uint32_t need; /* blocks it still needs */
    uint32_t from; /* group * SM_GROUP + lane, where it was */
    uint32_t first;
    float floor, t1_need;
    struct lane lane;
};

static int lane_needs_more(const void *pa, const void *pb)
{
    const struct lane_copy *a = pa, *b = pb;
    if (a->need != b->need)
        return a->need < b->need ? 1 : -1;
    return (a->from > b->from) - (a->from < b->from);
}

sm_status sm_groups_regroup_(sm_group *const *gs, size_t ng, sm_error *err)
{
    size_t n = 0;
    for (size_t i = 0; i < ng; i++)
        n += gs[i]->n_lanes;
    if (ng < 2 || n == 0)
        return SM_OK;
    const size_t n_tab = gs[0]->tab.n_tab, n_blocks = gs[0]->lib->index->n_blocks;
    sm_status st = SM_OK;
    struct lane_copy *lc = calloc(n, sizeof *lc), *sorted = malloc(n * sizeof *sorted);
    float *col = malloc(n * n_tab * 3 * sizeof *col);
    uint32_t *wcol = malloc(n * n_tab * sizeof *wcol), *dest = malloc(ng * SM_GROUP * sizeof *dest);
    uint16_t *mark = calloc(ng * n_blocks, sizeof *mark);
    if (!lc || !sorted || !col || !wcol || !dest || !mark) {
        st = sm_seterr_(err, SM_ERR_NOMEM, NULL, 0, "out of memory");
        goto out;
    }
    /* each lane copied out with the count of blocks it needs; the copies keep their
     * place in col/wcol */
    size_t k = 0;
    for (size_t i = 0; i < ng; i++) {
        const sm_group *g = gs[i];
        uint32_t need[SM_GROUP] = {0};
        for (size_t b = 0; b < n_blocks; b++)
            for (unsigned m = g->mark[b]; m != 0; m &= m - 1)
                need[__builtin_ctz(m)]++;
        for (unsigned l = 0; l < g->n_lanes; l++, k++) {
            lc[k] = (struct lane_copy){need[l], (uint32_t)(i * SM_GROUP + l), g->tab.first[l],
                                       g->tab.floor[l], g->tab.t1_need[l], g->lane[l]};
            for (size_t m = 0; m < n_tab; m++) {
                size_t c = m * SM_GROUP + l, to = k * n_tab + m;
                wcol[to] = g->tab.word[c];
                col[3 * to] = g->tab.bw[c];
                col[3 * to + 1] = g->tab.sa[c];
                col[3 * to + 2] = g->tab.nu[c];
            }
        }
    }
    /* dest[from]: the place j of lane `from` in order of need, group j / SM_GROUP,
     * lane j % SM_GROUP; its marks follow it */
    memcpy(sorted, lc, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, lane_needs_more);
    for (size_t j = 0; j < n; j++)
        dest[sorted[j].from] = (uint32_t)j;
    for (size_t i = 0; i < ng; i++) {
        const sm_group *g = gs[i];
        for (size_t b = 0; b < n_blocks; b++)
            for (unsigned m = g->mark[b]; m != 0; m &= m - 1) {
                size_t j = dest[i * SM_GROUP + (unsigned)__builtin_ctz(m)];
                mark[(j / SM_GROUP) * n_blocks + b] |= (uint16_t)(1u << (j % SM_GROUP));
            }
    }
    for (size_t i = 0; i < ng; i++) {
        sm_group *g = gs[i];
        g->n_lanes = 0;
        memcpy(g->mark, mark + i * n_blocks, n_blocks * sizeof *g->mark);
        for (unsigned l = 0; l < SM_GROUP; l++) {
            g->tab.first[l] = 0;
            g->tab.floor[l] = INFINITY;
            g->tab.t1_need[l] = 0.0f;
        }
    }
    for (size_t old = 0; old < n; old++) {
        size_t j = dest[lc[old].from];
        sm_group *g = gs[j / SM_GROUP];
        unsigned l = (unsigned)(j % SM_GROUP);
        for (size_t m = 0; m < n_tab; m++) {
            size_t c = m * SM_GROUP + l, from = old * n_tab + m;
            g->tab.word[c] = wcol[from];
            g->tab.le[c] = (uint16_t)(wcol[from] & 0xffffu);
            g->tab.lt[c] = (uint16_t)(wcol[from] >> 16);
            g->tab.bw[c] = col[3 * from];
            g->tab.sa[c] = col[3 * from + 1];
            g->tab.nu[c] = col[3 * from + 2];
        }
        g->tab.first[l] = lc[old].first;
        g->tab.floor[l] = lc[old].floor;
        g->tab.t1_need[l] = lc[old].t1_need;
        g->lane[l] = lc[old].lane;
        if (l + 1 > g->n_lanes)
            g->n_lanes = l + 1;
    }
    /* lanes no longer in use all zero, as sm_group_new_ leaves them */
    for (size_t i = 0; i < ng; i++)
        for (unsigned l = gs[i]->n_lanes; l < SM_GROUP; l++)
            clear_lane(&gs[i]->tab, l);
out:
    free(lc);
    free(sorted);
    free(col);
    free(wcol);
    free(dest);
    free(mark);
    return st;
}

void sm_group_part_merge_(sm_group *g, const sm_group_part *p)
{
    for (unsigned l = 0; l < g->n_lanes; l++)
        for (size_t j = 0; j < p->t[l].n; j++)
            topk_offer(&g->lane[l].t, p->t[l].hits[j].index, p->t[l].hits[j].mf);
}

void sm_group_finish_(sm_group *g, sm_nominal_buf *buf)
{
    if (g != NULL && g->n_lanes > 0)
        group_finish(g, buf);
}

static bool search_one(sm_searcher *s, sm_nominal q, size_t k, size_t exclude, sm_hit *hits,
                       size_t *n_hits, size_t budget)
{
    const sm_library *lib = s->lib;
    topk t = {hits, k, 0, s->min_mf};
    if (s->pend.on) { /* a parked query no group took (not done by the batches) */
        clear_query(s, s->pend.q);
        s->pend.on = false;
    }
    s->stats.queries++;
    s->heap_n = 0;
    prepare_query(s, q);
    unsigned first_u = q.mz[0];
    unsigned cut = first_u <= SM_INDEX_CUT0
                       ? 0
                       : (first_u - SM_INDEX_CUT0 + SM_INDEX_CUT_STEP - 1) / SM_INDEX_CUT_STEP;
    if (cut < SM_INDEX_CUTS) {
        if (!search_blocked(s, q, cut, exclude, &t, budget)) {
            s->pend.on = true;
            s->pend.q = q;
            s->pend.t = t;
            s->pend.n_hits = n_hits;
            return false; /* still prepared, for sm_group_adopt_ */
        }
    } else {
        search_unblocked(s, q, exclude, &t);
    }
    clear_query(s, q);
    finish_hits(lib, q, &t, n_hits, &s->lbuf);
    return true;
}
