/* chunks.c — a batch of a dataset's stored chunks decoded on several threads: zlib's
 * inflate, then HDF5's byte shuffle undone. h5io.c reads the chunks as stored (HDF5
 * is not called from more than one thread) and hands them here. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <zlib.h>

#include "sm_internal.h"

typedef struct decode_ctx {
    sm_chunk_job *jobs;
    size_t n;
    size_t chunk_elems, elsize;
    uint8_t *scratch; /* chunk_elems * elsize bytes a thread */
    atomic_size_t next;
} decode_ctx;

typedef struct decode_arg {
    decode_ctx *c;
    unsigned t;
} decode_arg;

/* HDF5's shuffle stores byte b of element i at b * n + i; this puts it back at
 * i * s + b for the first n_valid elements. */
static void unshuffle(uint8_t *dst, const uint8_t *src, size_t n, size_t s, size_t n_valid)
{
    if (s == 8) {
        for (size_t i = 0; i < n_valid; i++) {
            uint64_t v = 0;
            for (unsigned b = 0; b < 8; b++)
                v |= (uint64_t)src[b * n + i] << (8 * b);
            memcpy(dst + 8 * i, &v, 8); /* little-endian host: checked by the caller */
        }
        return;
    }
    for (size_t b = 0; b < s; b++)
        for (size_t i = 0; i < n_valid; i++)
            dst[i * s + b] = src[b * n + i];
}

/* One chunk: 0, or 1 when it does not decode to exactly a chunk's bytes. */
static int decode_one(const decode_ctx *c, sm_chunk_job *j, uint8_t *scratch)
{
    const size_t bytes = c->chunk_elems * c->elsize;
    const bool whole = j->n_valid == c->chunk_elems;
    const uint8_t *plain = j->raw; /* the chunk's bytes once inflated */
    if (j->deflated) {
        uint8_t *to = whole && !j->shuffled ? j->dst : scratch;
        uLongf out_len = (uLongf)bytes;
        uLong in_len = (uLong)j->raw_len;
        if (uncompress2(to, &out_len, j->raw, &in_len) != Z_OK || out_len != bytes)
            return 1;
        if (to == j->dst)
            return 0;
        plain = scratch;
    } else if (j->raw_len != bytes) {
        return 1;
    }
    if (j->shuffled && c->elsize > 1)
        unshuffle(j->dst, plain, c->chunk_elems, c->elsize, j->n_valid);
    else
        memcpy(j->dst, plain, j->n_valid * c->elsize);
    return 0;
}

static void *decode_worker(void *p)
{
    decode_arg *a = p;
    decode_ctx *c = a->c;
    uint8_t *scratch = c->scratch + (size_t)a->t * c->chunk_elems * c->elsize;
    for (;;) {
        size_t i = atomic_fetch_add(&c->next, 1);
        if (i >= c->n)
            break;
        c->jobs[i].failed = decode_one(c, &c->jobs[i], scratch);
    }
    return NULL;
}

size_t sm_chunks_decode_(sm_chunk_job *jobs, size_t n, size_t chunk_elems, size_t elsize,
                         unsigned threads, uint8_t *scratch, void (*side)(void *),
                         void *side_arg)
{
    decode_ctx c = {jobs, n, chunk_elems, elsize, scratch, 0};
    if (threads > SM_CHUNK_THREADS)
        threads = SM_CHUNK_THREADS;
    if (threads > n)
        threads = (unsigned)n;
    if (threads == 0)
        threads = 1;
    pthread_t tid[SM_CHUNK_THREADS];
    decode_arg arg[SM_CHUNK_THREADS];
    unsigned started = 1;
    for (unsigned t = 0; t < threads; t++)
        arg[t] = (decode_arg){&c, t};
    /* Threads that cannot start leave their share to the others. */
    for (unsigned t = 1; t < threads; t++, started++)
        if (pthread_create(&tid[t], NULL, decode_worker, &arg[t]) != 0)
            break;
    if (side != NULL)
        side(side_arg); /* the caller's own work first, while the others decode */
    decode_worker(&arg[0]);
    for (unsigned t = 1; t < started; t++)
        pthread_join(tid[t], NULL);
    for (size_t i = 0; i < n; i++)
        if (jobs[i].failed)
            return i;
    return SIZE_MAX;
}
