/* test_h5.c — the HDF5 library file: bit-exact round trips, checksum, version and damage handling. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>
#include <zlib.h>

#include "sm_internal.h"
#include "test_common.h"

static char tmpdir[64];

static int setup_dir(void **state)
{
    (void)state;
    return temp_dir_make(tmpdir, sizeof tmpdir, "specmatch-h5");
}

static int teardown_dir(void **state)
{
    (void)state;
    return temp_dir_remove(tmpdir);
}

static const char *tmp(const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

/* ------------------------------------------------------------------ */
/* A small library built by hand                                       */

static void *dup_mem(const void *p, size_t n)
{
    void *q = malloc(n > 0 ? n : 1);
    assert_non_null(q);
    if (n > 0)
        memcpy(q, p, n);
    return q;
}

static char *dup_str(const char *s)
{
    return dup_mem(s, strlen(s) + 1);
}

/* Fills a column the way sm_internal.h lays it out: NUL after each string. */
static void set_col(sm_strcol *c, const char *const *v, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += strlen(v[i]);
    c->off = malloc((n + 1) * sizeof *c->off);
    c->data = malloc(total + n + 1);
    assert_non_null(c->off);
    assert_non_null(c->data);
    c->off[0] = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(v[i]);
        c->off[i + 1] = c->off[i] + l;
        memcpy(c->data + c->off[i] + i, v[i], l + 1);
    }
    c->len = c->cap = total + n;
}

static void fill_common(sm_library *lib)
{
    lib->fmt_major = SM_FORMAT_MAJOR;
    lib->fmt_minor = SM_FORMAT_MINOR;
    lib->mz_round_boundary = SM_MZ_ROUND_BOUNDARY;
    lib->base_peak = SM_BASE_PEAK;
    lib->tool_version = dup_str("specmatch 0.1.0 (test)");
    lib->created = dup_str("2024-05-17T09:30:00Z");
}

