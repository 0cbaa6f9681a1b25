/* search.c — `specmatch search`: identify query spectra against a reference library. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "mirror.h"

enum fmt { FMT_TABLE, FMT_JSONL, FMT_CSV, FMT_TSV };

/* Threads that give the verdicts of a chunk (the analogue analysis is the costly part). */
#define MAX_JUDGE_THREADS 64

typedef struct search_ctx {
    const sm_library *lib;
    enum fmt fmt;
    size_t top;
    double min_mf;
    size_t k_search;   /* hits searched per query: top, at least what a verdict needs */
    sm_judge_params judge;
    sm_hit *hits;
    sm_verdict verdict; /* of the query being written */
    bool analogues;     /* --analogues: the analysis for every query */
    double mw;          /* --mw, NAN when not given */
    sm_shifter *shifters[MAX_JUDGE_THREADS]; /* one per verdict thread */
    unsigned n_shifters;
    sm_analogue analogue; /* of the query being written, when ran */
    bool analogue_ran;
    size_t query;      /* next query index (every record read counts, good or bad) */
    size_t searched;
    size_t rejected;
    size_t unmatched;
    unsigned threads;  /* 0: all cores */
    sm_format input_format;
    bool progress;
    const char *plot_dir; /* --plot DIR, NULL when not asked */
} search_ctx;

static void usage(FILE *out)
{
    fputs(
        "usage: specmatch search [options] QUERY...\n"
        "       specmatch QUERY...            (search is the default command)\n"
        "\n"
        "Identifies each spectrum of the query files against a reference library.\n"
        "QUERY is a file (MSP, AMDIS MSL, JCAMP-DX or a two-column m/z,intensity peak\n"
        "table, recognized from its content), a directory (its files), or - for\n"
        "standard input.\n"
        "\n"
        "options:\n"
        "  -l, --library FILE.h5   reference library (default: $SPECMATCH_LIBRARY, else the\n"
        "                          library built by the README's first command)\n"
        "  -k, --top N             hits reported per query (default 10)\n"
        "  -f, --format FMT        table (default), jsonl, csv or tsv\n"
        "      --min-mf N          report only hits with MF >= N (0-999, default 0)\n"
        "      --fail-no-match     exit 1 when a query has no hit at or above --min-mf\n"
        "      --analogues         analogue analysis (hybrid search) for every query; by\n"
        "                          default it runs when the identity search identifies\n"
        "                          nothing\n"
        "      --mw N              the unknowns' molecular weight, for the hybrid search\n"
        "                          (default: the MW field of each spectrum, else estimated\n"
        "                          from the spectrum)\n"
        "      --plot DIR          mirror plots of each query against each hit shown:\n"
        "                          DIR/qQQQQ-hitR.svg and .png (DIR is created if missing)\n"
        "  -r, --recursive         read directories recursively\n"
        "      --input-format F    msp, msl, jcamp or peaks (default: recognized from\n"
        "                          the content)\n"
        "  -j, --threads N         search threads, and those that decompress the\n"
        "                          library while it opens (default 0: one per core)\n"
        "      --kernel NAME       force a SIMD kernel (see 'specmatch kernels'); also\n"
        "                          SPECMATCH_KERNEL=NAME\n"
        "      --progress, --no-progress\n"
        "                          progress on stderr (default: when it is a terminal)\n"
        "  -q, --quiet             only errors on stderr\n"
        "  -v, --verbose           more messages on stderr\n"
        "  -h, --help              this help\n"
        "\n"
        "Scores: MF is the NIST identity match factor (Stein & Scott 1994), RMF the reverse\n"
        "match factor, both 0-999. Results go to stdout, messages to stderr.\n"
        "Exit status: 0 ok, 1 no match (with --fail-no-match), 2 usage, 3 bad input data,\n"
        "4 I/O error or unusable library.\n",
        out);
}

static void print_mw(FILE *out, double mw)
{
    if (!isnan(mw))
        fprintf(out, "%g", mw);
}

static void emit_error(search_ctx *c, const sm_error *err, bool has_query, size_t q)
{
    cli_report(err);
    if (c->fmt == FMT_TABLE) {
        /* the table accounts for every spectrum too, not only stderr */
        if (has_query)
            printf("Query %zu: not searched: %s:%lu: %s\n\n", q + 1, err->file, err->line,
                   err->message);
        else
            printf("Input %s: not read: %s\n\n", err->file, err->message);
        return;
    }
    if (c->fmt != FMT_JSONL)
        return;
    fputs("{\"type\":\"error\"", stdout);
    if (has_query)
        fprintf(stdout, ",\"query\":%zu", q);
    fputs(",\"source\":", stdout);
    cli_json_str(stdout, err->file);
    fprintf(stdout, ",\"line\":%lu,\"message\":", err->line);
    cli_json_str(stdout, err->message);
    fputs("}\n", stdout);
}

/* What an identification by EI-MS alone can never exclude. */
#define ISOMER_NOTE                                                                      \
    "positional isomers that the library does not hold are not excluded by EI-MS"

/* Control status of library spectrum i for people ("" when the library has none). */
static const char *control_of(const search_ctx *c, size_t i, char *buf, size_t cap)
{
    sm_library_control_summary(c->lib, i, buf, cap);
    return buf;
}

/* The verdict's control text: the best hit's; for isomers the group's when all agree. */
static const char *verdict_control(const search_ctx *c, char *buf, size_t cap)
{
    const sm_verdict *v = &c->verdict;
    buf[0] = '\0';
    if (v->n_group == 0)
        return buf;
    control_of(c, c->hits[v->group[0]].index, buf, cap);
    for (size_t g = 1; g < v->n_group; g++) {
        char other[512];
        control_of(c, c->hits[v->group[g]].index, other, sizeof other);
        if (strcmp(other, buf) != 0) {
            snprintf(buf, cap, "differs between the isomers (see each compound)");
            break;
        }
    }
    return buf;
}

