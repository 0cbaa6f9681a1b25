/* test_hybrid.c — hybrid match factor on hand-made spectra with known shifts, FFT
 * shift proposals, the molecular-weight estimate on SWGDRUG. */
#include "test_common.h"

/* A library spectrum's peaks, unpacked (one at a time). */
static sm_nominal_buf lib_buf;


static sm_nominal nom(const uint16_t *mz, const uint16_t *in, size_t n)
{
    return (sm_nominal){n, mz, in};
}

/* Two peaks, the second carrying a +14 modification: the value by the definition. */
static void test_hybrid_two_peaks(void **state)
{
    (void)state;
    static const uint16_t lmz[] = {100, 200}, lin[] = {999, 500};
    static const uint16_t umz[] = {100, 214}, uin[] = {999, 500};
    sm_nominal l = nom(lmz, lin, 2), u = nom(umz, uin, 2);
    double nu = 100.0 * 999 + 214.0 * 500, nl = 100.0 * 999 + 200.0 * 500;
    double s14 = 100.0 * 999 + 500.0 * sqrt(200.0 * 214.0);
    size_t nd, ns;
    uint8_t shifted[2];
    assert_near(sm_hybrid_match_factor_ex(u, l, 14, &nd, &ns, shifted),
                1000 * s14 * s14 / (nu * nl), 1e-9);
    assert_int_equal(nd, 1);
    assert_int_equal(ns, 1);
    assert_int_equal(shifted[0], 0);
    assert_int_equal(shifted[1], 1);
    /* without the shift only m/z 100 pairs */
    double s0 = 100.0 * 999;
    assert_near(sm_hybrid_match_factor(u, l, 0), 1000 * s0 * s0 / (nu * nl), 1e-9);
    /* the wrong shift pairs nothing more */
    assert_near(sm_hybrid_match_factor(u, l, 16), 1000 * s0 * s0 / (nu * nl), 1e-9);
    /* identical spectra: 1000 at shift 0, equal to 1000 T1 */
    assert_near(sm_hybrid_match_factor(l, l, 0), 1000, 1e-9);
    assert_near(sm_hybrid_match_factor(u, u, 0), 1000, 1e-9);
}

/* Every peak pairs at most once, largest products first. */
static void test_hybrid_pairs_once(void **state)
{
    (void)state;
    static const uint16_t lmz[] = {100, 114}, lin[] = {999, 999};
    static const uint16_t umz[] = {114, 128}, uin[] = {999, 999};
    sm_nominal l = nom(lmz, lin, 2), u = nom(umz, uin, 2);
    /* candidates: L114-U128 (shifted) > L114-U114 (direct) > L100-U114 (shifted);
     * the first and the third are taken */
    double sum = 999.0 * (sqrt(114.0 * 128.0) + sqrt(100.0 * 114.0));
    double nu = 999.0 * (114 + 128), nl = 999.0 * (100 + 114);
    size_t nd, ns;
    assert_near(sm_hybrid_match_factor_ex(u, l, 14, &nd, &ns, NULL), 1000 * sum * sum / (nu * nl),
                1e-9);
    assert_int_equal(nd, 0);
    assert_int_equal(ns, 2);
    /* empty spectra */
    assert_near(sm_hybrid_match_factor(nom(lmz, lin, 0), l, 0), 0, 0);
    /* intensity-1 peaks are passed over */
    static const uint16_t one_in[] = {1, 1};
    assert_near(sm_hybrid_match_factor(nom(lmz, one_in, 2), l, 0), 0, 0);
}

/* The real fentanyl spectrum and a made-up analogue: every ion from m/z 150 up moved
 * by a known shift. The shifter proposes that shift first and the hybrid MF at it is
 * near 1000, far above the identity MF. */
static void shifted_copy(sm_nominal l, int shift, unsigned from, uint16_t *mz, uint16_t *in,
                         size_t *n)
{
    *n = 0;
    for (size_t j = 0; j < l.n; j++) {
        long m = l.mz[j] + (l.mz[j] >= from ? shift : 0);
        if (m < 1 || m > SM_MAX_NOMINAL_MZ)
            continue;
        size_t k = (*n)++;
        while (k > 0 && mz[k - 1] > m) { /* keep ascending */
            mz[k] = mz[k - 1];
            in[k] = in[k - 1];
            k--;
        }
        if (k > 0 && mz[k - 1] == m) { /* collision: keep the larger */
            if (in[k - 1] < l.intensity[j])
                in[k - 1] = l.intensity[j];
            memmove(mz + k, mz + k + 1, (*n - k - 1) * sizeof *mz);
            memmove(in + k, in + k + 1, (*n - k - 1) * sizeof *in);
            (*n)--;
            continue;
        }
        mz[k] = (uint16_t)m;
        in[k] = l.intensity[j];
    }
}

