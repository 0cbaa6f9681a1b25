/* util.c — messages, exit codes, input expansion, text escaping for the CLI. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int cli_verbosity = 1;

static void vmsg(int level, const char *fmt, va_list ap)
{
    if (cli_verbosity < level)
        return;
    fputs("specmatch: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(1, fmt, ap);
    va_end(ap);
}

void cli_verbose(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(2, fmt, ap);
    va_end(ap);
}

void cli_errorf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("specmatch: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cli_report(const sm_error *err)
{
    if (err->file[0] && err->line)
        fprintf(stderr, "specmatch: error: %s:%lu: %s\n", err->file, err->line, err->message);
    else if (err->file[0])
        fprintf(stderr, "specmatch: error: %s: %s\n", err->file, err->message);
    else
        fprintf(stderr, "specmatch: error: %s\n", err->message);
}

int cli_exit_for(sm_status st)
{
    switch (st) {
    case SM_OK:
    case SM_END:
        return EXIT_OK;
    case SM_ERR_PARSE:
    case SM_ERR_LIMIT:
        return EXIT_DATA;
    case SM_ERR_ARG:
        return EXIT_USAGE;
    default:
        return EXIT_IO;
    }
}

int cli_worse(int a, int b)
{
    static const int rank[] = {[EXIT_OK] = 0, [EXIT_NO_MATCH] = 1, [EXIT_USAGE] = 4,
                               [EXIT_DATA] = 2, [EXIT_IO] = 3};
    return rank[b] > rank[a] ? b : a;
}

static int push(cli_inputs *in, const char *p)
{
    if (in->n == in->cap) {
        size_t c = in->cap ? in->cap * 2 : 16;
        char **q = realloc(in->paths, c * sizeof *q);
        if (q == NULL)
            return -1;
        in->paths = q;
        in->cap = c;
    }
    in->paths[in->n] = strdup(p);
    if (in->paths[in->n] == NULL)
        return -1;
    in->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds the regular files of dir (and of its subfolders when recursive), sorted,
 * skipping hidden entries. */
static int expand_dir(cli_inputs *in, const char *dir, bool recursive, int *code)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        cli_errorf("%s: cannot read directory: %s", dir, strerror(errno));
        *code = cli_worse(*code, EXIT_IO);
        return 0;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **q = realloc(names, cap * sizeof *q);
            if (q == NULL) {
                rc = -1;
                goto out;
            }
            names = q;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        names[n] = malloc(len);
        if (names[n] == NULL) {
            rc = -1;
            goto out;
        }
        snprintf(names[n], len, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/",
                 e->d_name);
        n++;
    }
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct stat st;
        if (stat(names[i], &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (recursive)
                rc = expand_dir(in, names[i], recursive, code);
        } else if (S_ISREG(st.st_mode)) {
            rc = push(in, names[i]);
        }
    }
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return rc;
}

int cli_inputs_expand(cli_inputs *in, char **args, int nargs, bool recursive)
{
    int code = EXIT_OK;
    for (int i = 0; i < nargs; i++) {
        struct stat st;
        if (strcmp(args[i], "-") != 0 && stat(args[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            if (expand_dir(in, args[i], recursive, &code) != 0)
                return EXIT_IO;
        } else if (push(in, args[i]) != 0) {
            return EXIT_IO;
        }
    }
    return code;
}

void cli_inputs_free(cli_inputs *in)
{
    for (size_t i = 0; i < in->n; i++)
        free(in->paths[i]);
    free(in->paths);
    memset(in, 0, sizeof *in);
}

const char *cli_default_library(void)
{
    const char *env = getenv("SPECMATCH_LIBRARY");
    if (env && *env)
        return env;
    static const char *const candidates[] = {SM_BUILD_LIBRARY, SM_INSTALLED_LIBRARY};
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++)
        if (access(candidates[i], R_OK) == 0)
            return candidates[i];
    return NULL;
}

/* Length of the valid UTF-8 sequence at s, or 0 if the bytes there are not one. */
size_t cli_utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n;
    unsigned min;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        n = 2;
        min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3;
        min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    unsigned cp = c & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

void cli_json_str(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    fputc('"', out);
    while (*p) {
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            fputc('\\', out);
            fputc((int)c, out);
            p++;
        } else if (c < 0x20) {
            switch (c) {
            case '\n': fputs("\\n", out); break;
            case '\t': fputs("\\t", out); break;
            case '\r': fputs("\\r", out); break;
            default: fprintf(out, "\\u%04x", c); break;
            }
            p++;
        } else if (c < 0x80) {
            fputc((int)c, out);
            p++;
        } else {
            size_t n = cli_utf8_len(p);
            if (n == 0) {
                fprintf(out, "\\u%04x", c); /* a Latin-1 byte */
                p++;
            } else {
                fwrite(p, 1, n, out);
                p += n;
            }
        }
    }
    fputc('"', out);
}

void cli_csv_str(FILE *out, const char *s)
{
    if (s == NULL)
        s = "";
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

void cli_tsv_str(FILE *out, const char *s)
{
    if (s == NULL)
        return;
    for (; *s; s++)
        fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, out);
}

int cli_select_kernel(const char *name)
{
    sm_error err = {0};
    if (sm_kernel_select(name, &err) != SM_OK) {
        cli_report(&err);
        fputs("Run 'specmatch kernels' to see the kernels this machine can run.\n", stderr);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

int cli_input_format(const char *name, sm_format *out)
{
    sm_error err = {0};
    if (sm_format_from_name(name, out, &err) != SM_OK) {
        cli_errorf("--input-format: %s", err.message);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}