static const char *mw_source_name(int src)
{
    switch (src) {
    case 1: return "given";
    case 2: return "estimated";
    case 3: return "estimated, doubtful";
    default: return "unknown";
    }
}


#define LEGISLATION_NOTE                                                                  \
    "analogue or class-wide legislation (such as the US class-wide listing of "          \
    "fentanyl-related substances) may apply"

static void print_analogue(const search_ctx *c)
{
    const sm_library *lib = c->lib;
    const sm_analogue *a = &c->analogue;
    char buf[512], ctl[512];
    if (c->verdict.status == SM_VERDICT_ANALOGUE)
        printf("Verdict: SUSPECTED ANALOGUE: a fentanyl-related substance that the library "
               "does not hold\n");
    if (c->verdict.status == SM_VERDICT_ANALOGUE &&
        c->verdict.reason == SM_REASON_SHIFTED_RELATIVE && c->verdict.best != SIZE_MAX)
        printf("  best identity hit set aside: %s (MF %d, hybrid MF %d unshifted); the closest "
               "known analogue below scores %d with its mass shift\n",
               sm_library_field(lib, c->hits[c->verdict.best].index, SM_FIELD_NAME),
               sm_mf_display(c->hits[c->verdict.best].mf), sm_mf_display(a->best_direct),
               sm_mf_display(a->best[0].hybrid_mf));
    else if (c->verdict.status != SM_VERDICT_ANALOGUE)
        printf("Analogue analysis: %s\n",
               a->suspected ? "the spectrum also resembles fentanyl analogues"
                            : "not a suspected fentanyl analogue");
    if (a->mw_source == 1)
        printf("  unknown's MW: %u (given)", a->query_mw);
    else if (a->mw_source)
        printf("  highest possible molecular ion: m/z %u (%s; a fragment when the molecular "
               "ion is absent)",
               a->query_mw, mw_source_name(a->mw_source));
    else
        printf("  unknown's MW: unknown");
    printf("; fentanyl-class share of the best identity hits: %.0f%%\n", 100 * a->class_share);
    for (size_t k = 0; k < a->n; k++) {
        const sm_analogue_hit *h = &a->best[k];
        size_t li = c->hits[h->hit].index;
        cli_shift_text(h->delta_m, buf, sizeof buf);
        printf("  %s %s (hybrid MF %d, identity MF %d), delta M %s\n",
               k == 0 ? "closest known:" : "also:         ",
               sm_library_field(lib, li, SM_FIELD_NAME), sm_mf_display(h->hybrid_mf),
               sm_mf_display(c->hits[h->hit].mf), buf);
        if (h->n_shifted_mz > 0) {
            printf("    ions carrying the shift (library -> unknown):");
            for (size_t t = 0; t < h->n_shifted_mz; t++)
                printf(" %u->%d", h->shifted_mz[t], (int)h->shifted_mz[t] + h->delta_m);
            if (*h->part)
                printf("; modified part: %s", h->part);
            putchar('\n');
        }
        if (*control_of(c, li, ctl, sizeof ctl))
            printf("    control status: %s\n", ctl);
    }
    if (c->verdict.status == SM_VERDICT_ANALOGUE)
        printf("  Not identified: the compound itself is unknown; %s.\n", LEGISLATION_NOTE);
}

static void print_verdict_line(const search_ctx *c)
{
    const sm_library *lib = c->lib;
    const sm_verdict *v = &c->verdict;
    char ctl[512];
    if (v->status == SM_VERDICT_IDENTIFIED) {
        const sm_hit *h = &c->hits[v->group[0]];
        printf("Verdict: IDENTIFIED: %s (MF %d, RMF %d; confidence %.2f)\n"
               "  %s\n",
               sm_library_field(lib, h->index, SM_FIELD_NAME), sm_mf_display(h->mf),
               sm_mf_display(h->rmf), v->confidence, ISOMER_NOTE);
    } else if (v->status == SM_VERDICT_ISOMERS) {
        fputs("Verdict: ISOMERS: ", stdout);
        for (size_t g = 0; g < v->n_group; g++) {
            const sm_hit *h = &c->hits[v->group[g]];
            printf("%s%s (MF %d)", g == 0 ? "" : (g + 1 == v->n_group ? " or " : ", "),
                   sm_library_field(lib, h->index, SM_FIELD_NAME), sm_mf_display(h->mf));
        }
        if (*v->unresolved)
            printf("%s\n  EI-MS does not reliably tell %s apart: one that the library does "
                   "not hold may fit this spectrum as well",
                   v->n_group == 1 ? " or an isomer of it" : ", or an isomer of them",
                   v->unresolved);
        if (v->n_group > 1)
            printf("%s  compounds of the same nominal mass that this EI spectrum does not "
                   "tell apart",
                   *v->unresolved ? ";\n" : "\n");
        printf("; a second technique (retention index, IR, ...) is needed to decide "
               "(confidence that %s right: %.2f)\n",
               v->n_group == 1 ? "the group is" : "one of them is", v->confidence);
    } else if (v->status == SM_VERDICT_ANALOGUE) {
        print_analogue(c);
    } else {
        printf("Verdict: NO MATCH: %s", sm_verdict_reason_text(v->reason));
        if (v->reason == SM_REASON_IONS_ABOVE_MW)
            printf(" (m/z %u)", v->ion_above);
        if (v->best != SIZE_MAX) {
            const sm_hit *h = &c->hits[v->best];
            printf("; best: %s, MF %d", sm_library_field(lib, h->index, SM_FIELD_NAME),
                   sm_mf_display(h->mf));
            if (v->reason == SM_REASON_UNRESOLVED && v->competitor != SIZE_MAX)
                printf(", and %s, MF %d",
                       sm_library_field(lib, c->hits[v->competitor].index, SM_FIELD_NAME),
                       sm_mf_display(c->hits[v->competitor].mf));
            printf(" (confidence %.2f)", v->confidence);
        }
        putchar('\n');
    }
    if (v->n_group > 0 && *verdict_control(c, ctl, sizeof ctl))
        printf("Control status: %s\n", ctl);
    if (c->analogue_ran && v->status != SM_VERDICT_ANALOGUE && (c->analogues || c->analogue.n > 0))
        print_analogue(c);
    printf("Caution: %s\n", sm_verdict_caution());
}

