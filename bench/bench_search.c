/* bench_search.c — benchmark: open a library, then search it with real queries (latency, throughput, memory, bandwidth, exactness). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "specmatch/specmatch.h"

/* A library spectrum's peaks, unpacked (used by one thread, one spectrum at a time). */
static sm_nominal_buf lib_buf;

#include "bench_common.h"
#include "bench_queries.h"

#define TOP_K 10
#define WARMUP_QUERIES 20
#define BW_BYTES ((size_t)512 << 20)
#define BW_PASSES 3
#define MIN_BATCH_SECONDS 1.0
/* The index as lib/src/sm_internal.h describes it: envelopes of blocks of spectra
 * (EST_BLOCK, the larger size, only where the statistics have no block count),
 * one byte per block and m/z, rows padded to a multiple of 16 blocks. The block count is
 * taken from the search statistics (scanned + skipped per query) when they have it, so
 * only the entry size and the padding are assumed here. */
#define EST_BLOCK 8
#define EST_STRIDE_ROUND 16
#define EST_ENV_BYTES 1
#define MIB (1024.0 * 1024.0)

static const char *prog = "bench_search";

/* VmRSS and VmHWM of this process in MiB; -1 when /proc is not there. */
static void memory_mb(double *rss, double *hwm)
{
    *rss = -1;
    *hwm = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        unsigned long kb;
        if (sscanf(line, "VmRSS: %lu kB", &kb) == 1)
            *rss = (double)kb / 1024.0;
        else if (sscanf(line, "VmHWM: %lu kB", &kb) == 1)
            *hwm = (double)kb / 1024.0;
    }
    fclose(f);
}

/* Resets VmHWM to the current RSS (Linux >= 4.0, "5" in proc(5) clear_refs). */
static int reset_hwm(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f == NULL)
        return -1;
    int ok = fputs("5", f) >= 0;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

static void json_mb(char *buf, size_t cap, double v)
{
    if (v < 0)
        snprintf(buf, cap, "null");
    else
        snprintf(buf, cap, "%.1f", v);
}

/* Single-thread read bandwidth in GB/s (1e9 bytes/s): best of BW_PASSES sums over a
 * buffer far larger than any cache. 0 when the buffer cannot be allocated. */
static double read_bandwidth(void)
{
    size_t n = BW_BYTES / sizeof(uint64_t);
    uint64_t *buf = malloc(n * sizeof *buf);
    if (buf == NULL)
        return 0;
    for (size_t i = 0; i < n; i++) /* every page written: resident before timing */
        buf[i] = (uint64_t)i * 0x9E3779B97F4A7C15u;
    double best = 0;
    volatile uint64_t sink = 0;
    for (int pass = 0; pass < BW_PASSES; pass++) {
        double t0 = now();
        /* four independent sums so the adds do not serialize on one register */
        uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (size_t i = 0; i + 4 <= n; i += 4) {
            s0 += buf[i];
            s1 += buf[i + 1];
            s2 += buf[i + 2];
            s3 += buf[i + 3];
        }
        sink = sink + (s0 ^ s1 ^ s2 ^ s3);
        double t = now() - t0;
        double gbs = t > 0 ? (double)(n * sizeof *buf) / t / 1e9 : 0;
        if (gbs > best)
            best = gbs;
    }
    (void)sink;
    free(buf);
    return best;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n-1], n > 0. */
static double percentile(const double *v, size_t n, double p)
{
    size_t r = (size_t)ceil(p / 100.0 * (double)n);
    if (r < 1)
        r = 1;
    if (r > n)
        r = n;
    return v[r - 1];
}

static int same_hits(const sm_hit *a, size_t na, const sm_hit *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++) {
        /* bit for bit, not within a tolerance */
        if (a[i].index != b[i].index || memcmp(&a[i].mf, &b[i].mf, sizeof a[i].mf) != 0 ||
            memcmp(&a[i].rmf, &b[i].rmf, sizeof a[i].rmf) != 0)
            return 0;
    }
    return 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [--exact-sample N] [--threads-max T] LIB.h5 QUERIES.msp\n"
            "  --exact-sample N  queries (evenly spaced) whose indexed top %d is compared bit\n"
            "                    for bit with the exhaustive search (default 50; 0 skips)\n"
            "  --threads-max T   batch throughput for 1..T threads (default 2)\n",
            prog, TOP_K);
}

