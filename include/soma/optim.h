/* soma/optim.h: optimizers and learning-rate schedules.
 *
 * An optimizer owns the state of one model's parameters (SGD's velocity,
 * Adam's moments) on the model's device and applies one fused update per
 * parameter tensor per step from the gradients soma_mlp_backward left. */
#ifndef SOMA_OPTIM_H
#define SOMA_OPTIM_H

#include "soma/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum soma_optim_kind {
    SOMA_OPTIM_SGD = 0, /* with momentum, Nesterov and L2 weight decay as options */
    SOMA_OPTIM_ADAM,    /* weight decay as L2 on the gradient */
    SOMA_OPTIM_ADAMW,   /* decoupled weight decay (Loshchilov & Hutter) */
    SOMA_OPTIM_COUNT
} soma_optim_kind;

typedef enum soma_schedule {
    SOMA_SCHEDULE_CONSTANT = 0,
    SOMA_SCHEDULE_STEP,   /* lr * gamma^floor(t / step_size) */
    SOMA_SCHEDULE_COSINE, /* linear warm-up to lr over warmup_steps, then cosine to min_lr at total_steps */
    SOMA_SCHEDULE_COUNT
} soma_schedule;

typedef struct soma_optim_config {
    soma_optim_kind kind;
    float lr;
    float momentum;     /* SGD */
    int nesterov;       /* SGD */
    float beta1, beta2, eps; /* Adam, AdamW */
    float weight_decay;
    float clip_norm;    /* > 0: scale gradients so their global L2 norm is at most this */
    soma_schedule schedule;
    int64_t step_size;  /* step schedule */
    float gamma;        /* step schedule */
    int64_t warmup_steps, total_steps; /* cosine schedule */
    float min_lr;       /* cosine schedule */
} soma_optim_config;

/* PyTorch's defaults: SGD lr 0.01 no momentum; Adam/AdamW lr 1e-3, betas
 * (0.9, 0.999), eps 1e-8; AdamW weight decay 0.01; constant schedule. */
soma_optim_config soma_optim_defaults(soma_optim_kind kind);
const char *soma_optim_name(soma_optim_kind kind);           /* "sgd", "adam", "adamw" */
soma_status soma_optim_parse(const char *name, soma_optim_kind *out);
const char *soma_schedule_name(soma_schedule schedule);     /* "constant", "step", "cosine" */
soma_status soma_schedule_parse(const char *name, soma_schedule *out);

typedef struct soma_optimizer soma_optimizer;

soma_status soma_optimizer_create(soma_mlp *model, const soma_optim_config *config, soma_optimizer **out);
void soma_optimizer_free(soma_optimizer *o);

/* One update of every parameter of the model from its gradients. When
 * clipping is on, the global gradient norm is measured first (this waits for
 * the device); a non-finite norm fails with SOMA_ERR_NUMERIC naming the
 * first layer whose gradient is not finite, and nothing is updated. */
soma_status soma_optimizer_step(soma_optimizer *o);

int64_t soma_optimizer_steps(const soma_optimizer *o);    /* updates done */
soma_status soma_optimizer_set_steps(soma_optimizer *o, int64_t steps); /* when resuming */
float soma_optimizer_lr(const soma_optimizer *o);         /* of the next update */
float soma_schedule_lr(const soma_optim_config *c, int64_t step); /* the schedule itself */
const soma_optim_config *soma_optimizer_config(const soma_optimizer *o);

/* State tensors, for checkpoints: parameter p = 2 * layer (weight) or
 * 2 * layer + 1 (bias); slot 0 is SGD's velocity or Adam's m, slot 1 Adam's v. */
int soma_optimizer_slots(const soma_optimizer *o);
soma_tensor *soma_optimizer_state(soma_optimizer *o, int param, int slot);

#ifdef __cplusplus
}
#endif
#endif
