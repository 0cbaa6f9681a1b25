/* test_msp.c — the MSP reader: dialects, metadata, bad input with file and line, real files. */
#include "test_common.h"

#include "formats.h"

typedef struct {
    sm_reader *r;
    sm_spectrum s;
    sm_error e;
} rd;

static void rd_open(rd *x, const char *path)
{
    memset(x, 0, sizeof *x);
    sm_spectrum_init(&x->s);
    assert_int_equal(sm_reader_open(path, &x->r, &x->e), SM_OK);
}

static sm_status rd_next(rd *x)
{
    memset(&x->e, 0, sizeof x->e);
    return sm_reader_next(x->r, &x->s, &x->e);
}

static void rd_close(rd *x)
{
    sm_spectrum_clear(&x->s);
    sm_reader_close(x->r);
}

static void test_semicolon_pairs_crlf_case(void **state)
{
    (void)state;
    rd x;
    rd_open(&x, temp_text("NAME: Alpha\r\nsynon: a1\r\nSynon: $:00in\r\nformula: C2H6O\r\n"
                          "mw: 46\r\nCASNO: 64-17-5\r\nID: 7\r\nComment: test / one\r\n"
                          "NUM PEAKS: 4\r\n31 100; 45 40;\t46 999;\r\n"
                          "29 20;\r\n\r\n"));
    assert_int_equal(rd_next(&x), SM_OK);
    assert_string_equal(x.s.field[SM_FIELD_NAME], "Alpha");
    assert_string_equal(x.s.field[SM_FIELD_SYNONYMS], "a1\n$:00in");
    assert_string_equal(x.s.field[SM_FIELD_FORMULA], "C2H6O");
    assert_string_equal(x.s.field[SM_FIELD_CAS], "64-17-5");
    assert_string_equal(x.s.field[SM_FIELD_ID], "7");
    assert_string_equal(x.s.field[SM_FIELD_COMMENT], "test / one");
    assert_near(x.s.mw, 46.0, 0);
    assert_true(isnan(x.s.exact_mass));
    assert_int_equal(x.s.n_peaks, 4);
    assert_near(x.s.peaks[0].mz, 31, 0);
    assert_near(x.s.peaks[2].intensity, 999, 0);
    assert_near(x.s.peaks[3].mz, 29, 0);
    assert_int_equal(x.s.line, 1);
    assert_int_equal(rd_next(&x), SM_END);
    assert_int_equal(sm_reader_records(x.r), 1);
    rd_close(&x);
}

static void test_one_pair_per_line_massbank(void **state)
{
    (void)state;
    rd x;
    rd_open(&x, temp_text("\xEF\xBB\xBFName: Beta\nDB#: MSBNK-X-1\nInChIKey: AAAA-BBBB-N\n"
                          "CAS#: \nExactMass: 128.00289\nLicense: CC BY\n"
                          "Comments: a record\nSMILES: CCO\nNum Peaks: 3\n"
                          "44.5\t12\n45.7 15\n128.0 999\n"
                          "Name: Gamma\nNum Peaks: 1\n50 10\n"));
    assert_int_equal(rd_next(&x), SM_OK);
    assert_string_equal(x.s.field[SM_FIELD_NAME], "Beta");
    assert_string_equal(x.s.field[SM_FIELD_ID], "MSBNK-X-1");
    assert_string_equal(x.s.field[SM_FIELD_INCHIKEY], "AAAA-BBBB-N");
    assert_string_equal(x.s.field[SM_FIELD_CAS], "");
    assert_string_equal(x.s.field[SM_FIELD_LICENSE], "CC BY");
    assert_string_equal(x.s.field[SM_FIELD_COMMENT], "a record");
    assert_near(x.s.exact_mass, 128.00289, 0);
    assert_true(isnan(x.s.mw));
    assert_int_equal(x.s.n_peaks, 3);
    assert_near(x.s.peaks[1].mz, 45.7, 0);
    /* the next record starts without a blank line before it */
    assert_int_equal(rd_next(&x), SM_OK);
    assert_string_equal(x.s.field[SM_FIELD_NAME], "Gamma");
    assert_int_equal(x.s.line, 13);
    assert_int_equal(rd_next(&x), SM_END);
    rd_close(&x);
}

