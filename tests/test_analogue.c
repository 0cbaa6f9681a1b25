/* test_analogue.c — the analogue analysis on real spectra: SWGDRUG fentanyl-class
 * compounds left out of the library one at a time, MassBank compounds not in it,
 * and the substitution table. The counts are those docs/ANALOGUES.md reports. */
#include "test_common.h"

/* A library spectrum's peaks, unpacked (one at a time). */
static sm_nominal_buf lib_buf;


static sm_library *lib;
static sm_searcher *searcher;
static sm_shifter *shifter;

static int setup(void **state)
{
    (void)state;
    sm_error e = {0};
    if (sm_library_open_ex(SM_DEFAULT_LIBRARY, SM_OPEN_SEARCH_ONLY, &lib, &e) != SM_OK)
        return -1;
    if (sm_searcher_new(lib, &searcher, &e) != SM_OK || sm_shifter_new(&shifter, &e) != SM_OK)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sm_shifter_free(shifter);
    sm_searcher_free(searcher);
    sm_library_close(lib);
    return 0;
}

/* Final verdict as the CLI gives it: identity first, set aside when a shifted relative
 * explains the spectrum clearly better, analogue when nothing is identified. */
static sm_verdict_status final_verdict(sm_nominal q, sm_verdict *v, sm_analogue *a,
                                       const sm_hit *h, size_t nh)
{
    sm_error e = {0};
    assert_int_equal(sm_judge(lib, q, h, nh, NULL, v, &e), SM_OK);
    assert_int_equal(sm_analogue_analyze(lib, shifter, q, h, nh, NULL, a, &e), SM_OK);
    sm_verdict_status before = v->status;
    sm_verdict_apply_analogue(v, a);
    if (a->shifted_better) {
        /* only a fentanyl-class identification, and only for a real shift */
        assert_true(sm_library_fentanyl_class(lib, h[0].index));
        assert_int_not_equal(a->best[0].delta_m, 0);
        assert_true(a->best[0].hybrid_mf >= a->best_direct + 35);
    }
    if (before == SM_VERDICT_IDENTIFIED || before == SM_VERDICT_ISOMERS) {
        if (a->shifted_better) {
            assert_int_equal(v->reason, SM_REASON_SHIFTED_RELATIVE);
            assert_int_equal(v->n_group, 0);
            assert_true(v->status == SM_VERDICT_ANALOGUE || v->status == SM_VERDICT_NO_MATCH);
        } else {
            assert_int_equal(v->status, before);
        }
    } else {
        assert_int_equal(v->status, a->suspected ? SM_VERDICT_ANALOGUE : SM_VERDICT_NO_MATCH);
    }
    return v->status;
}

