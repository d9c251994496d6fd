/* optimizer.c: SGD, Adam and AdamW over a model's parameters, learning-rate
 * schedules and global-norm gradient clipping. The updates themselves are
 * ops (soma_sgd_update, soma_adam_update): one fused pass per tensor. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/device_internal.h"
#include "core/error.h"
#include "core/step_ctl.h"
#include "core/step_ops.h"
#include "soma/optim.h"
#include "train/optimizer_internal.h"

/* Every trained tensor of the model (soma_mlp_param with a gradient):
 * the optimizer never sees a layer kind. */
#define MAX_PARAMS (8 * SOMA_MAX_LAYERS)

struct soma_optimizer {
    soma_mlp *model;
    soma_optim_config config;
    int64_t steps;
    int n_params, slots;
    soma_param params[MAX_PARAMS]; /* the trained ones, in the model's order */
    soma_tensor *state[MAX_PARAMS][2];
    soma_tensor *norms;                  /* n_params x 1 sums of squares, for clipping */
    soma_tensor *norm_parts[MAX_PARAMS]; /* its rows, as 1x1 views */
};

static const char *const optim_names[SOMA_OPTIM_COUNT] = {"sgd", "adam", "adamw"};
static const char *const schedule_names[SOMA_SCHEDULE_COUNT] = {"constant", "step", "cosine"};

const char *soma_optim_name(soma_optim_kind k) {
    return (int)k >= 0 && k < SOMA_OPTIM_COUNT ? optim_names[k] : NULL;
}

const char *soma_schedule_name(soma_schedule s) {
    return (int)s >= 0 && s < SOMA_SCHEDULE_COUNT ? schedule_names[s] : NULL;
}