/* Benzene, toluene, ethanol and one anonymous spectrum without metadata. */
static void make_lib(sm_library *lib)
{
    memset(lib, 0, sizeof *lib);
    enum { N = 4 };
    static const double mz[] = {
        /* benzene */ 50.0156, 51.0235, 52.0313, 77.0391, 78.0469, 79.0503,
        /* toluene */ 39.0235, 65.0391, 91.0548, 92.0626,
        /* ethanol */ 27.0235, 29.0391, 31.0184, 45.0340, 46.0419,
        /* unknown */ 43.0, 57.1, 71.649999999999991,
    };
    static const double in[] = {
        155.0, 188.5, 23.25, 140.0, 999.0, 66.0,
        40.0, 60.0, 1000.0, 610.0,
        245.0, 231.0, 1000.0, 341.0, 178.0,
        1e-3, 7.5e6, 0.1,
    };
    static const uint64_t poff[N + 1] = {0, 6, 10, 15, 18};
    static const uint16_t nmz[] = {50, 51, 52, 77, 78, 79, 39, 65, 91, 92,
                                   27, 29, 31, 45, 46, 43, 57, 72};
    static const uint16_t nint[] = {155, 188, 23, 140, 999, 66, 40, 60, 999, 609,
                                    245, 231, 999, 341, 178, 1, 999, 1};
    static const uint64_t noff[N + 1] = {0, 6, 10, 15, 18};

    fill_common(lib);
    lib->n = lib->cap_n = N;
    lib->n_peaks = lib->cap_peaks = sizeof mz / sizeof mz[0];
    lib->peak_off = dup_mem(poff, sizeof poff);
    lib->peak_mz = dup_mem(mz, sizeof mz);
    lib->peak_int = dup_mem(in, sizeof in);
    lib->n_nom = lib->cap_nom = sizeof nmz / sizeof nmz[0];
    lib->nom_off = dup_mem(noff, sizeof noff);
    lib->nom_mz = dup_mem(nmz, sizeof nmz);
    lib->nom_int = dup_mem(nint, sizeof nint);

    const char *names[N] = {"Benzene", "Toluene", "Ethanol", ""};
    const char *syn[N] = {"Benzol\nCyclohexatriene", "Methylbenzene\nToluol", "", ""};
    const char *ikey[N] = {"UHOVQNZJYSORNB-UHFFFAOYSA-N", "YXFVVABEGXRONW-UHFFFAOYSA-N",
                           "LFQSCWFLJHTTHZ-UHFFFAOYSA-N", ""};
    const char *formula[N] = {"C6H6", "C7H8", "C2H6O", ""};
    const char *cas[N] = {"71-43-2", "108-88-3", "64-17-5", ""};
    const char *id[N] = {"1", "2", "3", "4"};
    const char *comment[N] = {"", "caf\xc3\xa9 \xce\xb1-test; \"quoted\"", "", ""};
    const char *license[N] = {"CC0-1.0", "CC0-1.0", "CC-BY-4.0", ""};
    set_col(&lib->col[SM_FIELD_NAME], names, N);
    set_col(&lib->col[SM_FIELD_SYNONYMS], syn, N);
    set_col(&lib->col[SM_FIELD_INCHIKEY], ikey, N);
    set_col(&lib->col[SM_FIELD_FORMULA], formula, N);
    set_col(&lib->col[SM_FIELD_CAS], cas, N);
    set_col(&lib->col[SM_FIELD_ID], id, N);
    set_col(&lib->col[SM_FIELD_COMMENT], comment, N);
    set_col(&lib->col[SM_FIELD_LICENSE], license, N);

    const double mw[N] = {78.0, 92.0, 46.0, NAN};
    const double em[N] = {78.04695, NAN, 46.041865, NAN};
    const uint32_t si[N] = {0, 0, 1, UINT32_MAX};
    lib->mw = dup_mem(mw, sizeof mw);
    lib->exact_mass = dup_mem(em, sizeof em);
    lib->source_index = dup_mem(si, sizeof si);

    lib->n_sources = lib->cap_sources = 2;
    lib->source_path = malloc(2 * sizeof *lib->source_path);
    lib->source_sha256 = malloc(2 * sizeof *lib->source_sha256);
    assert_non_null(lib->source_path);
    assert_non_null(lib->source_sha256);
    lib->source_path[0] = dup_str("spectra/aromatics.msp");
    lib->source_path[1] = dup_str("spectra/alcohols.msp");
    lib->source_sha256[0] = dup_str("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    lib->source_sha256[1] = dup_str("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const uint64_t sc[2] = {2, 1};
    lib->source_count = dup_mem(sc, sizeof sc);

    sm_content_checksum_(lib, lib->checksum);
}

static void make_empty_lib(sm_library *lib)
{
    memset(lib, 0, sizeof *lib);
    fill_common(lib);
    const uint64_t zero = 0;
    lib->peak_off = dup_mem(&zero, sizeof zero);
    lib->nom_off = dup_mem(&zero, sizeof zero);
    for (int f = 0; f < SM_FIELD_COUNT; f++)
        set_col(&lib->col[f], NULL, 0);
    sm_content_checksum_(lib, lib->checksum);
}

static void assert_mem(const void *a, const void *b, size_t n)
{
    if (n == 0)
        return;
    assert_non_null(a);
    assert_non_null(b);
    assert_memory_equal(a, b, n);
}

/* Bit-for-bit equality of everything the file carries. */
static void assert_lib_equal(const sm_library *a, const sm_library *b)
{
    size_t n = a->n;
    assert_int_equal(a->n, b->n);
    assert_int_equal(b->cap_n, b->n);
    assert_int_equal(a->n_peaks, b->n_peaks);
    assert_int_equal(b->cap_peaks, b->n_peaks);
    assert_int_equal(a->n_nom, b->n_nom);
    assert_int_equal(b->cap_nom, b->n_nom);
    assert_mem(a->peak_off, b->peak_off, (n + 1) * sizeof(uint64_t));
    assert_mem(a->peak_mz, b->peak_mz, a->n_peaks * sizeof(double));
    assert_mem(a->peak_int, b->peak_int, a->n_peaks * sizeof(double));
    assert_mem(a->nom_off, b->nom_off, (n + 1) * sizeof(uint64_t));
    assert_mem(a->nom_mz, b->nom_mz, a->n_nom * sizeof(uint16_t));
    assert_mem(a->nom_int, b->nom_int, a->n_nom * sizeof(uint16_t));
    for (int f = 0; f < SM_FIELD_COUNT; f++) {
        assert_int_equal(a->col[f].len, b->col[f].len);
        assert_int_equal(b->col[f].cap, b->col[f].len);
        assert_mem(a->col[f].off, b->col[f].off, (n + 1) * sizeof(uint64_t));
        assert_mem(a->col[f].data, b->col[f].data, a->col[f].len);
        for (size_t i = 0; i < n; i++)
            assert_string_equal(sm_strcol_get_(&a->col[f], i), sm_strcol_get_(&b->col[f], i));
    }
    /* memcmp, not ==: NAN must come back as the same NAN. */
    assert_mem(a->mw, b->mw, n * sizeof(double));
    assert_mem(a->exact_mass, b->exact_mass, n * sizeof(double));
    assert_mem(a->source_index, b->source_index, n * sizeof(uint32_t));
    assert_int_equal(a->n_sources, b->n_sources);
    assert_int_equal(b->cap_sources, b->n_sources);
    for (size_t j = 0; j < a->n_sources; j++) {
        assert_string_equal(a->source_path[j], b->source_path[j]);
        assert_string_equal(a->source_sha256[j], b->source_sha256[j]);
    }
    assert_mem(a->source_count, b->source_count, a->n_sources * sizeof(uint64_t));
    assert_int_equal(a->fmt_major, b->fmt_major);
    assert_int_equal(a->fmt_minor, b->fmt_minor);
    assert_memory_equal(&a->mz_round_boundary, &b->mz_round_boundary, sizeof(double));
    assert_int_equal(a->base_peak, b->base_peak);
    assert_string_equal(a->tool_version, b->tool_version);
    assert_string_equal(a->created, b->created);
    assert_string_equal(a->checksum, b->checksum);
}

static sm_error fresh_err(void)
{
    sm_error e;
    memset(&e, 0, sizeof e);
    return e;
}

/* Reads a file that must be refused, checks status, file name and that nothing leaked
 * into the struct. */
static void expect_read_error_ex(const char *path, unsigned flags, sm_status want,
                                 const char *needle)
{
    sm_library lib;
    sm_error err = fresh_err();
    sm_library zero;
    memset(&zero, 0, sizeof zero);
    sm_status st = sm_h5_read_(path, &lib, flags, &err);
    if (st != want || (needle != NULL && strstr(err.message, needle) == NULL))
        print_error("%s: got %d (%s), wanted %d with '%s'\n", path, (int)st, err.message,
                    (int)want, needle != NULL ? needle : "");
    assert_int_equal(st, want);
    assert_int_equal(err.status, want);
    assert_string_equal(err.file, path);
    assert_true(err.message[0] != '\0');
    if (needle != NULL)
        assert_non_null(strstr(err.message, needle));
    assert_memory_equal(&lib, &zero, sizeof lib);
}

static void expect_read_error(const char *path, sm_status want, const char *needle)
{
    expect_read_error_ex(path, 0, want, needle);
}

static void write_ok(const sm_library *lib, const char *path)
{
    sm_error err = fresh_err();
    sm_status st = sm_h5_write_(lib, path, &err);
    if (st != SM_OK)
        print_error("write %s: %s\n", path, err.message);
    assert_int_equal(st, SM_OK);
}

/* ------------------------------------------------------------------ */
/* Round trips                                                         */

static void test_roundtrip(void **state)
{
    (void)state;
    sm_library a, b;
    sm_error err = fresh_err();
    make_lib(&a);
    const char *p = tmp("full.h5");
    write_ok(&a, p);
    assert_int_equal(sm_h5_read_(p, &b, 0, &err), SM_OK);
    assert_lib_equal(&a, &b);
    /* Absent and empty strings both read back as "". */
    assert_string_equal(sm_strcol_get_(&b.col[SM_FIELD_NAME], 3), "");
    assert_string_equal(sm_strcol_get_(&b.col[SM_FIELD_SYNONYMS], 0), "Benzol\nCyclohexatriene");
    assert_true(isnan(b.mw[3]));
    assert_true(isnan(b.exact_mass[1]));

    /* Writing what was read gives the same content again. */
    write_ok(&b, tmp("again.h5"));
    sm_library c;
    assert_int_equal(sm_h5_read_(tmp("again.h5"), &c, 0, &err), SM_OK);
    assert_lib_equal(&a, &c);
    sm_library_free_contents_(&c);
    sm_library_free_contents_(&b);
    sm_library_free_contents_(&a);
}

static void test_roundtrip_empty(void **state)
{
    (void)state;
    sm_library a, b;
    sm_error err = fresh_err();
    make_empty_lib(&a);
    write_ok(&a, tmp("empty.h5"));
    assert_int_equal(sm_h5_read_(tmp("empty.h5"), &b, 0, &err), SM_OK);
    assert_lib_equal(&a, &b);
    assert_int_equal(b.n, 0);
    assert_non_null(b.peak_off);
    assert_int_equal(b.peak_off[0], 0);
    sm_library_free_contents_(&b);
    sm_library_free_contents_(&a);

    /* An empty library whose offset arrays were never allocated writes the same. */
    memset(&a, 0, sizeof a);
    fill_common(&a);
    sm_content_checksum_(&a, a.checksum);
    write_ok(&a, tmp("empty2.h5"));
    assert_int_equal(sm_h5_read_(tmp("empty2.h5"), &b, 0, &err), SM_OK);
    assert_string_equal(a.checksum, b.checksum);
    assert_int_equal(b.n, 0);
    sm_library_free_contents_(&b);
    sm_library_free_contents_(&a);
}

/* Spectra with no peaks and strings only in some rows: zero-length slices inside. */
static void test_roundtrip_sparse(void **state)
{
    (void)state;
    sm_library a, b;
    sm_error err = fresh_err();
    memset(&a, 0, sizeof a);
    fill_common(&a);
    a.n = a.cap_n = 2;
    const uint64_t off[3] = {0, 0, 0};
    a.peak_off = dup_mem(off, sizeof off);
    a.nom_off = dup_mem(off, sizeof off);
    const char *v[2] = {"", ""};
    for (int f = 0; f < SM_FIELD_COUNT; f++)
        set_col(&a.col[f], v, 2);
    const double nan2[2] = {NAN, NAN};
    const uint32_t si[2] = {UINT32_MAX, UINT32_MAX};
    a.mw = dup_mem(nan2, sizeof nan2);
    a.exact_mass = dup_mem(nan2, sizeof nan2);
    a.source_index = dup_mem(si, sizeof si);
    sm_content_checksum_(&a, a.checksum);
    write_ok(&a, tmp("sparse.h5"));
    assert_int_equal(sm_h5_read_(tmp("sparse.h5"), &b, 0, &err), SM_OK);
    assert_lib_equal(&a, &b);
    sm_library_free_contents_(&b);
    sm_library_free_contents_(&a);
}

/* ------------------------------------------------------------------ */
/* Checksum                                                            */

static void test_checksum_definition(void **state)
{
    (void)state;
    sm_library a;
    char c1[80], c2[80];
    make_lib(&a);
    sm_content_checksum_(&a, c1);
    assert_int_equal(strlen(c1), 7 + 64);
    assert_memory_equal(c1, "sha256:", 7);

    /* Provenance strings are not covered. */
    free(a.created);
    a.created = dup_str("1999-01-01T00:00:00Z");
    sm_content_checksum_(&a, c2);
    assert_string_equal(c1, c2);

    /* Content is: one ULP in one intensity changes it, and so does a parameter. */
    a.peak_int[3] = nextafter(a.peak_int[3], INFINITY);
    sm_content_checksum_(&a, c2);
    assert_string_not_equal(c1, c2);
    a.peak_int[3] = nextafter(a.peak_int[3], -INFINITY);
    a.fmt_minor++;
    sm_content_checksum_(&a, c2);
    assert_string_not_equal(c1, c2);
    a.fmt_minor--;
    /* Moving a byte between two source strings changes it (the NUL separators). */
    a.source_path[1][0] = 'S';
    sm_content_checksum_(&a, c2);
    assert_string_not_equal(c1, c2);
    sm_library_free_contents_(&a);

    /* Known value for the empty library: a change to the definition must be deliberate
     * (and documented in docs/FORMAT.md). Recompute it by hand from the definition. */
    sm_sha256 h;
    uint8_t d[32];
    uint8_t img[8 + 8 + 8 + SM_FIELD_COUNT * 8 + 8 + 4 + 4 + 8 + 4];
    size_t k = 0;
    memset(img, 0, sizeof img);
    k += 8;                       /* n = 0 */
    k += 8;                       /* peak offsets {0} */
    k += 8;                       /* nominal offsets {0} */
    k += SM_FIELD_COUNT * 8;      /* string offsets {0} each */
    k += 8;                       /* n_sources = 0 */
    img[k] = 1;                   /* fmt_major = 1, LE */
    k += 4;
    img[k] = SM_FORMAT_MINOR;     /* fmt_minor (1 since format 1.1), LE */
    k += 4;
    double bnd = SM_MZ_ROUND_BOUNDARY;
    uint64_t bits;
    memcpy(&bits, &bnd, 8);
    for (int i = 0; i < 8; i++)
        img[k + (size_t)i] = (uint8_t)(bits >> (8 * i));
    k += 8;
    img[k] = SM_BASE_PEAK & 0xff; /* 999 = 0x3e7 */
    img[k + 1] = SM_BASE_PEAK >> 8;
    k += 4;
    assert_int_equal(k, sizeof img);
    char want[80] = "sha256:";
    sm_sha256_init_(&h);
    sm_sha256_update_(&h, img, sizeof img);
    sm_sha256_final_(&h, d);
    sm_hex_(d, sizeof d, want + 7);
    make_empty_lib(&a);
    assert_string_equal(a.checksum, want);
    sm_library_free_contents_(&a);
}

static void test_wrong_checksum_attr(void **state)
{
    (void)state;
    sm_library a;
    make_lib(&a);
    a.checksum[20] = a.checksum[20] == '0' ? '1' : '0';
    write_ok(&a, tmp("badsum.h5"));
    expect_read_error(tmp("badsum.h5"), SM_ERR_CHECKSUM, "checksum");
    sm_library_free_contents_(&a);
}

/* ------------------------------------------------------------------ */
/* Editing written files with HDF5 directly                            */

/* Closes a file edited through HDF5 and rewrites its specmatch header, as if the
 * edit had been made by a writer that knows the format: what is left to catch is
 * then the reader's own checks, not the whole-file checksum. */
static void close_sealed(hid_t f)
{
    char name[1024];
    assert_true(H5Fget_name(f, name, sizeof name) > 0);
    assert_true(H5Fclose(f) >= 0);
    sm_error e;
    memset(&e, 0, sizeof e);
    assert_int_equal(sm_h5_seal_(name, &e), SM_OK);
}

static hid_t open_rw(const char *path)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    return f;
}

