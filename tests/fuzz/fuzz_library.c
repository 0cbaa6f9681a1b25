/* fuzz_library.c — fuzz target: opening a library file, and searching what opened.
 *
 * Input: one mode byte, then the bytes. Mode (byte & 1):
 *   0  raw: the bytes are the whole file, specmatch header included. Random bytes
 *      stop at the header (magic, sha256, size): this mode fuzzes that check.
 *   1  sealed: the bytes are the HDF5 part; the target prepends a correct 512-byte
 *      header (as sm_h5_seal_ writes it), so that the input reaches the HDF5 reader,
 *      the format checks and the content checksum.
 * The file is one temporary file per process, rewritten for every input. It is
 * opened both fully (flags 0) and with SM_OPEN_SEARCH_ONLY. What opens must be
 * consistent, and its indexed search must give exactly the exhaustive result. */
#include "fuzz.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#include "sm_internal.h"

/* A library spectrum's peaks, unpacked (one at a time). */
static sm_nominal_buf lib_buf;


static char tmp_path[4096];

static void remove_tmp(void)
{
    if (tmp_path[0] != '\0')
        unlink(tmp_path);
}

static const char *temp_file(void)
{
    if (tmp_path[0] != '\0')
        return tmp_path;
    const char *dir = getenv("TMPDIR");
    if (dir == NULL || dir[0] == '\0')
        dir = "/tmp";
    snprintf(tmp_path, sizeof tmp_path, "%s/specmatch-fuzz-library-XXXXXX", dir);
    int fd = mkstemp(tmp_path);
    if (fd < 0) {
        perror("fuzz_library: mkstemp");
        abort();
    }
    close(fd);
    atexit(remove_tmp);
    return tmp_path;
}

