/* ab_batch.c — compares builds of libspecmatch on one batch search, in one process, rounds taken in turn. */

/* Timings of this machine move by tens of percent within the hour, so two builds
 * measured one after the other say little. Here each build's libspecmatch.so is
 * loaded into a namespace of its own (dlmopen), each copy opens the same library
 * file, and the rounds of sm_search_batch alternate between them, the order turned
 * by one each round, so every build meets the same conditions. The hits of every
 * round of every build must equal those of the first build's first round (library
 * index and MF, bit for bit); a difference is reported and the exit status is 1.
 *
 *   ab_batch [-t THREADS] [-r ROUNDS] [-k K] LIB.h5 QUERIES.msp DIR_A DIR_B [DIR ...]
 *
 * DIR is a folder holding a build's libspecmatch.so (its lib/ folder, or a copy).
 * The queries are read and preprocessed once, by the libspecmatch this program is
 * linked with, so that every build searches the same nominal spectra. For each
 * build it prints the median and best queries/s and the median over rounds of its
 * time over the first build's in the same round.
 *
 * Exit status: 0 same hits, 1 hits differ, 2 usage, 4 a build or file could not be
 * loaded or searched. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "specmatch/specmatch.h"

#include "bench_common.h"
#include "bench_queries.h"

#define MAX_BUILDS 8

static const char *prog = "ab_batch";

typedef sm_status (*open_fn)(const char *, unsigned, sm_library **, sm_error *);
typedef void (*close_fn)(sm_library *);
typedef sm_status (*batch_fn)(const sm_library *, const sm_nominal *, size_t, size_t, unsigned,
                              sm_hit *, size_t *, sm_error *);
typedef const char *(*name_fn)(void);

typedef struct build {
    const char *dir;
    void *handle;
    close_fn close;
    batch_fn batch;
    const char *kernel;
    sm_library *lib;
    double *t; /* seconds of each round */
} build;

static void usage(FILE *f)
{
    fprintf(f, "usage: %s [-t THREADS] [-r ROUNDS] [-k K] LIB.h5 QUERIES.msp DIR_A DIR_B [DIR ...]\n"
               "  DIR       a folder with a build's libspecmatch.so (up to %d)\n"
               "  -t N      threads of each batch (default 2)\n"
               "  -r N      timed rounds of each build (default 8)\n"
               "  -k N      hits a query (default 10)\n",
            prog, MAX_BUILDS);
}

static int positive(const char *opt, const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v == 0 || v > max || s[0] == '-') {
        fprintf(stderr, "%s: %s wants a whole number from 1 to %lu, not '%s'\n", prog, opt, max,
                s);
        return -1;
    }
    *out = v;
    return 0;
}

/* dir/libspecmatch.so in a namespace of its own, and the library file opened by it. */
static int load(build *b, const char *lib_path)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/libspecmatch.so", b->dir) >= sizeof path) {
        fprintf(stderr, "%s: %s: path too long\n", prog, b->dir);
        return -1;
    }
    b->handle = dlmopen(LM_ID_NEWLM, path, RTLD_NOW | RTLD_LOCAL);
    if (b->handle == NULL) {
        fprintf(stderr, "%s: cannot load %s: %s\n", prog, path, dlerror());
        return -1;
    }
    /* (POSIX's way from dlsym's object pointer to a function pointer) */
    open_fn open;
    name_fn kernel;
    *(void **)&open = dlsym(b->handle, "sm_library_open_ex");
    *(void **)&kernel = dlsym(b->handle, "sm_kernel_active");
    *(void **)&b->close = dlsym(b->handle, "sm_library_close");
    *(void **)&b->batch = dlsym(b->handle, "sm_search_batch");
    if (open == NULL || b->close == NULL || b->batch == NULL) {
        fprintf(stderr, "%s: %s lacks sm_library_open_ex, sm_library_close or sm_search_batch\n",
                prog, path);
        return -1;
    }
    b->kernel = kernel != NULL ? kernel() : "?";
    sm_error e = {0};
    if (open(lib_path, SM_OPEN_SEARCH_ONLY, &b->lib, &e) != SM_OK) {
        fprintf(stderr, "%s: %s (opened by %s): %s\n", prog, lib_path, path, e.message);
        return -1;
    }
    return 0;
}

