/* test_controls.c — the control-status table: reading the TSV, the join by compound key, /controls in the library file (format 1.1), and the summaries. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "sm_internal.h"
#include "test_common.h"

static char tmpdir[64];

static int setup_dir(void **state)
{
    (void)state;
    return temp_dir_make(tmpdir, sizeof tmpdir, "specmatch-ctl");
}

static int teardown_dir(void **state)
{
    (void)state;
    return temp_dir_remove(tmpdir);
}

/* Path of a file in the test's directory (4 rotating buffers). */
static const char *tmp(const char *name)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

static const char *write_file(const char *name, const char *content, size_t len)
{
    const char *path = tmp(name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(content, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
    return path;
}

static const char *write_text(const char *name, const char *content)
{
    return write_file(name, content, strlen(content));
}

static sm_error fresh_err(void)
{
    sm_error e;
    memset(&e, 0, sizeof e);
    return e;
}

#define HEADER                                                                            \
    "key\tinchikey\tname\tclass\tun1961\tun1961_year\tincb_frs\tus_csa\tus_basis\tas_of\tnote"

/* ------------------------------------------------------------------ */
/* The spectra: the first SWGDRUG records, read in place, and three written here */

enum { N_SWGDRUG = 50, N_HAND = 3, N_ALL = N_SWGDRUG + N_HAND };

static sm_spectrum spectra[N_ALL];
static size_t i_norpropoxyphene = SIZE_MAX, i_desmethyltramadol = SIZE_MAX;
static char key_norpropoxyphene[64], key_desmethyltramadol[64];
/* the hand-written ones, after the SWGDRUG records */
enum { I_FENTANYL = N_SWGDRUG, I_FENTANYL_D5, I_NO_INCHIKEY };

static void set_field(sm_spectrum *s, sm_field f, const char *v)
{
    s->field[f] = strdup(v);
    assert_non_null(s->field[f]);
}

/* A made-up spectrum (not a real one) for the compounds the first records lack. */
static void hand_spectrum(sm_spectrum *s, const char *name, const char *inchikey,
                          const char *formula, double shift)
{
    static const double mz[] = {57, 105, 146, 189, 245};
    static const double in[] = {100, 300, 200, 600, 999};
    sm_spectrum_init(s);
    set_field(s, SM_FIELD_NAME, name);
    if (inchikey != NULL)
        set_field(s, SM_FIELD_INCHIKEY, inchikey);
    if (formula != NULL)
        set_field(s, SM_FIELD_FORMULA, formula);
    s->n_peaks = s->cap_peaks = 5;
    s->peaks = malloc(5 * sizeof *s->peaks);
    assert_non_null(s->peaks);
    for (int k = 0; k < 5; k++) {
        s->peaks[k].mz = mz[k] + shift;
        s->peaks[k].intensity = in[k];
    }
}

static int load_spectra(void **state)
{
    (void)state;
    sm_reader *r = NULL;
    sm_error e = fresh_err();
    if (sm_reader_open(spectra_file("swgdrug-3.4.msp"), &r, &e) != SM_OK)
        return -1;
    for (size_t i = 0; i < N_SWGDRUG; i++) {
        sm_spectrum_init(&spectra[i]);
        if (sm_reader_next(r, &spectra[i], &e) != SM_OK)
            return -1;
        const sm_spectrum *s = &spectra[i];
        const char *name = s->field[SM_FIELD_NAME];
        char *key = NULL;
        if (strcmp(name, "Norpropoxyphene") == 0 && i_norpropoxyphene == SIZE_MAX) {
            i_norpropoxyphene = i;
            key = key_norpropoxyphene;
        } else if (strcmp(name, "N-desmethyltramadol") == 0 && i_desmethyltramadol == SIZE_MAX) {
            i_desmethyltramadol = i;
            key = key_desmethyltramadol;
        }
        if (key != NULL)
            sm_compound_key(s->field[SM_FIELD_INCHIKEY], name, s->field[SM_FIELD_FORMULA], key,
                            64);
    }
    sm_reader_close(r);
    if (i_norpropoxyphene == SIZE_MAX || i_desmethyltramadol == SIZE_MAX)
        return -1;
    hand_spectrum(&spectra[I_FENTANYL], "Fentanyl", "PJMPHNIQZUBGLI-UHFFFAOYSA-N",
                  "C22H28N2O", 0);
    /* same InChIKey first block, a compound of its own (key ...-D) */
    hand_spectrum(&spectra[I_FENTANYL_D5], "Fentanyl-d5", "PJMPHNIQZUBGLI-SCUSKTIWSA-N",
                  "C22H23D5N2O", 5);
    /* no InChIKey: keyed by its lower-case name */
    hand_spectrum(&spectra[I_NO_INCHIKEY], "Mystery Powder X", NULL, NULL, 1);
    return setup_dir(state);
}

static int free_spectra(void **state)
{
    for (size_t i = 0; i < N_ALL; i++)
        sm_spectrum_clear(&spectra[i]);
    return teardown_dir(state);
}

/* The table of the main test. The cells are made up to exercise every form of the
 * summary; they are not statements about these compounds' legal status. CRLF line
 * ends, comments, a blank line, a row without its empty note cell, a row that
 * matches no spectrum. */
static const char *write_table(const char *name)
{
    char buf[4096];
    snprintf(buf, sizeof buf,
             "# test table: made-up cells\r\n"
             "# second comment\r\n"
             "\r\n" HEADER "\r\n"
             "PJMPHNIQZUBGLI\tPJMPHNIQZUBGLI-UHFFFAOYSA-N\tFentanyl\tfentanyl-analogue\tI\t1964"
             "\tno\tII\tnamed\t2025-06-01\tparent\r\n"
             "PJMPHNIQZUBGLI-D\tPJMPHNIQZUBGLI-SCUSKTIWSA-N\tFentanyl-d5\tinternal-standard\t\t"
             "\t\t\t\t2025-06-01\t\r\n"
             "\r\n"
             "%s\t\tNorpropoxyphene\tother-opioid\tno\t\tno\tno\t\t2025-06-01\tmetabolite\r\n"
             "%s\t\tN-desmethyltramadol\tother-opioid\tI+IV\t\tyes\tList I\tList I chemical\t"
             "2025-06-01\t\r\n"
             "mystery powder x\t\tMystery Powder X\tfentanyl-precursor\t\t\t\tI\t"
             "FRS class-wide\t2025-06-01\r\n"
             "AAAAAAAAAAAAAA\tAAAAAAAAAAAAAA-UHFFFAOYSA-N\tNot in the library\tother\tno\t\tno\t"
             "no\t\t2025-06-01\t\r\n",
             key_norpropoxyphene, key_desmethyltramadol);
    /* kept apart from tmp()'s rotating buffers: the tests use it across many calls */
    static char path[512];
    snprintf(path, sizeof path, "%s", write_text(name, buf));
    return path;
}
#define TABLE_ROWS 6

/* Builds a library of all the spectra, with the table at table_path (NULL: none). */
static void build(const char *out, const char *table_path, bool table_first)
{
    sm_builder *b = NULL;
    sm_error e = fresh_err();
    assert_int_equal(sm_builder_new(&b, &e), SM_OK);
    /* the join happens when the library is written, whatever the order of the calls */
    if (table_path != NULL && table_first)
        assert_int_equal(sm_builder_set_controls(b, table_path, &e), SM_OK);
    for (size_t i = 0; i < N_ALL; i++)
        assert_int_equal(sm_builder_add(b, &spectra[i], &e), SM_OK);
    assert_int_equal(sm_builder_add_source(b, spectra_file("swgdrug-3.4.msp"), N_ALL, &e),
                     SM_OK);
    if (table_path != NULL && !table_first)
        assert_int_equal(sm_builder_set_controls(b, table_path, &e), SM_OK);
    sm_status st = sm_builder_write(b, out, &e);
    if (st != SM_OK)
        print_error("write %s: %s\n", out, e.message);
    assert_int_equal(st, SM_OK);
    sm_builder_free(b);
}

static sm_library *open_lib(const char *path, unsigned flags);

/* Spectra added without any sm_builder_add_source (or after the last one) are written
 * with an unknown source, and the file opens. */
static void test_no_source(void **state)
{
    (void)state;
    sm_builder *b = NULL;
    sm_error e = fresh_err();
    assert_int_equal(sm_builder_new(&b, &e), SM_OK);
    assert_int_equal(sm_builder_add(b, &spectra[0], &e), SM_OK);
    assert_int_equal(sm_builder_add_source(b, spectra_file("swgdrug-3.4.msp"), 1, &e), SM_OK);
    assert_int_equal(sm_builder_add(b, &spectra[1], &e), SM_OK);
    assert_int_equal(sm_builder_write(b, tmp("nosource.h5"), &e), SM_OK);
    sm_builder_free(b);
    sm_library *lib = open_lib(tmp("nosource.h5"), 0);
    assert_int_equal(sm_library_size(lib), 2);
    sm_library_info info;
    sm_library_get_info(lib, &info);
    assert_int_equal(info.n_sources, 1);
    sm_library_close(lib);
}

static sm_library *open_lib(const char *path, unsigned flags)
{
    sm_library *lib = NULL;
    sm_error e = fresh_err();
    sm_status st = sm_library_open_ex(path, flags, &lib, &e);
    if (st != SM_OK)
        print_error("open %s: %s\n", path, e.message);
    assert_int_equal(st, SM_OK);
    return lib;
}

static void assert_summary(const sm_library *lib, size_t i, const char *want)
{
    char buf[512];
    size_t n = sm_library_control_summary(lib, i, buf, sizeof buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

typedef struct expect {
    size_t i;
    const char *cell[SM_CONTROL_COUNT];
    bool scheduled;
    const char *summary;
} expect;

static void check_joined(const sm_library *lib, const char *table_path)
{
    const char *source = NULL, *sha = NULL;
    char want_sha[65];
    sm_error e = fresh_err();
    assert_int_equal(sm_library_size(lib), N_ALL);
    assert_true(sm_library_has_controls(lib, &source, &sha));
    assert_string_equal(source, "controls.tsv");
    assert_int_equal(sm_sha256_file(table_path, want_sha, &e), SM_OK);
    assert_string_equal(sha, want_sha);
    assert_true(sm_library_has_controls(lib, NULL, NULL));
    assert_int_equal(lib->ctl_rows, TABLE_ROWS);

    const expect rows[] = {
        {I_FENTANYL,
         {"fentanyl-analogue", "I", "1964", "no", "II", "named", "2025-06-01", "parent"},
         true,
         "SCHEDULED: UN 1961 Schedule I (1964); US CSA Schedule II (named)"},
        {I_FENTANYL_D5,
         {"internal-standard", "", "", "", "", "", "2025-06-01", ""},
         false,
         "listed (internal-standard); control status not recorded"},
        {i_norpropoxyphene,
         {"other-opioid", "no", "", "no", "no", "", "2025-06-01", "metabolite"},
         false,
         "not scheduled under the table's sources (as of 2025-06-01)"},
        {i_desmethyltramadol,
         {"other-opioid", "I+IV", "", "yes", "List I", "List I chemical", "2025-06-01", ""},
         true,
         "SCHEDULED: UN 1961 Schedules I and IV; INCB list of fentanyl-related substances; "
         "US List I chemical"},
        {I_NO_INCHIKEY,
         {"fentanyl-precursor", "", "", "", "I", "FRS class-wide", "2025-06-01", ""},
         true,
         "SCHEDULED: US CSA Schedule I (FRS class-wide)"},
    };
    size_t listed = 0;
    for (size_t i = 0; i < N_ALL; i++) {
        const expect *x = NULL;
        for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++)
            if (rows[k].i == i)
                x = &rows[k];
        listed += sm_library_control_listed(lib, i);
        if (x == NULL) {
            assert_false(sm_library_control_listed(lib, i));
            assert_false(sm_library_control_scheduled(lib, i));
            for (int f = 0; f < SM_CONTROL_COUNT; f++)
                assert_string_equal(sm_library_control(lib, i, (sm_control_field)f), "");
            assert_summary(lib, i, "not listed in the table's sources");
            continue;
        }
        assert_true(sm_library_control_listed(lib, i));
        for (int f = 0; f < SM_CONTROL_COUNT; f++)
            assert_string_equal(sm_library_control(lib, i, (sm_control_field)f), x->cell[f]);
        assert_int_equal(sm_library_control_scheduled(lib, i), x->scheduled);
        assert_summary(lib, i, x->summary);
    }
    assert_int_equal(listed, 5);

    /* Out of range: empty, never a crash. */
    assert_string_equal(sm_library_control(lib, N_ALL, SM_CONTROL_CLASS), "");
    assert_string_equal(sm_library_control(lib, 0, SM_CONTROL_COUNT), "");
    assert_false(sm_library_control_listed(lib, N_ALL));
    assert_summary(lib, N_ALL, "");
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */

static void test_field_names(void **state)
{
    (void)state;
    static const char *const want[SM_CONTROL_COUNT] = {
        "class", "un1961", "un1961_year", "incb_frs", "us_csa", "us_basis", "as_of", "note",
    };
    for (int f = 0; f < SM_CONTROL_COUNT; f++)
        assert_string_equal(sm_control_field_name((sm_control_field)f), want[f]);
    assert_string_equal(sm_control_field_name(SM_CONTROL_COUNT), "");
    assert_string_equal(sm_control_field_name((sm_control_field)-1), "");
}

/* Written, opened in both modes: the cells, flags and summaries as the table says. */
static void test_join_roundtrip(void **state)
{
    (void)state;
    const char *table = write_table("controls.tsv");
    build(tmp("with.h5"), table, false);
    build(tmp("with-first.h5"), table, true);
    const unsigned modes[] = {0, SM_OPEN_SEARCH_ONLY};
    for (size_t m = 0; m < 2; m++) {
        sm_library *lib = open_lib(tmp("with.h5"), modes[m]);
        check_joined(lib, table);
        sm_library_info info;
        sm_library_get_info(lib, &info);
        assert_int_equal(info.format_major, 1);
        assert_int_equal(info.format_minor, 2);
        sm_library_close(lib);
        lib = open_lib(tmp("with-first.h5"), modes[m]);
        check_joined(lib, table);
        sm_library_close(lib);
    }
}

/* The summary is cut to the buffer like snprintf and says how long it wanted to be. */
static void test_summary_buffer(void **state)
{
    (void)state;
    const char *table = write_table("controls.tsv");
    build(tmp("buf.h5"), table, false);
    sm_library *lib = open_lib(tmp("buf.h5"), 0);
    const char *full = "SCHEDULED: US CSA Schedule I (FRS class-wide)";
    char buf[12];
    memset(buf, 'x', sizeof buf);
    assert_int_equal(sm_library_control_summary(lib, I_NO_INCHIKEY, buf, sizeof buf),
                     strlen(full));
    assert_string_equal(buf, "SCHEDULED: ");
    assert_int_equal(sm_library_control_summary(lib, I_NO_INCHIKEY, NULL, 0), strlen(full));
    buf[0] = 'x';
    assert_int_equal(sm_library_control_summary(lib, I_NO_INCHIKEY, buf, 1), strlen(full));
    assert_int_equal(buf[0], '\0');
    sm_library_close(lib);
}

/* Without a table: nothing to say, and the same content checksum as with one. */
static void test_no_table(void **state)
{
    (void)state;
    const char *table = write_table("controls.tsv");
    build(tmp("without.h5"), NULL, false);
    build(tmp("with2.h5"), table, false);
    const unsigned modes[] = {0, SM_OPEN_SEARCH_ONLY};
    for (size_t m = 0; m < 2; m++) {
        sm_library *a = open_lib(tmp("without.h5"), modes[m]);
        sm_library *b = open_lib(tmp("with2.h5"), modes[m]);
        const char *source = "unset", *sha = "unset";
        assert_false(sm_library_has_controls(a, &source, &sha));
        assert_string_equal(source, "");
        assert_string_equal(sha, "");
        for (size_t i = 0; i < N_ALL; i++) {
            assert_false(sm_library_control_listed(a, i));
            assert_false(sm_library_control_scheduled(a, i));
            assert_string_equal(sm_library_control(a, i, SM_CONTROL_CLASS), "");
            assert_summary(a, i, "");
        }
        sm_library_info ia, ib;
        sm_library_get_info(a, &ia);
        sm_library_get_info(b, &ib);
        assert_int_equal(ia.format_minor, 2);
        assert_string_equal(ia.checksum, ib.checksum);
        sm_library_close(a);
        sm_library_close(b);
    }
}

/* A table error: the status, the file and the line. */
static void expect_table_error(const char *name, const char *content, size_t len,
                               sm_status want, unsigned long line, const char *needle)
{
    const char *path = write_file(name, content, len);
    sm_builder *b = NULL;
    sm_error e = fresh_err();
    assert_int_equal(sm_builder_new(&b, &e), SM_OK);
    sm_status st = sm_builder_set_controls(b, path, &e);
    if (st != want || e.line != line || strstr(e.message, needle) == NULL)
        print_error("%s: got %d line %lu '%s', wanted %d line %lu with '%s'\n", name, (int)st,
                    e.line, e.message, (int)want, line, needle);
    assert_int_equal(st, want);
    assert_int_equal(e.status, want);
    assert_string_equal(e.file, path);
    assert_int_equal(e.line, line);
    assert_non_null(strstr(e.message, needle));
    sm_builder_free(b);
}

#define ROW_OK "KEYKEYKEYKEYKE\t\tname\tother\tno\t\tno\tno\t\t2025\t\n"

static void test_table_errors(void **state)
{
    (void)state;
    const char *hdr = HEADER "\n";
    char buf[512];

    expect_table_error("hdr.tsv", "# c\nkey\tinchikey\tname\n", 21, SM_ERR_PARSE, 2,
                       "expected the header");
    snprintf(buf, sizeof buf, "# c\n%s", "key\tinchikey\tname\tclass\tun1961\tun1961_year\t"
                                         "incb_frs\tus_csa\tus_basis\tas_of\tnotes\n");
    expect_table_error("hdr2.tsv", buf, strlen(buf), SM_ERR_PARSE, 2, "expected the header");
    expect_table_error("empty.tsv", "# only a comment\n", 17, SM_ERR_PARSE, 1, "no header");

    snprintf(buf, sizeof buf, "%s" ROW_OK "B\t\tname\tother\tno\n", hdr);
    expect_table_error("cells.tsv", buf, strlen(buf), SM_ERR_PARSE, 3,
                       "expected 11 tab-separated cells");
    snprintf(buf, sizeof buf, "%s\n" ROW_OK ROW_OK "%s", hdr,
             "C\t\tname\tother\tno\t\tno\tno\t\t2025\tnote\textra\n");
    expect_table_error("cells2.tsv", buf, strlen(buf), SM_ERR_PARSE, 5, "found 12");

    snprintf(buf, sizeof buf, "%sA\t\tname\topioid\tno\t\tno\tno\t\t2025\t\n", hdr);
    expect_table_error("class.tsv", buf, strlen(buf), SM_ERR_PARSE, 2, "unknown class 'opioid'");
    snprintf(buf, sizeof buf, "%sA\t\tname\t\tno\t\tno\tno\t\t2025\t\n", hdr);
    expect_table_error("class2.tsv", buf, strlen(buf), SM_ERR_PARSE, 2, "unknown class ''");

    snprintf(buf, sizeof buf, "%s" ROW_OK "B\t\tb\tother\t\t\t\t\t\t\t\n" ROW_OK, hdr);
    expect_table_error("dup.tsv", buf, strlen(buf), SM_ERR_PARSE, 4,
                       "duplicate key 'KEYKEYKEYKEYKE' (first on line 2)");

    snprintf(buf, sizeof buf, "%s\t\tname\tother\t\t\t\t\t\t\t\n", hdr);
    expect_table_error("nokey.tsv", buf, strlen(buf), SM_ERR_PARSE, 2, "empty key");
    snprintf(buf, sizeof buf, "%s# a comment\n", hdr);
    expect_table_error("latecomment.tsv", buf, strlen(buf), SM_ERR_PARSE, 2,
                       "only before the header");
    snprintf(buf, sizeof buf, "%sA\t\tname\tother\t\t\tYes\t\t\t\t\n", hdr);
    expect_table_error("incb.tsv", buf, strlen(buf), SM_ERR_PARSE, 2, "incb_frs");
    snprintf(buf, sizeof buf, "%sA\t\tna\xff me\tother\t\t\t\t\t\t\t\n", hdr);
    expect_table_error("utf8.tsv", buf, strlen(buf), SM_ERR_PARSE, 2, "UTF-8");
    /* schedule cells hold only the values CONTROLS.md allows */
    snprintf(buf, sizeof buf, "%sA\t\tname\tother\t+\t\t\t\t\t\t\n", hdr);
    expect_table_error("un.tsv", buf, strlen(buf), SM_ERR_PARSE, 2, "un1961 is '+'");
    snprintf(buf, sizeof buf, "%sA\t\tname\tother\tIV+I\t\t\t\t\t\t\n", hdr);
    expect_table_error("un2.tsv", buf, strlen(buf), SM_ERR_PARSE, 2, "un1961 is 'IV+I'");
    snprintf(buf, sizeof buf, "%sA\t\tname\tother\t\t2017\t\t\t\t\t\n", hdr);
    expect_table_error("year.tsv", buf, strlen(buf), SM_ERR_PARSE, 2, "only with a schedule");
    snprintf(buf, sizeof buf, "%sA\t\tname\tother\tI\t17\t\t\t\t\t\n", hdr);
    expect_table_error("year2.tsv", buf, strlen(buf), SM_ERR_PARSE, 2, "un1961_year is '17'");
    snprintf(buf, sizeof buf, "%sA\t\tname\tother\t\t\t\tList III\t\t\t\n", hdr);
    expect_table_error("us.tsv", buf, strlen(buf), SM_ERR_PARSE, 2, "us_csa is 'List III'");

    /* a NUL byte on line 3 */
    snprintf(buf, sizeof buf, "%s" ROW_OK "B\t\tname\tother\t\t\t\t\t\t\t\n", hdr);
    size_t len = strlen(buf);
    buf[len - 5] = '\0';
    expect_table_error("nul.tsv", buf, len, SM_ERR_PARSE, 3, "NUL byte");

    /* a line past the limit: consumed whole, refused */
    size_t big = SM_MAX_LINE + 100;
    char *longer = malloc(strlen(hdr) + big + 2);
    assert_non_null(longer);
    strcpy(longer, hdr);
    memset(longer + strlen(hdr), 'a', big);
    longer[strlen(hdr) + big] = '\n';
    expect_table_error("long.tsv", longer, strlen(hdr) + big + 1, SM_ERR_LIMIT, 2, "longer");
    free(longer);

    /* Unreadable: an I/O error, and standard input is refused (no provenance). */
    sm_builder *b = NULL;
    sm_error e = fresh_err();
    assert_int_equal(sm_builder_new(&b, &e), SM_OK);
    assert_int_equal(sm_builder_set_controls(b, tmp("missing.tsv"), &e), SM_ERR_IO);
    assert_int_equal(sm_builder_set_controls(b, "-", &e), SM_ERR_ARG);
    sm_builder_free(b);
}

/* What the reader accepts: BOM, LF without a final newline, a missing note cell, no
 * rows at all. A failed table leaves the one set before in place. */
static void test_table_accepts(void **state)
{
    (void)state;
    char buf[512];
    sm_error e = fresh_err();
    sm_builder *b = NULL;
    assert_int_equal(sm_builder_new(&b, &e), SM_OK);
    snprintf(buf, sizeof buf, "\xEF\xBB\xBF%s\nA\t\tname\tother\tno\t\tno\tno\t\t2025", HEADER);
    assert_int_equal(sm_builder_set_controls(b, write_text("bom.tsv", buf), &e), SM_OK);
    snprintf(buf, sizeof buf, "%s\n", HEADER);
    assert_int_equal(sm_builder_set_controls(b, write_text("norows.tsv", buf), &e), SM_OK);
    assert_int_equal(sm_builder_set_controls(b, write_text("bad.tsv", "nonsense\n"), &e),
                     SM_ERR_PARSE);
    assert_int_equal(sm_builder_add(b, &spectra[I_FENTANYL], &e), SM_OK);
    assert_int_equal(sm_builder_add_source(b, write_text("src.msp", "x\n"), 1, &e), SM_OK);
    assert_int_equal(sm_builder_write(b, tmp("norows.h5"), &e), SM_OK);
    sm_builder_free(b);

    sm_library *lib = open_lib(tmp("norows.h5"), 0);
    const char *source = NULL;
    assert_true(sm_library_has_controls(lib, &source, NULL));
    assert_string_equal(source, "norows.tsv");
    assert_int_equal(lib->ctl_rows, 0);
    assert_summary(lib, 0, "not listed in the table's sources");
    sm_library_close(lib);
}

/* The summary's other forms: years, a third schedule, basis after a List I entry,
 * nothing scheduled without an as-of date. */
static void test_summary_forms(void **state)
{
    (void)state;
    char buf[2048];
    snprintf(buf, sizeof buf,
             "%s\n"
             "PJMPHNIQZUBGLI\t\t\tfentanyl-analogue\tI+II+IV\t1961\tyes\tI\ttemporary\t\t\n"
             "PJMPHNIQZUBGLI-D\t\t\tinternal-standard\tno\t\tno\tno\t\t\t\n"
             "mystery powder x\t\t\tfentanyl-precursor\tno\t\tno\tList I\timmediate "
             "precursor\t\t\n",
             HEADER);
    const char *table = write_text("forms.tsv", buf);
    sm_builder *b = NULL;
    sm_error e = fresh_err();
    assert_int_equal(sm_builder_new(&b, &e), SM_OK);
    assert_int_equal(sm_builder_set_controls(b, table, &e), SM_OK);
    for (size_t i = I_FENTANYL; i < N_ALL; i++)
        assert_int_equal(sm_builder_add(b, &spectra[i], &e), SM_OK);
    assert_int_equal(sm_builder_add_source(b, write_text("src.msp", "x\n"), N_HAND, &e), SM_OK);
    assert_int_equal(sm_builder_write(b, tmp("forms.h5"), &e), SM_OK);
    sm_builder_free(b);
    sm_library *lib = open_lib(tmp("forms.h5"), 0);
    assert_summary(lib, 0,
                   "SCHEDULED: UN 1961 Schedules I, II and IV (1961); INCB list of "
                   "fentanyl-related substances; US CSA Schedule I (temporary)");
    assert_summary(lib, 1, "not scheduled under the table's sources");
    assert_false(sm_library_control_scheduled(lib, 1));
    assert_summary(lib, 2, "SCHEDULED: US List I chemical (immediate precursor)");
    sm_library_close(lib);
}

/* ------------------------------------------------------------------ */
/* The file                                                            */

/* Closes a file edited through HDF5 and rewrites the specmatch header, so that what
 * is left to catch is the reader's own checks (as in test_h5.c). */
static void close_sealed(hid_t f)
{
    char name[1024];
    assert_true(H5Fget_name(f, name, sizeof name) > 0);
    assert_true(H5Fclose(f) >= 0);
    sm_error e = fresh_err();
    assert_int_equal(sm_h5_seal_(name, &e), SM_OK);
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

static void expect_open_error(const char *path, sm_status want, const char *needle)
{
    const unsigned modes[] = {0, SM_OPEN_SEARCH_ONLY};
    for (size_t m = 0; m < 2; m++) {
        sm_library *lib = (sm_library *)1;
        sm_error e = fresh_err();
        sm_status st = sm_library_open_ex(path, modes[m], &lib, &e);
        if (st != want || strstr(e.message, needle) == NULL)
            print_error("%s: got %d '%s', wanted %d with '%s'\n", path, (int)st, e.message,
                        (int)want, needle);
        assert_int_equal(st, want);
        assert_null(lib);
        assert_non_null(strstr(e.message, needle));
    }
}

/* Layout and checksum as docs/FORMAT.md defines them, recomputed here. */
static void test_file_layout(void **state)
{
    (void)state;
    const char *table = write_table("controls.tsv");
    build(tmp("layout.h5"), table, false);
    hid_t f = H5Fopen(tmp("layout.h5"), H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    hid_t g = H5Gopen2(f, "/controls", H5P_DEFAULT);
    assert_true(g >= 0);

    uint64_t rows = 0;
    hid_t a = H5Aopen(g, "rows", H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Aread(a, H5T_NATIVE_UINT64, &rows) >= 0);
    H5Aclose(a);
    assert_int_equal(rows, TABLE_ROWS);

    char sum[128];
    memset(sum, 0, sizeof sum);
    a = H5Aopen(g, "checksum", H5P_DEFAULT);
    assert_true(a >= 0);
    hid_t t = H5Aget_type(a);
    assert_true(H5Tget_size(t) < sizeof sum);
    assert_true(H5Aread(a, t, sum) >= 0);
    H5Tclose(t);
    H5Aclose(a);

    /* n as uint64 LE, then per field in enum order: offsets (uint64 LE), data bytes */
    sm_sha256 c;
    uint8_t d[32], le[8];
    char want[80] = "sha256:";
    sm_sha256_init_(&c);
    uint64_t n = N_ALL;
    for (int k = 0; k < 8; k++)
        le[k] = (uint8_t)(n >> (8 * k));
    sm_sha256_update_(&c, le, 8);
    for (int fld = 0; fld < SM_CONTROL_COUNT; fld++) {
        char path[64];
        snprintf(path, sizeof path, "%s/offsets", sm_control_field_name((sm_control_field)fld));
        uint64_t off[N_ALL + 1];
        hid_t ds = H5Dopen2(g, path, H5P_DEFAULT);
        assert_true(ds >= 0);
        hid_t sp = H5Dget_space(ds);
        assert_int_equal(H5Sget_simple_extent_npoints(sp), N_ALL + 1);
        H5Sclose(sp);
        assert_true(H5Dread(ds, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, off) >= 0);
        H5Dclose(ds);
        for (size_t i = 0; i <= N_ALL; i++) {
            for (int k = 0; k < 8; k++)
                le[k] = (uint8_t)(off[i] >> (8 * k));
            sm_sha256_update_(&c, le, 8);
        }
        snprintf(path, sizeof path, "%s/data", sm_control_field_name((sm_control_field)fld));
        ds = H5Dopen2(g, path, H5P_DEFAULT);
        assert_true(ds >= 0);
        sp = H5Dget_space(ds);
        assert_int_equal(H5Sget_simple_extent_npoints(sp), (hssize_t)off[N_ALL]);
        H5Sclose(sp);
        unsigned char *bytes = malloc(off[N_ALL] + 1);
        assert_non_null(bytes);
        if (off[N_ALL] > 0)
            assert_true(H5Dread(ds, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes) >=
                        0);
        H5Dclose(ds);
        sm_sha256_update_(&c, bytes, off[N_ALL]);
        free(bytes);
    }
    sm_sha256_final_(&c, d);
    sm_hex_(d, sizeof d, want + 7);
    assert_string_equal(sum, want);
    H5Gclose(g);
    H5Fclose(f);

    /* The empty case by hand: n = 0 and eight offsets {0}, 72 zero bytes. */
    sm_library empty;
    memset(&empty, 0, sizeof empty);
    uint8_t zeros[72];
    memset(zeros, 0, sizeof zeros);
    sm_sha256_init_(&c);
    sm_sha256_update_(&c, zeros, sizeof zeros);
    sm_sha256_final_(&c, d);
    sm_hex_(d, sizeof d, want + 7);
    char got[80];
    sm_controls_checksum_(&empty, got);
    assert_string_equal(got, want);
}

/* /controls edited and the file resealed: its own checksum catches it. */
static void test_tampered(void **state)
{
    (void)state;
    const char *table = write_table("controls.tsv");
    build(tmp("orig.h5"), table, false);

    /* "fentanyl-analogue" -> "Fentanyl-analogue" */
    copy_file(tmp("orig.h5"), tmp("tampered.h5"));
    hid_t f = H5Fopen(tmp("tampered.h5"), H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    hid_t d = H5Dopen2(f, "/controls/class/data", H5P_DEFAULT);
    assert_true(d >= 0);
    hid_t fs = H5Dget_space(d);
    hsize_t at = 0, one = 1;
    hid_t ms = H5Screate_simple(1, &one, NULL);
    unsigned char v = 'F';
    assert_true(H5Sselect_hyperslab(fs, H5S_SELECT_SET, &at, NULL, &one, NULL) >= 0);
    assert_true(H5Dwrite(d, H5T_NATIVE_UCHAR, ms, fs, H5P_DEFAULT, &v) >= 0);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    close_sealed(f);
    expect_open_error(tmp("tampered.h5"), SM_ERR_CHECKSUM, "/controls");

    /* A column missing: a format error naming it. */
    copy_file(tmp("orig.h5"), tmp("nocol.h5"));
    f = H5Fopen(tmp("nocol.h5"), H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(H5Ldelete(f, "/controls/us_csa", H5P_DEFAULT) >= 0);
    close_sealed(f);
    expect_open_error(tmp("nocol.h5"), SM_ERR_FORMAT, "/controls/us_csa");

    /* Its checksum attribute missing: a format error. */
    copy_file(tmp("orig.h5"), tmp("nosum.h5"));
    f = H5Fopen(tmp("nosum.h5"), H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(H5Adelete_by_name(f, "/controls", "checksum", H5P_DEFAULT) >= 0);
    close_sealed(f);
    expect_open_error(tmp("nosum.h5"), SM_ERR_FORMAT, "checksum");

    /* The whole group removed: a library without a table, content intact. */
    copy_file(tmp("orig.h5"), tmp("nogroup.h5"));
    f = H5Fopen(tmp("nogroup.h5"), H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(H5Ldelete(f, "/controls", H5P_DEFAULT) >= 0);
    close_sealed(f);
    sm_library *lib = open_lib(tmp("nogroup.h5"), 0);
    assert_false(sm_library_has_controls(lib, NULL, NULL));
    assert_summary(lib, I_FENTANYL, "");
    sm_library_close(lib);
}

/* A file of format 1.0 (no /controls, minor 0 in its content checksum) still opens. */
static void test_format_10(void **state)
{
    (void)state;
    build(tmp("plain.h5"), NULL, false);
    sm_library lib;
    sm_error e = fresh_err();
    assert_int_equal(sm_h5_read_(tmp("plain.h5"), &lib, 0, &e), SM_OK);
    lib.fmt_minor = 0;
    sm_content_checksum_(&lib, lib.checksum);
    assert_int_equal(sm_h5_write_(&lib, tmp("v10.h5"), &e), SM_OK);
    sm_library_free_contents_(&lib);

    const unsigned modes[] = {0, SM_OPEN_SEARCH_ONLY};
    for (size_t m = 0; m < 2; m++) {
        sm_library *l = open_lib(tmp("v10.h5"), modes[m]);
        sm_library_info info;
        sm_library_get_info(l, &info);
        assert_int_equal(info.format_major, 1);
        assert_int_equal(info.format_minor, 0);
        assert_int_equal(info.n_spectra, N_ALL);
        assert_false(sm_library_has_controls(l, NULL, NULL));
        assert_summary(l, 0, "");
        sm_library_close(l);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_field_names),
        cmocka_unit_test(test_join_roundtrip),
        cmocka_unit_test(test_summary_buffer),
        cmocka_unit_test(test_no_table),
        cmocka_unit_test(test_table_errors),
        cmocka_unit_test(test_table_accepts),
        cmocka_unit_test(test_summary_forms),
        cmocka_unit_test(test_file_layout),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_format_10),
        cmocka_unit_test(test_no_source),
    };
    return cmocka_run_group_tests(tests, load_spectra, free_spectra);
}
