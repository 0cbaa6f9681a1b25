/* main.c — the specmatch command: dispatches to subcommands from a table. */
#include <string.h>

#include "cli.h"

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"search", cmd_search, "identify spectra against a reference library (default)"},
    {"library", cmd_library, "build or inspect a reference library file"},
};

static void usage(FILE *out)
{
    fputs("usage: specmatch [--version] [--help] COMMAND [ARGS]\n"
          "       specmatch QUERY.msp...          (same as: specmatch search QUERY.msp...)\n"
          "\ncommands:\n",
          out);
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fputs("\nRun 'specmatch COMMAND --help' for a command's options.\n", out);
}

static void version(void)
{
    printf("specmatch %s\n", sm_version());
    printf("HDF5 %s\n", sm_hdf5_version());
    printf("kernel: scalar\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        version();
        return EXIT_OK;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    /* Anything else (a file, -, or search options) is a search. */
    return cmd_search(argc, argv);
}
