/* analogue_eval.c — the evaluation of docs/ANALOGUES.md: leave-one-compound-out on
 * the SWGDRUG fentanyl class (every spectrum of the compound removed from the
 * library, then searched), the same for every other SWGDRUG compound (false alarms),
 * and the MassBank spectra of compounds not in the library.
 *
 *   analogue_eval LIB.h5 MB_OUT.msp [-v]
 *
 * The library must carry the control table (the default library does). The final
 * verdict is the identity verdict when it is identified or isomers, else analogue
 * when the analysis suspects one, else no_match. The unknown's MW is not given (the
 * harder case): shifts come from the FFT and the MW estimate; ANALOGUE_USE_MW=1 gives
 * each query's MW field instead. ANALOGUE_MIN_HYBRID, ANALOGUE_MIN_SHARE and
 * ANALOGUE_IDENTITY_MARGIN override the thresholds. -v lists every fentanyl-class query. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "specmatch/specmatch.h"

/* A library spectrum's peaks, unpacked (used by one thread, one spectrum at a time). */
static sm_nominal_buf lib_buf;

#define KEY 64

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct tally {
    size_t queries, analogue, iso_fentanyl, identified, isomers_other, no_match;
    size_t explainable, explained; /* true delta M in the table / found equal */
    double seconds;                /* analysis time */
} tally;

static sm_analogue_params aparams;
static bool use_mw; /* ANALOGUE_USE_MW=1: the left-out spectrum's MW field is given */
static bool verbose, dump;
static const char *current_set;

static const char *judge(const sm_library *lib, sm_shifter *sh, sm_nominal q, const sm_hit *h,
                         size_t nh, sm_analogue *a, tally *t, bool *iso_fent)
{
    sm_error e = {0};
    sm_verdict v;
    if (sm_judge(lib, q, h, nh, NULL, &v, &e) != SM_OK)
        exit(1);
    double t0 = now();
    if (sm_analogue_analyze(lib, sh, q, h, nh, &aparams, a, &e) != SM_OK)
        exit(1);
    t->seconds += now() - t0;
    t->queries++;
    sm_verdict_apply_analogue(&v, a);
    if (dump) {
        int nf = 0;
        for (size_t k = 0; k < a->n; k++)
            nf += sm_library_fentanyl_class(lib, h[a->best[k].hit].index);
        printf("D\t%s\t%s\t%d\t%.2f\t%.3f\t%d\t%d\t%.2f\t%.2f\n", current_set,
               sm_verdict_status_name(v.status),
               a->n > 0 && sm_library_fentanyl_class(lib, h[a->best[0].hit].index),
               a->n > 0 ? a->best[0].hybrid_mf : 0, a->class_share,
               v.status == SM_VERDICT_ISOMERS ? 1 : 0, nf, a->n > 1 ? a->best[1].hybrid_mf : 0,
               a->n > 2 ? a->best[2].hybrid_mf : 0);
    }
    *iso_fent = false;
    if (v.status == SM_VERDICT_IDENTIFIED) {
        t->identified++;
        return "identified";
    }
    if (v.status == SM_VERDICT_ISOMERS) {
        bool all = true;
        for (size_t g = 0; g < v.n_group; g++)
            all &= sm_library_fentanyl_class(lib, h[v.group[g]].index);
        *iso_fent = all;
        all ? t->iso_fentanyl++ : t->isomers_other++;
        return "isomers";
    }
    if (v.status == SM_VERDICT_ANALOGUE) {
        t->analogue++;
        return "analogue";
    }
    t->no_match++;
    return "no_match";
}

