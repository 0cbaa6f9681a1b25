/* report.c — `specmatch report`: a case report (PDF or HTML) of the spectra of one file. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cairo-pdf.h>

#include "cli.h"
#include "mirror.h"

/* A4 in points; text column between the margins. */
#define PAGE_W 595.28
#define PAGE_H 841.89
#define MARGIN 50.0
#define TEXT_W (PAGE_W - 2 * MARGIN)
#define FONT "sans-serif"
#define TEXT_MAX 4096 /* longest text block drawn */

#define ISOMER_NOTE                                                                       \
    "positional isomers that the library does not hold are not excluded by EI-MS"
#define LEGISLATION_NOTE                                                                  \
    "analogue or class-wide legislation (such as the US class-wide listing of "          \
    "fentanyl-related substances) may apply"
#define SCORES_NOTE                                                                       \
    "MF is the identity match factor of Stein & Scott (1994) as in NIST MS Search "      \
    "(\"identity, EI normal\", 0-999): nominal-mass spectra, base peak 999, peaks "     \
    "weighted by sqrt(m/z x intensity), combined with the ratios of adjacent peaks. RMF, " \
    "the reverse match factor, is the same score ignoring the query's peaks that the "  \
    "library spectrum lacks."

typedef enum style { ST_TITLE, ST_HEAD, ST_BODY, ST_BOLD, ST_SMALL } style;

/* The document being written: a PDF drawn with cairo, or HTML text. */
typedef struct doc {
    FILE *f;
    bool html;
    cairo_surface_t *surface; /* PDF */
    cairo_t *cr;
    double y;                 /* PDF: top of the next line */
    int page;
    const char *footer;
    int n_svg;                /* HTML: inline SVGs so far, for unique ids */
    size_t entries;           /* spectra written */
    bool failed;              /* a write to f failed */
} doc;

/* What the report says about one spectrum. */
typedef struct entry {
    const sm_library *lib;
    const sm_spectrum *s;
    const char *path;
    const char *qname;
    size_t index;             /* 0-based, in the order read */
    sm_nominal q;
    const sm_hit *hits;
    size_t n_hits, top;
    sm_verdict v;
    sm_analogue a;
    bool analogue_ran;
} entry;

static void usage(FILE *out)
{
    fputs("usage: specmatch report [options] QUERY -o CASE.pdf|CASE.html\n"
          "\n"
          "Writes a case report of the spectra of one query file: per spectrum its\n"
          "metadata, the verdict and its caution, the hit table with control status,\n"
          "mirror plots of the top hits, the analogue evidence when there is some, and\n"
          "the method (software, library, score definitions, date).\n"
          "\n"
          "options:\n"
          "  -o, --output FILE       the report: FILE.pdf (A4) or FILE.html (standalone)\n"
          "  -l, --library FILE.h5   reference library (default: as for search)\n"
          "      --top N             hits in the table and mirror plots (default 3)\n"
          "      --date YYYY-MM-DD   the report's date (default: today, UTC); the same\n"
          "                          inputs and date give the same bytes\n"
          "  -q, --quiet             only errors on stderr\n"
          "  -v, --verbose           more messages on stderr\n"
          "  -h, --help              this help\n"
          "\n"
          "Exit status: 0 ok, 2 usage, 3 bad input data, 4 I/O error or unusable library.\n",
          out);
}

/* ---- PDF ---------------------------------------------------------------- */

static void pdf_font(cairo_t *cr, style st)
{
    static const double size[] = {16, 12.5, 9.5, 9.5, 8};
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL,
                           st == ST_BODY || st == ST_SMALL ? CAIRO_FONT_WEIGHT_NORMAL
                                                           : CAIRO_FONT_WEIGHT_BOLD);
    cairo_set_font_size(cr, size[st]);
    double g = st == ST_SMALL ? 0.35 : 0.1;
    cairo_set_source_rgb(cr, g, g, g);
}

static double line_height(style st)
{
    return st == ST_TITLE ? 22 : st == ST_HEAD ? 18 : st == ST_SMALL ? 11 : 12.5;
}

static double width_of(cairo_t *cr, const char *s, size_t n)
{
    char buf[TEXT_MAX];
    n = n < sizeof buf - 1 ? n : sizeof buf - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    cairo_text_extents_t e;
    cairo_text_extents(cr, buf, &e);
    return e.x_advance;
}

