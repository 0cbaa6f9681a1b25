/* judge_sets.c — the query sets with known answers that the verdict rules and the
 * confidence are tuned and checked on, searched once, written as TSV (one line per
 * query and hit) for analysis:
 *
 *   judge_sets LIB.h5 MB_IN.msp MB_OUT.msp > sets.tsv
 *
 * Sets: "swg-rep" (each SWGDRUG spectrum of a compound with two or more spectra,
 * searched without itself), "swg-lco" (every SWGDRUG spectrum, searched with all
 * spectra of its compound left out: the answer is not in the library), "mb-in",
 * "mb-out" (MassBank in and not in the library). One line per query: set, query,
 * truth key, truth in library (0/1), verdict, reason number, best hit right (0/1),
 * best hit or its isomer group right (0/1), compounds named, the six confidence
 * features of sm_verdict (MF, RMF, gap, ions above MW, isomer group, same-compound
 * hits), the confidence, the best hit's name. bench/calibrate.py reads it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "specmatch/specmatch.h"

/* A library spectrum's peaks, unpacked (used by one thread, one spectrum at a time). */
static sm_nominal_buf lib_buf;

#define K 10
#define KEY 64

typedef struct {
    size_t n;
    char (*key)[KEY];
} keys;

static void lib_keys(const sm_library *lib, keys *out)
{
    out->n = sm_library_size(lib);
    out->key = calloc(out->n ? out->n : 1, KEY);
    for (size_t i = 0; i < out->n; i++)
        sm_compound_key(sm_library_field(lib, i, SM_FIELD_INCHIKEY),
                        sm_library_field(lib, i, SM_FIELD_NAME),
                        sm_library_field(lib, i, SM_FIELD_FORMULA), out->key[i], KEY);
}

/* Verdict rules: the defaults, or JUDGE_MIN_MF, JUDGE_ISOMER_MARGIN and
 * JUDGE_OTHER_MARGIN from the environment (to scan the thresholds). */
static sm_judge_params params;

static void params_from_env(void)
{
    sm_judge_defaults(&params);
    const char *v;
    if ((v = getenv("JUDGE_MIN_MF")) != NULL)
        params.min_mf = atof(v);
    if ((v = getenv("JUDGE_ISOMER_MARGIN")) != NULL)
        params.isomer_margin = atof(v);
    if ((v = getenv("JUDGE_OTHER_MARGIN")) != NULL)
        params.other_margin = atof(v);
}

static void print_hits(const char *set, size_t qi, const char *truth, int in_lib,
                       const sm_library *lib, const keys *lk, sm_nominal q, const sm_hit *h,
                       size_t nh)
{
    sm_verdict v;
    sm_error e = {0};
    if (sm_judge(lib, q, h, nh, &params, &v, &e) != SM_OK) {
        fprintf(stderr, "judge: %s\n", e.message);
        exit(1);
    }
    /* Right: the group holds the truth (for no_match, the best hit alone is looked at,
     * as the confidence is about it and its isomers within the margin). */
    const sm_judge_params p = params;
    int best_right = nh > 0 && strcmp(lk->key[h[0].index], truth) == 0;
    int group_right = best_right;
    for (size_t j = 1; j < nh; j++)
        if (strcmp(lk->key[h[j].index], truth) == 0 && h[j].mf >= h[0].mf - p.isomer_margin &&
            v.features[4] > 0) {
            double a = sm_library_mw(lib, h[0].index), b = sm_library_mw(lib, h[j].index);
            if (a == b || strcmp(sm_library_field(lib, h[0].index, SM_FIELD_FORMULA),
                                 sm_library_field(lib, h[j].index, SM_FIELD_FORMULA)) == 0)
                group_right = 1;
        }
    printf("%s\t%zu\t%s\t%d\t%s\t%d\t%d\t%d\t%zu\t%.4f\t%.4f\t%.4f\t%.0f\t%.0f\t%.0f\t%.6f\t%s\n",
           set, qi, truth, in_lib, sm_verdict_status_name(v.status), (int)v.reason, best_right,
           group_right, v.n_group, v.features[0], v.features[1], v.features[2], v.features[3],
           v.features[4], v.features[5], v.confidence,
           nh > 0 ? sm_library_field(lib, h[0].index, SM_FIELD_NAME) : "");
}

