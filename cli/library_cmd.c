/* library_cmd.c — `specmatch library build|info`: make and inspect reference library files. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage_build(FILE *out)
{
    fputs("usage: specmatch library build -o LIB.h5 [options] SPECTRA.msp...\n"
          "\n"
          "Builds a reference library file (HDF5, see docs/FORMAT.md) from spectrum\n"
          "files (MSP, AMDIS MSL, JCAMP-DX, peak tables).\n"
          "Each source file's sha256 is kept in the library. The file is written to a\n"
          "temporary name and renamed into place, so an old library stays intact until\n"
          "the new one is complete.\n"
          "\n"
          "options:\n"
          "  -o, --output FILE    library file to write (required)\n"
          "      --skip-bad       leave out spectra that cannot be read (each is reported)\n"
          "                       instead of failing the build\n"
          "      --input-format F msp, msl, jcamp or peaks (default: from the content)\n"
          "      --controls TABLE control-status table (TSV, spectra-library/CONTROLS.md)\n"
          "                       joined to the spectra by compound key and stored in the\n"
          "                       library with its file name and sha256\n"
          "  -q, --quiet          only errors on stderr\n"
          "  -v, --verbose        more messages\n"
          "  -h, --help           this help\n"
          "\n"
          "Exit status: 0 ok, 2 usage, 3 bad input data (nothing written unless --skip-bad;\n"
          "an error in the control table always stops the build), 4 I/O error.\n",
          out);
}

static void usage_info(FILE *out)
{
    fputs("usage: specmatch library info LIB.h5\n"
          "\n"
          "Prints a library file's format version, provenance (tool, date, source files\n"
          "with sha256), preprocessing parameters and content checksum, after verifying\n"
          "the checksum, and the control-status table it was built with (file name,\n"
          "sha256, how many spectra have a row) or \"control table: none\".\n"
          "\n"
          "Exit status: 0 ok, 2 usage, 4 unreadable, damaged or unsupported file.\n",
          out);
}

static void usage_library(FILE *out)
{
    fputs("usage: specmatch library build -o LIB.h5 [--controls TABLE.tsv] SPECTRA.msp...\n"
          "       specmatch library info LIB.h5\n"
          "\n"
          "Run 'specmatch library build --help' or 'specmatch library info --help' for more.\n",
          out);
}

/* Which spectra the control table reaches, counted beside the library's own join
 * (the builder does not report it): the table's keys, sorted, each marked once a
 * spectrum of that compound was added. */
typedef struct table_keys {
    char **key;
    bool *hit;
    size_t n;
    size_t spectra;    /* added spectra whose compound has a row */
    char *kbuf;
    size_t kcap;
} table_keys;

static void table_keys_free(table_keys *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->key[i]);
    free(t->key);
    free(t->hit);
    free(t->kbuf);
    memset(t, 0, sizeof *t);
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The first cell of every row of a table sm_builder_set_controls has accepted:
 * after the comments and the header, each non-blank line is a row. */
