/* analogue.c — a suspected fentanyl analogue that no library holds: hybrid scores
 * against the best identity hits, the shift that relates the unknown to its closest
 * known relatives, what that shift may stand for, and the class evidence. Rules and
 * their numbers: docs/ANALOGUES.md. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sm_internal.h"

/* ------------------------------------------------------------------ */
/* Fentanyl class                                                      */

static bool contains_ci(const char *s, const char *needle)
{
    size_t n = strlen(needle);
    for (; *s; s++) {
        size_t k = 0;
        while (k < n && s[k] && tolower((unsigned char)s[k]) == needle[k])
            k++;
        if (k == n)
            return true;
    }
    return false;
}

bool sm_library_fentanyl_class(const sm_library *lib, size_t i)
{
    const char *cls = sm_library_control(lib, i, SM_CONTROL_CLASS);
    if (strncmp(cls, "fentanyl-", 9) == 0)
        return true;
    if (strcmp(cls, "internal-standard") != 0)
        return false;
    const char *name = sm_library_field(lib, i, SM_FIELD_NAME);
    return contains_ci(name, "fentan") || contains_ci(name, "anpp") ||
           contains_ci(name, "anilino-n-phenethylpiperidine");
}

/* ------------------------------------------------------------------ */
/* Isomers that EI spectra do not tell apart                           */

/* Fentanyl analogues that differ only in where a ring substituent sits (ortho, meta,
 * para; 2- or 3-furanyl) or in how a four-carbon-or-longer acyl chain is branched,
 * unsaturated or closed into a ring (butyryl / isobutyryl; crotonyl / cyclopropyl)
 * give practically the same EI spectrum: the fragments that carry the difference
 * are the same ions. Which of those a compound has is read from its name, the way
 * the seized-drug libraries write them (SWGDRUG's "para-Fluoro ...", "2'-Fluoro ...",
 * "Isobutyryl ...") and the systematic forms ("N-(4-fluorophenyl)-...butanamide"). */
static const char *const RING_ISOMERS =
    "ring-position isomers (the same substituent elsewhere on the ring)";
static const char *const ACYL_ISOMERS =
    "acyl-group isomers (branched, unsaturated or cyclic acyl groups of one formula)";

/* Substituents whose ring position a numeric locant states. */
static const char *const ring_substituents[] = {
    "fluoro", "chloro", "bromo", "iodo", "methoxy", "methylphen", "furan", "thiophen", "thienyl",
};

/* Acyl groups (or their systematic amide names) with isomers of the same formula. */
static const char *const acyl_words[] = {
    "butyr", "valer", "pivalo", "croton", "senecio", "methacryl", "cycloprop", "cyclobut",
    "cyclopent", "cyclohex", "hexanoyl", "pentanoyl", "heptanoyl", "furan", "thiophen",
    "butanamide", "butenamide", "pentanamide", "pentenamide", "hexanamide", "carboxamide",
};

static bool starts_with_ci(const char *s, const char *word)
{
    for (; *word; s++, word++)
        if (tolower((unsigned char)*s) != *word)
            return false;
    return true;
}

/* Whether the name states a ring position: the words ortho, meta, para (alone or
 * before '-'), o-/m-/p- starting a word, a primed locant (2'-, 3'-, 4'-), or a plain
 * locant 2- to 6- before a ring substituent — not after cis-/trans-, where the
 * locant is the piperidine's (cis-3-methylfentanyl). */
static bool ring_position_named(const char *name)
{
    for (const char *p = name; *p; p++) {
        bool word_start = p == name || !isalnum((unsigned char)p[-1]);
        if (!word_start)
            continue;
        static const char *const pos_words[] = {"ortho", "meta", "para"};
        for (size_t w = 0; w < 3; w++) {
            size_t len = strlen(pos_words[w]);
            if (starts_with_ci(p, pos_words[w]) && (p[len] == '-' || p[len] == ' '))
                return true;
        }
        char c = (char)tolower((unsigned char)*p);
        if ((c == 'o' || c == 'm' || c == 'p') && p[1] == '-' && isalpha((unsigned char)p[2]))
            return true;
        if (*p < '2' || *p > '6' || (p > name && p[-1] == ','))
            continue;
        if (p[1] == '\'' && p[2] == '-')
            return true;
        if (p[1] != '-')
            continue;
        if ((p - name >= 4 && starts_with_ci(p - 4, "cis-")) ||
            (p - name >= 6 && starts_with_ci(p - 6, "trans-")))
            continue;
        for (size_t k = 0; k < sizeof ring_substituents / sizeof ring_substituents[0]; k++)
            if (starts_with_ci(p + 2, ring_substituents[k]))
                return true;
    }
    return false;
}

