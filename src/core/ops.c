/* ops.c: the op layer. Every public op builds a soma_op_call and passes it to
 * soma_op_run, which checks it against the op's declaration in op_table.c
 * (NULLs, devices, shapes, aliasing) and hands it to the device's backend.
 * Kernels below this point may assume a well-formed call. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/backend.h"
#include "core/error.h"
#include "core/profile.h"

static const char *arg_name(const soma_op_desc *d, int a) {
    return d->arg[a] ? d->arg[a] : "?";
}

static const soma_tensor *arg_tensor(const soma_op_call *c, int a, int n_in) {
    return a < n_in ? c->in[a] : c->out[a - n_in];
}

static soma_status check_present_and_same_device(const soma_op_desc *d, const soma_op_call *c) {
    int n_args = d->n_in + d->n_out;
    const soma_tensor *first = NULL;
    int first_arg = 0;
    for (int a = 0; a < n_args; a++) {
        const soma_tensor *t = arg_tensor(c, a, d->n_in);
        if (!t) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument '%s' is NULL", d->api, arg_name(d, a));
        if (!first) {
            first = t;
            first_arg = a;
        } else if (t->device != first->device) {
            return soma_fail(SOMA_ERR_DEVICE, "%s: '%s' is on %s but '%s' is on %s", d->api,
                             arg_name(d, a), t->device->name, arg_name(d, first_arg),
                             first->device->name);
        }
    }
    return SOMA_OK;
}

/* Binds the letters m, n, k of the shape codes to the first argument that
 * uses them and checks every other argument against that binding; w, the
 * mask words of a row, must be ceil(n / 32) for the n bound before it, and
 * r and g (cuBLASLt's epilogue aux rows) 4 ceil(n / 128) and 8 ceil(n / 8)
 * (soma_op_derived_cols). */
static soma_status check_shape_codes(const soma_op_desc *d, const soma_op_call *c) {
    int64_t value[3] = {-1, -1, -1};
    int bound_by[3] = {0, 0, 0};
    for (int a = 0; a < d->n_in + d->n_out; a++) {
        const soma_tensor *t = arg_tensor(c, a, d->n_in);
        int64_t actual[2] = {t->rows, t->cols};
        for (int side = 0; side < 2; side++) {
            char letter = d->shape[a][side];
            if (soma_op_derived_cols(letter, 1) >= 0) {
                int64_t words = soma_op_derived_cols(letter, value[1]);
                if (actual[side] == words) continue;
                const soma_tensor *b = arg_tensor(c, bound_by[1], d->n_in);
                return soma_fail(SOMA_ERR_SHAPE,
                                 "%s: '%s' is %lldx%lld but must hold %lld %s per "
                                 "row for the %lld columns of '%s' (%lldx%lld)",
                                 d->api, arg_name(d, a), (long long)t->rows, (long long)t->cols,
                                 (long long)words, letter == 'g' ? "floats" : "32-bit mask words",
                                 (long long)value[1], arg_name(d, bound_by[1]),
                                 (long long)b->rows, (long long)b->cols);
            }
            int slot = letter == 'm' ? 0 : letter == 'n' ? 1 : 2;
            int64_t fixed = soma_shape_letter_fixed(letter); /* 1, c, s: a constant */
            if (fixed ? actual[side] == fixed
                      : value[slot] < 0 || value[slot] == actual[side]) {
                if (!fixed && value[slot] < 0) {
                    value[slot] = actual[side];
                    bound_by[slot] = a;
                }
                continue;
            }
            char expected[2][32];
            for (int e = 0; e < 2; e++) {
                char l = d->shape[a][e];
                int s = l == 'm' ? 0 : l == 'n' ? 1 : 2;
                if (soma_shape_letter_fixed(l))
                    snprintf(expected[e], sizeof expected[e], "%lld", (long long)soma_shape_letter_fixed(l));
                else if (soma_op_derived_cols(l, 1) >= 0)
                    snprintf(expected[e], sizeof expected[e], "%lld", (long long)soma_op_derived_cols(l, value[1]));
                else if (value[s] >= 0)
                    snprintf(expected[e], sizeof expected[e], "%lld", (long long)value[s]);
                else
                    snprintf(expected[e], sizeof expected[e], "%c", l);
            }
            if (fixed)
                return soma_fail(SOMA_ERR_SHAPE, "%s: '%s' is %lldx%lld but must be %sx%s",
                                 d->api, arg_name(d, a), (long long)t->rows, (long long)t->cols,
                                 expected[0], expected[1]);
            const soma_tensor *b = arg_tensor(c, bound_by[slot], d->n_in);
            return soma_fail(SOMA_ERR_SHAPE, "%s: '%s' is %lldx%lld but must be %sx%s to match '%s' (%lldx%lld)",
                             d->api, arg_name(d, a), (long long)t->rows, (long long)t->cols,
                             expected[0], expected[1], arg_name(d, bound_by[slot]),
                             (long long)b->rows, (long long)b->cols);
        }
    }
    return SOMA_OK;
}

