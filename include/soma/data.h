/**
 * @file soma/data.h
 * @brief Datasets in host memory, the readers that fill them, and feature
 * normalization.
 *
 * A dataset is rows of float32 features and rows of float32 targets, both
 * row-major. For classification the target is one column holding the class
 * index (0, 1, ..., classes-1); for regression it is one or more real values.
 * Readers check what they read and say where a file is wrong: the file name
 * and the byte offset (IDX) or line and column (CSV).
 */
#ifndef SOMA_DATA_H
#define SOMA_DATA_H

#include "soma/export.h"

#include <stdint.h>
#include "soma/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Features and targets in host memory (opaque). */
typedef struct soma_dataset soma_dataset;

/** An empty dataset of rows x features features and rows x targets targets
 *  (all zero), to be filled through soma_dataset_feature_data() and
 *  soma_dataset_target_data(). */
SOMA_API soma_status soma_dataset_create(int64_t rows, int64_t features, int64_t targets, soma_dataset **out);
/** Frees a dataset. NULL is allowed. */
SOMA_API void soma_dataset_free(soma_dataset *ds);

/** The number of rows (samples). */
SOMA_API int64_t soma_dataset_rows(const soma_dataset *ds);
/** The number of feature columns. */
SOMA_API int64_t soma_dataset_features(const soma_dataset *ds);
/** The number of target columns. */
SOMA_API int64_t soma_dataset_targets(const soma_dataset *ds);
/** 1 + the largest target when there is one target column and every target
 *  is an integer in [0, 4095]; 0 otherwise (regression: integer prices or
 *  years are not classes). */
SOMA_API int64_t soma_dataset_classes(const soma_dataset *ds);
/** The features, rows x features, row-major. */
SOMA_API float *soma_dataset_feature_data(soma_dataset *ds);
/** The targets, rows x targets, row-major. */
SOMA_API float *soma_dataset_target_data(soma_dataset *ds);
/** The features of a const dataset. */
SOMA_API const float *soma_dataset_feature_data_const(const soma_dataset *ds);
/** The targets of a const dataset. */
SOMA_API const float *soma_dataset_target_data_const(const soma_dataset *ds);

/** Reads IDX files (MNIST's format): images of unsigned bytes with 2 or more
 *  dimensions (the first is the count, the rest are flattened into features)
 *  and labels of unsigned bytes with 1 dimension; the counts must agree.
 *  Pixel values are kept as they are (0..255); normalize afterwards. Files
 *  ending in .gz are rejected with a message saying to gunzip them. */
SOMA_API soma_status soma_dataset_load_idx(const char *images_path, const char *labels_path, soma_dataset **out);

/** Reads NumPy .npy files: features of shape (rows, ...) (dimensions after
 *  the first are flattened into features; 1-D: one feature) and targets of
 *  shape (rows,) (one label or value a row) or (rows, k) (k target columns).
 *  dtypes float32/64, int8-64, uint8-64 and bool, either byte order, in C
 *  order (Fortran order is refused), are read as float32; a NaN or infinity
 *  is SOMA_ERR_NUMERIC naming the row. The header's sizes are checked
 *  against the file before anything is allocated. */
SOMA_API soma_status soma_dataset_load_npy(const char *features_path, const char *targets_path, soma_dataset **out);

/** Reads the features and targets (as soma_dataset_load_npy()) from an .npz
 *  archive written by np.savez: members features_key.npy and
 *  targets_key.npy; NULL keys mean "x" and "y", else "arr_0" and "arr_1"
 *  (np.savez(f, X, Y)). Archives of np.savez_compressed (deflated members)
 *  and ZIP64 archives are SOMA_ERR_UNSUPPORTED. */
SOMA_API soma_status soma_dataset_load_npz(const char *path, const char *features_key, const char *targets_key,
                                           soma_dataset **out);

/** How soma_dataset_load_csv() reads a file. */
typedef struct soma_csv_options {
    int header;               /**< 1: the first line names the columns; 0: no; -1: guess
                                   (a first line with a non-numeric cell is a header) */
    int label_column;         /**< index of the target column, -1 for the last */
    const char *label_name;   /**< or the header name of the target column (overrides) */
    char delimiter;           /**< ',' when 0 */
} soma_csv_options;

/** Reads a CSV file of numeric cells, one target column and every other
 *  column a feature. Empty lines are skipped; a non-numeric cell, a ragged
 *  row, NaN or Inf is an error naming the file, line and column. A target
 *  column holding text in any row is a column of class names ("setosa"):
 *  every distinct cell (number-like ones too) is a class, numbered in byte
 *  order of the names, which soma_dataset_class_name() returns; more than
 *  4096 distinct names is an error. The header guess then looks at the
 *  feature cells only. */
SOMA_API soma_status soma_dataset_load_csv(const char *path, const soma_csv_options *options, soma_dataset **out);