static void emit_table(search_ctx *c, const sm_spectrum *s, const char *qname,
                       const char *path, size_t q, size_t nh)
{
    const sm_library *lib = c->lib;
    bool controls = sm_library_has_controls(lib, NULL, NULL);
    int wname = 4;
    for (size_t j = 0; j < nh; j++) {
        int len = (int)strlen(sm_library_field(lib, c->hits[j].index, SM_FIELD_NAME));
        if (len > wname)
            wname = len;
    }
    if (wname > 48)
        wname = 48;
    printf("Query %zu: %s  (%s, line %lu)\n", q + 1, qname, path, s->line);
    if (nh == 0)
        printf("  no library spectrum scored at or above MF %g\n", c->min_mf);
    else {
        printf("%4s %4s %4s  %-*s  %-16s %6s  %-*s%s\n", "Rank", "MF", "RMF", wname, "Name",
               "Formula", "MW", controls ? 27 : 0, "InChIKey", controls ? "  Control" : "");
    }
    for (size_t j = 0; j < nh; j++) {
        const sm_hit *h = &c->hits[j];
        const char *name = sm_library_field(lib, h->index, SM_FIELD_NAME);
        char mw[32] = "";
        double m = sm_library_mw(lib, h->index);
        if (!isnan(m))
            snprintf(mw, sizeof mw, "%g", m);
        int nl = (int)strlen(name);
        if (nl > wname)
            printf("%4zu %4d %4d  %.*s...  ", j + 1, sm_mf_display(h->mf),
                   sm_mf_display(h->rmf), wname - 3, name);
        else
            printf("%4zu %4d %4d  %-*s  ", j + 1, sm_mf_display(h->mf), sm_mf_display(h->rmf),
                   wname, name);
        printf("%-16s %6s  %-*s", sm_library_field(lib, h->index, SM_FIELD_FORMULA), mw,
               controls ? 27 : 0, sm_library_field(lib, h->index, SM_FIELD_INCHIKEY));
        if (controls) {
            const char *word = !sm_library_control_listed(lib, h->index) ? "not listed"
                               : sm_library_control_scheduled(lib, h->index) ? "SCHEDULED"
                                                                             : "listed";
            printf("  %s", word);
            const char *us = sm_library_control(lib, h->index, SM_CONTROL_US_CSA);
            const char *un = sm_library_control(lib, h->index, SM_CONTROL_UN1961);
            if (sm_library_control_scheduled(lib, h->index)) {
                if (*un && strcmp(un, "no") != 0)
                    printf(" UN-%s", un);
                if (*us && strcmp(us, "no") != 0)
                    printf(" US-%s", us);
            }
        }
        putchar('\n');
    }
    print_verdict_line(c);
    putchar('\n');
}

static void json_hit_ref(const search_ctx *c, const sm_hit *h)
{
    const sm_library *lib = c->lib;
    char ctl[512];
    fputs("{\"name\":", stdout);
    cli_json_str(stdout, sm_library_field(lib, h->index, SM_FIELD_NAME));
    fputs(",\"inchikey\":", stdout);
    cli_json_str(stdout, sm_library_field(lib, h->index, SM_FIELD_INCHIKEY));
    fputs(",\"formula\":", stdout);
    cli_json_str(stdout, sm_library_field(lib, h->index, SM_FIELD_FORMULA));
    fputs(",\"mw\":", stdout);
    if (isnan(sm_library_mw(lib, h->index)))
        fputs("null", stdout);
    else
        print_mw(stdout, sm_library_mw(lib, h->index));
    fprintf(stdout, ",\"mf\":%.2f,\"rmf\":%.2f,\"library_index\":%zu,\"control\":", h->mf,
            h->rmf, h->index);
    if (sm_library_has_controls(lib, NULL, NULL))
        cli_json_str(stdout, control_of(c, h->index, ctl, sizeof ctl));
    else
        fputs("null", stdout);
    fputs("}", stdout);
}

