/* msp.c — the streaming spectrum reader: lines, format dispatch, and the NIST MSP / AMDIS MSL parser (MS Search, SWGDRUG, MassBank, MS-DIAL exports). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "formats.h"

enum rec_state { ST_IDLE, ST_FIELDS, ST_PEAKS };

static const char *const field_names[SM_FIELD_COUNT] = {
    "name", "synonyms", "inchikey", "formula", "cas", "id", "comment", "license",
};

const char *sm_field_name(sm_field f)
{
    return (unsigned)f < SM_FIELD_COUNT ? field_names[f] : "";
}

void sm_spectrum_init(sm_spectrum *s)
{
    memset(s, 0, sizeof *s);
    s->mw = NAN;
    s->exact_mass = NAN;
}

void sm_spectrum_clear(sm_spectrum *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < SM_FIELD_COUNT; i++)
        free(s->field[i]);
    free(s->peaks);
    sm_spectrum_init(s);
}

static void free_saved(sm_reader *r)
{
    for (size_t i = 0; i < r->n_saved; i++)
        free(r->saved[i].text);
    free(r->saved);
    r->saved = NULL;
    r->n_saved = r->cap_saved = r->next_saved = 0;
}

void sm_reader_close(sm_reader *r)
{
    if (r == NULL)
        return;
    if (r->owns_fp)
        fclose(r->fp);
    free_saved(r);
    free(r->buf);
    free(r->label);
    free(r);
}

static sm_status reader_new(FILE *fp, bool owns, const char *label, sm_format fmt,
                            sm_reader **out, sm_error *err)
{
    if ((unsigned)fmt > SM_FORMAT_PEAKTABLE) {
        if (owns)
            fclose(fp);
        return sm_seterr_(err, SM_ERR_ARG, label, 0, "unknown input format number %d",
                          (int)fmt);
    }
    sm_reader *r = calloc(1, sizeof *r);
    if (r == NULL) {
        if (owns)
            fclose(fp);
        return sm_seterr_(err, SM_ERR_NOMEM, label, 0, "out of memory");
    }
    r->fp = fp;
    r->owns_fp = owns;
    r->buf = malloc(SM_MAX_LINE + 2);
    r->label = strdup(label);
    if (r->buf == NULL || r->label == NULL) {
        sm_reader_close(r);
        return sm_seterr_(err, SM_ERR_NOMEM, label, 0, "out of memory");
    }
    r->format = fmt;
    if (fmt == SM_FORMAT_AUTO) {
        sm_status st = sm_detect_format_(r, err);
        if (st != SM_OK) {
            sm_reader_close(r);
            return st;
        }
    }
    *out = r;
    return SM_OK;
}

sm_status sm_reader_open_format(const char *path, sm_format fmt, sm_reader **out,
                                sm_error *err)
{
    *out = NULL;
    if (path == NULL)
        return sm_seterr_(err, SM_ERR_ARG, NULL, 0, "no path given");
    if (strcmp(path, "-") == 0)
        return reader_new(stdin, false, "<stdin>", fmt, out, err);
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return sm_seterr_(err, SM_ERR_IO, path, 0, "cannot open: %s", strerror(errno));
    return reader_new(fp, true, path, fmt, out, err);
}

sm_status sm_reader_open(const char *path, sm_reader **out, sm_error *err)
{
    return sm_reader_open_format(path, SM_FORMAT_AUTO, out, err);
}

sm_status sm_reader_open_stream_format(FILE *fp, const char *label, sm_format fmt,
                                       sm_reader **out, sm_error *err)
{
    *out = NULL;
    if (fp == NULL)
        return sm_seterr_(err, SM_ERR_ARG, label, 0, "no stream given");
    return reader_new(fp, false, label ? label : "<stream>", fmt, out, err);
}

sm_status sm_reader_open_stream(FILE *fp, const char *label, sm_reader **out, sm_error *err)
{
    return sm_reader_open_stream_format(fp, label, SM_FORMAT_AUTO, out, err);
}

size_t sm_reader_records(const sm_reader *r)
{
    return r->records;
}

sm_format sm_reader_format(const sm_reader *r)
{
    return r ? r->format : SM_FORMAT_AUTO;
}

sm_status sm_reader_next(sm_reader *r, sm_spectrum *s, sm_error *err)
{
    switch (r->format) {
    case SM_FORMAT_JCAMP:
        return sm_jcamp_next_(r, s, err);
    case SM_FORMAT_PEAKTABLE:
        return sm_table_next_(r, s, err);
    default:
        return sm_msp_next_(r, s, err);
    }
}

/* Reads a line from the stream into r->buf. A line longer than SM_MAX_LINE is
 * consumed whole and flagged, never split into two. */
