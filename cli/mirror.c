/* mirror.c — mirror plots of a query against a library hit, drawn with cairo. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cairo-svg.h>
#include <fontconfig/fontconfig.h>

#include "cli.h"
#include "mirror.h"

/* Plot area inside the MIRROR_W x MIRROR_H box; the band above it holds title,
 * subtitle and legend, so the legend never hides a peak. */
#define LEFT 72.0
#define RIGHT (MIRROR_W - 24.0)
#define TOP 96.0
#define BOTTOM (MIRROR_H - 56.0)
#define LABEL_ROOM 22.0 /* above +100 and below -100, for the m/z labels */
#define MAIN_IONS 8     /* most intense ions labelled per spectrum */
#define FONT "sans-serif"
#define TURN 6.283185307179586 /* a full circle, radians */

/* Okabe & Ito's palette ("Color Universal Design", 2008), as cli/plots.c uses it:
 * told apart with every common colour-vision deficiency. */
static void set_blue(cairo_t *cr) { cairo_set_source_rgb(cr, 0x00 / 255.0, 0x72 / 255.0, 0xB2 / 255.0); }
static void set_vermillion(cairo_t *cr) { cairo_set_source_rgb(cr, 0xD5 / 255.0, 0x5E / 255.0, 0x00 / 255.0); }
static void set_grey(cairo_t *cr, double g) { cairo_set_source_rgb(cr, g, g, g); }

typedef struct box {
    double x0, y0, x1, y1;
} box;

typedef struct frame {
    double mz_lo, mz_hi, mz_step;
    double zero, half; /* y of the zero line; pixels for 100 % */
} frame;

static double px(const frame *f, double mz)
{
    return LEFT + (mz - f->mz_lo) / (f->mz_hi - f->mz_lo) * (RIGHT - LEFT);
}

static double py(const frame *f, double pct)
{
    return f->zero - pct / 100.0 * f->half;
}

/* 1, 2 or 5 times a power of ten, near span / target. */
static double nice_step(double span, double target)
{
    double raw = span / target, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static frame make_frame(const mirror_plot *p)
{
    double lo = SM_MAX_NOMINAL_MZ, hi = 0;
    const sm_nominal *s[2] = {&p->query, &p->lib};
    for (int k = 0; k < 2; k++)
        if (s[k]->n > 0) {
            lo = fmin(lo, s[k]->mz[0]);
            hi = fmax(hi, s[k]->mz[s[k]->n - 1]);
        }
    if (hi < lo) {
        lo = 0;
        hi = 100;
    }
    frame f;
    f.mz_step = nice_step(hi - lo + 10, 10);
    f.mz_lo = fmax(0, floor((lo - 5) / f.mz_step) * f.mz_step);
    f.mz_hi = ceil((hi + 5) / f.mz_step) * f.mz_step;
    f.zero = (TOP + BOTTOM) / 2;
    f.half = (BOTTOM - TOP) / 2 - LABEL_ROOM;
    return f;
}


void mirror_text(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && o + 5 < cap;) {
        size_t n = *p < 0x80 ? 1 : cli_utf8_len(p);
        if (n == 0) { /* Latin-1, as cli_json_str takes it */
            out[o++] = (char)(0xC0 | (*p >> 6));
            out[o++] = (char)(0x80 | (*p & 0x3F));
            p++;
            continue;
        }
        unsigned char c = *p;
        for (size_t i = 0; i < n; i++)
            out[o++] = (char)(n == 1 && c < 0x20 ? ' ' : p[i]);
        p += n;
    }
    if (cap > 0)
        out[o] = '\0';
}

/* Length of s cut to at most n bytes without splitting a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t n)
{
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* Shows s from (x, y) within max_w: the font shrinks to 80 % first, then the text is
 * cut with "...". */
