/* test_score.c — identity and reverse match factors: hand-computed cases and the published reference values. */
#include "test_common.h"

#include "kernels/kernels.h"

#include "sm_internal.h"

static sm_nominal view(const uint16_t *mz, const uint16_t *in, size_t n)
{
    sm_nominal v = {n, mz, in};
    return v;
}

/* A: u = {50:999, 51:500}, l = {50:999, 51:250}.
 * T1 = (50*999 + 51*sqrt(500*250))^2 / ((50*999 + 51*500) * (50*999 + 51*250))
 * T2 = min(R, 1/R) with R = sqrt(500)/sqrt(250) = sqrt(2): 1/sqrt(2)
 * MF = 1000 * (2*T1 + 1*T2) / 3 - 0.5 = 886.47050346 */
static const uint16_t a_mz[] = {50, 51}, au_in[] = {999, 500}, al_in[] = {999, 250};

static void test_identical(void **state)
{
    (void)state;
    double mf = sm_match_factor(view(a_mz, au_in, 2), view(a_mz, au_in, 2), 0);
    assert_near(mf, 999.5, 1e-9);
    assert_int_equal(sm_mf_display(mf), 999); /* 1000 shown as 999 */
}

static void test_two_peaks(void **state)
{
    (void)state;
    double t1 = pow(50.0 * 999 + 51 * sqrt(500.0 * 250), 2) /
                ((50.0 * 999 + 51 * 500) * (50.0 * 999 + 51 * 250));
    double expect = 1000 * (2 * t1 + 1 / sqrt(2.0)) / 3 - 0.5;
    assert_near(expect, 886.4705034600664, 1e-9);
    assert_near(sm_match_factor(view(a_mz, au_in, 2), view(a_mz, al_in, 2), 0), expect, 1e-9);
    assert_near(sm_match_factor(view(a_mz, au_in, 2), view(a_mz, al_in, 2), 1), expect, 1e-9);
    assert_int_equal(sm_mf_display(expect), 886);
}

/* A peak of the unknown below the library's first m/z is outside the common range. */
static void test_common_range(void **state)
{
    (void)state;
    static const uint16_t mz[] = {30, 50, 51}, in[] = {700, 999, 500};
    assert_near(sm_match_factor(view(mz, in, 3), view(a_mz, al_in, 2), 0), 886.4705034600664,
                1e-9);
    /* symmetric: the library's low peak is skipped when the unknown starts higher */
    assert_near(sm_match_factor(view(a_mz, al_in, 2), view(mz, in, 3), 0),
                sm_match_factor(view(a_mz, al_in, 2), view(a_mz, au_in, 2), 0), 1e-9);
}

/* Intensity 1 in one spectrum only is passed over: the chain of pairs goes on.
 * u = {50:999, 51:1, 52:500}, l = {50:999, 52:250} -> pair 52/50 counted:
 * T1 = (50*999 + 52*sqrt(500*250))^2 / ((50*999 + 52*500)(50*999 + 52*250)),
 * MF = 1000 (2 T1 + 1/sqrt2)/3 - 0.5 = 886.33387538.
 * Intensity 2 instead breaks the chain and joins the norm: MF = 1000 T1' - 0.5 with
 * T1' = (50*999 + 52*sqrt(500*250))^2 / ((50*999 + 51*2 + 52*500)(50*999 + 52*250))
 *     = 974.88748799. */
static void test_intensity_one_and_chain(void **state)
{
    (void)state;
    static const uint16_t mz[] = {50, 51, 52}, in1[] = {999, 1, 500}, in2[] = {999, 2, 500};
    static const uint16_t lmz[] = {50, 52}, lin[] = {999, 250};
    assert_near(sm_match_factor(view(mz, in1, 3), view(lmz, lin, 2), 0), 886.3338753769367,
                1e-9);
    assert_near(sm_match_factor(view(mz, in2, 3), view(lmz, lin, 2), 0), 974.8874879918789,
                1e-9);
}

/* Reverse: the unknown's peak at 60 that the library lacks leaves the norm. */
static void test_reverse(void **state)
{
    (void)state;
    static const uint16_t mz[] = {50, 51, 60}, in[] = {999, 500, 300};
    assert_near(sm_match_factor(view(mz, in, 3), view(a_mz, al_in, 2), 0), 761.025577027087,
                1e-9);
    assert_near(sm_match_factor(view(mz, in, 3), view(a_mz, al_in, 2), 1), 886.4705034600664,
                1e-9);
}

static void test_no_overlap(void **state)
{
    (void)state;
    static const uint16_t mz[] = {60, 61}, in[] = {999, 10};
    double mf = sm_match_factor(view(mz, in, 2), view(a_mz, al_in, 2), 0);
    assert_true(mf <= 0);
    assert_int_equal(sm_mf_display(mf), 0);
    assert_near(sm_match_factor(view(mz, in, 0), view(a_mz, al_in, 2), 0), -0.5, 0);
}

