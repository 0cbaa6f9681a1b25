/* controls.c — the control-status table (spectra-library/CONTROLS.md): reading the TSV, joining it to the spectra, and what a library says about one spectrum. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sm_internal.h"

/* The table file: UTF-8 text (a byte order mark is skipped), LF or CRLF line ends.
 * Blank lines are ignored anywhere; lines starting with '#' are comments before the
 * header and an error after it. The header is exactly the 11 column names below,
 * separated by tabs; every row has 11 cells (10 are accepted: a spreadsheet drops an
 * empty last cell, the note). The key is not empty and has no spaces at its ends, the
 * class is one of classes[], incb_frs is yes, no or empty, keys are unique. Lines
 * are at most SM_MAX_LINE bytes and hold no NUL. */

/* The header, exactly: the first three columns identify the compound, the others are
 * the sm_control_field cells in enum order. */
#define N_CELLS 11
#define FIRST_CONTROL 3
static const char *const header_cells[N_CELLS] = {
    "key", "inchikey", "name", "class", "un1961", "un1961_year",
    "incb_frs", "us_csa", "us_basis", "as_of", "note",
};
#define HEADER_TEXT                                                                       \
    "key, inchikey, name, class, un1961, un1961_year, incb_frs, us_csa, us_basis, as_of, " \
    "note"

static const char *const classes[] = {
    "fentanyl-analogue", "fentanyl-precursor", "fentanyl-metabolite",
    "internal-standard", "other-opioid", "other",
};

const char *sm_control_field_name(sm_control_field f)
{
    if ((unsigned)f >= SM_CONTROL_COUNT)
        return "";
    return header_cells[FIRST_CONTROL + (unsigned)f];
}

/* ------------------------------------------------------------------ */
/* Reading the table                                                   */

void sm_ctl_table_free_(sm_ctl_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->rows[i].buf);
    free(t->rows);
    free(t->source);
    free(t);
}

/* Whether s[0..n) is well-formed UTF-8 (no overlongs, surrogates or values past
 * U+10FFFF). */
static bool utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2;
            min = 0x80;
            c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            min = 0x800;
            c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            min = 0x10000;
            c &= 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            c = (c << 6) | (s[i + k] & 0x3Fu);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

static bool is_class(const char *s)
{
    for (size_t k = 0; k < sizeof classes / sizeof classes[0]; k++)
        if (strcmp(s, classes[k]) == 0)
            return true;
    return false;
}

/* State of one read: the file, where we are, and the rows so far. */
typedef struct ctl_reader {
    const char *path;
    sm_error *err;
    unsigned long line;
    bool header_seen;
    sm_ctl_table *t;
} ctl_reader;

