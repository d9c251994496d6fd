/**
 * @file soma/infer.h
 * @brief Running a trained model on plain float arrays (FANN's fann_run).
 *
 * soma_mlp_run() takes rows of raw features, applies the normalizer the
 * model was trained with (soma_checkpoint_load() returns it in
 * soma_checkpoint_info::normalizer) and writes the model's outputs (for a
 * regression model trained on standardized targets, back in the targets'
 * units: soma_checkpoint_info::target_normalizer) and, on request, its
 * probabilities. It reads the model and the normalizer and
 * writes nothing they own: its work tensors are its own, allocated per call.
 * So several threads may run one model at once (on a CPU device truly in
 * parallel; calls on a GPU device are serialized by the library), as long
 * as nothing trains, frees or reloads that model meanwhile.
 */
#ifndef SOMA_INFER_H
#define SOMA_INFER_H

#include "soma/export.h"

#include "soma/data.h"
#include "soma/model.h"
#include "soma/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The most rows soma_mlp_run() sends through the model at once: longer
 *  inputs run in pieces of this many rows, so a call's work tensors stay
 *  small whatever the input. */
#define SOMA_RUN_ROWS 256

/** Runs model on `rows` rows of x (row-major, rows x soma_mlp_inputs()
 *  floats, raw: before normalization). norm (NULL or kind NONE: none) is
 *  applied first, `x' = (x - offset[j]) * scale[j]`, on a copy; x is not
 *  changed. outputs receives rows x soma_mlp_outputs() raw outputs (logits
 *  for classifiers); target_norm (NULL or kind NONE: none; else fitted on
 *  soma_mlp_outputs() targets, for SOMA_LOSS_MSE only) is then undone on
 *  them, `y = y' / scale[j] + offset[j]` (soma_target_normalizer_undo()). proba (may be NULL) receives as many probabilities:
 *  the softmax of each row for SOMA_LOSS_XENT, the sigmoid of each output
 *  for SOMA_LOSS_BCE, computed in double and rounded to float; a model
 *  trained with another loss has none (SOMA_ERR_INVALID_ARG). loss is only
 *  read when proba is not NULL. Safe to call from several threads on one
 *  model (see the file's description). */
SOMA_API soma_status soma_mlp_run(const soma_mlp *model, const soma_normalizer *norm,
                                  const soma_normalizer *target_norm, soma_loss loss, const float *x, int64_t rows,
                                  float *outputs, float *proba);

#ifdef __cplusplus
}
#endif
#endif