/* Reference values of DESIGN.md, from an implementation that agrees with
 * mssearchr 0.2.0 to the last digit. */
typedef struct {
    uint16_t mz[SM_MAX_NOMINAL_MZ + 1], in[SM_MAX_NOMINAL_MZ + 1];
    size_t n;
} spec;

static void load(const char *file, size_t record, const char *want_id, spec *out)
{
    sm_reader *r;
    sm_error e = {0};
    sm_spectrum s;
    sm_spectrum_init(&s);
    assert_int_equal(sm_reader_open(spectra_file(file), &r, &e), SM_OK);
    size_t i = 0;
    for (;;) {
        assert_int_equal(sm_reader_next(r, &s, &e), SM_OK);
        const char *id = s.field[SM_FIELD_ID] ? s.field[SM_FIELD_ID] : "";
        if (want_id ? strcmp(id, want_id) == 0 : i == record)
            break;
        i++;
    }
    assert_int_equal(sm_preprocess(s.peaks, s.n_peaks, out->mz, out->in,
                                   SM_MAX_NOMINAL_MZ + 1, &out->n, &e), SM_OK);
    sm_spectrum_clear(&s);
    sm_reader_close(r);
}

static void check_ref(const char *qfile, size_t qrec, const char *lib_id, double mf,
                      double rmf)
{
    static spec q, l;
    load(qfile, qrec, NULL, &q);
    load("swgdrug-3.4.msp", 0, lib_id, &l);
    assert_near(sm_match_factor(view(q.mz, q.in, q.n), view(l.mz, l.in, l.n), 0), mf, 0.005);
    assert_near(sm_match_factor(view(q.mz, q.in, q.n), view(l.mz, l.in, l.n), 1), rmf, 0.005);
}

static void test_reference_values(void **state)
{
    (void)state;
    check_ref("samples/fentanyl-replicate.msp", 0, "3919", 941.62, 942.45);
    check_ref("samples/fentanyl-replicate.msp", 0, "4651", 885.74, 886.40);
    check_ref("samples/fentanyl-replicate.msp", 0, "2086", 882.55, 893.26);
    check_ref("massbank-ei-in-library.msp", 0, "1667", 831.80, 906.25);
    check_ref("massbank-ei-in-library.msp", 50, "1688", 928.08, 928.08);
}

/* The dense form the search uses gives the reference value bit for bit: on the
 * hand-made cases and on real pairs (every MassBank in-library query against
 * every 5th SWGDRUG spectrum, both ways round). */
static void dense_vs_reference(sm_qdense *d, sm_nominal u, sm_nominal l, size_t *checked)
{
    sm_qdense_set_(d, u);
    double ref = sm_match_factor(u, l, 0), got = sm_match_factor_dense_(d, l);
    sm_qdense_clear_(d, u);
    if (memcmp(&ref, &got, sizeof ref) != 0)
        fail_msg("dense MF %.17g, reference %.17g", got, ref);
    (*checked)++;
}

static size_t load_all(const char *file, size_t every, spec *out, size_t cap)
{
    sm_reader *r;
    sm_error e = {0};
    sm_spectrum s;
    sm_spectrum_init(&s);
    assert_int_equal(sm_reader_open(spectra_file(file), &r, &e), SM_OK);
    size_t n = 0, rec = 0;
    while (n < cap && sm_reader_next(r, &s, &e) == SM_OK) {
        if (rec++ % every)
            continue;
        assert_int_equal(sm_preprocess(s.peaks, s.n_peaks, out[n].mz, out[n].in,
                                       SM_MAX_NOMINAL_MZ + 1, &out[n].n, &e), SM_OK);
        n++;
    }
    sm_spectrum_clear(&s);
    sm_reader_close(r);
    return n;
}

/* The real spectra the dense-form and bound tests pair up: every MassBank in-library
 * query and every every-th SWGDRUG spectrum (freed by free_real). */
typedef struct {
    spec *q, *l;
    size_t nq, nl;
} real_set;

static real_set load_real(size_t every)
{
    size_t cap_q = 400, cap_l = 3000 / every + 1;
    real_set r = {calloc(cap_q, sizeof *r.q), calloc(cap_l, sizeof *r.l), 0, 0};
    assert_non_null(r.q);
    assert_non_null(r.l);
    r.nq = load_all("massbank-ei-in-library.msp", 1, r.q, cap_q);
    r.nl = load_all("swgdrug-3.4.msp", every, r.l, cap_l);
    return r;
}