static int find_name(const char *const names[], int count, const char *name) {
    for (int i = 0; name && i < count; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

soma_status soma_optim_parse(const char *name, soma_optim_kind *out) {
    int i = find_name(optim_names, SOMA_OPTIM_COUNT, name);
    if (i < 0 || !out)
        return soma_fail(SOMA_ERR_INVALID_ARG, "unknown optimizer '%s' (expected sgd, adam or adamw)",
                         name ? name : "(null)");
    *out = (soma_optim_kind)i;
    return SOMA_OK;
}

soma_status soma_schedule_parse(const char *name, soma_schedule *out) {
    int i = find_name(schedule_names, SOMA_SCHEDULE_COUNT, name);
    if (i < 0 || !out)
        return soma_fail(SOMA_ERR_INVALID_ARG,
                         "unknown schedule '%s' (expected constant, step or cosine)", name ? name : "(null)");
    *out = (soma_schedule)i;
    return SOMA_OK;
}

soma_optim_config soma_optim_defaults(soma_optim_kind kind) {
    soma_optim_config c = {.kind = kind, .lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                           .step_size = 1, .gamma = 0.1f};
    if (kind != SOMA_OPTIM_SGD) c.lr = 1e-3f;
    if (kind == SOMA_OPTIM_ADAMW) c.weight_decay = 0.01f;
    return c;
}

static soma_status check_config(const soma_optim_config *c) {
    const char *api = "soma_optimizer_create";
    if ((int)c->kind < 0 || c->kind >= SOMA_OPTIM_COUNT)
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: optimizer kind %d", api, (int)c->kind);
    if ((int)c->schedule < 0 || c->schedule >= SOMA_SCHEDULE_COUNT)
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: schedule %d", api, (int)c->schedule);
    if (!(c->lr > 0.0f) || !isfinite(c->lr))
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: learning rate %g must be > 0", api, c->lr);
    if (!(c->momentum >= 0.0f && c->momentum < 1.0f))
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: momentum %g is not in [0, 1)", api, c->momentum);
    if (!(c->beta1 >= 0.0f && c->beta1 < 1.0f) || !(c->beta2 >= 0.0f && c->beta2 < 1.0f))
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: betas (%g, %g) must be in [0, 1)", api, c->beta1, c->beta2);
    if (!(c->weight_decay >= 0.0f) || !(c->clip_norm >= 0.0f) || !(c->eps >= 0.0f))
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: weight decay, clip norm and eps must be >= 0", api);
    if (c->schedule == SOMA_SCHEDULE_STEP && c->step_size < 1)
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: step schedule needs step_size >= 1", api);
    if (c->schedule == SOMA_SCHEDULE_COSINE && c->total_steps < 1)
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: cosine schedule needs total_steps >= 1", api);
    return SOMA_OK;
}


void soma_optimizer_free(soma_optimizer *o) {
    if (!o) return;
    for (int p = 0; p < MAX_PARAMS; p++) {
        soma_tensor_free(o->state[p][0]);
        soma_tensor_free(o->state[p][1]);
        soma_tensor_free(o->norm_parts[p]);
    }
    soma_tensor_free(o->norms);
    free(o);
}

soma_status soma_optimizer_create(soma_mlp *model, const soma_optim_config *config, soma_optimizer **out) {
    if (!out) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_optimizer_create: argument 'out' is NULL");
    *out = NULL;
    if (!model || !config)
        return soma_fail(SOMA_ERR_INVALID_ARG, "soma_optimizer_create: argument '%s' is NULL",
                         model ? "config" : "model");
    SOMA_TRY(check_config(config));
    uint64_t params = (uint64_t)soma_mlp_parameter_count(model);
    SOMA_TRY(soma_device_check_memory(soma_mlp_device(model), "soma_optimizer_create", "the optimizer state",
                                      params * (config->kind == SOMA_OPTIM_SGD ? 1 : 2) * sizeof(float)));
    soma_optimizer *o = calloc(1, sizeof *o);
    if (!o) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "soma_optimizer_create: out of host memory");
    o->model = model;
    o->config = *config;
    for (int i = 0; i < soma_mlp_param_count(model); i++) {
        soma_param p = soma_mlp_param(model, i);
        if (p.grad && o->n_params < MAX_PARAMS) o->params[o->n_params++] = p;
    }
    o->slots = config->kind == SOMA_OPTIM_SGD ? 1 : 2;
    soma_device *dev = soma_mlp_device(model);
    soma_status st = SOMA_OK;
    for (int p = 0; p < o->n_params && st == SOMA_OK; p++) {
        soma_tensor *t = o->params[p].value;
        for (int s = 0; s < o->slots && st == SOMA_OK; s++) {
            st = soma_tensor_create(dev, soma_tensor_rows(t), soma_tensor_cols(t), &o->state[p][s]);
            if (st == SOMA_OK) st = soma_tensor_fill(o->state[p][s], 0.0f);
        }
    }
    if (st == SOMA_OK && config->clip_norm > 0.0f) st = soma_tensor_create(dev, o->n_params, 1, &o->norms);
    for (int p = 0; p < o->n_params && st == SOMA_OK && o->norms; p++)
        st = soma_tensor_view_rows(o->norms, p, 1, &o->norm_parts[p]);
    if (st != SOMA_OK) {
        soma_optimizer_free(o);
        return st;
    }
    *out = o;
    return SOMA_OK;
}

float soma_schedule_lr(const soma_optim_config *c, int64_t t) {
    switch (c->schedule) {
    case SOMA_SCHEDULE_STEP: return c->lr * powf(c->gamma, (float)(t / c->step_size));
    case SOMA_SCHEDULE_COSINE: {
        if (t < c->warmup_steps) return c->lr * (float)(t + 1) / (float)c->warmup_steps;
        double span = (double)(c->total_steps - c->warmup_steps);
        double progress = span > 0 ? (double)(t - c->warmup_steps) / span : 1.0;
        progress = progress > 1.0 ? 1.0 : progress;
        return c->min_lr + 0.5f * (c->lr - c->min_lr) * (float)(1.0 + cos(3.14159265358979323846 * progress));
    }
    default: return c->lr;
    }
}

/* Scales the gradients so that their global L2 norm is at most clip_norm. */
static soma_status clip_gradients(soma_optimizer *o) {
    double total = 0.0;
    for (int p = 0; p < o->n_params; p++) SOMA_TRY(soma_sum_squares(o->params[p].grad, o->norm_parts[p]));
    for (int p = 0; p < o->n_params; p++) {
        float part;
        SOMA_TRY(soma_tensor_download(o->norm_parts[p], &part, 1));
        if (!isfinite(part))
            return soma_fail(SOMA_ERR_NUMERIC, "soma_optimizer_step: step %lld: the gradient of %s is not finite",
                             (long long)o->steps + 1, o->params[p].name);
        total += part;
    }
    double norm = sqrt(total);
    if (norm > o->config.clip_norm)
        for (int p = 0; p < o->n_params; p++) {
            soma_tensor *g = o->params[p].grad;
            SOMA_TRY(soma_scale((float)(o->config.clip_norm / norm), g, g));
        }
    return SOMA_OK;
}

soma_status soma_optimizer_step(soma_optimizer *o) {
    if (!o) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_optimizer_step: argument 'o' is NULL");
    const soma_optim_config *c = &o->config;
    if (c->clip_norm > 0.0f) SOMA_TRY(clip_gradients(o));
    float lr = soma_schedule_lr(c, o->steps);
    for (int p = 0; p < o->n_params; p++) {
        soma_tensor *w = o->params[p].value, *g = o->params[p].grad;
        if (c->kind == SOMA_OPTIM_SGD) {
            soma_sgd_params sp = {lr, c->momentum, c->weight_decay, c->nesterov};
            SOMA_TRY(soma_sgd_update(&sp, g, w, o->state[p][0]));
        } else {
            soma_adam_params ap = {lr, c->beta1, c->beta2, c->eps, c->weight_decay,
                                   c->kind == SOMA_OPTIM_ADAMW, o->steps + 1};
            SOMA_TRY(soma_adam_update(&ap, g, w, o->state[p][0], o->state[p][1]));
        }
    }
    o->steps++;
    return SOMA_OK;
}

/* 1 / (1 - beta^t), as soma_adam_update computes it */
static float bias_correction(float beta, int64_t t) {
    return (float)(1.0 / (1.0 - pow((double)beta, (double)t)));
}

void soma_optimizer_schedule_rows(const soma_optimizer *o, int64_t first, int64_t count, float *rows) {
    const soma_optim_config *c = &o->config;
    for (int64_t i = 0; i < count; i++) {
        float *row = rows + i * SOMA_SCHED_COLS;
        int64_t t = first + i + 1;
        row[SOMA_SCHED_LR] = soma_schedule_lr(c, t - 1);
        row[SOMA_SCHED_BC1] = c->kind == SOMA_OPTIM_SGD ? 1.0f : bias_correction(c->beta1, t);
        row[SOMA_SCHED_BC2] = c->kind == SOMA_OPTIM_SGD ? 1.0f : bias_correction(c->beta2, t);
        soma_ctl_set_count(row + SOMA_SCHED_STEP, t);
    }
}

soma_status soma_optimizer_queue_step(soma_optimizer *o, soma_tensor *ctl) {
    const soma_optim_config *c = &o->config;
    if (c->clip_norm > 0.0f) {
        for (int p = 0; p < o->n_params; p++) SOMA_TRY(soma_sum_squares(o->params[p].grad, o->norm_parts[p]));
        SOMA_TRY(soma_clip_scale(o->norms, c->clip_norm, ctl));
    }
    for (int p = 0; p < o->n_params; p++) {
        soma_tensor *w = o->params[p].value, *g = o->params[p].grad;
        if (c->kind == SOMA_OPTIM_SGD) {
            soma_sgd_params sp = {0.0f, c->momentum, c->weight_decay, c->nesterov};
            SOMA_TRY(soma_sgd_step(&sp, g, ctl, w, o->state[p][0]));
        } else {
            soma_adam_params ap = {0.0f, c->beta1, c->beta2, c->eps, c->weight_decay,
                                   c->kind == SOMA_OPTIM_ADAMW, 1};
            SOMA_TRY(soma_adam_step(&ap, g, ctl, w, o->state[p][0], o->state[p][1]));
        }
    }
    return SOMA_OK;
}

void soma_optimizer_count_steps(soma_optimizer *o, int64_t steps) { o->steps += steps; }

int64_t soma_optimizer_steps(const soma_optimizer *o) { return o ? o->steps : 0; }

soma_status soma_optimizer_set_steps(soma_optimizer *o, int64_t steps) {
    if (!o || steps < 0)
        return soma_fail(SOMA_ERR_INVALID_ARG, "soma_optimizer_set_steps: bad optimizer or steps %lld", (long long)steps);
    o->steps = steps;
    return SOMA_OK;
}

float soma_optimizer_lr(const soma_optimizer *o) { return o ? soma_schedule_lr(&o->config, o->steps) : 0.0f; }
const soma_optim_config *soma_optimizer_config(const soma_optimizer *o) { return o ? &o->config : NULL; }
int soma_optimizer_slots(const soma_optimizer *o) { return o ? o->slots : 0; }

int soma_optimizer_param_count(const soma_optimizer *o) { return o ? o->n_params : 0; }

soma_param soma_optimizer_param(const soma_optimizer *o, int param) {
    soma_param none = {0};
    return o && param >= 0 && param < o->n_params ? o->params[param] : none;
}

soma_tensor *soma_optimizer_state(soma_optimizer *o, int param, int slot) {
    if (!o || param < 0 || param >= o->n_params || slot < 0 || slot >= o->slots) return NULL;
    return o->state[param][slot];
}