static sm_status perr(const ctl_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static sm_status perr(const ctl_reader *r, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sm_seterr_(r->err, SM_ERR_PARSE, r->path, r->line, "%s", msg);
}

/* Splits s at tabs in place; returns the number of cells (up to max are stored, the
 * count goes on past it). */
static size_t split_tabs(char *s, char **cells, size_t max)
{
    size_t n = 0;
    for (;;) {
        if (n < max)
            cells[n] = s;
        n++;
        char *tab = strchr(s, '\t');
        if (tab == NULL)
            return n;
        *tab = '\0';
        s = tab + 1;
    }
}

/* Schedules from names[0..n) joined with '+', each at most once, in increasing order
 * ("I+IV"). */
static bool is_schedule_list(const char *s, const char *const *names, int n)
{
    int last = -1;
    for (const char *p = s;;) {
        size_t len = strcspn(p, "+");
        int k = -1;
        for (int j = 0; j < n; j++)
            if (strlen(names[j]) == len && strncmp(p, names[j], len) == 0)
                k = j;
        if (k <= last)
            return false;
        last = k;
        if (p[len] == '\0')
            return true;
        p += len + 1;
    }
}

static const char *const roman[] = {"I", "II", "III", "IV", "V"};

/* un1961: empty, "no", or schedules I to IV (CONTROLS.md). */
static bool is_un_schedule(const char *s)
{
    return s[0] == '\0' || strcmp(s, "no") == 0 || is_schedule_list(s, roman, 4);
}

/* us_csa: empty, "no", schedules I to V, or a List I / List II chemical. */
static bool is_us_schedule(const char *s)
{
    return s[0] == '\0' || strcmp(s, "no") == 0 || strcmp(s, "List I") == 0 ||
           strcmp(s, "List II") == 0 || is_schedule_list(s, roman, 5);
}

/* Four digits, 1961 or later (the Convention's year). */
static bool is_year(const char *s)
{
    if (strlen(s) != 4)
        return false;
    for (int j = 0; j < 4; j++)
        if (s[j] < '0' || s[j] > '9')
            return false;
    return atoi(s) >= 1961;
}

static sm_status header_line(ctl_reader *r, char *s, size_t len)
{
    char shown[80];
    snprintf(shown, sizeof shown, "%.*s%s", (int)(len < 60 ? len : 60), s,
             len > 60 ? "..." : "");
    for (char *p = shown; *p; p++)
        if (*p == '\t')
            *p = ' ';
    char *cells[N_CELLS];
    size_t n = split_tabs(s, cells, N_CELLS);
    bool ok = n == N_CELLS;
    for (size_t k = 0; ok && k < N_CELLS; k++)
        ok = strcmp(cells[k], header_cells[k]) == 0;
    if (!ok)
        return perr(r, "expected the header line of a control table: the %d columns %s, "
                       "separated by tabs; found '%s'",
                    N_CELLS, HEADER_TEXT, shown);
    r->header_seen = true;
    return SM_OK;
}

static sm_status data_line(ctl_reader *r, const char *s, size_t len)
{
    sm_ctl_table *t = r->t;
    if (s[0] == '#')
        return perr(r, "comment lines ('#') are allowed only before the header; "
                       "expected a row of %d tab-separated cells",
                    N_CELLS);
    if (t->n == t->cap) {
        size_t c = t->cap ? t->cap * 2 : 64;
        sm_ctl_row *q = realloc(t->rows, c * sizeof *q);
        if (q == NULL)
            return sm_seterr_(r->err, SM_ERR_NOMEM, r->path, r->line, "out of memory");
        t->rows = q;
        t->cap = c;
    }
    sm_ctl_row *row = &t->rows[t->n];
    memset(row, 0, sizeof *row);
    if ((row->buf = malloc(len + 1)) == NULL)
        return sm_seterr_(r->err, SM_ERR_NOMEM, r->path, r->line, "out of memory");
    memcpy(row->buf, s, len + 1);
    /* Counted in the table from here on, so that it is freed with it. */
    t->n++;

    char *split[N_CELLS];
    const char *cells[N_CELLS];
    size_t n = split_tabs(row->buf, split, N_CELLS);
    for (size_t k = 0; k < N_CELLS; k++)
        cells[k] = k < n ? split[k] : "";
    /* Spreadsheets drop a trailing empty cell: a missing note is an empty note. */
    if (n != N_CELLS && n != N_CELLS - 1)
        return perr(r, "expected %d tab-separated cells (%s), found %zu", N_CELLS,
                    HEADER_TEXT, n);
    const char *key = cells[0];
    if (key[0] == '\0')
        return perr(r, "empty key; expected the compound key (InChIKey first block, "
                       "with -D for a deuterated standard, or the lower-case name)");
    size_t kl = strlen(key);
    if (key[0] == ' ' || key[kl - 1] == ' ')
        return perr(r, "key '%.200s' has leading or trailing spaces; it would match no "
                       "spectrum", key);
    const char *cls = cells[FIRST_CONTROL + SM_CONTROL_CLASS];
    if (!is_class(cls))
        return perr(r, "unknown class '%.200s'; expected fentanyl-analogue, "
                       "fentanyl-precursor, fentanyl-metabolite, internal-standard, "
                       "other-opioid or other",
                    cls);
    const char *incb = cells[FIRST_CONTROL + SM_CONTROL_INCB_FRS];
    if (incb[0] != '\0' && strcmp(incb, "yes") != 0 && strcmp(incb, "no") != 0)
        return perr(r, "incb_frs is '%.200s'; expected yes, no or an empty cell", incb);
    const char *un = cells[FIRST_CONTROL + SM_CONTROL_UN1961];
    if (!is_un_schedule(un))
        return perr(r, "un1961 is '%.200s'; expected I, II, III or IV (several joined with "
                       "'+', e.g. I+IV), no, or an empty cell", un);
    const char *year = cells[FIRST_CONTROL + SM_CONTROL_UN1961_YEAR];
    if (year[0] != '\0' && (!is_year(year) || un[0] == '\0' || strcmp(un, "no") == 0))
        return perr(r, "un1961_year is '%.200s'; expected a year from 1961 on, and only "
                       "with a schedule in un1961", year);
    const char *us = cells[FIRST_CONTROL + SM_CONTROL_US_CSA];
    if (!is_us_schedule(us))
        return perr(r, "us_csa is '%.200s'; expected I, II, III, IV or V (several joined "
                       "with '+'), List I, List II, no, or an empty cell", us);
    row->key = key;
    for (int f = 0; f < SM_CONTROL_COUNT; f++)
        row->cell[f] = cells[FIRST_CONTROL + f];
    row->line = r->line;
    return SM_OK;
}

/* One physical line, without its '\n'. */
static sm_status one_line(ctl_reader *r, char *s, size_t len, bool too_long)
{
    if (too_long)
        return sm_seterr_(r->err, SM_ERR_LIMIT, r->path, r->line,
                          "line longer than %d bytes (the limit)", SM_MAX_LINE);
    if (memchr(s, '\0', len) != NULL)
        return perr(r, "NUL byte in text; expected a UTF-8 text file, not binary data");
    while (len > 0 && s[len - 1] == '\r')
        s[--len] = '\0';
    /* A UTF-8 byte order mark (spreadsheet exports write one) is not content. */
    if (r->line == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
        memmove(s, s + 3, len - 2);
        len -= 3;
    }
    if (!utf8_ok((const unsigned char *)s, len))
        return perr(r, "text is not valid UTF-8; save the table as UTF-8");
    if (len == 0)
        return SM_OK;
    if (!r->header_seen)
        return s[0] == '#' ? SM_OK : header_line(r, s, len);
    return data_line(r, s, len);
}

static int row_cmp(const void *a, const void *b)
{
    const sm_ctl_row *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c != 0)
        return c;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* Reads the file in blocks, hashing exactly the bytes it parses (a second read for
 * the checksum could see another version of the file). */
static sm_status read_table(ctl_reader *r, FILE *fp, char hex[65])
{
    enum { BLOCK = 1 << 16 };
    sm_status st = SM_OK;
    unsigned char *blk = malloc(BLOCK);
    char *line = malloc(SM_MAX_LINE + 1);
    size_t len = 0, got;
    bool too_long = false, pending = false;
    sm_sha256 c;
    uint8_t digest[32];

    if (blk == NULL || line == NULL) {
        st = sm_seterr_(r->err, SM_ERR_NOMEM, r->path, 0, "out of memory");
        goto out;
    }
    sm_sha256_init_(&c);
    while ((got = fread(blk, 1, BLOCK, fp)) > 0) {
        sm_sha256_update_(&c, blk, got);
        for (size_t i = 0; i < got; i++) {
            if (blk[i] != '\n') {
                if (len < SM_MAX_LINE)
                    line[len++] = (char)blk[i];
                else
                    too_long = true;
                pending = true;
                continue;
            }
            line[len] = '\0';
            r->line++;
            if ((st = one_line(r, line, len, too_long)) != SM_OK)
                goto out;
            len = 0;
            too_long = pending = false;
        }
    }
    if (ferror(fp)) {
        st = sm_seterr_(r->err, SM_ERR_IO, r->path, 0, "cannot read %s: %s", r->path,
                        strerror(errno));
        goto out;
    }
    if (pending) {
        line[len] = '\0';
        r->line++;
        if ((st = one_line(r, line, len, too_long)) != SM_OK)
            goto out;
    }
    if (!r->header_seen) {
        st = perr(r, "no header line; expected the columns %s, separated by tabs",
                  HEADER_TEXT);
        goto out;
    }
    sm_sha256_final_(&c, digest);
    sm_hex_(digest, sizeof digest, hex);

out:
    free(blk);
    free(line);
    return st;
}

sm_status sm_ctl_table_read_(const char *path, sm_ctl_table **out, sm_error *err)
{
    *out = NULL;
    if (path == NULL)
        return sm_seterr_(err, SM_ERR_ARG, NULL, 0, "no control table path given");
    /* Provenance records the table's sha256: it must be a file that can be hashed again. */
    if (strcmp(path, "-") == 0)
        return sm_seterr_(err, SM_ERR_ARG, path, 0,
                          "the control table must be a file, not standard input");
    sm_ctl_table *t = calloc(1, sizeof *t);
    if (t == NULL)
        return sm_seterr_(err, SM_ERR_NOMEM, path, 0, "out of memory");
    ctl_reader r = {path, err, 0, false, t};
    sm_status st = SM_OK;
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        st = sm_seterr_(err, SM_ERR_IO, path, 0, "cannot open: %s", strerror(errno));
        goto out;
    }
    if ((st = read_table(&r, fp, t->sha256)) != SM_OK)
        goto out;

    /* Sorted for the join's binary search; equal keys end up side by side. */
    if (t->n > 1)
        qsort(t->rows, t->n, sizeof *t->rows, row_cmp);
    const sm_ctl_row *dup = NULL, *first = NULL;
    for (size_t i = 1; i < t->n; i++) {
        if (strcmp(t->rows[i].key, t->rows[i - 1].key) != 0)
            continue;
        /* report the earliest repeated line, naming the row it repeats */
        size_t j = i - 1;
        while (j > 0 && strcmp(t->rows[j - 1].key, t->rows[i].key) == 0)
            j--;
        if (dup == NULL || t->rows[i].line < dup->line) {
            dup = &t->rows[i];
            first = &t->rows[j];
        }
    }
    if (dup != NULL) {
        r.line = dup->line;
        st = perr(&r, "duplicate key '%.200s' (first on line %lu); expected one row per "
                      "compound",
                  dup->key, first->line);
        goto out;
    }
    const char *base = strrchr(path, '/');
    if ((t->source = strdup(base ? base + 1 : path)) == NULL) {
        st = sm_seterr_(err, SM_ERR_NOMEM, path, 0, "out of memory");
        goto out;
    }

out:
    if (fp != NULL)
        fclose(fp);
    if (st != SM_OK) {
        sm_ctl_table_free_(t);
        return st;
    }
    *out = t;
    return SM_OK;
}

