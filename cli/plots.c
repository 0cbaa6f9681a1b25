/* plots.c — dependency-free SVG 1.1 figures for `specmatch eval --plots DIR`. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "plots.h"

/* Canvas and plot area in pixels; the band above the plot holds title, subtitle and
 * legend, so the legend never hides data. */
enum { W = 720, H = 480, LEFT = 80, RIGHT = W - 24, TOP = 84, BOTTOM = H - 60 };
#define MAX_BINS 1000 /* more than the plot is wide: merging loses nothing visible */

/* Okabe & Ito's palette ("Color Universal Design", 2008): told apart with every
 * common colour-vision deficiency. */
#define BLUE "#0072B2"
#define VERMILLION "#D55E00"
#define GREY "#666666"

typedef struct axis {
    double lo, hi, step; /* hi > lo and step > 0 always */
} axis;

/* Length of the UTF-8 sequence at s when it encodes an XML character, else 0:
 * cli_utf8_len's rules, plus U+FFFE and U+FFFF (EF BF BE, EF BF BF), which XML does
 * not allow. */
static size_t utf8_len(const unsigned char *s)
{
    size_t n = cli_utf8_len(s);
    if (n == 3 && s[0] == 0xEF && s[1] == 0xBF && (s[2] == 0xBE || s[2] == 0xBF))
        return 0;
    return n;
}

/* Character data that is always well-formed XML 1.0: markup characters escaped,
 * control characters (not allowed even as references) as spaces, bytes that are not
 * UTF-8 taken as Latin-1, as cli_json_str does. */
static void put_text(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p;) {
        unsigned c = *p;
        size_t n;
        switch (c) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            if (c < 0x20)
                fputc(' ', f);
            else if (c < 0x80)
                fputc((int)c, f);
            else if ((n = utf8_len(p)) == 0)
                fprintf(f, "&#x%X;", c);
            else {
                fwrite(p, 1, n, f);
                p += n;
                continue;
            }
        }
        p++;
    }
}

static void text(FILE *f, double x, double y, const char *attrs, const char *s)
{
    fprintf(f, "<text x=\"%.2f\" y=\"%.2f\"%s>", x, y, attrs);
    put_text(f, s);
    fputs("</text>\n", f);
}

/* Heckbert's nice numbers ("Nice numbers for graph labels", Graphics Gems, 1990):
 * a step of 1, 2 or 5 times a power of ten, about span/target. */
static double nice_step(double span, double target)
{
    double raw = span / target;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

/* An axis over [lo, hi]. Reversed ends are swapped; an empty range becomes one around
 * its value, a non-finite one [0, 1]. widen moves the ends out to whole steps;
 * integer (counts) keeps the step at 1 or more. */
static axis make_axis(double lo, double hi, bool widen, bool integer)
{
    double l = fmin(lo, hi), h = fmax(lo, hi); /* fmin, fmax drop a NaN end */
    lo = l;
    hi = h;
    if (!(hi - lo > 1e-9 * fmax(fabs(lo), fabs(hi)))) {
        double pad = lo == 0 ? 1 : 0.1 * fabs(lo);
        lo -= pad;
        hi += pad;
    }
    if (!(hi - lo > 1e-300 && isfinite(hi - lo))) { /* infinite, or too wide or narrow */
        lo = 0;
        hi = 1;
    }
    axis a = {lo, hi, nice_step(hi - lo, 5)};
    if (integer && a.step < 1)
        a.step = 1;
    double wlo = floor(lo / a.step) * a.step, whi = ceil(hi / a.step) * a.step;
    if (widen && isfinite(wlo) && isfinite(whi)) { /* near DBL_MAX a whole step overflows */
        a.lo = wlo;
        a.hi = whi;
    }
    return a;
}

/* Pixel position of v on the axis, clamped to the plot so that stray values stay in
 * the frame; the axis guarantees hi > lo, so no division by zero. */
static double px(const axis *a, double v)
{
    double t = (v - a->lo) / (a->hi - a->lo);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return LEFT + t * (RIGHT - LEFT);
}

static double py(const axis *a, double v)
{
    double t = (v - a->lo) / (a->hi - a->lo);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return BOTTOM - t * (BOTTOM - TOP);
}

/* Tick label at a precision the step needs, never "-0". */
static void tick_label(char *buf, size_t cap, double v, double step)
{
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (fabs(v) >= 1e7)
        snprintf(buf, cap, "%.3g", v);
    else
        snprintf(buf, cap, "%.*f", dec > 12 ? 12 : dec, v + 0.0);
}

/* Opens the file and writes the prologue, title and subtitle. */
static FILE *svg_open(const char *path, const char *title, const char *subtitle)
{
    if (path == NULL) {
        errno = EINVAL;
        return NULL;
    }
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return NULL;
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
               "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" "
               "font-size=\"12\">\n", W, H, W, H);
    fputs("<title>", f);
    put_text(f, title);
    fputs("</title>\n", f);
    fprintf(f, "<rect id=\"background\" x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" "
               "fill=\"#FFFFFF\"/>\n", W, H);
    text(f, W / 2.0, 26, " id=\"title\" text-anchor=\"middle\" font-size=\"16\" "
                         "font-weight=\"bold\"", title);
    if (subtitle && subtitle[0])
        text(f, W / 2.0, 46, " id=\"subtitle\" text-anchor=\"middle\" fill=\"#444444\"",
             subtitle);
    return f;
}