static void test_shifter_finds_shift(void **state)
{
    (void)state;
    sm_error e = {0};
    sm_library *lib;
    assert_int_equal(sm_library_open_ex(SM_DEFAULT_LIBRARY, SM_OPEN_SEARCH_ONLY, &lib, &e), SM_OK);
    size_t fent = SIZE_MAX;
    for (size_t i = 0; i < sm_library_size(lib) && fent == SIZE_MAX; i++)
        if (strcmp(sm_library_field(lib, i, SM_FIELD_ID), "3919") == 0)
            fent = i;
    assert_int_not_equal(fent, SIZE_MAX);
    sm_nominal l = sm_library_nominal(lib, fent, &lib_buf);
    sm_shifter *sh;
    assert_int_equal(sm_shifter_new(&sh, &e), SM_OK);
    static const int shifts[] = {14, 16, 18, 34, -14, 30};
    for (size_t t = 0; t < sizeof shifts / sizeof shifts[0]; t++) {
        static uint16_t mz[SM_MAX_NOMINAL_MZ + 1], in[SM_MAX_NOMINAL_MZ + 1];
        size_t n;
        shifted_copy(l, shifts[t], 150, mz, in, &n);
        sm_nominal u = {n, mz, in};
        int best[5];
        double score[5];
        size_t np = sm_shifter_propose(sh, u, l, 100, best, score, 5);
        assert_true(np >= 1);
        assert_int_equal(best[0], shifts[t]);
        for (size_t j = 1; j < np; j++)
            assert_true(score[j - 1] >= score[j]);
        double hy = sm_hybrid_match_factor(u, l, shifts[t]);
        double id = sm_match_factor(u, l, 0);
        /* (a negative shift moves some ions onto others: not quite 1000) */
        if (!(hy > 980 && id < 800))
            fail_msg("shift %d: hybrid %.1f, identity %.1f", shifts[t], hy, id);
        /* the same again (the unknown's transform is reused) gives the same answer */
        int again[5];
        assert_int_equal(sm_shifter_propose(sh, u, l, 100, again, NULL, 5), np);
        assert_memory_equal(again, best, np * sizeof *best);
    }
    /* Far up the m/z scale the transforms are longer (the size follows the larger
     * last m/z): the whole spectrum moved up by 1,000 or 4,000 m/z, against itself
     * with the upper part shifted by 14, and against the original (a shift of the
     * whole length, which a too short transform would wrap onto smaller ones). */
    static const int lifts[] = {1000, 4000};
    for (size_t t = 0; t < sizeof lifts / sizeof lifts[0]; t++) {
        static uint16_t hm[SM_MAX_NOMINAL_MZ + 1], hi[SM_MAX_NOMINAL_MZ + 1];
        static uint16_t sm[SM_MAX_NOMINAL_MZ + 1], si[SM_MAX_NOMINAL_MZ + 1];
        size_t nh, ns;
        shifted_copy(l, lifts[t], 0, hm, hi, &nh);
        sm_nominal high = {nh, hm, hi};
        assert_int_equal(nh, l.n);
        shifted_copy(high, 14, 150 + (unsigned)lifts[t], sm, si, &ns);
        sm_nominal high_shifted = {ns, sm, si};
        int best[5];
        assert_true(sm_shifter_propose(sh, high_shifted, high, 100, best, NULL, 5) >= 1);
        assert_int_equal(best[0], 14);
        assert_true(sm_shifter_propose(sh, l, high, SM_MAX_NOMINAL_MZ, best, NULL, 5) >= 1);
        assert_int_equal(best[0], -lifts[t]);
        assert_true(sm_shifter_propose(sh, high, l, SM_MAX_NOMINAL_MZ, best, NULL, 5) >= 1);
        assert_int_equal(best[0], lifts[t]);
    }
    /* no shift wanted, or an empty spectrum: nothing proposed */
    int out[2];
    assert_int_equal(sm_shifter_propose(sh, l, l, 100, out, NULL, 0), 0);
    sm_nominal empty = {0, l.mz, l.intensity};
    assert_int_equal(sm_shifter_propose(sh, empty, l, 100, out, NULL, 2), 0);
    sm_shifter_free(sh);
    sm_library_close(lib);
}

/* The molecular-weight estimate against the MW field of every SWGDRUG spectrum. */
static void test_estimate_mw(void **state)
{
    (void)state;
    sm_error e = {0};
    sm_library *lib;
    assert_int_equal(sm_library_open_ex(SM_DEFAULT_LIBRARY, SM_OPEN_SEARCH_ONLY, &lib, &e), SM_OK);
    size_t with_mw = 0, right = 0, high = 0, high_right = 0;
    for (size_t i = 0; i < sm_library_size(lib); i++) {
        double mw = sm_library_mw(lib, i);
        if (!(mw > 0))
            continue;
        sm_mw_estimate m;
        sm_estimate_mw(sm_library_nominal(lib, i, &lib_buf), &m);
        bool ok = m.mw == (unsigned)lround(mw);
        with_mw++;
        right += ok;
        if (m.confidence == 2) {
            high++;
            high_right += ok;
        }
    }
    printf("MW estimate: %zu of %zu right; high confidence %zu, of which %zu right\n", right,
           with_mw, high, high_right);
    assert_int_equal(with_mw, 2988);
    assert_int_equal(right, 1885);
    assert_int_equal(high, 1712);
    assert_int_equal(high_right, 1291);
    /* hand-made: M+ 150 with its M+1, a loss of 15 to 135 */
    static const uint16_t mz[] = {77, 135, 150, 151}, in[] = {400, 999, 300, 33};
    sm_mw_estimate m;
    sm_estimate_mw(nom(mz, in, 4), &m);
    assert_int_equal(m.mw, 150);
    assert_int_equal(m.intensity, 300);
    assert_int_equal(m.confidence, 2);
    /* a top ion 5 u above a strong one: an implausible loss, low confidence */
    static const uint16_t mz2[] = {77, 135, 140}, in2[] = {400, 999, 300};
    sm_estimate_mw(nom(mz2, in2, 3), &m);
    assert_int_equal(m.mw, 140);
    assert_int_equal(m.confidence, 1);
    sm_estimate_mw(nom(mz2, in2, 0), &m);
    assert_int_equal(m.confidence, 0);
    sm_library_close(lib);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hybrid_two_peaks),
        cmocka_unit_test(test_hybrid_pairs_once),
        cmocka_unit_test(test_shifter_finds_shift),
        cmocka_unit_test(test_estimate_mw),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