/** How many class names ds has: the number of classes when its labels were
 *  names (a CSV label column of text), 0 when they were numbers. */
SOMA_API int64_t soma_dataset_class_name_count(const soma_dataset *ds);
/** The name of class k (owned by ds), or NULL when there is no such name. */
SOMA_API const char *soma_dataset_class_name(const soma_dataset *ds, int64_t k);
/** All of ds's class names (soma_dataset_class_name_count() of them, owned
 *  by ds), or NULL when it has none. */
SOMA_API const char *const *soma_dataset_class_names(const soma_dataset *ds);
/** Copies count names (0 to 4096, none NULL) into ds as its class names,
 *  class k being names[k]; count 0 removes them. Splits of ds copy them. */
SOMA_API soma_status soma_dataset_set_class_names(soma_dataset *ds, const char *const *names, int64_t count);

/** Splits ds into a shuffled (by seed) training part and a validation part
 *  of round(fraction * rows) rows (at least 1 each). ds is left as it is.
 *  Each part remembers where its rows came from (soma_dataset_source_row). */
SOMA_API soma_status soma_dataset_split(const soma_dataset *ds, double fraction, uint64_t seed,
                               soma_dataset **train, soma_dataset **validation);

/** The same split without a copy of the training part: ds itself becomes
 *  the training part (the rows soma_dataset_split() would put in `train`, in
 *  the same order, moved within ds's memory, which then shrinks), and
 *  *validation a new dataset of the held-out rows. Peak memory is ds plus
 *  the validation part, not twice ds. On failure ds is left as it was. */
SOMA_API soma_status soma_dataset_split_in_place(soma_dataset *ds, double fraction, uint64_t seed,
                                        soma_dataset **validation);

/** The index that row `row` of ds had in the dataset it was split from (the
 *  original, through splits of splits): what error messages about a row
 *  report, so that they point into the file. `row` itself for a dataset
 *  that is no split part, or for a row out of range. */
SOMA_API int64_t soma_dataset_source_row(const soma_dataset *ds, int64_t row);

/** Kinds of feature normalization (see ::soma_normalizer). */
typedef enum soma_norm_kind {
    SOMA_NORM_NONE = 0,    /**< no normalization */
    SOMA_NORM_SCALE01,     /**< one offset/scale for all features: min -> 0, max -> 1 */
    SOMA_NORM_STANDARDIZE, /**< per feature: mean -> 0, standard deviation -> 1
                                (a constant feature gets scale 1) */
} soma_norm_kind;

/** Feature normalization, fitted on one dataset (the training split) and
 *  applied to any: `x' = (x - offset[j]) * scale[j]`. */
typedef struct soma_normalizer {
    soma_norm_kind kind; /**< how it was fitted */
    int64_t features;    /**< the number of features it applies to */
    float *offset;       /**< features values */
    float *scale;        /**< features values */
} soma_normalizer;

/** Fits a normalizer of the given kind on ds; allocates its offset and scale
 *  (free them with soma_normalizer_free()). A non-finite feature is
 *  SOMA_ERR_NUMERIC naming its row and column. */
SOMA_API soma_status soma_normalizer_fit(const soma_dataset *ds, soma_norm_kind kind, soma_normalizer *out);
/** Normalizes ds's features in place; norm must have been fitted on as many
 *  features. */
SOMA_API soma_status soma_normalizer_apply(const soma_normalizer *norm, soma_dataset *ds);
/** Frees offset and scale and keeps the struct. NULL is allowed. */
SOMA_API void soma_normalizer_free(soma_normalizer *norm);

/** Target standardization for regression: per target column j, fitted on
 *  ds (the training split), `y' = (y - offset[j]) * scale[j]` with offset the
 *  mean and scale 1 / the standard deviation (a constant column: scale 1).
 *  Prices in dollars (mean 3e5) otherwise give squared errors near 1e10 and
 *  gradients that no learning rate suits. The same ::soma_normalizer, its
 *  `features` counting target columns. kind is SOMA_NORM_STANDARDIZE, or
 *  SOMA_NORM_NONE (out gets kind NONE and no arrays). A non-finite target is
 *  SOMA_ERR_NUMERIC naming its row. Free with soma_normalizer_free(). */
SOMA_API soma_status soma_target_normalizer_fit(const soma_dataset *ds, soma_norm_kind kind, soma_normalizer *out);
/** Standardizes ds's targets in place (nothing for kind NONE); norm must
 *  have been fitted on as many target columns. */
SOMA_API soma_status soma_target_normalizer_apply(const soma_normalizer *norm, soma_dataset *ds);
/** Undoes the standardization on rows x norm->features model outputs in
 *  place, `y = y' / scale[j] + offset[j]`, giving them in the targets' own
 *  units (nothing for kind NONE). */
SOMA_API soma_status soma_target_normalizer_undo(const soma_normalizer *norm, float *y, int64_t rows);

#ifdef __cplusplus
}
#endif
#endif
