/* fuzz_controls.c — fuzz target: the control-status table reader (controls.c), and
 * what a library built with the table says about its spectra.
 *
 * Input: the bytes of a control table (spectra-library/CONTROLS.md), no selector byte.
 * They are written to one temporary file per process, rewritten for every input, and
 * read with sm_builder_set_controls on a fresh builder.
 *
 * A refused table: SM_ERR_PARSE, SM_ERR_LIMIT (a line longer than SM_MAX_LINE) or
 * SM_ERR_NOMEM, never anything else (SM_ERR_IO and SM_ERR_ARG cannot happen with a
 * readable file); the error names the file, its line is 1 .. the number of lines of
 * the input (0 only for an empty input, which has no header), the message is not empty.
 *
 * An accepted table (no line over SM_MAX_LINE) is joined to three fixed spectra
 * (Fentanyl, Fentanyl-d5: keys PJMPHNIQZUBGLI and PJMPHNIQZUBGLI-D; Norfentanyl
 * without an InChIKey: key "norfentanyl"), written with sm_builder_write and opened
 * with flags 0 and SM_OPEN_SEARCH_ONLY. Both must succeed; the library has a control
 * table whose source is the temporary file's name and whose sha256 is that of the
 * input; every cell is a short string without tab or newline; a spectrum is listed
 * when its class cell is not empty; its cells are exactly those of the row with its
 * key (found here by a plain scan of the input), all empty without one; a listed
 * class is one of the six, incb_frs is yes, no or empty; the summary fits any buffer
 * (the small one gets a prefix of the large one, the length is what the large one
 * got) and says what listed and scheduled say. */
#include "fuzz.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#include "sm_internal.h"

enum { N_SPECTRA = 3, N_CELLS = 11, FIRST_CONTROL = 3 };

static const char *const spectrum_key[N_SPECTRA] = {
    "PJMPHNIQZUBGLI", "PJMPHNIQZUBGLI-D", "norfentanyl",
};

static char tsv_path[4096], lib_path[4096];

static void remove_tmp(void)
{
    if (tsv_path[0] != '\0')
        unlink(tsv_path);
    if (lib_path[0] != '\0')
        unlink(lib_path);
}

static void make_temp(char *path, size_t cap, const char *dir, const char *what)
{
    snprintf(path, cap, "%s/specmatch-fuzz-controls-%s-XXXXXX", dir, what);
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("fuzz_controls: mkstemp");
        abort();
    }
    close(fd);
}

static void temp_files(void)
{
    if (tsv_path[0] != '\0')
        return;
    const char *dir = getenv("TMPDIR");
    if (dir == NULL || dir[0] == '\0')
        dir = "/tmp";
    make_temp(tsv_path, sizeof tsv_path, dir, "tsv");
    make_temp(lib_path, sizeof lib_path, dir, "lib");
    atexit(remove_tmp);
}

