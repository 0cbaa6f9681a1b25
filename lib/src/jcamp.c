/* jcamp.c — JCAMP-DX mass spectra: blocks (LINK wrappers skipped), metadata, (XY..XY) peak tables.
 *
 * JCAMP-DX: McDonald & Wilks, Appl. Spectrosc. 42 (1988) 151 (labelled data records
 * "##LABEL= value", labels compared without blanks, '-', '/' and '_', "$$" comments);
 * mass spectra: Lampen et al., Appl. Spectrosc. 48 (1994) 1545 (DATA TYPE= MASS
 * SPECTRUM, PEAK TABLE=(XY..XY)), as the NIST WebBook writes them. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "formats.h"

typedef struct block {
    bool in_block;
    bool has_table;        /* a ##PEAK TABLE= or ##XYDATA= was seen */
    bool in_table;         /* lines are x,y pairs */
    bool link;             /* ##DATA TYPE= LINK */
    bool mass_spectrum;    /* ##DATA TYPE= MASS SPECTRUM */
    int cont;              /* field continued by plain lines, -1 for none */
    long npoints;          /* ##NPOINTS=, -1 when absent */
    unsigned long np_line;
    double xfactor, yfactor;
} block;

static void block_reset(block *b)
{
    memset(b, 0, sizeof *b);
    b->cont = -1;
    b->npoints = -1;
    b->xfactor = 1;
    b->yfactor = 1;
}

/* "##LABEL= value": the label upper-cased without blanks, '-', '/', '_' (as the
 * standard compares them); *value trimmed, pointing into line. */
static bool parse_ldr(char *line, char *label, size_t cap, char **value)
{
    char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    if (p[0] != '#' || p[1] != '#')
        return false;
    p += 2;
    char *eq = strchr(p, '=');
    if (eq == NULL)
        return false;
    size_t n = 0;
    for (char *q = p; q < eq; q++) {
        if (*q == ' ' || *q == '\t' || *q == '-' || *q == '/' || *q == '_')
            continue;
        if (n + 1 < cap)
            label[n++] = (char)toupper((unsigned char)*q);
    }
    label[n] = '\0';
    *value = sm_trim_(eq + 1);
    return true;
}

/* Upper case without blanks, for comparing values such as "MASS SPECTRUM". */
static void squeeze_upper(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (; *in && n + 1 < cap; in++)
        if (*in != ' ' && *in != '\t')
            out[n++] = (char)toupper((unsigned char)*in);
    out[n] = '\0';
}

static bool is_label(const char *label, const char *name)
{
    return strcmp(label, name) == 0;
}

static sm_status number_value(const char *label, const char *value, bool whole,
                              double *out, sm_reader *r, sm_error *err)
{
    double v;
    if (!sm_parse_number_(value, strlen(value), &v) || v < 0 || (whole && v != floor(v)))
        return sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                          "expected a non-negative %s after '##%s=', found '%.40s'",
                          whole ? "whole number" : "number", label, value);
    *out = v;
    return SM_OK;
}

/* One line of (XY..XY) data: "x,y" pairs separated by blanks or ';'. */
static sm_status parse_xy_line(sm_reader *r, sm_spectrum *s, const block *b, sm_error *err)
{
    const char *p = r->buf;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        if (*p == '\0')
            return SM_OK;
        double xy[2];
        for (int k = 0; k < 2; k++) {
            if (k == 1) {
                while (*p == ' ' || *p == '\t')
                    p++;
                if (*p != ',')
                    return sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                                      "m/z %g has no abundance; expected 'x,y' pairs "
                                      "separated by blanks or ';'", xy[0]);
                p++;
                while (*p == ' ' || *p == '\t')
                    p++;
            }
            const char *t = p;
            while (*p && *p != ' ' && *p != '\t' && *p != ';' && *p != ',')
                p++;
            if (!sm_parse_number_(t, (size_t)(p - t), &xy[k]))
                return sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                                  "expected a number in 'x,y' peak data, found '%.*s'",
                                  (int)((p - t) > 40 ? 40 : (p - t)), t);
        }
        sm_status st = sm_add_peak_(s, xy[0] * b->xfactor, xy[1] * b->yfactor, r, err);
        if (st != SM_OK)
            return st;
    }
}