/* The first hit of got that differs from want (query j, rank r), or -1. */
static long differs(const sm_hit *want, const size_t *nw, const sm_hit *got, const size_t *ng,
                    size_t nq, size_t k, size_t *rank)
{
    for (size_t j = 0; j < nq; j++) {
        if (nw[j] != ng[j]) {
            *rank = nw[j] < ng[j] ? nw[j] : ng[j];
            return (long)j;
        }
        for (size_t r = 0; r < nw[j]; r++) {
            const sm_hit *a = want + j * k + r, *b = got + j * k + r;
            if (a->index != b->index || a->mf != b->mf) {
                *rank = r;
                return (long)j;
            }
        }
    }
    return -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv)
{
    unsigned long threads = 2, rounds = 8, k = 10;
    int opt;
    while ((opt = getopt(argc, argv, "t:r:k:h")) != -1) {
        switch (opt) {
        case 't':
            if (positive("-t", optarg, 256, &threads) != 0)
                return 2;
            break;
        case 'r':
            if (positive("-r", optarg, 10000, &rounds) != 0)
                return 2;
            break;
        case 'k':
            if (positive("-k", optarg, 1000, &k) != 0)
                return 2;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    int nb = argc - optind - 2;
    if (nb < 2 || nb > MAX_BUILDS) {
        usage(stderr);
        return 2;
    }
    const char *lib_path = argv[optind], *query_path = argv[optind + 1];
    queries q = {0};
    size_t failed = 0;
    if (read_queries(prog, query_path, &q, &failed) != 0)
        return 4;
    if (q.n == 0) {
        fprintf(stderr, "%s: %s: no query could be read\n", prog, query_path);
        queries_free(&q);
        return 4;
    }
    build b[MAX_BUILDS] = {{0}};
    sm_hit *want = malloc(q.n * k * sizeof *want), *got = malloc(q.n * k * sizeof *got);
    size_t *nw = malloc(q.n * sizeof *nw), *ng = malloc(q.n * sizeof *ng);
    double *ratio = malloc(rounds * sizeof *ratio);
    int code = 0;
    if (!want || !got || !nw || !ng || !ratio) {
        fprintf(stderr, "%s: out of memory\n", prog);
        code = 4;
        goto out;
    }
    for (int i = 0; i < nb && code == 0; i++) {
        b[i].dir = argv[optind + 2 + i];
        if ((b[i].t = calloc(rounds, sizeof *b[i].t)) == NULL || load(&b[i], lib_path) != 0)
            code = 4;
    }
    if (code == 0)
        printf("%s: %zu queries (%zu unreadable), top %lu, %lu threads, %lu rounds a build\n",
               lib_path, q.n, failed, k, threads, rounds);
    /* round 0 untimed: the first build's hits are the reference */
    for (unsigned long r = 0; r <= rounds && code != 4; r++) {
        for (int s = 0; s < nb && code != 4; s++) {
            build *x = &b[(s + (int)r) % nb];
            bool first = r == 0 && x == &b[0];
            sm_error e = {0};
            double t0 = now();
            sm_status st = x->batch(x->lib, q.view, q.n, k, (unsigned)threads, first ? want : got,
                                    first ? nw : ng, &e);
            double t = now() - t0;
            if (st != SM_OK) {
                fprintf(stderr, "%s: %s: search failed: %s\n", prog, x->dir, e.message);
                code = 4;
                break;
            }
            if (r > 0)
                x->t[r - 1] = t;
            size_t rank = 0;
            long j = first ? -1 : differs(want, nw, got, ng, q.n, k, &rank);
            if (j >= 0 && code == 0) { /* the first difference; the rounds go on */
                printf("%s: round %lu: query %ld, rank %zu differs from %s's\n", x->dir, r, j,
                       rank + 1, b[0].dir);
                code = 1;
            }
        }
    }
    for (int i = 0; i < nb && code != 4; i++) {
        for (unsigned long r = 0; r < rounds; r++)
            ratio[r] = b[i].t[r] / b[0].t[r];
        double rt = median(ratio, rounds), tm = median(b[i].t, rounds);
        printf("%-32s %-7s median %8.1f queries/s  best %8.1f  time / first's: %.3f\n", b[i].dir,
               b[i].kernel, (double)q.n / tm, (double)q.n / b[i].t[0], rt);
    }
    if (code == 0)
        printf("hits: identical in every round of every build\n");
out:
    for (int i = 0; i < nb; i++) {
        if (b[i].lib != NULL)
            b[i].close(b[i].lib);
        free(b[i].t);
        /* (the copies stay loaded: their libraries' exit handlers run at exit) */
    }
    free(want);
    free(got);
    free(nw);
    free(ng);
    free(ratio);
    queries_free(&q);
    return code;
}