static void test_fentanyl_left_out(void **state)
{
    (void)state;
    sm_error e = {0};
    size_t n = sm_library_size(lib);
    char (*key)[64] = malloc(n * 64);
    uint8_t *skip = calloc(n, 1);
    assert_non_null(key);
    assert_non_null(skip);
    for (size_t i = 0; i < n; i++)
        sm_compound_key(sm_library_field(lib, i, SM_FIELD_INCHIKEY),
                        sm_library_field(lib, i, SM_FIELD_NAME),
                        sm_library_field(lib, i, SM_FIELD_FORMULA), key[i], 64);
    sm_searcher_set_skip(searcher, skip);
    size_t queries = 0, analogue = 0, iso_fentanyl = 0, identified = 0, none = 0;
    size_t explainable = 0, explained = 0, unresolved = 0, set_aside = 0;
    size_t precursors = 0, found_not_precursor = 0; /* analogues and metabolites */
    for (size_t i = 0; i < n; i++) {
        if (strncmp(sm_library_control(lib, i, SM_CONTROL_CLASS), "fentanyl-", 9) != 0)
            continue;
        assert_true(sm_library_fentanyl_class(lib, i));
        for (size_t j = 0; j < n; j++)
            skip[j] = strcmp(key[i], key[j]) == 0;
        sm_hit h[SM_ANALOGUE_HITS];
        size_t nh;
        sm_nominal q = sm_library_nominal(lib, i, &lib_buf);
        assert_int_equal(sm_search_nominal(searcher, q, SM_ANALOGUE_HITS, SIZE_MAX, h, &nh, &e),
                         SM_OK);
        for (size_t j = 0; j < nh; j++)
            assert_int_equal(skip[h[j].index], 0);
        sm_verdict v;
        sm_analogue a;
        queries++;
        bool precursor =
            strcmp(sm_library_control(lib, i, SM_CONTROL_CLASS), "fentanyl-precursor") == 0;
        precursors += precursor;
        sm_verdict_status fv = final_verdict(q, &v, &a, h, nh);
        set_aside += v.reason == SM_REASON_SHIFTED_RELATIVE;
        if (!precursor && (fv == SM_VERDICT_ANALOGUE || fv == SM_VERDICT_ISOMERS))
            found_not_precursor++;
        switch (fv) {
        case SM_VERDICT_ANALOGUE: {
            analogue++;
            /* the closest analogue is fentanyl-class and reaches the threshold */
            assert_true(sm_library_fentanyl_class(lib, h[a.best[0].hit].index));
            assert_true(a.best[0].hybrid_mf >= 650);
            double dm = sm_library_mw(lib, i) - sm_library_mw(lib, h[a.best[0].hit].index);
            const char *why[2];
            if (dm != 0 && sm_shift_explain((int)lround(dm), why, 2) > 0) {
                explainable++;
                explained += a.best[0].delta_m == (int)lround(dm);
            }
            break;
        }
        case SM_VERDICT_ISOMERS: {
            bool all = true;
            for (size_t g = 0; g < v.n_group; g++)
                all &= sm_library_fentanyl_class(lib, h[v.group[g]].index);
            assert_true(all);
            iso_fentanyl++;
            /* named at the isomer level by the kind of isomer alone: the group is the
             * best compound, whose isomer (the left-out compound) the library lacks */
            if (v.n_group == 1) {
                assert_string_equal(v.unresolved,
                                    sm_library_unresolved_isomers(lib, h[v.group[0]].index));
                assert_true(*v.unresolved != '\0');
                unresolved++;
            }
            break;
        }
        case SM_VERDICT_IDENTIFIED:
            identified++;
            break;
        default:
            none++;
        }
    }
    sm_searcher_set_skip(searcher, NULL);
    printf("fentanyl-class left out: %zu queries: analogue %zu, fentanyl-only isomers %zu, "
           "identified (as another compound) %zu, no match %zu; delta M found %zu of %zu\n",
           queries, analogue, iso_fentanyl, identified, none, explained, explainable);
    assert_int_equal(queries, 167);
    assert_int_equal(analogue, 77);
    assert_int_equal(iso_fentanyl, 83);
    assert_int_equal(unresolved, 28);
    assert_int_equal(identified, 0);
    assert_int_equal(set_aside, 6); /* 3 identified as another mass, 3 isomer groups */
    assert_int_equal(precursors, 14);
    assert_int_equal(found_not_precursor, 152); /* of 153 */
    assert_int_equal(none, 7);
    assert_int_equal(explainable, 59);
    assert_int_equal(explained, 54);
    free(key);
    free(skip);
}

/* How a verdict and an analysis combine, each branch: an identification stands unless
 * a shifted relative explains the spectrum better; set aside, it becomes analogue or
 * no_match and says why; a no_match becomes analogue only when suspected. */
static void test_apply_analogue(void **state)
{
    (void)state;
    sm_verdict v;
    sm_analogue a;
    memset(&a, 0, sizeof a);
    memset(&v, 0, sizeof v);
    v.status = SM_VERDICT_IDENTIFIED;
    v.n_group = 1;
    v.unresolved = "";
    a.suspected = true; /* an identification is not replaced by a mere resemblance */
    sm_verdict_apply_analogue(&v, &a);
    assert_int_equal(v.status, SM_VERDICT_IDENTIFIED);
    assert_int_equal(v.n_group, 1);

    a.shifted_better = true; /* set aside, and the analogue rules hold */
    sm_verdict_apply_analogue(&v, &a);
    assert_int_equal(v.status, SM_VERDICT_ANALOGUE);
    assert_int_equal(v.reason, SM_REASON_SHIFTED_RELATIVE);
    assert_int_equal(v.n_group, 0);

    v.status = SM_VERDICT_ISOMERS; /* set aside, the analogue rules fail */
    v.n_group = 2;
    v.unresolved = "ring-position isomers";
    v.reason = SM_REASON_NONE;
    a.suspected = false;
    sm_verdict_apply_analogue(&v, &a);
    assert_int_equal(v.status, SM_VERDICT_NO_MATCH);
    assert_int_equal(v.reason, SM_REASON_SHIFTED_RELATIVE);
    assert_int_equal(v.n_group, 0);
    assert_string_equal(v.unresolved, "");
    assert_true(strlen(sm_verdict_reason_text(v.reason)) > 0);

    v.status = SM_VERDICT_NO_MATCH; /* nothing identified: analogue when suspected */
    v.reason = SM_REASON_LOW_MF;
    a.shifted_better = false;
    sm_verdict_apply_analogue(&v, &a);
    assert_int_equal(v.status, SM_VERDICT_NO_MATCH);
    assert_int_equal(v.reason, SM_REASON_LOW_MF);
    a.suspected = true;
    sm_verdict_apply_analogue(&v, &a);
    assert_int_equal(v.status, SM_VERDICT_ANALOGUE);
    assert_int_equal(v.reason, SM_REASON_NONE);

    sm_verdict_apply_analogue(&v, NULL); /* no analysis: nothing changes */
    assert_int_equal(v.status, SM_VERDICT_ANALOGUE);
    sm_verdict_apply_analogue(NULL, &a);
}