static void show_fitted(cairo_t *cr, double x, double y, double size, double max_w,
                        const char *s)
{
    char buf[520]; /* room for "..." after the 511 bytes kept */
    mirror_text(s, buf, 512);
    cairo_text_extents_t e;
    cairo_set_font_size(cr, size);
    cairo_text_extents(cr, buf, &e);
    if (e.x_advance > max_w) {
        cairo_set_font_size(cr, fmax(size * 0.8, size * max_w / e.x_advance));
        cairo_text_extents(cr, buf, &e);
    }
    size_t n = strlen(buf);
    while (e.x_advance > max_w && n > 0) {
        n = utf8_cut(buf, n - 1);
        memcpy(buf + n, "...", 4);
        cairo_text_extents(cr, buf, &e);
    }
    cairo_move_to(cr, x, y);
    cairo_show_text(cr, buf);
}

static void show_centered(cairo_t *cr, double x, double y, const char *s)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    cairo_move_to(cr, x - e.x_advance / 2, y);
    cairo_show_text(cr, s);
}

static void draw_axes(cairo_t *cr, const frame *f)
{
    char buf[32];
    cairo_set_line_width(cr, 0.5);
    set_grey(cr, 0.85);
    for (int v = -100; v <= 100; v += 50) {
        cairo_move_to(cr, LEFT, py(f, v));
        cairo_line_to(cr, RIGHT, py(f, v));
    }
    cairo_stroke(cr);
    set_grey(cr, 0.2);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, LEFT, TOP, RIGHT - LEFT, BOTTOM - TOP);
    cairo_move_to(cr, LEFT, f->zero); /* the zero line */
    cairo_line_to(cr, RIGHT, f->zero);
    cairo_stroke(cr);
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 11);
    for (int v = -100; v <= 100; v += 50) {
        cairo_move_to(cr, LEFT - 4, py(f, v));
        cairo_line_to(cr, LEFT, py(f, v));
        cairo_stroke(cr);
        snprintf(buf, sizeof buf, "%d", v);
        cairo_text_extents_t e;
        cairo_text_extents(cr, buf, &e);
        cairo_move_to(cr, LEFT - 7 - e.x_advance, py(f, v) + 4);
        cairo_show_text(cr, buf);
    }
    for (double m = f->mz_lo; m <= f->mz_hi + 1e-9; m += f->mz_step) {
        cairo_move_to(cr, px(f, m), BOTTOM);
        cairo_line_to(cr, px(f, m), BOTTOM + 4);
        cairo_stroke(cr);
        snprintf(buf, sizeof buf, "%.0f", m);
        show_centered(cr, px(f, m), BOTTOM + 16, buf);
    }
    cairo_set_font_size(cr, 12);
    show_centered(cr, (LEFT + RIGHT) / 2, BOTTOM + 36, "m/z");
    cairo_save(cr);
    cairo_translate(cr, 22, f->zero);
    cairo_rotate(cr, -TURN / 4);
    show_centered(cr, 0, 0, "relative abundance (%)");
    cairo_restore(cr);
}

/* Intensity of each nominal m/z, 0 where the spectrum has no peak. */
static void dense(sm_nominal s, uint16_t *out)
{
    memset(out, 0, (SM_MAX_NOMINAL_MZ + 1) * sizeof *out);
    for (size_t i = 0; i < s.n; i++)
        if (s.mz[i] <= SM_MAX_NOMINAL_MZ)
            out[s.mz[i]] = s.intensity[i];
}

static unsigned base_peak(sm_nominal s)
{
    unsigned b = 1;
    for (size_t i = 0; i < s.n; i++)
        if (s.intensity[i] > b)
            b = s.intensity[i];
    return b;
}

/* Sticks of one spectrum (sign +1 query, -1 library). A peak the other spectrum lacks
 * gets an open circle on its tip; as in the MF, intensity 1 counts as absent
 * (docs/DESIGN.md: such peaks mark where a scan starts). */
