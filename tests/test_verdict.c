/* test_verdict.c — verdicts on real spectra: identified, isomers, each no-match reason,
 * and the rates on the sets docs/VERDICTS.md reports. */
#include "test_common.h"

/* A library spectrum's peaks, unpacked (one at a time). */
static sm_nominal_buf lib_buf;


static sm_library *lib;
static sm_searcher *searcher;

static int setup(void **state)
{
    (void)state;
    sm_error e = {0};
    if (sm_library_open_ex(SM_DEFAULT_LIBRARY, SM_OPEN_SEARCH_ONLY, &lib, &e) != SM_OK) {
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

static uint16_t qmz[SM_MAX_NOMINAL_MZ + 1], qin[SM_MAX_NOMINAL_MZ + 1];

/* First spectrum of a shared file, preprocessed; extra (m/z, intensity) peaks added
 * to the raw peaks first when extra_n > 0. */
static sm_nominal read_query(const char *file, const sm_peak *extra, size_t extra_n)
{
    sm_reader *r;
    sm_error e = {0};
    sm_spectrum s;
    sm_spectrum_init(&s);
    assert_int_equal(sm_reader_open(spectra_file(file), &r, &e), SM_OK);
    assert_int_equal(sm_reader_next(r, &s, &e), SM_OK);
    sm_peak *p = malloc((s.n_peaks + extra_n) * sizeof *p);
    assert_non_null(p);
    memcpy(p, s.peaks, s.n_peaks * sizeof *p);
    if (extra_n)
        memcpy(p + s.n_peaks, extra, extra_n * sizeof *p);
    size_t n = 0;
    assert_int_equal(sm_preprocess(p, s.n_peaks + extra_n, qmz, qin, SM_MAX_NOMINAL_MZ + 1, &n,
                                   &e),
                     SM_OK);
    free(p);
    sm_spectrum_clear(&s);
    sm_reader_close(r);
    return (sm_nominal){n, qmz, qin};
}

static const char *hit_name(const sm_hit *h, size_t pos)
{
    return sm_library_field(lib, h[pos].index, SM_FIELD_NAME);
}

static void test_sample_identified(void **state)
{
    (void)state;
    sm_error e = {0};
    sm_hit h[SM_JUDGE_HITS];
    size_t n;
    sm_nominal q = read_query("samples/fentanyl-replicate.msp", NULL, 0);
    assert_int_equal(sm_search_nominal(searcher, q, SM_JUDGE_HITS, SIZE_MAX, h, &n, &e), SM_OK);
    sm_verdict v;
    assert_int_equal(sm_judge(lib, q, h, n, NULL, &v, &e), SM_OK);
    assert_int_equal(v.status, SM_VERDICT_IDENTIFIED);
    assert_string_equal(sm_verdict_status_name(v.status), "identified");
    assert_int_equal(v.reason, SM_REASON_NONE);
    assert_int_equal(v.n_group, 1);
    assert_int_equal(v.group[0], 0);
    assert_string_equal(hit_name(h, v.best), "Fentanyl");
    /* the next compound is .beta.-methyl fentanyl (MW 350, not an isomer), 55.88 below */
    assert_int_equal(v.competitor, 1);
    assert_string_equal(hit_name(h, v.competitor), ".beta.-Methyl Fentanyl");
    assert_near(v.features[2], 941.62 - 885.74, 0.01);
    assert_int_equal(v.ion_above, 0);
    assert_true(v.confidence > 0.5 && v.confidence < 1);

    /* The same spectrum with an ion of 8% at m/z 400, far above fentanyl's M+ at 336:
     * not fentanyl alone, whatever the MF says. */
    sm_peak extra = {400, 80};
    q = read_query("samples/fentanyl-replicate.msp", &extra, 1);
    assert_int_equal(sm_search_nominal(searcher, q, SM_JUDGE_HITS, SIZE_MAX, h, &n, &e), SM_OK);
    assert_int_equal(sm_judge(lib, q, h, n, NULL, &v, &e), SM_OK);
    assert_int_equal(v.status, SM_VERDICT_NO_MATCH);
    assert_int_equal(v.reason, SM_REASON_IONS_ABOVE_MW);
    assert_int_equal(v.ion_above, 400);
    assert_int_equal(v.n_group, 0);
    assert_int_not_equal(v.best, SIZE_MAX);

    /* A threshold above the best MF: no match, best hit still named. */
    sm_judge_params p;
    sm_judge_defaults(&p);
    assert_near(p.min_mf, 850, 0);
    q = read_query("samples/fentanyl-replicate.msp", NULL, 0);
    assert_int_equal(sm_search_nominal(searcher, q, SM_JUDGE_HITS, SIZE_MAX, h, &n, &e), SM_OK);
    p.min_mf = 950;
    assert_int_equal(sm_judge(lib, q, h, n, &p, &v, &e), SM_OK);
    assert_int_equal(v.status, SM_VERDICT_NO_MATCH);
    assert_int_equal(v.reason, SM_REASON_LOW_MF);
    assert_string_equal(hit_name(h, v.best), "Fentanyl");
    /* A competitor margin wider than the gap to beta-methyl fentanyl: unresolved. */
    sm_judge_defaults(&p);
    p.other_margin = 60;
    assert_int_equal(sm_judge(lib, q, h, n, &p, &v, &e), SM_OK);
    assert_int_equal(v.status, SM_VERDICT_NO_MATCH);
    assert_int_equal(v.reason, SM_REASON_UNRESOLVED);
}

/* Chlorine's M+2: 2-chlorophenol (MassBank, first record) has ions at 130 and 131
 * above its MW 128; they are isotopes, not evidence against the hit. */
static void test_isotopes_allowed(void **state)
{
    (void)state;
    sm_error e = {0};
    sm_hit h[SM_JUDGE_HITS];
    size_t n;
    sm_nominal q = read_query("massbank-ei-in-library.msp", NULL, 0);
    assert_int_equal(sm_search_nominal(searcher, q, SM_JUDGE_HITS, SIZE_MAX, h, &n, &e), SM_OK);
    assert_string_equal(hit_name(h, 0), "Chlorophenol");
    bool above_128 = false;
    for (size_t j = 0; j < q.n; j++)
        above_128 |= q.mz[j] == 130 && q.intensity[j] >= 20;
    assert_true(above_128);
    sm_verdict v;
    assert_int_equal(sm_judge(lib, q, h, n, NULL, &v, &e), SM_OK);
    assert_int_equal(v.ion_above, 0);
    /* MF 831.80 is below the identification threshold */
    assert_int_equal(v.status, SM_VERDICT_NO_MATCH);
    assert_int_equal(v.reason, SM_REASON_LOW_MF);
}

/* SWGDRUG N-propyl-3,4-methylenedioxyamphetamine searched without itself: its other
 * spectrum (as 3,4-MDPA) and a compound of the same mass cannot be told apart. */
static void test_isomers(void **state)
{
    (void)state;
    sm_error e = {0};
    sm_hit h[SM_JUDGE_HITS];
    size_t n;
    size_t i = 25;
    assert_string_equal(sm_library_field(lib, i, SM_FIELD_NAME),
                        "N-Propyl-3,4-methylenedioxyamphetamine");
    assert_int_equal(sm_search_nominal(searcher, sm_library_nominal(lib, i, &lib_buf), SM_JUDGE_HITS, i, h,
                                       &n, &e),
                     SM_OK);
    sm_verdict v;
    assert_int_equal(sm_judge(lib, sm_library_nominal(lib, i, &lib_buf), h, n, NULL, &v, &e), SM_OK);
    assert_int_equal(v.status, SM_VERDICT_ISOMERS);
    assert_int_equal(v.n_group, 2);
    char k0[64], k1[64];
    bool has_self = false;
    for (size_t g = 0; g < v.n_group; g++) {
        size_t li = h[v.group[g]].index;
        sm_compound_key(sm_library_field(lib, li, SM_FIELD_INCHIKEY),
                        sm_library_field(lib, li, SM_FIELD_NAME),
                        sm_library_field(lib, li, SM_FIELD_FORMULA), g ? k1 : k0, 64);
        has_self |= strncmp(sm_library_field(lib, li, SM_FIELD_INCHIKEY), "LBXMQBTXOLBCCA", 14) == 0;
        assert_near(sm_library_mw(lib, li), sm_library_mw(lib, i), 0);
    }
    assert_true(has_self);
    assert_string_not_equal(k0, k1);
}

static void test_no_hits_and_bad_args(void **state)
{
    (void)state;
    sm_error e = {0};
    sm_verdict v;
    sm_nominal q = read_query("samples/fentanyl-replicate.msp", NULL, 0);
    assert_int_equal(sm_judge(lib, q, NULL, 0, NULL, &v, &e), SM_OK);
    assert_int_equal(v.status, SM_VERDICT_NO_MATCH);
    assert_int_equal(v.reason, SM_REASON_NO_HITS);
    assert_int_equal(v.best, SIZE_MAX);
    sm_hit bad = {sm_library_size(lib), 900, 900};
    assert_int_equal(sm_judge(lib, q, &bad, 1, NULL, &v, &e), SM_ERR_ARG);
    assert_int_equal(sm_judge(lib, q, NULL, 1, NULL, &v, &e), SM_ERR_ARG);
    assert_string_equal(sm_verdict_status_name(SM_VERDICT_ANALOGUE), "analogue");
    assert_non_null(strstr(sm_verdict_caution(), "presumptive"));
}

static void key_of(size_t i, char out[64])
{
    sm_compound_key(sm_library_field(lib, i, SM_FIELD_INCHIKEY),
                    sm_library_field(lib, i, SM_FIELD_NAME),
                    sm_library_field(lib, i, SM_FIELD_FORMULA), out, 64);
}

/* Replicate test: every SWGDRUG spectrum of a compound with two or more spectra,
 * searched without itself. The counts docs/VERDICTS.md reports. */
static void test_replicate_rates(void **state)
{
    (void)state;
    sm_error e = {0};
    size_t n_lib = sm_library_size(lib);
    char (*keys)[64] = malloc(n_lib * 64);
    assert_non_null(keys);
    for (size_t i = 0; i < n_lib; i++)
        key_of(i, keys[i]);
    size_t queries = 0, id_right = 0, id_wrong = 0, iso_right = 0, iso_wrong = 0, none = 0;
    for (size_t i = 0; i < n_lib; i++) {
        size_t same = 0;
        for (size_t j = 0; j < n_lib && same < 2; j++)
            same += strcmp(keys[i], keys[j]) == 0;
        if (same < 2)
            continue;
        queries++;
        sm_hit h[SM_JUDGE_HITS];
        size_t n;
        sm_nominal q = sm_library_nominal(lib, i, &lib_buf);
        assert_int_equal(sm_search_nominal(searcher, q, SM_JUDGE_HITS, i, h, &n, &e), SM_OK);
        sm_verdict v;
        assert_int_equal(sm_judge(lib, q, h, n, NULL, &v, &e), SM_OK);
        bool right = false;
        for (size_t g = 0; g < v.n_group; g++)
            right |= strcmp(keys[h[v.group[g]].index], keys[i]) == 0;
        if (v.status == SM_VERDICT_IDENTIFIED)
            right ? id_right++ : id_wrong++;
        else if (v.status == SM_VERDICT_ISOMERS)
            right ? iso_right++ : iso_wrong++;
        else
            none++;
    }
    printf("replicates: %zu queries, identified %zu right %zu wrong, isomers %zu holding the "
           "compound %zu not, no match %zu\n",
           queries, id_right, id_wrong, iso_right, iso_wrong, none);
    assert_int_equal(queries, 256);
    assert_int_equal(id_right, 160);
    assert_int_equal(id_wrong, 1);
    assert_int_equal(iso_right, 44);
    assert_int_equal(iso_wrong, 4);
    assert_int_equal(none, 47);
    /* the floor: >= 75% right identified or isomers */
    assert_true((id_right + iso_right) * 100 >= 75 * queries);
    free(keys);
}

/* MassBank: compounds in the library (identification) and not in it (false
 * identifications must stay at or below 1%). */
static void count_file(const char *file, size_t *queries, size_t *identified,
                       size_t *isomers, size_t *right)
{
    sm_reader *r;
    sm_error e = {0};
    sm_spectrum s;
    sm_spectrum_init(&s);
    assert_int_equal(sm_reader_open(spectra_file(file), &r, &e), SM_OK);
    *queries = *identified = *isomers = *right = 0;
    sm_status st;
    while ((st = sm_reader_next(r, &s, &e)) != SM_END) {
        assert_int_equal(st, SM_OK);
        size_t n = 0;
        assert_int_equal(sm_preprocess(s.peaks, s.n_peaks, qmz, qin, SM_MAX_NOMINAL_MZ + 1, &n,
                                       &e),
                         SM_OK);
        sm_nominal q = {n, qmz, qin};
        sm_hit h[SM_JUDGE_HITS];
        size_t nh;
        assert_int_equal(sm_search_nominal(searcher, q, SM_JUDGE_HITS, SIZE_MAX, h, &nh, &e),
                         SM_OK);
        sm_verdict v;
        assert_int_equal(sm_judge(lib, q, h, nh, NULL, &v, &e), SM_OK);
        char truth[64], k[64];
        sm_compound_key(s.field[SM_FIELD_INCHIKEY], s.field[SM_FIELD_NAME],
                        s.field[SM_FIELD_FORMULA], truth, sizeof truth);
        bool ok = false;
        for (size_t g = 0; g < v.n_group; g++) {
            key_of(h[v.group[g]].index, k);
            ok |= strcmp(k, truth) == 0;
        }
        (*queries)++;
        *identified += v.status == SM_VERDICT_IDENTIFIED;
        *isomers += v.status == SM_VERDICT_ISOMERS;
        *right += ok;
    }
    sm_spectrum_clear(&s);
    sm_reader_close(r);
}

static void test_massbank_rates(void **state)
{
    (void)state;
    size_t q, id, iso, right;
    count_file("massbank-ei-not-in-library.msp", &q, &id, &iso, &right);
    printf("MassBank not in library: %zu queries, %zu identified (false), %zu isomers\n", q, id,
           iso);
    assert_int_equal(q, 4555);
    assert_int_equal(id, 36);
    assert_int_equal(iso, 0);
    assert_int_equal(right, 0);
    assert_true(id * 100 <= q); /* <= 1% */
    count_file("massbank-ei-in-library.msp", &q, &id, &iso, &right);
    printf("MassBank in library: %zu queries, %zu identified, %zu isomers, %zu right\n", q, id,
           iso, right);
    assert_int_equal(q, 332);
    assert_int_equal(id, 158);
    assert_int_equal(iso, 1);
    assert_int_equal(right, 154);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_identified),
        cmocka_unit_test(test_isotopes_allowed),
        cmocka_unit_test(test_isomers),
        cmocka_unit_test(test_no_hits_and_bad_args),
        cmocka_unit_test(test_replicate_rates),
        cmocka_unit_test(test_massbank_rates),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
