/* judge.c — the verdict of one query's hits, shared by search and report. */
#include <math.h>

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
    if (n_hits == 0 || (!o->analogues && identified) || !sm_library_has_controls(lib, NULL, NULL))
        return SM_OK;
    sm_analogue_params p;
    sm_analogue_defaults(&p);
    p.query_mw = !isnan(o->mw) ? o->mw : o->spectrum_mw;
    st = sm_analogue_analyze(lib, sh, q, hits, n_hits, &p, a, err);
    if (st != SM_OK)
        return st;
    *analogue_ran = true;
    if (!identified && a->suspected) {
        v->status = SM_VERDICT_ANALOGUE;
        v->reason = SM_REASON_NONE;
    }
    return SM_OK;
}