static void emit_analogue_json(const search_ctx *c)
{
    const sm_analogue *a = &c->analogue;
    char ctl[512];
    fprintf(stdout, ",\"analogue\":{\"suspected\":%s,\"query_mw\":",
            a->suspected ? "true" : "false");
    if (a->mw_source)
        fprintf(stdout, "%u", a->query_mw);
    else
        fputs("null", stdout);
    fprintf(stdout,
            ",\"mw_source\":\"%s\",\"class_share\":%.3f,\"class_closest\":%zu,"
            "\"best_direct_hybrid_mf\":%.2f,\"shifted_better\":%s,\"closest\":[",
            mw_source_name(a->mw_source), a->class_share, a->class_closest, a->best_direct,
            a->shifted_better ? "true" : "false");
    for (size_t k = 0; k < a->n; k++) {
        const sm_analogue_hit *h = &a->best[k];
        size_t li = c->hits[h->hit].index;
        fputs(k ? ",{\"name\":" : "{\"name\":", stdout);
        cli_json_str(stdout, sm_library_field(c->lib, li, SM_FIELD_NAME));
        fputs(",\"inchikey\":", stdout);
        cli_json_str(stdout, sm_library_field(c->lib, li, SM_FIELD_INCHIKEY));
        fprintf(stdout, ",\"library_index\":%zu,\"hybrid_mf\":%.2f,\"mf\":%.2f,\"delta_m\":%d,"
                        "\"fentanyl_class\":%s,\"substitutions\":[",
                li, h->hybrid_mf, c->hits[h->hit].mf, h->delta_m,
                sm_library_fentanyl_class(c->lib, li) ? "true" : "false");
        const char *why[4];
        size_t nw = sm_shift_explain(h->delta_m, why, 4);
        for (size_t j = 0; j < nw; j++) {
            if (j)
                putchar(',');
            cli_json_str(stdout, why[j]);
        }
        fputs("],\"shifted_ions\":[", stdout);
        for (size_t t = 0; t < h->n_shifted_mz; t++)
            fprintf(stdout, "%s[%u,%d]", t ? "," : "", h->shifted_mz[t],
                    (int)h->shifted_mz[t] + h->delta_m);
        fputs("],\"part\":", stdout);
        cli_json_str(stdout, h->part);
        fputs(",\"control\":", stdout);
        if (sm_library_has_controls(c->lib, NULL, NULL))
            cli_json_str(stdout, control_of(c, li, ctl, sizeof ctl));
        else
            fputs("null", stdout);
        putchar('}');
    }
    fputs("]}", stdout);
}

static void emit_verdict_json(const search_ctx *c, const sm_spectrum *s, const char *qname,
                              const char *path, size_t q, size_t nh)
{
    const sm_library *lib = c->lib;
    const sm_verdict *v = &c->verdict;
    char ctl[512];
    fprintf(stdout, "{\"type\":\"verdict\",\"query\":%zu,\"query_name\":", q);
    cli_json_str(stdout, qname);
    fputs(",\"source\":", stdout);
    cli_json_str(stdout, path);
    fprintf(stdout, ",\"source_line\":%lu,\"n_peaks\":%zu,\"hits\":%zu,\"status\":\"%s\"",
            s->line, s->n_peaks, nh, sm_verdict_status_name(v->status));
    fputs(",\"best\":", stdout);
    if (v->best != SIZE_MAX)
        cli_json_str(stdout, sm_library_field(lib, c->hits[v->best].index, SM_FIELD_NAME));
    else
        fputs("null", stdout);
    if (v->best != SIZE_MAX)
        fprintf(stdout, ",\"mf\":%.2f,\"rmf\":%.2f,\"confidence\":%.3f", c->hits[v->best].mf,
                c->hits[v->best].rmf, v->confidence);
    else
        fputs(",\"mf\":null,\"rmf\":null,\"confidence\":null", stdout);
    fputs(",\"compounds\":[", stdout);
    for (size_t g = 0; g < v->n_group; g++) {
        if (g)
            putchar(',');
        json_hit_ref(c, &c->hits[v->group[g]]);
    }
    fputs("],\"competitor\":", stdout);
    if (v->competitor != SIZE_MAX)
        json_hit_ref(c, &c->hits[v->competitor]);
    else
        fputs("null", stdout);
    fputs(",\"reason\":", stdout);
    cli_json_str(stdout, sm_verdict_reason_text(v->reason));
    if (v->status == SM_VERDICT_IDENTIFIED)
        fputs(",\"note\":\"" ISOMER_NOTE "\"", stdout);
    if (*v->unresolved) {
        fputs(",\"unresolved_isomers\":", stdout);
        cli_json_str(stdout, v->unresolved);
    }
    if (v->reason == SM_REASON_IONS_ABOVE_MW)
        fprintf(stdout, ",\"ion_above_mw\":%u", v->ion_above);
    fputs(",\"control\":", stdout);
    if (v->n_group > 0 && sm_library_has_controls(lib, NULL, NULL))
        cli_json_str(stdout, verdict_control(c, ctl, sizeof ctl));
    else
        fputs("null", stdout);
    if (c->analogue_ran)
        emit_analogue_json(c);
    if (v->status == SM_VERDICT_ANALOGUE)
        fputs(",\"legislation\":\"" LEGISLATION_NOTE "\"", stdout);
    fputs(",\"caution\":", stdout);
    cli_json_str(stdout, sm_verdict_caution());
    fputs("}\n", stdout);
}

static void emit_row(const search_ctx *c, const sm_spectrum *s, const char *qname,
                     const char *path, size_t q, const sm_hit *h, size_t rank)
{
    const sm_library *lib = c->lib;
    void (*str)(FILE *, const char *) = c->fmt == FMT_CSV ? cli_csv_str : cli_tsv_str;
    char sep = c->fmt == FMT_CSV ? ',' : '\t';
    char ctl[512] = "";
    fprintf(stdout, "%zu%c", q, sep);
    str(stdout, qname);
    if (h == NULL) {
        /* a query without a hit to show still gets its row */
        fprintf(stdout, "%c%c%c%c%c%c%c%c%c", sep, sep, sep, sep, sep, sep, sep, sep, sep);
    } else {
        size_t i = h->index;
        fprintf(stdout, "%c%zu%c%.2f%c%.2f%c", sep, rank, sep, h->mf, sep, h->rmf, sep);
        str(stdout, sm_library_field(lib, i, SM_FIELD_NAME));
        putchar(sep);
        str(stdout, sm_library_field(lib, i, SM_FIELD_FORMULA));
        putchar(sep);
        print_mw(stdout, sm_library_mw(lib, i));
        putchar(sep);
        str(stdout, sm_library_field(lib, i, SM_FIELD_INCHIKEY));
        putchar(sep);
        str(stdout, sm_library_field(lib, i, SM_FIELD_CAS));
        putchar(sep);
        str(stdout, sm_library_field(lib, i, SM_FIELD_ID));
        control_of(c, i, ctl, sizeof ctl);
    }
    putchar(sep);
    str(stdout, path);
    fprintf(stdout, "%c%lu%c%s%c", sep, s->line, sep, sm_verdict_status_name(c->verdict.status),
            sep);
    if (c->verdict.best != SIZE_MAX)
        fprintf(stdout, "%.3f", c->verdict.confidence);
    putchar(sep);
    str(stdout, ctl);
    putchar('\n');
}

