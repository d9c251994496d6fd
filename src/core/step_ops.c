/* step_ops.c: the training step's control ops (step_ops.h), through the op
 * layer like every public op. */
#include "core/step_ops.h"
#include "core/backend.h"
#include "core/error.h"

soma_status soma_gather_rows(const soma_tensor *src, const soma_tensor *order, const soma_tensor *ctl,
                             int64_t stride, soma_tensor *dst) {
    if (stride < 0) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_gather_rows: stride %lld < 0", (long long)stride);
    soma_op_call call = {.op = SOMA_OP_GATHER_ROWS, .in = {src, order, ctl}, .out = {dst},
                         .p = {.step_stride = stride}};
    return soma_op_run(&call, NULL);
}

soma_status soma_step_begin(const soma_tensor *schedule, soma_tensor *ctl) {
    soma_op_call call = {.op = SOMA_OP_STEP_BEGIN, .in = {schedule}, .out = {ctl}};
    return soma_op_run(&call, NULL);
}

soma_status soma_watch_loss(const soma_tensor *loss, float rows, soma_tensor *sum, soma_tensor *ctl) {
    soma_op_call call = {.op = SOMA_OP_WATCH_LOSS, .in = {loss}, .out = {sum, ctl}, .p = {.alpha = rows}};
    return soma_op_run(&call, NULL);
}

soma_status soma_clip_scale(const soma_tensor *parts, float clip, soma_tensor *ctl) {
    if (!(clip > 0.0f)) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_clip_scale: clip norm %g must be > 0", clip);
    soma_op_call call = {.op = SOMA_OP_CLIP_SCALE, .in = {parts}, .out = {ctl}, .p = {.alpha = clip}};
    return soma_op_run(&call, NULL);
}

soma_status soma_sgd_step(const soma_sgd_params *p, const soma_tensor *grad, const soma_tensor *ctl,
                          soma_tensor *weight, soma_tensor *velocity) {
    if (!p) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_sgd_step: argument 'p' is NULL");
    soma_op_call call = {.op = SOMA_OP_SGD_STEP, .in = {grad, ctl}, .out = {weight, velocity},
                         .p = {.momentum = p->momentum, .weight_decay = p->weight_decay,
                               .nesterov = p->nesterov != 0}};
    return soma_op_run(&call, NULL);
}

soma_status soma_adam_step(const soma_adam_params *p, const soma_tensor *grad, const soma_tensor *ctl,
                           soma_tensor *weight, soma_tensor *m, soma_tensor *v) {
    if (!p) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_adam_step: argument 'p' is NULL");
    soma_op_call call = {.op = SOMA_OP_ADAM_STEP, .in = {grad, ctl}, .out = {weight, m, v},
                         .p = {.beta1 = p->beta1, .beta2 = p->beta2, .eps = p->eps,
                               .weight_decay = p->weight_decay, .decoupled = p->decoupled != 0}};
    return soma_op_run(&call, NULL);
}

soma_status soma_bias_act_dropout_step(soma_activation act, float param, float p, soma_rng rng,
                                       int64_t stride, const soma_tensor *x, const soma_tensor *bias,
                                       const soma_tensor *ctl, soma_tensor *h, soma_tensor *z,
                                       soma_tensor *mask, soma_tensor *alive) {
    const char *api = "soma_bias_act_dropout_step";
    if (!soma_activation_name(act)) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: activation %d", api, (int)act);
    if (!(p >= 0.0f && p < 1.0f)) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: drop probability %g is not in [0, 1)", api, p);
    soma_op_call call = {.op = SOMA_OP_BIAS_ACT_DROPOUT_STEP, .in = {x, bias, ctl},
                         .out = {h, z, mask, alive},
                         .p = {.alpha = param, .act = (int)act, .drop = p, .seed = rng.seed,
                               .offset = rng.offset, .step_stride = stride}};
    return soma_op_run(&call, NULL);
}