/* Right identifications are never set aside: every fentanyl-class spectrum whose
 * compound has another spectrum, searched without itself. The shifted relatives of the
 * right compounds stay within 26 hybrid MF of its direct match (the margin is 35). */
static void test_replicates_kept(void **state)
{
    (void)state;
    sm_error e = {0};
    size_t n = sm_library_size(lib);
    char (*key)[64] = malloc(n * 64);
    assert_non_null(key);
    for (size_t i = 0; i < n; i++)
        sm_compound_key(sm_library_field(lib, i, SM_FIELD_INCHIKEY),
                        sm_library_field(lib, i, SM_FIELD_NAME),
                        sm_library_field(lib, i, SM_FIELD_FORMULA), key[i], 64);
    size_t queries = 0, right = 0, kept = 0;
    double worst = -1000;
    for (size_t i = 0; i < n; i++) {
        if (!sm_library_fentanyl_class(lib, i))
            continue;
        bool other = false;
        for (size_t j = 0; j < n && !other; j++)
            other = j != i && strcmp(key[i], key[j]) == 0;
        if (!other)
            continue;
        sm_hit h[SM_ANALOGUE_HITS];
        size_t nh;
        sm_nominal q = sm_library_nominal(lib, i, &lib_buf);
        assert_int_equal(sm_search_nominal(searcher, q, SM_ANALOGUE_HITS, i, h, &nh, &e), SM_OK);
        sm_verdict v;
        sm_analogue a;
        assert_int_equal(sm_judge(lib, q, h, nh, NULL, &v, &e), SM_OK);
        queries++;
        bool ok = false;
        for (size_t g = 0; g < v.n_group; g++)
            ok |= strcmp(key[h[v.group[g]].index], key[i]) == 0;
        if (!ok || (v.status != SM_VERDICT_IDENTIFIED && v.status != SM_VERDICT_ISOMERS))
            continue;
        right++;
        assert_int_equal(sm_analogue_analyze(lib, shifter, q, h, nh, NULL, &a, &e), SM_OK);
        if (a.best[0].delta_m != 0 && a.best[0].hybrid_mf - a.best_direct > worst)
            worst = a.best[0].hybrid_mf - a.best_direct;
        sm_verdict_status before = v.status;
        sm_verdict_apply_analogue(&v, &a);
        kept += v.status == before;
    }
    printf("fentanyl-class replicates: %zu queries, %zu right, %zu kept; largest lead of a "
           "shifted relative %.1f\n",
           queries, right, kept, worst);
    assert_int_equal(queries, 22);
    assert_int_equal(right, 21);
    assert_int_equal(kept, right);
    assert_true(worst < 35);
    free(key);
}