static int write_input(const char *path, const uint8_t *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    if (fp == NULL)
        return -1;
    int ok = n == 0 || fwrite(data, 1, n, fp) == n;
    if (fclose(fp) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

static void check_error(sm_status st, const sm_error *err)
{
    SM_FUZZ_CHECK(err->status == st);
    SM_FUZZ_CHECK(memchr(err->message, '\0', sizeof err->message) != NULL);
    SM_FUZZ_CHECK(memchr(err->file, '\0', sizeof err->file) != NULL);
    SM_FUZZ_CHECK(err->message[0] != '\0');
}

/* ------------------------------------------------------------------ */
/* What the input says, found without the reader                       */

/* Lines as the reader counts them ('\n' ends one; a last line without it counts) and
 * the longest one in bytes ('\r' included). */
static void count_lines(const uint8_t *d, size_t n, size_t *lines, size_t *longest)
{
    size_t len = 0;
    *lines = *longest = 0;
    for (size_t i = 0; i < n; i++) {
        if (d[i] == '\n') {
            ++*lines;
            len = 0;
            continue;
        }
        if (++len > *longest)
            *longest = len;
    }
    if (n > 0 && d[n - 1] != '\n')
        ++*lines;
}

/* The row whose first cell is key in an accepted table: its cells (pointers into the
 * input, with lengths; a missing 11th cell is empty). Only data rows can match: the
 * lines before the header are blank or comments, and the header's first cell is
 * "key", which is no spectrum's key. Returns whether there is one. */
static int find_row(const uint8_t *d, size_t n, const char *key, const uint8_t *cell[N_CELLS],
                    size_t cell_len[N_CELLS])
{
    size_t kl = strlen(key);
    for (size_t start = 0; start < n;) {
        const uint8_t *nl = memchr(d + start, '\n', n - start);
        size_t end = nl ? (size_t)(nl - d) : n, len = end - start;
        const uint8_t *s = d + start;
        while (len > 0 && s[len - 1] == '\r')
            len--;
        if (len > kl && memcmp(s, key, kl) == 0 && s[kl] == '\t') {
            size_t k = 0, a = 0;
            for (size_t j = 0; j <= len; j++) {
                if (j == len || s[j] == '\t') {
                    SM_FUZZ_CHECK(k < N_CELLS); /* the reader accepted the row */
                    cell[k] = s + a;
                    cell_len[k++] = j - a;
                    a = j + 1;
                }
            }
            SM_FUZZ_CHECK(k == N_CELLS || k == N_CELLS - 1);
            if (k == N_CELLS - 1) {
                cell[k] = s + len;
                cell_len[k] = 0;
            }
            return 1;
        }
        start = end + 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* The library built with the table                                    */

static int is_class(const char *s)
{
    static const char *const classes[] = {
        "fentanyl-analogue", "fentanyl-precursor", "fentanyl-metabolite",
        "internal-standard", "other-opioid",       "other",
    };
    for (size_t k = 0; k < sizeof classes / sizeof classes[0]; k++)
        if (strcmp(s, classes[k]) == 0)
            return 1;
    return 0;
}

static void check_summary(const sm_library *lib, size_t i)
{
    /* a summary repeats a few cells of one row (at most SM_MAX_LINE bytes), with ", "
     * for each '+' of a schedule list: under 3 SM_MAX_LINE */
    static char big[4 * SM_MAX_LINE];
    char small[12];
    memset(small, 'x', sizeof small);
    size_t nb = sm_library_control_summary(lib, i, big, sizeof big);
    size_t ns = sm_library_control_summary(lib, i, small, 8);
    SM_FUZZ_CHECK(nb < sizeof big && strlen(big) == nb);
    SM_FUZZ_CHECK(ns == nb);
    SM_FUZZ_CHECK(memchr(small, '\0', 8) != NULL);
    SM_FUZZ_CHECK(small[8] == 'x'); /* nothing written past cap */
    size_t sl = strlen(small);
    SM_FUZZ_CHECK(sl == (nb < 7 ? nb : 7) && memcmp(small, big, sl) == 0);
    SM_FUZZ_CHECK(sm_library_control_summary(lib, i, NULL, 0) == nb);
    small[0] = 'x';
    SM_FUZZ_CHECK(sm_library_control_summary(lib, i, small, 1) == nb && small[0] == '\0');
    SM_FUZZ_CHECK(nb > 0);

    int listed = sm_library_control_listed(lib, i);
    int scheduled = sm_library_control_scheduled(lib, i);
    SM_FUZZ_CHECK(listed || !scheduled);
    if (!listed)
        SM_FUZZ_CHECK(strcmp(big, "not listed in the table's sources") == 0);
    SM_FUZZ_CHECK(scheduled == (strncmp(big, "SCHEDULED: ", 11) == 0));
}

static void check_library(const char *path, unsigned flags, const uint8_t *data, size_t size,
                          const char *sha256_hex)
{
    sm_library *lib = (sm_library *)1;
    sm_error err;
    memset(&err, 0, sizeof err);
    sm_status st = sm_library_open_ex(path, flags, &lib, &err);
    if (st == SM_ERR_NOMEM) {
        SM_FUZZ_CHECK(lib == NULL);
        check_error(st, &err);
        return;
    }
    if (st != SM_OK)
        fprintf(stderr, "fuzz_controls: opening the library: %s: %s\n", sm_status_str(st),
                err.message);
    SM_FUZZ_CHECK(st == SM_OK);
    SM_FUZZ_CHECK(sm_library_size(lib) == N_SPECTRA);

    const char *source = NULL, *sha = NULL;
    SM_FUZZ_CHECK(sm_library_has_controls(lib, &source, &sha));
    SM_FUZZ_CHECK(source != NULL && sha != NULL);
    const char *base = strrchr(tsv_path, '/');
    SM_FUZZ_CHECK(strcmp(source, base ? base + 1 : tsv_path) == 0);
    SM_FUZZ_CHECK(strcmp(sha, sha256_hex) == 0);

    for (size_t i = 0; i < N_SPECTRA; i++) {
        const uint8_t *cell[N_CELLS];
        size_t cell_len[N_CELLS];
        int has_row = find_row(data, size, spectrum_key[i], cell, cell_len);
        for (int f = 0; f < SM_CONTROL_COUNT; f++) {
            const char *v = sm_library_control(lib, i, (sm_control_field)f);
            SM_FUZZ_CHECK(v != NULL);
            size_t l = strlen(v);
            SM_FUZZ_CHECK(l <= SM_MAX_LINE);
            SM_FUZZ_CHECK(memchr(v, '\t', l) == NULL && memchr(v, '\n', l) == NULL);
            if (has_row)
                SM_FUZZ_CHECK(l == cell_len[FIRST_CONTROL + f] &&
                              memcmp(v, cell[FIRST_CONTROL + f], l) == 0);
            else
                SM_FUZZ_CHECK(l == 0);
        }
        const char *cls = sm_library_control(lib, i, SM_CONTROL_CLASS);
        SM_FUZZ_CHECK(sm_library_control_listed(lib, i) == (cls[0] != '\0'));
        SM_FUZZ_CHECK(sm_library_control_listed(lib, i) == has_row);
        if (has_row)
            SM_FUZZ_CHECK(is_class(cls));
        const char *incb = sm_library_control(lib, i, SM_CONTROL_INCB_FRS);
        SM_FUZZ_CHECK(incb[0] == '\0' || strcmp(incb, "yes") == 0 || strcmp(incb, "no") == 0);
        SM_FUZZ_CHECK(sm_library_control(lib, i, SM_CONTROL_COUNT)[0] == '\0');
        check_summary(lib, i);
    }
    SM_FUZZ_CHECK(sm_library_control(lib, N_SPECTRA, SM_CONTROL_CLASS)[0] == '\0');
    SM_FUZZ_CHECK(!sm_library_control_listed(lib, N_SPECTRA));
    char out[4] = "abc";
    SM_FUZZ_CHECK(sm_library_control_summary(lib, N_SPECTRA, out, sizeof out) == 0 &&
                  out[0] == '\0');
    sm_library_close(lib);
}

/* Three tiny spectra: the join's three kinds of key. Returns whether they and their
 * source were added (only running out of memory stops it). */
static int add_spectra(sm_builder *b)
{
    static sm_peak peaks[N_SPECTRA][3] = {
        {{105, 250}, {189, 300}, {245, 999}},
        {{105, 200}, {194, 280}, {250, 999}},
        {{82, 400}, {150, 300}, {175, 999}},
    };
    static char *const name[N_SPECTRA] = {"Fentanyl", "Fentanyl-d5", "Norfentanyl"};
    static char *const inchikey[N_SPECTRA] = {"PJMPHNIQZUBGLI-UHFFFAOYSA-N",
                                              "PJMPHNIQZUBGLI-UHFFFAOYSA-N", NULL};
    static char *const formula[N_SPECTRA] = {"C22H28N2O", "C22H23D5N2O", "C14H20N2O"};
    for (size_t i = 0; i < N_SPECTRA; i++) {
        sm_spectrum s;
        sm_spectrum_init(&s);
        s.field[SM_FIELD_NAME] = name[i];
        s.field[SM_FIELD_INCHIKEY] = inchikey[i];
        s.field[SM_FIELD_FORMULA] = formula[i];
        s.peaks = peaks[i];
        s.n_peaks = s.cap_peaks = 3;
        s.line = 1;
        sm_error err;
        memset(&err, 0, sizeof err);
        sm_status st = sm_builder_add(b, &s, &err);
        if (st == SM_ERR_NOMEM)
            return 0;
        SM_FUZZ_CHECK(st == SM_OK);
        /* the spectrum is not the builder's: nothing to clear (the fields are static) */
    }
    /* A library needs the spectra's source (the open refuses a spectrum that names
     * none): any readable file will do; the input is one. */
    sm_error err;
    memset(&err, 0, sizeof err);
    sm_status st = sm_builder_add_source(b, tsv_path, N_SPECTRA, &err);
    SM_FUZZ_CHECK(st == SM_OK || st == SM_ERR_NOMEM);
    return st == SM_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    temp_files();
    if (write_input(tsv_path, data, size) != 0) {
        perror("fuzz_controls: writing the temporary file");
        abort();
    }
    size_t lines = 0, longest = 0;
    count_lines(data, size, &lines, &longest);

    sm_builder *b = NULL;
    sm_error err;
    memset(&err, 0, sizeof err);
    if (sm_builder_new(&b, &err) != SM_OK)
        return 0;
    memset(&err, 0, sizeof err);
    sm_status st = sm_builder_set_controls(b, tsv_path, &err);
    if (st != SM_OK) {
        check_error(st, &err);
        SM_FUZZ_CHECK(st == SM_ERR_PARSE || st == SM_ERR_LIMIT || st == SM_ERR_NOMEM);
        SM_FUZZ_CHECK(strcmp(err.file, tsv_path) == 0);
        if (st != SM_ERR_NOMEM) {
            SM_FUZZ_CHECK(err.line <= lines);
            SM_FUZZ_CHECK(err.line > 0 || size == 0);
        }
        if (st == SM_ERR_LIMIT)
            SM_FUZZ_CHECK(longest > SM_MAX_LINE);
        sm_builder_free(b);
        return 0;
    }
    SM_FUZZ_CHECK(longest <= SM_MAX_LINE);
    SM_FUZZ_CHECK(size > 0); /* an empty input has no header */

    /* Accepted: join it to the spectra, write, open, look. */
    if (!add_spectra(b)) {
        sm_builder_free(b);
        return 0;
    }
    memset(&err, 0, sizeof err);
    st = sm_builder_write(b, lib_path, &err);
    sm_builder_free(b);
    if (st == SM_ERR_NOMEM) {
        check_error(st, &err);
        return 0;
    }
    if (st != SM_OK)
        fprintf(stderr, "fuzz_controls: writing the library: %s: %s\n", sm_status_str(st),
                err.message);
    SM_FUZZ_CHECK(st == SM_OK);

    sm_sha256 c;
    uint8_t digest[32];
    char hex[65];
    sm_sha256_init_(&c);
    sm_sha256_update_(&c, data, size);
    sm_sha256_final_(&c, digest);
    sm_hex_(digest, sizeof digest, hex);

    check_library(lib_path, 0, data, size, hex);
    check_library(lib_path, SM_OPEN_SEARCH_ONLY, data, size, hex);
    return 0;
}