static void poke(const char *path, const char *dset, hsize_t index, hid_t mtype,
                 const void *val)
{
    hid_t f = open_rw(path);
    hid_t d = H5Dopen2(f, dset, H5P_DEFAULT);
    assert_true(d >= 0);
    hid_t fs = H5Dget_space(d);
    hsize_t one = 1;
    hid_t ms = H5Screate_simple(1, &one, NULL);
    assert_true(H5Sselect_hyperslab(fs, H5S_SELECT_SET, &index, NULL, &one, NULL) >= 0);
    assert_true(H5Dwrite(d, mtype, ms, fs, H5P_DEFAULT, val) >= 0);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    close_sealed(f);
}

static void written_copy(const char *name)
{
    sm_library a;
    make_lib(&a);
    write_ok(&a, tmp(name));
    sm_library_free_contents_(&a);
}

static void test_modified_content(void **state)
{
    (void)state;
    written_copy("mod.h5");
    double v = 998.0;
    poke(tmp("mod.h5"), "/peaks/intensity", 4, H5T_NATIVE_DOUBLE, &v);
    expect_read_error(tmp("mod.h5"), SM_ERR_CHECKSUM, "checksum");
}

/* Opened for search only, the peaks as read are still verified but not kept. */
static void test_search_only(void **state)
{
    (void)state;
    sm_library a, b;
    sm_error err = fresh_err();
    make_lib(&a);
    const char *p = tmp("searchonly.h5");
    write_ok(&a, p);
    assert_int_equal(sm_h5_read_(p, &b, SM_OPEN_SEARCH_ONLY, &err), SM_OK);
    assert_null(b.peak_mz);
    assert_null(b.peak_int);
    assert_int_equal(b.n_peaks, a.n_peaks);
    assert_string_equal(b.checksum, a.checksum);
    assert_int_equal(b.n_nom, a.n_nom);
    /* the spectra come packed from the file's index (format 1.2), /search verified */
    assert_null(b.nom_mz);
    assert_non_null(b.index);
    sm_nominal_buf nb;
    for (size_t i = 0; i < a.n; i++) {
        sm_nominal s = sm_library_nominal(&b, i, &nb);
        uint64_t o = a.nom_off[i];
        assert_int_equal(s.n, a.nom_off[i + 1] - o);
        assert_memory_equal(s.mz, a.nom_mz + o, s.n * sizeof *s.mz);
        assert_memory_equal(s.intensity, a.nom_int + o, s.n * sizeof *s.intensity);
    }
    /* the columns a search shows are kept, synonyms, comments and licences are not */
    assert_string_equal(sm_library_field(&b, 1, SM_FIELD_NAME), "Toluene");
    assert_string_equal(sm_library_field(&b, 1, SM_FIELD_CAS), "108-88-3");
    assert_string_equal(sm_library_field(&a, 1, SM_FIELD_COMMENT),
                        "caf\xc3\xa9 \xce\xb1-test; \"quoted\"");
    assert_string_equal(sm_library_field(&b, 1, SM_FIELD_COMMENT), "");
    assert_string_equal(sm_library_field(&b, 0, SM_FIELD_SYNONYMS), "");
    assert_string_equal(sm_library_field(&b, 0, SM_FIELD_LICENSE), "");
    sm_library_free_contents_(&b);
    sm_library_free_contents_(&a);

    /* a change in a comment it does not keep is still caught */
    written_copy("searchonly-comment.h5");
    unsigned char z = 'X';
    poke(tmp("searchonly-comment.h5"), "/compounds/comment/data", 0, H5T_NATIVE_UCHAR, &z);
    sm_library d;
    err = fresh_err();
    assert_int_equal(sm_h5_read_(tmp("searchonly-comment.h5"), &d, SM_OPEN_SEARCH_ONLY, &err),
                     SM_ERR_CHECKSUM);

    /* a change in the peaks it does not keep is still caught */
    written_copy("searchonly-mod.h5");
    double v = 998.0;
    poke(tmp("searchonly-mod.h5"), "/peaks/mz", 2, H5T_NATIVE_DOUBLE, &v);
    sm_library c;
    err = fresh_err();
    assert_int_equal(sm_h5_read_(tmp("searchonly-mod.h5"), &c, SM_OPEN_SEARCH_ONLY, &err),
                     SM_ERR_CHECKSUM);
    assert_non_null(strstr(err.message, "checksum"));
}