static void draw_sticks(cairo_t *cr, const frame *f, sm_nominal s, const uint16_t *other,
                        int sign)
{
    double base = base_peak(s);
    cairo_set_line_width(cr, 1.2);
    for (size_t i = 0; i < s.n; i++) {
        double x = px(f, s.mz[i]);
        cairo_move_to(cr, x, f->zero);
        cairo_line_to(cr, x, py(f, sign * 100.0 * s.intensity[i] / base));
    }
    cairo_stroke(cr);
    cairo_set_line_width(cr, 0.9);
    for (size_t i = 0; i < s.n; i++) {
        if (s.intensity[i] <= 1 || other[s.mz[i]] > 1)
            continue;
        double y = py(f, sign * 100.0 * s.intensity[i] / base) - sign * 2.5;
        cairo_new_sub_path(cr);
        cairo_arc(cr, px(f, s.mz[i]), y, 2.5, 0, TURN);
    }
    cairo_stroke(cr);
}

static bool overlaps(const box *a, const box *placed, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a->x0 < placed[i].x1 && placed[i].x0 < a->x1 && a->y0 < placed[i].y1 &&
            placed[i].y0 < a->y1)
            return true;
    return false;
}

/* Labels the MAIN_IONS most intense ions of s with their m/z, most intense first,
 * leaving out a label that would overlap one already placed. */
static void label_ions(cairo_t *cr, const frame *f, sm_nominal s, int sign, box *placed,
                       size_t *n_placed)
{
    double base = base_peak(s);
    size_t order[MAIN_IONS], n = 0;
    for (size_t i = 0; i < s.n; i++) { /* insertion into the top MAIN_IONS */
        size_t j = n < MAIN_IONS ? n++ : MAIN_IONS;
        if (j == MAIN_IONS && s.intensity[i] <= s.intensity[order[MAIN_IONS - 1]])
            continue;
        if (j == MAIN_IONS)
            j--;
        while (j > 0 && s.intensity[order[j - 1]] < s.intensity[i]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    cairo_set_font_size(cr, 10);
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k];
        char buf[16];
        snprintf(buf, sizeof buf, "%u", s.mz[i]);
        cairo_text_extents_t e;
        cairo_text_extents(cr, buf, &e);
        double x = px(f, s.mz[i]), tip = py(f, sign * 100.0 * s.intensity[i] / base);
        double base_y = sign > 0 ? tip - 7 : tip + 7 + 10;
        box b = {x - e.x_advance / 2 - 1, base_y - 10, x + e.x_advance / 2 + 1, base_y + 2};
        if (overlaps(&b, placed, *n_placed))
            continue;
        placed[(*n_placed)++] = b;
        cairo_move_to(cr, b.x0 + 1, base_y);
        cairo_show_text(cr, buf);
    }
}

static void set_green(cairo_t *cr) { cairo_set_source_rgb(cr, 0x00 / 255.0, 0x9E / 255.0, 0x73 / 255.0); }

const uint8_t *mirror_shift_flags(sm_nominal query, sm_nominal lib, int delta_m,
                                  uint8_t *flags)
{
    sm_hybrid_match_factor_ex(query, lib, delta_m, NULL, NULL, flags);
    return flags;
}

/* Shifted pairs are drawn for library ions of at least this % of the base peak. */
#define SHIFT_MIN_PCT 2.0

/* Each library ion paired through the shift (of at least SHIFT_MIN_PCT): a dashed line from its tip to the tip
 * of the query's ion delta_m higher, and a filled triangle under the library ion. */