static bool read_raw_line(sm_reader *r)
{
    if (r->eof)
        return false;
    size_t n = 0;
    int c;
    bool any = false;
    r->line_too_long = false;
    r->line_has_nul = false;
    /* (one reader a stream: no lock a character) */
    while ((c = getc_unlocked(r->fp)) != EOF) {
        any = true;
        if (c == '\n')
            break;
        if (c == '\0')
            r->line_has_nul = true;
        if (n < SM_MAX_LINE)
            r->buf[n++] = (char)c;
        else
            r->line_too_long = true;
    }
    if (c == EOF) {
        if (ferror(r->fp))
            r->io_error = true;
        r->eof = true;
        if (!any)
            return false;
    }
    while (n > 0 && r->buf[n - 1] == '\r')
        n--;
    r->buf[n] = '\0';
    r->len = n;
    r->lineno = ++r->raw_lines;
    /* A UTF-8 byte order mark before the first record is not content. */
    if (r->lineno == 1 && n >= 3 && (unsigned char)r->buf[0] == 0xEF &&
        (unsigned char)r->buf[1] == 0xBB && (unsigned char)r->buf[2] == 0xBF) {
        memmove(r->buf, r->buf + 3, n - 2);
        r->len -= 3;
    }
    return true;
}

bool sm_read_line_(sm_reader *r)
{
    if (r->have_line) {
        r->have_line = false;
        return true;
    }
    if (r->next_saved < r->n_saved) {
        sm_saved_line *l = &r->saved[r->next_saved++];
        memcpy(r->buf, l->text, l->len + 1);
        r->len = l->len;
        r->lineno = l->lineno;
        r->line_too_long = l->too_long;
        r->line_has_nul = l->has_nul;
        if (r->next_saved == r->n_saved)
            free_saved(r);
        return true;
    }
    return read_raw_line(r);
}

sm_status sm_save_line_(sm_reader *r, sm_error *err)
{
    if (r->n_saved == r->cap_saved) {
        size_t cap = r->cap_saved ? r->cap_saved * 2 : 16;
        sm_saved_line *p = realloc(r->saved, cap * sizeof *p);
        if (p == NULL)
            return sm_seterr_(err, SM_ERR_NOMEM, r->label, r->lineno, "out of memory");
        r->saved = p;
        r->cap_saved = cap;
    }
    sm_saved_line *l = &r->saved[r->n_saved];
    l->text = malloc(r->len + 1);
    if (l->text == NULL)
        return sm_seterr_(err, SM_ERR_NOMEM, r->label, r->lineno, "out of memory");
    memcpy(l->text, r->buf, r->len + 1);
    l->len = r->len;
    l->lineno = r->lineno;
    l->too_long = r->line_too_long;
    l->has_nul = r->line_has_nul;
    r->n_saved++;
    r->next_saved = r->n_saved;
    return SM_OK;
}

sm_status sm_line_check_(sm_reader *r, sm_error *err)
{
    if (r->line_too_long)
        return sm_seterr_(err, SM_ERR_LIMIT, r->label, r->lineno,
                          "line longer than %d bytes (the limit)", SM_MAX_LINE);
    if (r->line_has_nul)
        return sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                          "NUL byte in text; expected a text file, not binary data");
    return SM_OK;
}

bool sm_is_blank_(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return *s == '\0';
}

char *sm_trim_(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* "Key: value" where the key starts with a letter and holds no digit-only prefix.
 * On success *key and *value point into the line (the line is modified). */
bool sm_split_field_(char *line, char **key, char **value)
{
    char *s = line;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!isalpha((unsigned char)*s))
        return false;
    char *colon = strchr(s, ':');
    if (colon == NULL)
        return false;
    *colon = '\0';
    *key = sm_trim_(s);
    *value = sm_trim_(colon + 1);
    return true;
}