/* Closes the document; -1 with errno when any write failed. */
static int svg_close(FILE *f)
{
    fputs("</svg>\n", f);
    int failed = ferror(f), saved = errno;
    if (fclose(f) != 0)
        return -1;
    if (failed) {
        errno = saved ? saved : EIO;
        return -1;
    }
    return 0;
}

/* Grid, axis lines, ticks with their labels, and the axis titles. */
static void draw_axes(FILE *f, const axis *x, const axis *y, const char *xlabel,
                      const char *ylabel)
{
    char buf[64];
    const axis *ax[2] = {x, y};
    fputs("<g id=\"axes\" stroke=\"#000000\" stroke-width=\"1\">\n", f);
    for (int d = 0; d < 2; d++) {
        const axis *a = ax[d];
        /* ticks are whole multiples of the step, so 0 lands exactly on 0 */
        double k = ceil(a->lo / a->step - 1e-9);
        for (int i = 0; i < 50 && k <= a->hi / a->step + 1e-9; i++, k++) {
            double v = k * a->step;
            if (!isfinite(v))
                break;
            tick_label(buf, sizeof buf, v, a->step);
            if (d == 0) {
                double p = px(a, v);
                fprintf(f, "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" stroke=\"#E5E5E5\"/>\n"
                           "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\"/>\n",
                        p, TOP, p, BOTTOM, p, BOTTOM, p, BOTTOM + 5);
                text(f, p, BOTTOM + 19, " class=\"tick-label\" text-anchor=\"middle\" "
                                        "stroke=\"none\"", buf);
            } else {
                double p = py(a, v);
                fprintf(f, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" stroke=\"#E5E5E5\"/>\n"
                           "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\"/>\n",
                        LEFT, p, RIGHT, p, LEFT - 5, p, LEFT, p);
                text(f, LEFT - 8, p + 4, " class=\"tick-label\" text-anchor=\"end\" "
                                         "stroke=\"none\"", buf);
            }
        }
    }
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n"
               "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
            LEFT, BOTTOM, RIGHT, BOTTOM, LEFT, TOP, LEFT, BOTTOM);
    text(f, (LEFT + RIGHT) / 2.0, H - 18, " id=\"xlabel\" text-anchor=\"middle\" "
                                          "stroke=\"none\" font-size=\"13\"", xlabel);
    fprintf(f, "<text id=\"ylabel\" x=\"0\" y=\"0\" transform=\"translate(22,%.2f) "
               "rotate(-90)\" text-anchor=\"middle\" stroke=\"none\" font-size=\"13\">",
            (TOP + BOTTOM) / 2.0);
    put_text(f, ylabel);
    fputs("</text>\n</g>\n", f);
}

