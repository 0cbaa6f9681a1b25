/* plots.h — SVG figures for specmatch eval (score distributions, identification-rate
 * curve, calibration). Each function writes one standalone SVG file; it returns 0, or
 * -1 with errno set when the file cannot be written. */
#ifndef SM_CLI_PLOTS_H
#define SM_CLI_PLOTS_H
#include <stddef.h>

/* Two overlaid histograms of the top hit's score: right and wrong top hits.
 * Bins of equal width over [xmin, xmax] (n_bins of them); y axis: number of queries. */
int plot_score_histograms(const char *path, const char *title, const char *xlabel,
                          double xmin, double xmax, size_t n_bins,
                          const double *right, size_t n_right,
                          const double *wrong, size_t n_wrong);

/* The identification-rate curve: true identification rate (y, %) against false
 * identification rate (x, %), one point per score threshold, points joined in the
 * order given, each labelled with its threshold (labels may be NULL). */
int plot_rate_curve(const char *path, const char *title, const double *false_rate_pct,
                    const double *true_rate_pct, const double *thresholds, size_t n);

/* Calibration (reliability) diagram: mean predicted probability (x) against observed
 * share right (y) per bin, bins with count 0 skipped, the diagonal y = x drawn, each
 * point's size or label showing its count; ece in the title line below (as %). */
int plot_calibration(const char *path, const char *title, const double *predicted,
                     const double *observed, const size_t *counts, size_t n_bins, double ece);
#endif
