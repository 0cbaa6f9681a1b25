/* verdict.c — from ranked hits to what may be concluded: identified, isomers or no
 * match, with a calibrated confidence. The rules and how their numbers were chosen
 * are in docs/VERDICTS.md; bench/calibrate.py refits the confidence model. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sm_internal.h"

#define KEY_CAP 64

const char *sm_verdict_status_name(sm_verdict_status s)
{
    switch (s) {
    case SM_VERDICT_NO_MATCH: return "no_match";
    case SM_VERDICT_IDENTIFIED: return "identified";
    case SM_VERDICT_ISOMERS: return "isomers";
    case SM_VERDICT_ANALOGUE: return "analogue";
    }
    return "";
}

const char *sm_verdict_reason_text(sm_verdict_reason r)
{
    switch (r) {
    case SM_REASON_NONE: return "";
    case SM_REASON_NO_HITS: return "the library gave no hit";
    case SM_REASON_LOW_MF: return "no hit reaches the identification threshold";
    case SM_REASON_IONS_ABOVE_MW:
        return "the spectrum has ions above the molecular ion of the best hit, "
               "so it is not that compound alone";
    case SM_REASON_UNRESOLVED:
        return "compounds of different molecular weight match about equally well";
    case SM_REASON_SHIFTED_RELATIVE:
        return "a fentanyl-class relative with a mass shift explains the spectrum clearly "
               "better than the best hit does, so it is not that compound";
    }
    return "";
}

const char *sm_verdict_caution(void)
{
    return "A mass-spectral library match is presumptive: confirm it with a second, "
           "independent technique (SWGDRUG recommendations).";
}

void sm_judge_defaults(sm_judge_params *p)
{
    p->min_mf = 850;
    p->isomer_margin = 60;
    p->other_margin = 20;
    p->min_above = 20;
}

/* Atoms of an element in a Hill formula such as "C17H13ClN4" (0 when absent). */
static unsigned atoms_of(const char *formula, const char *el)
{
    unsigned total = 0;
    size_t len = strlen(el);
    for (const char *p = formula; *p;) {
        if (!isupper((unsigned char)*p)) {
            p++;
            continue;
        }
        const char *sym = p++;
        while (islower((unsigned char)*p))
            p++;
        size_t sym_len = (size_t)(p - sym);
        unsigned count = 0;
        bool digits = false;
        while (isdigit((unsigned char)*p)) {
            if (count < 100000)
                count = count * 10 + (unsigned)(*p - '0');
            digits = true;
            p++;
        }
        if (sym_len == len && strncmp(sym, el, len) == 0)
            total += digits ? count : 1;
    }
    return total;
}

/* How far above the nominal molecular weight the molecular ion's isotope peaks may
 * reach with some intensity: M+1 and M+2 for any organic compound, two more per atom
 * of Cl, Br, S or Si (their heavy isotopes are 2 u heavier and abundant). */
static unsigned isotope_allowance(const char *formula)
{
    unsigned n = atoms_of(formula, "Cl") + atoms_of(formula, "Br") + atoms_of(formula, "S") +
                 atoms_of(formula, "Si");
    if (n > 20)
        n = 20;
    return 2 + 2 * n;
}

static void key_of(const sm_library *lib, size_t i, char out[KEY_CAP])
{
    sm_compound_key(sm_library_field(lib, i, SM_FIELD_INCHIKEY),
                    sm_library_field(lib, i, SM_FIELD_NAME),
                    sm_library_field(lib, i, SM_FIELD_FORMULA), out, KEY_CAP);
}

static bool same_mass(const sm_library *lib, size_t a, size_t b)
{
    double ma = sm_library_mw(lib, a), mb = sm_library_mw(lib, b);
    if (isfinite(ma) && isfinite(mb) && ma > 0 && lround(ma) == lround(mb))
        return true;
    const char *fa = sm_library_field(lib, a, SM_FIELD_FORMULA);
    const char *fb = sm_library_field(lib, b, SM_FIELD_FORMULA);
    return *fa != '\0' && strcmp(fa, fb) == 0;
}

/* Logistic model of P(right | features), fitted by bench/calibrate.py on the four
 * sets of docs/VERDICTS.md with each set given the same total weight. Inputs:
 * m = MF / 1000, r = RMF / 1000, g = min(gap, 300) / 100 (gap: MF of the best minus
 * the MF of the best compound outside the group, or the best MF itself when there is
 * none), a = ions above the molecular weight, i = isomer group, s = other spectra of
 * the best compound within 100 MF of it (at most 3) / 3. */
static const double coef[13] = {
    -5.2360, 5.5988, 1.4261, 3.8847, 0.9129, -1.5443, 1.9574,
    2.2269, 0.1044, -2.0074, -2.3246, -1.2110, 0.0495,
};