/* A ring named in a word that goes on to "ethyl" (furanylethyl, thienylethyl) is the
 * phenethyl part's ring, not the acyl group. */
static bool ethyl_linked(const char *word)
{
    const char *end = word;
    while (isalpha((unsigned char)*end))
        end++;
    for (const char *p = word; p + 5 <= end; p++)
        if (starts_with_ci(p, "ethyl"))
            return true;
    return false;
}

const char *sm_library_unresolved_isomers(const sm_library *lib, size_t i)
{
    if (lib == NULL || i >= sm_library_size(lib) || !sm_library_fentanyl_class(lib, i))
        return "";
    const char *name = sm_library_field(lib, i, SM_FIELD_NAME);
    if (ring_position_named(name))
        return RING_ISOMERS;
    for (const char *p = name; *p; p++)
        for (size_t k = 0; k < sizeof acyl_words / sizeof acyl_words[0]; k++)
            if (starts_with_ci(p, acyl_words[k]) && !ethyl_linked(p))
                return ACYL_ISOMERS;
    return "";
}

/* ------------------------------------------------------------------ */
/* What a shift may stand for                                          */

typedef struct subst {
    int delta;
    const char *what;
} subst;

/* Substitutions that relate known fentanyl analogues (and drug analogues in general)
 * to each other, by their nominal mass change. Several may share a shift. */
static const subst substitutions[] = {
    {-34, "H for Cl (a chloro substituent less)"},
    {-30, "H for OCH3 (a methoxy group less)"},
    {-28, "C2H4 fewer (two carbons less in a chain), or CO less"},
    {-18, "H for F (a fluoro substituent less)"},
    {-16, "O fewer (a hydroxy group less, or an oxygen less in a chain)"},
    {-14, "CH2 fewer (one carbon less in a chain, or a methyl group less)"},
    {-12, "C fewer (a ring opened: cyclopropanecarbonyl to propionyl)"},
    {-10, "benzene ring to furan (C6H4 to C4H2O)"},
    {-2, "H2 fewer (one more double bond or ring: propionyl to acryloyl)"},
    {2, "H2 more (a double bond saturated: acryloyl to propionyl)"},
    {6, "benzene ring to thiophene (C6H4 to C4H2S)"},
    {10, "furan to benzene ring (C4H2O to C6H4)"},
    {12, "C more (a ring closed: propionyl to cyclopropanecarbonyl, acetyl to acryloyl)"},
    {14, "CH2 more (one carbon more in a chain, or a methyl group on a ring)"},
    {16, "O more (a hydroxy group, or an oxygen in the acyl chain)"},
    {18, "F for H (a fluoro substituent)"},
    {28, "C2H4 more (two carbons more in a chain), or CO more"},
    {30, "OCH3 for H (a methoxy group; also propionyl to methoxyacetyl)"},
    {32, "F for H with CH2 more"},
    {34, "Cl for H (a chloro substituent, 35Cl)"},
    {42, "C2H2O more (an acetyl group)"},
    {44, "CO2 more, or a methoxy group with CH2 more"},
    {48, "Cl for H with CH2 more"},
    {76, "C6H4 more (a phenyl group for H)"},
    {78, "Br for H (a bromo substituent, 79Br)"},
};

size_t sm_shift_explain(int delta_m, const char **out, size_t max_out)
{
    size_t n = 0;
    for (size_t j = 0; j < sizeof substitutions / sizeof substitutions[0] && n < max_out; j++)
        if (substitutions[j].delta == delta_m)
            out[n++] = substitutions[j].what;
    return n;
}

/* ------------------------------------------------------------------ */
/* Analysis                                                            */

void sm_analogue_defaults(sm_analogue_params *p)
{
    p->min_hybrid = 650;
    p->min_class_share = 0.3;
    p->max_shift = 150;
    p->identity_margin = 35;
    p->query_mw = NAN;
}

/* Which part of a fentanyl molecule the shifted ions point to, from the library
 * spectrum's ions at the masses of the core fragments of fentanyl: 105 (phenethyl
 * cation), 188/189 (phenethyl-tetrahydropyridinium), 146 (the anilide ring with the
 * piperidine's N-C). */