static void test_annotations_in_quotes(void **state)
{
    (void)state;
    rd x;
    rd_open(&x, temp_text("Name: A\nNum Peaks: 2\n41 100 \"C3H5+\"\n43 999 \"frag; x\"\n"));
    assert_int_equal(rd_next(&x), SM_OK);
    assert_int_equal(x.s.n_peaks, 2);
    assert_near(x.s.peaks[1].intensity, 999, 0);
    rd_close(&x);
}

/* Each bad record gives its own error with file and line; the next record is read. */
static void expect_bad(const char *text, sm_status st, unsigned long line, const char *needle)
{
    rd x;
    char buf[2048];
    snprintf(buf, sizeof buf, "%s\nName: Good\nNum Peaks: 1\n50 100\n", text);
    const char *path = temp_text(buf);
    rd_open(&x, path);
    assert_int_equal(rd_next(&x), st);
    assert_string_equal(x.e.file, path);
    if (x.e.line != line)
        fail_msg("error line %lu, expected %lu (%s)", x.e.line, line, x.e.message);
    if (strstr(x.e.message, needle) == NULL)
        fail_msg("message '%s' lacks '%s'", x.e.message, needle);
    assert_int_equal(rd_next(&x), SM_OK);
    assert_string_equal(x.s.field[SM_FIELD_NAME], "Good");
    assert_int_equal(rd_next(&x), SM_END);
    rd_close(&x);
}

static void test_bad_records(void **state)
{
    (void)state;
    expect_bad("Name: A\nNum Peaks: 3\n41 1; 42 2;\n", SM_ERR_PARSE, 2, "Num Peaks: 3");
    expect_bad("Name: A\nNum Peaks: 2\n41 100\n42 abc\n", SM_ERR_PARSE, 4, "expected a number");
    expect_bad("Name: A\nNum Peaks: 1\n41 -5\n", SM_ERR_PARSE, 3, "out of range");
    expect_bad("Name: A\nNum Peaks: 1\n41 nan\n", SM_ERR_PARSE, 3, "expected a number");
    expect_bad("Name: A\nNum Peaks: 1\n41 inf\n", SM_ERR_PARSE, 3, "expected a number");
    expect_bad("Name: A\nNum Peaks: 1\n99999 5\n", SM_ERR_PARSE, 3, "m/z 99999 out of range");
    expect_bad("Name: A\nNum Peaks: 1\n0 5\n", SM_ERR_PARSE, 3, "out of range");
    expect_bad("Name: A\nNum Peaks: 1\n41 1e300\n", SM_ERR_PARSE, 3, "out of range");
    expect_bad("Name: A\nNum Peaks: 1\n41\n", SM_ERR_PARSE, 3, "has no abundance");
    expect_bad("Name: A\nNum Peaks: many\n41 1\n", SM_ERR_PARSE, 2, "whole number");
    expect_bad("Name: A\nMW: heavy\nNum Peaks: 1\n41 1\n", SM_ERR_PARSE, 2, "MW");
    expect_bad("Name: A\n41 100\n", SM_ERR_PARSE, 2, "expected 'Field: value'");
    expect_bad("Name: A\nNum Peaks: 0\n", SM_ERR_PARSE, 1, "no peaks");
    expect_bad("Name: A\nFormula: X\n", SM_ERR_PARSE, 1, "no 'Num Peaks:'");
    expect_bad("just some text\n", SM_ERR_PARSE, 1, "expected a 'Name:' line");
    expect_bad("Name: A\nFormula: X\nFormula: Y\nNum Peaks: 1\n41 1\n", SM_ERR_PARSE, 3,
               "appears twice");
}