/* One legend entry: a box (histogram), a marker on a line (points), or a dashed line. */
enum key_kind { KEY_BOX, KEY_MARKER, KEY_DASHED };
typedef struct key {
    const char *label, *color;
    enum key_kind kind;
} key;

static void draw_legend(FILE *f, const key *keys, size_t n)
{
    double x = LEFT, y = 68;
    fputs("<g id=\"legend\">\n", f);
    for (size_t i = 0; i < n; i++) {
        const char *c = keys[i].color;
        if (keys[i].kind == KEY_BOX)
            fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"16\" height=\"10\" fill=\"%s\" "
                       "fill-opacity=\"0.45\" stroke=\"%s\"/>\n", x, y - 9, c, c);
        else
            fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" "
                       "stroke-width=\"2\"%s/>\n", x, y - 4, x + 16, y - 4, c,
                    keys[i].kind == KEY_DASHED ? " stroke-dasharray=\"5 3\"" : "");
        if (keys[i].kind == KEY_MARKER)
            fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"4\" fill=\"%s\"/>\n", x + 8, y - 4, c);
        text(f, x + 22, y, "", keys[i].label);
        x += 22 + 7.0 * (double)strlen(keys[i].label) + 24; /* about 7 px a character */
    }
    fputs("</g>\n", f);
}

/* A point's usable: finite coordinates and, with counts, a bin that holds queries. */
static bool usable(const double *xs, const double *ys, const size_t *counts, size_t i)
{
    return isfinite(xs[i]) && isfinite(ys[i]) && (!counts || counts[i] > 0);
}

/* One line through the usable points, in the order given; nothing when there are none. */
static void polyline(FILE *f, const axis *x, const axis *y, const double *xs,
                     const double *ys, const size_t *counts, size_t n)
{
    bool any = false;
    for (size_t i = 0; i < n; i++)
        if (usable(xs, ys, counts, i)) {
            fprintf(f, "%s%.2f,%.2f", any ? " " : "<polyline fill=\"none\" stroke-width=\"2\" "
                    "points=\"", px(x, xs[i]), py(y, ys[i]));
            any = true;
        }
    if (any)
        fputs("\"/>\n", f);
}

/* A small label up and to the right of a point, or to its left near the right edge so
 * that it stays on the canvas. */
static void note(FILE *f, double cx, double cy, double gap, const char *cls, const char *s)
{
    bool edge = cx > RIGHT - 40;
    fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" class=\"%s\" font-size=\"10\" fill=\"#333333\" "
               "stroke=\"none\"%s>", edge ? cx - gap : cx + gap, cy - gap, cls,
            edge ? " text-anchor=\"end\"" : "");
    put_text(f, s);
    fputs("</text>\n", f);
}

