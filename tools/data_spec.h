/* data_spec.h: the --data argument of the CLI.
 *   mnist                      the MNIST files fetched by `soma fetch mnist` into
 *                              $SOMA_DATA/mnist (default ~/.cache/soma/mnist)
 *   csv:PATH[,label=COL]       a CSV file; COL is a column index or header name
 *                              (default: the last column), or none: every column
 *                              is a feature (predict only)
 *   idx:IMAGES,LABELS          a pair of IDX files
 *   npy:FEATURES,TARGETS       a pair of NumPy .npy files
 *   npz:PATH                   an np.savez archive: members x and y (else arr_0, arr_1)
 * Parsing touches no file (a fuzzer drives it alone, fuzz/fuzz_specs.c);
 * paths of any length are kept whole. */
#ifndef SOMA_TOOLS_DATA_SPEC_H
#define SOMA_TOOLS_DATA_SPEC_H

#include "soma/data.h"

typedef enum data_part { DATA_TRAIN, DATA_TEST } data_part;
typedef enum data_kind { DATA_MNIST, DATA_CSV, DATA_IDX, DATA_NPY, DATA_NPZ } data_kind;

typedef struct data_spec {
    data_kind kind;
    char *path;   /* csv, npz: the file; idx: the images; npy: the features (allocated) */
    char *labels; /* idx: the labels; npy: the targets (allocated) */
    soma_csv_options csv; /* csv: the label column, by index or by name (label_name points into label) */
    char *label;  /* csv: the text after label= (allocated), or NULL */
    int no_label; /* csv: label=none */
} data_spec;

/* Parses spec. Returns 0, or 2 (bad usage) after printing a one-line error
 * "soma <command>: ..." naming what is wrong. */
int data_spec_parse(const char *command, const char *spec, data_spec *out);
void data_spec_free(data_spec *s);

/* The files that part of the data is read from: one (csv) or two (idx,
 * mnist), allocated into files[0..1] (free them); the count. 0 when out of
 * memory. */
int data_spec_files(const data_spec *s, data_part part, char *files[2]);

typedef struct data_source {
    soma_dataset *data;
    soma_norm_kind default_norm; /* scale01 for images, standardize for CSV */
    char *name;                  /* "mnist (train)", or the file's path (allocated) */
} data_source;

/* Loads the part of the data (mnist has a train and a test part; the others
 * are one file and give it for either). Prints a one-line error and returns
 * 1 on failure. */
int data_spec_load(const char *command, const data_spec *s, data_part part, data_source *out);
void data_source_free(data_source *src);

/* Features only: the dataset's last column, read as the target, becomes its
 * last feature again (label=none, or predict on a file with as many columns
 * as the model has inputs). Prints a one-line error and returns 1 on failure
 * (out of memory, or more than one target column). */
int data_source_all_features(const char *command, data_source *src);

#endif
