/* replay.c — runs a fuzz target over saved inputs, without libFuzzer: the corpus as
 * an ordinary test (built with any compiler, and under the sanitizer build).
 *
 *   replay [--prefix BYTE] [--head BYTES] PATH...
 *
 * A PATH that is a directory means every regular file in it (sorted by name, names
 * starting with '.' left out; no recursion). --prefix prepends one byte (a number,
 * 0..255) to the inputs named after it, --head keeps only their first BYTES bytes
 * (0: all): so a real spectrum file outside the corpus can be fed to a target whose
 * inputs start with a selector byte. A target that breaks a contract aborts. */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

typedef struct opts {
    int prefix; /* -1: none */
    size_t head;
} opts;

static int run_file(const char *path, const opts *o)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    if (buf == NULL) {
        fclose(fp);
        return -1;
    }
    if (o->prefix >= 0)
        buf[n++] = (uint8_t)o->prefix;
    for (;;) {
        size_t want = cap - n;
        if (o->head > 0) {
            size_t limit = o->head + (o->prefix >= 0);
            if (n >= limit)
                break;
            if (want > limit - n)
                want = limit - n;
        }
        size_t got = fread(buf + n, 1, want, fp);
        n += got;
        if (got < want)
            break;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                fclose(fp);
                return -1;
            }
            buf = nb;
            cap *= 2;
        }
    }
    int bad = ferror(fp);
    fclose(fp);
    if (bad) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        free(buf);
        return -1;
    }
    /* An exact-size copy, so that ASan sees a read past the input's end. */
    uint8_t *in = malloc(n ? n : 1);
    if (in == NULL) {
        free(buf);
        return -1;
    }
    memcpy(in, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(in, n);
    free(in);
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int run_path(const char *path, const opts *o, size_t *count)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (run_file(path, o) != 0)
            return -1;
        ++*count;
        return 0;
    }
    struct dirent **names = NULL;
    int n = scandir(path, &names, NULL, by_name);
    if (n < 0) {
        fprintf(stderr, "replay: cannot list %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char full[4096];
        if (rc == 0 && names[i]->d_name[0] != '.' &&
            (size_t)snprintf(full, sizeof full, "%s/%s", path, names[i]->d_name) < sizeof full &&
            stat(full, &st) == 0 && S_ISREG(st.st_mode)) {
            if (run_file(full, o) != 0)
                rc = -1;
            else
                ++*count;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    opts o = {-1, 0};
    size_t count = 0;
    int paths = 0;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "--prefix") == 0 || strcmp(argv[i], "--head") == 0) &&
            i + 1 < argc) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(argv[i + 1], &end, 10);
            if (errno != 0 || *end != '\0' || end == argv[i + 1] ||
                (argv[i][2] == 'p' && v > 255)) {
                fprintf(stderr, "replay: bad value for %s: %s\n", argv[i], argv[i + 1]);
                return 2;
            }
            if (argv[i][2] == 'p')
                o.prefix = (int)v;
            else
                o.head = (size_t)v;
            i++;
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1] == '-') {
            fprintf(stderr, "usage: replay [--prefix BYTE] [--head BYTES] PATH...\n");
            return 2;
        }
        paths++;
        if (run_path(argv[i], &o, &count) != 0)
            return 1;
    }
    if (paths == 0) {
        fprintf(stderr, "usage: replay [--prefix BYTE] [--head BYTES] PATH...\n");
        return 2;
    }
    printf("replay: %zu inputs, no contract broken\n", count);
    return count > 0 ? 0 : 1;
}