/* ------------------------------------------------------------------ */
/* The join                                                            */

static int key_cmp(const void *key, const void *row)
{
    return strcmp(key, ((const sm_ctl_row *)row)->key);
}

static void free_ctl(sm_library *lib)
{
    for (int f = 0; f < SM_CONTROL_COUNT; f++) {
        free(lib->ctl[f].data);
        free(lib->ctl[f].off);
        free(lib->ctl[f].sparse);
        memset(&lib->ctl[f], 0, sizeof lib->ctl[f]);
    }
    free(lib->ctl_source);
    free(lib->ctl_sha256);
    lib->ctl_source = lib->ctl_sha256 = NULL;
    lib->ctl_rows = 0;
    lib->has_controls = false;
}

sm_status sm_ctl_join_(const sm_ctl_table *t, sm_library *lib, sm_error *err)
{
    size_t n = lib->n;
    sm_status st = SM_OK;
    const sm_ctl_row **row = NULL;
    char *key = NULL;
    size_t key_cap = 0;

    free_ctl(lib);
    if ((row = calloc(n > 0 ? n : 1, sizeof *row)) == NULL)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        const char *ik = sm_strcol_get_(&lib->col[SM_FIELD_INCHIKEY], i);
        const char *name = sm_strcol_get_(&lib->col[SM_FIELD_NAME], i);
        const char *formula = sm_strcol_get_(&lib->col[SM_FIELD_FORMULA], i);
        /* room for the whole key, never a truncated one: "-D" after the InChIKey's
         * block, or the name */
        size_t need = strlen(ik) + strlen(name) + 4;
        if (need > key_cap) {
            char *k = realloc(key, need);
            if (k == NULL)
                goto nomem;
            key = k;
            key_cap = need;
        }
        sm_compound_key(ik, name, formula, key, key_cap);
        if (key[0] != '\0' && t->n > 0)
            row[i] = bsearch(key, t->rows, t->n, sizeof *t->rows, key_cmp);
    }

    for (int f = 0; f < SM_CONTROL_COUNT; f++) {
        sm_strcol *col = &lib->ctl[f];
        size_t total = 0;
        for (size_t i = 0; i < n; i++)
            if (row[i] != NULL)
                total += strlen(row[i]->cell[f]);
        col->off = malloc((n + 1) * sizeof *col->off);
        col->data = malloc(total + n + 1);
        if (col->off == NULL || col->data == NULL)
            goto nomem;
        col->off[0] = 0;
        for (size_t i = 0; i < n; i++) {
            const char *s = row[i] != NULL ? row[i]->cell[f] : "";
            size_t l = strlen(s);
            memcpy(col->data + col->off[i] + i, s, l + 1);
            col->off[i + 1] = col->off[i] + l;
        }
        col->data[total + n] = '\0';
        col->len = col->cap = total + n;
    }
    if ((lib->ctl_source = strdup(t->source ? t->source : "")) == NULL ||
        (lib->ctl_sha256 = strdup(t->sha256)) == NULL)
        goto nomem;
    lib->ctl_rows = t->n;
    lib->has_controls = true;
    goto out;

