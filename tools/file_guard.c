/* file_guard.c: see file_guard.h. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_guard.h"
#include "io/files.h"
#include "soma.h"

static void add(file_guard *g, const char *option, const char *path, int output) {
    if (!path) return;
    if (g->n == GUARD_MAX_FILES) {
        g->failed = 1;
        return;
    }
    char *copy = strdup(path);
    if (!copy) g->failed = 1;
    else g->files[g->n++] = (guarded_file){option, copy, output};
}

void guard_input(file_guard *g, const char *option, const char *path) { add(g, option, path, 0); }

void guard_output(file_guard *g, const char *option, const char *path, int in_place) {
    add(g, option, path, in_place ? 2 : 1);
}

void guard_allow_same(file_guard *g, const char *input_option, const char *output_option) {
    g->same_input = input_option;
    g->same_output = output_option;
}

void guard_free(file_guard *g) {
    for (int i = 0; i < g->n; i++) free(g->files[i].path);
    memset(g, 0, sizeof *g);
}

/* What a path names: an existing file by device and inode, a file still to
 * be created by its directory's device and inode and its name. */
typedef struct identity {
    int known, exists;
    dev_t dev;
    ino_t ino;
    char *name; /* the last component, for a file still to be created */
} identity;

static identity identify(const char *path) {
    identity id = {0};
    char *target = soma_file_resolve(path);
    struct stat st;
    if (!target) return id;
    if (stat(target, &st) == 0) {
        id = (identity){.known = 1, .exists = 1, .dev = st.st_dev, .ino = st.st_ino};
    } else {
        char *slash = strrchr(target, '/');
        const char *name = slash ? slash + 1 : target;
        char *dir = slash == target ? strdup("/") : slash ? strndup(target, (size_t)(slash - target)) : strdup(".");
        if (dir && stat(dir, &st) == 0 && (id.name = strdup(name)))
            id = (identity){.known = 1, .dev = st.st_dev, .ino = st.st_ino, .name = id.name};
        free(dir);
    }
    free(target);
    return id;
}

static int same(const identity *a, const identity *b) {
    return a->known && b->known && a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
           (a->exists || strcmp(a->name, b->name) == 0);
}

static const char *role(const guarded_file *f) { return f->output ? "output" : "input"; }

int guard_check(const file_guard *g, const char *command) {
    if (g->failed) {
        fprintf(stderr, "soma %s: out of memory checking the files\n", command);
        return 1;
    }
    identity ids[GUARD_MAX_FILES];
    for (int i = 0; i < g->n; i++) ids[i] = identify(g->files[i].path);
    int code = 0;
    /* every output against every other file */
    for (int i = 0; i < g->n && !code; i++)
        for (int j = 0; j < g->n && !code; j++) {
            const guarded_file *a = &g->files[i], *b = &g->files[j];
            if (j == i || !a->output || (b->output && j < i) || !same(&ids[i], &ids[j])) continue;
            if (g->same_output && strcmp(a->option, g->same_output) == 0 && !b->output &&
                strcmp(b->option, g->same_input) == 0)
                continue;
            if (b->output)
                fprintf(stderr, "soma %s: %s %s and %s %s are the same file: one output would overwrite the other\n",
                        command, a->option, a->path, b->option, b->path);
            else
                fprintf(stderr, "soma %s: %s %s is the %s file %s: an output never replaces an input\n", command,
                        a->option, a->path, b->option, b->path);
            code = 2;
        }
    /* standard output, when it is a file: shell redirection already truncated it */
    struct stat out;
    if (!code && fstat(STDOUT_FILENO, &out) == 0 && S_ISREG(out.st_mode))
        for (int i = 0; i < g->n && !code; i++)
            if (ids[i].exists && ids[i].dev == out.st_dev && ids[i].ino == out.st_ino) {
                fprintf(stderr, "soma %s: standard output goes to the %s file of %s (%s)\n", command,
                        role(&g->files[i]), g->files[i].option, g->files[i].path);
                code = 2;
            }
    /* every output can be written, before any work */
    for (int i = 0; i < g->n && !code; i++) {
        const guarded_file *f = &g->files[i];
        if (f->output && soma_output_probe(f->option, f->path, f->output == 2) != SOMA_OK) {
            fprintf(stderr, "soma %s: %s\n", command, soma_last_error());
            code = 1;
        }
    }
    for (int i = 0; i < g->n; i++) free(ids[i].name);
    return code;
}
