/* bench_common.h — what the benchmark programs share: a monotonic clock and the CPU's name. */
#ifndef SM_BENCH_COMMON_H
#define SM_BENCH_COMMON_H

#include <stdio.h>
#include <string.h>
#include <time.h>

static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline void cpu_model(char *out, size_t cap)
{
    snprintf(out, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL)
        return;
    char line[512];
    /* x86 says "model name"; some ARM kernels only "Hardware" or "Model". */
    static const char *const keys[] = {"model name", "Hardware", "Model"};
    int found = -1;
    while (fgets(line, sizeof line, f)) {
        for (int k = 0; k < 3 && (found < 0 || k < found); k++) {
            if (strncmp(line, keys[k], strlen(keys[k])) == 0) {
                char *p = strchr(line, ':');
                if (p == NULL)
                    continue;
                p++;
                while (*p == ' ' || *p == '\t')
                    p++;
                p[strcspn(p, "\n")] = '\0';
                snprintf(out, cap, "%s", p);
                found = k;
            }
        }
        if (found == 0)
            break;
    }
    fclose(f);
}

#endif
