/* test_common.h — helpers the cmocka test programs share: temp files, data paths, float checks. */
#ifndef SM_TEST_COMMON_H
#define SM_TEST_COMMON_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <dirent.h>

#include "specmatch/specmatch.h"

/* |a - b| <= tol, with both values in the failure message (cmocka 1.1 has no
 * assert_double_equal). */
#define assert_near(a, b, tol)                                                            \
    do {                                                                                  \
        double a_ = (a), b_ = (b);                                                        \
        if (!(fabs(a_ - b_) <= (tol)))                                                    \
            fail_msg("%s = %.10g, expected %.10g (tolerance %g)", #a, a_, b_, (double)(tol)); \
    } while (0)

/* Path of a file of the shared spectra folder (read in place, never copied). */
static inline const char *spectra_file(const char *name)
{
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", SM_SPECTRA_DIR, name);
    return buf[k];
}

/* Writes content to a fresh temporary file and returns its path (static buffer
 * rotated between 4 calls). */
static inline const char *temp_file(const char *content, size_t len)
{
    static char buf[4][64];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "/tmp/sm_test_XXXXXX");
    int fd = mkstemp(buf[k]);
    assert_true(fd >= 0);
    if (len)
        assert_int_equal(write(fd, content, len), (ssize_t)len);
    close(fd);
    return buf[k];
}

static inline const char *temp_text(const char *content)
{
    return temp_file(content, strlen(content));
}

/* A fresh directory /tmp/PREFIX-XXXXXX, its path in buf (cap bytes): 0, or -1. */
static inline int temp_dir_make(char *buf, size_t cap, const char *prefix)
{
    snprintf(buf, cap, "/tmp/%s-XXXXXX", prefix);
    return mkdtemp(buf) == NULL ? -1 : 0;
}

/* Removes a directory made by temp_dir_make with the files in it: 0, or -1. */
static inline int temp_dir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char p[512];
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    return rmdir(dir);
}

#endif
