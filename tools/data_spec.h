/* data_spec.h: the --data argument of the CLI.
 *   mnist                      the MNIST files fetched by scripts/fetch-mnist.sh into
 *                              $SOMA_DATA/mnist (default ~/.cache/soma/mnist)
 *   csv:PATH[,label=COL]       a CSV file; COL is a column index or header name
 *                              (default: the last column)
 *   idx:IMAGES,LABELS          a pair of IDX files */
#ifndef SOMA_TOOLS_DATA_SPEC_H
#define SOMA_TOOLS_DATA_SPEC_H

#include "soma/data.h"

typedef enum data_part { DATA_TRAIN, DATA_TEST } data_part;

typedef struct data_source {
    soma_dataset *data;
    soma_norm_kind default_norm; /* scale01 for images, standardize for CSV */
    char name[64];               /* "mnist (train)" */
} data_source;

/* Loads the part of the data spec (mnist has a train and a test part; the
 * others are one file and give it for either). Prints a one-line error and
 * returns non-zero on failure. */
int data_spec_load(const char *command, const char *spec, data_part part, data_source *out);

#endif