static double confidence(const double f[6])
{
    double m = f[0] / 1000, r = f[1] / 1000, g = fmin(f[2], 300) / 100;
    double x[13] = {1,
                    m,
                    fmax(0, m - 0.7),
                    fmax(0, m - 0.8),
                    fmax(0, m - 0.9),
                    r,
                    fmax(0, r - 0.8),
                    g,
                    fmax(0, g - 0.5),
                    fmax(0, g - 1.0),
                    f[3],
                    f[4],
                    f[5] / 3};
    double z = 0;
    for (int j = 0; j < 13; j++)
        z += coef[j] * x[j];
    if (z > 30)
        z = 30;
    if (z < -30)
        z = -30;
    return 1 / (1 + exp(-z));
}

sm_status sm_judge(const sm_library *lib, sm_nominal q, const sm_hit *hits, size_t n_hits,
                   const sm_judge_params *params, sm_verdict *out, sm_error *err)
{
    if (out == NULL || lib == NULL || (hits == NULL && n_hits > 0))
        return sm_seterr_(err, SM_ERR_ARG, NULL, 0, "sm_judge: missing argument");
    sm_judge_params p;
    if (params)
        p = *params;
    else
        sm_judge_defaults(&p);
    memset(out, 0, sizeof *out);
    out->unresolved = "";
    out->best = SIZE_MAX;
    out->competitor = SIZE_MAX;
    out->status = SM_VERDICT_NO_MATCH;
    if (n_hits == 0) {
        out->reason = SM_REASON_NO_HITS;
        return SM_OK;
    }
    for (size_t j = 0; j < n_hits; j++)
        if (hits[j].index >= sm_library_size(lib))
            return sm_seterr_(err, SM_ERR_ARG, NULL, 0, "sm_judge: hit %zu is not in the library",
                              j);

    /* Distinct compounds in rank order: the group (the best's mass, within the isomer
     * margin), the first compound outside it, and whether another mass is too close. */
    char keys[SM_VERDICT_MAX_GROUP + 1][KEY_CAP];
    char seen[SM_JUDGE_HITS * 4][KEY_CAP];
    size_t n_seen = 0;
    const sm_hit *b = &hits[0];
    out->best = 0;
    out->group[0] = 0;
    out->n_group = 1;
    key_of(lib, b->index, keys[0]);
    bool close_other = false;
    unsigned same = 0;
    for (size_t j = 1; j < n_hits && n_seen < sizeof seen / sizeof seen[0]; j++) {
        char k[KEY_CAP];
        key_of(lib, hits[j].index, k);
        if (strcmp(k, keys[0]) == 0) {
            same += hits[j].mf >= b->mf - 100;
            continue;
        }
        bool known = false;
        for (size_t t = 0; t < n_seen && !known; t++)
            known = strcmp(seen[t], k) == 0;
        if (known)
            continue;
        memcpy(seen[n_seen++], k, KEY_CAP);
        bool iso = same_mass(lib, b->index, hits[j].index);
        if (iso && hits[j].mf >= b->mf - p.isomer_margin) {
            if (out->n_group < SM_VERDICT_MAX_GROUP)
                out->group[out->n_group++] = j;
            continue;
        }
        if (out->competitor == SIZE_MAX)
            out->competitor = j;
        if (!iso && hits[j].mf >= b->mf - p.other_margin)
            close_other = true;
    }

    /* Ions above the molecular weight of the best hit (plus its isotopes). */
    double mw = sm_library_mw(lib, b->index);
    if (isfinite(mw) && mw > 0) {
        double limit = floor(mw + 0.5) +
                       isotope_allowance(sm_library_field(lib, b->index, SM_FIELD_FORMULA));
        for (size_t j = q.n; j-- > 0;) {
            if (q.mz[j] <= limit)
                break;
            if (q.intensity[j] >= p.min_above) {
                out->ion_above = q.mz[j];
                break;
            }
        }
    }

    double gap = out->competitor != SIZE_MAX ? b->mf - hits[out->competitor].mf : b->mf;
    out->features[0] = b->mf;
    out->features[1] = b->rmf;
    out->features[2] = gap;
    out->features[3] = out->ion_above ? 1 : 0;
    out->features[4] = out->n_group > 1 ? 1 : 0;
    out->features[5] = same > 3 ? 3 : same;
    out->confidence = confidence(out->features);

    if (b->mf < p.min_mf)
        out->reason = SM_REASON_LOW_MF;
    else if (out->ion_above)
        out->reason = SM_REASON_IONS_ABOVE_MW;
    else if (close_other)
        out->reason = SM_REASON_UNRESOLVED;
    else {
        /* A fentanyl analogue whose isomers EI-MS does not tell apart is named at the
         * isomer level even when the library holds none of those isomers. */
        out->unresolved = sm_library_unresolved_isomers(lib, b->index);
        out->status = out->n_group > 1 || *out->unresolved ? SM_VERDICT_ISOMERS
                                                           : SM_VERDICT_IDENTIFIED;
        out->reason = SM_REASON_NONE;
        return SM_OK;
    }
    out->n_group = 0;
    return SM_OK;
}
