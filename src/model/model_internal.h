/* model_internal.h: what the training loop asks of a model beyond soma/model.h. */
#ifndef SOMA_MODEL_INTERNAL_H
#define SOMA_MODEL_INTERNAL_H

#include "soma/model.h"

/* While ctl is set (not NULL), training forwards take dropout's Philox
 * stream from the step control block ctl (core/step_ctl.h) instead of the
 * offset passed to soma_mlp_forward: what a recorded step needs. */
void soma_mlp_set_step_ctl(soma_mlp *m, const soma_tensor *ctl);

/* Changes whenever the model (re)allocates a work tensor: a recorded step
 * that uses the model's work tensors is valid while this stays the same. */
unsigned long long soma_mlp_workspace_generation(const soma_mlp *m);

/* One more training forward for the layers' counters (batchnorm's
 * num_batches_tracked): soma_mlp_forward counts its own, except while a
 * step control block is set; then the training loop calls this once per
 * step, eager or replayed from a recorded graph (recording runs the forward
 * without running the step). */
void soma_mlp_count_forward(soma_mlp *m);

/* The canonical architecture string of a plain MLP of dense layers (as
 * soma_mlp_create takes them): what a checkpoint with only the older
 * 'layers' metadata describes. */
soma_status soma_arch_of_dense(int64_t inputs, const soma_layer_spec *specs, int n, char *buf, size_t size);

/* One named tensor an architecture has, described without allocating it. */
typedef struct soma_param_shape {
    char name[48];
    int64_t rows, cols; /* as soma_param's value: rank 1 is 1 x cols; rank 0 (a counter) 1 x 1 */
    int rank;
    int trained;
    int layer;          /* its layer, and that layer's widths, for the messages */
    int64_t in, out;
} soma_param_shape;

/* The named tensors (soma_mlp_param order) of the architecture string, at
 * most max, without allocating any: what a checkpoint loader checks a
 * file against before it creates the model. */
soma_status soma_arch_param_shapes(const char *arch, soma_param_shape *out, int max, int *n);

#endif
