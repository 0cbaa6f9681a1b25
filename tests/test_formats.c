/* test_formats.c — the reader's formats: MSP dialects, AMDIS MSL, JCAMP-DX, peak tables, and recognizing them from content. */
#include <sys/stat.h>

#include "test_common.h"

typedef struct {
    sm_reader *r;
    sm_spectrum s;
    sm_error e;
    FILE *fp;
} rd;

/* A directory of its own for files whose names matter (peak tables, .txt). */
static char tmpdir[64];
static char made[64][128];
static int n_made;

static int make_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sm_formats_XXXXXX");
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int remove_dir(void **state)
{
    (void)state;
    for (int i = 0; i < n_made; i++)
        unlink(made[i]);
    return rmdir(tmpdir);
}

static const char *named_file(const char *name, const char *content, size_t len)
{
    assert_true(n_made < 64);
    char *path = made[n_made++];
    snprintf(path, sizeof made[0], "%s/%s", tmpdir, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(content, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
    return path;
}

static const char *named_text(const char *name, const char *content)
{
    return named_file(name, content, strlen(content));
}

static void rd_open_fmt(rd *x, const char *path, sm_format f)
{
    memset(x, 0, sizeof *x);
    sm_spectrum_init(&x->s);
    sm_status st = sm_reader_open_format(path, f, &x->r, &x->e);
    if (st != SM_OK)
        fail_msg("open %s: %s:%lu: %s", path, x->e.file, x->e.line, x->e.message);
}

static void rd_open(rd *x, const char *path)
{
    rd_open_fmt(x, path, SM_FORMAT_AUTO);
}

/* A stream that cannot seek, as standard input. */
static void rd_stream(rd *x, const char *text, const char *label, sm_format f)
{
    memset(x, 0, sizeof *x);
    sm_spectrum_init(&x->s);
    x->fp = fmemopen((void *)text, strlen(text), "r");
    assert_non_null(x->fp);
    sm_status st = sm_reader_open_stream_format(x->fp, label, f, &x->r, &x->e);
    if (st != SM_OK)
        fail_msg("open stream: %s:%lu: %s", x->e.file, x->e.line, x->e.message);
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
    if (x->fp)
        fclose(x->fp);
}

/* The next call gives status st, an error at line with needle in its message. */
static void next_err(rd *x, sm_status st, unsigned long line, const char *needle)
{
    sm_status got = rd_next(x);
    if (got != st)
        fail_msg("status %d, expected %d (%s:%lu: %s)", got, st, x->e.file, x->e.line,
                 x->e.message);
    if (x->e.line != line)
        fail_msg("error line %lu, expected %lu (%s)", x->e.line, line, x->e.message);
    if (strstr(x->e.message, needle) == NULL)
        fail_msg("message '%s' lacks '%s'", x->e.message, needle);
}

static void next_ok(rd *x, const char *name, size_t n_peaks)
{
    sm_status st = rd_next(x);
    if (st != SM_OK)
        fail_msg("status %d: %s:%lu: %s", st, x->e.file, x->e.line, x->e.message);
    assert_string_equal(x->s.field[SM_FIELD_NAME], name);
    assert_int_equal(x->s.n_peaks, n_peaks);
}

static void peak_is(const rd *x, size_t i, double mz, double in)
{
    assert_true(i < x->s.n_peaks);
    assert_near(x->s.peaks[i].mz, mz, 0);
    assert_near(x->s.peaks[i].intensity, in, 0);
}

/* ------------------------------------------------------------------ */
/* MSP dialects                                                        */

static void test_msp_nist_export(void **state)
{
    (void)state;
    rd x;
    rd_open(&x, temp_text("Name: Ethanol\n"
                          "Synon: $:00in\n"
                          "Synon: Ethyl alcohol\n"
                          "Formula: C2H6O\n"
                          "MW: 46\n"
                          "CAS#: 64-17-5; NIST#: 61513\n"
                          "DB#: 12\n"
                          "Comments: \"SMILES=CCO\" \"computed InChIKey=LFQSCWFLJHTTHZ\" \"ret=1.5\"\n"
                          "Num Peaks: 8\n"
                          "14 20; 15 90; 26 30; 27 220; \n"
                          "29 230;31 999\n"
                          "45 510 46 170\n"
                          "\n"
                          "Name: Methanol\n"
                          "CAS#: 67-56-1; NIST#: 777\n"
                          "Num Peaks: 2\n"
                          "31 999\n"
                          "32 660\n"));
    assert_int_equal(sm_reader_format(x.r), SM_FORMAT_MSP);
    next_ok(&x, "Ethanol", 8);
    assert_string_equal(x.s.field[SM_FIELD_SYNONYMS], "$:00in\nEthyl alcohol");
    assert_string_equal(x.s.field[SM_FIELD_FORMULA], "C2H6O");
    assert_string_equal(x.s.field[SM_FIELD_CAS], "64-17-5");
    assert_string_equal(x.s.field[SM_FIELD_ID], "12");  /* DB# wins over NIST# */
    assert_string_equal(x.s.field[SM_FIELD_COMMENT],
                        "\"SMILES=CCO\" \"computed InChIKey=LFQSCWFLJHTTHZ\" \"ret=1.5\"");
    assert_near(x.s.mw, 46, 0);
    peak_is(&x, 0, 14, 20);
    peak_is(&x, 3, 27, 220);
    peak_is(&x, 5, 31, 999);
    peak_is(&x, 7, 46, 170);
    assert_int_equal(x.s.line, 1);
    next_ok(&x, "Methanol", 2);
    assert_string_equal(x.s.field[SM_FIELD_CAS], "67-56-1");
    assert_string_equal(x.s.field[SM_FIELD_ID], "777");
    assert_int_equal(x.s.line, 14);
    assert_int_equal(rd_next(&x), SM_END);
    assert_int_equal(sm_reader_records(x.r), 2);
    rd_close(&x);
}

static void test_msp_msdial_massbank(void **state)
{
    (void)state;
    rd x;
    rd_open(&x, temp_text("NAME: Ethyl benzoate\n"
                          "PRECURSORMZ: 150.0681\n"
                          "PRECURSORTYPE: [M]+*\n"
                          "FORMULA: C9H10O2\n"
                          "ONTOLOGY: Benzoic acid esters\n"
                          "INCHIKEY: MTZQAGJQAFMTAQ-UHFFFAOYSA-N\n"
                          "SMILES: CCOC(=O)c1ccccc1\n"
                          "RETENTIONTIME: 7.25\n"
                          "RETENTIONINDEX: 1170\n"
                          "IONMODE: Positive\n"
                          "INSTRUMENTTYPE: GC-EI-Q\n"
                          "COMMENT: DB#=Test1; origin=lab\n"
                          "Num Peaks: 4\n"
                          "51.0229\t12.3\n"
                          "77.0386\t150\n"
                          "105.0335\t999\n"
                          "150.0681\t120.5\n"
                          "\n"
                          "Name:\tChlorophenol\n"
                          "DB#:\tMSBNK-Test-JP000022\n"
                          "CAS#:\t\n"
                          "Instrument_type:\tEI-B\n"
                          "License:\tCC BY-NC-SA\n"
                          "Num Peaks:\t2\n"
                          "128\t999\t\"M+\"\n"
                          "130\t320\t\"M+2\"\n"));
    next_ok(&x, "Ethyl benzoate", 4);
    assert_string_equal(x.s.field[SM_FIELD_FORMULA], "C9H10O2");
    assert_string_equal(x.s.field[SM_FIELD_INCHIKEY], "MTZQAGJQAFMTAQ-UHFFFAOYSA-N");
    assert_string_equal(x.s.field[SM_FIELD_COMMENT], "DB#=Test1; origin=lab");
    assert_null(x.s.field[SM_FIELD_ID]);
    peak_is(&x, 0, 51.0229, 12.3);
    peak_is(&x, 2, 105.0335, 999);
    peak_is(&x, 3, 150.0681, 120.5);
    next_ok(&x, "Chlorophenol", 2);
    assert_string_equal(x.s.field[SM_FIELD_ID], "MSBNK-Test-JP000022");
    assert_string_equal(x.s.field[SM_FIELD_CAS], "");
    assert_string_equal(x.s.field[SM_FIELD_LICENSE], "CC BY-NC-SA");
    peak_is(&x, 1, 130, 320);
    assert_int_equal(x.s.line, 19);
    assert_int_equal(rd_next(&x), SM_END);
    rd_close(&x);
}

static void test_msp_latin1_bom_crlf(void **state)
{
    (void)state;
    rd x;
    rd_open(&x, temp_text("\xEF\xBB\xBFName: Fentanyl Citrat\xe9\r\n"
                          "Synon: caf\xc3\xa9 \xe9t\xe9\r\n"
                          "Comments: 1 \xb5g/mL in m\xe9thanol\r\n"
                          "License: \xed\xa0\x80 \xc0\xaf \xf0\x9f\x98\x80\r\n"
                          "Num Peaks: 2\r\n"
                          "57 999\r\n"
                          "245 120\r\n"));
    next_ok(&x, "Fentanyl Citrat\xc3\xa9", 2);
    /* valid UTF-8 is kept, each invalid byte is read as Latin-1 */
    assert_string_equal(x.s.field[SM_FIELD_SYNONYMS], "caf\xc3\xa9 \xc3\xa9t\xc3\xa9");
    assert_string_equal(x.s.field[SM_FIELD_COMMENT], "1 \xc2\xb5g/mL in m\xc3\xa9thanol");
    /* a surrogate and an overlong form are not UTF-8; a 4-byte character is */
    assert_string_equal(x.s.field[SM_FIELD_LICENSE],
                        "\xc3\xad\xc2\xa0\xc2\x80 \xc3\x80\xc2\xaf \xf0\x9f\x98\x80");
    peak_is(&x, 1, 245, 120);
    assert_int_equal(rd_next(&x), SM_END);
    rd_close(&x);
}

/* ------------------------------------------------------------------ */
/* AMDIS MSL                                                           */

static void test_msl(void **state)
{
    (void)state;
    rd x;
    rd_open(&x, temp_text("NAME:Toluene\n"
                          "FORM:C7H8\n"
                          "CASNO:108-88-3\n"
                          "MW:92\n"
                          "RI:763.0\n"
                          "SOURCE:test library\n"
                          "NUM PEAKS:  6\n"
                          "(  39   54) (  50   42) (  51   60)\n"
                          "(  63   40)(  65   72) (  91  999)\n"
                          "\n"
                          "NAME:Benzene\n"
                          "COMMENT:second\n"
                          "NUM PEAKS:  2\n"
                          "(  77  250) (  78  999)\n"));
    assert_int_equal(sm_reader_format(x.r), SM_FORMAT_MSL);
    next_ok(&x, "Toluene", 6);
    assert_string_equal(x.s.field[SM_FIELD_FORMULA], "C7H8");
    assert_string_equal(x.s.field[SM_FIELD_CAS], "108-88-3");
    assert_near(x.s.mw, 92, 0);
    peak_is(&x, 0, 39, 54);
    peak_is(&x, 3, 63, 40);
    peak_is(&x, 4, 65, 72);
    peak_is(&x, 5, 91, 999);
    next_ok(&x, "Benzene", 2);
    assert_string_equal(x.s.field[SM_FIELD_COMMENT], "second");
    assert_int_equal(x.s.line, 11);
    assert_int_equal(rd_next(&x), SM_END);
    rd_close(&x);
}

static void msl_bad(const char *peaks, unsigned long line, const char *needle)
{
    char buf[512];
    snprintf(buf, sizeof buf, "NAME:A\nNUM PEAKS: 2\n%s\n\nNAME:Good\nNUM PEAKS: 1\n(50 1)\n",
             peaks);
    rd x;
    rd_open(&x, temp_text(buf));
    assert_int_equal(sm_reader_format(x.r), SM_FORMAT_MSL);
    next_err(&x, SM_ERR_PARSE, line, needle);
    next_ok(&x, "Good", 1);
    assert_int_equal(rd_next(&x), SM_END);
    rd_close(&x);
}

static void test_msl_errors(void **state)
{
    (void)state;
    msl_bad("(41 100 (43 5)", 3, "unexpected '('");
    msl_bad("(41 100 43 5)", 3, "unexpected ')'");
    msl_bad("(41 100) (43", 3, "has no abundance");
    msl_bad("(41 100) (43 5", 3, "'(' without ')'");
    msl_bad("(41 100) 43 5)", 3, "unexpected ')'");
    msl_bad("(41 100) (0 5)", 3, "out of range");
    msl_bad("(41 100) (43 -5)", 3, "out of range");
    msl_bad("(41 100)", 2, "'Num Peaks: 2' but 1 peaks");
}

/* ------------------------------------------------------------------ */
/* JCAMP-DX                                                            */

static const char jcamp_two[] =
    "$$ written by a test\n"                                    /*  1 */
    "##TITLE=Ethanol\n"                                         /*  2 */
    "##JCAMP-DX=4.24\n"                                         /*  3 */
    "##DATA TYPE=MASS SPECTRUM\n"                               /*  4 */
    "##ORIGIN=Test Center\n"                                    /*  5 */
    "##OWNER=NIST Mass Spectrometry Data Center\n"              /*  6 */
    "Collection (C) 2014 copyright by the U.S. Secretary of Commerce\n"
    "on behalf of the United States of America. All rights reserved.\n"
    "##CAS REGISTRY NO=64-17-5\n"                               /*  9 */
    "##$NIST MASS SPEC NUM=61513\n"                             /* 10 */
    "##MOLFORM=C2 H6 O\n"                                       /* 11 */
    "##MW=46\n"                                                 /* 12 */
    "##NAMES=Ethyl alcohol\n"                                   /* 13 */
    "Alcohol\n"                                                 /* 14 */
    "##XUNITS=M/Z\n"                                            /* 15 */
    "##YUNITS=RELATIVE ABUNDANCE\n"                             /* 16 */
    "##XFACTOR=1\n"                                             /* 17 */
    "##YFACTOR=1\n"                                             /* 18 */
    "##NPOINTS=8\n"                                             /* 19 */
    "##PEAK TABLE=(XY..XY)\n"                                   /* 20 */
    "14,20 15,90 26,30 27,220\n"                                /* 21 */
    "29,230 31,999 45,510 46,170  $$ strongest is 31\n"         /* 22 */
    "##END=\n"                                                  /* 23 */
    "\n"                                                        /* 24 */
    "##TITLE= Methanol\n"                                       /* 25 */
    "##JCAMP-DX=5.01\n"                                         /* 26 */
    "##DATA_TYPE= Mass Spectrum\n"                              /* 27 */
    "##NPOINTS=3\n"                                             /* 28 */
    "##XYDATA=(XY..XY)\n"                                       /* 29 */
    "15,120;\n"                                                 /* 30 */
    "31,999;\n"                                                 /* 31 */
    "32.5, 660\n"                                               /* 32 */
    "##END=\n";                                                 /* 33 */

static void test_jcamp_two_blocks(void **state)
{
    (void)state;
    rd x;
    rd_open(&x, temp_text(jcamp_two));
    assert_int_equal(sm_reader_format(x.r), SM_FORMAT_JCAMP);
    next_ok(&x, "Ethanol", 8);
    assert_string_equal(x.s.field[SM_FIELD_CAS], "64-17-5");
    assert_string_equal(x.s.field[SM_FIELD_ID], "61513");
    assert_string_equal(x.s.field[SM_FIELD_FORMULA], "C2H6O");
    assert_string_equal(x.s.field[SM_FIELD_SYNONYMS], "Ethyl alcohol\nAlcohol");
    assert_near(x.s.mw, 46, 0);
    assert_int_equal(x.s.line, 2);
    peak_is(&x, 0, 14, 20);
    peak_is(&x, 4, 29, 230);
    peak_is(&x, 7, 46, 170);
    next_ok(&x, "Methanol", 3);
    assert_int_equal(x.s.line, 25);
    assert_true(isnan(x.s.mw));
    peak_is(&x, 0, 15, 120);
    peak_is(&x, 2, 32.5, 660);
    assert_int_equal(rd_next(&x), SM_END);
    assert_int_equal(sm_reader_records(x.r), 2);
    rd_close(&x);
}

static void test_jcamp_link_and_factors(void **state)
{
    (void)state;
    rd x;
    rd_open(&x, temp_text("##TITLE=Two spectra\n"
                          "##JCAMP-DX=5.01\n"
                          "##DATA TYPE=LINK\n"
                          "##BLOCKS=2\n"
                          "##TITLE=A\n"
                          "##JCAMP-DX=5.01\n"
                          "##DATA TYPE=MASS SPECTRUM\n"
                          "##BLOCK_ID=1\n"
                          "##XFACTOR=0.5\n"
                          "##YFACTOR=10\n"
                          "##PEAK TABLE=(XY..XY)\n"
                          "82,10 86,99.9\n"
                          "##END=\n"
                          "##TITLE=B\n"
                          "##DATA TYPE=MASS SPECTRUM\n"
                          "##BLOCK_ID=2\n"
                          "##PEAK TABLE=(XY..XY)\n"
                          "41,100\n"
                          "##END=\n"
                          "##END=\n"
                          "##TITLE=Empty link\n"
                          "##DATA TYPE=LINK\n"
                          "##END=\n"));
    next_ok(&x, "A", 2);
    assert_int_equal(x.s.line, 5);
    peak_is(&x, 0, 41, 100);
    peak_is(&x, 1, 43, 999);
    next_ok(&x, "B", 1);
    assert_int_equal(x.s.line, 14);
    assert_int_equal(rd_next(&x), SM_END);
    assert_int_equal(sm_reader_records(x.r), 2);
    rd_close(&x);
}

static const char jcamp_good[] = "##TITLE=Good\n##DATA TYPE=MASS SPECTRUM\n"
                                 "##PEAK TABLE=(XY..XY)\n50,100\n##END=\n";

/* A bad block gives its error; the good block after it is read. */
static void jcamp_bad(const char *text, sm_status st, unsigned long line, const char *needle)
{
    char buf[2048];
    snprintf(buf, sizeof buf, "%s%s", text, jcamp_good);
    const char *path = temp_text(buf);
    rd x;
    rd_open(&x, path);
    assert_int_equal(sm_reader_format(x.r), SM_FORMAT_JCAMP);
    next_err(&x, st, line, needle);
    assert_string_equal(x.e.file, path);
    next_ok(&x, "Good", 1);
    assert_int_equal(rd_next(&x), SM_END);
    rd_close(&x);
}

static void test_jcamp_errors(void **state)
{
    (void)state;
    jcamp_bad("##TITLE=IR\n##DATA TYPE=INFRARED SPECTRUM\n##XYDATA=(X++(Y..Y))\n"
              "400 1 2 3\n##END=\n", SM_ERR_PARSE, 2, "'##DATA TYPE= INFRARED SPECTRUM' is not a mass spectrum");
    jcamp_bad("##TITLE=A\n##NPOINTS=3\n##PEAK TABLE=(XY..XY)\n41,1 42,2\n##END=\n",
              SM_ERR_PARSE, 2, "'##NPOINTS= 3' but 2 x,y pairs");
    jcamp_bad("##TITLE=A\n##PEAK TABLE=(XY..XY)\n41,1\n42 2\n##END=\n", SM_ERR_PARSE, 4,
              "m/z 42 has no abundance");
    jcamp_bad("##TITLE=A\n##PEAK TABLE=(XY..XY)\n41,-5\n##END=\n", SM_ERR_PARSE, 3,
              "abundance -5 at m/z 41 out of range");
    jcamp_bad("##TITLE=A\n##PEAK TABLE=(XY..XY)\n0,5\n##END=\n", SM_ERR_PARSE, 3,
              "m/z 0 out of range");
    jcamp_bad("##TITLE=A\n##PEAK TABLE=(XY..XY)\n41,nan\n##END=\n", SM_ERR_PARSE, 3,
              "expected a number");
    jcamp_bad("##TITLE=A\n##PEAK TABLE=(XY..XY)\n41,inf\n##END=\n", SM_ERR_PARSE, 3,
              "expected a number");
    jcamp_bad("##TITLE=A\n##PEAK TABLE=(XY..XY)\n9999,5\n##END=\n", SM_ERR_PARSE, 3,
              "m/z 9999 out of range");
    jcamp_bad("##TITLE=A\n##XYDATA=(X++(Y..Y))\n41 1 2\n##END=\n", SM_ERR_PARSE, 2,
              "expected (XY..XY)");
    jcamp_bad("##TITLE=A\n##PEAK TABLE=(XY..XY)\n41,1\n", SM_ERR_PARSE, 1,
              "no '##END=' before the next '##TITLE=' at line 4");
    jcamp_bad("##TITLE=A\n##DATA TYPE=MASS SPECTRUM\n##END=\n", SM_ERR_PARSE, 1,
              "no '##PEAK TABLE=' or '##XYDATA='");
    jcamp_bad("##TITLE=A\n##PEAK TABLE=(XY..XY)\n##END=\n", SM_ERR_PARSE, 1, "no peaks");
    jcamp_bad("##TITLE=A\n##MW=heavy\n##PEAK TABLE=(XY..XY)\n41,1\n##END=\n", SM_ERR_PARSE, 2,
              "'##MW='");
    jcamp_bad("##TITLE=A\n##NPOINTS=70000\n##PEAK TABLE=(XY..XY)\n41,1\n##END=\n",
              SM_ERR_LIMIT, 2, "the limit");
    jcamp_bad("##TITLE=A\n##PEAK TABLE=(XY..XY)\n41,1\n##PEAK TABLE=(XY..XY)\n42,1\n##END=\n",
              SM_ERR_PARSE, 4, "second peak table");
    jcamp_bad("stray text\n", SM_ERR_PARSE, 1, "expected '##TITLE=' to start a JCAMP-DX "
              "block, found 'stray text'");
    jcamp_bad("##END=\n", SM_ERR_PARSE, 1, "found '##END='");

    /* stray text between blocks: its own error, both blocks are read */
    rd x;
    char buf[512];
    snprintf(buf, sizeof buf, "%sstray\n%s", jcamp_good, jcamp_good);
    rd_open(&x, temp_text(buf));
    next_ok(&x, "Good", 1);
    next_err(&x, SM_ERR_PARSE, 6, "found 'stray'");
    next_ok(&x, "Good", 1);
    assert_int_equal(x.s.line, 7);
    assert_int_equal(rd_next(&x), SM_END);
    assert_int_equal(sm_reader_records(x.r), 3);
    rd_close(&x);

    /* the file ends inside a block */
    snprintf(buf, sizeof buf, "%s##TITLE=Cut\n##PEAK TABLE=(XY..XY)\n41,1\n", jcamp_good);
    rd_open(&x, temp_text(buf));
    next_ok(&x, "Good", 1);
    next_err(&x, SM_ERR_PARSE, 6, "ends with the file; expected '##END='");
    assert_int_equal(rd_next(&x), SM_END);
    assert_int_equal(sm_reader_records(x.r), 2);
    rd_close(&x);

    /* an over-long line inside a block: a limit error, then the next block */
    size_t n = SM_MAX_LINE + 10;
    char *big = malloc(n + 256);
    strcpy(big, "##TITLE=Long\n##PEAK TABLE=(XY..XY)\n");
    size_t off = strlen(big);
    memset(big + off, '1', n);
    snprintf(big + off + n, 256, "\n##END=\n%s", jcamp_good);
    rd_open(&x, temp_text(big));
    next_err(&x, SM_ERR_LIMIT, 3, "longer than");
    next_ok(&x, "Good", 1);
    assert_int_equal(rd_next(&x), SM_END);
    rd_close(&x);
    free(big);
}

/* ------------------------------------------------------------------ */
/* Peak tables                                                         */

static void test_peak_tables(void **state)
{
    (void)state;
    rd x;
    rd_open(&x, named_text("sample-01.csv", "m/z,intensity\r\n41,100\r\n43.5,999\r\n\r\n"
                                            "57,12.25\r\n"));
    assert_int_equal(sm_reader_format(x.r), SM_FORMAT_PEAKTABLE);
    next_ok(&x, "sample-01.csv", 3);
    peak_is(&x, 0, 41, 100);
    peak_is(&x, 1, 43.5, 999);
    peak_is(&x, 2, 57, 12.25);
    assert_int_equal(x.s.line, 1);
    assert_int_equal(rd_next(&x), SM_END);
    assert_int_equal(sm_reader_records(x.r), 1);
    rd_close(&x);

    rd_open(&x, named_text("run.tsv", "41\t100\n43\t999\n"));
    assert_int_equal(sm_reader_format(x.r), SM_FORMAT_PEAKTABLE);
    next_ok(&x, "run.tsv", 2);
    peak_is(&x, 1, 43, 999);
    assert_int_equal(rd_next(&x), SM_END);
    rd_close(&x);

    rd_open(&x, named_text("blank-separated.txt", "\n  41 100\n 43   999  \n"));
    assert_int_equal(sm_reader_format(x.r), SM_FORMAT_PEAKTABLE);
    next_ok(&x, "blank-separated.txt", 2);
    assert_int_equal(x.s.line, 2);
    peak_is(&x, 0, 41, 100);
    rd_close(&x);

    rd_open(&x, named_text("quoted.csv", "\"mz\";\"abundance\"\n41;100\n\"43\";\"999\"\n"));
    next_ok(&x, "quoted.csv", 2);
    peak_is(&x, 1, 43, 999);
    rd_close(&x);

    rd_open(&x, named_text("header.tsv", "mz\tabundance\n77.0386\t150\n"));
    assert_int_equal(sm_reader_format(x.r), SM_FORMAT_PEAKTABLE);
    next_ok(&x, "header.tsv", 1);
    peak_is(&x, 0, 77.0386, 150);
    rd_close(&x);

    /* standard input has no file name */
    rd_stream(&x, "m/z,intensity\n41,100\n", "<stdin>", SM_FORMAT_AUTO);
    assert_int_equal(sm_reader_format(x.r), SM_FORMAT_PEAKTABLE);
    next_ok(&x, "<stdin>", 1);
    assert_int_equal(rd_next(&x), SM_END);
    rd_close(&x);
}

/* One spectrum per file: after the error, the file is done. */
static void table_bad(const char *text, sm_status st, unsigned long line, const char *needle)
{
    rd x;
    const char *path = temp_text(text);
    rd_open_fmt(&x, path, SM_FORMAT_PEAKTABLE);
    next_err(&x, st, line, needle);
    assert_string_equal(x.e.file, path);
    assert_int_equal(rd_next(&x), SM_END);
    assert_int_equal(sm_reader_records(x.r), 1);
    rd_close(&x);
}

static void test_peak_table_errors(void **state)
{
    (void)state;
    table_bad("m/z,intensity\n41,100\n43,999,5\n", SM_ERR_PARSE, 3, "3 columns; expected two");
    table_bad("m/z,intensity,annotation\n41,100,x\n", SM_ERR_PARSE, 1, "3 columns");
    table_bad("41,100\n43,abc\n", SM_ERR_PARSE, 2,
              "expected a number for the intensity in column 2, found 'abc'");
    table_bad("41,100\nmz,intensity\n", SM_ERR_PARSE, 2, "for the m/z in column 1");
    table_bad("41\t100\n43\n", SM_ERR_PARSE, 2, "1 column;");
    table_bad("41,100\n43,\n", SM_ERR_PARSE, 2, "found ''");
    table_bad("41,-1\n", SM_ERR_PARSE, 1, "abundance -1 at m/z 41 out of range");
    table_bad("0,5\n", SM_ERR_PARSE, 1, "m/z 0 out of range");
    table_bad("41,nan\n", SM_ERR_PARSE, 1, "expected a number");
    table_bad("41,1e999\n", SM_ERR_PARSE, 1, "expected a number");
    table_bad("6000,5\n", SM_ERR_PARSE, 1, "m/z 6000 out of range");
    table_bad("mz,intensity\n", SM_ERR_PARSE, 1, "no rows");
    table_bad("", SM_ERR_PARSE, 1, "no rows");
    static const char nul[] = "41,1\n42\0,1\n";
    rd x;
    rd_open_fmt(&x, temp_file(nul, sizeof nul - 1), SM_FORMAT_PEAKTABLE);
    next_err(&x, SM_ERR_PARSE, 2, "NUL byte");
    assert_int_equal(rd_next(&x), SM_END);
    rd_close(&x);

    /* more peaks than the limit: an error, not truncation */
    size_t rows = SM_MAX_PEAKS + 1;
    char *big = malloc(rows * 12 + 1);
    size_t off = 0;
    for (size_t i = 0; i < rows; i++)
        off += (size_t)sprintf(big + off, "%zu,1\n", 1 + i % 4000);
    table_bad(big, SM_ERR_LIMIT, SM_MAX_PEAKS + 1, "more than 65536 peaks");
    free(big);
}

/* ------------------------------------------------------------------ */
/* Recognizing the format                                              */

static void test_detection(void **state)
{
    (void)state;
    rd x;
    /* the extension does not decide */
    rd_open(&x, named_text("export.txt", "Name: From a txt\nNum Peaks: 1\n41 100\n"));
    assert_int_equal(sm_reader_format(x.r), SM_FORMAT_MSP);
    next_ok(&x, "From a txt", 1);
    rd_close(&x);
    rd_open(&x, named_text("library.msp", jcamp_two));
    assert_int_equal(sm_reader_format(x.r), SM_FORMAT_JCAMP);
    rd_close(&x);

    /* BOM, blank lines and a comment before the first JCAMP-DX record */
    rd_open(&x, temp_text("\xEF\xBB\xBF\n$$ comment\n\n##TITLE=X\n##PEAK TABLE=(XY..XY)\n"
                          "41,1\n##END=\n"));
    assert_int_equal(sm_reader_format(x.r), SM_FORMAT_JCAMP);
    next_ok(&x, "X", 1);
    assert_int_equal(x.s.line, 4);
    rd_close(&x);

    /* text before the first MSP record is an error of its own; the record follows */
    rd_open(&x, temp_text("exported by something\n\nName: A\nNum Peaks: 1\n41 1\n"));
    assert_int_equal(sm_reader_format(x.r), SM_FORMAT_MSP);
    next_err(&x, SM_ERR_PARSE, 1, "expected a 'Name:' line");
    next_ok(&x, "A", 1);
    assert_int_equal(x.s.line, 3);
    rd_close(&x);

    /* MSL decided by the first peak line, even many fields below Name: */
    char msl[8192] = "NAME:Many fields\n";
    for (int i = 0; i < 100; i++)
        sprintf(msl + strlen(msl), "RI%d:%d\n", i, i);
    strcat(msl, "NUM PEAKS: 1\n(41 100)\n");
    rd_open(&x, temp_text(msl));
    assert_int_equal(sm_reader_format(x.r), SM_FORMAT_MSL);
    next_ok(&x, "Many fields", 1);
    rd_close(&x);

    /* nothing to read is MSP with no spectra */
    rd_open(&x, temp_text("\n   \n"));
    assert_int_equal(sm_reader_format(x.r), SM_FORMAT_MSP);
    assert_int_equal(rd_next(&x), SM_END);
    rd_close(&x);

    /* undecidable */
    const char *junk = temp_text("hello world\nthis is text\n");
    sm_reader *r = (sm_reader *)1;
    sm_error e = {0};
    assert_int_equal(sm_reader_open(junk, &r, &e), SM_ERR_PARSE);
    assert_null(r);
    assert_string_equal(e.file, junk);
    assert_int_equal(e.line, 1);
    assert_non_null(strstr(e.message, "cannot tell the format of"));
    assert_non_null(strstr(e.message, junk));
    assert_non_null(strstr(e.message, "--input-format"));
    /* a given format reads it as that format */
    rd_open_fmt(&x, junk, SM_FORMAT_MSP);
    assert_int_equal(sm_reader_format(x.r), SM_FORMAT_MSP);
    next_err(&x, SM_ERR_PARSE, 1, "expected a 'Name:' line");
    assert_int_equal(rd_next(&x), SM_END);
    rd_close(&x);
    rd_open_fmt(&x, temp_text("Name: A\nNum Peaks: 1\n41 1\n"), SM_FORMAT_JCAMP);
    next_err(&x, SM_ERR_PARSE, 1, "expected '##TITLE='");
    assert_int_equal(rd_next(&x), SM_END);
    rd_close(&x);

    assert_int_equal(sm_reader_open_format(junk, (sm_format)42, &r, &e), SM_ERR_ARG);
    assert_null(r);
}

/* Streams cannot seek: the lines detection looked at are read again. */
static void test_streams(void **state)
{
    (void)state;
    rd x;
    rd_stream(&x, "Name: A\nNum Peaks: 2\n41 100\n43 999\n\nName: B\nNum Peaks: 1\n50 1\n",
              "<stdin>", SM_FORMAT_AUTO);
    assert_int_equal(sm_reader_format(x.r), SM_FORMAT_MSP);
    next_ok(&x, "A", 2);
    peak_is(&x, 1, 43, 999);
    next_ok(&x, "B", 1);
    assert_int_equal(x.s.line, 6);
    assert_int_equal(rd_next(&x), SM_END);
    rd_close(&x);

    rd_stream(&x, jcamp_two, "<stdin>", SM_FORMAT_AUTO);
    assert_int_equal(sm_reader_format(x.r), SM_FORMAT_JCAMP);
    next_ok(&x, "Ethanol", 8);
    next_ok(&x, "Methanol", 3);
    assert_int_equal(rd_next(&x), SM_END);
    rd_close(&x);

    rd_stream(&x, "41 100\n", "-", SM_FORMAT_PEAKTABLE);
    next_ok(&x, "-", 1);
    rd_close(&x);

    /* more lines than detection keeps, and a record split across the boundary */
    size_t cap = 400 * 16 + 64;
    char *text = malloc(cap);
    strcpy(text, "Name: Long\n");
    for (int i = 0; i < 400; i++)
        sprintf(text + strlen(text), "Field%d: %d\n", i, i);
    strcat(text, "Num Peaks: 1\n41 1\n\nName: After\nNum Peaks: 1\n42 2\n");
    rd_stream(&x, text, "<stdin>", SM_FORMAT_AUTO);
    assert_int_equal(sm_reader_format(x.r), SM_FORMAT_MSP);
    next_ok(&x, "Long", 1);
    next_ok(&x, "After", 1);
    assert_int_equal(x.s.line, 405);
    assert_int_equal(rd_next(&x), SM_END);
    rd_close(&x);
    free(text);
}

static void test_format_names(void **state)
{
    (void)state;
    static const char *const names[] = {"auto", "msp", "msl", "jcamp", "peaks"};
    for (int f = SM_FORMAT_AUTO; f <= SM_FORMAT_PEAKTABLE; f++) {
        assert_string_equal(sm_format_name((sm_format)f), names[f]);
        sm_format g = (sm_format)99;
        assert_int_equal(sm_format_from_name(names[f], &g, NULL), SM_OK);
        assert_int_equal(g, f);
    }
    assert_string_equal(sm_format_name((sm_format)99), "");
    sm_format g;
    assert_int_equal(sm_format_from_name("JCAMP", &g, NULL), SM_OK);
    assert_int_equal(g, SM_FORMAT_JCAMP);
    assert_int_equal(sm_format_from_name("csv", &g, NULL), SM_OK);
    assert_int_equal(g, SM_FORMAT_PEAKTABLE);
    sm_error e = {0};
    assert_int_equal(sm_format_from_name("mzml", &g, &e), SM_ERR_ARG);
    assert_non_null(strstr(e.message, "'mzml'"));
    assert_non_null(strstr(e.message, "auto, msp, msl, jcamp or peaks"));
    assert_int_equal(sm_format_from_name(NULL, &g, &e), SM_ERR_ARG);
}

/* ------------------------------------------------------------------ */
/* The same spectrum in every format                                   */

#define N_SAME 6

static void same_peaks(const sm_spectrum *a, const sm_spectrum *b)
{
    assert_int_equal(a->n_peaks, b->n_peaks);
    /* bit for bit */
    assert_memory_equal(a->peaks, b->peaks, a->n_peaks * sizeof *a->peaks);
}

static void append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
        va_end(ap);
        assert_true(n >= 0);
        if ((size_t)n < *cap - *len) {
            *len += (size_t)n;
            return;
        }
        *cap = *cap * 2 + (size_t)n;
        *buf = realloc(*buf, *cap);
        assert_non_null(*buf);
    }
}