/* Bytes of s (valid UTF-8) for one line of width w: up to the last blank that fits,
 * or, for a word longer than the line, as many characters as fit (at least one). */
static size_t fit_bytes(cairo_t *cr, const char *s, double w)
{
    size_t best = 0;
    for (size_t i = 0;; i++)
        if (s[i] == ' ' || s[i] == '\n' || s[i] == '\0') {
            if (width_of(cr, s, i) > w)
                break;
            best = i;
            if (s[i] != ' ')
                return i;
        }
    if (best > 0)
        return best;
    size_t n = 0;
    for (size_t i = 1; s[i - 1] != '\0'; i++) {
        if (((unsigned char)s[i] & 0xC0) == 0x80)
            continue;
        if (n > 0 && width_of(cr, s, i) > w)
            break;
        n = i;
        if (s[i] == '\0')
            break;
    }
    return n;
}

/* Lines text wraps into at width w; draws them from baseline y when draw is set. */
static int pdf_wrap(cairo_t *cr, const char *text, double x, double y, double w, double lh,
                    bool draw)
{
    char buf[TEXT_MAX];
    mirror_text(text, buf, sizeof buf);
    int lines = 0;
    for (const char *p = buf; *p;) {
        size_t n = fit_bytes(cr, p, w);
        if (draw) {
            char line[TEXT_MAX];
            memcpy(line, p, n);
            line[n] = '\0';
            cairo_move_to(cr, x, y + lines * lh);
            cairo_show_text(cr, line);
        }
        lines++;
        p += n;
        while (*p == ' ' || *p == '\n')
            p++;
    }
    return lines ? lines : 1;
}

static void pdf_page(doc *d)
{
    if (d->page > 0)
        cairo_show_page(d->cr);
    d->page++;
    d->y = MARGIN;
    char foot[1024];
    snprintf(foot, sizeof foot, "%s, page %d", d->footer, d->page);
    pdf_font(d->cr, ST_SMALL);
    pdf_wrap(d->cr, foot, MARGIN, PAGE_H - MARGIN / 2, TEXT_W, 11, true);
}

/* Starts a new page unless h more points fit on this one. */
static void pdf_need(doc *d, double h)
{
    if (d->page == 0 || d->y + h > PAGE_H - MARGIN)
        pdf_page(d);
}

static void pdf_par(doc *d, style st, const char *text)
{
    pdf_font(d->cr, st);
    double lh = line_height(st);
    char buf[TEXT_MAX];
    mirror_text(text, buf, sizeof buf);
    if (st == ST_HEAD)
        pdf_need(d, 3 * lh); /* no heading alone at the foot of a page */
    for (const char *p = buf; *p;) {
        size_t n = fit_bytes(d->cr, p, TEXT_W);
        char line[TEXT_MAX];
        memcpy(line, p, n);
        line[n] = '\0';
        pdf_need(d, lh);
        cairo_move_to(d->cr, MARGIN, d->y + lh * 0.75);
        cairo_show_text(d->cr, line);
        d->y += lh;
        p += n;
        while (*p == ' ' || *p == '\n')
            p++;
    }
    d->y += st == ST_TITLE || st == ST_HEAD ? 4 : 3;
}

/* ---- HTML --------------------------------------------------------------- */

static void html_str(FILE *f, const char *s)
{
    char buf[TEXT_MAX];
    mirror_text(s, buf, sizeof buf);
    for (const char *p = buf; *p; p++)
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*p, f);
        }
}

static void html_par(doc *d, style st, const char *text)
{
    static const char *const open[] = {"<h1>", "<h2>", "<p>", "<p><b>", "<p class=\"small\">"};
    static const char *const close[] = {"</h1>", "</h2>", "</p>", "</b></p>", "</p>"};
    fputs(open[st], d->f);
    html_str(d->f, text);
    fprintf(d->f, "%s\n", close[st]);
}

/* cairo's SVG, inline: without its XML declaration, and with the ids (glyphs, clip
 * paths) made unique in the page, which holds several of them. */
