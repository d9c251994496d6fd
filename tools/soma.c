/* soma.c: the command-line tool's entry point: picks the subcommand. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "soma.h"
#include "cli.h"
#include "interrupt.h"
#include "openblas_env.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"train", soma_cmd_train, "train an MLP and save it"},
    {"eval", soma_cmd_eval, "loss and accuracy of a saved model on data"},
    {"predict", soma_cmd_predict, "one prediction per row of data"},
    {"summary", soma_cmd_summary, "layers and parameters of a saved model"},
    {"check", soma_cmd_check, "compare every op on every device with the reference"},
    {"plot", soma_cmd_plot, "draw training curves from a metrics CSV (soma train --log)"},
    {"fetch", soma_cmd_fetch, "download a data set the docs use: soma fetch mnist [DIR]"},
};

static void usage(FILE *to) {
    fprintf(to, "usage: soma <command> [options]   (soma <command> --help for its options)\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(to, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(to, "\n  --version  print the version\n"
                "\nResults go to standard output; progress and errors to standard error.\n"
                "Exit status: 0 success, 1 failure (a failed check, unreadable data, a failed write, ...),\n"
                "2 bad usage, 130 or 143 stopped by SIGINT or SIGTERM.\n");
}

/* Standard output is checked like any file: a result that did not reach it
 * (a full disk, a closed pipe) is a failure, never exit 0. */
static int close_stdout(int code) {
    errno = 0;
    int failed = fflush(stdout) != 0 || ferror(stdout);
    int saved = errno;
    if (fclose(stdout) != 0 && !failed) {
        failed = 1;
        saved = errno;
    }
    if (!failed) return code;
    fprintf(stderr, "soma: writing standard output failed%s%s\n", saved ? ": " : "", saved ? strerror(saved) : "");
    return code ? code : 1;
}

static int run(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("soma %s\n", SOMA_VERSION_STRING);
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        (strcmp(argv[1], "help") == 0 && argc == 2)) {
        usage(stdout);
        return 0;
    }
    char help[] = "--help";
    char *help_argv[] = {argv[0], argv[argc > 2 ? 2 : 1], help, NULL};
    if (strcmp(argv[1], "help") == 0) { /* soma help train == soma train --help */
        argc = 3;
        argv = help_argv;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) {
            int code = commands[i].run(argc - 1, argv + 1);
            soma_shutdown();
            return code;
        }
    fprintf(stderr, "soma: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}

int main(int argc, char **argv) {
    openblas_keep_pool_empty(argv);
    interrupt_install(0); /* a save cut short leaves no temporary file (train asks for more) */
    return close_stdout(run(argc, argv));
}