static const char *fentanyl_part(sm_nominal l, const uint8_t *shifted)
{
    bool s105 = false, s188 = false, s146 = false, p188 = false, p146 = false, high = false;
    for (size_t j = 0; j < l.n; j++) {
        unsigned m = l.mz[j];
        bool big = l.intensity[j] >= 50;
        if (m == 105)
            s105 = shifted[j] && big;
        else if (m == 188 || m == 189) {
            s188 |= shifted[j] && big;
            p188 |= big && !shifted[j];
        } else if (m == 146) {
            s146 = shifted[j] && big;
            p146 = big && !shifted[j];
        } else if (m > 189 && shifted[j] && big)
            high = true;
    }
    if (s105)
        return "phenethyl part";
    if (s188)
        return "piperidine ring or phenethyl part";
    if (s146)
        return "anilide ring";
    if (high && (p188 || p146))
        return "acyl group";
    return "";
}

#define SHIFT_GAIN 20.0

typedef struct cand {
    size_t hit;
    int dm;
    double hy;
} cand;

sm_status sm_analogue_analyze(const sm_library *lib, sm_shifter *sh, sm_nominal q,
                              const sm_hit *hits, size_t n_hits,
                              const sm_analogue_params *params, sm_analogue *out,
                              sm_error *err)
{
    if (lib == NULL || sh == NULL || out == NULL || (hits == NULL && n_hits > 0))
        return sm_seterr_(err, SM_ERR_ARG, NULL, 0, "sm_analogue_analyze: missing argument");
    sm_analogue_params p;
    if (params)
        p = *params;
    else
        sm_analogue_defaults(&p);
    memset(out, 0, sizeof *out);
    if (n_hits == 0 || q.n == 0)
        return SM_OK;

    /* Class evidence: the MF-weighted share of fentanyl-class compounds among the
     * best ten identity hits. */
    double wf = 0, wall = 0;
    for (size_t j = 0; j < n_hits && j < 10; j++) {
        double w = hits[j].mf > 0 ? hits[j].mf : 0;
        wall += w;
        if (sm_library_fentanyl_class(lib, hits[j].index))
            wf += w;
    }
    out->class_share = wall > 0 ? wf / wall : 0;

    /* The unknown's MW: given, else estimated. */
    sm_mw_estimate est = {0, 0, 0};
    if (isfinite(p.query_mw) && p.query_mw > 0) {
        out->query_mw = (unsigned)lround(p.query_mw);
        out->mw_source = 1;
    } else {
        sm_estimate_mw(q, &est);
        if (est.confidence > 0) {
            out->query_mw = est.mw;
            out->mw_source = est.confidence == 2 ? 2 : 3;
        }
    }

    sm_nominal_buf *buf = malloc(sizeof *buf);
    if (buf == NULL)
        return sm_seterr_(err, SM_ERR_NOMEM, NULL, 0, "out of memory");
    cand best[SM_ANALOGUE_MAX] = {{0, 0, 0}};
    char keys[SM_ANALOGUE_MAX][64];
    size_t nb = 0;
    for (size_t j = 0; j < n_hits && j < SM_ANALOGUE_HITS; j++) {
        sm_nominal l = sm_library_nominal(lib, hits[j].index, buf);
        double lmw = sm_library_mw(lib, hits[j].index);
        int shifts[6];
        size_t ns = 0;
        shifts[ns++] = 0;
        if (out->mw_source == 1 && isfinite(lmw) && lmw > 0) {
            long d = (long)out->query_mw - lround(lmw);
            if (d != 0 && labs(d) <= p.max_shift)
                shifts[ns++] = (int)d;
        } else {
            int prop[3];
            size_t np = sm_shifter_propose(sh, q, l, p.max_shift, prop, NULL, 3);
            for (size_t k = 0; k < np; k++)
                shifts[ns++] = prop[k];
            if (out->mw_source == 2 && isfinite(lmw) && lmw > 0) {
                long d = (long)out->query_mw - lround(lmw);
                bool have = false;
                for (size_t k = 0; k < ns; k++)
                    have |= shifts[k] == d;
                if (!have && d != 0 && labs(d) <= p.max_shift)
                    shifts[ns++] = (int)d;
            }
        }
        /* A shift is taken only when it pairs clearly more than the direct match
         * (SHIFT_GAIN): any shift pairs a few stray ions. */
        cand c = {j, 0, sm_hybrid_match_factor(q, l, 0)};
        double direct = c.hy;
        if (j == 0)
            out->best_direct = direct;
        for (size_t k = 1; k < ns; k++) {
            double hy = sm_hybrid_match_factor(q, l, shifts[k]);
            if (hy >= direct + SHIFT_GAIN && hy > c.hy + 1e-9) {
                c.hy = hy;
                c.dm = shifts[k];
            }
        }
        /* best-first list of the closest analogues; one entry per compound */
        char key[64];
        sm_compound_key(sm_library_field(lib, hits[j].index, SM_FIELD_INCHIKEY),
                        sm_library_field(lib, hits[j].index, SM_FIELD_NAME),
                        sm_library_field(lib, hits[j].index, SM_FIELD_FORMULA), key, sizeof key);
        size_t same = SIZE_MAX;
        for (size_t t = 0; t < nb && same == SIZE_MAX; t++)
            if (strcmp(keys[t], key) == 0)
                same = t;
        if (same != SIZE_MAX) {
            if (best[same].hy >= c.hy)
                continue;
            for (size_t t = same; t + 1 < nb; t++) { /* the better spectrum replaces it */
                best[t] = best[t + 1];
                memcpy(keys[t], keys[t + 1], sizeof keys[t]);
            }
            nb--;
        }
        size_t pos = nb;
        if (pos == SM_ANALOGUE_MAX) {
            if (c.hy <= best[SM_ANALOGUE_MAX - 1].hy)
                continue;
            pos = SM_ANALOGUE_MAX - 1;
        } else {
            nb++;
        }
        while (pos > 0 && best[pos - 1].hy < c.hy) {
            best[pos] = best[pos - 1];
            memcpy(keys[pos], keys[pos - 1], sizeof keys[pos]);
            pos--;
        }
        best[pos] = c;
        memcpy(keys[pos], key, sizeof keys[pos]);
    }

    out->n = nb;
    for (size_t k = 0; k < nb; k++) {
        sm_analogue_hit *a = &out->best[k];
        sm_nominal l = sm_library_nominal(lib, hits[best[k].hit].index, buf);
        uint8_t *flag = malloc(l.n ? l.n : 1);
        if (flag == NULL) {
            free(buf);
            return sm_seterr_(err, SM_ERR_NOMEM, NULL, 0, "out of memory");
        }
        a->hit = best[k].hit;
        a->delta_m = best[k].dm;
        a->hybrid_mf = sm_hybrid_match_factor_ex(q, l, a->delta_m, &a->n_direct, &a->n_shifted,
                                                 flag);
        /* the most intense shifted ions of the library spectrum */
        for (size_t t = 0; t < 8; t++) {
            size_t pick = SIZE_MAX;
            for (size_t j = 0; j < l.n; j++)
                if (flag[j] == 1 && (pick == SIZE_MAX || l.intensity[j] > l.intensity[pick]))
                    pick = j;
            if (pick == SIZE_MAX)
                break;
            flag[pick] = 2;
            a->shifted_mz[a->n_shifted_mz++] = l.mz[pick];
        }
        for (size_t j = 0; j < l.n; j++)
            flag[j] = flag[j] != 0;
        a->part = a->delta_m != 0 && sm_library_fentanyl_class(lib, hits[a->hit].index)
                      ? fentanyl_part(l, flag)
                      : "";
        free(flag);
    }
    free(buf);

    /* Class evidence, either way: fentanyl-class compounds among the identity hits, or
     * among the closest analogues once shifts are allowed (a modified group can lower
     * the identity MF of every relative while the hybrid MF still pairs the ions). */
    for (size_t k = 0; k < nb; k++)
        out->class_closest += sm_library_fentanyl_class(lib, hits[out->best[k].hit].index);
    out->suspected = nb > 0 && sm_library_fentanyl_class(lib, hits[out->best[0].hit].index) &&
                     out->best[0].hybrid_mf >= p.min_hybrid &&
                     (out->class_share >= p.min_class_share || out->class_closest >= 2);
    /* A relative that explains the spectrum only with a mass shift, and clearly better
     * than the best hit explains it directly, says the unknown is not the best hit:
     * right identifications of fentanyl-class replicates stay within 26 of it
     * (docs/ANALOGUES.md). */
    out->shifted_better = nb > 0 && sm_library_fentanyl_class(lib, hits[0].index) &&
                          sm_library_fentanyl_class(lib, hits[out->best[0].hit].index) &&
                          out->best[0].delta_m != 0 &&
                          out->best[0].hybrid_mf >= out->best_direct + p.identity_margin;
    return SM_OK;
}

void sm_verdict_apply_analogue(sm_verdict *v, const sm_analogue *a)
{
    if (v == NULL || a == NULL)
        return;
    bool identified = v->status == SM_VERDICT_IDENTIFIED || v->status == SM_VERDICT_ISOMERS;
    if (identified && a->shifted_better) {
        v->status = SM_VERDICT_NO_MATCH;
        v->reason = SM_REASON_SHIFTED_RELATIVE;
        v->n_group = 0;
        v->unresolved = "";
        identified = false;
    }
    if (!identified && a->suspected) {
        v->status = SM_VERDICT_ANALOGUE;
        if (v->reason != SM_REASON_SHIFTED_RELATIVE) /* kept: why the best hit is not it */
            v->reason = SM_REASON_NONE;
    }
}
