/* formats.c — input format names and recognition of a spectrum file's format from its first lines. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "formats.h"

/* Detection looks at most this far before it gives up (or settles on MSP when it
 * is looking for MSL parentheses): the lines it read are kept to be read again. */
#define DETECT_MAX_LINES 256
#define DETECT_MAX_BYTES (1u << 20)

static const char *const format_names[] = {"auto", "msp", "msl", "jcamp", "peaks"};

const char *sm_format_name(sm_format f)
{
    return (unsigned)f <= SM_FORMAT_PEAKTABLE ? format_names[f] : "";
}

sm_status sm_format_from_name(const char *name, sm_format *out, sm_error *err)
{
    static const struct {
        const char *name;
        sm_format f;
    } alias[] = {
        {"jcamp-dx", SM_FORMAT_JCAMP}, {"jdx", SM_FORMAT_JCAMP}, {"dx", SM_FORMAT_JCAMP},
        {"peaktable", SM_FORMAT_PEAKTABLE}, {"csv", SM_FORMAT_PEAKTABLE},
        {"tsv", SM_FORMAT_PEAKTABLE},
    };
    if (name != NULL) {
        for (unsigned i = 0; i <= SM_FORMAT_PEAKTABLE; i++)
            if (strcasecmp(name, format_names[i]) == 0) {
                *out = (sm_format)i;
                return SM_OK;
            }
        for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
            if (strcasecmp(name, alias[i].name) == 0) {
                *out = alias[i].f;
                return SM_OK;
            }
    }
    return sm_seterr_(err, SM_ERR_ARG, NULL, 0,
                      "unknown input format '%s'; expected auto, msp, msl, jcamp or peaks",
                      name ? name : "(null)");
}

size_t sm_table_cells_(const char *line, const char **cell, size_t *cell_len, size_t max)
{
    char sep = 0;
    if (strchr(line, '\t'))
        sep = '\t';
    else if (strchr(line, ','))
        sep = ',';
    else if (strchr(line, ';'))
        sep = ';';
    size_t n = 0;
    const char *p = line;
    for (;;) {
        const char *a, *b;
        if (sep) {
            a = p;
            b = strchr(p, sep);
            if (b == NULL)
                b = p + strlen(p);
        } else {
            while (*p == ' ')
                p++;
            if (*p == '\0')
                break;
            a = p;
            b = p;
            while (*b && *b != ' ')
                b++;
        }
        const char *next = b;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b - a >= 2 && *a == '"' && b[-1] == '"') {
            a++;
            b--;
        }
        if (n < max) {
            cell[n] = a;
            cell_len[n] = (size_t)(b - a);
        }
        n++;
        if (sep) {
            if (*next == '\0')
                break;
            p = next + 1;
        } else {
            p = next;
        }
    }
    return n;
}

/* Cells of the line: how many, and whether they are all numbers. */
static size_t table_row(const char *line, bool *numeric)
{
    const char *cell[8];
    size_t len[8];
    size_t n = sm_table_cells_(line, cell, len, 8);
    *numeric = n >= 1 && n <= 8;
    for (size_t i = 0; i < n && i < 8; i++) {
        double v;
        if (!sm_parse_number_(cell[i], len[i], &v))
            *numeric = false;
    }
    return n;
}

/* MSP keys that settle the format even before a Name: line. */
static bool msp_key(const char *line)
{
    static const char *const keys[] = {
        "name", "num peaks", "numpeaks", "synon", "formula", "mw", "cas#", "casno",
        "db#", "nist#", "inchikey", "comment", "comments", "exactmass", "precursormz",
    };
    char tmp[64];
    size_t n = strlen(line);
    if (n >= sizeof tmp)
        n = sizeof tmp - 1;
    memcpy(tmp, line, n);
    tmp[n] = '\0';
    char *key, *value;
    if (!sm_split_field_(tmp, &key, &value))
        return false;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcasecmp(key, keys[i]) == 0)
            return true;
    return false;
}

/* MSP and MSL share their fields; MSL's peaks are in parentheses. The first line
 * after the first record's fields tells them apart. */
static bool peaks_in_parentheses(const char *line)
{
    while (*line == ' ' || *line == '\t')
        line++;
    return *line == '(';
}

sm_status sm_detect_format_(sm_reader *r, sm_error *err)
{
    sm_format found = SM_FORMAT_AUTO;
    size_t lines = 0, bytes = 0, nonblank = 0;
    size_t header_cells = 0;       /* cells of a non-numeric first line, if any */
    unsigned long first_line = 0;
    bool msp_fields = false;       /* MSP-like: now looking for the first peak line */
    sm_status st = SM_OK;

    while (lines < DETECT_MAX_LINES && bytes < DETECT_MAX_BYTES && sm_read_line_(r)) {
        st = sm_save_line_(r, err);
        if (st != SM_OK)
            return st;
        lines++;
        bytes += r->len + 1;
        const char *t = r->buf;
        while (*t == ' ' || *t == '\t')
            t++;
        if (*t == '\0' || r->line_too_long || r->line_has_nul)
            continue;
        if (msp_fields) {
            char *key, *value;
            if (sm_split_field_(r->buf, &key, &value))
                continue;
            found = peaks_in_parentheses(t) ? SM_FORMAT_MSL : SM_FORMAT_MSP;
            break;
        }
        nonblank++;
        if (first_line == 0)
            first_line = r->lineno;
        if (t[0] == '$' && t[1] == '$')
            continue;  /* a JCAMP-DX comment */
        if (t[0] == '#' && t[1] == '#' && strchr(t, '=') != NULL) {
            found = SM_FORMAT_JCAMP;
            break;
        }
        if (sm_line_starts_record_(t) || msp_key(t)) {
            msp_fields = true;
            continue;
        }
        bool numeric;
        size_t cells = table_row(t, &numeric);
        if (numeric && cells >= 2 && (nonblank == 1 || (nonblank == 2 && header_cells >= 2))) {
            found = SM_FORMAT_PEAKTABLE;
            break;
        }
        if (nonblank == 1 && !numeric)
            header_cells = cells;
    }
    if (r->io_error)
        return sm_seterr_(err, SM_ERR_IO, r->label, r->lineno, "read error");
    if (found == SM_FORMAT_AUTO && (msp_fields || nonblank == 0))
        found = SM_FORMAT_MSP;  /* fields and no peak line yet, or nothing to read */
    r->next_saved = 0;
    if (found == SM_FORMAT_AUTO) {
        r->format = SM_FORMAT_AUTO;
        return sm_seterr_(err, SM_ERR_PARSE, r->label, first_line,
                          "expected a 'Name:' line (MSP, MSL), '##TITLE=' (JCAMP-DX) or "
                          "a two-column peak table; cannot tell the format of %s (use "
                          "--input-format)", r->label);
    }
    r->format = found;
    return SM_OK;
}