nomem:
    free_ctl(lib);
    st = sm_seterr_(err, SM_ERR_NOMEM, NULL, 0, "out of memory joining the control table");
out:
    free(row);
    free(key);
    return st;
}

/* ------------------------------------------------------------------ */
/* What an opened library says about one spectrum                      */

bool sm_library_has_controls(const sm_library *lib, const char **source, const char **sha256)
{
    bool has = lib != NULL && lib->has_controls;
    if (source != NULL)
        *source = has && lib->ctl_source ? lib->ctl_source : "";
    if (sha256 != NULL)
        *sha256 = has && lib->ctl_sha256 ? lib->ctl_sha256 : "";
    return has;
}

const char *sm_library_control(const sm_library *lib, size_t i, sm_control_field f)
{
    if (lib == NULL || !lib->has_controls || i >= lib->n || (unsigned)f >= SM_CONTROL_COUNT ||
        (lib->ctl[f].off == NULL && lib->ctl[f].sparse == NULL))
        return "";
    return sm_strcol_get_(&lib->ctl[f], i);
}

bool sm_library_control_listed(const sm_library *lib, size_t i)
{
    /* every row has a class (the reader refuses one without), no row: "" */
    return sm_library_control(lib, i, SM_CONTROL_CLASS)[0] != '\0';
}