static void free_real(real_set *r)
{
    free(r->q);
    free(r->l);
}

static void test_dense_form(void **state)
{
    (void)state;
    sm_qdense *d = calloc(1, sizeof *d);
    assert_non_null(d);
    size_t checked = 0;
    static const uint16_t mz3[] = {50, 51, 52}, in1[] = {999, 1, 500}, in2[] = {999, 2, 500};
    static const uint16_t lmz[] = {50, 52}, lin[] = {999, 250};
    static const uint16_t rmz[] = {50, 51, 60}, rin[] = {999, 500, 300};
    static const uint16_t lowmz[] = {30, 50, 51}, lowin[] = {700, 999, 500};
    static const uint16_t ones_mz[] = {40, 41, 50, 51, 52}, ones_in[] = {1, 1, 999, 1, 3};
    sm_nominal cases[] = {
        view(a_mz, au_in, 2), view(a_mz, al_in, 2), view(mz3, in1, 3), view(mz3, in2, 3),
        view(lmz, lin, 2),    view(rmz, rin, 3),    view(lowmz, lowin, 3),
        view(ones_mz, ones_in, 5),
    };
    size_t nc = sizeof cases / sizeof *cases;
    for (size_t i = 0; i < nc; i++)
        for (size_t j = 0; j < nc; j++)
            dense_vs_reference(d, cases[i], cases[j], &checked);

    real_set r = load_real(5);
    for (size_t i = 0; i < r.nq; i++) {
        for (size_t j = 0; j < r.nl; j++) {
            sm_nominal u = view(r.q[i].mz, r.q[i].in, r.q[i].n);
            sm_nominal v = view(r.l[j].mz, r.l[j].in, r.l[j].n);
            dense_vs_reference(d, u, v, &checked);
            if (j % 8 == 0)
                dense_vs_reference(d, v, u, &checked);
        }
    }
    assert_true(checked > 200000);
    free_real(&r);
    free(d);
}

/* The search's bound (sm_match_factor_bound_) is never below the MF, with every
 * kernel this CPU runs, on the hand-made cases and on real pairs; where no ratio
 * can be taken (no two common peaks adjacent) it is the MF itself, up to the
 * float slack. */
static double norm_of(sm_nominal l)
{
    double s = 0;
    for (size_t k = 0; k < l.n; k++)
        if (l.intensity[k] > 1)
            s += (double)l.mz[k] * l.intensity[k];
    return s;
}

/* The bound as the search takes it: l packed (kernels.h), unpacked when the first
 * pass does not decide. */
static double packed_bound(const sm_qdense *d, const sm_kernel *k, sm_nominal l, double enough)
{
    static uint16_t w[SM_MAX_NOMINAL_MZ + 1];
    static sm_nominal_buf scratch;
    size_t nw = sm_pack_(l, w);
    return sm_match_factor_bound_(d, k, w, nw, norm_of(l), enough, &scratch);
}

static void bound_above(sm_qdense *d, const sm_kernel *k, sm_nominal u, sm_nominal l,
                        size_t *checked)
{
    sm_qdense_set_(d, u);
    /* both passes (nothing is enough), and the first alone (anything is) */
    double mf = sm_match_factor(u, l, 0);
    double b = packed_bound(d, k, l, -INFINITY);
    double b1 = packed_bound(d, k, l, INFINITY);
    sm_qdense_clear_(d, u);
    if (!(b >= mf))
        fail_msg("%s: bound %.17g below the MF %.17g", k->name, b, mf);
    if (!(b1 >= mf))
        fail_msg("%s: first bound %.17g below the MF %.17g", k->name, b1, mf);
    (*checked)++;
}