/* Format 1.2: the writer stores the search index in /index; a reader that opens the
 * file for searching reads it (checked, and against its own checksum) instead of
 * building it, and builds one when the file's is missing or of another version. */
static void set_index_version(const char *path, uint32_t v)
{
    hid_t f = open_rw(path);
    hid_t g = H5Gopen2(f, "index", H5P_DEFAULT);
    assert_true(g >= 0);
    hid_t a = H5Aopen(g, "version", H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Awrite(a, H5T_NATIVE_UINT32, &v) >= 0);
    H5Aclose(a);
    H5Gclose(g);
    close_sealed(f);
}

static void read_search_only(const char *path, bool indexed, int in_file)
{
    sm_library b;
    sm_error err = fresh_err();
    assert_int_equal(sm_h5_read_(path, &b, SM_OPEN_SEARCH_ONLY, &err), SM_OK);
    assert_int_equal(b.index_stored, indexed);
    sm_library_info info;
    sm_library_get_info(&b, &info);
    assert_int_equal(info.stored_index, in_file);
    assert_int_equal(info.index_block, in_file != 0 ? SM_INDEX_BLOCK_SMALL : 0);
    if (indexed) {
        assert_non_null(b.index);
        assert_non_null(b.nom_w);
    } else {
        assert_null(b.index);
        assert_non_null(b.nom_mz);
    }
    sm_library_free_contents_(&b);
}

static void test_stored_index(void **state)
{
    (void)state;
    written_copy("ix.h5");
    read_search_only(tmp("ix.h5"), true, 1);
    sm_library b;
    sm_error err = fresh_err();
    assert_int_equal(sm_h5_read_(tmp("ix.h5"), &b, 0, &err), SM_OK);
    assert_null(b.index); /* a full read keeps /search as it is */
    sm_library_info info;
    sm_library_get_info(&b, &info);
    assert_int_equal(info.stored_index, 1); /* and knows the file has an index */
    sm_library_free_contents_(&b);

    /* an envelope byte changed and the file resealed: the index's checksum */
    written_copy("ix-env.h5");
    unsigned char v = 77;
    poke(tmp("ix-env.h5"), "/index/envelopes", 0, H5T_NATIVE_UCHAR, &v);
    expect_read_error_ex(tmp("ix-env.h5"), SM_OPEN_SEARCH_ONLY, SM_ERR_CHECKSUM,
                         "library index does not match its checksum");
    /* a packed word changed: the same */
    written_copy("ix-word.h5");
    uint16_t wd = 0x0400 | 500;
    poke(tmp("ix-word.h5"), "/index/words", 1, H5T_NATIVE_UINT16, &wd);
    expect_read_error_ex(tmp("ix-word.h5"), SM_OPEN_SEARCH_ONLY, SM_ERR_CHECKSUM,
                         "library index does not match its checksum");
    /* an ordering that names a spectrum twice is refused before anything reads it */
    written_copy("ix-order.h5");
    uint32_t o = 0;
    poke(tmp("ix-order.h5"), "/index/order", 0, H5T_NATIVE_UINT32, &o);
    poke(tmp("ix-order.h5"), "/index/order", 1, H5T_NATIVE_UINT32, &o);
    expect_read_error_ex(tmp("ix-order.h5"), SM_OPEN_SEARCH_ONLY, SM_ERR_FORMAT,
                         "dataset /index/order is not an ordering of the 4 spectra");
    /* a row past the last m/z (the four spectra end at m/z 92) */
    written_copy("ix-dense.h5");
    uint16_t big = 4000;
    poke(tmp("ix-dense.h5"), "/index/dense_mz", 0, H5T_NATIVE_UINT16, &big);
    expect_read_error_ex(tmp("ix-dense.h5"), SM_OPEN_SEARCH_ONLY, SM_ERR_FORMAT,
                         "dataset /index/dense_mz is not ascending within 0..92");
    /* a value that is no bound */
    written_copy("ix-nan.h5");
    float nan = NAN;
    poke(tmp("ix-nan.h5"), "/index/ratio", 0, H5T_NATIVE_FLOAT, &nan);
    expect_read_error_ex(tmp("ix-nan.h5"), SM_OPEN_SEARCH_ONLY, SM_ERR_FORMAT,
                         "dataset /index/ratio holds a value that is not a number >= 0");

    /* an index of another version is not used: the library is indexed at open */
    written_copy("ix-v9.h5");
    set_index_version(tmp("ix-v9.h5"), 9);
    read_search_only(tmp("ix-v9.h5"), false, -1);
    /* nor is a file without one (format 1.1) refused */
    written_copy("ix-none.h5");
    hid_t f = open_rw(tmp("ix-none.h5"));
    assert_true(H5Ldelete(f, "index", H5P_DEFAULT) >= 0);
    close_sealed(f);
    read_search_only(tmp("ix-none.h5"), false, 0);
    /* and opened for a search, both give the same index as the file's */
    sm_library *x = NULL, *y = NULL;
    err = fresh_err();
    assert_int_equal(sm_library_open_ex(tmp("ix.h5"), SM_OPEN_SEARCH_ONLY, &x, &err), SM_OK);
    assert_int_equal(sm_library_open_ex(tmp("ix-none.h5"), SM_OPEN_SEARCH_ONLY, &y, &err),
                     SM_OK);
    assert_int_equal(x->n_words, y->n_words);
    assert_memory_equal(x->nom_w, y->nom_w, x->n_words * sizeof *x->nom_w);
    assert_memory_equal(x->index->order, y->index->order, x->n * sizeof *x->index->order);
    sm_library_close(x);
    sm_library_close(y);
}

