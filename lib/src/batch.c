/* batch.c — many queries at once over a shared library, one searcher per thread. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "sm_internal.h"

unsigned sm_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1u;
}

void sm_run_threads_(void *(*fn)(void *), void *jobs, size_t job_size, size_t n)
{
    pthread_t tid[SM_MAX_THREADS_];
    size_t started = 1;
    if (n > SM_MAX_THREADS_)
        n = SM_MAX_THREADS_;
    for (size_t k = 1; k < n; k++, started++)
        if (pthread_create(&tid[k], NULL, fn, (char *)jobs + k * job_size) != 0)
            break;
    if (n > 0)
        fn(jobs);
    for (size_t k = 1; k < started; k++)
        pthread_join(tid[k], NULL);
    for (size_t k = started; k < n; k++) /* threads that could not start: run here */
        fn((char *)jobs + k * job_size);
}

/* Full groups wait for the end of the batch, where every thread sweeps each of them
 * together; past MAX_DEFERRED waiting (a group takes up to ~2 MB), the thread that
 * fills one sweeps it alone at once. */
#define MAX_DEFERRED 8
_Static_assert(MAX_DEFERRED + 1 <= SM_SWEEP_GROUPS, "the kept groups are swept together");

typedef struct batch {
    const sm_library *lib;
    const sm_nominal *queries;
    size_t nq, k;
    double min_mf;
    sm_hit *hits;
    size_t *n_hits;
    bool may_park;        /* the kernel has group_sums */
    atomic_size_t next;   /* next query to take: work is handed out one at a time */
    atomic_int failed;
    sm_error err;         /* first failure, written once under failed */
    pthread_mutex_t mu;   /* guards the groups below */
    sm_group *open;       /* the group being filled, shared by the threads */
    sm_group *spare;      /* one swept and emptied, for the next to fill */
    sm_group *deferred[MAX_DEFERRED + 1];
    size_t n_deferred;
} batch;

/* The query s stopped at the budget joins the open group; a group filled so is
 * kept for the end, or swept at once by this thread when enough are kept. */
static sm_status park(batch *b, sm_searcher *s, sm_error *e)
{
    sm_group *alone = NULL;
    sm_status st = SM_OK;
    pthread_mutex_lock(&b->mu);
    if (b->open == NULL && b->spare != NULL) {
        b->open = b->spare;
        b->spare = NULL;
    }
    if (b->open == NULL)
        st = sm_group_new_(b->lib, &b->open, e);
    if (st == SM_OK && b->open == NULL)
        st = sm_seterr_(e, SM_ERR_NOMEM, NULL, 0, "no group for a parked query");
    if (st == SM_OK) {
        sm_group_adopt_(s, b->open);
        if (sm_group_full_(b->open)) {
            if (b->n_deferred < MAX_DEFERRED)
                b->deferred[b->n_deferred++] = b->open;
            else
                alone = b->open;
            b->open = NULL;
        }
    }
    pthread_mutex_unlock(&b->mu);
    if (alone != NULL) {
        sm_group_flush_(s, alone);
        pthread_mutex_lock(&b->mu);
        if (b->spare == NULL) {
            b->spare = alone;
            alone = NULL;
        }
        pthread_mutex_unlock(&b->mu);
        sm_group_free_(alone);
    }
    return st;
}

static void fail(batch *b, const sm_error *e)
{
    if (atomic_exchange(&b->failed, 1) == 0)
        b->err = *e;
}

/* Each worker searches the queries it takes one by one; those that need many
 * blocks are parked in the shared groups (search.c). */
static void *worker(void *arg)
{
    batch *b = arg;
    sm_searcher *s = NULL;
    sm_error e = {0};
    if (sm_searcher_new(b->lib, &s, &e) != SM_OK) {
        fail(b, &e);
        return NULL;
    }
    sm_searcher_set_min_mf(s, b->min_mf);
    for (;;) {
        size_t j = atomic_fetch_add(&b->next, 1);
        if (j >= b->nq || atomic_load(&b->failed))
            break;
        bool parked = false;
        if (sm_search_or_park_(s, b->may_park, b->queries[j], b->k, b->hits + j * b->k,
                               &b->n_hits[j], &parked, &e) != SM_OK ||
            (parked && park(b, s, &e) != SM_OK)) {
            fail(b, &e);
            break;
        }
    }
    sm_searcher_free(s);
    return NULL;
}

typedef struct sweep_job {
    const sm_library *lib;
    sm_group *const *gs;
    sm_group_part *const *ps; /* this thread's part of each group */
    size_t ng;
    atomic_size_t *cursor;
} sweep_job;

static void *sweeper(void *arg)
{
    sweep_job *j = arg;
    sm_groups_sweep_(j->lib, j->gs, j->ps, j->ng, j->cursor);
    return NULL;
}

/* Starts n_threads - 1 helpers running fn on args[1..], runs args[0] here, and
 * waits for them; a helper that cannot start leaves its share to the others when
 * the work is handed out from a shared counter. */