int plot_score_histograms(const char *path, const char *title, const char *xlabel,
                          double xmin, double xmax, size_t n_bins,
                          const double *right, size_t n_right,
                          const double *wrong, size_t n_wrong)
{
    const double *data[2] = {right, wrong};
    size_t len[2] = {right ? n_right : 0, wrong ? n_wrong : 0};
    size_t nb = n_bins == 0 ? 10 : n_bins > MAX_BINS ? MAX_BINS : n_bins;

    /* without a usable range, the data's own range */
    if (!isfinite(xmin) || !isfinite(xmax) || xmin == xmax) {
        xmin = INFINITY;
        xmax = -INFINITY;
        for (size_t s = 0; s < 2; s++)
            for (size_t i = 0; i < len[s]; i++)
                if (isfinite(data[s][i])) {
                    xmin = fmin(xmin, data[s][i]);
                    xmax = fmax(xmax, data[s][i]);
                }
    }
    axis x = make_axis(xmin, xmax, false, false);

    size_t *count = calloc(2 * nb, sizeof *count); /* right bins, then wrong bins */
    size_t used[2] = {0, 0}, top = 1;
    if (count == NULL) {
        errno = ENOMEM;
        return -1;
    }
    /* a score outside the range (or exactly xmax) counts in the end bin */
    for (size_t s = 0; s < 2; s++)
        for (size_t i = 0; i < len[s]; i++) {
            double v = data[s][i];
            if (!isfinite(v))
                continue;
            /* a score on a bin edge counts in the bin above, whatever the rounding */
            double t = (v - x.lo) / (x.hi - x.lo) * (double)nb + 1e-9;
            size_t b = t <= 0 ? 0 : t >= (double)nb ? nb - 1 : (size_t)t;
            size_t c = ++count[s * nb + b];
            top = c > top ? c : top;
            used[s]++;
        }
    axis y = make_axis(0, (double)top, true, true);

    char sub[160];
    snprintf(sub, sizeof sub, "%zu right and %zu wrong top hits; %zu bins of %.4g", used[0],
             used[1], nb, (x.hi - x.lo) / (double)nb);
    FILE *f = svg_open(path, title, sub);
    if (f == NULL) {
        free(count);
        return -1;
    }
    draw_axes(f, &x, &y, xlabel ? xlabel : "score", "queries");
    static const char *const ids[2] = {"series-right", "series-wrong"};
    static const char *const colors[2] = {BLUE, VERMILLION};
    double bw = (double)(RIGHT - LEFT) / (double)nb;
    for (size_t s = 0; s < 2; s++) {
        fprintf(f, "<g id=\"%s\" fill=\"%s\" fill-opacity=\"0.45\" stroke=\"%s\" "
                   "stroke-width=\"1\">\n", ids[s], colors[s], colors[s]);
        for (size_t b = 0; b < nb; b++) {
            size_t c = count[s * nb + b];
            if (c == 0)
                continue;
            double top_px = py(&y, (double)c);
            fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/>\n",
                    LEFT + bw * (double)b, top_px, bw, BOTTOM - top_px);
        }
        fputs("</g>\n", f);
    }
    free(count);
    const key keys[] = {{"right top hit", BLUE, KEY_BOX}, {"wrong top hit", VERMILLION, KEY_BOX}};
    draw_legend(f, keys, 2);
    return svg_close(f);
}

/* The curve's name for the legend: "NAME score" when the title ends in "(NAME)", as
 * eval's titles do, else the title itself. */
static void curve_name(char *buf, size_t cap, const char *title)
{
    const char *t = title ? title : "";
    size_t n = strlen(t);
    const char *open = strrchr(t, '(');
    if (n > 2 && t[n - 1] == ')' && open && open < t + n - 2)
        snprintf(buf, cap, "%.*s score", (int)(t + n - 1 - open - 1), open + 1);
    else
        snprintf(buf, cap, "%s", n ? t : "identification rate");
}