static int table_keys_load(table_keys *t, const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *line = NULL;
    size_t cap = 0, kcap = 0;
    ssize_t len;
    bool header = false;
    int code = EXIT_OK;
    if (fp == NULL) {
        cli_errorf("%s: cannot open: %s", path, strerror(errno));
        return EXIT_IO;
    }
    while ((len = getline(&line, &cap, fp)) >= 0) {
        char *s = line;
        if (!header && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
            s += 3;
        s[strcspn(s, "\r\n")] = '\0';
        if (s[0] == '\0' || (!header && s[0] == '#'))
            continue;
        if (!header) {
            header = true;
            continue;
        }
        if (t->n == kcap) {
            kcap = kcap ? kcap * 2 : 64;
            char **q = realloc(t->key, kcap * sizeof *q);
            if (q == NULL)
                goto nomem;
            t->key = q;
        }
        s[strcspn(s, "\t")] = '\0';
        if ((t->key[t->n] = strdup(s)) == NULL)
            goto nomem;
        t->n++;
    }
    qsort(t->key, t->n, sizeof *t->key, cmp_key);
    if ((t->hit = calloc(t->n ? t->n : 1, sizeof *t->hit)) == NULL)
        goto nomem;
    goto out;
nomem:
    cli_errorf("out of memory");
    code = EXIT_IO;
out:
    free(line);
    fclose(fp);
    return code;
}

/* Counts spectrum s, just added, against the table (the same key as the join's). */
static int table_keys_count(table_keys *t, const sm_spectrum *s)
{
    const char *ik = s->field[SM_FIELD_INCHIKEY] ? s->field[SM_FIELD_INCHIKEY] : "";
    const char *name = s->field[SM_FIELD_NAME] ? s->field[SM_FIELD_NAME] : "";
    size_t need = strlen(ik) + strlen(name) + 4;
    if (need > t->kcap) {
        char *k = realloc(t->kbuf, need);
        if (k == NULL)
            return -1;
        t->kbuf = k;
        t->kcap = need;
    }
    sm_compound_key(ik, name, s->field[SM_FIELD_FORMULA], t->kbuf, t->kcap);
    const char *k = t->kbuf;
    char **at = t->n ? bsearch(&k, t->key, t->n, sizeof *t->key, cmp_key) : NULL;
    if (at != NULL) {
        t->hit[at - t->key] = true;
        t->spectra++;
    }
    return 0;
}

static int cmd_build(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"skip-bad", no_argument, NULL, 'S'},
        {"input-format", required_argument, NULL, 'I'},
        {"controls", required_argument, NULL, 'C'},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *output = NULL, *controls = NULL;
    bool skip_bad = false;
    sm_format input_format = SM_FORMAT_AUTO;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:qvh", opts, NULL)) != -1) {
        switch (opt) {
        case 'o': output = optarg; break;
        case 'S': skip_bad = true; break;
        case 'C': controls = optarg; break;
        case 'I':
            if (cli_input_format(optarg, &input_format) != EXIT_OK)
                return EXIT_USAGE;
            break;
        case 'q': cli_verbosity = 0; break;
        case 'v': cli_verbosity = 2; break;
        case 'h': usage_build(stdout); return EXIT_OK;
        default:
            fputs("Try 'specmatch library build --help'.\n", stderr);
            return EXIT_USAGE;
        }
    }
    if (output == NULL || optind >= argc) {
        cli_errorf(output == NULL ? "no output file; expected -o LIB.h5"
                                  : "no input; expected one or more MSP files");
        fputs("Try 'specmatch library build --help'.\n", stderr);
        return EXIT_USAGE;
    }
    for (int i = optind; i < argc; i++) {
        if (strcmp(argv[i], "-") == 0) {
            cli_errorf("library build reads files, not standard input: each source's "
                       "sha256 is recorded");
            return EXIT_USAGE;
        }
    }

    sm_builder *b = NULL;
    sm_error err = {0};
    int code = EXIT_OK;
    size_t rejected = 0;
    cli_inputs in = {0};
    table_keys tk = {0};
    if (sm_builder_new(&b, &err) != SM_OK) {
        cli_report(&err);
        return EXIT_IO;
    }
    /* The table first: a mistake in it stops the build before the spectra are read. */
    if (controls != NULL) {
        sm_status st = sm_builder_set_controls(b, controls, &err);
        if (st != SM_OK) {
            cli_report(&err);
            code = cli_exit_for(st);
            cli_errorf("library not written%s",
                       code == EXIT_DATA ? "; fix the control table" : "");
            goto out;
        }
        if ((code = table_keys_load(&tk, controls)) != EXIT_OK)
            goto out;
    }
    code = cli_inputs_expand(&in, argv + optind, argc - optind, false);
    for (size_t f = 0; f < in.n; f++) {
        const char *path = in.paths[f];
        sm_reader *r = NULL;
        sm_status st = sm_reader_open_format(path, input_format, &r, &err);
        if (st != SM_OK) {
            cli_report(&err);
            code = cli_worse(code, cli_exit_for(st));
            continue;
        }
        size_t before = sm_builder_size(b), records = 0;
        sm_spectrum s;
        sm_spectrum_init(&s);
        while ((st = sm_reader_next(r, &s, &err)) != SM_END) {
            if (st == SM_ERR_IO) {
                cli_report(&err);
                code = cli_worse(code, EXIT_IO);
                break;
            }
            records++;
            if (st == SM_OK) {
                st = sm_builder_add(b, &s, &err);
                if (st != SM_OK)
                    snprintf(err.file, sizeof err.file, "%s", path);
                else if (controls != NULL && table_keys_count(&tk, &s) != 0) {
                    st = err.status = SM_ERR_NOMEM;
                    err.file[0] = '\0';
                    err.line = 0;
                    snprintf(err.message, sizeof err.message, "out of memory");
                }
            }
            if (st != SM_OK) {
                cli_report(&err);
                rejected++;
                if (st == SM_ERR_NOMEM) {
                    code = cli_worse(code, EXIT_IO);
                    break;
                }
                if (!skip_bad)
                    code = cli_worse(code, EXIT_DATA);
            }
        }
        sm_spectrum_clear(&s);
        sm_reader_close(r);
        size_t added = sm_builder_size(b) - before;
        if (records == 0) {
            cli_errorf("%s: no spectrum found; expected MSP records starting with 'Name:'",
                       path);
            code = cli_worse(code, EXIT_DATA);
            continue;
        }
        /* provenance names the file, its sha256 identifies the content */
        if (sm_builder_add_source(b, path, added, &err) != SM_OK) {
            cli_report(&err);
            code = cli_worse(code, EXIT_IO);
        }
        cli_verbose("%s: %zu spectra added", path, added);
    }
    if (code != EXIT_OK) {
        cli_errorf("library not written (%zu spectra rejected)%s", rejected,
                   code == EXIT_DATA ? "; fix the input or use --skip-bad" : "");
        goto out;
    }
    if (sm_builder_size(b) == 0) {
        cli_errorf("no spectrum could be read; library not written");
        code = EXIT_DATA;
        goto out;
    }
    if (sm_builder_write(b, output, &err) != SM_OK) {
        cli_report(&err);
        code = EXIT_IO;
        goto out;
    }
    cli_msg("wrote %s: %zu spectra from %zu file%s%s", output, sm_builder_size(b), in.n,
            in.n == 1 ? "" : "s", rejected ? " (some spectra skipped, see above)" : "");
    if (controls != NULL) {
        size_t matched = 0;
        for (size_t k = 0; k < tk.n; k++)
            matched += tk.hit[k];
        cli_msg("control table %s: %zu of %zu spectra have a row (%zu compound%s); %zu of "
                "%zu table rows match no spectrum",
                controls, tk.spectra, sm_builder_size(b), matched, matched == 1 ? "" : "s",
                tk.n - matched, tk.n);
    }