static void run_threads(void *(*fn)(void *), void *args, size_t arg_size, unsigned n_threads)
{
    pthread_t *tid = n_threads > 1 ? calloc(n_threads, sizeof *tid) : NULL;
    unsigned started = 0;
    for (unsigned t = 1; t < n_threads && tid != NULL; t++) {
        if (pthread_create(&tid[started], NULL, fn, (char *)args + t * arg_size) != 0)
            break;
        started++;
    }
    fn(args);
    for (unsigned t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    free(tid);
}

/* The kept groups, their lanes first dealt out again by the blocks they need (the
 * queries that need nearly every block together, the others in a group whose sweep
 * reads fewer), swept together by all the threads at once (a block's spectra
 * unpacked once for all of them), then completed. */
static sm_status sweep_deferred(batch *b, unsigned n_threads, sm_error *err)
{
    size_t ng = b->n_deferred; /* at most MAX_DEFERRED + 1 <= SM_SWEEP_GROUPS */
    sm_group_part **parts = calloc((size_t)n_threads * ng, sizeof *parts);
    sweep_job *jobs = calloc(n_threads, sizeof *jobs);
    sm_nominal_buf *buf = malloc(sizeof *buf);
    sm_status st = parts && jobs && buf ? SM_OK
                                        : sm_seterr_(err, SM_ERR_NOMEM, NULL, 0, "out of memory");
    for (size_t p = 0; p < (size_t)n_threads * ng && st == SM_OK; p++)
        st = sm_group_part_new_(b->k, &parts[p], err);
    if (st == SM_OK)
        st = sm_groups_regroup_(b->deferred, ng, err);
    if (st == SM_OK) {
        atomic_size_t cursor;
        atomic_init(&cursor, 0);
        for (unsigned t = 0; t < n_threads; t++) {
            for (size_t i = 0; i < ng; i++)
                sm_group_part_begin_(parts[t * ng + i], b->deferred[i]);
            jobs[t] = (sweep_job){b->lib, b->deferred, parts + t * ng, ng, &cursor};
        }
        run_threads(sweeper, jobs, sizeof jobs[0], n_threads);
        for (size_t i = 0; i < ng; i++) {
            for (unsigned t = 0; t < n_threads; t++)
                sm_group_part_merge_(b->deferred[i], parts[t * ng + i]);
            sm_group_finish_(b->deferred[i], buf);
        }
    }
    for (size_t p = 0; parts != NULL && p < (size_t)n_threads * ng; p++)
        sm_group_part_free_(parts[p]);
    free(parts);
    free(jobs);
    free(buf);
    return st;
}

sm_status sm_search_batch(const sm_library *lib, const sm_nominal *queries, size_t nq,
                          size_t k, unsigned n_threads, sm_hit *hits, size_t *n_hits,
                          sm_error *err)
{
    return sm_search_batch_min(lib, queries, nq, k, 0, n_threads, hits, n_hits, err);
}

sm_status sm_search_batch_min(const sm_library *lib, const sm_nominal *queries, size_t nq,
                              size_t k, double min_mf, unsigned n_threads, sm_hit *hits,
                              size_t *n_hits, sm_error *err)
{
    if (lib == NULL || (nq > 0 && (queries == NULL || hits == NULL || n_hits == NULL)))
        return sm_seterr_(err, SM_ERR_ARG, NULL, 0, "missing argument to batch search");
    for (size_t j = 0; j < nq; j++)
        n_hits[j] = 0;
    if (nq == 0 || k == 0)
        return SM_OK;
    if (n_threads == 0)
        n_threads = sm_cpu_count();
    if (n_threads > nq)
        n_threads = (unsigned)nq;
    batch b = {.lib = lib, .queries = queries, .nq = nq, .k = k, .min_mf = min_mf,
               .hits = hits, .n_hits = n_hits, .may_park = sm_group_available_(lib)};
    atomic_init(&b.next, 0);
    atomic_init(&b.failed, 0);
    pthread_mutex_init(&b.mu, NULL);
    /* the calling thread works too: n_threads - 1 helpers */
    run_threads(worker, &b, 0, n_threads);
    if (!sm_group_empty_(b.open))
        b.deferred[b.n_deferred++] = b.open;
    else
        sm_group_free_(b.open);
    b.open = NULL;
    sm_group_free_(b.spare);
    sm_status st = SM_OK;
    if (!atomic_load(&b.failed) && b.n_deferred > 0)
        st = sweep_deferred(&b, n_threads, err);
    for (size_t i = 0; i < b.n_deferred; i++)
        sm_group_free_(b.deferred[i]);
    pthread_mutex_destroy(&b.mu);
    if (atomic_load(&b.failed)) {
        if (err)
            *err = b.err;
        return b.err.status != SM_OK ? b.err.status : SM_ERR_NOMEM;
    }
    return st;
}
