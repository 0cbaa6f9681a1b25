/* test_preprocess.c — nominal mass rounding, merging, base-peak scaling and refusals. */
#include "test_common.h"

static void test_nominal_rounding(void **state)
{
    (void)state;
    /* AMDIS 0.649 rule: a fraction up to .649 rounds down, above rounds up */
    assert_int_equal(sm_nominal_mz(44.0), 44);
    assert_int_equal(sm_nominal_mz(44.5), 44);
    assert_int_equal(sm_nominal_mz(44.649), 44);
    assert_int_equal(sm_nominal_mz(44.650), 45);
    assert_int_equal(sm_nominal_mz(43.7), 44);
    assert_int_equal(sm_nominal_mz(78.918), 79); /* 79Br, negative mass defect */
    assert_int_equal(sm_nominal_mz(300.15), 300); /* positive mass defect */
    assert_int_equal(sm_nominal_mz(0.4), 0);
}

static size_t pp(const sm_peak *p, size_t n, uint16_t *mz, uint16_t *in, sm_status want)
{
    size_t k = 99;
    sm_error e = {0};
    assert_int_equal(sm_preprocess(p, n, mz, in, SM_MAX_NOMINAL_MZ + 1, &k, &e), want);
    return k;
}

static void test_merge_and_scale(void **state)
{
    (void)state;
    uint16_t mz[SM_MAX_NOMINAL_MZ + 1], in[SM_MAX_NOMINAL_MZ + 1];
    /* 44.2 and 44.4 share nominal mass 44 and are summed: 150 of 300 -> 500 */
    const sm_peak p[] = {{45.0, 300}, {44.2, 100}, {44.4, 50}, {60.0, 0.1}, {61.0, 0}};
    size_t n = pp(p, 5, mz, in, SM_OK);
    /* 60: 999 * 0.1/300 + 0.5 = 0.833 -> 0, dropped; 61: zero, dropped */
    assert_int_equal(n, 2);
    assert_int_equal(mz[0], 44);
    assert_int_equal(in[0], 500);
    assert_int_equal(mz[1], 45);
    assert_int_equal(in[1], 999);
}

static void test_half_rounds_up_and_ones_stay(void **state)
{
    (void)state;
    uint16_t mz[SM_MAX_NOMINAL_MZ + 1], in[SM_MAX_NOMINAL_MZ + 1];
    /* 999 * 1/1998 = 0.5 exactly -> 1; 999 * 3/1998 = 1.5 -> 2 */
    const sm_peak p[] = {{40, 1}, {41, 3}, {42, 1998}};
    size_t n = pp(p, 3, mz, in, SM_OK);
    assert_int_equal(n, 3);
    assert_int_equal(in[0], 1);
    assert_int_equal(in[1], 2);
    assert_int_equal(in[2], 999);
}

static void test_refusals(void **state)
{
    (void)state;
    uint16_t mz[SM_MAX_NOMINAL_MZ + 1], in[SM_MAX_NOMINAL_MZ + 1];
    pp(NULL, 0, mz, in, SM_ERR_PARSE);
    const sm_peak zeros[] = {{40, 0}, {41, 0}};
    pp(zeros, 2, mz, in, SM_ERR_PARSE);
    const sm_peak neg[] = {{40, 10}, {41, -1}};
    pp(neg, 2, mz, in, SM_ERR_PARSE);
    const sm_peak nan_[] = {{40, NAN}};
    pp(nan_, 1, mz, in, SM_ERR_PARSE);
    const sm_peak low[] = {{0.3, 10}};
    pp(low, 1, mz, in, SM_ERR_PARSE);
    const sm_peak high[] = {{6000, 10}};
    pp(high, 1, mz, in, SM_ERR_PARSE);
    size_t k = 0;
    sm_error e = {0};
    const sm_peak two[] = {{40, 10}, {41, 10}};
    assert_int_equal(sm_preprocess(two, 2, mz, in, 1, &k, &e), SM_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nominal_rounding),
        cmocka_unit_test(test_merge_and_scale),
        cmocka_unit_test(test_half_rounds_up_and_ones_stay),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
