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
    {"report", cmd_report, "write a case report (PDF or HTML) with mirror plots"},
    {"eval", cmd_eval, "measure identification on spectra with known answers"},
    {"convert", cmd_convert, "write spectra as read, as MSP or JSON Lines"},
    {"kernels", cmd_kernels, "list the SIMD kernels and mark the active one"},
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

static int version(void)
{
    printf("specmatch %s\n", sm_version());
    printf("HDF5 %s\n", sm_hdf5_version());
    if (cli_select_kernel(NULL) != EXIT_OK)
        return EXIT_USAGE;
    printf("kernel: %s\n", sm_kernel_active());
    return EXIT_OK;
}

int cmd_kernels(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fputs("usage: specmatch kernels\n"
              "\n"
              "Lists the SIMD kernels built in, best first, whether this CPU can run each,\n"
              "and marks the one in use (chosen automatically, or forced with\n"
              "SPECMATCH_KERNEL=NAME or search --kernel NAME).\n",
              stdout);
        return EXIT_OK;
    }
    if (argc > 1) {
        cli_errorf("kernels takes no arguments");
        return EXIT_USAGE;
    }
    if (cli_select_kernel(NULL) != EXIT_OK)
        return EXIT_USAGE;
    const char *active = sm_kernel_active();
    for (size_t i = 0; i < sm_kernel_count(); i++) {
        const char *name = sm_kernel_name_at(i);
        printf("%c %-8s %s\n", strcmp(name, active) == 0 ? '*' : ' ', name,
               sm_kernel_supported_at(i) ? "supported" : "not supported by this CPU");
    }
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0)
        return version();
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
