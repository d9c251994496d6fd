/* optimizer_internal.h: the optimizer as the training loop drives it, one
 * whole step queued on the device with its scalars in a step control block
 * (core/step_ctl.h), so the step needs nothing from the host. */
#ifndef SOMA_TRAIN_OPTIMIZER_INTERNAL_H
#define SOMA_TRAIN_OPTIMIZER_INTERNAL_H

#include "soma/optim.h"

/* Schedule rows (SOMA_SCHED_COLS floats each) of the `count` steps after
 * `first` steps: learning rate, Adam's bias corrections (1 for SGD) and
 * the step t = first + i + 1, computed as soma_optimizer_step would. */
void soma_optimizer_schedule_rows(const soma_optimizer *o, int64_t first, int64_t count, float *rows);

/* Queues one update of every parameter from its gradient, at the step in
 * ctl (soma_step_begin has run): with clipping, the global norm and the
 * scale on the device first. A step whose loss or gradient norm is not
 * finite updates nothing (ctl's status). The host's step count is not
 * advanced here: soma_optimizer_count_steps does that. */
soma_status soma_optimizer_queue_step(soma_optimizer *o, soma_tensor *ctl);
void soma_optimizer_count_steps(soma_optimizer *o, int64_t steps);

#endif
