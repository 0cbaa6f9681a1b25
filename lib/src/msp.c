/* msp.c — streaming reader for NIST MSP text spectra (MS Search, SWGDRUG, MassBank, MS-DIAL exports). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sm_internal.h"

/* Largest abundance accepted: beyond any detector's count range, so a value this
 * big is a broken export, not a spectrum. */
#define SM_MAX_INTENSITY 1e15

enum rec_state { ST_IDLE, ST_FIELDS, ST_PEAKS };

struct sm_reader {
    FILE *fp;
    bool owns_fp;
    char *label;            /* file name used in messages */
    char *buf;              /* current line, NUL-terminated, CR/LF stripped */
    size_t len;
    unsigned long lineno;   /* line number of buf */
    bool have_line;         /* buf holds a line not consumed yet (push-back) */
    bool eof;
    bool io_error;
    bool line_too_long;
    bool line_has_nul;
    size_t records;
};

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

static sm_status reader_new(FILE *fp, bool owns, const char *label, sm_reader **out,
                            sm_error *err)
{
    sm_reader *r = calloc(1, sizeof *r);
    if (r == NULL)
        return sm_seterr_(err, SM_ERR_NOMEM, label, 0, "out of memory");
    r->buf = malloc(SM_MAX_LINE + 2);
    r->label = strdup(label);
    if (r->buf == NULL || r->label == NULL) {
        free(r->buf);
        free(r->label);
        free(r);
        return sm_seterr_(err, SM_ERR_NOMEM, label, 0, "out of memory");
    }
    r->fp = fp;
    r->owns_fp = owns;
    *out = r;
    return SM_OK;
}

sm_status sm_reader_open(const char *path, sm_reader **out, sm_error *err)
{
    *out = NULL;
    if (path == NULL)
        return sm_seterr_(err, SM_ERR_ARG, NULL, 0, "no path given");
    if (strcmp(path, "-") == 0)
        return reader_new(stdin, false, "<stdin>", out, err);
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return sm_seterr_(err, SM_ERR_IO, path, 0, "cannot open: %s", strerror(errno));
    sm_status st = reader_new(fp, true, path, out, err);
    if (st != SM_OK)
        fclose(fp);
    return st;
}

sm_status sm_reader_open_stream(FILE *fp, const char *label, sm_reader **out, sm_error *err)
{
    *out = NULL;
    if (fp == NULL)
        return sm_seterr_(err, SM_ERR_ARG, label, 0, "no stream given");
    return reader_new(fp, false, label ? label : "<stream>", out, err);
}

void sm_reader_close(sm_reader *r)
{
    if (r == NULL)
        return;
    if (r->owns_fp)
        fclose(r->fp);
    free(r->buf);
    free(r->label);
    free(r);
}

size_t sm_reader_records(const sm_reader *r)
{
    return r->records;
}

/* Reads the next line into r->buf. Returns false at end of input. A line longer
 * than SM_MAX_LINE is consumed whole and flagged, never split into two. */
static bool read_line(sm_reader *r)
{
    if (r->have_line) {
        r->have_line = false;
        return true;
    }
    if (r->eof)
        return false;
    size_t n = 0;
    int c;
    bool any = false;
    r->line_too_long = false;
    r->line_has_nul = false;
    while ((c = getc(r->fp)) != EOF) {
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
    r->lineno++;
    /* A UTF-8 byte order mark before the first record is not content. */
    if (r->lineno == 1 && n >= 3 && (unsigned char)r->buf[0] == 0xEF &&
        (unsigned char)r->buf[1] == 0xBB && (unsigned char)r->buf[2] == 0xBF) {
        memmove(r->buf, r->buf + 3, n - 2);
        r->len -= 3;
    }
    return true;
}

static bool is_blank(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return *s == '\0';
}

static char *trim(char *s)
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
static bool split_field(char *line, char **key, char **value)
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
    *key = trim(s);
    *value = trim(colon + 1);
    return true;
}

static bool key_is(const char *key, const char *name)
{
    return strcasecmp(key, name) == 0;
}

/* The record starts with a Name: line (any case) or we are between records. */
static bool line_starts_record(const char *line)
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

/* Skips to the end of the current record so that the next call starts clean. */
static void resync(sm_reader *r)
{
    while (read_line(r)) {
        if (is_blank(r->buf))
            return;
        if (line_starts_record(r->buf)) {
            r->have_line = true;
            return;
        }
    }
}

static sm_status set_field(sm_spectrum *s, sm_field f, const char *value, bool append,
                           sm_reader *r, sm_error *err)
{
    char *old = s->field[f];
    if (old != NULL && append && *value != '\0') {
        size_t a = strlen(old), b = strlen(value);
        char *p = realloc(old, a + b + 2);
        if (p == NULL)
            return sm_seterr_(err, SM_ERR_NOMEM, r->label, r->lineno, "out of memory");
        p[a] = '\n';
        memcpy(p + a + 1, value, b + 1);
        s->field[f] = p;
        return SM_OK;
    }
    if (old != NULL && !append)
        return sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                          "field '%s' appears twice in one spectrum record; expected "
                          "one per record", sm_field_name(f));
    if (old != NULL)
        return SM_OK;
    s->field[f] = strdup(value);
    if (s->field[f] == NULL)
        return sm_seterr_(err, SM_ERR_NOMEM, r->label, r->lineno, "out of memory");
    return SM_OK;
}

