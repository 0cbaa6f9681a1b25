/* eval.c — `specmatch eval`: identification rates, verdict accuracy, thresholds and
 * confusions on a reference set with known answers. */
#include <ctype.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <errno.h>
#include <sys/stat.h>

#include "cli.h"
#include "plots.h"

#define KEY 64
#define TOP 5
#define N_THRESH 10

enum score { SCORE_IDENTITY, SCORE_REVERSE, SCORE_COSINE, SCORE_ENTROPY };
static const char *const score_names[] = {"identity", "reverse", "cosine", "entropy"};

typedef struct query {
    char *name;
    char key[KEY];
    uint16_t *mz, *in;
    size_t n;
    size_t exclude;  /* library index left out (replicates), SIZE_MAX */
} query;

typedef struct result {
    bool in_lib, fentanyl;
    bool top1, top5;
    double score;      /* of the top hit, on the score's own scale (MF 0-999, else 0-1) */
    size_t best;       /* library index of the top hit, SIZE_MAX when none */
    sm_verdict_status status;
    bool verdict_right; /* identified as the compound, or an isomer group holding it */
    double confidence;  /* of the verdict (identity score only) */
} result;

typedef struct eval_ctx {
    const sm_library *lib;
    char (*key)[KEY];
    enum score score;
    bool json;
    const char *plots; /* --plots DIR, or NULL */
    size_t rejected;   /* spectra of the set that could not be read (reported) */
    sm_searcher *searcher;
    sm_shifter *shifter;
} eval_ctx;

static void usage(FILE *out)
{
    fputs("usage: specmatch eval [options] (--queries TRUTH.msp... | --replicates)\n"
          "\n"
          "Measures identification on spectra whose compound is known: each query's\n"
          "compound is its InChIKey's first block (deuterated standards apart) or, without\n"
          "one, its name; queries whose compound the library lacks count as negatives.\n"
          "\n"
          "options:\n"
          "  -l, --library FILE.h5   reference library (default as for search)\n"
          "  -Q, --queries FILE      query spectra with known answers (repeatable)\n"
          "      --replicates        in-library replicate test: every library spectrum of a\n"
          "                          compound with two or more spectra, searched without\n"
          "                          itself\n"
          "  -s, --score NAME        identity (default), reverse, cosine or entropy\n"
          "  -f, --format FMT        table (default) or json\n"
          "      --worst N           confusions listed (default 10)\n"
          "      --plots DIR         SVG figures per set: score distributions of right and\n"
          "                          wrong top hits, identification rate against false rate,\n"
          "                          calibration of the confidence\n"
          "  -q, --quiet             only errors on stderr\n"
          "  -h, --help              this help\n"
          "\n"
          "Reports top-1 and top-5 rates, the verdicts (identity score only), the true and\n"
          "false identification rates over score thresholds, a fentanyl-class / other\n"
          "breakdown, the worst confusions, speed and the library's provenance.\n",
          out);
}

static double score_of(enum score sc, sm_nominal q, sm_nominal l)
{
    switch (sc) {
    case SCORE_IDENTITY: return sm_match_factor(q, l, 0);
    case SCORE_REVERSE: return sm_match_factor(q, l, 1);
    case SCORE_COSINE: return sm_cosine_similarity(q, l);
    case SCORE_ENTROPY: return sm_entropy_similarity(q, l);
    }
    return 0;
}

/* A library spectrum's peaks, unpacked: eval runs on one thread and uses each
 * spectrum before it asks for the next. */
static sm_nominal_buf eval_buf;

/* Top hits by a score other than the identity MF: every library spectrum scored. */
static size_t rank_exhaustive(const eval_ctx *c, sm_nominal q, size_t exclude, sm_hit *top,
                              size_t k)
{
    size_t n = 0;
    for (size_t i = 0; i < sm_library_size(c->lib); i++) {
        if (i == exclude)
            continue;
        double s = score_of(c->score, q, sm_library_nominal(c->lib, i, &eval_buf));
        if (n == k && s <= top[k - 1].mf)
            continue;
        size_t pos = n < k ? n++ : k - 1;
        while (pos > 0 && top[pos - 1].mf < s) {
            top[pos] = top[pos - 1];
            pos--;
        }
        top[pos] = (sm_hit){i, s, 0};
    }
    return n;
}