static void html_svg(doc *d, const char *svg, size_t len)
{
    static const char *const refs[] = {"id=\"", "href=\"#", "url(#"};
    const char *p = svg, *end = svg + len;
    if (strncmp(p, "<?xml", 5) == 0) {
        const char *nl = memchr(p, '\n', len);
        p = nl ? nl + 1 : end;
    }
    d->n_svg++;
    while (p < end) {
        size_t k = 0, skip = 1;
        for (; k < 3; k++)
            if ((size_t)(end - p) >= strlen(refs[k]) && memcmp(p, refs[k], strlen(refs[k])) == 0)
                break;
        if (k < 3) {
            skip = strlen(refs[k]);
            fwrite(p, 1, skip, d->f);
            fprintf(d->f, "p%d-", d->n_svg);
        } else {
            fputc(*p, d->f);
        }
        p += skip;
    }
}

static cairo_status_t to_stream(void *closure, const unsigned char *data, unsigned int n)
{
    return fwrite(data, 1, n, closure) == n ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

/* ---- the document, either kind ------------------------------------------ */

static void par(doc *d, style st, const char *text)
{
    (d->html ? html_par : pdf_par)(d, st, text);
}

static void parf(doc *d, style st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void parf(doc *d, style st, const char *fmt, ...)
{
    char buf[TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    par(d, st, buf);
}

static int plot(doc *d, const mirror_plot *p)
{
    if (!d->html) {
        double scale = TEXT_W / MIRROR_W;
        pdf_need(d, MIRROR_H * scale + 8);
        cairo_save(d->cr);
        cairo_translate(d->cr, MARGIN, d->y);
        cairo_scale(d->cr, scale, scale);
        mirror_draw(d->cr, p);
        cairo_restore(d->cr);
        d->y += MIRROR_H * scale + 8;
        return 0;
    }
    char *svg = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&svg, &len);
    if (mem == NULL)
        return -1;
    int bad = mirror_svg_stream(to_stream, mem, p);
    if (fclose(mem) != 0 || bad) {
        free(svg);
        return -1;
    }
    fputs("<figure>", d->f);
    html_svg(d, svg, len);
    fputs("</figure>\n", d->f);
    free(svg);
    return 0;
}

/* Columns of the hit table; PDF widths in points (they add up to TEXT_W). */
#define N_COLS 7
static const char *const col_name[N_COLS] = {"Rank", "MF", "RMF", "Name", "Formula", "MW",
                                             "Control status"};
static const double col_w[N_COLS] = {28, 26, 28, 140, 70, 30, 173.28};

static void pdf_row(doc *d, const char *const *cells, style st)
{
    pdf_font(d->cr, st);
    cairo_set_font_size(d->cr, 8); /* the header too: "Rank" fits its column */
    double lh = line_height(ST_SMALL) + 0.5;
    int lines = 1;
    for (int k = 0; k < N_COLS; k++) {
        int n = pdf_wrap(d->cr, cells[k], 0, 0, col_w[k] - 4, lh, false);
        lines = n > lines ? n : lines;
    }
    pdf_need(d, lines * lh + 3);
    double x = MARGIN;
    for (int k = 0; k < N_COLS; k++) {
        pdf_wrap(d->cr, cells[k], x, d->y + lh * 0.75, col_w[k] - 4, lh, true);
        x += col_w[k];
    }
    d->y += lines * lh + 2;
    cairo_set_line_width(d->cr, 0.4);
    cairo_move_to(d->cr, MARGIN, d->y);
    cairo_line_to(d->cr, MARGIN + TEXT_W, d->y);
    cairo_stroke(d->cr);
    d->y += 2;
}

static void html_row(doc *d, const char *const *cells, bool head)
{
    fputs("<tr>", d->f);
    for (int k = 0; k < N_COLS; k++) {
        fputs(head ? "<th>" : "<td>", d->f);
        html_str(d->f, cells[k]);
        fputs(head ? "</th>" : "</td>", d->f);
    }
    fputs("</tr>\n", d->f);
}

static void row(doc *d, const char *const *cells, bool head)
{
    if (d->html)
        html_row(d, cells, head);
    else
        pdf_row(d, cells, head ? ST_BOLD : ST_SMALL);
}

/* ---- what is said about a spectrum ------------------------------------- */

static const char *name_of(const entry *e, size_t hit)
{
    return sm_library_field(e->lib, e->hits[hit].index, SM_FIELD_NAME);
}

static void write_query(doc *d, const entry *e)
{
    parf(d, ST_HEAD, "Spectrum %zu: %s", e->index + 1, e->qname);
    parf(d, ST_BODY, "Source: %s, line %lu; %zu peaks as read, %zu at nominal m/z.", e->path,
         e->s->line, e->s->n_peaks, e->q.n);
    if (!isnan(e->s->mw))
        parf(d, ST_BODY, "MW: %g", e->s->mw);
    static const struct { sm_field f; const char *label; } fields[] = {
        {SM_FIELD_FORMULA, "Formula"}, {SM_FIELD_INCHIKEY, "InChIKey"},
        {SM_FIELD_CAS, "CAS"}, {SM_FIELD_ID, "ID"}, {SM_FIELD_COMMENT, "Comment"}};
    for (size_t k = 0; k < sizeof fields / sizeof *fields; k++) {
        const char *v = e->s->field[fields[k].f];
        if (v && *v)
            parf(d, ST_BODY, "%s: %s", fields[k].label, v);
    }
}

/* The verdict in one line, as the search table words it. */
static void verdict_line(const entry *e, char *buf, size_t cap)
{
    const sm_verdict *v = &e->v;
    int len = 0;
    switch (v->status) {
    case SM_VERDICT_IDENTIFIED:
        snprintf(buf, cap, "IDENTIFIED: %s (MF %d, RMF %d; confidence %.2f); %s.",
                 name_of(e, v->group[0]), sm_mf_display(e->hits[v->group[0]].mf),
                 sm_mf_display(e->hits[v->group[0]].rmf), v->confidence, ISOMER_NOTE);
        return;
    case SM_VERDICT_ISOMERS:
        len = snprintf(buf, cap, "ISOMERS: ");
        for (size_t g = 0; g < v->n_group && len > 0 && (size_t)len < cap; g++)
            len += snprintf(buf + len, cap - (size_t)len, "%s%s (MF %d)",
                            g == 0 ? "" : (g + 1 == v->n_group ? " or " : ", "),
                            name_of(e, v->group[g]), sm_mf_display(e->hits[v->group[g]].mf));
        if (len > 0 && (size_t)len < cap && *v->unresolved)
            len += snprintf(buf + len, cap - (size_t)len,
                            ", or an isomer the library does not hold: EI-MS does not "
                            "reliably tell %s apart",
                            v->unresolved);
        if (len > 0 && (size_t)len < cap && v->n_group > 1)
            len += snprintf(buf + len, cap - (size_t)len,
                            "%s compounds of one nominal mass that this EI spectrum does not "
                            "tell apart",
                            *v->unresolved ? ";" : ":");
        if (len > 0 && (size_t)len < cap)
            snprintf(buf + len, cap - (size_t)len,
                     "; a second technique is needed (confidence %.2f).", v->confidence);
        return;
    case SM_VERDICT_ANALOGUE:
        len = snprintf(buf, cap, "SUSPECTED ANALOGUE: a fentanyl-related substance that the "
                                 "library does not hold; %s.", LEGISLATION_NOTE);
        if (v->reason == SM_REASON_SHIFTED_RELATIVE && v->best != SIZE_MAX && len > 0 &&
            (size_t)len < cap)
            snprintf(buf + len, cap - (size_t)len, " Best identity hit set aside: %s (MF %d): %s.",
                     name_of(e, v->best), sm_mf_display(e->hits[v->best].mf),
                     sm_verdict_reason_text(v->reason));
        return;
    default:
        len = snprintf(buf, cap, "NO MATCH: %s", sm_verdict_reason_text(v->reason));
        if (v->best != SIZE_MAX && len > 0 && (size_t)len < cap)
            snprintf(buf + len, cap - (size_t)len, "; best: %s, MF %d (confidence %.2f).",
                     name_of(e, v->best), sm_mf_display(e->hits[v->best].mf), v->confidence);
    }
}

static void write_verdict(doc *d, const entry *e)
{
    char buf[TEXT_MAX], ctl[512];
    par(d, ST_HEAD, "Verdict");
    verdict_line(e, buf, sizeof buf);
    par(d, ST_BOLD, buf);
    if (e->v.n_group > 0 &&
        sm_library_control_summary(e->lib, e->hits[e->v.group[0]].index, ctl, sizeof ctl) > 0)
        parf(d, ST_BODY, "Control status: %s", ctl);
    parf(d, ST_BODY, "Caution: %s", sm_verdict_caution());
}


/* The library spectrum being plotted: reports are written one plot at a time, on
 * one thread. */
static sm_nominal_buf plot_buf;

/* The unknown against its closest analogue, the ions that carry the shift marked. */
static int analogue_plot(doc *d, const entry *e, const sm_analogue_hit *h)
{
    sm_nominal l = sm_library_nominal(e->lib, e->hits[h->hit].index, &plot_buf);
    uint8_t *flags = malloc(l.n ? l.n : 1);
    if (flags == NULL)
        return -1;
    char title[1024], subtitle[256];
    snprintf(title, sizeof title, "%s vs %s (closest known analogue)", e->qname,
             name_of(e, h->hit));
    snprintf(subtitle, sizeof subtitle, "hybrid MF %d at delta M %+d, identity MF %d",
             sm_mf_display(h->hybrid_mf), h->delta_m, sm_mf_display(e->hits[h->hit].mf));
    mirror_plot p = {e->q, l, title, subtitle, mirror_shift_flags(e->q, l, h->delta_m, flags),
                     h->delta_m};
    int rc = plot(d, &p);
    free(flags);
    return rc;
}

static int write_analogue(doc *d, const entry *e)
{
    const sm_analogue *a = &e->a;
    if (!e->analogue_ran || (e->v.status != SM_VERDICT_ANALOGUE && a->n == 0))
        return 0;
    par(d, ST_HEAD, "Analogue evidence (hybrid search)");
    char mw[256];
    if (a->mw_source == 1)
        snprintf(mw, sizeof mw, "Unknown's MW: %u (given)", a->query_mw);
    else if (a->mw_source)
        snprintf(mw, sizeof mw, "Highest possible molecular ion: m/z %u (estimated%s; a "
                                "fragment when the molecular ion is absent)",
                 a->query_mw, a->mw_source == 3 ? ", doubtful" : "");
    else
        snprintf(mw, sizeof mw, "Unknown's MW: unknown");
    parf(d, ST_BODY, "%s; fentanyl-class share of the best identity hits: %.0f%%.", mw,
         100 * a->class_share);
    for (size_t k = 0; k < a->n; k++) {
        const sm_analogue_hit *h = &a->best[k];
        char dm[1024], ions[256] = "", ctl[512];
        cli_shift_text(h->delta_m, dm, sizeof dm);
        int len = 0;
        for (size_t t = 0; t < h->n_shifted_mz && len >= 0 && (size_t)len < sizeof ions; t++)
            len += snprintf(ions + len, sizeof ions - (size_t)len, "%s%u->%d", t ? ", " : "",
                            h->shifted_mz[t], (int)h->shifted_mz[t] + h->delta_m);
        sm_library_control_summary(e->lib, e->hits[h->hit].index, ctl, sizeof ctl);
        parf(d, ST_BODY, "%s %s: hybrid MF %d, identity MF %d; delta M %s. Shifted ions "
                         "(library -> unknown): %s%s%s.%s%s",
             k == 0 ? "Closest known analogue:" : "Also:", name_of(e, h->hit),
             sm_mf_display(h->hybrid_mf), sm_mf_display(e->hits[h->hit].mf), dm,
             *ions ? ions : "none", *h->part ? "; modified part: " : "", h->part,
             *ctl ? " Control status: " : "", ctl);
    }
    if (a->n > 0 && analogue_plot(d, e, &a->best[0]) != 0)
        return -1;
    return 0;
}

static void hit_cells(const entry *e, size_t j, char bufs[N_COLS][512])
{
    const sm_hit *h = &e->hits[j];
    snprintf(bufs[0], 512, "%zu", j + 1);
    snprintf(bufs[1], 512, "%d", sm_mf_display(h->mf));
    snprintf(bufs[2], 512, "%d", sm_mf_display(h->rmf));
    snprintf(bufs[3], 512, "%s", name_of(e, j));
    snprintf(bufs[4], 512, "%s", sm_library_field(e->lib, h->index, SM_FIELD_FORMULA));
    double mw = sm_library_mw(e->lib, h->index);
    snprintf(bufs[5], 512, isnan(mw) ? "" : "%g", mw);
    sm_library_control_summary(e->lib, h->index, bufs[6], 512);
}

static int write_hits(doc *d, const entry *e)
{
    size_t n = e->n_hits < e->top ? e->n_hits : e->top;
    par(d, ST_HEAD, "Library hits");
    if (n == 0) {
        par(d, ST_BODY, "No library spectrum matched.");
        return 0;
    }
    if (d->html)
        fputs("<table>\n", d->f);
    row(d, col_name, true);
    for (size_t j = 0; j < n; j++) {
        char bufs[N_COLS][512];
        const char *cells[N_COLS];
        hit_cells(e, j, bufs);
        for (int k = 0; k < N_COLS; k++)
            cells[k] = bufs[k];
        row(d, cells, false);
    }
    if (d->html)
        fputs("</table>\n", d->f);
    par(d, ST_HEAD, "Mirror plots");
    for (size_t j = 0; j < n; j++) {
        const sm_hit *h = &e->hits[j];
        char title[1024], subtitle[1024], ctl[512];
        snprintf(title, sizeof title, "%s vs %s", e->qname, name_of(e, j));
        int len = snprintf(subtitle, sizeof subtitle, "MF %d, RMF %d, rank %zu",
                           sm_mf_display(h->mf), sm_mf_display(h->rmf), j + 1);
        if (sm_library_control_summary(e->lib, h->index, ctl, sizeof ctl) > 0 && len > 0)
            snprintf(subtitle + len, sizeof subtitle - (size_t)len,
                     " \u2014 control status: %s", ctl);
        mirror_plot p = {e->q, sm_library_nominal(e->lib, h->index, &plot_buf), title, subtitle,
                         NULL, 0};
        if (plot(d, &p) != 0)
            return -1;
    }
    return 0;
}

static void write_method(doc *d, const entry *e, const char *libpath, const char *date)
{
    sm_library_info info;
    sm_library_get_info(e->lib, &info);
    const char *base = strrchr(libpath, '/') ? strrchr(libpath, '/') + 1 : libpath;
    char sources[1024] = "";
    int len = 0;
    for (size_t j = 0; j < info.n_sources && len >= 0 && (size_t)len < sizeof sources; j++) {
        const char *src, *sha;
        size_t n;
        sm_library_source(e->lib, j, &src, &sha, &n);
        len += snprintf(sources + len, sizeof sources - (size_t)len, "%s%s (%zu spectra)",
                        j ? ", " : "", src, n);
    }
    par(d, ST_HEAD, "Method");
    parf(d, ST_SMALL, "Software: specmatch %s. Library: %s, %zu spectra from %s; format %s "
                      "%u.%u; checksum %s.", sm_version(), base, info.n_spectra,
         *sources ? sources : "unrecorded sources", info.format_name, info.format_major,
         info.format_minor, info.checksum);
    par(d, ST_SMALL, SCORES_NOTE);
    parf(d, ST_SMALL, "Report date: %s.", date);
}

static int write_entry(doc *d, const entry *e, const char *libpath, const char *date)
{
    if (!d->html && d->entries++ > 0)
        pdf_page(d); /* one spectrum per page (or pages) */
    write_query(d, e);
    write_verdict(d, e);
    if (write_analogue(d, e) != 0 || write_hits(d, e) != 0)
        return -1;
    write_method(d, e, libpath, date);
    return 0;
}

/* ---- reading and judging ----------------------------------------------- */

typedef struct report_ctx {
    const sm_library *lib;
    sm_searcher *searcher;
    sm_shifter *shifter;
    const char *libpath;
    const char *date;
    size_t top;
} report_ctx;

/* Searches, judges and writes spectrum s; returns an exit code. */
static int report_one(const report_ctx *c, doc *d, const sm_spectrum *s, const char *path,
                      size_t index)
{
    uint16_t mz[SM_MAX_NOMINAL_MZ + 1], in[SM_MAX_NOMINAL_MZ + 1];
    size_t k = c->top > SM_ANALOGUE_HITS ? c->top : SM_ANALOGUE_HITS, n = 0;
    sm_hit *hits = malloc(k * sizeof *hits);
    sm_error err = {0};
    entry e = {.lib = c->lib, .s = s, .path = path, .index = index, .top = c->top};
    char fallback[600];
    int code = EXIT_OK;
    if (hits == NULL) {
        cli_errorf("out of memory");
        return EXIT_IO;
    }
    if (sm_preprocess(s->peaks, s->n_peaks, mz, in, SM_MAX_NOMINAL_MZ + 1, &n, &err) != SM_OK) {
        snprintf(err.file, sizeof err.file, "%s", path);
        err.line = s->line;
        cli_report(&err);
        parf(d, ST_HEAD, "Spectrum %zu (%s, line %lu): not searched: %s", index + 1, path,
             s->line, err.message);
        code = EXIT_DATA;
        goto out;
    }
    e.q = (sm_nominal){n, mz, in};
    e.hits = hits;
    cli_judge_opts o = {.analogues = false, .mw = NAN, .spectrum_mw = s->mw};
    sm_judge_defaults(&o.judge);
    if (sm_search_nominal(c->searcher, e.q, k, SIZE_MAX, hits, &e.n_hits, &err) != SM_OK ||
        cli_judge(c->lib, c->shifter, e.q, hits, e.n_hits, &o, &e.v, &e.a, &e.analogue_ran,
                  &err) != SM_OK) {
        cli_report(&err);
        code = EXIT_IO;
        goto out;
    }
    e.qname = s->field[SM_FIELD_NAME];
    if (e.qname == NULL || *e.qname == '\0') {
        snprintf(fallback, sizeof fallback, "%s:%lu", path, s->line);
        e.qname = fallback;
    }
    if (write_entry(d, &e, c->libpath, c->date) != 0) {
        cli_errorf("cannot draw the mirror plots of %s:%lu (out of memory?)", path, s->line);
        code = EXIT_IO;
    }
out:
    free(hits);
    return code;
}

/* Every spectrum of path into d; returns an exit code. */
static int report_file(const report_ctx *c, doc *d, const char *path)
{
    sm_error err = {0};
    sm_reader *r = NULL;
    sm_status st = sm_reader_open(path, &r, &err);
    if (st != SM_OK) {
        cli_report(&err);
        return cli_exit_for(st);
    }
    sm_spectrum s;
    sm_spectrum_init(&s);
    int code = EXIT_OK;
    size_t index = 0;
    while ((st = sm_reader_next(r, &s, &err)) != SM_END) {
        if (st == SM_ERR_IO) {
            cli_report(&err);
            code = cli_worse(code, EXIT_IO);
            break;
        }
        if (st != SM_OK) {
            cli_report(&err);
            parf(d, ST_HEAD, "Spectrum %zu (%s, line %lu): not read: %s", index + 1, err.file,
                 err.line, err.message);
            code = cli_worse(code, cli_exit_for(st));
        } else {
            code = cli_worse(code, report_one(c, d, &s, path, index));
        }
        index++;
    }
    if (index == 0 && code == EXIT_OK) {
        cli_errorf("%s: no spectrum found; expected MSP records starting with a 'Name:' line",
                   path);
        code = EXIT_DATA;
    }
    sm_spectrum_clear(&s);
    sm_reader_close(r);
    return code;
}

/* ---- the command -------------------------------------------------------- */

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

/* --date: YYYY-MM-DD of a real month and day. */
static bool valid_date(const char *s)
{
    int y, m, dd;
    char extra;
    return strlen(s) == 10 && s[4] == '-' && s[7] == '-' &&
           sscanf(s, "%4d-%2d-%2d%c", &y, &m, &dd, &extra) == 3 && m >= 1 && m <= 12 &&
           dd >= 1 && dd <= 31;
}

static void doc_begin(doc *d, const char *query, const char *date)
{
    if (d->html) {
        fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>"
              "specmatch case report: ", d->f);
        html_str(d->f, query);
        fputs("</title>\n<style>\n"
              "body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#1a1a1a}\n"
              "h2{border-top:1px solid #999;padding-top:.6em}\n"
              "table{border-collapse:collapse;font-size:90%}\n"
              "th,td{border-bottom:1px solid #ccc;padding:.2em .5em;text-align:left;"
              "vertical-align:top}\n"
              "figure{margin:1em 0}figure svg{max-width:100%;height:auto}\n"
              ".small{font-size:85%;color:#555}\n"
              "</style>\n</head>\n<body>\n", d->f);
    }
    parf(d, ST_TITLE, "Case report: %s", query);
    parf(d, ST_SMALL, "specmatch %s, %s. A mass-spectral library match is presumptive "
                      "evidence.", sm_version(), date);
}

/* Writes the report of query to out; returns an exit code. */
static int write_report(const report_ctx *c, const char *query, const char *out, bool html)
{
    doc d = {.html = html, .footer = query};
    d.f = fopen(out, "wb");
    if (d.f == NULL) {
        cli_errorf("%s: cannot create the report: %s", out, strerror(errno));
        return EXIT_IO;
    }
    if (!html) {
        d.surface = cairo_pdf_surface_create_for_stream(to_stream, d.f, PAGE_W, PAGE_H);
        char when[32], creator[64];
        snprintf(when, sizeof when, "%sT00:00:00Z", c->date);
        snprintf(creator, sizeof creator, "specmatch %s", sm_version());
        /* a fixed date, so that the same inputs give the same bytes */
        cairo_pdf_surface_set_metadata(d.surface, CAIRO_PDF_METADATA_CREATE_DATE, when);
        cairo_pdf_surface_set_metadata(d.surface, CAIRO_PDF_METADATA_CREATOR, creator);
        cairo_pdf_surface_set_metadata(d.surface, CAIRO_PDF_METADATA_TITLE, "Case report");
        d.cr = cairo_create(d.surface);
    }
    doc_begin(&d, query, c->date);
    int code = report_file(c, &d, query);
    if (html) {
        fputs("</body>\n</html>\n", d.f);
    } else {
        cairo_status_t st = cairo_status(d.cr);
        cairo_destroy(d.cr);
        cairo_surface_finish(d.surface);
        if (st == CAIRO_STATUS_SUCCESS)
            st = cairo_surface_status(d.surface);
        cairo_surface_destroy(d.surface);
        d.failed = st != CAIRO_STATUS_SUCCESS;
    }
    if (fclose(d.f) != 0 || d.failed) {
        cli_errorf("%s: cannot write the report (disk full?)", out);
        code = EXIT_IO;
    }
    return code;
}

int cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {
        {"library", required_argument, NULL, 'l'}, {"output", required_argument, NULL, 'o'},
        {"top", required_argument, NULL, 'k'},     {"date", required_argument, NULL, 'D'},
        {"quiet", no_argument, NULL, 'q'},         {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    report_ctx c = {.top = 3};
    const char *out = NULL;
    char today[16];
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "l:o:qvh", opts, NULL)) != -1) {
        char *end;
        long v;
        switch (opt) {
        case 'l': c.libpath = optarg; break;
        case 'o': out = optarg; break;
        case 'k':
            v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > SM_ANALOGUE_HITS) {
                cli_errorf("--top expects a whole number from 1 to %d, got '%s'",
                           SM_ANALOGUE_HITS, optarg);
                return EXIT_USAGE;
            }
            c.top = (size_t)v;
            break;
        case 'D':
            if (!valid_date(optarg)) {
                cli_errorf("--date expects YYYY-MM-DD, got '%s'", optarg);
                return EXIT_USAGE;
            }
            c.date = optarg;
            break;
        case 'q': cli_verbosity = 0; break;
        case 'v': cli_verbosity = 2; break;
        case 'h': usage(stdout); return EXIT_OK;
        default: fputs("Try 'specmatch report --help'.\n", stderr); return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc || out == NULL) {
        cli_errorf(optind + 1 != argc ? "report expects one query file" : "no report file "
                   "given; expected -o CASE.pdf or -o CASE.html");
        fputs("Try 'specmatch report --help'.\n", stderr);
        return EXIT_USAGE;
    }
    bool html = has_suffix(out, ".html") || has_suffix(out, ".htm");
    if (!html && !has_suffix(out, ".pdf")) {
        cli_errorf("%s: expected a report file ending in .pdf or .html", out);
        return EXIT_USAGE;
    }
    if (c.date == NULL) {
        time_t now = time(NULL);
        struct tm tm;
        strftime(today, sizeof today, "%Y-%m-%d", gmtime_r(&now, &tm));
        c.date = today;
    }
    if (c.libpath == NULL && (c.libpath = cli_default_library()) == NULL) {
        cli_errorf("no reference library found; pass --library LIB.h5 or set "
                   "SPECMATCH_LIBRARY");
        return EXIT_IO;
    }
    sm_library *lib = NULL;
    sm_error err = {0};
    int code = EXIT_OK;
    if (sm_library_open_ex(c.libpath, SM_OPEN_SEARCH_ONLY, &lib, &err) != SM_OK ||
        sm_searcher_new(lib, &c.searcher, &err) != SM_OK ||
        sm_shifter_new(&c.shifter, &err) != SM_OK) {
        cli_report(&err);
        code = EXIT_IO;
        goto out;
    }
    c.lib = lib;
    code = write_report(&c, argv[optind], out, html);
out:
    sm_shifter_free(c.shifter);
    sm_searcher_free(c.searcher);
    sm_library_close(lib);
    mirror_cleanup();
    return code;
}