static void test_massbank_false_alarms(void **state)
{
    (void)state;
    sm_reader *r;
    sm_error e = {0};
    sm_spectrum s;
    sm_spectrum_init(&s);
    assert_int_equal(sm_reader_open(spectra_file("massbank-ei-not-in-library.msp"), &r, &e),
                     SM_OK);
    static uint16_t mz[SM_MAX_NOMINAL_MZ + 1], in[SM_MAX_NOMINAL_MZ + 1];
    size_t queries = 0, alarms = 0;
    sm_status st;
    while ((st = sm_reader_next(r, &s, &e)) != SM_END) {
        assert_int_equal(st, SM_OK);
        size_t qn = 0;
        assert_int_equal(sm_preprocess(s.peaks, s.n_peaks, mz, in, SM_MAX_NOMINAL_MZ + 1, &qn,
                                       &e),
                         SM_OK);
        sm_nominal q = {qn, mz, in};
        sm_hit h[SM_ANALOGUE_HITS];
        size_t nh;
        assert_int_equal(sm_search_nominal(searcher, q, SM_ANALOGUE_HITS, SIZE_MAX, h, &nh, &e),
                         SM_OK);
        sm_verdict v;
        sm_analogue a;
        queries++;
        alarms += final_verdict(q, &v, &a, h, nh) == SM_VERDICT_ANALOGUE;
    }
    sm_spectrum_clear(&s);
    sm_reader_close(r);
    printf("MassBank not in library: %zu of %zu called analogue\n", alarms, queries);
    assert_int_equal(queries, 4555);
    assert_int_equal(alarms, 6);
}

static void test_shift_table(void **state)
{
    (void)state;
    const char *why[4];
    assert_int_equal(sm_shift_explain(14, why, 4), 1);
    assert_non_null(strstr(why[0], "CH2"));
    assert_int_equal(sm_shift_explain(18, why, 4), 1);
    assert_non_null(strstr(why[0], "F for H"));
    assert_int_equal(sm_shift_explain(-14, why, 4), 1);
    assert_int_equal(sm_shift_explain(7, why, 4), 0);
    assert_int_equal(sm_shift_explain(0, why, 4), 0);
    assert_int_equal(sm_shift_explain(14, why, 0), 0);
    /* nothing to analyse */
    sm_analogue a;
    sm_error e = {0};
    sm_nominal empty = {0, NULL, NULL};
    assert_int_equal(sm_analogue_analyze(lib, shifter, empty, NULL, 0, NULL, &a, &e), SM_OK);
    assert_false(a.suspected);
    assert_int_equal(a.n, 0);
    assert_int_equal(sm_analogue_analyze(lib, NULL, empty, NULL, 0, NULL, &a, &e), SM_ERR_ARG);
}

static size_t find_name(const char *name)
{
    for (size_t i = 0; i < sm_library_size(lib); i++)
        if (strcmp(sm_library_field(lib, i, SM_FIELD_NAME), name) == 0)
            return i;
    fail_msg("no library spectrum named %s", name);
    return SIZE_MAX;
}

