/* labels.c: see labels.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labels.h"
#include "soma/status.h"

#define MAX_CLASS 4095 /* as soma_dataset_classes: more "classes" than this is regression */

static int is_class_index(float t) { return t >= 0.0f && t <= (float)MAX_CLASS && t == floorf(t); }

int labels_examine(const char *command, const soma_dataset *ds, const char *loss_given, int outputs_from_labels,
                   int64_t *classes) {
    *classes = 0;
    if (soma_dataset_targets(ds) != 1) return 0;
    const float *y = soma_dataset_target_data_const(ds);
    int64_t rows = soma_dataset_rows(ds), integers = 0, first_other = -1, distinct = 0, largest = 0;
    unsigned char seen[MAX_CLASS + 1] = {0};
    for (int64_t i = 0; i < rows; i++) {
        if (!is_class_index(y[i])) {
            if (first_other < 0) first_other = i;
            continue;
        }
        int64_t k = (int64_t)y[i];
        integers++;
        distinct += !seen[k];
        seen[k] = 1;
        if (k > largest) largest = k;
    }
    if (integers < rows) {
        int classify = loss_given && strcmp(loss_given, "xent") == 0;
        if (classify || (!loss_given && integers >= rows - rows / 10)) {
            fprintf(stderr, "soma %s: the label of row %lld is %g, but %lld of the %lld labels are class indices "
                    "0..%lld: fix that row, or give --loss mse to train a regression\n", command,
                    (long long)soma_dataset_source_row(ds, first_other), (double)y[first_other], (long long)integers,
                    (long long)rows, (long long)largest);
            return 1;
        }
        return 0; /* regression */
    }
    *classes = largest + 1;
    if (distinct == 1)
        fprintf(stderr, "soma %s: warning: every label is %lld: a single class, there is nothing to learn\n", command,
                (long long)largest);
    else if (outputs_from_labels && 2 * distinct < *classes)
        fprintf(stderr, "soma %s: warning: the labels take %lld distinct values but the largest is %lld, so the "
                "model gets %lld outputs, %lld of them for classes never seen: is the label column right?\n",
                command, (long long)distinct, (long long)largest, (long long)*classes,
                (long long)(*classes - distinct));
    return 0;
}

int labels_to_model(const char *command, soma_dataset *ds, const char *model, const char *const *names, int64_t n) {
    int64_t have = soma_dataset_class_name_count(ds);
    if (have == 0) return 0;
    if (n == 0) {
        fprintf(stderr, "soma %s: the data's labels are names ('%s', ...) but %s was trained on class numbers\n",
                command, soma_dataset_class_name(ds, 0), model);
        return 1;
    }
    int64_t *to = malloc((size_t)have * sizeof *to);
    if (!to) {
        fprintf(stderr, "soma %s: out of memory\n", command);
        return 1;
    }
    for (int64_t k = 0; k < have; k++) {
        const char *name = soma_dataset_class_name(ds, k);
        to[k] = -1;
        for (int64_t j = 0; j < n && to[k] < 0; j++)
            if (strcmp(name, names[j]) == 0) to[k] = j;
        if (to[k] < 0) {
            fprintf(stderr, "soma %s: the data has the class '%s', which %s does not know (its %lld classes: '%s'%s)\n",
                    command, name, model, (long long)n, names[0], n > 1 ? ", ..." : "");
            free(to);
            return 1;
        }
    }
    float *y = soma_dataset_target_data(ds);
    for (int64_t i = 0; i < soma_dataset_rows(ds); i++) y[i] = (float)to[(int64_t)y[i]];
    free(to);
    if (soma_dataset_set_class_names(ds, names, n) != SOMA_OK) {
        fprintf(stderr, "soma %s: %s\n", command, soma_last_error());
        return 1;
    }
    return 0;
}
