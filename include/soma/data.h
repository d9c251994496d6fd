/* soma/data.h: datasets in host memory, and the readers that fill them.
 *
 * A dataset is rows of float32 features and rows of float32 targets, both
 * row-major. For classification the target is one column holding the class
 * index (0, 1, ..., classes-1); for regression it is one or more real values.
 * Readers check what they read and say where a file is wrong: the file name
 * and the byte offset (IDX) or line and column (CSV). */
#ifndef SOMA_DATA_H
#define SOMA_DATA_H

#include <stdint.h>
#include "soma/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct soma_dataset soma_dataset;

/* An empty dataset of rows x features features and rows x targets targets
 * (all zero), to be filled through soma_dataset_features/targets. */
soma_status soma_dataset_create(int64_t rows, int64_t features, int64_t targets, soma_dataset **out);
void soma_dataset_free(soma_dataset *ds); /* NULL is allowed */

int64_t soma_dataset_rows(const soma_dataset *ds);
int64_t soma_dataset_features(const soma_dataset *ds); /* columns of features */
int64_t soma_dataset_targets(const soma_dataset *ds);  /* columns of targets */
/* 1 + the largest target when there is one target column and every target is
 * an integer in [0, 4095]; 0 otherwise (regression: integer prices or years
 * are not classes). */
int64_t soma_dataset_classes(const soma_dataset *ds);
float *soma_dataset_feature_data(soma_dataset *ds); /* rows x features */
float *soma_dataset_target_data(soma_dataset *ds);  /* rows x targets */
const float *soma_dataset_feature_data_const(const soma_dataset *ds);
const float *soma_dataset_target_data_const(const soma_dataset *ds);

/* IDX files (MNIST's format): images of unsigned bytes with 2 or more
 * dimensions (the first is the count, the rest are flattened into features)
 * and labels of unsigned bytes with 1 dimension; the counts must agree.
 * Pixel values are kept as they are (0..255); normalize afterwards. Files
 * ending in .gz are rejected with a message saying to gunzip them. */
soma_status soma_dataset_load_idx(const char *images_path, const char *labels_path, soma_dataset **out);

typedef struct soma_csv_options {
    int header;               /* 1: the first line names the columns; 0: no; -1: guess
                                 (a first line with a non-numeric cell is a header) */
    int label_column;         /* index of the target column, -1 for the last */
    const char *label_name;   /* or the header name of the target column (overrides) */
    char delimiter;           /* ',' when 0 */
} soma_csv_options;

/* A CSV file of numeric cells, one target column and every other column a
 * feature. Empty lines are skipped; a non-numeric cell, a ragged row, NaN or
 * Inf is an error naming the file, line and column. */
soma_status soma_dataset_load_csv(const char *path, const soma_csv_options *options, soma_dataset **out);

/* Splits ds into a shuffled (by seed) training part and a validation part
 * of round(fraction * rows) rows (at least 1 each). ds is left as it is. */
soma_status soma_dataset_split(const soma_dataset *ds, double fraction, uint64_t seed,
                               soma_dataset **train, soma_dataset **validation);

/* Feature normalization, fitted on one dataset (the training split) and
 * applied to any: x' = (x - offset[j]) * scale[j]. */
typedef enum soma_norm_kind {
    SOMA_NORM_NONE = 0,
    SOMA_NORM_SCALE01,     /* one offset/scale for all features: min -> 0, max -> 1 */
    SOMA_NORM_STANDARDIZE, /* per feature: mean -> 0, standard deviation -> 1
                              (a constant feature gets scale 1) */
} soma_norm_kind;

typedef struct soma_normalizer {
    soma_norm_kind kind;
    int64_t features;
    float *offset; /* features values */
    float *scale;  /* features values */
} soma_normalizer;

soma_status soma_normalizer_fit(const soma_dataset *ds, soma_norm_kind kind, soma_normalizer *out);
soma_status soma_normalizer_apply(const soma_normalizer *norm, soma_dataset *ds);
void soma_normalizer_free(soma_normalizer *norm); /* frees offset/scale, keeps the struct */

#ifdef __cplusplus
}
#endif
#endif
