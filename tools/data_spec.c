/* data_spec.c: see data_spec.h. */
#define _POSIX_C_SOURCE 200809L /* access */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data_spec.h"

/* A new string: the printf of fmt (NULL when out of memory). */
static char *format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *format(const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(NULL, 0, fmt, args);
    va_end(args);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!s) return NULL;
    va_start(args, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, args);
    va_end(args);
    return s;
}

static char *copy_of(const char *s, size_t n) {
    char *c = malloc(n + 1);
    if (c) {
        memcpy(c, s, n);
        c[n] = '\0';
    }
    return c;
}

static int usage(const char *command, const char *spec, const char *why) {
    fprintf(stderr, "soma %s: --data '%s': %s\n", command, spec, why);
    return 2;
}

static int out_of_memory(const char *command) {
    fprintf(stderr, "soma %s: out of memory\n", command);
    return 1;
}

/* label=COL: a column index or header name, or none (predict: features only) */
static int parse_label(const char *command, const char *spec, const char *col, data_spec *out) {
    if (!*col) return usage(command, spec, "label= needs a column index or name");
    if (!(out->label = copy_of(col, strlen(col)))) return out_of_memory(command);
    if (strcmp(col, "none") == 0) { /* the last column is read as the target, then joined back */
        if (strcmp(command, "predict") != 0)
            return usage(command, spec, "label=none: only predict reads features alone; this command needs targets");
        out->no_label = 1;
        return 0;
    }
    char *end;
    errno = 0;
    long long index = strtoll(col, &end, 10);
    if (*end || (col[0] != '-' && (col[0] < '0' || col[0] > '9'))) { /* not a number: a column name */
        out->csv.label_name = out->label;
        return 0;
    }
    if (index < 0 || index > INT_MAX || errno == ERANGE) {
        fprintf(stderr, "soma %s: --data csv:PATH,label=%s: a column index counts from 0 and is at most %d\n",
                command, col, INT_MAX);
        return 2;
    }
    out->csv.label_column = (int)index;
    return 0;
}

/* The last occurrence of key in [text, end), or NULL. */
static const char *last_before(const char *text, const char *end, const char *key) {
    const char *last = NULL;
    for (const char *p = strstr(text, key); p && p < end; p = strstr(p + 1, key)) last = p;
    return last;
}

/* csv:PATH[,label=COL][,sep=C]: options are taken from the end (the last
 * ",label=" or ",sep=" starts the last one), so a path may hold either, and
 * sep=, is a comma */
static int parse_csv(const char *command, const char *spec, const char *rest, data_spec *out) {
    out->csv = (soma_csv_options){.header = -1, .label_column = -1};
    const char *end = rest + strlen(rest), *label = NULL, *sep = NULL;
    for (;;) {
        const char *l = last_before(rest, end, ",label="), *d = last_before(rest, end, ",sep=");
        const char *option = !l ? d : !d ? l : l > d ? l : d;
        if (!option) break;
        if ((option == l && label) || (option == d && sep))
            return usage(command, spec, option == l ? "label= is given twice" : "sep= is given twice");
        if (option == l) label = option;
        else sep = option;
        /* each option's value runs to the start of the one after it */
        if (option == d) {
            size_t n = (size_t)(end - (option + 5));
            const char *v = option + 5;
            if (n == 3 && strncmp(v, "tab", 3) == 0) out->csv.delimiter = '\t';
            else if (n == 1 && !strchr("0123456789.+-\"\r\n", *v) && (*v < 'a' || *v > 'z') && (*v < 'A' || *v > 'Z'))
                out->csv.delimiter = *v;
            else
                return usage(command, spec, "sep= takes one character that is not part of a number (, ; | or "
                             "a blank), or tab");
        }
        end = option;
    }
    size_t path_len = (size_t)(end - rest);
    if (path_len == 0) return usage(command, spec, "csv:PATH needs a path");
    if (!(out->path = copy_of(rest, path_len))) return out_of_memory(command);
    if (!label) return 0;
    const char *label_end = sep && sep > label ? sep : rest + strlen(rest);
    char *col = copy_of(label + 7, (size_t)(label_end - (label + 7)));
    if (!col) return out_of_memory(command);
    int code = parse_label(command, spec, col, out);
    free(col);
    return code;
}

/* idx:IMAGES,LABELS; the last comma separates them, so the images' path may hold one */
static int parse_idx(const char *command, const char *spec, const char *rest, data_spec *out) {
    const char *comma = strrchr(rest, ',');
    if (!comma || comma == rest || !comma[1])
        return usage(command, spec, out->kind == DATA_NPY ? "npy:FEATURES,TARGETS needs two .npy paths separated by a comma"
                                                          : "idx:IMAGES,LABELS needs two paths separated by a comma");
    if (!(out->path = copy_of(rest, (size_t)(comma - rest))) || !(out->labels = copy_of(comma + 1, strlen(comma + 1))))
        return out_of_memory(command);
    return 0;
}