static void test_same_spectrum_every_format(void **state)
{
    (void)state;
    sm_spectrum ref[N_SAME];
    rd x;
    rd_open(&x, spectra_file("swgdrug-3.4.msp"));
    for (int i = 0; i < N_SAME; i++) {
        assert_int_equal(rd_next(&x), SM_OK);
        ref[i] = x.s;  /* take ownership */
        sm_spectrum_init(&x.s);
    }
    rd_close(&x);

    size_t cap = 1 << 16, jl = 0, ml = 0;
    char *jdx = malloc(cap), *msl = malloc(cap);
    size_t jcap = cap, mcap = cap;
    append(&jdx, &jl, &jcap, "##TITLE=SWGDRUG extract\n##JCAMP-DX=5.01\n##DATA TYPE=LINK\n"
                             "##BLOCKS=%d\n", N_SAME);
    for (int i = 0; i < N_SAME; i++) {
        const sm_spectrum *s = &ref[i];
        append(&jdx, &jl, &jcap,
               "##TITLE=%s\n##JCAMP-DX=4.24\n##DATA TYPE=MASS SPECTRUM\n##MOLFORM=%s\n"
               "##CAS REGISTRY NO=%s\n##$NIST MASS SPEC NUM=%s\n##MW=%.17g\n##NPOINTS=%zu\n"
               "##PEAK TABLE=(XY..XY)\n",
               s->field[SM_FIELD_NAME], s->field[SM_FIELD_FORMULA], s->field[SM_FIELD_CAS],
               s->field[SM_FIELD_ID], s->mw, s->n_peaks);
        append(&msl, &ml, &mcap, "NAME:%s\nFORM:%s\nCASNO:%s\nMW:%.17g\nNUM PEAKS: %zu\n",
               s->field[SM_FIELD_NAME], s->field[SM_FIELD_FORMULA], s->field[SM_FIELD_CAS],
               s->mw, s->n_peaks);
        char csv[65536], tsv[65536];
        size_t cl = (size_t)snprintf(csv, sizeof csv, "m/z,intensity\n");
        size_t tl = 0;
        for (size_t k = 0; k < s->n_peaks; k++) {
            double mz = s->peaks[k].mz, in = s->peaks[k].intensity;
            append(&jdx, &jl, &jcap, "%.17g,%.17g%s", mz, in,
                   k % 5 == 4 || k + 1 == s->n_peaks ? "\n" : " ");
            append(&msl, &ml, &mcap, "(%5.17g %5.17g)%s", mz, in,
                   k % 5 == 4 || k + 1 == s->n_peaks ? "\n" : " ");
            cl += (size_t)snprintf(csv + cl, sizeof csv - cl, "%.17g,%.17g\n", mz, in);
            tl += (size_t)snprintf(tsv + tl, sizeof tsv - tl, "%.17g\t%.17g\n", mz, in);
        }
        append(&jdx, &jl, &jcap, "##END=\n");
        append(&msl, &ml, &mcap, "\n");

        char name[32];
        snprintf(name, sizeof name, "same-%d.csv", i);
        rd_open(&x, named_text(name, csv));
        assert_int_equal(sm_reader_format(x.r), SM_FORMAT_PEAKTABLE);
        next_ok(&x, name, s->n_peaks);
        same_peaks(&x.s, s);
        rd_close(&x);
        rd_stream(&x, tsv, "<stdin>", SM_FORMAT_AUTO);
        assert_int_equal(sm_reader_format(x.r), SM_FORMAT_PEAKTABLE);
        next_ok(&x, "<stdin>", s->n_peaks);
        same_peaks(&x.s, s);
        rd_close(&x);
    }
    append(&jdx, &jl, &jcap, "##END=\n");

    rd y;
    rd_open(&x, temp_text(jdx));
    rd_open(&y, temp_text(msl));
    assert_int_equal(sm_reader_format(x.r), SM_FORMAT_JCAMP);
    assert_int_equal(sm_reader_format(y.r), SM_FORMAT_MSL);
    for (int i = 0; i < N_SAME; i++) {
        const sm_spectrum *s = &ref[i];
        next_ok(&x, s->field[SM_FIELD_NAME], s->n_peaks);
        next_ok(&y, s->field[SM_FIELD_NAME], s->n_peaks);
        same_peaks(&x.s, s);
        same_peaks(&y.s, s);
        for (int f = SM_FIELD_FORMULA; f <= SM_FIELD_CAS; f++) {
            if (f == SM_FIELD_FORMULA || f == SM_FIELD_CAS) {
                assert_string_equal(x.s.field[f], s->field[f]);
                assert_string_equal(y.s.field[f], s->field[f]);
            }
        }
        assert_string_equal(x.s.field[SM_FIELD_ID], s->field[SM_FIELD_ID]);
        assert_near(x.s.mw, s->mw, 0);
        assert_near(y.s.mw, s->mw, 0);
    }
    assert_int_equal(rd_next(&x), SM_END);
    assert_int_equal(rd_next(&y), SM_END);
    assert_int_equal(sm_reader_records(x.r), N_SAME);
    rd_close(&x);
    rd_close(&y);
    free(jdx);
    free(msl);
    for (int i = 0; i < N_SAME; i++)
        sm_spectrum_clear(&ref[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msp_nist_export),
        cmocka_unit_test(test_msp_msdial_massbank),
        cmocka_unit_test(test_msp_latin1_bom_crlf),
        cmocka_unit_test(test_msl),
        cmocka_unit_test(test_msl_errors),
        cmocka_unit_test(test_jcamp_two_blocks),
        cmocka_unit_test(test_jcamp_link_and_factors),
        cmocka_unit_test(test_jcamp_errors),
        cmocka_unit_test(test_peak_tables),
        cmocka_unit_test(test_peak_table_errors),
        cmocka_unit_test(test_detection),
        cmocka_unit_test(test_streams),
        cmocka_unit_test(test_format_names),
        cmocka_unit_test(test_same_spectrum_every_format),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