static void emit_hits(search_ctx *c, const sm_spectrum *s, const char *qname,
                      const char *path, size_t q, size_t nh)
{
    if (c->fmt == FMT_TABLE) {
        emit_table(c, s, qname, path, q, nh);
        return;
    }
    if (c->fmt != FMT_JSONL) {
        for (size_t j = 0; j < nh; j++)
            emit_row(c, s, qname, path, q, &c->hits[j], j + 1);
        if (nh == 0)
            emit_row(c, s, qname, path, q, NULL, 0);
        return;
    }
    const sm_library *lib = c->lib;
    char ctl[512];
    for (size_t j = 0; j < nh; j++) {
        const sm_hit *h = &c->hits[j];
        size_t i = h->index;
        fprintf(stdout, "{\"type\":\"hit\",\"query\":%zu,\"query_name\":", q);
        cli_json_str(stdout, qname);
        fputs(",\"source\":", stdout);
        cli_json_str(stdout, path);
        fprintf(stdout, ",\"source_line\":%lu,\"rank\":%zu,\"name\":", s->line, j + 1);
        cli_json_str(stdout, sm_library_field(lib, i, SM_FIELD_NAME));
        fputs(",\"inchikey\":", stdout);
        cli_json_str(stdout, sm_library_field(lib, i, SM_FIELD_INCHIKEY));
        fprintf(stdout, ",\"mf\":%.2f,\"rmf\":%.2f,\"mf_display\":%d,\"rmf_display\":%d",
                h->mf, h->rmf, sm_mf_display(h->mf), sm_mf_display(h->rmf));
        fputs(",\"formula\":", stdout);
        cli_json_str(stdout, sm_library_field(lib, i, SM_FIELD_FORMULA));
        fputs(",\"mw\":", stdout);
        if (isnan(sm_library_mw(lib, i)))
            fputs("null", stdout);
        else
            print_mw(stdout, sm_library_mw(lib, i));
        fputs(",\"cas\":", stdout);
        cli_json_str(stdout, sm_library_field(lib, i, SM_FIELD_CAS));
        fputs(",\"library_id\":", stdout);
        cli_json_str(stdout, sm_library_field(lib, i, SM_FIELD_ID));
        fprintf(stdout, ",\"library_index\":%zu,\"control\":", i);
        if (sm_library_has_controls(lib, NULL, NULL)) {
            cli_json_str(stdout, control_of(c, i, ctl, sizeof ctl));
            fputs(",\"class\":", stdout);
            cli_json_str(stdout, sm_library_control(lib, i, SM_CONTROL_CLASS));
        } else {
            fputs("null,\"class\":null", stdout);
        }
        fputs("}\n", stdout);
    }
    emit_verdict_json(c, s, qname, path, q, nh);
}

/* Records are read and searched in chunks: a chunk's spectra go to the threads
 * together, then its results are written in input order. 1,024 rather than 256:
 * a batch's hard queries share sweeps of the library in groups of 16, and a bigger
 * chunk leaves fewer groups part empty (the 4,555 MassBank negatives against the 1M
 * benchmark library: search 14 -> 12 s on one thread). A record's buffers are
 * touched only as far as its peaks go. */
#define CHUNK 1024

/* Hits down to this MF are searched for the verdict even under a higher --min-mf. */
#define VERDICT_FLOOR 500.0

typedef struct rec {
    sm_spectrum s;
    sm_error err;       /* status SM_OK: searched */
    size_t q;           /* query index */
    uint16_t *mz, *in;  /* preprocessed */
    size_t n;
    const sm_hit *hits; /* its hits in the chunk's array, n_hits of them */
    size_t n_hits;
    sm_verdict verdict;
    sm_analogue analogue;
    bool analogue_ran;
} rec;

/* Verdict of one searched record, and the analogue analysis (cli_judge). */
static sm_status judge_rec(const search_ctx *c, rec *x, sm_shifter *sh, sm_error *err)
{
    sm_nominal q = {x->n, x->mz, x->in};
    cli_judge_opts o = {c->judge, c->analogues, c->mw, x->s.mw};
    return cli_judge(c->lib, sh, q, x->hits, x->n_hits, &o, &x->verdict, &x->analogue,
                     &x->analogue_ran, err);
}

/* The chunk's verdicts on the search threads: thread t takes records t, t + T, ... */
typedef struct judge_job {
    const search_ctx *c;
    rec *recs;
    size_t nrec, first, step;
    sm_shifter *shifter;
    sm_error err;
    sm_status st;
} judge_job;

static void *judge_worker(void *arg)
{
    judge_job *j = arg;
    j->st = SM_OK;
    for (size_t r = j->first; r < j->nrec && j->st == SM_OK; r += j->step)
        if (j->recs[r].err.status == SM_OK)
            j->st = judge_rec(j->c, &j->recs[r], j->shifter, &j->err);
    return NULL;
}