int data_spec_parse(const char *command, const char *spec, data_spec *out) {
    memset(out, 0, sizeof *out);
    int code = 2;
    if (!spec) {
        fprintf(stderr, "soma %s: --data is required (mnist, csv:PATH[,label=COL], idx:IMAGES,LABELS, npy:X,Y or npz:PATH)\n", command);
    } else if (strcmp(spec, "mnist") == 0) {
        out->kind = DATA_MNIST;
        code = 0;
    } else if (strncmp(spec, "csv:", 4) == 0) {
        out->kind = DATA_CSV;
        code = parse_csv(command, spec, spec + 4, out);
    } else if (strncmp(spec, "idx:", 4) == 0) {
        out->kind = DATA_IDX;
        code = parse_idx(command, spec, spec + 4, out);
    } else if (strncmp(spec, "npy:", 4) == 0) { /* two paths, as idx: */
        out->kind = DATA_NPY;
        code = parse_idx(command, spec, spec + 4, out);
    } else if (strncmp(spec, "npz:", 4) == 0) {
        out->kind = DATA_NPZ;
        code = spec[4] ? 0 : usage(command, spec, "npz:PATH needs a path");
        if (!code && !(out->path = copy_of(spec + 4, strlen(spec + 4)))) code = out_of_memory(command);
    } else {
        fprintf(stderr, "soma %s: unknown --data '%s' (expected mnist, csv:PATH[,label=COL], idx:IMAGES,LABELS, npy:FEATURES,TARGETS or npz:PATH)\n",
                command, spec);
    }
    if (code) data_spec_free(out);
    return code;
}

void data_spec_free(data_spec *s) {
    free(s->path);
    free(s->labels);
    free(s->label);
    memset(s, 0, sizeof *s);
}

/* $SOMA_DATA/mnist, or ~/.cache/soma/mnist */
static char *mnist_dir(void) {
    const char *root = getenv("SOMA_DATA"), *home = getenv("HOME");
    if (root && *root) return format("%s/mnist", root);
    return format("%s/.cache/soma/mnist", home ? home : ".");
}

int data_spec_files(const data_spec *s, data_part part, char *files[2]) {
    files[0] = files[1] = NULL;
    if (s->kind == DATA_CSV || s->kind == DATA_NPZ) {
        files[0] = copy_of(s->path, strlen(s->path));
        return files[0] ? 1 : 0;
    }
    if (s->kind == DATA_IDX || s->kind == DATA_NPY) {
        files[0] = copy_of(s->path, strlen(s->path));
        files[1] = copy_of(s->labels, strlen(s->labels));
    } else {
        char *dir = mnist_dir();
        const char *prefix = part == DATA_TRAIN ? "train" : "t10k";
        files[0] = dir ? format("%s/%s-images-idx3-ubyte", dir, prefix) : NULL;
        files[1] = dir ? format("%s/%s-labels-idx1-ubyte", dir, prefix) : NULL;
        free(dir);
    }
    if (files[0] && files[1]) return 2;
    free(files[0]);
    free(files[1]);
    files[0] = files[1] = NULL;
    return 0;
}

int data_spec_load(const char *command, const data_spec *s, data_part part, data_source *out) {
    memset(out, 0, sizeof *out);
    char *files[2];
    int n = data_spec_files(s, part, files);
    if (n == 0) return out_of_memory(command);
    soma_status st;
    if (s->kind == DATA_MNIST && access(files[0], F_OK) != 0) {
        char *dir = mnist_dir();
        fprintf(stderr, "soma %s: MNIST is not in %s: fetch it with `soma fetch mnist` (or set SOMA_DATA)\n",
                command, dir ? dir : "$SOMA_DATA/mnist");
        free(dir);
        free(files[0]);
        free(files[1]);
        return 1;
    }
    if (s->kind == DATA_CSV) {
        st = soma_dataset_load_csv(files[0], &s->csv, &out->data);
        out->default_norm = SOMA_NORM_STANDARDIZE;
        out->name = copy_of(files[0], strlen(files[0]));
    } else if (s->kind == DATA_NPY || s->kind == DATA_NPZ) {
        st = s->kind == DATA_NPY ? soma_dataset_load_npy(files[0], files[1], &out->data)
                                 : soma_dataset_load_npz(files[0], NULL, NULL, &out->data);
        out->default_norm = SOMA_NORM_STANDARDIZE;
        out->name = copy_of(files[0], strlen(files[0]));
    } else {
        st = soma_dataset_load_idx(files[0], files[1], &out->data);
        out->default_norm = SOMA_NORM_SCALE01;
        out->name = s->kind == DATA_MNIST ? format("mnist (%s)", part == DATA_TRAIN ? "train" : "test")
                                          : copy_of(files[0], strlen(files[0]));
    }
    free(files[0]);
    free(files[1]);
    if (st != SOMA_OK) {
        fprintf(stderr, "soma %s: %s\n", command, soma_last_error());
        data_source_free(out);
        return 1;
    }
    if (!out->name) {
        data_source_free(out);
        return out_of_memory(command);
    }
    if (s->no_label && data_source_all_features(command, out)) {
        data_source_free(out);
        return 1;
    }
    return 0;
}

int data_source_all_features(const char *command, data_source *src) {
    soma_dataset *old = src->data, *all = NULL;
    int64_t rows = soma_dataset_rows(old), features = soma_dataset_features(old);
    if (soma_dataset_targets(old) != 1) {
        fprintf(stderr, "soma %s: %s has %lld target columns; features only needs one\n", command, src->name,
                (long long)soma_dataset_targets(old));
        return 1;
    }
    if (soma_dataset_create(rows, features + 1, 1, &all) != SOMA_OK) {
        fprintf(stderr, "soma %s: %s\n", command, soma_last_error());
        return 1;
    }
    const float *x = soma_dataset_feature_data_const(old), *y = soma_dataset_target_data_const(old);
    float *to = soma_dataset_feature_data(all);
    for (int64_t i = 0; i < rows; i++) {
        memcpy(to + i * (features + 1), x + i * features, (size_t)features * sizeof *to);
        to[i * (features + 1) + features] = y[i];
    }
    soma_dataset_free(old);
    src->data = all;
    return 0;
}

void data_source_free(data_source *src) {
    soma_dataset_free(src->data);
    free(src->name);
    memset(src, 0, sizeof *src);
}