/* A cell that places the compound under an instrument: set and not "no". */
static bool says_controlled(const char *cell)
{
    return cell[0] != '\0' && strcmp(cell, "no") != 0;
}

bool sm_library_control_scheduled(const sm_library *lib, size_t i)
{
    return says_controlled(sm_library_control(lib, i, SM_CONTROL_UN1961)) ||
           strcmp(sm_library_control(lib, i, SM_CONTROL_INCB_FRS), "yes") == 0 ||
           says_controlled(sm_library_control(lib, i, SM_CONTROL_US_CSA));
}

/* snprintf into a buffer that may be too small: len counts what was wanted. */
typedef struct sbuf {
    char *out;
    size_t cap;
    size_t len;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->len < b->cap) {
        size_t room = b->cap - 1 - b->len;
        size_t k = n < room ? n : room;
        memcpy(b->out + b->len, s, k);
        b->out[b->len + k] = '\0';
    }
    b->len += n;
}

static void sb_str(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* "Schedule I", "Schedules I and IV", "Schedules I, II and IV" from "I", "I+IV", ... */
static void sb_schedules(sbuf *b, const char *v)
{
    size_t parts = 1;
    for (const char *p = v; *p; p++)
        parts += *p == '+';
    sb_str(b, parts == 1 ? "Schedule " : "Schedules ");
    size_t k = 0;
    for (const char *p = v;; k++) {
        const char *plus = strchr(p, '+');
        size_t l = plus ? (size_t)(plus - p) : strlen(p);
        if (k > 0)
            sb_str(b, k + 1 == parts ? " and " : ", ");
        sb_add(b, p, l);
        if (plus == NULL)
            break;
        p = plus + 1;
    }
}

size_t sm_library_control_summary(const sm_library *lib, size_t i, char *out, size_t cap)
{
    sbuf b = {out, cap, 0};
    if (cap > 0)
        out[0] = '\0';
    if (lib == NULL || !lib->has_controls || i >= lib->n)
        return 0;
    if (!sm_library_control_listed(lib, i)) {
        sb_str(&b, "not listed in the table's sources");
        return b.len;
    }
    const char *un = sm_library_control(lib, i, SM_CONTROL_UN1961);
    const char *year = sm_library_control(lib, i, SM_CONTROL_UN1961_YEAR);
    const char *incb = sm_library_control(lib, i, SM_CONTROL_INCB_FRS);
    const char *us = sm_library_control(lib, i, SM_CONTROL_US_CSA);
    const char *basis = sm_library_control(lib, i, SM_CONTROL_US_BASIS);
    const char *as_of = sm_library_control(lib, i, SM_CONTROL_AS_OF);

    if (sm_library_control_scheduled(lib, i)) {
        const char *sep = "SCHEDULED: ";
        if (says_controlled(un)) {
            sb_str(&b, sep);
            sb_str(&b, "UN 1961 ");
            sb_schedules(&b, un);
            if (year[0] != '\0') {
                sb_str(&b, " (");
                sb_str(&b, year);
                sb_str(&b, ")");
            }
            sep = "; ";
        }
        if (strcmp(incb, "yes") == 0) {
            sb_str(&b, sep);
            sb_str(&b, "INCB list of fentanyl-related substances");
            sep = "; ";
        }
        if (says_controlled(us)) {
            sb_str(&b, sep);
            bool list = strncmp(us, "List ", 5) == 0;
            if (list) {
                sb_str(&b, "US ");
                sb_str(&b, us);
                sb_str(&b, " chemical");
            } else {
                sb_str(&b, "US CSA ");
                sb_schedules(&b, us);
            }
            /* a basis of "List I chemical" would only repeat what was just written */
            size_t ul = strlen(us);
            bool repeats = list && strncmp(basis, us, ul) == 0 &&
                           strcmp(basis + ul, " chemical") == 0;
            if (basis[0] != '\0' && !repeats) {
                sb_str(&b, " (");
                sb_str(&b, basis);
                sb_str(&b, ")");
            }
        }
        return b.len;
    }
    /* Not scheduled is a finding only where every instrument was looked up. */
    if (strcmp(un, "no") == 0 && strcmp(incb, "no") == 0 && strcmp(us, "no") == 0) {
        sb_str(&b, "not scheduled under the table's sources");
        if (as_of[0] != '\0') {
            sb_str(&b, " (as of ");
            sb_str(&b, as_of);
            sb_str(&b, ")");
        }
        return b.len;
    }
    sb_str(&b, "listed (");
    sb_str(&b, sm_library_control(lib, i, SM_CONTROL_CLASS));
    sb_str(&b, "); control status not recorded");
    return b.len;
}
