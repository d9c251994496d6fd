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

#endif