static int parse_count(const char *opt, const char *s, unsigned long *out)
{
    char *end;
    errno = 0;
    if (s == NULL || *s == '\0' || *s == '-') {
        fprintf(stderr, "%s: %s needs a non-negative integer\n", prog, opt);
        return -1;
    }
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        fprintf(stderr, "%s: %s: '%s' is not a non-negative integer\n", prog, opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long exact_sample = 50, threads_max = 2;
    const char *lib_path = NULL, *query_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--exact-sample") == 0 || strcmp(a, "--threads-max") == 0) {
            unsigned long v;
            if (parse_count(a, i + 1 < argc ? argv[i + 1] : NULL, &v) != 0)
                return 2;
            i++;
            if (strcmp(a, "--exact-sample") == 0)
                exact_sample = v;
            else
                threads_max = v;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "%s: unknown option %s\n", prog, a);
            usage(stderr);
            return 2;
        } else if (lib_path == NULL) {
            lib_path = a;
        } else if (query_path == NULL) {
            query_path = a;
        } else {
            fprintf(stderr, "%s: too many arguments\n", prog);
            usage(stderr);
            return 2;
        }
    }
    if (lib_path == NULL || query_path == NULL) {
        usage(stderr);
        return 2;
    }
    if (threads_max < 1 || threads_max > 1024) {
        fprintf(stderr, "%s: --threads-max must be 1..1024\n", prog);
        return 2;
    }

    int rc = 1;
    sm_error e = {0};
    sm_library *lib = NULL;
    sm_searcher *s = NULL;
    queries q = {0};
    double *lat = NULL;
    sm_hit *single_hits = NULL, *batch_hits = NULL;
    size_t *single_n = NULL, *batch_n = NULL;
    double *qps = NULL;

    /* 1. machine and library */
    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    double load = -1;
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf != NULL) {
        if (fscanf(lf, "%lf", &load) != 1)
            load = -1;
        fclose(lf);
    }
    /* other work on the machine skews the multi-thread numbers: say how much there was */
    printf("machine: %s, %u cores, load average %.2f at start\n", cpu, sm_cpu_count(), load);
    printf("specmatch %s, HDF5 %s\n", sm_version(), sm_hdf5_version());
    double t0 = now();
    /* as the CLI search opens it: peaks as read verified, not kept */
    if (sm_library_open_ex(lib_path, SM_OPEN_SEARCH_ONLY, &lib, &e) != SM_OK) {
        fprintf(stderr, "%s: %s: %s\n", prog, e.file[0] ? e.file : lib_path, e.message);
        goto out;
    }
    double open_s = now() - t0;
    const char *kernel = sm_kernel_active();
    printf("kernel: %s\n", kernel);
    struct stat st;
    double file_mb = stat(lib_path, &st) == 0 ? (double)st.st_size / MIB : -1;
    size_t n_lib = sm_library_size(lib);
    uint64_t lib_peaks = 0;
    for (size_t i = 0; i < n_lib; i++)
        lib_peaks += sm_library_nominal(lib, i, &lib_buf).n;
    double avg_peaks = n_lib ? (double)lib_peaks / (double)n_lib : 0;
    double rss_open, hwm_open;
    memory_mb(&rss_open, &hwm_open);
    printf("library: %s\n", lib_path);
    printf("spectra: %zu (%.1f nominal peaks on average), file: %.2f MiB\n", n_lib, avg_peaks,
           file_mb);
    printf("open (load + checksum + index): %.3f s\n", open_s);
    printf("memory after open: VmRSS %.1f MiB, VmHWM %.1f MiB\n", rss_open, hwm_open);

    /* 2. queries */
    size_t q_failed = 0;
    t0 = now();
    if (read_queries(prog, query_path, &q, &q_failed) != 0)
        goto out;
    printf("queries: %s: %zu preprocessed, %zu skipped (unreadable or empty), %.2f s\n",
           query_path, q.n, q_failed, now() - t0);
    if (q.n == 0) {
        fprintf(stderr, "%s: %s holds no usable query\n", prog, query_path);
        goto out;
    }

    /* 3. reference bandwidth, measured here so that ratios compare like with like */
    double rss_pre_bw, hwm_pre_bw;
    memory_mb(&rss_pre_bw, &hwm_pre_bw);
    printf("memory before the bandwidth buffer: VmRSS %.1f MiB\n", rss_pre_bw);
    double bw = read_bandwidth();
    int hwm_reset = reset_hwm() == 0;
    printf("read bandwidth (1 thread, sum of %zu MiB of uint64, best of %d): %.2f GB/s\n",
           BW_BYTES >> 20, BW_PASSES, bw);
    if (!hwm_reset)
        printf("note: VmHWM could not be reset (/proc/self/clear_refs): peaks below include "
               "the %zu MiB bandwidth buffer\n", BW_BYTES >> 20);

    /* 4. single-query latency */
    lat = malloc(q.n * sizeof *lat);
    single_hits = malloc(q.n * TOP_K * sizeof *single_hits);
    single_n = malloc(q.n * sizeof *single_n);
    batch_hits = malloc(q.n * TOP_K * sizeof *batch_hits);
    batch_n = malloc(q.n * sizeof *batch_n);
    qps = calloc(threads_max + 1, sizeof *qps);
    if (!lat || !single_hits || !single_n || !batch_hits || !batch_n || !qps) {
        fprintf(stderr, "%s: out of memory\n", prog);
        goto out;
    }
    if (sm_searcher_new(lib, &s, &e) != SM_OK) {
        fprintf(stderr, "%s: %s\n", prog, e.message);
        goto out;
    }
    size_t warm = q.n < WARMUP_QUERIES ? q.n : WARMUP_QUERIES;
    for (size_t j = 0; j < warm; j++) {
        if (sm_search_nominal(s, q.view[j], TOP_K, SIZE_MAX, single_hits, &single_n[0], &e) !=
            SM_OK) {
            fprintf(stderr, "%s: search: %s\n", prog, e.message);
            goto out;
        }
    }
    sm_search_stats st0, st1;
    sm_searcher_stats(s, &st0);
    double total = 0;
    uint64_t query_peaks = 0;
    for (size_t j = 0; j < q.n; j++) {
        double a = now();
        sm_status ss = sm_search_nominal(s, q.view[j], TOP_K, SIZE_MAX, single_hits + j * TOP_K,
                                         &single_n[j], &e);
        lat[j] = now() - a;
        if (ss != SM_OK) {
            fprintf(stderr, "%s: search: %s\n", prog, e.message);
            goto out;
        }
        total += lat[j];
        query_peaks += q.view[j].n;
    }
    sm_searcher_stats(s, &st1);
    qsort(lat, q.n, sizeof *lat, cmp_double);
    double p50 = 1e3 * percentile(lat, q.n, 50), p95 = 1e3 * percentile(lat, q.n, 95),
           p99 = 1e3 * percentile(lat, q.n, 99), pmax = 1e3 * lat[q.n - 1],
           mean = 1e3 * total / (double)q.n;
    printf("latency (1 thread, top %d, %zu queries after %zu warm-up): p50 %.3f ms, p95 %.3f ms, "
           "p99 %.3f ms, max %.3f ms, mean %.3f ms\n",
           TOP_K, q.n, warm, p50, p95, p99, pmax, mean);

    /* 5. batch throughput */
    int batch_same = 1;
    for (unsigned long t = 1; t <= threads_max; t++) {
        size_t rounds = 0;
        double a = now(), el;
        do {
            if (sm_search_batch(lib, q.view, q.n, TOP_K, (unsigned)t, batch_hits, batch_n, &e) !=
                SM_OK) {
                fprintf(stderr, "%s: batch search: %s\n", prog, e.message);
                goto out;
            }
            rounds++;
            el = now() - a;
        } while (el < MIN_BATCH_SECONDS);
        qps[t] = (double)(rounds * q.n) / el;
        for (size_t j = 0; j < q.n; j++)
            if (!same_hits(single_hits + j * TOP_K, single_n[j], batch_hits + j * TOP_K,
                           batch_n[j]))
                batch_same = 0;
        printf("batch throughput (%lu thread%s, top %d): %.1f queries/s (%zu x %zu queries in "
               "%.2f s)\n",
               t, t == 1 ? "" : "s", TOP_K, qps[t], rounds, q.n, el);
        if (t > 1)
            printf("  speedup over 1 thread: %.2fx\n", qps[1] > 0 ? qps[t] / qps[1] : 0);
    }
    printf("batch results identical to single-query results: %s\n", batch_same ? "yes" : "NO");

    /* 6. what the bounds skipped during the timed pass */
    double nq = (double)(st1.queries - st0.queries);
    uint64_t scanned = st1.blocks_scanned - st0.blocks_scanned,
             skipped = st1.blocks_skipped - st0.blocks_skipped,
             bounded = st1.bounded - st0.bounded, exact_mfs = st1.exact - st0.exact;
    double skipped_pct =
        scanned + skipped ? 100.0 * (double)skipped / (double)(scanned + skipped) : 0;
    if (nq <= 0)
        nq = 1;
    printf("search stats per query: blocks skipped %.1f%% (%.1f scanned, %.1f skipped), "
           "spectra bounded %.1f (%.2f%% of the library), exact MFs %.1f\n",
           skipped_pct, (double)scanned / nq, (double)skipped / nq, (double)bounded / nq,
           n_lib ? 100.0 * (double)bounded / nq / (double)n_lib : 0, (double)exact_mfs / nq);

    /* 7. effective bytes read per second (estimate) */
    size_t n_blocks = (n_lib + EST_BLOCK - 1) / EST_BLOCK;
    int blocks_from_stats = scanned + skipped > 0;
    if (blocks_from_stats)
        n_blocks = (size_t)llround((double)(scanned + skipped) / nq);
    size_t stride = (n_blocks + EST_STRIDE_ROUND - 1) / EST_STRIDE_ROUND * EST_STRIDE_ROUND;
    /* a spectrum bounded and then scored reads its peaks twice; one scored at once, once */
    double lib_bytes = (double)(bounded + exact_mfs) * avg_peaks * 2.0;
    double env_bytes = (double)query_peaks * (double)stride * EST_ENV_BYTES;
    double eff_gbs = total > 0 ? (lib_bytes + env_bytes) / total / 1e9 : 0;
    printf("effective read rate (ESTIMATE): %.2f GB/s, %.1f%% of the measured bandwidth\n",
           eff_gbs, bw > 0 ? 100.0 * eff_gbs / bw : 0);
    printf("  estimated as ((spectra bounded + spectra scored exactly) x %.1f average peaks x "
           "2 B [one packed 16-bit word a peak; escapes not counted] = %.1f MB\n"
           "  + query peaks %llu x %zu envelope columns [%zu blocks %s, rounded up to %d] x %d B "
           "= %.1f MB)\n"
           "  / %.3f s of single-query search; norms, top-k and cache reuse not counted\n",
           avg_peaks, lib_bytes / 1e6, (unsigned long long)query_peaks, stride, n_blocks,
           blocks_from_stats ? "per query in the search stats" : "assumed: spectra / 8",
           EST_STRIDE_ROUND, EST_ENV_BYTES, env_bytes / 1e6, total);

    /* 8. exactness against the exhaustive search */
    size_t n_check = exact_sample < q.n ? (size_t)exact_sample : q.n, mismatches = 0;
    if (n_check > 0) {
        sm_hit ex[TOP_K];
        size_t n_ex = 0;
        t0 = now();
        for (size_t i = 0; i < n_check; i++) {
            size_t j = (size_t)((double)i * (double)q.n / (double)n_check);
            if (sm_search_exhaustive(lib, q.view[j], TOP_K, SIZE_MAX, ex, &n_ex, &e) != SM_OK) {
                fprintf(stderr, "%s: exhaustive search: %s\n", prog, e.message);
                goto out;
            }
            if (!same_hits(single_hits + j * TOP_K, single_n[j], ex, n_ex)) {
                mismatches++;
                if (mismatches <= 5)
                    fprintf(stderr, "%s: query %zu: indexed and exhaustive top %d differ\n",
                            prog, j, TOP_K);
            }
        }
        printf("exactness: %zu of %zu queries (evenly spaced) checked against the exhaustive "
               "search, %zu mismatches (index, MF, RMF bit for bit), %.2f s\n",
               n_check, q.n, mismatches, now() - t0);
    } else {
        printf("exactness: not checked (--exact-sample 0)\n");
    }

    /* 9. memory at the end */
    double rss_end, hwm_end;
    memory_mb(&rss_end, &hwm_end);
    printf("memory at the end: VmRSS %.1f MiB, VmHWM %.1f MiB%s\n", rss_end, hwm_end,
           hwm_reset ? " (since the bandwidth buffer was freed)" : "");
    /* the reset dropped the peak of opening and reading: the run's peak is the larger */
    if (hwm_reset && hwm_pre_bw > hwm_end)
        hwm_end = hwm_pre_bw;

    /* 10. summary */
    char rss_s[32], hwm_s[32], file_s[32], qps2_s[32];
    json_mb(rss_s, sizeof rss_s, rss_end);
    json_mb(hwm_s, sizeof hwm_s, hwm_end);
    json_mb(file_s, sizeof file_s, file_mb);
    if (threads_max >= 2)
        snprintf(qps2_s, sizeof qps2_s, "%.1f", qps[2]);
    else
        snprintf(qps2_s, sizeof qps2_s, "null");
    printf("BENCH {\"library\": %zu, \"queries\": %zu, \"p50_ms\": %.4f, \"p95_ms\": %.4f, "
           "\"p99_ms\": %.4f, \"qps_1t\": %.1f, \"qps_2t\": %s, ",
           n_lib, q.n, p50, p95, p99, qps[1], qps2_s);
    for (unsigned long t = 3; t <= threads_max; t++)
        printf("\"qps_%lut\": %.1f, ", t, qps[t]);
    printf("\"rss_mb\": %s, \"hwm_mb\": %s, \"file_mb\": %s, \"exact\": %s, \"kernel\": \"%s\", "
           "\"open_s\": %.3f, \"bandwidth_gbs\": %.2f, \"eff_gbs_est\": %.2f}\n",
           rss_s, hwm_s, file_s,
           n_check == 0 ? "null" : (mismatches == 0 ? "true" : "false"), kernel, open_s, bw,
           eff_gbs);
    rc = 0;
out:
    fflush(stdout);
    free(qps);
    free(batch_n);
    free(batch_hits);
    free(single_n);
    free(single_hits);
    free(lat);
    queries_free(&q);
    sm_searcher_free(s);
    sm_library_close(lib);
    return rc;
}