static bool key_is(const char *key, const char *name)
{
    return strcasecmp(key, name) == 0;
}

bool sm_line_starts_record_(const char *line)
{
    while (*line == ' ' || *line == '\t')
        line++;
    if (strncasecmp(line, "name", 4) != 0)
        return false;
    line += 4;
    while (*line == ' ' || *line == '\t')
        line++;
    return *line == ':';
}

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), 0 when the byte at p does not start one. */
static size_t utf8_seq(const unsigned char *p)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return n;
}

char *sm_utf8_dup_(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    /* each byte becomes at most two */
    char *out = malloc(2 * n + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    while (*p) {
        size_t k = utf8_seq(p);
        if (k > 0) {
            memcpy(out + o, p, k);
            o += k;
            p += k;
        } else {
            out[o++] = (char)(0xC0 | (*p >> 6));
            out[o++] = (char)(0x80 | (*p & 0x3F));
            p++;
        }
    }
    out[o] = '\0';
    char *shrunk = realloc(out, o + 1);
    return shrunk ? shrunk : out;
}

sm_status sm_set_field_(sm_spectrum *s, sm_field f, const char *value, bool append,
                        sm_reader *r, sm_error *err)
{
    char *old = s->field[f];
    if (old != NULL && !append)
        return sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                          "field '%s' appears twice in one spectrum record; expected "
                          "one per record", sm_field_name(f));
    if (old != NULL && *value == '\0')
        return SM_OK;
    char *v = sm_utf8_dup_(value);
    if (v == NULL)
        return sm_seterr_(err, SM_ERR_NOMEM, r->label, r->lineno, "out of memory");
    if (old == NULL) {
        s->field[f] = v;
        return SM_OK;
    }
    size_t a = strlen(old), b = strlen(v);
    char *p = realloc(old, a + b + 2);
    if (p == NULL) {
        free(v);
        return sm_seterr_(err, SM_ERR_NOMEM, r->label, r->lineno, "out of memory");
    }
    p[a] = '\n';
    memcpy(p + a + 1, v, b + 1);
    free(v);
    s->field[f] = p;
    return SM_OK;
}

