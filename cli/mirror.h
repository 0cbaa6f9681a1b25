/* mirror.h — mirror plots (query up, library spectrum down), drawn once with cairo for
 * SVG, PNG and the pages of a PDF report. */
#ifndef SM_CLI_MIRROR_H
#define SM_CLI_MIRROR_H

#include <cairo.h>

#include "specmatch/specmatch.h"

/* The plot's own size, in cairo user units (points for SVG and PDF); PNG files are
 * rendered MIRROR_PNG_SCALE times larger. */
#define MIRROR_W 800.0
#define MIRROR_H 480.0
#define MIRROR_PNG_SCALE 2

typedef struct mirror_plot {
    sm_nominal query;     /* preprocessed as the search used it (base peak 999) */
    sm_nominal lib;       /* sm_library_nominal of the hit */
    const char *title;    /* "QUERY vs HIT" */
    const char *subtitle; /* scores, rank, control status */
    /* For an analogue: library peaks paired with the query's peak delta_m higher
     * (sm_hybrid_match_factor_ex's flags, lib.n of them); NULL for none. Each such
     * pair is joined by a dashed line and the library ion is marked. */
    const uint8_t *shifted;
    int delta_m;
} mirror_plot;

/* The flags of mirror_plot.shifted for the query against lib at delta_m, into
 * flags (room for lib.n); returns flags. */
const uint8_t *mirror_shift_flags(sm_nominal query, sm_nominal lib, int delta_m,
                                  uint8_t *flags);

/* s as text cairo accepts (valid UTF-8): bytes that are not UTF-8 taken as Latin-1,
 * control characters as spaces; cut to fit cap bytes (NUL included). */
void mirror_text(const char *s, char *out, size_t cap);

/* Draws the plot into the box (0, 0)-(MIRROR_W, MIRROR_H) of cr's user space; cr's
 * state is restored afterwards. */
void mirror_draw(cairo_t *cr, const mirror_plot *p);

/* Writes BASE.svg and BASE.png. Reports a failure (the file and why) and returns an
 * exit code of cli.h. */
int mirror_plot_write(const char *base, const mirror_plot *p);

/* The plot as a standalone SVG document through write(closure, ...). Returns 0, or -1
 * when cairo fails or write reported an error. */
int mirror_svg_stream(cairo_write_func_t write, void *closure, const mirror_plot *p);

/* Frees the font caches cairo keeps for the whole process, once drawing is over, so
 * that leak checkers (the AddressSanitizer build) see only real leaks. */
void mirror_cleanup(void);

#endif