static void draw_shifts(cairo_t *cr, const frame *f, const mirror_plot *p)
{
    double qb = base_peak(p->query), lb = base_peak(p->lib);
    uint16_t qd[SM_MAX_NOMINAL_MZ + 1];
    dense(p->query, qd);
    static const double dash[] = {3, 2};
    set_green(cr);
    cairo_set_line_width(cr, 0.9);
    cairo_set_dash(cr, dash, 2, 0);
    for (size_t i = 0; i < p->lib.n; i++) {
        long m = (long)p->lib.mz[i] + p->delta_m;
        if (!p->shifted[i] || m < 0 || m > SM_MAX_NOMINAL_MZ ||
            100.0 * p->lib.intensity[i] < SHIFT_MIN_PCT * lb)
            continue;
        cairo_move_to(cr, px(f, p->lib.mz[i]), py(f, -100.0 * p->lib.intensity[i] / lb));
        cairo_line_to(cr, px(f, (unsigned)m), py(f, 100.0 * qd[m] / qb));
    }
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    for (size_t i = 0; i < p->lib.n; i++) {
        if (!p->shifted[i] || 100.0 * p->lib.intensity[i] < SHIFT_MIN_PCT * lb)
            continue;
        double x = px(f, p->lib.mz[i]), y = py(f, -100.0 * p->lib.intensity[i] / lb) + 3;
        cairo_move_to(cr, x, y);
        cairo_line_to(cr, x - 3, y + 5);
        cairo_line_to(cr, x + 3, y + 5);
        cairo_close_path(cr);
    }
    cairo_fill(cr);
}

static void draw_legend(cairo_t *cr, const mirror_plot *p)
{
    double x = LEFT, y = 76;
    cairo_set_font_size(cr, 11);
    cairo_set_line_width(cr, 2);
    for (int k = 0; k < 2; k++) {
        (k == 0 ? set_blue : set_vermillion)(cr);
        cairo_move_to(cr, x, y - 9);
        cairo_line_to(cr, x, y + 1);
        cairo_stroke(cr);
        set_grey(cr, 0.1);
        cairo_move_to(cr, x + 6, y);
        cairo_show_text(cr, k == 0 ? "query (up)" : "library spectrum (down)");
        x += k == 0 ? 100 : 170;
    }
    cairo_set_line_width(cr, 0.9);
    cairo_new_sub_path(cr);
    cairo_arc(cr, x + 2.5, y - 4, 2.5, 0, TURN);
    cairo_stroke(cr);
    cairo_move_to(cr, x + 10, y);
    if (p->shifted == NULL) {
        cairo_show_text(cr, "peak absent from the other spectrum (intensity > 1 of 999)");
        return;
    }
    cairo_show_text(cr, "absent from the other");
    x += 140;
    set_green(cr);
    cairo_move_to(cr, x, y - 8);
    cairo_line_to(cr, x - 3, y - 3);
    cairo_line_to(cr, x + 3, y - 3);
    cairo_close_path(cr);
    cairo_fill(cr);
    set_grey(cr, 0.1);
    char buf[64];
    snprintf(buf, sizeof buf, "library ion found at m/z %+d in the query", p->delta_m);
    cairo_move_to(cr, x + 8, y);
    cairo_show_text(cr, buf);
}

void mirror_draw(cairo_t *cr, const mirror_plot *p)
{
    uint16_t qd[SM_MAX_NOMINAL_MZ + 1], ld[SM_MAX_NOMINAL_MZ + 1];
    frame f = make_frame(p);
    box placed[2 * MAIN_IONS];
    size_t n_placed = 0;
    dense(p->query, qd);
    dense(p->lib, ld);
    cairo_save(cr);
    cairo_rectangle(cr, 0, 0, MIRROR_W, MIRROR_H);
    cairo_clip(cr);
    set_grey(cr, 1);
    cairo_paint(cr);
    set_grey(cr, 0.1);
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    show_fitted(cr, LEFT - 50, 26, 15, MIRROR_W - 2 * (LEFT - 50), p->title ? p->title : "");
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    show_fitted(cr, LEFT - 50, 47, 11, MIRROR_W - 2 * (LEFT - 50),
                p->subtitle ? p->subtitle : "");
    draw_legend(cr, p);
    draw_axes(cr, &f);
    set_blue(cr);
    draw_sticks(cr, &f, p->query, ld, +1);
    set_vermillion(cr);
    draw_sticks(cr, &f, p->lib, qd, -1);
    if (p->shifted)
        draw_shifts(cr, &f, p);
    set_blue(cr);
    label_ions(cr, &f, p->query, +1, placed, &n_placed);
    set_vermillion(cr);
    label_ions(cr, &f, p->lib, -1, placed, &n_placed);
    cairo_restore(cr);
}