static int overlaps(const soma_tensor *x, const soma_tensor *y) {
    const float *x_end = x->data + x->rows * x->cols, *y_end = y->data + y->rows * y->cols;
    return x->data < y_end && y->data < x_end;
}

/* An output may overlap an input only where the op allows it, and then only
 * as the very same elements. */
static soma_status check_aliasing(const soma_op_desc *d, const soma_op_call *c) {
    for (int o = 0; o < d->n_out; o++)
        for (int q = o + 1; q < d->n_out; q++)
            if (overlaps(c->out[o], c->out[q]))
                return soma_fail(SOMA_ERR_INVALID_ARG, "%s: outputs '%s' and '%s' share memory",
                                 d->api, arg_name(d, d->n_in + o), arg_name(d, d->n_in + q));
    for (int o = 0; o < d->n_out; o++)
        for (int i = 0; i < d->n_in; i++) {
            const soma_tensor *out = c->out[o], *in = c->in[i];
            if (!overlaps(out, in)) continue;
            int same = out->data == in->data && out->rows == in->rows && out->cols == in->cols;
            if (!same || !(d->alias_mask & (1u << i)))
                return soma_fail(SOMA_ERR_INVALID_ARG,
                                 "%s: output '%s' shares memory with input '%s', which this op "
                                 "does not allow",
                                 d->api, arg_name(d, d->n_in + o), arg_name(d, i));
        }
    return SOMA_OK;
}

/* The device's kernel for op, or its variant of that name; NULL with the
 * error set when there is none. */
static soma_op_kernel find_kernel(soma_op_id op, const soma_device *dev, const char *variant) {
    const soma_backend *be = dev->backend;
    const soma_op_desc *d = &soma_op_table[op];
    if (!variant) {
        if (!be->kernel[op])
            soma_fail(SOMA_ERR_UNSUPPORTED, "%s: op '%s' is not implemented on %s", d->api,
                      d->name, dev->name);
        return be->kernel[op];
    }
    for (int v = 0; be->variants && be->variants[v].name; v++)
        if (be->variants[v].op == op && strcmp(be->variants[v].name, variant) == 0)
            return be->variants[v].kernel;
    soma_fail(SOMA_ERR_UNSUPPORTED, "%s: %s has no variant '%s' of op '%s'", d->api, dev->name,
              variant, d->name);
    return NULL;
}

soma_status soma_op_run(const soma_op_call *call, const char *variant) {
    if ((int)call->op < 0 || call->op >= SOMA_OP_COUNT)
        return soma_fail(SOMA_ERR_INVALID_ARG, "soma_op_run: op id %d out of range", (int)call->op);
    const soma_op_desc *d = &soma_op_table[call->op];
    SOMA_TRY(check_present_and_same_device(d, call));
    if (d->check_params) SOMA_TRY(d->check_params(d, &call->p));
    if (d->check) {
        soma_shape in[SOMA_MAX_IN], out[SOMA_MAX_OUT];
        for (int i = 0; i < d->n_in; i++) in[i] = (soma_shape){call->in[i]->rows, call->in[i]->cols};
        for (int o = 0; o < d->n_out; o++)
            out[o] = (soma_shape){call->out[o]->rows, call->out[o]->cols};
        SOMA_TRY(d->check(d, in, out, &call->p));
    } else {
        SOMA_TRY(check_shape_codes(d, call));
    }
    SOMA_TRY(check_aliasing(d, call));
    if (d->min_rows && call->in[0]->rows < d->min_rows)
        return soma_fail(SOMA_ERR_SHAPE, "%s: '%s' has %lld row%s but needs at least %lld", d->api,
                         arg_name(d, 0), (long long)call->in[0]->rows,
                         call->in[0]->rows == 1 ? "" : "s", (long long)d->min_rows);
    soma_device *dev = call->out[0]->device;
    soma_op_kernel kernel = find_kernel(call->op, dev, variant);
    if (!kernel) return SOMA_ERR_UNSUPPORTED;
    if (dev->profile) return soma_profile_run_op(dev, kernel, call);
    return kernel(dev->ctx, call);
}

