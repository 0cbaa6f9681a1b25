/* chunks.c — a batch of a dataset's chunks decoded on several threads (zlib's
 * inflate, then HDF5's byte shuffle undone) or encoded (shuffled, then deflated, the
 * bytes HDF5's own filters write). h5io.c reads and writes the chunks as stored:
 * HDF5 is called from one thread only. */
#include <stdatomic.h>
#include <string.h>

#include <zlib.h>

#include "sm_internal.h"

typedef struct chunk_ctx {
    sm_chunk_job *jobs;
    size_t n;
    size_t chunk_elems, elsize;
    uint8_t *scratch; /* chunk_elems * elsize bytes a thread */
    int level;        /* encoding: deflate's level; -1: decoding */
    atomic_size_t next;
} chunk_ctx;

typedef struct chunk_arg {
    chunk_ctx *c;
    unsigned t;
    void (*side)(void *); /* run first, by thread 0 */
    void *side_arg;
} chunk_arg;

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

/* HDF5's shuffle over a whole chunk; the elements past n_valid are zero, as HDF5
 * fills the part of a chunk that the data does not reach. */
static void shuffle(uint8_t *dst, const uint8_t *src, size_t n, size_t s, size_t n_valid)
{
    if (n_valid < n)
        memset(dst, 0, n * s);
    for (size_t b = 0; b < s; b++)
        for (size_t i = 0; i < n_valid; i++)
            dst[b * n + i] = src[i * s + b];
}

/* One chunk decoded: 0, or 1 when it does not give exactly a chunk's bytes. */
static int decode_one(const chunk_ctx *c, sm_chunk_job *j, uint8_t *scratch)
{
    const size_t bytes = c->chunk_elems * c->elsize;
    const bool whole = j->n_valid == c->chunk_elems;
    const uint8_t *plain = j->packed; /* the chunk's bytes once inflated */
    if (j->deflated) {
        uint8_t *to = whole && !j->shuffled ? j->plain : scratch;
        uLongf out_len = (uLongf)bytes;
        uLong in_len = (uLong)j->packed_len;
        if (uncompress2(to, &out_len, j->packed, &in_len) != Z_OK || out_len != bytes)
            return 1;
        if (to == j->plain)
            return 0;
        plain = scratch;
    } else if (j->packed_len != bytes) {
        return 1;
    }
    if (j->shuffled && c->elsize > 1)
        unshuffle(j->plain, plain, c->chunk_elems, c->elsize, j->n_valid);
    else
        memcpy(j->plain, plain, j->n_valid * c->elsize);
    return 0;
}

/* One chunk encoded: 0, or 1 when zlib fails (packed_len too small). */
static int encode_one(const chunk_ctx *c, sm_chunk_job *j, uint8_t *scratch)
{
    const size_t bytes = c->chunk_elems * c->elsize;
    const uint8_t *plain = j->plain;
    if (c->elsize > 1) { /* HDF5's shuffle leaves single bytes as they are */
        shuffle(scratch, j->plain, c->chunk_elems, c->elsize, j->n_valid);
        plain = scratch;
    } else if (j->n_valid < c->chunk_elems) {
        memset(scratch, 0, bytes);
        memcpy(scratch, j->plain, j->n_valid);
        plain = scratch;
    }
    uLongf out_len = (uLongf)j->packed_len; /* the room in, the length out */
    if (compress2(j->packed, &out_len, plain, (uLong)bytes, c->level) != Z_OK)
        return 1;
    j->packed_len = (size_t)out_len;
    return 0;
}

static void *chunk_worker(void *p)
{
    chunk_arg *a = p;
    chunk_ctx *c = a->c;
    if (a->side != NULL)
        a->side(a->side_arg); /* the caller's own work first, while the others decode */
    uint8_t *scratch = c->scratch + (size_t)a->t * c->chunk_elems * c->elsize;
    for (;;) {
        size_t i = atomic_fetch_add(&c->next, 1);
        if (i >= c->n)
            break;
        c->jobs[i].failed = c->level >= 0 ? encode_one(c, &c->jobs[i], scratch)
                                          : decode_one(c, &c->jobs[i], scratch);
    }
    return NULL;
}

static size_t run_jobs(chunk_ctx *c, unsigned threads, void (*side)(void *), void *side_arg)
{
    if (threads > SM_CHUNK_THREADS)
        threads = SM_CHUNK_THREADS;
    if (threads > c->n)
        threads = (unsigned)c->n;
    if (threads == 0)
        threads = 1;
    chunk_arg arg[SM_CHUNK_THREADS];
    for (unsigned t = 0; t < threads; t++)
        arg[t] = (chunk_arg){c, t, t == 0 ? side : NULL, side_arg};
    sm_run_threads_(chunk_worker, arg, sizeof arg[0], threads);
    for (size_t i = 0; i < c->n; i++)
        if (c->jobs[i].failed)
            return i;
    return SIZE_MAX;
}

size_t sm_chunks_decode_(sm_chunk_job *jobs, size_t n, size_t chunk_elems, size_t elsize,
                         unsigned threads, uint8_t *scratch, void (*side)(void *),
                         void *side_arg)
{
    chunk_ctx c = {jobs, n, chunk_elems, elsize, scratch, -1, 0};
    return run_jobs(&c, threads, side, side_arg);
}

size_t sm_chunks_encode_(sm_chunk_job *jobs, size_t n, size_t chunk_elems, size_t elsize,
                         int level, unsigned threads, uint8_t *scratch)
{
    chunk_ctx c = {jobs, n, chunk_elems, elsize, scratch, level < 0 ? 0 : level, 0};
    return run_jobs(&c, threads, NULL, NULL);
}

size_t sm_chunk_room_(size_t bytes)
{
    return (size_t)compressBound((uLong)bytes);
}