static void report(const char *name, const tally *t)
{
    printf("%-22s queries %5zu  analogue %4zu  isomers(fentanyl-only) %4zu  identified %4zu  "
           "isomers(other) %4zu  no_match %4zu  analysis %.2f ms/query\n",
           name, t->queries, t->analogue, t->iso_fentanyl, t->identified, t->isomers_other,
           t->no_match, t->queries ? 1e3 * t->seconds / (double)t->queries : 0);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: analogue_eval LIB.h5 MB_OUT.msp [-v]\n");
        return 2;
    }
    verbose = argc > 3 && strcmp(argv[3], "-v") == 0;
    dump = argc > 3 && strcmp(argv[3], "-d") == 0;
    sm_analogue_defaults(&aparams);
    const char *env;
    if ((env = getenv("ANALOGUE_MIN_HYBRID")) != NULL)
        aparams.min_hybrid = atof(env);
    if ((env = getenv("ANALOGUE_IDENTITY_MARGIN")) != NULL)
        aparams.identity_margin = atof(env);
    if ((env = getenv("ANALOGUE_MIN_SHARE")) != NULL)
        aparams.min_class_share = atof(env);
    use_mw = (env = getenv("ANALOGUE_USE_MW")) != NULL && strcmp(env, "1") == 0;

    sm_error e = {0};
    sm_library *lib = NULL;
    if (sm_library_open_ex(argv[1], SM_OPEN_SEARCH_ONLY, &lib, &e) != SM_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], e.message);
        return 1;
    }
    if (!sm_library_has_controls(lib, NULL, NULL)) {
        fprintf(stderr, "%s: no control table; the fentanyl class is unknown\n", argv[1]);
        return 1;
    }
    size_t n = sm_library_size(lib);
    char (*key)[KEY] = calloc(n ? n : 1, KEY);
    uint8_t *skip = calloc(n ? n : 1, 1), *done = calloc(n ? n : 1, 1);
    for (size_t i = 0; i < n; i++)
        sm_compound_key(sm_library_field(lib, i, SM_FIELD_INCHIKEY),
                        sm_library_field(lib, i, SM_FIELD_NAME),
                        sm_library_field(lib, i, SM_FIELD_FORMULA), key[i], KEY);
    sm_searcher *s = NULL;
    sm_shifter *sh = NULL;
    if (sm_searcher_new(lib, &s, &e) != SM_OK || sm_shifter_new(&sh, &e) != SM_OK)
        return 1;
    sm_searcher_set_skip(s, skip);

    tally fen = {0}, other = {0}, mb = {0};
    size_t fen_compounds = 0;
    size_t by_class[3][2] = {{0}}; /* queries, analogue or fentanyl-only isomers */
    sm_hit h[SM_ANALOGUE_HITS];
    size_t nh;
    for (size_t i = 0; i < n; i++) {
        /* the compound's spectra: left out together, each searched */
        const char *cls = sm_library_control(lib, i, SM_CONTROL_CLASS);
        bool fentanyl = strncmp(cls, "fentanyl-", 9) == 0;
        if (!fentanyl && strcmp(cls, "internal-standard") == 0)
            continue; /* labelled standards are references, not seized compounds */
        for (size_t j = 0; j < n; j++)
            skip[j] = strcmp(key[i], key[j]) == 0;
        if (fentanyl && !done[i]) {
            fen_compounds++;
            for (size_t j = 0; j < n; j++)
                done[j] |= skip[j];
        }
        sm_nominal q = sm_library_nominal(lib, i, &lib_buf);
        if (sm_search_nominal(s, q, SM_ANALOGUE_HITS, SIZE_MAX, h, &nh, &e) != SM_OK)
            return 1;
        sm_analogue a;
        bool iso_fent;
        tally *t = fentanyl ? &fen : &other;
        aparams.query_mw = use_mw ? sm_library_mw(lib, i) : NAN;
        current_set = fentanyl ? "fen" : "other";
        const char *verdict = judge(lib, sh, q, h, nh, &a, t, &iso_fent);
        if (fentanyl) { /* by the table's class: analogue, metabolite, precursor */
            int c = strcmp(cls, "fentanyl-analogue") == 0    ? 0
                    : strcmp(cls, "fentanyl-metabolite") == 0 ? 1
                                                              : 2;
            by_class[c][0]++;
            by_class[c][1] += strcmp(verdict, "analogue") == 0 || iso_fent;
        }
        if (!fentanyl && strcmp(verdict, "analogue") == 0)
            printf("false alarm (SWGDRUG): %s -> %s (hybrid %.1f, dM %d, share %.2f)\n",
                   sm_library_field(lib, i, SM_FIELD_NAME),
                   sm_library_field(lib, h[a.best[0].hit].index, SM_FIELD_NAME),
                   a.best[0].hybrid_mf, a.best[0].delta_m, a.class_share);
        if (!fentanyl || a.n == 0)
            continue;
        /* Is the closest analogue's MW difference a listed substitution, and did the
         * analysis find that shift? */
        size_t c = h[a.best[0].hit].index;
        double qmw = sm_library_mw(lib, i), cmw = sm_library_mw(lib, c);
        int true_dm = isfinite(qmw) && isfinite(cmw) ? (int)lround(qmw - cmw) : 9999;
        const char *why[4];
        bool explainable = true_dm != 0 && true_dm != 9999 && sm_shift_explain(true_dm, why, 4) > 0;
        if (explainable && strcmp(verdict, "analogue") == 0) {
            fen.explainable++;
            fen.explained += a.best[0].delta_m == true_dm;
        }
        if (verbose)
            printf("%-10s %-45.45s -> %-40.40s hybrid %5.1f dM %4d (true %4d) share %.2f %s\n",
                   verdict, sm_library_field(lib, i, SM_FIELD_NAME),
                   sm_library_field(lib, c, SM_FIELD_NAME), a.best[0].hybrid_mf,
                   a.best[0].delta_m, true_dm == 9999 ? 0 : true_dm, a.class_share,
                   a.best[0].part);
    }
    sm_searcher_set_skip(s, NULL);

    sm_reader *r = NULL;
    if (sm_reader_open(argv[2], &r, &e) != SM_OK) {
        fprintf(stderr, "%s: %s\n", argv[2], e.message);
        return 1;
    }
    sm_spectrum sp;
    sm_spectrum_init(&sp);
    static uint16_t mz[SM_MAX_NOMINAL_MZ + 1], in[SM_MAX_NOMINAL_MZ + 1];
    sm_status st;
    while ((st = sm_reader_next(r, &sp, &e)) != SM_END) {
        size_t qn = 0;
        if (st != SM_OK ||
            sm_preprocess(sp.peaks, sp.n_peaks, mz, in, SM_MAX_NOMINAL_MZ + 1, &qn, &e) != SM_OK)
            continue;
        sm_nominal q = {qn, mz, in};
        if (sm_search_nominal(s, q, SM_ANALOGUE_HITS, SIZE_MAX, h, &nh, &e) != SM_OK)
            return 1;
        sm_analogue a;
        bool iso_fent;
        current_set = "mb";
        aparams.query_mw = use_mw ? sp.mw : NAN;
        const char *verdict = judge(lib, sh, q, h, nh, &a, &mb, &iso_fent);
        if (strcmp(verdict, "analogue") == 0)
            printf("false alarm (MassBank): %s -> %s (hybrid %.1f, dM %d, share %.2f)\n",
                   sp.field[SM_FIELD_NAME] ? sp.field[SM_FIELD_NAME] : "?",
                   sm_library_field(lib, h[a.best[0].hit].index, SM_FIELD_NAME),
                   a.best[0].hybrid_mf, a.best[0].delta_m, a.class_share);
    }
    sm_spectrum_clear(&sp);
    sm_reader_close(r);

    printf("thresholds: hybrid MF >= %.0f, fentanyl-class share >= %.2f\n", aparams.min_hybrid,
           aparams.min_class_share);
    printf("fentanyl-class compounds left out: %zu\n", fen_compounds);
    report("fentanyl-class LOCO", &fen);
    report("other SWGDRUG LOCO", &other);
    report("MassBank not in lib", &mb);
    printf("fentanyl-class: analogue or fentanyl-only isomers: %zu of %zu (%.1f%%)\n",
           fen.analogue + fen.iso_fentanyl, fen.queries,
           fen.queries ? 100.0 * (double)(fen.analogue + fen.iso_fentanyl) / (double)fen.queries
                       : 0);
    static const char *const class_name[3] = {"fentanyl-analogue", "fentanyl-metabolite",
                                              "fentanyl-precursor"};
    for (int c = 0; c < 3; c++)
        printf("  %-20s %zu of %zu (%.1f%%)\n", class_name[c], by_class[c][1], by_class[c][0],
               by_class[c][0] ? 100.0 * (double)by_class[c][1] / (double)by_class[c][0] : 0);
    printf("delta M to the closest analogue, where it is one listed substitution: found %zu of "
           "%zu (%.1f%%)\n",
           fen.explained, fen.explainable,
           fen.explainable ? 100.0 * (double)fen.explained / (double)fen.explainable : 0);
    printf("false alarms: other SWGDRUG %zu of %zu (%.2f%%), MassBank %zu of %zu (%.2f%%)\n",
           other.analogue, other.queries,
           other.queries ? 100.0 * (double)other.analogue / (double)other.queries : 0,
           mb.analogue, mb.queries, mb.queries ? 100.0 * (double)mb.analogue / (double)mb.queries : 0);
    free(key);
    free(skip);
    free(done);
    sm_shifter_free(sh);
    sm_searcher_free(s);
    sm_library_close(lib);
    return 0;
}
