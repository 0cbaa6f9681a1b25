/* judge.c — the verdict of one query's hits, shared by search and report. */
#include <math.h>
#include <stdio.h>

#include "cli.h"

sm_status cli_judge(const sm_library *lib, sm_shifter *sh, sm_nominal q, const sm_hit *hits,
                    size_t n_hits, const cli_judge_opts *o, sm_verdict *v, sm_analogue *a,
                    bool *analogue_ran, sm_error *err)
{
    sm_status st = sm_judge(lib, q, hits, n_hits, &o->judge, v, err);
    *analogue_ran = false;
    if (st != SM_OK)
        return st;
    bool identified = v->status == SM_VERDICT_IDENTIFIED || v->status == SM_VERDICT_ISOMERS;
    /* An identification of a fentanyl-class compound is checked against its shifted
     * relatives; other identifications need no analysis unless asked for. */
    if (n_hits == 0 || !sm_library_has_controls(lib, NULL, NULL) ||
        (!o->analogues && identified && !sm_library_fentanyl_class(lib, hits[0].index)))
        return SM_OK;
    sm_analogue_params p;
    sm_analogue_defaults(&p);
    p.query_mw = !isnan(o->mw) ? o->mw : o->spectrum_mw;
    st = sm_analogue_analyze(lib, sh, q, hits, n_hits, &p, a, err);
    if (st != SM_OK)
        return st;
    sm_verdict_apply_analogue(v, a);
    /* An identification that stands was only checked: its analysis is shown when
     * asked for, as before. */
    *analogue_ran = o->analogues || v->status == SM_VERDICT_NO_MATCH ||
                    v->status == SM_VERDICT_ANALOGUE;
    return SM_OK;
}

/* "+14: CH2 more (...)" or "+7: no single listed substitution" */
void cli_shift_text(int dm, char *buf, size_t cap)
{
    const char *why[4];
    size_t n = sm_shift_explain(dm, why, 4);
    int len = snprintf(buf, cap, "%+d: ", dm);
    if (len < 0 || (size_t)len >= cap)
        return;
    if (dm == 0) {
        snprintf(buf + len, cap - (size_t)len, "same nominal mass (an isomer, or a change of "
                                                "no mass)");
        return;
    }
    if (n == 0) {
        snprintf(buf + len, cap - (size_t)len, "no single listed substitution");
        return;
    }
    for (size_t j = 0; j < n; j++) {
        int w = snprintf(buf + len, cap - (size_t)len, "%s%s", j ? "; or " : "", why[j]);
        if (w < 0 || (size_t)(len + w) >= cap)
            return;
        len += w;
    }
}
