/* search.c — `specmatch search`: identify query spectra against a reference library. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

enum fmt { FMT_TABLE, FMT_JSONL, FMT_CSV, FMT_TSV };

typedef struct search_ctx {
    const sm_library *lib;
    enum fmt fmt;
    size_t top;
    double min_mf;
    sm_hit *hits;
    size_t query;      /* next query index (every record read counts, good or bad) */
    size_t searched;
    size_t rejected;
    size_t unmatched;
    unsigned threads;  /* 0: all cores */
    sm_format input_format;
    bool progress;
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
        "  -r, --recursive         read directories recursively\n"
        "      --input-format F    msp, msl, jcamp or peaks (default: recognized from\n"
        "                          the content)\n"
        "  -j, --threads N         search threads (default 0: one per core)\n"
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

static void emit_table(search_ctx *c, const sm_spectrum *s, const char *qname,
                       const char *path, size_t q, size_t nh)
{
    const sm_library *lib = c->lib;
    int wname = 4;
    for (size_t j = 0; j < nh; j++) {
        int len = (int)strlen(sm_library_field(lib, c->hits[j].index, SM_FIELD_NAME));
        if (len > wname)
            wname = len;
    }
    if (wname > 48)
        wname = 48;
    printf("Query %zu: %s  (%s, line %lu)\n", q + 1, qname, path, s->line);
    if (nh == 0) {
        printf("  no library spectrum scored at or above MF %g\n\n", c->min_mf);
        return;
    }
    printf("%4s %4s %4s  %-*s  %-16s %6s  %s\n", "Rank", "MF", "RMF", wname, "Name",
           "Formula", "MW", "InChIKey");
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
        printf("%-16s %6s  %s\n", sm_library_field(lib, h->index, SM_FIELD_FORMULA), mw,
               sm_library_field(lib, h->index, SM_FIELD_INCHIKEY));
    }
    putchar('\n');
}

static void emit_hits(search_ctx *c, const sm_spectrum *s, const char *qname,
                      const char *path, size_t q, size_t nh)
{
    const sm_library *lib = c->lib;
    if (c->fmt == FMT_TABLE) {
        emit_table(c, s, qname, path, q, nh);
        return;
    }
    if (c->fmt == FMT_JSONL) {
        /* one record per query, so a query without hits still shows up */
        fprintf(stdout, "{\"type\":\"query\",\"query\":%zu,\"query_name\":", q);
        cli_json_str(stdout, qname);
        fputs(",\"source\":", stdout);
        cli_json_str(stdout, path);
        fprintf(stdout, ",\"source_line\":%lu,\"n_peaks\":%zu,\"hits\":%zu}\n", s->line,
                s->n_peaks, nh);
    }
    for (size_t j = 0; j < nh; j++) {
        const sm_hit *h = &c->hits[j];
        size_t i = h->index;
        if (c->fmt == FMT_JSONL) {
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
            fprintf(stdout, ",\"library_index\":%zu}\n", i);
        } else {
            void (*str)(FILE *, const char *) = c->fmt == FMT_CSV ? cli_csv_str : cli_tsv_str;
            char sep = c->fmt == FMT_CSV ? ',' : '\t';
            fprintf(stdout, "%zu%c", q, sep);
            str(stdout, qname);
            fprintf(stdout, "%c%zu%c%.2f%c%.2f%c", sep, j + 1, sep, h->mf, sep, h->rmf, sep);
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
            putchar(sep);
            str(stdout, path);
            fprintf(stdout, "%c%lu\n", sep, s->line);
        }
    }
}

/* Records are read and searched in chunks: a chunk's spectra go to the threads
 * together, then its results are written in input order. */
#define CHUNK 256

typedef struct rec {
    sm_spectrum s;
    sm_error err;       /* status SM_OK: searched */
    size_t q;           /* query index */
    uint16_t *mz, *in;  /* preprocessed */
    size_t n;
} rec;

static int flush_chunk(search_ctx *c, rec *recs, size_t nrec, const char *label)
{
    int code = EXIT_OK;
    sm_nominal *qs = malloc((nrec ? nrec : 1) * sizeof *qs);
    size_t *slot = malloc((nrec ? nrec : 1) * sizeof *slot);
    size_t *nh = malloc((nrec ? nrec : 1) * sizeof *nh);
    sm_hit *hits = malloc((nrec ? nrec : 1) * c->top * sizeof *hits);
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
    if (sm_search_batch_min(c->lib, qs, nq, c->top, c->min_mf, c->threads, hits, nh, &err) !=
        SM_OK) {
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
        size_t n = nh[slot[r]];
        c->hits = hits + slot[r] * c->top;
        while (n > 0 && c->hits[n - 1].mf < c->min_mf)
            n--;
        if (n == 0)
            c->unmatched++;
        c->searched++;
        emit_hits(c, &x->s, qname, label, x->q, n);
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
    search_ctx c = {.fmt = FMT_TABLE, .top = 10, .min_mf = 0};
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
    sm_status st = sm_library_open_ex(libpath, SM_OPEN_SEARCH_ONLY, &lib, &err);
    if (st != SM_OK) {
        cli_report(&err);
        code = EXIT_IO;
        goto out;
    }
    cli_verbose("library %s: %zu spectra", libpath, sm_library_size(lib));
    c.lib = lib;
    code = cli_inputs_expand(&in, argv + optind, argc - optind, recursive);
    if (c.fmt == FMT_CSV)
        puts("query,query_name,rank,mf,rmf,name,formula,mw,inchikey,cas,library_id,source,"
             "source_line");
    else if (c.fmt == FMT_TSV)
        puts("query\tquery_name\trank\tmf\trmf\tname\tformula\tmw\tinchikey\tcas\tlibrary_id\t"
             "source\tsource_line");
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
    sm_library_close(lib);
    return code;
}