/* A column of n strings built the way the reader builds it (offsets without the
 * NULs, a NUL after each string); nul_at >= 0 puts a NUL inside string nul_at. */
static void make_strcol(sm_strcol *c, size_t n, long nul_at)
{
    memset(c, 0, sizeof *c);
    c->off = malloc((n + 1) * sizeof *c->off);
    c->data = malloc(n * 8 + 1);
    assert_non_null(c->off);
    assert_non_null(c->data);
    c->off[0] = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = i % 5; /* lengths 0..4, empty strings included */
        for (size_t k = 0; k < l; k++)
            c->data[c->off[i] + i + k] = (char)('a' + (i + k) % 26);
        if ((long)i == nul_at && l >= 2)
            c->data[c->off[i] + i + 1] = '\0';
        c->data[c->off[i] + i + l] = '\0';
        c->off[i + 1] = c->off[i] + l;
    }
    c->len = c->cap = c->off[n] + n;
}

/* Offsets of a search-only library: one per 16 strings, the rest found by walking. */
static void test_sparse_strings(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 15, 16, 17, 33, 100};
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        size_t n = sizes[t];
        sm_strcol full, sparse;
        make_strcol(&full, n, -1);
        make_strcol(&sparse, n, -1);
        sm_strcol_compact_(&sparse, n);
        assert_null(sparse.off);
        assert_non_null(sparse.sparse);
        for (size_t i = 0; i < n; i++)
            assert_string_equal(sm_strcol_get_(&sparse, i), sm_strcol_get_(&full, i));
        free(full.off);
        free(full.data);
        free(sparse.sparse);
        free(sparse.data);
    }
    /* a NUL inside a string: walking would go astray, so the offsets stay */
    sm_strcol c;
    make_strcol(&c, 40, 22);
    sm_strcol_compact_(&c, 40);
    assert_non_null(c.off);
    assert_null(c.sparse);
    assert_string_equal(sm_strcol_get_(&c, 23), "xyz");
    free(c.off);
    free(c.data);
    /* a column that was not kept reads as "" */
    sm_strcol none = {0};
    sm_strcol_compact_(&none, 10);
    assert_string_equal(sm_strcol_get_(&none, 3), "");
}

/* Found by fuzzing: a dataset declared far larger than what the file stores made
 * the reader allocate (and HDF5 fill) gigabytes. Refused before allocating. */
static void grow_dataset(const char *path, const char *dset, hsize_t n)
{
    hid_t f = open_rw(path);
    hid_t d = H5Dopen2(f, dset, H5P_DEFAULT);
    assert_true(d >= 0);
    assert_true(H5Dset_extent(d, &n) >= 0);
    H5Dclose(d);
    close_sealed(f);
}

static void test_declared_too_large(void **state)
{
    (void)state;
    written_copy("huge-off.h5");
    grow_dataset(tmp("huge-off.h5"), "/peaks/offsets", (hsize_t)1 << 28);
    expect_read_error(tmp("huge-off.h5"), SM_ERR_FORMAT, "declares 268435456 elements");

    written_copy("huge-mz.h5");
    grow_dataset(tmp("huge-mz.h5"), "/peaks/mz", (hsize_t)1 << 30);
    sm_library lib;
    sm_error err = fresh_err();
    assert_int_equal(sm_h5_read_(tmp("huge-mz.h5"), &lib, SM_OPEN_SEARCH_ONLY, &err),
                     SM_ERR_FORMAT);
    assert_non_null(strstr(err.message, "declares"));
}

static void test_bad_offsets(void **state)
{
    (void)state;
    uint64_t big = (uint64_t)1 << 40;
    written_copy("off.h5");
    poke(tmp("off.h5"), "/search/offsets", 2, H5T_NATIVE_UINT64, &big);
    expect_read_error(tmp("off.h5"), SM_ERR_FORMAT, "/search/offsets");

    uint64_t back = 3; /* offsets 0, 6, 3: decreasing */
    written_copy("off2.h5");
    poke(tmp("off2.h5"), "/compounds/cas/offsets", 2, H5T_NATIVE_UINT64, &back);
    expect_read_error(tmp("off2.h5"), SM_ERR_FORMAT, "/compounds/cas/offsets");

    uint64_t last = 17; /* last offset short of the data length */
    written_copy("off3.h5");
    poke(tmp("off3.h5"), "/peaks/offsets", 4, H5T_NATIVE_UINT64, &last);
    expect_read_error(tmp("off3.h5"), SM_ERR_FORMAT, "/peaks/offsets");
}

