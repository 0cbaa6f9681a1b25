/* convert.c — `specmatch convert`: write what was read, as MSP or JSON Lines, so a round trip can be checked. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *out)
{
    fputs("usage: specmatch convert --to msp|jsonl [options] INPUT...\n"
          "\n"
          "Reads spectra (MSP, AMDIS MSL, JCAMP-DX, peak tables) and writes them to\n"
          "standard output exactly as read (peaks\n"
          "unchanged, not preprocessed), as MSP or as JSON Lines. INPUT is a file, a\n"
          "directory (its files) or - for standard input. A spectrum that cannot be read\n"
          "is reported on stderr (and as an error record in JSON Lines); the others go on.\n"
          "\n"
          "options:\n"
          "  -t, --to FMT     msp or jsonl (required)\n"
          "  -r, --recursive  read directories recursively\n"
          "      --input-format F  msp, msl, jcamp or peaks (default: from the content)\n"
          "  -q, --quiet      only errors on stderr\n"
          "  -h, --help       this help\n"
          "\n"
          "Exit status: 0 ok, 2 usage, 3 bad input data, 4 I/O error.\n",
          out);
}

/* Shortest decimal that reads back as the same double. */
static void put_num(FILE *out, double v)
{
    char buf[64];
    if (v == floor(v) && fabs(v) < 1e15) {
        fprintf(out, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, out);
}

static const char *const msp_keys[SM_FIELD_COUNT] = {
    "Name", "Synon", "InChIKey", "Formula", "CASNO", "ID", "Comment", "License",
};

/* MW and ExactMass lines, where the record has them (after the formula). */
static void put_masses(const sm_spectrum *s)
{
    const char *key[2] = {"MW", "ExactMass"};
    double v[2] = {s->mw, s->exact_mass};
    for (int j = 0; j < 2; j++) {
        if (isnan(v[j]))
            continue;
        printf("%s: ", key[j]);
        put_num(stdout, v[j]);
        putchar('\n');
    }
}

static void write_msp(const sm_spectrum *s)
{
    for (int f = 0; f < SM_FIELD_COUNT; f++) {
        const char *v = s->field[f];
        if (v == NULL)
            continue;
        /* multi-line fields (synonyms, comments) go out one line each */
        const char *p = v;
        do {
            const char *nl = strchr(p, '\n');
            size_t len = nl ? (size_t)(nl - p) : strlen(p);
            printf("%s: %.*s\n", msp_keys[f], (int)len, p);
            p = nl ? nl + 1 : NULL;
        } while (p);
        if (f == SM_FIELD_FORMULA)
            put_masses(s);
    }
    if (s->field[SM_FIELD_FORMULA] == NULL)
        put_masses(s);
    printf("Num Peaks: %zu\n", s->n_peaks);
    for (size_t k = 0; k < s->n_peaks; k++) {
        put_num(stdout, s->peaks[k].mz);
        putchar(' ');
        put_num(stdout, s->peaks[k].intensity);
        putchar('\n');
    }
    putchar('\n');
}

static void write_jsonl(const sm_spectrum *s, size_t index, const char *label)
{
    printf("{\"type\":\"spectrum\",\"index\":%zu,\"source\":", index);
    cli_json_str(stdout, label);
    printf(",\"source_line\":%lu", s->line);
    for (int f = 0; f < SM_FIELD_COUNT; f++) {
        if (s->field[f] == NULL)
            continue;
        printf(",\"%s\":", sm_field_name((sm_field)f));
        cli_json_str(stdout, s->field[f]);
    }
    if (!isnan(s->mw)) {
        fputs(",\"mw\":", stdout);
        put_num(stdout, s->mw);
    }
    if (!isnan(s->exact_mass)) {
        fputs(",\"exact_mass\":", stdout);
        put_num(stdout, s->exact_mass);
    }
    printf(",\"n_peaks\":%zu,\"peaks\":[", s->n_peaks);
    for (size_t k = 0; k < s->n_peaks; k++) {
        printf("%s[", k ? "," : "");
        put_num(stdout, s->peaks[k].mz);
        putchar(',');
        put_num(stdout, s->peaks[k].intensity);
        putchar(']');
    }
    fputs("]}\n", stdout);
}

int cmd_convert(int argc, char **argv)
{
    static const struct option opts[] = {
        {"to", required_argument, NULL, 't'},
        {"recursive", no_argument, NULL, 'r'},
        {"input-format", required_argument, NULL, 'I'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int to = -1; /* 0 msp, 1 jsonl */
    bool recursive = false;
    sm_format input_format = SM_FORMAT_AUTO;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "t:rqh", opts, NULL)) != -1) {
        switch (opt) {
        case 't':
            if (strcmp(optarg, "msp") == 0)
                to = 0;
            else if (strcmp(optarg, "jsonl") == 0)
                to = 1;
            else {
                cli_errorf("--to expects msp or jsonl, got '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'r': recursive = true; break;
        case 'I':
            if (cli_input_format(optarg, &input_format) != EXIT_OK)
                return EXIT_USAGE;
            break;
        case 'q': cli_verbosity = 0; break;
        case 'h': usage(stdout); return EXIT_OK;
        default:
            fputs("Try 'specmatch convert --help'.\n", stderr);
            return EXIT_USAGE;
        }
    }
    if (to < 0 || optind >= argc) {
        cli_errorf(to < 0 ? "no output format; expected --to msp or --to jsonl"
                          : "no input; expected one or more files, directories or -");
        fputs("Try 'specmatch convert --help'.\n", stderr);
        return EXIT_USAGE;
    }
    cli_inputs in = {0};
    int code = cli_inputs_expand(&in, argv + optind, argc - optind, recursive);
    size_t index = 0, bad = 0;
    sm_spectrum s;
    sm_spectrum_init(&s);
    for (size_t f = 0; f < in.n; f++) {
        sm_error err = {0};
        sm_reader *r = NULL;
        sm_status st = sm_reader_open_format(in.paths[f], input_format, &r, &err);
        if (st != SM_OK) {
            cli_report(&err);
            code = cli_worse(code, cli_exit_for(st));
            continue;
        }
        const char *label = strcmp(in.paths[f], "-") == 0 ? "<stdin>" : in.paths[f];
        size_t found = 0;
        while ((st = sm_reader_next(r, &s, &err)) != SM_END) {
            if (st == SM_ERR_IO) {
                cli_report(&err);
                code = cli_worse(code, EXIT_IO);
                break;
            }
            found++;
            size_t i = index++;
            if (st != SM_OK) {
                cli_report(&err);
                bad++;
                code = cli_worse(code, cli_exit_for(st));
                if (to == 1) {
                    printf("{\"type\":\"error\",\"index\":%zu,\"source\":", i);
                    cli_json_str(stdout, err.file);
                    printf(",\"line\":%lu,\"message\":", err.line);
                    cli_json_str(stdout, err.message);
                    fputs("}\n", stdout);
                }
                continue;
            }
            if (to == 0)
                write_msp(&s);
            else
                write_jsonl(&s, i, label);
        }
        if (found == 0 && code == EXIT_OK) {
            cli_errorf("%s: no spectrum found", label);
            code = EXIT_DATA;
        }
        sm_reader_close(r);
    }
    sm_spectrum_clear(&s);
    cli_inputs_free(&in);
    if (fflush(stdout) != 0) {
        cli_errorf("cannot write to standard output");
        code = EXIT_IO;
    }
    cli_msg("%zu spectr%s read, %zu written, %zu rejected", index, index == 1 ? "um" : "a",
            index - bad, bad);
    return code;
}