/* Draws p on surface and finishes it; cairo's status, CAIRO_STATUS_SUCCESS when it
 * all went through. */
static cairo_status_t render(cairo_surface_t *surface, double scale, const mirror_plot *p)
{
    cairo_t *cr = cairo_create(surface);
    cairo_scale(cr, scale, scale);
    mirror_draw(cr, p);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    cairo_surface_flush(surface);
    if (st == CAIRO_STATUS_SUCCESS)
        st = cairo_surface_status(surface);
    return st;
}

static cairo_status_t write_file(void *closure, const unsigned char *data, unsigned int n)
{
    return fwrite(data, 1, n, closure) == n ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

int mirror_svg_stream(cairo_write_func_t write, void *closure, const mirror_plot *p)
{
    cairo_surface_t *s = cairo_svg_surface_create_for_stream(write, closure, MIRROR_W, MIRROR_H);
    cairo_status_t st = render(s, 1, p);
    cairo_surface_finish(s); /* the document is written out here */
    if (st == CAIRO_STATUS_SUCCESS)
        st = cairo_surface_status(s);
    cairo_surface_destroy(s);
    return st == CAIRO_STATUS_SUCCESS ? 0 : -1;
}

static int write_svg(const char *path, const mirror_plot *p)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        cli_errorf("%s: cannot create the mirror plot: %s", path, strerror(errno));
        return EXIT_IO;
    }
    int bad = mirror_svg_stream(write_file, f, p);
    if (fclose(f) != 0 || bad) {
        cli_errorf("%s: cannot write the mirror plot (disk full?)", path);
        return EXIT_IO;
    }
    return EXIT_OK;
}

static int write_png(const char *path, const mirror_plot *p)
{
    cairo_surface_t *s = cairo_image_surface_create(
        CAIRO_FORMAT_RGB24, (int)MIRROR_W * MIRROR_PNG_SCALE, (int)MIRROR_H * MIRROR_PNG_SCALE);
    cairo_status_t st = render(s, MIRROR_PNG_SCALE, p);
    FILE *f = st == CAIRO_STATUS_SUCCESS ? fopen(path, "wb") : NULL;
    if (st != CAIRO_STATUS_SUCCESS || f == NULL) {
        cli_errorf("%s: cannot create the mirror plot: %s", path,
                   f == NULL && st == CAIRO_STATUS_SUCCESS ? strerror(errno)
                                                           : cairo_status_to_string(st));
        cairo_surface_destroy(s);
        return EXIT_IO;
    }
    st = cairo_surface_write_to_png_stream(s, write_file, f);
    cairo_surface_destroy(s);
    if (fclose(f) != 0 || st != CAIRO_STATUS_SUCCESS) {
        cli_errorf("%s: cannot write the mirror plot (disk full?)", path);
        return EXIT_IO;
    }
    return EXIT_OK;
}

int mirror_plot_write(const char *base, const mirror_plot *p)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s.svg", base) >= (int)sizeof path) {
        cli_errorf("%s: path too long for a mirror plot", base);
        return EXIT_IO;
    }
    int code = write_svg(path, p);
    snprintf(path, sizeof path, "%s.png", base);
    return cli_worse(code, write_png(path, p));
}

void mirror_cleanup(void)
{
    cairo_debug_reset_static_data();
    FcFini(); /* cairo's toy font API loaded fontconfig's configuration */
}