/* ---- the public ops: each one builds its call ----------------------------- */

static soma_status run(soma_op_id op, const soma_tensor *in0, const soma_tensor *in1,
                       const soma_tensor *in2, soma_tensor *out, soma_op_params p) {
    soma_op_call call = {.op = op, .in = {in0, in1, in2}, .out = {out}, .p = p};
    return soma_op_run(&call, NULL);
}

static const soma_op_params no_params;

soma_status soma_gemm(int trans_a, int trans_b, float alpha, const soma_tensor *a,
                      const soma_tensor *b, float beta, soma_tensor *c) {
    soma_op_params p = {.trans_a = trans_a != 0, .trans_b = trans_b != 0, .alpha = alpha, .beta = beta};
    return run(SOMA_OP_GEMM, a, b, NULL, c, p);
}

soma_status soma_gemm_ex(int trans_a, int trans_b, float alpha, const soma_tensor *a,
                         const soma_tensor *b, float beta, soma_tensor *c,
                         soma_precision precision) {
    soma_op_params p = {.trans_a = trans_a != 0, .trans_b = trans_b != 0, .alpha = alpha,
                        .beta = beta, .precision = (int)precision};
    return run(SOMA_OP_GEMM, a, b, NULL, c, p);
}

soma_status soma_bias_add(const soma_tensor *x, const soma_tensor *bias, soma_tensor *y) {
    return run(SOMA_OP_BIAS_ADD, x, bias, NULL, y, no_params);
}

soma_status soma_bias_grad(const soma_tensor *dy, soma_tensor *dbias) {
    return run(SOMA_OP_BIAS_GRAD, dy, NULL, NULL, dbias, no_params);
}

static soma_status check_activation(const char *api, soma_activation act) {
    if ((int)act < 0 || act >= SOMA_ACT_COUNT)
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: activation %d is not a soma_activation", api,
                         (int)act);
    return SOMA_OK;
}

soma_status soma_bias_act(soma_activation act, float param, const soma_tensor *x,
                          const soma_tensor *bias, soma_tensor *z, soma_tensor *a) {
    SOMA_TRY(check_activation("soma_bias_act", act));
    soma_op_call call = {.op = SOMA_OP_BIAS_ACT, .in = {x, bias}, .out = {z, a},
                         .p = {.alpha = param, .act = (int)act}};
    return soma_op_run(&call, NULL);
}

soma_status soma_activation_forward(soma_activation act, float param, const soma_tensor *x,
                                    soma_tensor *y) {
    SOMA_TRY(check_activation("soma_activation_forward", act));
    return run(SOMA_ACT_FORWARD_OP(act), x, NULL, NULL, y, (soma_op_params){.alpha = param});
}

soma_status soma_activation_backward(soma_activation act, float param, const soma_tensor *x,
                                     const soma_tensor *y, const soma_tensor *dy, soma_tensor *dx) {
    SOMA_TRY(check_activation("soma_activation_backward", act));
    return run(SOMA_ACT_BACKWARD_OP(act), x, y, dy, dx, (soma_op_params){.alpha = param});
}

soma_status soma_softmax(const soma_tensor *x, soma_tensor *y) {
    return run(SOMA_OP_SOFTMAX, x, NULL, NULL, y, no_params);
}

soma_status soma_log_softmax(const soma_tensor *x, soma_tensor *y) {
    return run(SOMA_OP_LOG_SOFTMAX, x, NULL, NULL, y, no_params);
}

soma_status soma_softmax_backward(const soma_tensor *y, const soma_tensor *dy, soma_tensor *dx) {
    return run(SOMA_OP_SOFTMAX_BACKWARD, y, dy, NULL, dx, no_params);
}

soma_status soma_log_softmax_backward(const soma_tensor *y, const soma_tensor *dy, soma_tensor *dx) {
    return run(SOMA_OP_LOG_SOFTMAX_BACKWARD, y, dy, NULL, dx, no_params);
}

soma_status soma_mse_loss(const soma_tensor *pred, const soma_tensor *target, soma_tensor *loss) {
    return run(SOMA_OP_MSE_LOSS, pred, target, NULL, loss, no_params);
}

