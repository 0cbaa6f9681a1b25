/* peaktable.c — a two-column peak table (CSV, TSV or blank-separated m/z and intensity) as one spectrum named after its file. */
#include <errno.h>
#include <string.h>

#include "formats.h"

/* Skips the rest of the file: it is one spectrum, and that one is in error. */
static void skip_rest(sm_reader *r)
{
    while (sm_read_line_(r))
        ;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

sm_status sm_table_next_(sm_reader *r, sm_spectrum *s, sm_error *err)
{
    sm_spectrum_clear(s);
    if (r->table_done)
        return SM_END;
    r->table_done = true;
    r->records++;
    sm_status st = sm_set_field_(s, SM_FIELD_NAME, base_name(r->label), false, r, err);
    if (st != SM_OK)
        goto fail;
    bool first = true;
    for (;;) {
        if (!sm_read_line_(r)) {
            if (r->io_error)
                return sm_seterr_(err, SM_ERR_IO, r->label, r->lineno, "read error: %s",
                                  strerror(errno));
            break;
        }
        st = sm_line_check_(r, err);
        if (st != SM_OK)
            goto fail;
        const char *t = r->buf;
        while (*t == ' ' || *t == '\t')
            t++;
        if (*t == '\0' || *t == '#')
            continue;  /* blank lines and '#' comment lines */
        if (s->line == 0)
            s->line = r->lineno;
        const char *cell[3];
        size_t len[3];
        size_t n = sm_table_cells_(r->buf, cell, len, 3);
        double v[2];
        bool numeric = n == 2 && sm_parse_number_(cell[0], len[0], &v[0]) &&
                       sm_parse_number_(cell[1], len[1], &v[1]);
        if (first && n == 2 && !numeric) {
            double d;
            if (!sm_parse_number_(cell[0], len[0], &d) &&
                !sm_parse_number_(cell[1], len[1], &d)) {
                first = false;  /* a header such as "m/z,intensity" */
                continue;
            }
        }
        first = false;
        if (n != 2) {
            st = sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                            "%zu column%s; expected two (m/z, intensity)", n,
                            n == 1 ? "" : "s");
            goto fail;
        }
        if (!numeric) {
            int k = sm_parse_number_(cell[0], len[0], &v[0]) ? 1 : 0;
            st = sm_seterr_(err, SM_ERR_PARSE, r->label, r->lineno,
                            "expected a number for the %s in column %d, found '%.*s'",
                            k == 0 ? "m/z" : "intensity", k + 1,
                            (int)(len[k] > 40 ? 40 : len[k]), cell[k]);
            goto fail;
        }
        st = sm_add_peak_(s, v[0], v[1], r, err);
        if (st != SM_OK)
            goto fail;
    }
    if (s->line == 0)
        s->line = r->lineno ? r->lineno : 1;
    if (s->n_peaks == 0)
        return sm_seterr_(err, SM_ERR_PARSE, r->label, s->line,
                          "peak table has no rows; expected 'm/z,intensity' lines");
    return SM_OK;

fail:
    skip_rest(r);
    return st;
}