static void test_search_bound(void **state)
{
    (void)state;
    sm_qdense *d = calloc(1, sizeof *d);
    assert_non_null(d);
    real_set r = load_real(8);
    static const uint16_t umz[] = {50, 52, 60}, uin[] = {999, 500, 200};
    static const uint16_t vmz[] = {50, 51, 52, 55, 60}, vin[] = {999, 300, 500, 80, 150};
    static const uint16_t ones_mz[] = {40, 41, 50, 51, 52}, ones_in[] = {1, 1, 999, 1, 3};
    /* steps past 64 and 4,096 m/z, a first peak above 63: escape words when packed */
    static const uint16_t gap_mz[] = {100, 101, 300, 4500, 4501}, gap_in[] = {2, 999, 400, 300, 7};
    static const uint16_t gap2_mz[] = {99, 101, 300, 4500}, gap2_in[] = {50, 999, 350, 200};
    size_t kernels = 0;
    for (size_t ki = 0; ki < sm_kernel_count(); ki++) {
        if (!sm_kernel_supported_at(ki))
            continue;
        sm_error err = {0};
        assert_int_equal(sm_kernel_select(sm_kernel_name_at(ki), &err), SM_OK);
        const sm_kernel *k = sm_kernel_get_();
        size_t checked = 0;
        /* 51 and 55 (library only, above 1) break every chain: n2 = 0 */
        sm_nominal u = view(umz, uin, 3), v = view(vmz, vin, 5);
        sm_qdense_set_(d, u);
        double mf = sm_match_factor(u, v, 0);
        double b = packed_bound(d, k, v, -INFINITY);
        sm_qdense_clear_(d, u);
        assert_true(b >= mf && b <= mf * 1.0011 + 0.5);
        assert_true(mf < 900.0); /* (T1 + 1)/2 would allow well above */
        bound_above(d, k, view(ones_mz, ones_in, 5), v, &checked);
        bound_above(d, k, v, view(ones_mz, ones_in, 5), &checked);
        bound_above(d, k, view(gap_mz, gap_in, 5), view(gap2_mz, gap2_in, 4), &checked);
        bound_above(d, k, view(gap2_mz, gap2_in, 4), view(gap_mz, gap_in, 5), &checked);
        for (size_t i = 0; i < r.nq; i++)
            for (size_t j = 0; j < r.nl; j++) {
                sm_nominal a = view(r.q[i].mz, r.q[i].in, r.q[i].n);
                sm_nominal c = view(r.l[j].mz, r.l[j].in, r.l[j].n);
                bound_above(d, k, a, c, &checked);
                if (j % 8 == 0)
                    bound_above(d, k, c, a, &checked);
            }
        assert_true(checked > 100000);
        print_message("kernel %s: bound >= MF on %zu pairs\n", k->name, checked);
        kernels++;
    }
    assert_true(kernels >= 1);
    free_real(&r);
    free(d);
}

/* Cosine and entropy similarity against values worked out by hand from their
 * definitions (specmatch.h). */
static void test_alternative_scores(void **state)
{
    (void)state;
    static const uint16_t amz[] = {100, 101}, ain[] = {999, 999};
    static const uint16_t bmz[] = {100}, bin[] = {999};
    sm_nominal a = {2, amz, ain}, b = {1, bmz, bin};
    assert_near(sm_cosine_similarity(a, b), 1 / sqrt(2.0), 1e-12);
    assert_near(sm_cosine_similarity(a, a), 1, 1e-12);
    assert_near(sm_entropy_similarity(b, b), 1, 1e-12);
    /* a: p = (1/2, 1/2), S = ln 2 (< 3: weight 0.25 + 0.25 ln 2 leaves equal halves);
     * b: p = (1), S = 0; merged (3/4, 1/4) */
    double sm = -(0.75 * log(0.75) + 0.25 * log(0.25));
    assert_near(sm_entropy_similarity(a, b), 1 - (2 * sm - log(2.0)) / log(4.0), 1e-12);
    assert_near(sm_entropy_similarity(a, b), sm_entropy_similarity(b, a), 1e-15);
    /* unequal intensities: the weighting changes them. a2 = (999, 333): p = (3/4, 1/4),
     * S = 0.5623 -> exponent w = 0.25 + 0.25 S; b alone at m/z 100 */
    static const uint16_t cin[] = {999, 333};
    sm_nominal c = {2, amz, cin};
    double s0 = -(0.75 * log(0.75) + 0.25 * log(0.25)), w = 0.25 + 0.25 * s0;
    double p0 = pow(0.75, w), p1 = pow(0.25, w), t = p0 + p1;
    p0 /= t;
    p1 /= t;
    double sc = -(p0 * log(p0) + p1 * log(p1));
    double m0 = (p0 + 1) / 2, m1 = p1 / 2;
    double smc = -(m0 * log(m0) + m1 * log(m1));
    assert_near(sm_entropy_similarity(c, b), 1 - (2 * smc - sc) / log(4.0), 1e-12);
    /* no shared peak: 0 */
    static const uint16_t dmz[] = {200};
    sm_nominal d = {1, dmz, bin};
    assert_near(sm_entropy_similarity(b, d), 0, 1e-12);
    assert_near(sm_cosine_similarity(b, d), 0, 0);
    sm_nominal empty = {0, bmz, bin};
    assert_near(sm_entropy_similarity(empty, b), 0, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identical),
        cmocka_unit_test(test_two_peaks),
        cmocka_unit_test(test_common_range),
        cmocka_unit_test(test_intensity_one_and_chain),
        cmocka_unit_test(test_reverse),
        cmocka_unit_test(test_no_overlap),
        cmocka_unit_test(test_reference_values),
        cmocka_unit_test(test_dense_form),
        cmocka_unit_test(test_search_bound),
        cmocka_unit_test(test_alternative_scores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
