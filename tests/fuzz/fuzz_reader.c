/* fuzz_reader.c — fuzz target: the spectrum readers, on any bytes.
 *
 * Input: one selector byte, then the file content. The selector picks the reader
 * ((byte - '0') % 5: '0' auto-detect, '1' MSP, '2' MSL, '3' JCAMP-DX, '4' peak
 * table) where specmatch.h has sm_reader_open_stream_format (meson checks; the
 * define is SM_FUZZ_READER_FORMATS); without it every input goes to the MSP reader
 * and the byte is skipped, so that the corpus means the same before and after.
 *
 * Checked on every input: the reader ends (SM_END or SM_ERR_IO) within a number of
 * calls bounded by the input size; every error fills the error struct; every good
 * spectrum keeps the documented limits and preprocesses into a valid nominal
 * spectrum or fails with an error. */
#include "fuzz.h"

#include <math.h>
#include <string.h>

#include "specmatch/specmatch.h"

static void check_error(sm_status st, const sm_error *err)
{
    SM_FUZZ_CHECK(err->status == st);
    SM_FUZZ_CHECK(memchr(err->message, '\0', sizeof err->message) != NULL);
    SM_FUZZ_CHECK(memchr(err->file, '\0', sizeof err->file) != NULL);
    SM_FUZZ_CHECK(err->message[0] != '\0');
}

static void check_spectrum(const sm_spectrum *s)
{
    static uint16_t mz[SM_MAX_NOMINAL_MZ + 1], in[SM_MAX_NOMINAL_MZ + 1];

    SM_FUZZ_CHECK(s->n_peaks >= 1 && s->n_peaks <= SM_MAX_PEAKS);
    SM_FUZZ_CHECK(s->n_peaks <= s->cap_peaks && s->peaks != NULL);
    for (size_t i = 0; i < s->n_peaks; i++) {
        double m = s->peaks[i].mz, a = s->peaks[i].intensity;
        SM_FUZZ_CHECK(isfinite(m) && m > 0 && m <= SM_MAX_MZ);
        SM_FUZZ_CHECK(isfinite(a) && a >= 0);
    }
    SM_FUZZ_CHECK(isnan(s->mw) || (isfinite(s->mw) && s->mw >= 0));
    SM_FUZZ_CHECK(isnan(s->exact_mass) || (isfinite(s->exact_mass) && s->exact_mass >= 0));
    for (int f = 0; f < SM_FIELD_COUNT; f++)
        if (s->field[f] != NULL)
            (void)strlen(s->field[f]); /* a terminated string: ASan checks the read */

    size_t n = 0;
    sm_error err;
    memset(&err, 0, sizeof err);
    sm_status st = sm_preprocess(s->peaks, s->n_peaks, mz, in, SM_MAX_NOMINAL_MZ + 1, &n, &err);
    if (st != SM_OK) {
        check_error(st, &err);
        return;
    }
    SM_FUZZ_CHECK(n >= 1 && n <= SM_MAX_NOMINAL_MZ + 1);
    int top = 0;
    for (size_t i = 0; i < n; i++) {
        SM_FUZZ_CHECK(mz[i] <= SM_MAX_NOMINAL_MZ);
        SM_FUZZ_CHECK(i == 0 || mz[i] > mz[i - 1]);
        SM_FUZZ_CHECK(in[i] >= 1 && in[i] <= SM_BASE_PEAK);
        top |= in[i] == SM_BASE_PEAK;
    }
    SM_FUZZ_CHECK(top);
}

static sm_status open_reader(FILE *fp, uint8_t selector, sm_reader **r, sm_error *err)
{
#ifdef SM_FUZZ_READER_FORMATS
    static const sm_format formats[] = {SM_FORMAT_AUTO, SM_FORMAT_MSP, SM_FORMAT_MSL,
                                        SM_FORMAT_JCAMP, SM_FORMAT_PEAKTABLE};
    sm_format f = formats[(uint8_t)(selector - '0') % 5];
#if SM_FUZZ_READER_FORMATS == 1
    return sm_reader_open_stream_format(fp, f, "fuzz-input", r, err);
#else
    return sm_reader_open_stream_format(fp, "fuzz-input", f, r, err);
#endif
#else
    (void)selector;
    return sm_reader_open_stream(fp, "fuzz-input", r, err);
#endif
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t selector = data[0];
    size_t n = size - 1;
    /* fmemopen wants a writable buffer even for reading, and one byte at least */
    char *buf = malloc(n ? n : 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data + 1, n);
    FILE *fp = fmemopen(buf, n, "r");
    if (fp == NULL) {
        free(buf);
        return 0;
    }

    sm_reader *r = (sm_reader *)1;
    sm_error err;
    memset(&err, 0, sizeof err);
    sm_status st = open_reader(fp, selector, &r, &err);
    if (st != SM_OK) {
        SM_FUZZ_CHECK(r == NULL);
        check_error(st, &err);
        goto out;
    }

    sm_spectrum s;
    sm_spectrum_init(&s);
    /* Every call takes at least one line; a reader that does not end is a finding. */
    size_t limit = 2 * n + 16, calls = 0, records = 0;
    for (;;) {
        memset(&err, 0, sizeof err);
        st = sm_reader_next(r, &s, &err);
        calls++;
        SM_FUZZ_CHECK(calls <= limit);
        size_t rec = sm_reader_records(r);
        SM_FUZZ_CHECK(rec >= records && rec <= calls);
        records = rec;
        if (st == SM_END)
            break;
        if (st == SM_OK) {
            check_spectrum(&s);
            continue;
        }
        check_error(st, &err);
        SM_FUZZ_CHECK(st == SM_ERR_PARSE || st == SM_ERR_LIMIT || st == SM_ERR_IO ||
                      st == SM_ERR_NOMEM);
        if (st == SM_ERR_IO)
            break;
    }
    sm_spectrum_clear(&s);
    sm_reader_close(r);
out:
    fclose(fp);
    free(buf);
    return 0;
}