/* 10^0 .. 10^22: the powers of ten a double holds exactly. */
static const double exact_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* An ASCII digit, whatever the locale (isdigit asks the locale's table). */
static inline bool is_digit(char c)
{
    return (unsigned char)(c - '0') < 10;
}

/* A decimal number as strtod reads it, to the same double. The common case (at
 * most 19 significant digits, a whole number M <= 2^53 once the point is dropped,
 * M times or over a power of ten up to 10^22) is one exact double operation on two
 * exact doubles, which IEEE rounds correctly as strtod does; anything else goes to
 * strtod. (Peak lists are most of an MSP file: strtod alone took about a third of
 * reading one.) */
bool sm_parse_number_(const char *tok, size_t len, double *out)
{
    char tmp[64];
    if (len == 0 || len >= sizeof tmp)
        return false;
    size_t i = 0;
    bool neg = false;
    if (tok[i] == '+' || tok[i] == '-')
        neg = tok[i++] == '-';
    uint64_t mant = 0;
    int sig = 0, scale = 0; /* value = mant 10^(scale + exponent) */
    bool digits = false, fits = true;
    for (bool frac = false;; i++) {
        if (i < len && tok[i] == '.' && !frac) {
            frac = true;
            continue;
        }
        if (i >= len || !is_digit(tok[i]))
            break;
        unsigned d = (unsigned)(tok[i] - '0');
        digits = true;
        scale -= frac;
        if (mant == 0 && d == 0)
            continue; /* a leading zero */
        if (sig == 19) {
            fits = false; /* (still checked to the end) */
            continue;
        }
        mant = mant * 10 + d;
        sig++;
    }
    if (!digits)
        return false;
    long exponent = 0;
    if (i < len && (tok[i] == 'e' || tok[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < len && (tok[i] == '+' || tok[i] == '-'))
            eneg = tok[i++] == '-';
        bool ed = false;
        for (; i < len && is_digit(tok[i]); i++) {
            ed = true;
            if (exponent < 100000)
                exponent = exponent * 10 + (tok[i] - '0');
        }
        if (!ed)
            return false;
        exponent = eneg ? -exponent : exponent;
    }
    if (i != len)
        return false;
    long k = scale + exponent;
    if (fits && mant <= ((uint64_t)1 << 53) && k >= -22 && k <= 22) {
        double v = (double)mant;
        v = k < 0 ? v / exact_pow10[-k] : v * exact_pow10[k];
        *out = neg ? -v : v;
        return true;
    }
    memcpy(tmp, tok, len);
    tmp[len] = '\0';
    errno = 0;
    double v = strtod(tmp, NULL);
    if (errno == ERANGE && fabs(v) > 1.0)
        return false;
    *out = v;
    return isfinite(v);
}

sm_status sm_add_peak_(sm_spectrum *s, double mz, double in, sm_reader *r, sm_error *err)
{
    if (!isfinite(mz) || mz <= 0 || mz > SM_MAX_MZ)
        return sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                          "m/z %g out of range; expected 0 < m/z <= %g", mz, SM_MAX_MZ);
    if (!isfinite(in) || in < 0 || in > SM_MAX_INTENSITY)
        return sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                          "abundance %g at m/z %g out of range; expected 0 <= "
                          "abundance <= %g", in, mz, SM_MAX_INTENSITY);
    if (s->n_peaks >= SM_MAX_PEAKS)
        return sm_seterr_(err, SM_ERR_LIMIT, r->label, r->lineno,
                          "more than %d peaks in one spectrum (the limit)", SM_MAX_PEAKS);
    if (s->n_peaks == s->cap_peaks) {
        size_t cap = s->cap_peaks ? s->cap_peaks * 2 : 64;
        sm_peak *p = realloc(s->peaks, cap * sizeof *p);
        if (p == NULL)
            return sm_seterr_(err, SM_ERR_NOMEM, r->label, r->lineno, "out of memory");
        s->peaks = p;
        s->cap_peaks = cap;
    }
    s->peaks[s->n_peaks].mz = mz;
    s->peaks[s->n_peaks].intensity = in;
    s->n_peaks++;
    return SM_OK;
}

/* ------------------------------------------------------------------ */
/* MSP and MSL records                                                 */

/* Skips to the end of the current record so that the next call starts clean. */
static void resync(sm_reader *r)
{
    while (sm_read_line_(r)) {
        if (sm_is_blank_(r->buf))
            return;
        if (sm_line_starts_record_(r->buf)) {
            r->have_line = true;
            return;
        }
    }
}

static sm_status parse_value(const char *key, const char *value, double *out, sm_reader *r,
                             sm_error *err)
{
    double v;
    if (!sm_parse_number_(value, strlen(value), &v) || v < 0)
        return sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                          "expected a non-negative number for '%s', found '%.40s'", key,
                          value);
    *out = v;
    return SM_OK;
}

static bool peak_sep(char c)
{
    return c == ' ' || c == '\t' || c == ';' || c == ',';
}

/* One line of peak data: "m/z abundance" pairs separated by blanks, tabs, ',' or
 * ';' (NIST MS Search writes "41 100; 43 999;"), each pair optionally followed by an
 * annotation in double quotes, or AMDIS MSL pairs in parentheses "(  41  100)". */