static void test_bad_nominal(void **state)
{
    (void)state;
    uint16_t mz = 50; /* benzene 50, 51, 50: not ascending */
    written_copy("nom.h5");
    poke(tmp("nom.h5"), "/search/mz", 2, H5T_NATIVE_UINT16, &mz);
    expect_read_error(tmp("nom.h5"), SM_ERR_FORMAT, "/search/mz");

    uint16_t zero = 0;
    written_copy("nom2.h5");
    poke(tmp("nom2.h5"), "/search/intensity", 7, H5T_NATIVE_UINT16, &zero);
    expect_read_error(tmp("nom2.h5"), SM_ERR_FORMAT, "/search/intensity");

    uint16_t big = 1000;
    written_copy("nom3.h5");
    poke(tmp("nom3.h5"), "/search/intensity", 0, H5T_NATIVE_UINT16, &big);
    expect_read_error(tmp("nom3.h5"), SM_ERR_FORMAT, "/search/intensity");

    uint32_t src = 7; /* only 2 sources */
    written_copy("src.h5");
    poke(tmp("src.h5"), "/compounds/source_index", 1, H5T_NATIVE_UINT32, &src);
    expect_read_error(tmp("src.h5"), SM_ERR_FORMAT, "/compounds/source_index");

    uint8_t nul = 0;
    written_copy("nul.h5");
    poke(tmp("nul.h5"), "/compounds/name/data", 1, H5T_NATIVE_UINT8, &nul);
    expect_read_error(tmp("nul.h5"), SM_ERR_FORMAT, "/compounds/name/data");
}

static void test_missing_dataset(void **state)
{
    (void)state;
    written_copy("miss.h5");
    hid_t f = open_rw(tmp("miss.h5"));
    assert_true(H5Ldelete(f, "/compounds/cas/data", H5P_DEFAULT) >= 0);
    close_sealed(f);
    expect_read_error(tmp("miss.h5"), SM_ERR_FORMAT, "/compounds/cas/data");

    written_copy("miss2.h5");
    f = open_rw(tmp("miss2.h5"));
    assert_true(H5Ldelete(f, "/sources", H5P_DEFAULT) >= 0);
    close_sealed(f);
    expect_read_error(tmp("miss2.h5"), SM_ERR_FORMAT, "/sources");

    written_copy("miss3.h5");
    f = open_rw(tmp("miss3.h5"));
    assert_true(H5Adelete(f, "checksum") >= 0);
    close_sealed(f);
    expect_read_error(tmp("miss3.h5"), SM_ERR_FORMAT, "checksum");
}

/* A later minor version may add datasets and attributes: they are ignored. */
static void test_unknown_additions(void **state)
{
    (void)state;
    written_copy("extra.h5");
    hid_t f = open_rw(tmp("extra.h5"));
    hid_t s = H5Screate(H5S_SCALAR);
    uint32_t v = 42;
    hid_t a = H5Acreate2(f, "future_attribute", H5T_STD_U32LE, s, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Awrite(a, H5T_NATIVE_UINT32, &v) >= 0);
    H5Aclose(a);
    hid_t d = H5Dcreate2(f, "/search/future_index", H5T_STD_U32LE, s, H5P_DEFAULT, H5P_DEFAULT,
                         H5P_DEFAULT);
    assert_true(d >= 0);
    assert_true(H5Dwrite(d, H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) >= 0);
    H5Dclose(d);
    H5Sclose(s);
    close_sealed(f);

    sm_library b;
    sm_error err = fresh_err();
    assert_int_equal(sm_h5_read_(tmp("extra.h5"), &b, 0, &err), SM_OK);
    assert_int_equal(b.n, 4);
    sm_library_free_contents_(&b);
}

