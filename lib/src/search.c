/* search.c — top-k identity search of one query against a loaded library. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sm_internal.h"

struct sm_searcher {
    const sm_library *lib;
    uint16_t qmz[SM_MAX_NOMINAL_MZ + 1];
    uint16_t qin[SM_MAX_NOMINAL_MZ + 1];
};

sm_status sm_searcher_new(const sm_library *lib, sm_searcher **out, sm_error *err)
{
    *out = NULL;
    if (lib == NULL)
        return sm_seterr_(err, SM_ERR_ARG, NULL, 0, "no library given");
    sm_searcher *s = calloc(1, sizeof *s);
    if (s == NULL)
        return sm_seterr_(err, SM_ERR_NOMEM, NULL, 0, "out of memory");
    s->lib = lib;
    *out = s;
    return SM_OK;
}

void sm_searcher_free(sm_searcher *s)
{
    free(s);
}

/* Hit a ranks before hit b: higher MF first, then the lower library index, so the
 * order is total and the same for every kernel and thread count. */
static bool ranks_before(double mf_a, size_t ia, double mf_b, size_t ib)
{
    if (mf_a != mf_b)
        return mf_a > mf_b;
    return ia < ib;
}

sm_status sm_search_nominal(sm_searcher *s, sm_nominal q, size_t k, size_t exclude,
                            sm_hit *hits, size_t *n_hits, sm_error *err)
{
    *n_hits = 0;
    if (k == 0)
        return SM_OK;
    if (hits == NULL)
        return sm_seterr_(err, SM_ERR_ARG, NULL, 0, "no hit buffer");
    const sm_library *lib = s->lib;
    size_t n = 0;
    for (size_t i = 0; i < lib->n; i++) {
        if (i == exclude)
            continue;
        double mf = sm_match_factor(q, sm_library_nominal(lib, i), 0);
        if (n == k && !ranks_before(mf, i, hits[n - 1].mf, hits[n - 1].index))
            continue;
        /* insertion into the sorted list of the best k so far */
        size_t pos = n < k ? n : k - 1;
        while (pos > 0 && ranks_before(mf, i, hits[pos - 1].mf, hits[pos - 1].index)) {
            hits[pos] = hits[pos - 1];
            pos--;
        }
        hits[pos].index = i;
        hits[pos].mf = mf;
        if (n < k)
            n++;
    }
    for (size_t j = 0; j < n; j++)
        hits[j].rmf = sm_match_factor(q, sm_library_nominal(lib, hits[j].index), 1);
    *n_hits = n;
    return SM_OK;
}

sm_status sm_search(sm_searcher *s, const sm_spectrum *query, size_t k, sm_hit *hits,
                    size_t *n_hits, sm_error *err)
{
    *n_hits = 0;
    size_t n = 0;
    sm_status st = sm_preprocess(query->peaks, query->n_peaks, s->qmz, s->qin,
                                 SM_MAX_NOMINAL_MZ + 1, &n, err);
    if (st != SM_OK) {
        if (err)
            err->line = query->line;
        return st;
    }
    sm_nominal q = {n, s->qmz, s->qin};
    return sm_search_nominal(s, q, k, SIZE_MAX, hits, n_hits, err);
}