static sm_status evaluate(eval_ctx *c, const query *qs, size_t nq, result *res, sm_error *err)
{
    sm_hit hits[SM_ANALOGUE_HITS];
    for (size_t j = 0; j < nq; j++) {
        const query *x = &qs[j];
        result *r = &res[j];
        memset(r, 0, sizeof *r);
        r->best = SIZE_MAX;
        for (size_t i = 0; i < sm_library_size(c->lib) && !r->in_lib; i++)
            if (i != x->exclude && strcmp(c->key[i], x->key) == 0) {
                r->in_lib = true;
                r->fentanyl = sm_library_fentanyl_class(c->lib, i);
            }
        sm_nominal q = {x->n, x->mz, x->in};
        size_t nh = 0;
        if (c->score == SCORE_IDENTITY) {
            sm_status st = sm_search_nominal(c->searcher, q, SM_ANALOGUE_HITS, x->exclude, hits,
                                             &nh, err);
            if (st != SM_OK)
                return st;
        } else {
            nh = rank_exhaustive(c, q, x->exclude, hits, TOP);
        }
        if (nh == 0) {
            r->status = SM_VERDICT_NO_MATCH;
            continue;
        }
        r->best = hits[0].index;
        r->score = hits[0].mf;
        r->top1 = strcmp(c->key[hits[0].index], x->key) == 0;
        for (size_t t = 0; t < nh && t < TOP; t++)
            r->top5 |= strcmp(c->key[hits[t].index], x->key) == 0;
        if (c->score != SCORE_IDENTITY)
            continue;
        /* the verdict exactly as `specmatch search` gives it */
        sm_verdict v;
        sm_analogue a;
        bool ran;
        cli_judge_opts o = {.analogues = false, .mw = NAN, .spectrum_mw = NAN};
        sm_judge_defaults(&o.judge);
        sm_status st = cli_judge(c->lib, c->shifter, q, hits, nh, &o, &v, &a, &ran, err);
        if (st != SM_OK)
            return st;
        r->status = v.status;
        r->confidence = v.confidence;
        for (size_t g = 0; g < v.n_group; g++)
            r->verdict_right |= strcmp(c->key[hits[v.group[g]].index], x->key) == 0;
    }
    return SM_OK;
}

/* Score thresholds of the table: MF 500..950, or 0.50..0.95 for the 0-1 scores. */
static double threshold(enum score sc, int t)
{
    double v = 500 + 50 * t;
    return sc == SCORE_IDENTITY || sc == SCORE_REVERSE ? v : v / 1000;
}

typedef struct summary {
    size_t n, pos, neg, top1, top5;
    size_t v[2][4][2]; /* [in library][status][right] */
    size_t cls_n[2], cls_top1[2], cls_right[2]; /* [fentanyl] */
    size_t claims[N_THRESH], right_claims[N_THRESH];
} summary;

static void summarize(const result *res, size_t nq, enum score sc, summary *s)
{
    memset(s, 0, sizeof *s);
    for (size_t j = 0; j < nq; j++) {
        const result *r = &res[j];
        s->n++;
        r->in_lib ? s->pos++ : s->neg++;
        if (r->in_lib) {
            s->top1 += r->top1;
            s->top5 += r->top5;
            s->cls_n[r->fentanyl]++;
            s->cls_top1[r->fentanyl] += r->top1;
            s->cls_right[r->fentanyl] += r->verdict_right;
        }
        s->v[r->in_lib][r->status][r->verdict_right]++;
        for (int t = 0; t < N_THRESH; t++)
            if (r->best != SIZE_MAX && r->score >= threshold(sc, t)) {
                s->claims[t]++;
                s->right_claims[t] += r->top1;
            }
    }
}