static void test_long_line_and_nul(void **state)
{
    (void)state;
    size_t n = SM_MAX_LINE + 100;
    char *big = malloc(n + 64);
    strcpy(big, "Name: A\nNum Peaks: 1\n");
    size_t off = strlen(big);
    memset(big + off, '1', n);
    strcpy(big + off + n, "\n\nName: B\nNum Peaks: 1\n50 1\n");
    rd x;
    rd_open(&x, temp_text(big));
    assert_int_equal(rd_next(&x), SM_ERR_LIMIT);
    assert_int_equal(x.e.line, 3);
    assert_int_equal(rd_next(&x), SM_OK);
    assert_string_equal(x.s.field[SM_FIELD_NAME], "B");
    rd_close(&x);
    free(big);

    static const char nul[] = "Name: A\nNum Peaks: 1\n41\0 1\n";
    rd_open(&x, temp_file(nul, sizeof nul - 1));
    assert_int_equal(rd_next(&x), SM_ERR_PARSE);
    assert_int_equal(x.e.line, 3);
    assert_int_equal(rd_next(&x), SM_END);
    rd_close(&x);
}

static void test_empty_and_missing(void **state)
{
    (void)state;
    rd x;
    rd_open(&x, temp_text(""));
    assert_int_equal(rd_next(&x), SM_END);
    assert_int_equal(sm_reader_records(x.r), 0);
    rd_close(&x);
    rd_open(&x, temp_text("\n\n  \n"));
    assert_int_equal(rd_next(&x), SM_END);
    rd_close(&x);

    sm_reader *r = (sm_reader *)1;
    sm_error e = {0};
    assert_int_equal(sm_reader_open("/nonexistent/dir/x.msp", &r, &e), SM_ERR_IO);
    assert_null(r);
    assert_string_equal(e.file, "/nonexistent/dir/x.msp");
    assert_non_null(strstr(e.message, "cannot open"));
}

static size_t count_file(const char *name, size_t *bad)
{
    rd x;
    rd_open(&x, spectra_file(name));
    size_t n = 0;
    sm_status st;
    *bad = 0;
    while ((st = rd_next(&x)) != SM_END) {
        if (st == SM_OK)
            n++;
        else
            (*bad)++;
    }
    rd_close(&x);
    return n;
}

static void test_real_files(void **state)
{
    (void)state;
    size_t bad;
    assert_int_equal(count_file("swgdrug-3.4.msp", &bad), 2988);
    assert_int_equal(bad, 0);
    assert_int_equal(count_file("massbank-ei-in-library.msp", &bad), 332);
    assert_int_equal(bad, 0);
    assert_int_equal(count_file("massbank-ei-not-in-library.msp", &bad), 4555);
    assert_int_equal(bad, 0);

    rd x;
    rd_open(&x, spectra_file("swgdrug-3.4.msp"));
    assert_int_equal(rd_next(&x), SM_OK);
    assert_string_equal(x.s.field[SM_FIELD_NAME], "Ethyltolylbarbituric acid");
    assert_string_equal(x.s.field[SM_FIELD_INCHIKEY], "HXOISWUIJDHACR-UHFFFAOYSA-N");
    assert_string_equal(x.s.field[SM_FIELD_ID], "1096");
    assert_near(x.s.mw, 246, 0);
    assert_near(x.s.exact_mass, 246.100442, 0);
    assert_int_equal(x.s.n_peaks, 129);
    assert_near(x.s.peaks[0].mz, 37, 0);
    assert_near(x.s.peaks[0].intensity, 1, 0);
    rd_close(&x);

    rd_open(&x, spectra_file("samples/fentanyl-replicate.msp"));
    assert_int_equal(rd_next(&x), SM_OK);
    assert_string_equal(x.s.field[SM_FIELD_NAME], "Fentanyl");
    assert_int_equal(x.s.n_peaks, 148);
    assert_near(x.s.peaks[0].mz, 15, 0);
    assert_int_equal(rd_next(&x), SM_END);
    rd_close(&x);
}

