/* test_search.c — searching the SWGDRUG library: the sample, self-search, MassBank identification. */
#include "test_common.h"

static sm_library *lib;
static sm_searcher *searcher;

static int setup(void **state)
{
    (void)state;
    sm_error e = {0};
    if (sm_library_open(SM_DEFAULT_LIBRARY, &lib, &e) != SM_OK) {
        fprintf(stderr, "cannot open %s: %s\n", SM_DEFAULT_LIBRARY, e.message);
        return -1;
    }
    return sm_searcher_new(lib, &searcher, &e) == SM_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    sm_searcher_free(searcher);
    sm_library_close(lib);
    return 0;
}

static void test_sample_is_fentanyl(void **state)
{
    (void)state;
    sm_reader *r;
    sm_error e = {0};
    sm_spectrum s;
    sm_spectrum_init(&s);
    assert_int_equal(sm_reader_open(spectra_file("samples/fentanyl-replicate.msp"), &r, &e),
                     SM_OK);
    assert_int_equal(sm_reader_next(r, &s, &e), SM_OK);
    sm_hit hits[10];
    size_t n = 0;
    assert_int_equal(sm_search(searcher, &s, 10, hits, &n, &e), SM_OK);
    assert_int_equal(n, 10);
    assert_string_equal(sm_library_field(lib, hits[0].index, SM_FIELD_NAME), "Fentanyl");
    assert_string_equal(sm_library_field(lib, hits[0].index, SM_FIELD_INCHIKEY),
                        "PJMPHNIQZUBGLI-UHFFFAOYSA-N");
    assert_string_equal(sm_library_field(lib, hits[0].index, SM_FIELD_ID), "3919");
    assert_near(hits[0].mf, 941.62, 0.005);
    assert_near(hits[0].rmf, 942.45, 0.005);
    for (size_t j = 1; j < n; j++)
        assert_true(hits[j - 1].mf >= hits[j].mf);
    /* the same search with k = 3 gives the first three hits */
    sm_hit three[3];
    assert_int_equal(sm_search(searcher, &s, 3, three, &n, &e), SM_OK);
    assert_int_equal(n, 3);
    for (size_t j = 0; j < 3; j++) {
        assert_int_equal(three[j].index, hits[j].index);
        assert_near(three[j].mf, hits[j].mf, 0);
    }
    sm_spectrum_clear(&s);
    sm_reader_close(r);
}

static bool same_spectrum(sm_nominal a, sm_nominal b)
{
    return a.n == b.n && memcmp(a.mz, b.mz, a.n * sizeof *a.mz) == 0 &&
           memcmp(a.intensity, b.intensity, a.n * sizeof *a.intensity) == 0;
}

/* Every library spectrum finds an identical spectrum (itself or a duplicate) at
 * rank 1 with MF >= 998; left out, it finds something else. */
static void test_self_search(void **state)
{
    (void)state;
    sm_error e = {0};
    size_t n_lib = sm_library_size(lib), ok = 0;
    assert_int_equal(n_lib, 2988);
    for (size_t i = 0; i < n_lib; i++) {
        sm_hit h;
        size_t n = 0;
        sm_nominal q = sm_library_nominal(lib, i);
        assert_int_equal(sm_search_nominal(searcher, q, 1, SIZE_MAX, &h, &n, &e), SM_OK);
        assert_int_equal(n, 1);
        if (same_spectrum(q, sm_library_nominal(lib, h.index)) && sm_mf_display(h.mf) >= 998)
            ok++;
        else
            fprintf(stderr, "spectrum %zu: rank 1 is %zu with MF %.2f\n", i, h.index, h.mf);
        if (i % 500 == 0) {
            assert_int_equal(sm_search_nominal(searcher, q, 1, i, &h, &n, &e), SM_OK);
            assert_int_not_equal(h.index, i);
        }
    }
    assert_int_equal(ok, n_lib);
}

/* MassBank replicates of SWGDRUG compounds, counted by InChIKey first block with
 * deuterated standards apart: 326 of the 332 are in the library. */
static void test_massbank_identification(void **state)
{
    (void)state;
    size_t n_lib = sm_library_size(lib);
    char(*keys)[64] = calloc(n_lib, sizeof *keys);
    assert_non_null(keys);
    for (size_t i = 0; i < n_lib; i++)
        sm_compound_key(sm_library_field(lib, i, SM_FIELD_INCHIKEY),
                        sm_library_field(lib, i, SM_FIELD_NAME),
                        sm_library_field(lib, i, SM_FIELD_FORMULA), keys[i], sizeof keys[i]);
    sm_reader *r;
    sm_error e = {0};
    sm_spectrum s;
    sm_spectrum_init(&s);
    assert_int_equal(sm_reader_open(spectra_file("massbank-ei-in-library.msp"), &r, &e),
                     SM_OK);
    size_t in_lib = 0, top1 = 0, total = 0;
    while (sm_reader_next(r, &s, &e) == SM_OK) {
        total++;
        char key[64];
        sm_compound_key(s.field[SM_FIELD_INCHIKEY], s.field[SM_FIELD_NAME],
                        s.field[SM_FIELD_FORMULA], key, sizeof key);
        bool present = false;
        for (size_t i = 0; i < n_lib && !present; i++)
            present = strcmp(keys[i], key) == 0;
        if (!present)
            continue;
        in_lib++;
        sm_hit h;
        size_t n = 0;
        assert_int_equal(sm_search(searcher, &s, 1, &h, &n, &e), SM_OK);
        if (strcmp(keys[h.index], key) == 0)
            top1++;
    }
    assert_int_equal(total, 332);
    assert_int_equal(in_lib, 326);
    printf("MassBank in-library top-1: %zu of %zu\n", top1, in_lib);
    assert_int_equal(top1, 274);
    sm_spectrum_clear(&s);
    sm_reader_close(r);
    free(keys);
}

static void test_bad_query(void **state)
{
    (void)state;
    sm_spectrum s;
    sm_spectrum_init(&s);
    sm_hit h;
    size_t n = 7;
    sm_error e = {0};
    assert_int_equal(sm_search(searcher, &s, 1, &h, &n, &e), SM_ERR_PARSE);
    assert_int_equal(n, 0);
    assert_non_null(strstr(e.message, "no peaks"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_is_fentanyl),
        cmocka_unit_test(test_self_search),
        cmocka_unit_test(test_massbank_identification),
        cmocka_unit_test(test_bad_query),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