static double pct(size_t a, size_t b)
{
    return b ? 100.0 * (double)a / (double)b : 0;
}

static int by_score_desc(const void *a, const void *b)
{
    const result *x = *(const result *const *)a, *y = *(const result *const *)b;
    return x->score < y->score ? 1 : (x->score > y->score ? -1 : 0);
}

static void report(const eval_ctx *c, const char *set, const query *qs, const result *res,
                   size_t nq, size_t worst, double seconds, bool first)
{
    const sm_library *lib = c->lib;
    summary s;
    summarize(res, nq, c->score, &s);
    bool idv = c->score == SCORE_IDENTITY;
    /* worst confusions: wrong top hits, highest score first */
    const result **wrong = malloc((nq ? nq : 1) * sizeof *wrong);
    size_t nw = 0;
    for (size_t j = 0; j < nq && wrong; j++)
        if (res[j].best != SIZE_MAX && !res[j].top1)
            wrong[nw++] = &res[j];
    if (wrong)
        qsort(wrong, nw, sizeof *wrong, by_score_desc);
    if (nw > worst)
        nw = worst;
    sm_library_info info;
    sm_library_get_info(lib, &info);

    if (c->json) {
        printf("%s{\"set\":", first ? "" : "\n");
        cli_json_str(stdout, set);
        printf(",\"rejected\":%zu", c->rejected);
        printf(",\"score\":\"%s\",\"queries\":%zu,\"in_library\":%zu,\"not_in_library\":%zu,"
               "\"top1\":%zu,\"top5\":%zu,\"top1_rate\":%.4f,\"top5_rate\":%.4f",
               score_names[c->score], s.n, s.pos, s.neg, s.top1, s.top5,
               s.pos ? (double)s.top1 / (double)s.pos : 0,
               s.pos ? (double)s.top5 / (double)s.pos : 0);
        if (idv) {
            printf(",\"verdicts\":{");
            for (int in = 1; in >= 0; in--) {
                printf("%s\"%s\":{\"identified_right\":%zu,\"identified_wrong\":%zu,"
                       "\"isomers_right\":%zu,\"isomers_wrong\":%zu,\"analogue\":%zu,"
                       "\"no_match\":%zu}",
                       in ? "" : ",", in ? "in_library" : "not_in_library",
                       s.v[in][SM_VERDICT_IDENTIFIED][1], s.v[in][SM_VERDICT_IDENTIFIED][0],
                       s.v[in][SM_VERDICT_ISOMERS][1], s.v[in][SM_VERDICT_ISOMERS][0],
                       s.v[in][SM_VERDICT_ANALOGUE][0] + s.v[in][SM_VERDICT_ANALOGUE][1],
                       s.v[in][SM_VERDICT_NO_MATCH][0] + s.v[in][SM_VERDICT_NO_MATCH][1]);
            }
            putchar('}');
        }
        printf(",\"thresholds\":[");
        for (int t = 0; t < N_THRESH; t++)
            printf("%s{\"score\":%g,\"claims\":%zu,\"right\":%zu,\"true_id_rate\":%.4f,"
                   "\"false_id_rate\":%.4f}",
                   t ? "," : "", threshold(c->score, t), s.claims[t], s.right_claims[t],
                   s.pos ? (double)s.right_claims[t] / (double)s.pos : 0,
                   s.n ? (double)(s.claims[t] - s.right_claims[t]) / (double)s.n : 0);
        printf("],\"by_class\":{");
        for (int f = 1; f >= 0; f--)
            printf("%s\"%s\":{\"queries\":%zu,\"top1\":%zu,\"verdict_right\":%zu}",
                   f ? "" : ",", f ? "fentanyl" : "other", s.cls_n[f], s.cls_top1[f],
                   s.cls_right[f]);
        printf("},\"worst\":[");
        for (size_t w = 0; w < nw; w++) {
            size_t j = (size_t)(wrong[w] - res);
            printf("%s{\"query\":%zu,\"query_name\":", w ? "," : "", j);
            cli_json_str(stdout, qs[j].name);
            fputs(",\"claimed\":", stdout);
            cli_json_str(stdout, sm_library_field(lib, res[j].best, SM_FIELD_NAME));
            printf(",\"score\":%.4f,\"in_library\":%s}", res[j].score,
                   res[j].in_lib ? "true" : "false");
        }
        printf("],\"seconds\":%.3f,\"queries_per_s\":%.1f,\"library\":{\"spectra\":%zu,"
               "\"format\":\"%s %u.%u\",\"tool_version\":",
               seconds, seconds > 0 ? (double)nq / seconds : 0, info.n_spectra,
               info.format_name, info.format_major, info.format_minor);
        cli_json_str(stdout, info.tool_version);
        fputs(",\"checksum\":", stdout);
        cli_json_str(stdout, info.checksum);
        fputs(",\"sources\":[", stdout);
        for (size_t j = 0; j < info.n_sources; j++) {
            const char *path, *sha;
            size_t cnt;
            sm_library_source(lib, j, &path, &sha, &cnt);
            printf("%s{\"path\":", j ? "," : "");
            cli_json_str(stdout, path);
            printf(",\"sha256\":\"%s\",\"spectra\":%zu}", sha, cnt);
        }
        puts("]}}");
        free(wrong);
        return;
    }

    printf("%s%s: %zu quer%s (%zu with their compound in the library, %zu without)",
           first ? "" : "\n", set, s.n, s.n == 1 ? "y" : "ies", s.pos, s.neg);
    if (c->rejected)
        printf(", %zu spectr%s not read (reported on stderr)", c->rejected,
               c->rejected == 1 ? "um" : "a");
    printf(", score: %s\n", score_names[c->score]);
    printf("library: %zu spectra, %s %u.%u, %s", info.n_spectra, info.format_name,
           info.format_major, info.format_minor, info.checksum);
    for (size_t j = 0; j < info.n_sources; j++) {
        const char *path, *sha;
        size_t cnt;
        sm_library_source(lib, j, &path, &sha, &cnt);
        printf("%s%s (sha256 %.16s...)", j ? ", " : "; from ", path, sha);
    }
    printf("\n\nIdentification, %zu queries in the library:\n", s.pos);
    printf("  top-1 %zu (%.1f%%), top-5 %zu (%.1f%%)\n", s.top1, pct(s.top1, s.pos), s.top5,
           pct(s.top5, s.pos));
    if (idv) {
        printf("\nVerdicts                        in library   not in library\n");
        printf("  identified, right             %10zu   %14s\n", s.v[1][SM_VERDICT_IDENTIFIED][1],
               "-");
        printf("  identified, wrong             %10zu   %14zu\n", s.v[1][SM_VERDICT_IDENTIFIED][0],
               s.v[0][SM_VERDICT_IDENTIFIED][0]);
        printf("  isomers holding the compound  %10zu   %14s\n", s.v[1][SM_VERDICT_ISOMERS][1], "-");
        printf("  isomers without it            %10zu   %14zu\n", s.v[1][SM_VERDICT_ISOMERS][0],
               s.v[0][SM_VERDICT_ISOMERS][0]);
        printf("  analogue                      %10zu   %14zu\n",
               s.v[1][SM_VERDICT_ANALOGUE][0] + s.v[1][SM_VERDICT_ANALOGUE][1],
               s.v[0][SM_VERDICT_ANALOGUE][0]);
        printf("  no match                      %10zu   %14zu\n",
               s.v[1][SM_VERDICT_NO_MATCH][0] + s.v[1][SM_VERDICT_NO_MATCH][1],
               s.v[0][SM_VERDICT_NO_MATCH][0]);
    } else {
        printf("\n(verdicts are defined on the identity score only)\n");
    }
    printf("\nThresholds (the top hit is claimed when its score reaches t):\n");
    printf("  %7s  %6s  %6s  %14s  %15s\n", "t", "claims", "right", "true-ID rate",
           "false-ID rate");
    for (int t = 0; t < N_THRESH; t++)
        printf("  %7g  %6zu  %6zu  %13.1f%%  %14.2f%%\n", threshold(c->score, t), s.claims[t],
               s.right_claims[t], pct(s.right_claims[t], s.pos),
               pct(s.claims[t] - s.right_claims[t], s.n));
    printf("  (true-ID rate: right claims / queries in the library; false-ID rate: wrong\n"
           "   claims / all queries)\n");
    printf("\nBy class (queries in the library)  queries  top-1%s\n",
           idv ? "  right verdict" : "");
    for (int f = 1; f >= 0; f--) {
        printf("  %-32s %7zu  %5zu", f ? "fentanyl-class" : "other", s.cls_n[f], s.cls_top1[f]);
        if (idv)
            printf("  %13zu", s.cls_right[f]);
        putchar('\n');
    }
    printf("\nWorst confusions (wrong top hits, highest score first):\n");
    for (size_t w = 0; w < nw; w++) {
        size_t j = (size_t)(wrong[w] - res);
        printf("  %8.*f  %s%s -> %s\n", idv || c->score == SCORE_REVERSE ? 1 : 3, res[j].score,
               qs[j].name, res[j].in_lib ? "" : " (not in library)",
               sm_library_field(lib, res[j].best, SM_FIELD_NAME));
    }
    if (nw == 0)
        printf("  none\n");
    printf("\nSpeed: %zu queries in %.2f s, %.0f queries/s (one thread)\n", nq, seconds,
           seconds > 0 ? (double)nq / seconds : 0);
    free(wrong);
}