static sm_status judge_chunk(search_ctx *c, rec *recs, size_t nrec, sm_error *err)
{
    unsigned nt = c->n_shifters;
    judge_job jobs[MAX_JUDGE_THREADS];
    pthread_t tid[MAX_JUDGE_THREADS];
    bool started[MAX_JUDGE_THREADS] = {false};
    for (unsigned t = 0; t < nt; t++) {
        jobs[t] = (judge_job){c, recs, nrec, t, nt, c->shifters[t], {0}, SM_OK};
        if (t > 0)
            started[t] = pthread_create(&tid[t], NULL, judge_worker, &jobs[t]) == 0;
    }
    judge_worker(&jobs[0]);
    for (unsigned t = 1; t < nt; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        else
            judge_worker(&jobs[t]); /* no thread: do its share here */
    }
    for (unsigned t = 0; t < nt; t++)
        if (jobs[t].st != SM_OK) {
            *err = jobs[t].err;
            return jobs[t].st;
        }
    return SM_OK;
}

/* --plot: a mirror plot of query x against each of its nh hits shown. */
static int plot_hits(const search_ctx *c, const rec *x, const char *qname, size_t nh)
{
    int code = EXIT_OK;
    sm_nominal_buf *buf = malloc(sizeof *buf); /* the hit's peaks, one at a time */
    if (buf == NULL) {
        cli_errorf("out of memory");
        return EXIT_IO;
    }
    for (size_t j = 0; j < nh; j++) {
        const sm_hit *h = &c->hits[j];
        char base[4096], title[1024], subtitle[1024], ctl[512];
        snprintf(base, sizeof base, "%s/q%04zu-hit%zu", c->plot_dir, x->q, j + 1);
        snprintf(title, sizeof title, "%s vs %s", qname,
                 sm_library_field(c->lib, h->index, SM_FIELD_NAME));
        int len = snprintf(subtitle, sizeof subtitle, "MF %d, RMF %d, rank %zu",
                           sm_mf_display(h->mf), sm_mf_display(h->rmf), j + 1);
        if (*control_of(c, h->index, ctl, sizeof ctl) && len > 0)
            snprintf(subtitle + len, sizeof subtitle - (size_t)len,
                     " \u2014 control status: %s", ctl);
        mirror_plot p = {{x->n, x->mz, x->in}, sm_library_nominal(c->lib, h->index, buf), title,
                         subtitle, NULL, 0};
        code = cli_worse(code, mirror_plot_write(base, &p));
    }
    /* an analogue: the unknown against its closest known analogue, shifts marked */
    if (x->analogue_ran && x->analogue.n > 0 &&
        (x->verdict.status == SM_VERDICT_ANALOGUE || c->analogues)) {
        const sm_analogue_hit *a = &x->analogue.best[0];
        sm_nominal l = sm_library_nominal(c->lib, c->hits[a->hit].index, buf);
        uint8_t *flags = malloc(l.n ? l.n : 1);
        if (flags == NULL) {
            cli_errorf("out of memory");
            free(buf);
            return EXIT_IO;
        }
        char base[4096], title[1024], subtitle[256];
        snprintf(base, sizeof base, "%s/q%04zu-analogue", c->plot_dir, x->q);
        snprintf(title, sizeof title, "%s vs %s (closest known analogue)", qname,
                 sm_library_field(c->lib, c->hits[a->hit].index, SM_FIELD_NAME));
        snprintf(subtitle, sizeof subtitle, "hybrid MF %d at delta M %+d, identity MF %d",
                 sm_mf_display(a->hybrid_mf), a->delta_m, sm_mf_display(c->hits[a->hit].mf));
        sm_nominal q = {x->n, x->mz, x->in};
        mirror_plot p = {q, l, title, subtitle, mirror_shift_flags(q, l, a->delta_m, flags),
                         a->delta_m};
        code = cli_worse(code, mirror_plot_write(base, &p));
        free(flags);
    }
    free(buf);
    return code;
}

static int flush_chunk(search_ctx *c, rec *recs, size_t nrec, const char *label)
{
    int code = EXIT_OK;
    sm_nominal *qs = malloc((nrec ? nrec : 1) * sizeof *qs);
    size_t *slot = malloc((nrec ? nrec : 1) * sizeof *slot);
    size_t *nh = malloc((nrec ? nrec : 1) * sizeof *nh);
    sm_hit *hits = malloc((nrec ? nrec : 1) * c->k_search * sizeof *hits);
    if (!qs || !slot || !nh || !hits) {
        cli_errorf("out of memory");
        code = EXIT_IO;
        goto out;
    }
    size_t nq = 0;
    for (size_t r = 0; r < nrec; r++) {
        if (recs[r].err.status != SM_OK)
            continue;
        qs[nq].n = recs[r].n;
        qs[nq].mz = recs[r].mz;
        qs[nq].intensity = recs[r].in;
        slot[r] = nq++;
    }
    sm_error err = {0};
    /* The verdict looks at every compound near the best, so the search floor stays
     * low enough to see them whatever --min-mf hides from the listing. */
    double floor = c->min_mf < VERDICT_FLOOR ? c->min_mf : VERDICT_FLOOR;
    if (sm_search_batch_min(c->lib, qs, nq, c->k_search, floor, c->threads, hits, nh, &err) !=
        SM_OK) {
        cli_report(&err);
        code = EXIT_IO;
        goto out;
    }
    for (size_t r = 0; r < nrec; r++)
        if (recs[r].err.status == SM_OK) {
            recs[r].hits = hits + slot[r] * c->k_search;
            recs[r].n_hits = nh[slot[r]];
        }
    if (judge_chunk(c, recs, nrec, &err) != SM_OK) {
        cli_report(&err);
        code = EXIT_IO;
        goto out;
    }
    for (size_t r = 0; r < nrec; r++) {
        rec *x = &recs[r];
        if (x->err.status != SM_OK) {
            emit_error(c, &x->err, true, x->q);
            c->rejected++;
            code = cli_worse(code, cli_exit_for(x->err.status));
            continue;
        }
        char fallback[600];
        const char *qname = x->s.field[SM_FIELD_NAME];
        if (qname == NULL || *qname == '\0') {
            snprintf(fallback, sizeof fallback, "%s:%lu", label, x->s.line);
            qname = fallback;
        }
        size_t n = x->n_hits;
        c->hits = hits + slot[r] * c->k_search;
        c->verdict = x->verdict;
        c->analogue = x->analogue;
        c->analogue_ran = x->analogue_ran;
        if (n > c->top)
            n = c->top;
        while (n > 0 && c->hits[n - 1].mf < c->min_mf)
            n--;
        if (n == 0)
            c->unmatched++;
        c->searched++;
        emit_hits(c, &x->s, qname, label, x->q, n);
        if (c->plot_dir)
            code = cli_worse(code, plot_hits(c, x, qname, n));
    }
out:
    c->hits = NULL;
    free(qs);
    free(slot);
    free(nh);
    free(hits);
    return code;
}