/* Strict decimal number: no hex, no inf/nan words, nothing trailing. */
static bool parse_number(const char *tok, size_t len, double *out)
{
    char tmp[64];
    if (len == 0 || len >= sizeof tmp)
        return false;
    size_t i = 0;
    if (tok[i] == '+' || tok[i] == '-')
        i++;
    bool digits = false;
    while (i < len && isdigit((unsigned char)tok[i])) {
        i++;
        digits = true;
    }
    if (i < len && tok[i] == '.') {
        i++;
        while (i < len && isdigit((unsigned char)tok[i])) {
            i++;
            digits = true;
        }
    }
    if (!digits)
        return false;
    if (i < len && (tok[i] == 'e' || tok[i] == 'E')) {
        i++;
        if (i < len && (tok[i] == '+' || tok[i] == '-'))
            i++;
        bool ed = false;
        while (i < len && isdigit((unsigned char)tok[i])) {
            i++;
            ed = true;
        }
        if (!ed)
            return false;
    }
    if (i != len)
        return false;
    memcpy(tmp, tok, len);
    tmp[len] = '\0';
    errno = 0;
    double v = strtod(tmp, NULL);
    if (errno == ERANGE && fabs(v) > 1.0)
        return false;
    *out = v;
    return isfinite(v);
}

static sm_status parse_value(const char *key, const char *value, double *out, sm_reader *r,
                             sm_error *err)
{
    double v;
    if (!parse_number(value, strlen(value), &v) || v < 0)
        return sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                          "expected a non-negative number for '%s', found '%.40s'", key,
                          value);
    *out = v;
    return SM_OK;
}

static sm_status push_peak(sm_spectrum *s, double mz, double in, sm_reader *r, sm_error *err)
{
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

/* One line of peak data: "m/z abundance" pairs separated by blanks, tabs or ';',
 * each pair optionally followed by an annotation in double quotes. */
static sm_status parse_peak_line(sm_reader *r, sm_spectrum *s, sm_error *err)
{
    const char *p = r->buf;
    double pending = 0;
    bool have_mz = false;
    while (*p) {
        if (*p == ' ' || *p == '\t' || *p == ';' || *p == ',') {
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
        while (*p && *p != ' ' && *p != '\t' && *p != ';' && *p != ',' && *p != '"')
            p++;
        double v;
        if (!parse_number(t, (size_t)(p - t), &v))
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
            if (v < 0 || v > SM_MAX_INTENSITY)
                return sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                                  "abundance %g at m/z %g out of range; expected 0 <= "
                                  "abundance <= %g", v, pending, SM_MAX_INTENSITY);
            sm_status st = push_peak(s, pending, v, r, err);
            if (st != SM_OK)
                return st;
            have_mz = false;
        }
    }
    if (have_mz)
        return sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                          "m/z %g has no abundance; expected 'm/z abundance' pairs", pending);
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

sm_status sm_reader_next(sm_reader *r, sm_spectrum *s, sm_error *err)
{
    sm_spectrum_clear(s);
    enum rec_state state = ST_IDLE;
    long declared = -1;
    unsigned long decl_line = 0;
    sm_status st = SM_OK;

    for (;;) {
        if (!read_line(r)) {
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
            if (r->line_too_long)
                st = sm_seterr_(err, SM_ERR_LIMIT, r->label, r->lineno,
                                "line longer than %d bytes (the limit)", SM_MAX_LINE);
            else
                st = sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                                "NUL byte in text; expected a text file, not binary data");
            goto fail;
        }
        if (is_blank(r->buf)) {
            if (state == ST_IDLE)
                continue;
            return finish_record(r, s, declared, decl_line, err);
        }
        if (state == ST_PEAKS) {
            if (line_starts_record(r->buf)) {
                /* next record follows without a blank line */
                r->have_line = true;
                return finish_record(r, s, declared, decl_line, err);
            }
            st = parse_peak_line(r, s, err);
            if (st != SM_OK)
                goto fail;
            continue;
        }
        if (state == ST_FIELDS && line_starts_record(r->buf) && s->field[SM_FIELD_NAME]) {
            r->have_line = true;
            return sm_seterr_(err, SM_ERR_PARSE, r->label, s->line,
                              "spectrum record has no 'Num Peaks:' line and no peaks");
        }
        char *key, *value;
        if (!split_field(r->buf, &key, &value)) {
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
            st = set_field(s, SM_FIELD_NAME, value, false, r, err);
        } else if (key_is(key, "Synon") || key_is(key, "Synonym") || key_is(key, "Synonyms")) {
            st = set_field(s, SM_FIELD_SYNONYMS, value, true, r, err);
        } else if (key_is(key, "InChIKey")) {
            st = set_field(s, SM_FIELD_INCHIKEY, value, false, r, err);
        } else if (key_is(key, "Formula")) {
            st = set_field(s, SM_FIELD_FORMULA, value, false, r, err);
        } else if (key_is(key, "CAS#") || key_is(key, "CASNO") || key_is(key, "CAS")) {
            st = set_field(s, SM_FIELD_CAS, value, false, r, err);
        } else if (key_is(key, "ID") || key_is(key, "DB#")) {
            st = set_field(s, SM_FIELD_ID, value, false, r, err);
        } else if (key_is(key, "NIST#")) {
            if (s->field[SM_FIELD_ID] == NULL)
                st = set_field(s, SM_FIELD_ID, value, false, r, err);
        } else if (key_is(key, "Comment") || key_is(key, "Comments")) {
            st = set_field(s, SM_FIELD_COMMENT, value, true, r, err);
        } else if (key_is(key, "License") || key_is(key, "Licence")) {
            st = set_field(s, SM_FIELD_LICENSE, value, false, r, err);
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
            if (!parse_number(value, strlen(value), &v) || v < 0 || v != floor(v) ||
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
        /* other fields (SMILES, Instrument, retention data...) are not needed for search */
        if (st != SM_OK)
            goto fail;
    }

fail:
    resync(r);
    return st;
}
