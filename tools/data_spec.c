/* data_spec.c: see data_spec.h. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_spec.h"

static int fail(const char *command, const char *what) {
    fprintf(stderr, "soma %s: %s\n", command, what);
    return 1;
}

static int load_mnist(const char *command, data_part part, data_source *out) {
    char dir[1024], images[1100], labels[1100];
    const char *root = getenv("SOMA_DATA");
    const char *home = getenv("HOME");
    if (root && *root)
        snprintf(dir, sizeof dir, "%s/mnist", root);
    else
        snprintf(dir, sizeof dir, "%s/.cache/soma/mnist", home ? home : ".");
    const char *prefix = part == DATA_TRAIN ? "train" : "t10k";
    snprintf(images, sizeof images, "%s/%s-images-idx3-ubyte", dir, prefix);
    snprintf(labels, sizeof labels, "%s/%s-labels-idx1-ubyte", dir, prefix);
    FILE *probe = fopen(images, "rb");
    if (!probe) {
        fprintf(stderr, "soma %s: MNIST is not in %s: fetch it with scripts/fetch-mnist.sh (or set SOMA_DATA)\n",
                command, dir);
        return 1;
    }
    fclose(probe);
    if (soma_dataset_load_idx(images, labels, &out->data) != SOMA_OK) return fail(command, soma_last_error());
    out->default_norm = SOMA_NORM_SCALE01;
    snprintf(out->name, sizeof out->name, "mnist (%s)", part == DATA_TRAIN ? "train" : "test");
    return 0;
}

static int load_csv(const char *command, const char *spec, data_source *out) {
    char path[1024];
    snprintf(path, sizeof path, "%s", spec);
    soma_csv_options opt = {.header = -1, .label_column = -1};
    char *comma = strstr(path, ",label=");
    if (comma) {
        *comma = '\0';
        const char *col = comma + 7;
        if (!*col) return fail(command, "--data csv:PATH,label=COL needs a column index or name");
        char *end;
        errno = 0;
        long long index = strtoll(col, &end, 10);
        if (!*end) { /* a number: a column index, which must fit the int the reader takes */
            if (index < 0 || index > INT_MAX || errno == ERANGE) {
                fprintf(stderr, "soma %s: --data csv:PATH,label=%s: a column index counts from 0 and is at most %d\n",
                        command, col, INT_MAX);
                return 1;
            }
            opt.label_column = (int)index;
        } else {
            opt.label_name = col;
        }
    }
    if (!path[0]) return fail(command, "--data csv:PATH needs a path");
    if (soma_dataset_load_csv(path, &opt, &out->data) != SOMA_OK) return fail(command, soma_last_error());
    out->default_norm = SOMA_NORM_STANDARDIZE;
    snprintf(out->name, sizeof out->name, "%.50s", path);
    return 0;
}

static int load_idx(const char *command, const char *spec, data_source *out) {
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", spec);
    char *comma = strchr(buf, ',');
    if (!comma || comma == buf || !comma[1])
        return fail(command, "--data idx:IMAGES,LABELS needs two paths separated by a comma");
    *comma = '\0';
    if (soma_dataset_load_idx(buf, comma + 1, &out->data) != SOMA_OK) return fail(command, soma_last_error());
    out->default_norm = SOMA_NORM_SCALE01;
    snprintf(out->name, sizeof out->name, "%.50s", buf);
    return 0;
}

int data_spec_load(const char *command, const char *spec, data_part part, data_source *out) {
    memset(out, 0, sizeof *out);
    if (!spec) return fail(command, "--data is required (mnist, csv:PATH[,label=COL] or idx:IMAGES,LABELS)");
    if (strcmp(spec, "mnist") == 0) return load_mnist(command, part, out);
    if (strncmp(spec, "csv:", 4) == 0) return load_csv(command, spec + 4, out);
    if (strncmp(spec, "idx:", 4) == 0) return load_idx(command, spec + 4, out);
    fprintf(stderr, "soma %s: unknown --data '%s' (expected mnist, csv:PATH[,label=COL] or idx:IMAGES,LABELS)\n",
            command, spec);
    return 1;
}