static void progress(const search_ctx *c, bool done)
{
    if (!c->progress)
        return;
    fprintf(stderr, "\rspecmatch: %zu spectra searched%s", c->searched, done ? "\n" : "");
}

/* Searches every spectrum of one input; returns the exit code it deserves. */
static int search_file(search_ctx *c, const char *path)
{
    sm_error err = {0};
    sm_reader *r = NULL;
    sm_status st = sm_reader_open_format(path, c->input_format, &r, &err);
    if (st != SM_OK) {
        emit_error(c, &err, false, 0);
        return cli_exit_for(st);
    }
    const char *label = strcmp(path, "-") == 0 ? "<stdin>" : path;
    int code = EXIT_OK;
    size_t found = 0, nrec = 0;
    rec *recs = calloc(CHUNK, sizeof *recs);
    uint16_t *buf_mz = malloc((size_t)CHUNK * (SM_MAX_NOMINAL_MZ + 1) * sizeof *buf_mz);
    uint16_t *buf_in = malloc((size_t)CHUNK * (SM_MAX_NOMINAL_MZ + 1) * sizeof *buf_in);
    if (!recs || !buf_mz || !buf_in) {
        cli_errorf("out of memory");
        code = EXIT_IO;
        goto out;
    }
    for (size_t j = 0; j < CHUNK; j++) {
        sm_spectrum_init(&recs[j].s);
        recs[j].mz = buf_mz + j * (SM_MAX_NOMINAL_MZ + 1);
        recs[j].in = buf_in + j * (SM_MAX_NOMINAL_MZ + 1);
    }
    for (;;) {
        rec *x = &recs[nrec];
        memset(&x->err, 0, sizeof x->err);
        st = sm_reader_next(r, &x->s, &x->err);
        if (st == SM_END)
            break;
        if (st == SM_ERR_IO) {
            emit_error(c, &x->err, false, 0);
            code = cli_worse(code, EXIT_IO);
            break;
        }
        x->q = c->query++;
        found++;
        if (st == SM_OK) {
            st = sm_preprocess(x->s.peaks, x->s.n_peaks, x->mz, x->in, SM_MAX_NOMINAL_MZ + 1,
                               &x->n, &x->err);
            if (st != SM_OK) {
                snprintf(x->err.file, sizeof x->err.file, "%s", label);
                x->err.line = x->s.line;
            }
        }
        x->err.status = st;
        if (++nrec == CHUNK) {
            code = cli_worse(code, flush_chunk(c, recs, nrec, label));
            nrec = 0;
            progress(c, false);
        }
    }
    if (nrec > 0)
        code = cli_worse(code, flush_chunk(c, recs, nrec, label));
    if (found == 0 && code == EXIT_OK) {
        snprintf(err.file, sizeof err.file, "%s", label);
        err.line = 0;
        snprintf(err.message, sizeof err.message,
                 "no spectrum found; expected MSP records starting with a 'Name:' line");
        emit_error(c, &err, false, 0);
        code = EXIT_DATA;
    }
out:
    if (recs)
        for (size_t j = 0; j < CHUNK; j++)
            sm_spectrum_clear(&recs[j].s);
    free(recs);
    free(buf_mz);
    free(buf_in);
    sm_reader_close(r);
    return code;
}