soma_status soma_mse_backward(const soma_tensor *pred, const soma_tensor *target, soma_tensor *dpred) {
    return run(SOMA_OP_MSE_BACKWARD, pred, target, NULL, dpred, no_params);
}

soma_status soma_bce_logits_loss(const soma_tensor *logits, const soma_tensor *target,
                                 soma_tensor *loss) {
    return run(SOMA_OP_BCE_LOGITS_LOSS, logits, target, NULL, loss, no_params);
}

soma_status soma_bce_logits_backward(const soma_tensor *logits, const soma_tensor *target,
                                     soma_tensor *dlogits) {
    return run(SOMA_OP_BCE_LOGITS_BACKWARD, logits, target, NULL, dlogits, no_params);
}

soma_status soma_softmax_xent_loss(const soma_tensor *logits, const soma_tensor *labels,
                                   soma_tensor *loss) {
    return run(SOMA_OP_SOFTMAX_XENT_LOSS, logits, labels, NULL, loss, no_params);
}

soma_status soma_softmax_xent_backward(const soma_tensor *logits, const soma_tensor *labels,
                                       soma_tensor *dlogits) {
    return run(SOMA_OP_SOFTMAX_XENT_BACKWARD, logits, labels, NULL, dlogits, no_params);
}

soma_status soma_scale(float alpha, const soma_tensor *x, soma_tensor *y) {
    return run(SOMA_OP_SCALE, x, NULL, NULL, y, (soma_op_params){.alpha = alpha});
}

soma_status soma_axpy(float alpha, const soma_tensor *x, soma_tensor *y) {
    return run(SOMA_OP_AXPY, x, NULL, NULL, y, (soma_op_params){.alpha = alpha});
}

soma_status soma_sum(const soma_tensor *x, soma_tensor *out) {
    return run(SOMA_OP_SUM, x, NULL, NULL, out, no_params);
}

soma_status soma_mean(const soma_tensor *x, soma_tensor *out) {
    return run(SOMA_OP_MEAN, x, NULL, NULL, out, no_params);
}

soma_status soma_row_argmax(const soma_tensor *x, soma_tensor *out) {
    return run(SOMA_OP_ROW_ARGMAX, x, NULL, NULL, out, no_params);
}

soma_status soma_correct_count(const soma_tensor *x, const soma_tensor *labels, soma_tensor *out) {
    return run(SOMA_OP_CORRECT_COUNT, x, labels, NULL, out, no_params);
}

soma_status soma_tensor_fill(soma_tensor *t, float value) {
    return run(SOMA_OP_FILL, NULL, NULL, NULL, t, (soma_op_params){.alpha = value});
}

static soma_status fill_random(soma_op_id op, soma_tensor *t, soma_rng *rng, float a, float b) {
    const char *api = soma_op_table[op].api;
    if (!rng) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 'rng' is NULL", api);
    if (!(a == a) || !(b == b)) /* NaN parameters would fill NaN silently */
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: parameters are NaN", api);
    soma_op_params p = {.alpha = a, .beta = b, .seed = rng->seed, .offset = rng->offset};
    SOMA_TRY(run(op, NULL, NULL, NULL, t, p));
    rng->offset++;
    return SOMA_OK;
}

soma_status soma_tensor_fill_uniform(soma_tensor *t, soma_rng *rng, float lo, float hi) {
    if (lo > hi)
        return soma_fail(SOMA_ERR_INVALID_ARG, "soma_tensor_fill_uniform: lo %g > hi %g", lo, hi);
    return fill_random(SOMA_OP_FILL_UNIFORM, t, rng, lo, hi);
}

soma_status soma_tensor_fill_normal(soma_tensor *t, soma_rng *rng, float mean, float stddev) {
    if (stddev < 0)
        return soma_fail(SOMA_ERR_INVALID_ARG, "soma_tensor_fill_normal: stddev %g < 0", stddev);
    return fill_random(SOMA_OP_FILL_NORMAL, t, rng, mean, stddev);
}

static soma_status check_drop(const char *api, float p) {
    if (!(p >= 0.0f && p < 1.0f)) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: p = %g is not in [0, 1)", api, p);
    return SOMA_OK;
}

static soma_status dropout(soma_op_id op, float p, soma_rng rng, const soma_tensor *in,
                           soma_tensor *out) {
    SOMA_TRY(check_drop(soma_op_table[op].api, p));
    soma_op_params params = {.drop = p, .seed = rng.seed, .offset = rng.offset};
    return run(op, in, NULL, NULL, out, params);
}

