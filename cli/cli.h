/* cli.h — what the subcommands of the specmatch command share. */
#ifndef SM_CLI_H
#define SM_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "specmatch/specmatch.h"

/* Exit codes, documented in the README and the man page; stable. */
enum {
    EXIT_OK = 0,
    EXIT_NO_MATCH = 1, /* only with --fail-no-match */
    EXIT_USAGE = 2,
    EXIT_DATA = 3,     /* bad input data */
    EXIT_IO = 4,       /* I/O or system error, unusable library file */
};

extern int cli_verbosity; /* 0 quiet, 1 normal, 2 verbose */

void cli_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "specmatch: FILE:LINE: message" from an sm_error. */
void cli_report(const sm_error *err);
/* Exit code an sm_status maps to. */
int cli_exit_for(sm_status st);
/* Keeps the more serious of two exit codes (I/O over data over success). */
int cli_worse(int a, int b);

/* Expands the command line's inputs: files as given, "-" for stdin, directories to
 * their regular files (sorted by name). Errors are reported and counted. */
typedef struct cli_inputs {
    char **paths;
    size_t n;
    size_t cap;
} cli_inputs;
int cli_inputs_expand(cli_inputs *in, char **args, int nargs, bool recursive);
void cli_inputs_free(cli_inputs *in);

/* Default reference library: $SPECMATCH_LIBRARY, the build tree, the data dir. */
const char *cli_default_library(void);

/* JSON string (with quotes) of s: control characters escaped, invalid UTF-8 bytes
 * taken as Latin-1 so that the output is always valid JSON. */
void cli_json_str(FILE *out, const char *s);
/* CSV field (RFC 4180 quoting when needed); TSV field (tabs, newlines -> spaces). */
void cli_csv_str(FILE *out, const char *s);
void cli_tsv_str(FILE *out, const char *s);

/* Applies --kernel NAME (or, for NULL, SPECMATCH_KERNEL / the automatic choice);
 * reports a bad name and returns EXIT_USAGE. */
int cli_select_kernel(const char *name);

/* Parses --input-format NAME; reports a bad name and returns EXIT_USAGE. */
int cli_input_format(const char *name, sm_format *out);

/* How a query is judged (cli_judge): the verdict parameters, --analogues, --mw (NAN
 * when not given) and the MW field of the query (NAN when absent). */
typedef struct cli_judge_opts {
    sm_judge_params judge;
    bool analogues;
    double mw;
    double spectrum_mw;
} cli_judge_opts;
/* The verdict of a query's hits (best first, SM_ANALOGUE_HITS of them when there are),
 * then the analogue analysis for every query with o->analogues, else when the identity
 * search identified nothing; a suspected analogue becomes the verdict only then. */
sm_status cli_judge(const sm_library *lib, sm_shifter *sh, sm_nominal q, const sm_hit *hits,
                    size_t n_hits, const cli_judge_opts *o, sm_verdict *v, sm_analogue *a,
                    bool *analogue_ran, sm_error *err);

int cmd_search(int argc, char **argv);
int cmd_kernels(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_library(int argc, char **argv);
int cmd_eval(int argc, char **argv);

/* "+14: CH2 more (...)": a mass difference and what it may stand for (judge.c). */
void cli_shift_text(int dm, char *buf, size_t cap);
/* Length of the valid UTF-8 sequence at s (no overlong forms, no surrogates), else 0
 * (util.c). */
size_t cli_utf8_len(const unsigned char *s);
int cmd_report(int argc, char **argv);

#endif