/* File name for a set's figure: DIR/SET-SCORE-WHAT.svg, the set's name reduced to
 * letters, digits, '-' and '.' (a path loses its directories). */
static void figure_path(char *out, size_t cap, const char *dir, const char *set,
                        const char *score, const char *what)
{
    const char *base = strrchr(set, '/');
    base = base ? base + 1 : set;
    char clean[128];
    size_t k = 0;
    for (const char *p = base; *p && k + 1 < sizeof clean; p++)
        clean[k++] = (isalnum((unsigned char)*p) || *p == '-' || *p == '.') ? *p : '_';
    clean[k] = '\0';
    snprintf(out, cap, "%s/%s-%s-%s.svg", dir, clean, score, what);
}

/* The figures of one set: score distributions of right and wrong top hits, the
 * identification-rate curve, and (identity score) the calibration of the confidence. */
static int write_plots(const eval_ctx *c, const char *set, const result *res, size_t nq)
{
    bool mf_scale = c->score == SCORE_IDENTITY || c->score == SCORE_REVERSE;
    double top = mf_scale ? 1000 : 1;
    double *right = malloc((nq ? nq : 1) * sizeof *right);
    double *wrong = malloc((nq ? nq : 1) * sizeof *wrong);
    if (!right || !wrong) {
        free(right);
        free(wrong);
        cli_errorf("out of memory");
        return EXIT_IO;
    }
    size_t nr = 0, nw = 0, pos = 0;
    for (size_t j = 0; j < nq; j++) {
        pos += res[j].in_lib;
        if (res[j].best == SIZE_MAX)
            continue;
        if (res[j].top1)
            right[nr++] = res[j].score;
        else
            wrong[nw++] = res[j].score;
    }
    char path[4200], title[512];
    const char *score = score_names[c->score];
    const char *base = strrchr(set, '/');
    set = base ? base + 1 : set; /* titles name the file, not its directories */
    int rc = 0;
    figure_path(path, sizeof path, c->plots, set, score, "scores");
    snprintf(title, sizeof title, "%s: score of the top hit (%s)", set, score);
    rc |= plot_score_histograms(path, title, mf_scale ? "score (MF, 0-999)" : "score (0-1)", 0,
                                top, 20, right, nr, wrong, nw);

    /* identification rate against false identification rate, 5 % of the scale apart */
    enum { NT = 19 };
    double fr[NT], tr[NT], th[NT];
    for (int t = 0; t < NT; t++) {
        th[t] = top * (0.05 + 0.05 * t);
        size_t claims = 0, ok = 0;
        for (size_t j = 0; j < nq; j++)
            if (res[j].best != SIZE_MAX && res[j].score >= th[t]) {
                claims++;
                ok += res[j].top1;
            }
        tr[t] = pos ? 100.0 * (double)ok / (double)pos : 0;
        fr[t] = nq ? 100.0 * (double)(claims - ok) / (double)nq : 0;
    }
    figure_path(path, sizeof path, c->plots, set, score, "rates");
    snprintf(title, sizeof title, "%s: identification rate against false rate (%s)", set, score);
    rc |= plot_rate_curve(path, title, fr, tr, th, NT);

    if (c->score == SCORE_IDENTITY) {
        double pred[10] = {0}, obs[10] = {0}, ece = 0;
        size_t cnt[10] = {0};
        for (size_t j = 0; j < nq; j++) {
            if (res[j].best == SIZE_MAX)
                continue;
            int b = (int)(res[j].confidence * 10);
            b = b < 0 ? 0 : (b > 9 ? 9 : b);
            cnt[b]++;
            pred[b] += res[j].confidence;
            obs[b] += res[j].top1 || res[j].verdict_right;
        }
        size_t total = 0;
        for (int b = 0; b < 10; b++)
            total += cnt[b];
        for (int b = 0; b < 10; b++)
            if (cnt[b]) {
                ece += fabs(pred[b] - obs[b]) / (double)(total ? total : 1);
                pred[b] /= (double)cnt[b];
                obs[b] /= (double)cnt[b];
            }
        figure_path(path, sizeof path, c->plots, set, score, "calibration");
        snprintf(title, sizeof title, "%s: calibration of the confidence", set);
        rc |= plot_calibration(path, title, pred, obs, cnt, 10, ece);
    }
    free(right);
    free(wrong);
    if (rc != 0) {
        cli_errorf("cannot write figures in %s: %s", c->plots, strerror(errno));
        return EXIT_IO;
    }
    return EXIT_OK;
}