out:
    table_keys_free(&tk);
    cli_inputs_free(&in);
    sm_builder_free(b);
    return code;
}

static int cmd_info(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (opt == 'h') {
            usage_info(stdout);
            return EXIT_OK;
        }
        fputs("Try 'specmatch library info --help'.\n", stderr);
        return EXIT_USAGE;
    }
    if (optind + 1 != argc) {
        cli_errorf("expected exactly one library file");
        fputs("Try 'specmatch library info --help'.\n", stderr);
        return EXIT_USAGE;
    }
    const char *path = argv[optind];
    sm_library *lib = NULL;
    sm_error err = {0};
    if (sm_library_open(path, &lib, &err) != SM_OK) {
        cli_report(&err);
        return EXIT_IO;
    }
    sm_library_info info;
    sm_library_get_info(lib, &info);
    printf("file:              %s\n", path);
    printf("format:            %s %u.%u\n", info.format_name, info.format_major,
           info.format_minor);
    printf("spectra:           %zu\n", info.n_spectra);
    printf("built by:          %s\n", info.tool_version);
    printf("created:           %s\n", info.created);
    printf("preprocessing:     nominal m/z (fraction > %.3f rounds up), base peak %u\n",
           info.mz_round_boundary, info.base_peak);
    printf("checksum:          %s (verified)\n", info.checksum);
    if (info.stored_index > 0)
        printf("search index:      stored (blocks of %zu), read when the library is opened\n",
               info.index_block);
    else
        printf("search index:      %s; built each time the library is opened (rebuild "
               "it with this specmatch to store one)\n",
               info.stored_index < 0 ? "stored, of another version than this specmatch's"
                                     : "none stored");
    printf("sources:           %zu\n", info.n_sources);
    for (size_t j = 0; j < info.n_sources; j++) {
        const char *p, *h;
        size_t n;
        sm_library_source(lib, j, &p, &h, &n);
        printf("  %s\n    sha256 %s, %zu spectra\n", p, h, n);
    }
    const char *ctl_source, *ctl_sha;
    if (sm_library_has_controls(lib, &ctl_source, &ctl_sha)) {
        size_t listed = 0;
        for (size_t i = 0; i < info.n_spectra; i++)
            listed += sm_library_control_listed(lib, i);
        printf("control table:     %s\n    sha256 %s, %zu of %zu spectra have a row\n",
               ctl_source, ctl_sha, listed, info.n_spectra);
    } else {
        printf("control table:     none\n");
    }
    sm_library_close(lib);
    return EXIT_OK;
}

int cmd_library(int argc, char **argv)
{
    if (argc < 2) {
        usage_library(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "build") == 0)
        return cmd_build(argc - 1, argv + 1);
    if (strcmp(argv[1], "info") == 0)
        return cmd_info(argc - 1, argv + 1);
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage_library(stdout);
        return EXIT_OK;
    }
    cli_errorf("unknown library command '%s'; expected build or info", argv[1]);
    return EXIT_USAGE;
}
