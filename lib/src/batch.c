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

typedef struct batch {
    const sm_library *lib;
    const sm_nominal *queries;
    size_t nq, k;
    double min_mf;
    sm_hit *hits;
    size_t *n_hits;
    atomic_size_t next;   /* next query to take: work is handed out one at a time */
    atomic_int failed;
    sm_error err;         /* first failure, written once under failed */
} batch;

/* Each worker searches the queries it takes one by one; those that need many
 * blocks wait in its group and are finished together when the group is full and
 * once the queue is empty (search.c). */
static void *worker(void *arg)
{
    batch *b = arg;
    sm_searcher *s = NULL;
    sm_group *g = NULL;
    sm_error e = {0};
    if (sm_searcher_new(b->lib, &s, &e) != SM_OK || sm_group_new_(b->lib, &g, &e) != SM_OK)
        goto fail;
    sm_searcher_set_min_mf(s, b->min_mf);
    for (;;) {
        size_t j = atomic_fetch_add(&b->next, 1);
        if (j >= b->nq || atomic_load(&b->failed))
            break;
        if (sm_search_or_park_(s, g, b->queries[j], b->k, b->hits + j * b->k, &b->n_hits[j],
                               &e) != SM_OK)
            goto fail;
        if (sm_group_full_(g))
            sm_group_flush_(s, g);
    }
    sm_group_flush_(s, g);
    sm_group_free_(g);
    sm_searcher_free(s);
    return NULL;
fail:
    if (atomic_exchange(&b->failed, 1) == 0)
        b->err = e;
    sm_group_flush_(s, g);
    sm_group_free_(g);
    sm_searcher_free(s);
    return NULL;
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
               .hits = hits, .n_hits = n_hits};
    atomic_init(&b.next, 0);
    atomic_init(&b.failed, 0);
    pthread_t *tid = calloc(n_threads, sizeof *tid);
    if (tid == NULL)
        return sm_seterr_(err, SM_ERR_NOMEM, NULL, 0, "out of memory");
    unsigned started = 0;
    /* the calling thread works too: n_threads - 1 helpers */
    for (unsigned t = 1; t < n_threads; t++) {
        if (pthread_create(&tid[t], NULL, worker, &b) != 0)
            break;
        started++;
    }
    worker(&b);
    for (unsigned t = 1; t <= started; t++)
        pthread_join(tid[t], NULL);
    free(tid);
    if (atomic_load(&b.failed)) {
        if (err)
            *err = b.err;
        return b.err.status != SM_OK ? b.err.status : SM_ERR_NOMEM;
    }
    return SM_OK;
}