static int write_input(const char *path, const uint8_t *data, size_t n, int sealed)
{
    FILE *fp = fopen(path, "wb");
    if (fp == NULL)
        return -1;
    int ok = 1;
    if (sealed) {
        sm_sha256 c;
        uint8_t digest[32];
        char hex[65], header[SM_HEADER_SIZE];
        sm_sha256_init_(&c);
        sm_sha256_update_(&c, data, n);
        sm_sha256_final_(&c, digest);
        sm_hex_(digest, sizeof digest, hex);
        memset(header, 0, sizeof header);
        snprintf(header, sizeof header,
                 "%ssha256:%s\nsize:%llu\n"
                 "The rest of this file is HDF5; see docs/FORMAT.md of specmatch.\n",
                 SM_HEADER_MAGIC, hex, (unsigned long long)(SM_HEADER_SIZE + n));
        ok = fwrite(header, 1, sizeof header, fp) == sizeof header;
    }
    if (ok && n > 0)
        ok = fwrite(data, 1, n, fp) == n;
    if (fclose(fp) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

static void check_nominal(sm_nominal v)
{
    SM_FUZZ_CHECK(v.n == 0 || (v.mz != NULL && v.intensity != NULL));
    for (size_t j = 0; j < v.n; j++) {
        SM_FUZZ_CHECK(v.mz[j] <= SM_MAX_NOMINAL_MZ);
        SM_FUZZ_CHECK(j == 0 || v.mz[j] > v.mz[j - 1]);
        SM_FUZZ_CHECK(v.intensity[j] >= 1 && v.intensity[j] <= SM_BASE_PEAK);
    }
}

static void check_contents(const sm_library *lib, unsigned flags)
{
    sm_library_info info;
    sm_library_get_info(lib, &info);
    size_t n = sm_library_size(lib);
    SM_FUZZ_CHECK(info.n_spectra == n);
    SM_FUZZ_CHECK(info.format_name != NULL && info.checksum != NULL);
    (void)strlen(info.format_name);
    (void)strlen(info.checksum);
    if (info.tool_version)
        (void)strlen(info.tool_version);
    if (info.created)
        (void)strlen(info.created);
    for (size_t j = 0; j < info.n_sources; j++) {
        const char *path = NULL, *hex = NULL;
        size_t ns = 0;
        sm_library_source(lib, j, &path, &hex, &ns);
        SM_FUZZ_CHECK(path != NULL && hex != NULL);
        (void)strlen(path);
        (void)strlen(hex);
    }
    for (size_t i = 0; i < n; i++) {
        for (int f = 0; f < SM_FIELD_COUNT; f++) {
            const char *v = sm_library_field(lib, i, (sm_field)f);
            SM_FUZZ_CHECK(v != NULL);
            (void)strlen(v);
        }
        (void)sm_library_mw(lib, i);
        (void)sm_library_exact_mass(lib, i);
        check_nominal(sm_library_nominal(lib, i, &lib_buf));
        const double *mz = NULL, *in = NULL;
        size_t np = 0;
        sm_library_peaks(lib, i, &mz, &in, &np);
        if (flags & SM_OPEN_SEARCH_ONLY)
            SM_FUZZ_CHECK(np == 0);
        for (size_t j = 0; j < np; j++)
            SM_FUZZ_CHECK(isfinite(mz[j]) && isfinite(in[j]));
    }
}

/* The indexed search must return exactly the exhaustive top k. */
static void check_search(const sm_library *lib, sm_nominal q)
{
    enum { K = 5 };
    sm_hit a[K], b[K];
    size_t na = 0, nb = 0;
    sm_searcher *s = NULL;
    sm_error err;
    memset(&err, 0, sizeof err);
    if (sm_searcher_new(lib, &s, &err) != SM_OK) {
        SM_FUZZ_CHECK(s == NULL);
        return;
    }
    sm_status sa = sm_search_nominal(s, q, K, SIZE_MAX, a, &na, &err);
    sm_status sb = sm_search_exhaustive(lib, q, K, SIZE_MAX, b, &nb, &err);
    SM_FUZZ_CHECK(sa == sb);
    if (sa == SM_OK) {
        SM_FUZZ_CHECK(na == nb && na <= K && na <= sm_library_size(lib));
        for (size_t j = 0; j < na; j++) {
            SM_FUZZ_CHECK(a[j].index == b[j].index);
            SM_FUZZ_CHECK(a[j].index < sm_library_size(lib));
            SM_FUZZ_CHECK(fabs(a[j].mf - b[j].mf) <= 1e-9);
            SM_FUZZ_CHECK(a[j].mf >= -0.5 - 1e-9 && a[j].mf <= 999.5 + 1e-9); /* 1000 t - 0.5 */
        }
    }
    sm_searcher_free(s);
}

static void open_and_search(const char *path, unsigned flags)
{
    static const uint16_t qmz[] = {41, 43, 57, 71, 85, 99, 113, 142};
    static const uint16_t qin[] = {310, 999, 870, 420, 260, 80, 40, 15};
    const sm_nominal query = {sizeof qmz / sizeof qmz[0], qmz, qin};

    sm_library *lib = (sm_library *)1;
    sm_error err;
    memset(&err, 0, sizeof err);
    sm_status st = sm_library_open_ex(path, flags, &lib, &err);
    if (st != SM_OK) {
        SM_FUZZ_CHECK(lib == NULL);
        SM_FUZZ_CHECK(err.status == st);
        SM_FUZZ_CHECK(memchr(err.message, '\0', sizeof err.message) != NULL);
        SM_FUZZ_CHECK(err.message[0] != '\0');
        return;
    }
    check_contents(lib, flags);
    check_search(lib, query);
    if (sm_library_size(lib) > 0)
        check_search(lib, sm_library_nominal(lib, 0, &lib_buf));
    sm_library_close(lib);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *path = temp_file();
    if (write_input(path, data + 1, size - 1, data[0] & 1) != 0) {
        perror("fuzz_library: writing the temporary file");
        abort();
    }
    open_and_search(path, 0);
    open_and_search(path, SM_OPEN_SEARCH_ONLY);
    return 0;
}