static sm_status parse_peak_line(sm_reader *r, sm_spectrum *s, sm_error *err)
{
    const char *p = r->buf;
    double pending = 0;
    bool have_mz = false;
    bool in_paren = false;
    size_t paren_first = 0;  /* peaks before the open parenthesis */
    while (*p) {
        if (peak_sep(*p)) {
            p++;
            continue;
        }
        if (*p == '(') {
            if (in_paren || have_mz)
                return sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                                  "unexpected '(' in peak data; expected '(m/z abundance)' "
                                  "pairs");
            in_paren = true;
            paren_first = s->n_peaks;
            p++;
            continue;
        }
        if (*p == ')') {
            if (!in_paren || have_mz || s->n_peaks != paren_first + 1)
                return sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                                  "unexpected ')' in peak data; expected one "
                                  "'(m/z abundance)' pair in each pair of parentheses");
            in_paren = false;
            p++;
            continue;
        }
        if (*p == '"') {
            const char *q = strchr(p + 1, '"');
            if (q == NULL)
                return sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                                  "unterminated quoted annotation in peak data");
            if (have_mz)
                return sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                                  "annotation after an m/z without an abundance; expected "
                                  "'m/z abundance' pairs");
            p = q + 1;
            continue;
        }
        const char *t = p;
        while (*p && !peak_sep(*p) && *p != '"' && *p != '(' && *p != ')')
            p++;
        double v;
        if (!sm_parse_number_(t, (size_t)(p - t), &v))
            return sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                              "expected a number in peak data, found '%.*s'",
                              (int)((p - t) > 40 ? 40 : (p - t)), t);
        if (!have_mz) {
            if (v <= 0 || v > SM_MAX_MZ)
                return sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                                  "m/z %g out of range; expected 0 < m/z <= %g", v,
                                  SM_MAX_MZ);
            pending = v;
            have_mz = true;
        } else {
            sm_status st = sm_add_peak_(s, pending, v, r, err);
            if (st != SM_OK)
                return st;
            have_mz = false;
        }
    }
    if (have_mz)
        return sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                          "m/z %g has no abundance; expected 'm/z abundance' pairs", pending);
    if (in_paren)
        return sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                          "'(' without ')' in peak data; expected '(m/z abundance)' pairs");
    return SM_OK;
}

static sm_status finish_record(sm_reader *r, sm_spectrum *s, long declared,
                               unsigned long decl_line, sm_error *err)
{
    if (declared < 0)
        return sm_seterr_(err, SM_ERR_PARSE, r->label, s->line,
                          "spectrum record has no 'Num Peaks:' line; expected one before "
                          "the peak list");
    if ((size_t)declared != s->n_peaks)
        return sm_seterr_(err, SM_ERR_PARSE, r->label, decl_line,
                          "'Num Peaks: %ld' but %zu peaks were read", declared, s->n_peaks);
    if (s->n_peaks == 0)
        return sm_seterr_(err, SM_ERR_PARSE, r->label, s->line,
                          "spectrum record has no peaks");
    return SM_OK;
}