int cmd_search(int argc, char **argv)
{
    static const struct option opts[] = {
        {"library", required_argument, NULL, 'l'},
        {"top", required_argument, NULL, 'k'},
        {"format", required_argument, NULL, 'f'},
        {"min-mf", required_argument, NULL, 'm'},
        {"fail-no-match", no_argument, NULL, 'F'},
        {"analogues", no_argument, NULL, 'A'},
        {"mw", required_argument, NULL, 'M'},
        {"plot", required_argument, NULL, 'G'},
        {"recursive", no_argument, NULL, 'r'},
        {"threads", required_argument, NULL, 'j'},
        {"kernel", required_argument, NULL, 'K'},
        {"input-format", required_argument, NULL, 'I'},
        {"progress", no_argument, NULL, 'P'},
        {"no-progress", no_argument, NULL, 'N'},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    search_ctx c = {.fmt = FMT_TABLE, .top = 10, .min_mf = 0, .mw = NAN};
    const char *libpath = NULL;
    bool fail_no_match = false, recursive = false;
    int progress_opt = -1; /* -1: when stderr is a terminal */
    const char *kernel = NULL;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "l:k:f:qvhrj:", opts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 'l':
            libpath = optarg;
            break;
        case 'k': {
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 100000) {
                cli_errorf("--top expects a whole number from 1 to 100000, got '%s'", optarg);
                return EXIT_USAGE;
            }
            c.top = (size_t)v;
            break;
        }
        case 'f':
            if (strcmp(optarg, "table") == 0)
                c.fmt = FMT_TABLE;
            else if (strcmp(optarg, "jsonl") == 0)
                c.fmt = FMT_JSONL;
            else if (strcmp(optarg, "csv") == 0)
                c.fmt = FMT_CSV;
            else if (strcmp(optarg, "tsv") == 0)
                c.fmt = FMT_TSV;
            else {
                cli_errorf("--format expects table, jsonl, csv or tsv, got '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'm': {
            double v = strtod(optarg, &end);
            if (*end || !(v >= 0 && v <= 999)) {
                cli_errorf("--min-mf expects a number from 0 to 999, got '%s'", optarg);
                return EXIT_USAGE;
            }
            c.min_mf = v;
            break;
        }
        case 'F':
            fail_no_match = true;
            break;
        case 'A':
            c.analogues = true;
            break;
        case 'M': {
            double v = strtod(optarg, &end);
            if (*end || !(v >= 1 && v <= SM_MAX_NOMINAL_MZ)) {
                cli_errorf("--mw expects the unknown's molecular weight, a number from 1 to %d, "
                           "got '%s'", SM_MAX_NOMINAL_MZ, optarg);
                return EXIT_USAGE;
            }
            c.mw = v;
            break;
        }
        case 'G':
            c.plot_dir = optarg;
            break;
        case 'r':
            recursive = true;
            break;
        case 'j': {
            long v = strtol(optarg, &end, 10);
            if (*end || v < 0 || v > 1024) {
                cli_errorf("--threads expects a whole number from 0 (all cores) to 1024, got "
                           "'%s'", optarg);
                return EXIT_USAGE;
            }
            c.threads = (unsigned)v;
            break;
        }
        case 'K':
            kernel = optarg;
            break;
        case 'I':
            if (cli_input_format(optarg, &c.input_format) != EXIT_OK)
                return EXIT_USAGE;
            break;
        case 'P':
            progress_opt = 1;
            break;
        case 'N':
            progress_opt = 0;
            break;
        case 'q':
            cli_verbosity = 0;
            break;
        case 'v':
            cli_verbosity = 2;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            fputs("Try 'specmatch search --help'.\n", stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        cli_errorf("no query given; expected one or more MSP files, directories or -");
        fputs("Try 'specmatch search --help'.\n", stderr);
        return EXIT_USAGE;
    }
    if (cli_select_kernel(kernel) != EXIT_OK)
        return EXIT_USAGE;
    if (c.plot_dir && mkdir(c.plot_dir, 0777) != 0 && errno != EEXIST) {
        cli_errorf("--plot %s: cannot create the directory: %s", c.plot_dir, strerror(errno));
        return EXIT_IO;
    }
    c.progress = progress_opt < 0 ? (isatty(STDERR_FILENO) && cli_verbosity > 0)
                                  : progress_opt == 1;
    if (libpath == NULL) {
        libpath = cli_default_library();
        if (libpath == NULL) {
            cli_errorf("no reference library found; build one with 'specmatch library build "
                       "-o LIB.h5 SPECTRA.msp' and pass --library LIB.h5, or set "
                       "SPECMATCH_LIBRARY");
            return EXIT_IO;
        }
    }

    int code = EXIT_OK;
    cli_inputs in = {0};
    sm_library *lib = NULL;
    sm_error err = {0};
    /* --threads bounds the opening too (its chunks decompress on that many) */
    sm_status st = sm_library_open_ex(
        libpath, SM_OPEN_SEARCH_ONLY | SM_OPEN_THREADS(c.threads > 255 ? 255 : c.threads),
        &lib, &err);
    if (st != SM_OK) {
        cli_report(&err);
        code = EXIT_IO;
        goto out;
    }
    cli_verbose("library %s: %zu spectra", libpath, sm_library_size(lib));
    c.lib = lib;
    sm_judge_defaults(&c.judge);
    c.k_search = c.top > SM_ANALOGUE_HITS ? c.top : SM_ANALOGUE_HITS;
    c.n_shifters = c.threads ? c.threads : sm_cpu_count();
    if (c.n_shifters > MAX_JUDGE_THREADS)
        c.n_shifters = MAX_JUDGE_THREADS;
    for (unsigned t = 0; t < c.n_shifters; t++)
        if (sm_shifter_new(&c.shifters[t], &err) != SM_OK) {
            cli_report(&err);
            code = EXIT_IO;
            goto out;
        }
    code = cli_inputs_expand(&in, argv + optind, argc - optind, recursive);
    if (c.fmt == FMT_CSV)
        puts("query,query_name,rank,mf,rmf,name,formula,mw,inchikey,cas,library_id,source,"
             "source_line,verdict,confidence,control");
    else if (c.fmt == FMT_TSV)
        puts("query\tquery_name\trank\tmf\trmf\tname\tformula\tmw\tinchikey\tcas\tlibrary_id\t"
             "source\tsource_line\tverdict\tconfidence\tcontrol");
    for (size_t i = 0; i < in.n; i++)
        code = cli_worse(code, search_file(&c, in.paths[i]));
    if (c.progress && c.searched >= CHUNK)
        progress(&c, true);
    if (fflush(stdout) != 0) {
        cli_errorf("cannot write results to standard output");
        code = EXIT_IO;
    }
    cli_msg("%zu spectr%s read, %zu searched, %zu rejected", c.query,
            c.query == 1 ? "um" : "a", c.searched, c.rejected);
    if (code == EXIT_OK && fail_no_match && c.unmatched > 0)
        code = EXIT_NO_MATCH;
out:
    cli_inputs_free(&in);
    for (unsigned t = 0; t < c.n_shifters; t++)
        sm_shifter_free(c.shifters[t]);
    sm_library_close(lib);
    if (c.plot_dir)
        mirror_cleanup();
    return code;
}