soma_status soma_dropout_forward(float p, soma_rng rng, const soma_tensor *x, soma_tensor *y) {
    return dropout(SOMA_OP_DROPOUT, p, rng, x, y);
}

soma_status soma_dropout_backward(float p, soma_rng rng, const soma_tensor *dy, soma_tensor *dx) {
    return dropout(SOMA_OP_DROPOUT_BACKWARD, p, rng, dy, dx);
}

int64_t soma_dropout_mask_words(int64_t cols) { return cols > 0 ? (cols + 31) / 32 : 0; }

soma_status soma_bias_act_dropout(soma_activation act, float param, float p, soma_rng rng,
                                  const soma_tensor *x, const soma_tensor *bias, soma_tensor *h,
                                  soma_tensor *z, soma_tensor *mask, soma_tensor *alive) {
    SOMA_TRY(check_activation("soma_bias_act_dropout", act));
    SOMA_TRY(check_drop("soma_bias_act_dropout", p));
    soma_op_call call = {.op = SOMA_OP_BIAS_ACT_DROPOUT, .in = {x, bias}, .out = {h, z, mask, alive},
                         .p = {.alpha = param, .act = (int)act, .drop = p, .seed = rng.seed,
                               .offset = rng.offset}};
    return soma_op_run(&call, NULL);
}

soma_status soma_bias_act_dropout_backward(soma_activation act, float param, float p,
                                           const soma_tensor *z, const soma_tensor *mask,
                                           const soma_tensor *dh, soma_tensor *dx) {
    SOMA_TRY(check_activation("soma_bias_act_dropout_backward", act));
    SOMA_TRY(check_drop("soma_bias_act_dropout_backward", p));
    return run(SOMA_OP_BIAS_ACT_DROPOUT_BACKWARD, z, mask, dh, dx,
               (soma_op_params){.alpha = param, .act = (int)act, .drop = p});
}

soma_status soma_sum_squares(const soma_tensor *x, soma_tensor *out) {
    return run(SOMA_OP_SUM_SQUARES, x, NULL, NULL, out, no_params);
}

soma_status soma_active_columns(const soma_tensor *x, soma_tensor *flags) {
    return run(SOMA_OP_ACTIVE_COLUMNS, x, NULL, NULL, flags, no_params);
}

soma_status soma_sgd_update(const soma_sgd_params *p, const soma_tensor *grad, soma_tensor *weight,
                            soma_tensor *velocity) {
    if (!p) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_sgd_update: argument 'p' is NULL");
    soma_op_params params = {.lr = p->lr, .momentum = p->momentum,
                             .weight_decay = p->weight_decay, .nesterov = p->nesterov != 0};
    soma_op_call call = {.op = SOMA_OP_SGD_UPDATE, .in = {grad}, .out = {weight, velocity}, .p = params};
    return soma_op_run(&call, NULL);
}

soma_status soma_adam_update(const soma_adam_params *p, const soma_tensor *grad, soma_tensor *weight,
                             soma_tensor *m, soma_tensor *v) {
    if (!p) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_adam_update: argument 'p' is NULL");
    if (p->step < 1)
        return soma_fail(SOMA_ERR_INVALID_ARG, "soma_adam_update: step %lld < 1",
                         (long long)p->step);
    soma_op_params params = {
        .lr = p->lr, .beta1 = p->beta1, .beta2 = p->beta2, .eps = p->eps,
        .weight_decay = p->weight_decay, .decoupled = p->decoupled != 0,
        .bias_correction1 = (float)(1.0 / (1.0 - pow((double)p->beta1, (double)p->step))),
        .bias_correction2 = (float)(1.0 / (1.0 - pow((double)p->beta2, (double)p->step)))};
    soma_op_call call = {.op = SOMA_OP_ADAM_UPDATE, .in = {grad}, .out = {weight, m, v}, .p = params};
    return soma_op_run(&call, NULL);
}

soma_rng soma_rng_make(uint64_t seed) { return (soma_rng){.seed = seed, .offset = 0}; }

/* ---- the public ops that op_list.h declares with SOMA_OP_PUBLIC ------------ */

#define SOMA_OP(...)
#define SOMA_OP_PUBLIC(NAME, PARAMS, ...)                                                   \
    soma_status NAME PARAMS {                                                               \
        soma_op_call call = {__VA_ARGS__};                                                  \
        return soma_op_run(&call, NULL);                                                    \
    }
#include "core/op_list.h"
#undef SOMA_OP
#undef SOMA_OP_PUBLIC