static void test_wrong_format_name(void **state)
{
    (void)state;
    written_copy("name.h5");
    hid_t f = open_rw(tmp("name.h5"));
    assert_true(H5Adelete(f, "format") >= 0);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 6);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "format", t, s, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Awrite(a, t, "mzMLb") >= 0);
    H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
    close_sealed(f);
    expect_read_error(tmp("name.h5"), SM_ERR_FORMAT, "not a specmatch library");

    /* Any HDF5 file without the attribute at all. */
    f = H5Fcreate(tmp("other.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    assert_true(H5Fclose(f) >= 0);
    expect_read_error(tmp("other.h5"), SM_ERR_FORMAT, "not a specmatch library");
}

/* Provenance attributes written by another tool as variable-length UTF-8 strings. */
static void test_vlen_string_attr(void **state)
{
    (void)state;
    written_copy("vlen.h5");
    hid_t f = open_rw(tmp("vlen.h5"));
    assert_true(H5Adelete(f, "created") >= 0);
    hid_t t = H5Tcopy(H5T_C_S1);
    assert_true(H5Tset_size(t, H5T_VARIABLE) >= 0);
    assert_true(H5Tset_cset(t, H5T_CSET_UTF8) >= 0);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "created", t, s, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(a >= 0);
    const char *v = "2025-01-02T03:04:05Z \xc2\xb7 h5py";
    assert_true(H5Awrite(a, t, &v) >= 0);
    H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
    close_sealed(f);

    sm_library b;
    sm_error err = fresh_err();
    assert_int_equal(sm_h5_read_(tmp("vlen.h5"), &b, 0, &err), SM_OK);
    assert_string_equal(b.created, v);
    sm_library_free_contents_(&b);
}

/* ------------------------------------------------------------------ */
/* Versions, foreign and damaged files                                 */

static void test_newer_major(void **state)
{
    (void)state;
    sm_library a;
    make_lib(&a);
    a.fmt_major = 2;
    a.fmt_minor = 0;
    sm_content_checksum_(&a, a.checksum);
    write_ok(&a, tmp("v2.h5"));
    expect_read_error(tmp("v2.h5"), SM_ERR_FORMAT, "newer");
    expect_read_error(tmp("v2.h5"), SM_ERR_FORMAT, "2.0");

    /* A newer minor of the same major reads. */
    a.fmt_major = SM_FORMAT_MAJOR;
    a.fmt_minor = SM_FORMAT_MINOR + 3;
    sm_content_checksum_(&a, a.checksum);
    write_ok(&a, tmp("v1x.h5"));
    sm_library b;
    sm_error err = fresh_err();
    assert_int_equal(sm_h5_read_(tmp("v1x.h5"), &b, 0, &err), SM_OK);
    assert_int_equal(b.fmt_minor, SM_FORMAT_MINOR + 3);
    sm_library_free_contents_(&b);
    sm_library_free_contents_(&a);
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(p, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static void test_not_hdf5(void **state)
{
    (void)state;
    const char *text = "NAME: Benzene\nNum Peaks: 1\n78 999\n";
    write_bytes(tmp("text.h5"), text, strlen(text));
    expect_read_error(tmp("text.h5"), SM_ERR_FORMAT, "not a specmatch library");
    write_bytes(tmp("zero.h5"), "", 0);
    expect_read_error(tmp("zero.h5"), SM_ERR_FORMAT, "not a specmatch library");
}

static void test_missing_file(void **state)
{
    (void)state;
    expect_read_error(tmp("does-not-exist.h5"), SM_ERR_IO, "does-not-exist.h5");
    expect_read_error(tmpdir, SM_ERR_IO, NULL); /* a directory */
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long len = ftell(fp);
    assert_true(len > 0);
    rewind(fp);
    unsigned char *p = malloc((size_t)len);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    *n = (size_t)len;
    return p;
}

static void test_truncated(void **state)
{
    (void)state;
    written_copy("whole.h5");
    size_t n;
    unsigned char *p = slurp(tmp("whole.h5"), &n);
    /* Half, as asked, and a spread of other cut points. */
    for (unsigned k = 1; k < 16; k++) {
        size_t cut = n * k / 16;
        sm_library lib;
        sm_error err = fresh_err();
        write_bytes(tmp("cut.h5"), p, cut);
        sm_status st = sm_h5_read_(tmp("cut.h5"), &lib, 0, &err);
        if (k == 8)
            print_message("truncated to %zu of %zu bytes: %s: %s\n", cut, n, sm_status_str(st),
                          err.message);
        assert_int_not_equal(st, SM_OK);
        assert_int_equal(err.status, st);
        assert_true(err.message[0] != '\0');
        /* past the header, the whole-file checksum catches it before HDF5 reads */
        if (cut >= SM_HEADER_SIZE)
            assert_int_equal(st, SM_ERR_CHECKSUM);
    }
    free(p);
}

/* A byte changed anywhere: an error, before HDF5 parses the damaged file (HDF5
 * 1.10 itself does not survive every damaged metadata block), or, in the free
 * text of the header, a correct read. */
static void test_flipped_bytes(void **state)
{
    (void)state;
    written_copy("flip-src.h5");
    size_t n;
    unsigned char *p = slurp(tmp("flip-src.h5"), &n);
    sm_library ref;
    sm_error err = fresh_err();
    assert_int_equal(sm_h5_read_(tmp("flip-src.h5"), &ref, 0, &err), SM_OK);
    size_t errors = 0, fine = 0;
    for (size_t at = 0; at < n; at += 37) {
        p[at] ^= 0x5A;
        write_bytes(tmp("flip.h5"), p, n);
        p[at] ^= 0x5A;
        sm_library lib;
        err = fresh_err();
        sm_status st = sm_h5_read_(tmp("flip.h5"), &lib, 0, &err);
        if (st == SM_OK) {
            assert_true(at < SM_HEADER_SIZE);
            assert_string_equal(lib.checksum, ref.checksum);
            sm_library_free_contents_(&lib);
            fine++;
            continue;
        }
        assert_true(st == SM_ERR_CHECKSUM || st == SM_ERR_FORMAT);
        if (at >= SM_HEADER_SIZE)
            assert_int_equal(st, SM_ERR_CHECKSUM);
        errors++;
    }
    print_message("%zu flips refused, %zu harmless (header text)\n", errors, fine);
    assert_true(errors >= (n - SM_HEADER_SIZE) / 37);
    sm_library_free_contents_(&ref);
    free(p);
}

/* ------------------------------------------------------------------ */
/* Chunks decompressed on several threads (the SWGDRUG library: its    */
/* arrays span several chunks, where opening reads them itself)        */

#ifdef SM_DEFAULT_LIBRARY
static void read_with(const char *path, unsigned flags, sm_library *lib)
{
    sm_error err = fresh_err();
    sm_status st = sm_h5_read_(path, lib, flags, &err);
    if (st != SM_OK)
        print_error("%s: %s\n", path, err.message);
    assert_int_equal(st, SM_OK);
}

/* One thread (HDF5 decompresses) and three (chunks.c does) read the same arrays. */
static void test_threads_agree(void **state)
{
    (void)state;
    sm_library a, b;
    read_with(SM_DEFAULT_LIBRARY, SM_OPEN_THREADS(1), &a);
    read_with(SM_DEFAULT_LIBRARY, SM_OPEN_THREADS(3), &b);
    assert_true(a.n_peaks > 2 * 65536); /* several chunks */
    assert_string_equal(a.checksum, b.checksum);
    assert_int_equal(a.n_peaks, b.n_peaks);
    assert_memory_equal(a.peak_mz, b.peak_mz, a.n_peaks * sizeof *a.peak_mz);
    assert_memory_equal(a.peak_int, b.peak_int, a.n_peaks * sizeof *a.peak_int);
    assert_memory_equal(a.peak_off, b.peak_off, (a.n + 1) * sizeof *a.peak_off);
    sm_library_free_contents_(&b);
    /* opened for a search: the peaks streamed through the checksum, the index read */
    read_with(SM_DEFAULT_LIBRARY, SM_OPEN_SEARCH_ONLY | SM_OPEN_STORED_INDEX_ |
                                      SM_OPEN_THREADS(3), &b);
    assert_string_equal(a.checksum, b.checksum);
    assert_int_equal(a.n_nom, b.n_nom);
    sm_library_free_contents_(&b);
    sm_library_free_contents_(&a);
}

/* Written with its chunks compressed on one thread and on three: the same bytes, and
 * HDF5's own filters (a read on one thread) give back the same library. */
static void test_write_threads_same_bytes(void **state)
{
    (void)state;
    sm_library a, b;
    read_with(SM_DEFAULT_LIBRARY, SM_OPEN_THREADS(2), &a);
    sm_error err = fresh_err();
    assert_int_equal(sm_h5_write_threads_(&a, tmp("w1.h5"), 1, &err), SM_OK);
    assert_int_equal(sm_h5_write_threads_(&a, tmp("w3.h5"), 3, &err), SM_OK);
    size_t n1, n3;
    unsigned char *p1 = slurp(tmp("w1.h5"), &n1), *p3 = slurp(tmp("w3.h5"), &n3);
    assert_int_equal(n1, n3);
    assert_memory_equal(p1, p3, n1);
    free(p1);
    free(p3);
    read_with(tmp("w3.h5"), SM_OPEN_THREADS(1), &b);
    assert_string_equal(a.checksum, b.checksum);
    assert_memory_equal(a.peak_mz, b.peak_mz, a.n_peaks * sizeof *a.peak_mz);
    sm_library_free_contents_(&b);
    sm_library_free_contents_(&a);
}

/* A copy of the SWGDRUG library with the second chunk of one of its deflated arrays
 * replaced by what `change` makes of the chunk as stored; resealed. */
static void rewrite_chunk(const char *path, const char *dset,
                          void (*change)(hid_t ds, uint8_t *raw, size_t *len, uint32_t *mask))
{
    size_t n;
    unsigned char *bytes = slurp(SM_DEFAULT_LIBRARY, &n);
    write_bytes(path, bytes, n);
    free(bytes);
    hid_t f = open_rw(path), ds = H5Dopen2(f, dset, H5P_DEFAULT);
    assert_true(ds >= 0);
    hsize_t off[1] = {65536}, stored = 0;
    assert_true(H5Dget_chunk_storage_size(ds, off, &stored) >= 0);
    uint8_t *raw = malloc(65536 * 8 + 4096);
    assert_non_null(raw);
    uint32_t mask = 0;
    assert_true(H5Dread_chunk(ds, H5P_DEFAULT, off, &mask, raw) >= 0);
    assert_int_equal(mask, 0);
    size_t len = (size_t)stored;
    change(ds, raw, &len, &mask);
    assert_true(H5Dwrite_chunk(ds, H5P_DEFAULT, mask, off, len, raw) >= 0);
    free(raw);
    H5Dclose(ds);
    close_sealed(f);
}

/* The chunk kept as HDF5 keeps one that deflate could not shrink: shuffled, not
 * deflated, the filter marked as skipped. */
static void store_inflated(hid_t ds, uint8_t *raw, size_t *len, uint32_t *mask)
{
    hid_t type = H5Dget_type(ds);
    size_t bytes = 65536 * H5Tget_size(type);
    H5Tclose(type);
    uint8_t *plain = malloc(bytes);
    assert_non_null(plain);
    uLongf out = (uLongf)bytes;
    assert_int_equal(uncompress(plain, &out, raw, (uLong)*len), Z_OK);
    assert_int_equal(out, bytes);
    memcpy(raw, plain, bytes);
    free(plain);
    *len = bytes;
    *mask = 1u << 1; /* the pipeline is shuffle, deflate */
}

/* The chunk cut short: its deflate stream ends early. */
static void cut_short(hid_t ds, uint8_t *raw, size_t *len, uint32_t *mask)
{
    (void)ds;
    (void)raw;
    (void)mask;
    *len /= 2;
}

static void test_chunk_not_deflated(void **state)
{
    (void)state;
    sm_library ref, a, b;
    read_with(SM_DEFAULT_LIBRARY, SM_OPEN_THREADS(1), &ref);
    rewrite_chunk(tmp("plain-chunk.h5"), "/peaks/mz", store_inflated);
    read_with(tmp("plain-chunk.h5"), SM_OPEN_THREADS(1), &a);
    read_with(tmp("plain-chunk.h5"), SM_OPEN_THREADS(3), &b);
    assert_string_equal(a.checksum, ref.checksum);
    assert_string_equal(b.checksum, ref.checksum);
    assert_memory_equal(b.peak_mz, ref.peak_mz, ref.n_peaks * sizeof *ref.peak_mz);
    sm_library_free_contents_(&b);
    read_with(tmp("plain-chunk.h5"), SM_OPEN_SEARCH_ONLY | SM_OPEN_THREADS(3), &b);
    assert_string_equal(b.checksum, ref.checksum);
    sm_library_free_contents_(&b);
    sm_library_free_contents_(&a);
    sm_library_free_contents_(&ref);
}

/* A chunk that does not decompress is refused on one thread and on several; on
 * several, the message names the dataset and the chunk. */
static void test_chunk_cut_short(void **state)
{
    (void)state;
    const char *p = tmp("short-chunk.h5");
    rewrite_chunk(p, "/peaks/intensity", cut_short);
    expect_read_error_ex(p, SM_OPEN_THREADS(3), SM_ERR_FORMAT,
                         "dataset /peaks/intensity: the chunk at element 65536 does not "
                         "decompress");
    expect_read_error_ex(p, SM_OPEN_SEARCH_ONLY | SM_OPEN_THREADS(3), SM_ERR_FORMAT,
                         "dataset /peaks/intensity: the chunk at element 65536");
    sm_library lib;
    sm_error err = fresh_err();
    assert_int_not_equal(sm_h5_read_(p, &lib, SM_OPEN_THREADS(1), &err), SM_OK);
    assert_non_null(strstr(err.message, "/peaks/intensity"));
}
#endif

/* ------------------------------------------------------------------ */
/* Writer                                                              */

static void test_write_refuses(void **state)
{
    (void)state;
    sm_library a;
    sm_error err = fresh_err();
    make_lib(&a);
    a.peak_off[4] = 99; /* beyond n_peaks */
    assert_int_equal(sm_h5_write_(&a, tmp("refused.h5"), &err), SM_ERR_ARG);
    assert_int_equal(access(tmp("refused.h5"), F_OK), -1);
    a.peak_off[4] = a.n_peaks;

    /* An impossible path: an HDF5 error with HDF5's own words, nothing left behind. */
    err = fresh_err();
    const char *bad = "/nonexistent-dir-for-specmatch/x.h5";
    assert_int_equal(sm_h5_write_(&a, bad, &err), SM_ERR_HDF5);
    assert_string_equal(err.file, bad);
    assert_non_null(strstr(err.message, "HDF5"));
    sm_library_free_contents_(&a);
}

/* Our calls turn HDF5's error printing off only while they run. */
static void test_error_handler_restored(void **state)
{
    (void)state;
    H5E_auto2_t f0, f1;
    void *d0, *d1;
    assert_true(H5Eget_auto2(H5E_DEFAULT, &f0, &d0) >= 0);
    assert_non_null(f0);
    sm_library lib;
    sm_error err = fresh_err();
    written_copy("h.h5");
    write_bytes(tmp("junk.h5"), "\x89HDF\r\n\x1a\n garbage", 17);
    assert_int_not_equal(sm_h5_read_(tmp("junk.h5"), &lib, 0, &err), SM_OK);
    assert_int_equal(sm_h5_read_(tmp("h.h5"), &lib, 0, &err), SM_OK);
    sm_library_free_contents_(&lib);
    assert_true(H5Eget_auto2(H5E_DEFAULT, &f1, &d1) >= 0);
    assert_ptr_equal(f0, f1);
    assert_ptr_equal(d0, d1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_roundtrip_empty),
        cmocka_unit_test(test_roundtrip_sparse),
        cmocka_unit_test(test_checksum_definition),
        cmocka_unit_test(test_wrong_checksum_attr),
        cmocka_unit_test(test_modified_content),
        cmocka_unit_test(test_search_only),
        cmocka_unit_test(test_sparse_strings),
        cmocka_unit_test(test_bad_offsets),
        cmocka_unit_test(test_bad_nominal),
        cmocka_unit_test(test_missing_dataset),
        cmocka_unit_test(test_unknown_additions),
        cmocka_unit_test(test_wrong_format_name),
        cmocka_unit_test(test_vlen_string_attr),
        cmocka_unit_test(test_newer_major),
        cmocka_unit_test(test_not_hdf5),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_stored_index),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_flipped_bytes),
        cmocka_unit_test(test_declared_too_large),
        cmocka_unit_test(test_write_refuses),
        cmocka_unit_test(test_error_handler_restored),
#ifdef SM_DEFAULT_LIBRARY
        cmocka_unit_test(test_threads_agree),
        cmocka_unit_test(test_write_threads_same_bytes),
        cmocka_unit_test(test_chunk_not_deflated),
        cmocka_unit_test(test_chunk_cut_short),
#endif
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