static int in_library(const keys *lk, const char *key)
{
    for (size_t i = 0; i < lk->n; i++)
        if (strcmp(lk->key[i], key) == 0)
            return 1;
    return 0;
}

static int external(const char *set, const char *path, const sm_library *lib, const keys *lk,
                    sm_searcher *s)
{
    sm_reader *r = NULL;
    sm_error e = {0};
    if (sm_reader_open(path, &r, &e) != SM_OK) {
        fprintf(stderr, "%s: %s\n", path, e.message);
        return 1;
    }
    sm_spectrum sp;
    sm_spectrum_init(&sp);
    sm_hit h[K];
    size_t nh, qi = 0;
    sm_status st;
    while ((st = sm_reader_next(r, &sp, &e)) != SM_END) {
        if (st == SM_ERR_IO)
            break;
        if (st != SM_OK) {
            qi++;
            continue;
        }
        char key[KEY];
        sm_compound_key(sp.field[SM_FIELD_INCHIKEY], sp.field[SM_FIELD_NAME],
                        sp.field[SM_FIELD_FORMULA], key, sizeof key);
        static uint16_t qmz[SM_MAX_NOMINAL_MZ + 1], qin[SM_MAX_NOMINAL_MZ + 1];
        size_t qnn = 0;
        nh = 0;
        if (sm_preprocess(sp.peaks, sp.n_peaks, qmz, qin, SM_MAX_NOMINAL_MZ + 1, &qnn, &e) ==
            SM_OK) {
            if (sm_search_nominal(s, (sm_nominal){qnn, qmz, qin}, K, SIZE_MAX, h, &nh, &e) != SM_OK)
                nh = 0;
        }
        sm_nominal qn = {qnn, qmz, qin};
        print_hits(set, qi, key, in_library(lk, key), lib, lk, qn, h, nh);
        qi++;
    }
    sm_spectrum_clear(&sp);
    sm_reader_close(r);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: judge_sets LIB.h5 MB_IN.msp MB_OUT.msp\n");
        return 2;
    }
    params_from_env();
    sm_error e = {0};
    sm_library *lib = NULL;
    if (sm_library_open_ex(argv[1], SM_OPEN_SEARCH_ONLY, &lib, &e) != SM_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], e.message);
        return 1;
    }
    keys lk;
    lib_keys(lib, &lk);
    size_t n = lk.n;
    sm_searcher *s = NULL;
    if (sm_searcher_new(lib, &s, &e) != SM_OK)
        return 1;
    uint8_t *skip = calloc(n ? n : 1, 1);
    size_t *count = calloc(n ? n : 1, sizeof *count);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            count[i] += strcmp(lk.key[i], lk.key[j]) == 0;
    sm_hit h[K];
    size_t nh;
    for (size_t i = 0; i < n; i++) {
        if (count[i] < 2)
            continue;
        sm_search_nominal(s, sm_library_nominal(lib, i, &lib_buf), K, i, h, &nh, &e);
        print_hits("swg-rep", i, lk.key[i], 1, lib, &lk, sm_library_nominal(lib, i, &lib_buf), h, nh);
    }
    sm_searcher_set_skip(s, skip);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++)
            skip[j] = strcmp(lk.key[i], lk.key[j]) == 0;
        sm_search_nominal(s, sm_library_nominal(lib, i, &lib_buf), K, SIZE_MAX, h, &nh, &e);
        print_hits("swg-lco", i, lk.key[i], 0, lib, &lk, sm_library_nominal(lib, i, &lib_buf), h, nh);
    }
    sm_searcher_set_skip(s, NULL);
    int rc = external("mb-in", argv[2], lib, &lk, s) | external("mb-out", argv[3], lib, &lk, s);
    free(skip);
    free(count);
    free(lk.key);
    sm_searcher_free(s);
    sm_library_close(lib);
    return rc;
}
