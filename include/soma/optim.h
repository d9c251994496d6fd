/**
 * @file soma/optim.h
 * @brief Optimizers and learning-rate schedules.
 *
 * An optimizer owns the state of one model's parameters (SGD's velocity,
 * Adam's moments) on the model's device and applies one fused update per
 * parameter tensor per step from the gradients soma_mlp_backward() left.
 */
#ifndef SOMA_OPTIM_H
#define SOMA_OPTIM_H

#include "soma/export.h"

#include "soma/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The optimization algorithms. */
typedef enum soma_optim_kind {
    SOMA_OPTIM_SGD = 0, /**< with momentum, Nesterov and L2 weight decay as options */
    SOMA_OPTIM_ADAM,    /**< weight decay as L2 on the gradient */
    SOMA_OPTIM_ADAMW,   /**< decoupled weight decay (Loshchilov & Hutter) */
    SOMA_OPTIM_COUNT    /**< the number of optimizers (not an optimizer) */
} soma_optim_kind;

/** Learning-rate schedules, by optimizer step t. */
typedef enum soma_schedule {
    SOMA_SCHEDULE_CONSTANT = 0, /**< lr throughout */
    SOMA_SCHEDULE_STEP,   /**< `lr * gamma^floor(t / step_size)` */
    SOMA_SCHEDULE_COSINE, /**< linear warm-up to lr over warmup_steps, then cosine to min_lr at total_steps */
    SOMA_SCHEDULE_COUNT   /**< the number of schedules (not a schedule) */
} soma_schedule;

/** Everything an optimizer is created with (start from soma_optim_defaults()). */
typedef struct soma_optim_config {
    soma_optim_kind kind; /**< the algorithm */
    float lr;           /**< the learning rate (the peak, under a schedule) */
    float momentum;     /**< SGD */
    int nesterov;       /**< SGD */
    /**@{*/
    /** Adam, AdamW: the moments' decay rates and the denominator's epsilon */
    float beta1, beta2, eps;
    /**@}*/
    float weight_decay; /**< L2 (SGD, Adam) or decoupled (AdamW) */
    float clip_norm;    /**< > 0: scale gradients so their global L2 norm is at most this */
    soma_schedule schedule; /**< how lr changes with the step */
    int64_t step_size;  /**< step schedule */
    float gamma;        /**< step schedule */
    /**@{*/
    /** cosine schedule: warm-up steps, and the step where lr reaches min_lr */
    int64_t warmup_steps, total_steps;
    /**@}*/
    float min_lr;       /**< cosine schedule */
} soma_optim_config;

/** PyTorch's defaults: SGD lr 0.01 no momentum; Adam/AdamW lr 1e-3, betas
 *  (0.9, 0.999), eps 1e-8; AdamW weight decay 0.01; constant schedule. */
SOMA_API soma_optim_config soma_optim_defaults(soma_optim_kind kind);
/** The optimizer's name: "sgd", "adam", "adamw"; NULL when out of range. */
SOMA_API const char *soma_optim_name(soma_optim_kind kind);
/** Parses those names; an unknown one is SOMA_ERR_INVALID_ARG. */
SOMA_API soma_status soma_optim_parse(const char *name, soma_optim_kind *out);
/** The schedule's name: "constant", "step", "cosine"; NULL when out of range. */
SOMA_API const char *soma_schedule_name(soma_schedule schedule);
/** Parses those names; an unknown one is SOMA_ERR_INVALID_ARG. */
SOMA_API soma_status soma_schedule_parse(const char *name, soma_schedule *out);

/** An optimizer and its state for one model (opaque). */
typedef struct soma_optimizer soma_optimizer;

/** Creates an optimizer for model's parameters, its state zeroed on the
 *  model's device. */
SOMA_API soma_status soma_optimizer_create(soma_mlp *model, const soma_optim_config *config, soma_optimizer **out);
/** Frees an optimizer and its state. NULL is allowed. */
SOMA_API void soma_optimizer_free(soma_optimizer *o);

/** One update of every parameter of the model from its gradients. When
 *  clipping is on, the global gradient norm is measured first (this waits for
 *  the device); a non-finite norm fails with SOMA_ERR_NUMERIC naming the
 *  first layer whose gradient is not finite, and nothing is updated. */
SOMA_API soma_status soma_optimizer_step(soma_optimizer *o);

/** The number of updates done. */
SOMA_API int64_t soma_optimizer_steps(const soma_optimizer *o);
/** Sets the number of updates done (when resuming), which places the schedule. */
SOMA_API soma_status soma_optimizer_set_steps(soma_optimizer *o, int64_t steps);
/** The learning rate of the next update. */
SOMA_API float soma_optimizer_lr(const soma_optimizer *o);
/** The schedule itself: the learning rate of config c at step `step`. */
SOMA_API float soma_schedule_lr(const soma_optim_config *c, int64_t step);
/** The configuration the optimizer was created with. */
SOMA_API const soma_optim_config *soma_optimizer_config(const soma_optimizer *o);

/** The number of state tensors per parameter: 1 for SGD (velocity), 2 for
 *  Adam and AdamW (m, v). */
SOMA_API int soma_optimizer_slots(const soma_optimizer *o);
/** The number of parameters the optimizer updates: the model's trained
 *  tensors (soma_mlp_param() entries with a gradient), in the model's order. */
SOMA_API int soma_optimizer_param_count(const soma_optimizer *o);
/** Parameter `param` of those (all NULL when out of range): its name keys
 *  the state in checkpoints (`optimizer.<name>.<slot>`). */
SOMA_API soma_param soma_optimizer_param(const soma_optimizer *o, int param);
/** A state tensor, for checkpoints: of parameter `param` (as
 *  soma_optimizer_param() numbers them; for a plain MLP of dense layers
 *  2 * layer is the weight and 2 * layer + 1 the bias); slot 0 is SGD's
 *  velocity or Adam's m, slot 1 Adam's v. */
SOMA_API soma_tensor *soma_optimizer_state(soma_optimizer *o, int param, int slot);

#ifdef __cplusplus
}
#endif
#endif
