/* step_ops.h: the training step's control ops (core/step_ctl.h explains the
 * control block `ctl`). Internal to soma: the training loop queues a whole
 * step with them and never reads a scalar back, so a step costs the host no
 * wait and a CUDA graph of it replays correctly at every step of the run.
 * Each checks its arguments like a public op and runs through the op table. */
#ifndef SOMA_CORE_STEP_OPS_H
#define SOMA_CORE_STEP_OPS_H

#include "soma/ops.h"

/* dst[r] = src[order[clock * stride + r]] for the rows of dst; order holds
 * row indices of src as floats (exact below 2^24), stride 0 means dst's rows. */
soma_status soma_gather_rows(const soma_tensor *src, const soma_tensor *order, const soma_tensor *ctl,
                             int64_t stride, soma_tensor *dst);
/* The schedule's row (SOMA_SCHED_COLS floats) at ctl's clock into ctl; clock + 1. */
soma_status soma_step_begin(const soma_tensor *schedule, soma_tensor *ctl);
/* sum += rows * loss (1x1 each); a loss that is not finite records ctl's step as bad. */
soma_status soma_watch_loss(const soma_tensor *loss, float rows, soma_tensor *sum, soma_tensor *ctl);
/* ctl's gradient scale: clip / sqrt(sum of parts) when that is over clip, else 1;
 * parts holds one sum of squares per gradient tensor (k x 1). */
soma_status soma_clip_scale(const soma_tensor *parts, float clip, soma_tensor *ctl);
/* soma_sgd_update / soma_adam_update at ctl's learning rate (and Adam's
 * corrections), of ctl's scale times grad; nothing while ctl's step is bad.
 * p's lr (and step) are not used. */
soma_status soma_sgd_step(const soma_sgd_params *p, const soma_tensor *grad, const soma_tensor *ctl,
                          soma_tensor *weight, soma_tensor *velocity);
soma_status soma_adam_step(const soma_adam_params *p, const soma_tensor *grad, const soma_tensor *ctl,
                           soma_tensor *weight, soma_tensor *m, soma_tensor *v);
/* soma_bias_act_dropout drawing from rng.offset + (t - 1) stride at ctl's step t. */
soma_status soma_bias_act_dropout_step(soma_activation act, float param, float p, soma_rng rng,
                                       int64_t stride, const soma_tensor *x, const soma_tensor *bias,
                                       const soma_tensor *ctl, soma_tensor *h, soma_tensor *z,
                                       soma_tensor *mask, soma_tensor *alive);

#endif