int plot_rate_curve(const char *path, const char *title, const double *false_rate_pct,
                    const double *true_rate_pct, const double *thresholds, size_t n)
{
    if (!false_rate_pct || !true_rate_pct)
        n = 0;
    double xhi = 0, yhi = 100, xlo = 0, ylo = 0;
    bool integral = true; /* thresholds all whole numbers (the MF scale) */
    for (size_t i = 0; i < n; i++) {
        double fr = false_rate_pct[i], tr = true_rate_pct[i];
        if (!isfinite(fr) || !isfinite(tr))
            continue;
        xlo = fmin(xlo, fr);
        xhi = fmax(xhi, fr);
        ylo = fmin(ylo, tr);
        yhi = fmax(yhi, tr);
        /* eval's thresholds are products like 1000 * 0.15: whole up to rounding */
        double t = thresholds ? thresholds[i] : 0;
        if (isfinite(t) && fabs(t - round(t)) > 1e-6 * fmax(1, fabs(t)))
            integral = false;
    }
    /* rates near 0 get a scale of their own, not a 0-100 one */
    axis x = make_axis(xlo, xhi > xlo ? xhi : xlo + 1, true, false);
    axis y = make_axis(ylo, yhi, true, false);

    FILE *f = svg_open(path, title, thresholds ? "points labelled with their score threshold"
                                               : NULL);
    if (f == NULL)
        return -1;
    draw_axes(f, &x, &y, "false identification rate (%)", "true identification rate (%)");
    fprintf(f, "<g id=\"series-curve\" fill=\"%s\" stroke=\"%s\">\n", BLUE, BLUE);
    polyline(f, &x, &y, false_rate_pct, true_rate_pct, NULL, n);
    double last_x = -1e9, last_y = -1e9;
    for (size_t i = 0; i < n; i++) {
        if (!usable(false_rate_pct, true_rate_pct, NULL, i))
            continue;
        double cx = px(&x, false_rate_pct[i]), cy = py(&y, true_rate_pct[i]);
        fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3.5\"/>\n", cx, cy);
        /* points that pile up (high thresholds, few claims) keep only their first label */
        if (!thresholds || !isfinite(thresholds[i]) ||
            (fabs(cx - last_x) < 24 && fabs(cy - last_y) < 12))
            continue;
        char buf[48];
        snprintf(buf, sizeof buf, integral ? "%.0f" : "%.2f", thresholds[i]);
        note(f, cx, cy, 6, "threshold", buf);
        last_x = cx;
        last_y = cy;
    }
    fputs("</g>\n", f);
    char name[96];
    curve_name(name, sizeof name, title);
    const key keys[] = {{name, BLUE, KEY_MARKER}};
    draw_legend(f, keys, 1);
    return svg_close(f);
}

int plot_calibration(const char *path, const char *title, const double *predicted,
                     const double *observed, const size_t *counts, size_t n_bins, double ece)
{
    if (!predicted || !observed || !counts)
        n_bins = 0;
    size_t most = 1;
    for (size_t b = 0; b < n_bins; b++)
        most = counts[b] > most ? counts[b] : most;
    axis x = make_axis(0, 1, true, false), y = x;

    char sub[128];
    if (isfinite(100 * ece))
        snprintf(sub, sizeof sub, "expected calibration error (ECE) %.2f %%; "
                                  "marker area and label: queries in the bin", 100 * ece);
    else
        snprintf(sub, sizeof sub, "expected calibration error (ECE) n/a");
    FILE *f = svg_open(path, title, sub);
    if (f == NULL)
        return -1;
    draw_axes(f, &x, &y, "predicted probability", "observed share right");
    fprintf(f, "<g id=\"diagonal\" stroke=\"%s\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\">\n"
               "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n</g>\n",
            GREY, px(&x, 0), py(&y, 0), px(&x, 1), py(&y, 1));
    fprintf(f, "<g id=\"series-calibration\" fill=\"%s\" stroke=\"%s\">\n", BLUE, BLUE);
    polyline(f, &x, &y, predicted, observed, counts, n_bins);
    for (size_t b = 0; b < n_bins; b++) {
        if (!usable(predicted, observed, counts, b))
            continue;
        /* the radius grows with the square root of the count, so the area follows the
         * count and the eye weighs bins as ECE does */
        double r = 3 + 7 * sqrt((double)counts[b] / (double)most);
        double cx = px(&x, predicted[b]), cy = py(&y, observed[b]);
        char buf[32];
        snprintf(buf, sizeof buf, "%zu", counts[b]);
        fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.2f\" fill-opacity=\"0.6\"/>\n", cx, cy, r);
        note(f, cx, cy, r + 2, "count", buf);
    }
    fputs("</g>\n", f);
    const key keys[] = {{"observed", BLUE, KEY_MARKER},
                        {"perfect calibration", GREY, KEY_DASHED}};
    draw_legend(f, keys, 2);
    return svg_close(f);
}