/* After an error: skip the rest of the block (its ##END= is consumed) or stop
 * before the next ##TITLE=. */
static void resync(sm_reader *r, bool in_block)
{
    char label[32];
    char *value;
    while (sm_read_line_(r)) {
        if (r->line_too_long || r->line_has_nul || !parse_ldr(r->buf, label, sizeof label, &value))
            continue;
        if (is_label(label, "TITLE")) {
            r->have_line = true;
            return;
        }
        if (is_label(label, "END")) {
            if (in_block)
                return;
            if (r->jcamp_depth > 0)
                r->jcamp_depth--;
        }
    }
}

static sm_status finish_block(sm_reader *r, sm_spectrum *s, const block *b, sm_error *err)
{
    if (!b->has_table)
        return sm_seterr_(err, SM_ERR_PARSE, r->label, s->line,
                          "JCAMP-DX block has no '##PEAK TABLE=' or '##XYDATA='; expected "
                          "a mass spectrum's peaks");
    if (b->npoints >= 0 && (size_t)b->npoints != s->n_peaks)
        return sm_seterr_(err, SM_ERR_PARSE, r->label, b->np_line,
                          "'##NPOINTS= %ld' but %zu x,y pairs were read", b->npoints,
                          s->n_peaks);
    if (s->n_peaks == 0)
        return sm_seterr_(err, SM_ERR_PARSE, r->label, s->line,
                          "JCAMP-DX block has no peaks");
    return SM_OK;
}

