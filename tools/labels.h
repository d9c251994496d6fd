/* labels.h: what `soma train` makes of the data's target column before it
 * trains: class indices 0..K-1 or regression values, and the warnings a
 * careless label column deserves.
 *   - every label an integer in [0, 4095]: K = largest + 1 classes; a
 *     warning when there is one class only, or when fewer than half of the K
 *     classes occur (label 255 among ten classes gives 256 outputs);
 *   - not all of them such integers, with --loss xent, or with no --loss and
 *     at least 90% of them integers (2.5 or -1 among 0..9): refused, naming
 *     the first row that is not a class index (a typo must not turn a
 *     classifier into a regression); --loss mse trains the regression;
 *   - otherwise regression (K = 0). */
#ifndef SOMA_TOOLS_LABELS_H
#define SOMA_TOOLS_LABELS_H

#include <stdint.h>

#include "soma/data.h"

/* Returns 0 with *classes set, or 1 after printing why the labels are
 * refused. loss_given is the --loss name, or NULL when none was given;
 * outputs_from_labels: the model's outputs will be the class count (no
 * --layers), which is when too many classes deserve a warning. */
int labels_examine(const char *command, const soma_dataset *ds, const char *loss_given, int outputs_from_labels,
                   int64_t *classes);

/* Named classes. The data's labels were names (ds has class names) and a
 * model was trained with names (names[0..n)): rewrites ds's targets as the
 * model's class indices and gives ds the model's names, so class k means
 * the same in both. A name the model does not know, or named labels for a
 * model trained on class numbers (n = 0), is refused: returns 1 after
 * printing why (model: its file, for the message). Numeric labels are left
 * as they are. */
int labels_to_model(const char *command, soma_dataset *ds, const char *model, const char *const *names, int64_t n);

#endif