sm_status sm_msp_next_(sm_reader *r, sm_spectrum *s, sm_error *err)
{
    sm_spectrum_clear(s);
    enum rec_state state = ST_IDLE;
    long declared = -1;
    unsigned long decl_line = 0;
    bool id_from_nist = false;  /* the id came from NIST#, a DB# or ID replaces it */
    sm_status st = SM_OK;

    for (;;) {
        if (!sm_read_line_(r)) {
            if (r->io_error)
                return sm_seterr_(err, SM_ERR_IO, r->label, r->lineno, "read error: %s",
                                  strerror(errno));
            if (state == ST_IDLE)
                return SM_END;
            st = finish_record(r, s, declared, decl_line, err);
            return st;
        }
        if (r->line_too_long || r->line_has_nul) {
            if (state == ST_IDLE)
                r->records++;
            st = sm_line_check_(r, err);
            goto fail;
        }
        if (sm_is_blank_(r->buf)) {
            if (state == ST_IDLE)
                continue;
            return finish_record(r, s, declared, decl_line, err);
        }
        if (state == ST_PEAKS) {
            if (sm_line_starts_record_(r->buf)) {
                /* next record follows without a blank line */
                r->have_line = true;
                return finish_record(r, s, declared, decl_line, err);
            }
            st = parse_peak_line(r, s, err);
            if (st != SM_OK)
                goto fail;
            continue;
        }
        if (state == ST_FIELDS && sm_line_starts_record_(r->buf) && s->field[SM_FIELD_NAME]) {
            r->have_line = true;
            return sm_seterr_(err, SM_ERR_PARSE, r->label, s->line,
                              "spectrum record has no 'Num Peaks:' line and no peaks");
        }
        char *key, *value;
        if (!sm_split_field_(r->buf, &key, &value)) {
            if (state == ST_IDLE)
                r->records++;
            st = sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                            state == ST_IDLE
                                ? "expected a 'Name:' line to start a spectrum record"
                                : "expected 'Field: value' or 'Num Peaks:' in a spectrum "
                                  "record");
            goto fail;
        }
        if (state == ST_IDLE) {
            state = ST_FIELDS;
            s->line = r->lineno;
            r->records++;
        }
        if (key_is(key, "Name")) {
            st = sm_set_field_(s, SM_FIELD_NAME, value, false, r, err);
        } else if (key_is(key, "Synon") || key_is(key, "Synonym") || key_is(key, "Synonyms")) {
            st = sm_set_field_(s, SM_FIELD_SYNONYMS, value, true, r, err);
        } else if (key_is(key, "InChIKey")) {
            st = sm_set_field_(s, SM_FIELD_INCHIKEY, value, false, r, err);
        } else if (key_is(key, "Formula") || key_is(key, "Form")) {
            /* AMDIS MSL writes FORM: */
            st = sm_set_field_(s, SM_FIELD_FORMULA, value, false, r, err);
        } else if (key_is(key, "CAS#") || key_is(key, "CASNO") || key_is(key, "CAS")) {
            /* NIST MS Search writes both on one line: "CAS#: 64-17-5; NIST#: 61513" */
            char *semi = strchr(value, ';'), *k2, *v2;
            if (semi != NULL && sm_split_field_(semi + 1, &k2, &v2) && key_is(k2, "NIST#")) {
                *semi = '\0';
                st = sm_set_field_(s, SM_FIELD_CAS, sm_trim_(value), false, r, err);
                if (st == SM_OK && s->field[SM_FIELD_ID] == NULL) {
                    st = sm_set_field_(s, SM_FIELD_ID, v2, false, r, err);
                    id_from_nist = true;
                }
            } else {
                st = sm_set_field_(s, SM_FIELD_CAS, value, false, r, err);
            }
        } else if (key_is(key, "ID") || key_is(key, "DB#")) {
            if (id_from_nist) {
                /* NIST exports carry both NIST# and DB#: DB# is the record's id */
                free(s->field[SM_FIELD_ID]);
                s->field[SM_FIELD_ID] = NULL;
                id_from_nist = false;
            }
            st = sm_set_field_(s, SM_FIELD_ID, value, false, r, err);
        } else if (key_is(key, "NIST#")) {
            if (s->field[SM_FIELD_ID] == NULL) {
                st = sm_set_field_(s, SM_FIELD_ID, value, false, r, err);
                id_from_nist = true;
            }
        } else if (key_is(key, "Comment") || key_is(key, "Comments")) {
            st = sm_set_field_(s, SM_FIELD_COMMENT, value, true, r, err);
        } else if (key_is(key, "License") || key_is(key, "Licence")) {
            st = sm_set_field_(s, SM_FIELD_LICENSE, value, false, r, err);
        } else if (key_is(key, "MW")) {
            if (*value)
                st = parse_value("MW", value, &s->mw, r, err);
        } else if (key_is(key, "ExactMass") || key_is(key, "Exact Mass") ||
                   key_is(key, "Exact_Mass")) {
            if (*value)
                st = parse_value("ExactMass", value, &s->exact_mass, r, err);
        } else if (key_is(key, "Num Peaks") || key_is(key, "NumPeaks") ||
                   key_is(key, "Num_Peaks")) {
            double v;
            if (!sm_parse_number_(value, strlen(value), &v) || v < 0 || v != floor(v) ||
                v > SM_MAX_PEAKS) {
                st = sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                                "expected a whole number of peaks (0 to %d) after 'Num "
                                "Peaks:', found '%.40s'", SM_MAX_PEAKS, value);
            } else {
                declared = (long)v;
                decl_line = r->lineno;
                state = ST_PEAKS;
            }
        }
        /* other fields (SMILES, Instrument, PRECURSORMZ, RETENTIONTIME, IONMODE...) are
         * not needed for search */
        if (st != SM_OK)
            goto fail;
    }

fail:
    resync(r);
    return st;
}
