/* selfsearch.c — benchmark: every library spectrum searched against its own library (top 10). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "specmatch/specmatch.h"

/* A library spectrum's peaks, unpacked (used by one thread, one spectrum at a time). */
static sm_nominal_buf lib_buf;

#include "bench_common.h"



int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : SM_DEFAULT_LIBRARY;
    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    printf("machine: %s\nkernel: %s\nlibrary: %s\n", cpu, sm_kernel_active(), path);

    sm_error e = {0};
    sm_library *lib = NULL;
    double t0 = now();
    if (sm_library_open_ex(path, SM_OPEN_SEARCH_ONLY, &lib, &e) != SM_OK) {
        fprintf(stderr, "selfsearch: %s: %s\n", e.file, e.message);
        return 1;
    }
    double t_open = now() - t0;
    struct stat st;
    double file_mb = stat(path, &st) == 0 ? (double)st.st_size / 1e6 : 0;
    size_t n = sm_library_size(lib);
    printf("spectra: %zu, file: %.2f MB, open + checksum: %.1f ms\n", n, file_mb,
           1e3 * t_open);

    sm_searcher *s = NULL;
    if (sm_searcher_new(lib, &s, &e) != SM_OK)
        return 1;
    sm_hit hits[10];
    size_t nh, rank1_self_score = 0;
    t0 = now();
    for (size_t i = 0; i < n; i++) {
        if (sm_search_nominal(s, sm_library_nominal(lib, i, &lib_buf), 10, SIZE_MAX, hits, &nh, &e) !=
            SM_OK)
            return 1;
        rank1_self_score += nh > 0 && sm_mf_display(hits[0].mf) >= 998;
    }
    double t = now() - t0;
    printf("self-search: %zu queries in %.2f s, %.1f queries/s, %.3f ms/query, "
           "%zu with MF >= 998 at rank 1\n",
           n, t, (double)n / t, 1e3 * t / (double)n, rank1_self_score);
    printf("BENCH {\"library\": %zu, \"selfsearch_s\": %.3f, \"qps_1t\": %.1f, \"file_mb\": %.2f, "
           "\"kernel\": \"%s\"}\n", n, t, (double)n / t, file_mb, sm_kernel_active());
    sm_searcher_free(s);
    sm_library_close(lib);
    return 0;
}