static void free_queries(query *qs, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        free(qs[j].name);
        free(qs[j].mz);
        free(qs[j].in);
    }
    free(qs);
}

/* Reads every spectrum of a file as a query; bad records are reported and skipped
 * (counted in the return code). */
static int read_queries(const char *path, query **qs, size_t *n, size_t *cap,
                        size_t *rejected)
{
    sm_reader *r = NULL;
    sm_error e = {0};
    sm_status so = sm_reader_open(path, &r, &e);
    if (so != SM_OK) {
        cli_report(&e);
        return cli_exit_for(so);
    }
    size_t before = *n;
    int code = EXIT_OK;
    sm_spectrum s;
    sm_spectrum_init(&s);
    static uint16_t mz[SM_MAX_NOMINAL_MZ + 1], in[SM_MAX_NOMINAL_MZ + 1];
    sm_status st;
    while ((st = sm_reader_next(r, &s, &e)) != SM_END) {
        if (st == SM_ERR_IO) {
            cli_report(&e);
            code = EXIT_IO;
            break;
        }
        size_t nn = 0;
        if (st == SM_OK)
            st = sm_preprocess(s.peaks, s.n_peaks, mz, in, SM_MAX_NOMINAL_MZ + 1, &nn, &e);
        if (st != SM_OK) {
            if (st != SM_ERR_PARSE && st != SM_ERR_LIMIT)
                e.line = s.line;
            cli_report(&e);
            code = cli_worse(code, EXIT_DATA);
            (*rejected)++;
            continue;
        }
        if (*n == *cap) {
            size_t nc = *cap ? 2 * *cap : 256;
            query *g = realloc(*qs, nc * sizeof *g);
            if (g == NULL) {
                code = EXIT_IO;
                break;
            }
            *qs = g;
            *cap = nc;
        }
        query *x = &(*qs)[(*n)++];
        memset(x, 0, sizeof *x);
        x->exclude = SIZE_MAX;
        x->name = strdup(s.field[SM_FIELD_NAME] ? s.field[SM_FIELD_NAME] : "");
        x->mz = malloc(nn * sizeof *x->mz);
        x->in = malloc(nn * sizeof *x->in);
        if (!x->name || !x->mz || !x->in) {
            code = EXIT_IO;
            break;
        }
        memcpy(x->mz, mz, nn * sizeof *mz);
        memcpy(x->in, in, nn * sizeof *in);
        x->n = nn;
        sm_compound_key(s.field[SM_FIELD_INCHIKEY], s.field[SM_FIELD_NAME],
                        s.field[SM_FIELD_FORMULA], x->key, KEY);
    }
    if (*n == before && *rejected == 0 && code == EXIT_OK) {
        cli_errorf("%s: no spectrum found; expected MSP records starting with a 'Name:' line",
                   path);
        code = EXIT_DATA;
    }
    sm_spectrum_clear(&s);
    sm_reader_close(r);
    return code;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int run_set(eval_ctx *c, const char *set, query *qs, size_t nq, size_t worst, bool first)
{
    result *res = calloc(nq ? nq : 1, sizeof *res);
    if (res == NULL) {
        cli_errorf("out of memory");
        return EXIT_IO;
    }
    sm_error e = {0};
    double t0 = now();
    sm_status st = evaluate(c, qs, nq, res, &e);
    double t = now() - t0;
    if (st != SM_OK) {
        cli_report(&e);
        free(res);
        return EXIT_IO;
    }
    report(c, set, qs, res, nq, worst, t, first);
    int code = c->plots ? write_plots(c, set, res, nq) : EXIT_OK;
    free(res);
    return code;
}

int cmd_eval(int argc, char **argv)
{
    static const struct option opts[] = {
        {"library", required_argument, NULL, 'l'}, {"queries", required_argument, NULL, 'Q'},
        {"replicates", no_argument, NULL, 'R'},   {"score", required_argument, NULL, 's'},
        {"format", required_argument, NULL, 'f'}, {"worst", required_argument, NULL, 'W'},
        {"quiet", no_argument, NULL, 'q'},        {"help", no_argument, NULL, 'h'},
        {"plots", required_argument, NULL, 'P'},
        {NULL, 0, NULL, 0},
    };
    const char *libpath = NULL;
    const char *files[64];
    size_t n_files = 0, worst = 10;
    bool replicates = false;
    eval_ctx c = {0};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "l:Q:s:f:qh", opts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 'l':
            libpath = optarg;
            break;
        case 'Q':
            if (n_files == sizeof files / sizeof files[0]) {
                cli_errorf("at most 64 --queries files");
                return EXIT_USAGE;
            }
            files[n_files++] = optarg;
            break;
        case 'R':
            replicates = true;
            break;
        case 's': {
            size_t k = 0;
            while (k < 4 && strcmp(optarg, score_names[k]) != 0)
                k++;
            if (k == 4) {
                cli_errorf("--score expects identity, reverse, cosine or entropy, got '%s'",
                           optarg);
                return EXIT_USAGE;
            }
            c.score = (enum score)k;
            break;
        }
        case 'f':
            if (strcmp(optarg, "json") == 0)
                c.json = true;
            else if (strcmp(optarg, "table") != 0) {
                cli_errorf("--format expects table or json, got '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'W': {
            long v = strtol(optarg, &end, 10);
            if (*end || v < 0 || v > 100000) {
                cli_errorf("--worst expects a whole number from 0 to 100000, got '%s'", optarg);
                return EXIT_USAGE;
            }
            worst = (size_t)v;
            break;
        }
        case 'P':
            c.plots = optarg;
            break;
        case 'q':
            cli_verbosity = 0;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            fputs("Try 'specmatch eval --help'.\n", stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_errorf("unexpected argument '%s'; query files go with --queries", argv[optind]);
        return EXIT_USAGE;
    }
    if (n_files == 0 && !replicates) {
        cli_errorf("nothing to evaluate; give --queries FILE or --replicates");
        fputs("Try 'specmatch eval --help'.\n", stderr);
        return EXIT_USAGE;
    }
    if (c.plots && mkdir(c.plots, 0777) != 0 && errno != EEXIST) {
        cli_errorf("cannot create the figure directory %s: %s", c.plots, strerror(errno));
        return EXIT_IO;
    }
    if (libpath == NULL && (libpath = cli_default_library()) == NULL) {
        cli_errorf("no reference library found; pass --library LIB.h5 or set SPECMATCH_LIBRARY");
        return EXIT_IO;
    }
    sm_library *lib = NULL;
    sm_error e = {0};
    if (sm_library_open_ex(libpath, SM_OPEN_SEARCH_ONLY, &lib, &e) != SM_OK) {
        cli_report(&e);
        return EXIT_IO;
    }
    int code = EXIT_OK;
    size_t n = sm_library_size(lib);
    c.lib = lib;
    c.key = calloc(n ? n : 1, KEY);
    if (c.key == NULL || sm_searcher_new(lib, &c.searcher, &e) != SM_OK ||
        sm_shifter_new(&c.shifter, &e) != SM_OK) {
        cli_errorf("cannot start the evaluation: %s", e.message);
        code = EXIT_IO;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        sm_compound_key(sm_library_field(lib, i, SM_FIELD_INCHIKEY),
                        sm_library_field(lib, i, SM_FIELD_NAME),
                        sm_library_field(lib, i, SM_FIELD_FORMULA), c.key[i], KEY);
    bool first = true;
    for (size_t f = 0; f < n_files; f++) {
        query *qs = NULL;
        size_t nq = 0, cap = 0;
        size_t rejected = 0;
        int rc = read_queries(files[f], &qs, &nq, &cap, &rejected);
        c.rejected = rejected;
        code = cli_worse(code, rc);
        if (rc != EXIT_IO && nq > 0)
            code = cli_worse(code, run_set(&c, files[f], qs, nq, worst, first));
        first = false;
        free_queries(qs, nq);
    }
    if (replicates) {
        query *qs = calloc(n ? n : 1, sizeof *qs);
        size_t nq = 0;
        for (size_t i = 0; i < n && qs; i++) {
            size_t same = 0;
            for (size_t j = 0; j < n && same < 2; j++)
                same += strcmp(c.key[i], c.key[j]) == 0;
            if (same < 2)
                continue;
            sm_nominal l = sm_library_nominal(lib, i, &eval_buf);
            query *x = &qs[nq++];
            x->name = strdup(sm_library_field(lib, i, SM_FIELD_NAME));
            x->mz = malloc((l.n ? l.n : 1) * sizeof *x->mz);
            x->in = malloc((l.n ? l.n : 1) * sizeof *x->in);
            if (!x->name || !x->mz || !x->in) {
                code = EXIT_IO;
                break;
            }
            memcpy(x->mz, l.mz, l.n * sizeof *l.mz);
            memcpy(x->in, l.intensity, l.n * sizeof *l.intensity);
            x->n = l.n;
            x->exclude = i;
            memcpy(x->key, c.key[i], KEY);
        }
        c.rejected = 0;
        if (qs && code != EXIT_IO)
            code = cli_worse(code, run_set(&c, "replicates", qs, nq, worst, first));
        free_queries(qs, nq);
    }
out:
    sm_shifter_free(c.shifter);
    sm_searcher_free(c.searcher);
    free(c.key);
    sm_library_close(lib);
    return code;
}
