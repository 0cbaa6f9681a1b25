/* bench_queries.h — the query spectra of a benchmark run, read and preprocessed once into one pool. */
#ifndef SM_BENCH_QUERIES_H
#define SM_BENCH_QUERIES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "specmatch/specmatch.h"

typedef struct queries {
    size_t n;
    size_t cap;
    size_t *off;        /* query j is [off[j], off[j+1]) in mz/intensity */
    size_t pool_n;
    size_t pool_cap;
    uint16_t *mz;
    uint16_t *intensity;
    sm_nominal *view;   /* made once every query is in */
} queries;

static inline int queries_add(queries *q, const uint16_t *mz, const uint16_t *in, size_t n)
{
    if (q->n + 2 > q->cap) {
        size_t cap = q->cap ? 2 * q->cap : 1024;
        size_t *o = realloc(q->off, cap * sizeof *o);
        if (o == NULL)
            return -1;
        q->off = o;
        q->cap = cap;
    }
    if (q->pool_n + n > q->pool_cap) {
        size_t cap = q->pool_cap ? 2 * q->pool_cap : 65536;
        while (cap < q->pool_n + n)
            cap *= 2;
        uint16_t *a = realloc(q->mz, cap * sizeof *a);
        if (a == NULL)
            return -1;
        q->mz = a;
        uint16_t *b = realloc(q->intensity, cap * sizeof *b);
        if (b == NULL)
            return -1;
        q->intensity = b;
        q->pool_cap = cap;
    }
    if (q->n == 0)
        q->off[0] = 0;
    memcpy(q->mz + q->pool_n, mz, n * sizeof *mz);
    memcpy(q->intensity + q->pool_n, in, n * sizeof *in);
    q->pool_n += n;
    q->n++;
    q->off[q->n] = q->pool_n;
    return 0;
}

static inline void queries_free(queries *q)
{
    free(q->off);
    free(q->mz);
    free(q->intensity);
    free(q->view);
}

/* Reads and preprocesses every spectrum of path; records that fail are counted. */
static inline int read_queries(const char *prog, const char *path, queries *q, size_t *failed)
{
    sm_error e = {0};
    sm_reader *r = NULL;
    *failed = 0;
    if (sm_reader_open(path, &r, &e) != SM_OK) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, e.message);
        return -1;
    }
    int rc = -1;
    sm_spectrum s;
    sm_spectrum_init(&s);
    static uint16_t mz[SM_MAX_NOMINAL_MZ + 1], in[SM_MAX_NOMINAL_MZ + 1];
    for (;;) {
        sm_status st = sm_reader_next(r, &s, &e);
        if (st == SM_END)
            break;
        if (st == SM_ERR_PARSE || st == SM_ERR_LIMIT) {
            (*failed)++;
            continue;
        }
        if (st != SM_OK) {
            fprintf(stderr, "%s: %s:%lu: %s\n", prog, path, e.line, e.message);
            goto out;
        }
        size_t n = 0;
        if (sm_preprocess(s.peaks, s.n_peaks, mz, in, SM_MAX_NOMINAL_MZ + 1, &n, &e) != SM_OK) {
            (*failed)++;
            continue;
        }
        if (queries_add(q, mz, in, n) != 0) {
            fprintf(stderr, "%s: out of memory reading queries\n", prog);
            goto out;
        }
    }
    q->view = malloc((q->n ? q->n : 1) * sizeof *q->view);
    if (q->view == NULL) {
        fprintf(stderr, "%s: out of memory reading queries\n", prog);
        goto out;
    }
    for (size_t j = 0; j < q->n; j++)
        q->view[j] = (sm_nominal){.n = q->off[j + 1] - q->off[j],
                                  .mz = q->mz + q->off[j],
                                  .intensity = q->intensity + q->off[j]};
    rc = 0;
out:
    sm_spectrum_clear(&s);
    sm_reader_close(r);
    return rc;
}

#endif