/* Which fentanyl analogues have isomers that EI-MS does not tell apart, by name. */
static void test_unresolved_isomers(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        char kind; /* r ring position, a acyl group, - none */
    } cases[] = {
        {"ortho-Methyl Acrylfentanyl", 'r'},
        {"p-Fluorofentanyl", 'r'},
        {"2'-Fluoro ortho-Fluorofentanyl", 'r'},
        {"3'-Methyl Fentanyl", 'r'},
        {"Despropionyl-2-fluorofentanyl", 'r'},
        {"Fentanyl meta tolyl analog", 'r'},
        {"3-Furanyl fentanyl", 'r'},
        {"Acetyl fentanyl 4-methylphenethyl analog", 'r'},
        {"Isobutyryl fentanyl", 'a'},
        {"(2-Methyl) Butyryl fentanyl", 'a'},
        {"Crotonyl fentanyl", 'a'},
        {"Cyclopropyl fentanyl", 'a'},
        {"Senecioylfentanyl", 'a'},
        {"Pivaloyl fentanyl", 'a'},
        {"Tetrahydrofuran fentanyl", 'a'},
        {"cis-3-Methyl Butyryl fentanyl", 'a'},
        {"Fentanyl", '-'},
        {"Acetyl fentanyl", '-'},
        {"Acrylfentanyl", '-'},
        {"cis-3-Methyl Thiofentanyl", '-'},   /* 3-: the piperidine's position */
        {"Trans-3-methyl Norfentanyl", '-'},
        {"Furanylethyl fentanyl", '-'},       /* the furan is in the phenethyl part */
        {"4-Anilino-N-phenethylpiperidine", '-'},
        {".alpha.-Methylfentanyl", '-'},
        {"Cocaine", '-'},                     /* not fentanyl-class */
        {"4-Fluoroamphetamine", '-'},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *k = sm_library_unresolved_isomers(lib, find_name(cases[c].name));
        char got = *k == '\0' ? '-' : strncmp(k, "ring", 4) == 0 ? 'r' : 'a';
        if (got != cases[c].kind)
            fail_msg("%s: expected %c, got '%s'", cases[c].name, cases[c].kind, k);
    }
    assert_string_equal(sm_library_unresolved_isomers(lib, sm_library_size(lib)), "");
    assert_string_equal(sm_library_unresolved_isomers(NULL, 0), "");

    /* In the library, p-fluorofentanyl and isobutyryl fentanyl match themselves best
     * and no compound of their mass comes within 60 MF: still named at the isomer
     * level, by the kind of isomer that their spectra cannot exclude. */
    sm_error e = {0};
    sm_hit h[SM_JUDGE_HITS];
    size_t nh;
    sm_verdict v;
    sm_nominal q;
    static const char *const flagged[2] = {"p-Fluorofentanyl", "Isobutyryl fentanyl"};
    static const char *const kind[2] = {"ring-position", "acyl-group"};
    for (int t = 0; t < 2; t++) {
        size_t i = find_name(flagged[t]);
        q = sm_library_nominal(lib, i, &lib_buf);
        assert_int_equal(sm_search_nominal(searcher, q, SM_JUDGE_HITS, SIZE_MAX, h, &nh, &e),
                         SM_OK);
        assert_int_equal(h[0].index, i);
        assert_int_equal(sm_judge(lib, q, h, nh, NULL, &v, &e), SM_OK);
        assert_int_equal(v.status, SM_VERDICT_ISOMERS);
        assert_int_equal(v.n_group, 1);
        assert_int_equal(h[v.group[0]].index, i);
        assert_non_null(strstr(v.unresolved, kind[t]));
    }
    /* fentanyl itself is identified */
    size_t fentanyl = find_name("Fentanyl");
    q = sm_library_nominal(lib, fentanyl, &lib_buf);
    assert_int_equal(sm_search_nominal(searcher, q, SM_JUDGE_HITS, SIZE_MAX, h, &nh, &e), SM_OK);
    assert_int_equal(sm_judge(lib, q, h, nh, NULL, &v, &e), SM_OK);
    assert_int_equal(v.status, SM_VERDICT_IDENTIFIED);
    assert_string_equal(v.unresolved, "");
}

/* With the MW given, the shift is MW(unknown) - MW(library) for every candidate. */
static void test_given_mw(void **state)
{
    (void)state;
    sm_error e = {0};
    size_t n = sm_library_size(lib), cyclopentyl = SIZE_MAX;
    for (size_t i = 0; i < n && cyclopentyl == SIZE_MAX; i++)
        if (strcmp(sm_library_field(lib, i, SM_FIELD_NAME), "Cyclopentyl fentanyl") == 0)
            cyclopentyl = i;
    assert_int_not_equal(cyclopentyl, SIZE_MAX);
    sm_hit h[SM_ANALOGUE_HITS];
    size_t nh;
    sm_nominal q = sm_library_nominal(lib, cyclopentyl, &lib_buf);
    assert_int_equal(sm_search_nominal(searcher, q, SM_ANALOGUE_HITS, cyclopentyl, h, &nh, &e),
                     SM_OK);
    sm_analogue_params p;
    sm_analogue_defaults(&p);
    p.query_mw = sm_library_mw(lib, cyclopentyl);
    sm_analogue a;
    assert_int_equal(sm_analogue_analyze(lib, shifter, q, h, nh, &p, &a, &e), SM_OK);
    assert_int_equal(a.mw_source, 1);
    assert_int_equal(a.query_mw, (unsigned)lround(p.query_mw));
    for (size_t k = 0; k < a.n; k++) {
        double lmw = sm_library_mw(lib, h[a.best[k].hit].index);
        int dm = a.best[k].delta_m;
        assert_true(dm == 0 || dm == (int)lround(p.query_mw - lmw));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shift_table),
        cmocka_unit_test(test_apply_analogue),
        cmocka_unit_test(test_given_mw),
        cmocka_unit_test(test_unresolved_isomers),
        cmocka_unit_test(test_fentanyl_left_out),
        cmocka_unit_test(test_replicates_kept),
        cmocka_unit_test(test_massbank_false_alarms),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