sm_status sm_jcamp_next_(sm_reader *r, sm_spectrum *s, sm_error *err)
{
    sm_spectrum_clear(s);
    block b;
    block_reset(&b);
    sm_status st = SM_OK;
    char label[64];
    char *value;

    for (;;) {
        if (!sm_read_line_(r)) {
            if (r->io_error)
                return sm_seterr_(err, SM_ERR_IO, r->label, r->lineno, "read error: %s",
                                  strerror(errno));
            if (!b.in_block)
                return SM_END;
            return sm_seterr_(err, SM_ERR_PARSE, r->label, s->line,
                              "JCAMP-DX block ends with the file; expected '##END='");
        }
        if (r->line_too_long || r->line_has_nul) {
            if (!b.in_block)
                r->records++;
            st = sm_line_check_(r, err);
            goto fail;
        }
        char *comment = strstr(r->buf, "$$");
        if (comment != NULL)
            *comment = '\0';
        if (sm_is_blank_(r->buf))
            continue;

        if (!parse_ldr(r->buf, label, sizeof label, &value)) {
            if (!b.in_block) {
                r->records++;
                st = sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                                "expected '##TITLE=' to start a JCAMP-DX block, found "
                                "'%.40s'", sm_trim_(r->buf));
                goto fail;
            }
            if (b.in_table)
                st = parse_xy_line(r, s, &b, err);
            else if (b.cont >= 0)
                st = sm_set_field_(s, (sm_field)b.cont, sm_trim_(r->buf), true, r, err);
            /* else: the continuation of a record not kept (##OWNER= text...) */
            if (st != SM_OK)
                goto fail;
            continue;
        }

        b.in_table = false;
        b.cont = -1;
        if (is_label(label, "TITLE")) {
            if (b.in_block) {
                if (b.has_table || b.mass_spectrum) {
                    r->have_line = true;
                    return sm_seterr_(err, SM_ERR_PARSE, r->label, s->line,
                                      "JCAMP-DX block has no '##END=' before the next "
                                      "'##TITLE=' at line %lu", r->lineno);
                }
                /* A block without data that holds blocks: a LINK block (compound
                 * file) around the spectra. It is not a spectrum of its own. */
                r->records--;
                r->jcamp_depth++;
                sm_spectrum_clear(s);
                block_reset(&b);
            }
            b.in_block = true;
            s->line = r->lineno;
            r->records++;
            st = sm_set_field_(s, SM_FIELD_NAME, value, false, r, err);
            if (st != SM_OK)
                goto fail;
            continue;
        }
        if (!b.in_block) {
            if (is_label(label, "END") && r->jcamp_depth > 0) {
                r->jcamp_depth--;  /* the end of a LINK block */
                continue;
            }
            r->records++;
            st = sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                            "expected '##TITLE=' to start a JCAMP-DX block, found '##%s='",
                            label);
            goto fail;
        }
        if (is_label(label, "END")) {
            if (b.link && !b.has_table && s->n_peaks == 0) {
                /* an empty LINK block */
                r->records--;
                sm_spectrum_clear(s);
                block_reset(&b);
                continue;
            }
            return finish_block(r, s, &b, err);
        } else if (is_label(label, "DATATYPE")) {
            char dt[64];
            squeeze_upper(value, dt, sizeof dt);
            if (strcmp(dt, "MASSSPECTRUM") == 0) {
                b.mass_spectrum = true;
            } else if (strcmp(dt, "LINK") == 0) {
                b.link = true;
            } else {
                st = sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                                "'##DATA TYPE= %.40s' is not a mass spectrum; expected "
                                "MASS SPECTRUM", value);
                goto fail;
            }
        } else if (is_label(label, "MOLFORM")) {
            /* JCAMP writes "C2 H6 O": the same formula as MSP's "C2H6O" */
            char *o = value;
            for (const char *q = value; *q; q++)
                if (*q != ' ' && *q != '\t')
                    *o++ = *q;
            *o = '\0';
            st = sm_set_field_(s, SM_FIELD_FORMULA, value, false, r, err);
        } else if (is_label(label, "CASREGISTRYNO")) {
            st = sm_set_field_(s, SM_FIELD_CAS, value, false, r, err);
        } else if (is_label(label, "$NISTMASSSPECNUM")) {
            st = sm_set_field_(s, SM_FIELD_ID, value, false, r, err);
        } else if (is_label(label, "NAMES")) {
            if (*value)
                st = sm_set_field_(s, SM_FIELD_SYNONYMS, value, true, r, err);
            b.cont = SM_FIELD_SYNONYMS;
        } else if (is_label(label, "MW")) {
            if (*value)
                st = number_value("MW", value, false, &s->mw, r, err);
        } else if (is_label(label, "NPOINTS")) {
            double v = 0;
            st = number_value("NPOINTS", value, true, &v, r, err);
            if (st == SM_OK && v > SM_MAX_PEAKS)
                st = sm_seterr_(err, SM_ERR_LIMIT, r->label, r->lineno,
                                "'##NPOINTS= %.40s' is more than %d peaks (the limit)",
                                value, SM_MAX_PEAKS);
            if (st == SM_OK) {
                b.npoints = (long)v;
                b.np_line = r->lineno;
            }
        } else if (is_label(label, "XFACTOR") || is_label(label, "YFACTOR")) {
            double v = 0;
            st = number_value(label, value, false, &v, r, err);
            if (st == SM_OK && v == 0)
                st = sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                                "'##%s= 0'; expected a factor above 0", label);
            if (st == SM_OK)
                *(label[0] == 'X' ? &b.xfactor : &b.yfactor) = v;
        } else if (is_label(label, "PEAKTABLE") || is_label(label, "XYDATA")) {
            char form[32];
            squeeze_upper(value, form, sizeof form);
            if (b.has_table)
                st = sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                                "second peak table in one JCAMP-DX block; expected one "
                                "'##PEAK TABLE=' or '##XYDATA=' per block");
            else if (strcmp(form, "(XY..XY)") != 0)
                st = sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                                "'##%s= %.40s' is not read; expected (XY..XY) pairs",
                                is_label(label, "XYDATA") ? "XYDATA" : "PEAK TABLE", value);
            b.has_table = true;
            b.in_table = true;
        }
        /* other records (##JCAMP-DX=, ##ORIGIN=, ##OWNER=, ##XUNITS=, ##BLOCKS=...) are
         * not needed for search */
        if (st != SM_OK)
            goto fail;
    }

fail:
    resync(r, b.in_block);
    return st;
}