/* sm_parse_number_ must give the double strtod gives, bit for bit, for every
 * number it accepts (its own fast path or strtod), and refuse what is not one. */
static void expect_as_strtod(const char *tok)
{
    double got = 0;
    if (!sm_parse_number_(tok, strlen(tok), &got))
        fail_msg("'%s' refused; strtod reads it", tok);
    double want = strtod(tok, NULL);
    if (memcmp(&got, &want, sizeof got) != 0)
        fail_msg("'%s' read as %.17g, strtod gives %.17g", tok, got, want);
}

static uint64_t next_random(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static void test_numbers_as_strtod(void **state)
{
    (void)state;
    static const char *const edge[] = {
        "0", "-0", "+0", "0.0", "-0.000", "007", "41", "41.0", ".5", "5.", "+3.25", "-2.5",
        "1e5", "1E-5", "2.5e+3", "0.1", "0.3", "4.35", "999.999", "1e22", "1e23", "1e-22",
        "1e-23", "9007199254740992", "9007199254740993", "9007199254740995",
        "1234567890123456789", "12345678901234567890", "123456789012345678901",
        "0.000000000000000000000000001", "3.141592653589793238462643383279",
        "1.7976931348623157e308", "4.9e-324", "2.2250738585072014e-308", "100000e-5",
        "0000000000000000000000000001.5", "1.00000000000000000000000000000000000001",
    };
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++)
        expect_as_strtod(edge[i]);
    /* -0 keeps its sign, as strtod's */
    double z = 1;
    assert_true(sm_parse_number_("-0", 2, &z) && z == 0 && signbit(z));
    static const char *const refused[] = {
        "", "-", "+", ".", "-.", "1.2.3", "1e", "1e+", "e5", "0x10", "nan", "inf",
        "1,5", "12a", " 1", "1 ", "+-5", "1e400", "-1e400",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        double v;
        if (sm_parse_number_(refused[i], strlen(refused[i]), &v))
            fail_msg("'%s' read as %.17g; expected it refused", refused[i], v);
    }
    /* the forms of peak lists and more: up to 9 digits before the point, up to 12
     * after, an exponent now and then, a sign now and then */
    uint64_t x = 42;
    char buf[64];
    for (int n = 0; n < 300000; n++) {
        uint64_t r = next_random(&x);
        size_t k = 0;
        if (r % 7 == 0)
            buf[k++] = r % 14 == 0 ? '-' : '+';
        unsigned int_digits = (unsigned)(next_random(&x) % 10);
        unsigned frac_digits = (unsigned)(next_random(&x) % 13);
        if (int_digits + frac_digits == 0)
            int_digits = 1;
        for (unsigned d = 0; d < int_digits; d++)
            buf[k++] = (char)('0' + next_random(&x) % 10);
        if (frac_digits > 0 || r % 5 == 0) {
            buf[k++] = '.';
            for (unsigned d = 0; d < frac_digits; d++)
                buf[k++] = (char)('0' + next_random(&x) % 10);
        }
        if (r % 11 == 0)
            k += (size_t)snprintf(buf + k, sizeof buf - k, "e%d",
                                  (int)(next_random(&x) % 61) - 30);
        buf[k] = '\0';
        expect_as_strtod(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_semicolon_pairs_crlf_case),
        cmocka_unit_test(test_one_pair_per_line_massbank),
        cmocka_unit_test(test_annotations_in_quotes),
        cmocka_unit_test(test_bad_records),
        cmocka_unit_test(test_long_line_and_nul),
        cmocka_unit_test(test_empty_and_missing),
        cmocka_unit_test(test_real_files),
        cmocka_unit_test(test_numbers_as_strtod),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
