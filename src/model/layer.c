/* layer.c: the table of layer kinds and what kinds share: parameter
 * registration, work tensors, the activation stage (bias, activation,
 * dropout in one op) and weight initialization. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/step_ops.h"
#include "model/layer.h"

static const soma_layer_kind *const kinds[SOMA_LAYER_KIND_COUNT] = {
    [SOMA_LAYER_DENSE] = &soma_layer_dense,
    [SOMA_LAYER_BATCHNORM] = &soma_layer_batchnorm,
    [SOMA_LAYER_LAYERNORM] = &soma_layer_layernorm,
    [SOMA_LAYER_RESIDUAL] = &soma_layer_residual,
};

const soma_layer_kind *soma_layer_kind_of(soma_layer_kind_id id) {
    return (int)id >= 0 && id < SOMA_LAYER_KIND_COUNT ? kinds[id] : NULL;
}

soma_status soma_layer_add_param(soma_device *dev, soma_layer *L, const char *suffix, int64_t rows, int64_t cols,
                                 int rank, int trained) {
    if (L->n_params == SOMA_LAYER_MAX_PARAMS)
        return soma_fail(SOMA_ERR_INVALID_ARG, "layer %d: more than %d parameters", L->index, SOMA_LAYER_MAX_PARAMS);
    int k = L->n_params++;
    snprintf(L->names[k], SOMA_PARAM_NAME, "layers.%d.%s", L->index, suffix);
    soma_param *p = &L->params[k];
    *p = (soma_param){.name = L->names[k], .rank = rank};
    L->shapes[k][0] = rows;
    L->shapes[k][1] = cols;
    L->trained[k] = trained;
    if (rank == 0) {
        p->count = &L->batches;
        return SOMA_OK;
    }
    if (!dev) return SOMA_OK; /* a description only (soma_arch_param_shapes) */
    SOMA_TRY(soma_tensor_create(dev, rows, cols, &p->value));
    if (trained) SOMA_TRY(soma_tensor_create(dev, rows, cols, &p->grad));
    return SOMA_OK;
}

void soma_layer_free(soma_layer *L) {
    for (int k = 0; k < L->n_params; k++) {
        soma_tensor_free(L->params[k].value);
        soma_tensor_free(L->params[k].grad);
    }
    soma_tensor_free(L->zeros);
    soma_tensor_free(L->alive);
    memset(L, 0, sizeof *L);
}

void soma_layer_ws_free(soma_layer_ws *ws) {
    int out_is_t = 0;
    for (int k = 0; k < SOMA_LAYER_MAX_WS; k++) {
        out_is_t |= ws->out && ws->out == ws->t[k];
        soma_tensor_free(ws->t[k]);
    }
    if (!out_is_t) soma_tensor_free(ws->out);
    soma_tensor_free(ws->g);
    soma_tensor_free(ws->mask);
    memset(ws, 0, sizeof *ws);
}

soma_status soma_layer_ensure(soma_device *dev, soma_tensor **t, int64_t rows, int64_t cols) {
    return *t ? SOMA_OK : soma_tensor_create(dev, rows, cols, t);
}

/* A hidden layer's output is a tensor of its own (dropout, and the next
 * layer's backward needs it beside z); an identity output layer's is z. */
static int own_output(const soma_layer *L) { return !L->is_output || L->desc.act != SOMA_ACT_IDENTITY; }

soma_status soma_layer_act_ws(soma_device *dev, const soma_layer *L, int64_t rows, int training, soma_tensor *z,
                              soma_layer_ws *ws) {
    if (own_output(L))
        SOMA_TRY(soma_layer_ensure(dev, &ws->out, rows, L->out));
    else
        ws->out = z;
    if (training && !L->is_output)
        SOMA_TRY(soma_layer_ensure(dev, &ws->mask, rows, soma_dropout_mask_words(L->out)));
    return SOMA_OK;
}

soma_status soma_layer_act_forward(const soma_layer *L, soma_tensor *z, const soma_tensor *bias, soma_tensor *out,
                                   soma_tensor *mask, const soma_layer_run *r) {
    const soma_layer_desc *d = &L->desc;
    if (r->training && !L->is_output && r->step_ctl) {
        /* layer l of step t draws from offset l + (t - 1) SOMA_MAX_LAYERS, as
         * below with the offset (t - 1) SOMA_MAX_LAYERS the training loop passes */
        soma_rng rng = {r->dropout_rng.seed, (uint64_t)L->index};
        return soma_bias_act_dropout_step(d->act, d->act_param, d->dropout, rng, SOMA_MAX_LAYERS, z, bias,
                                          r->step_ctl, out, z, mask, L->alive);
    }
    if (r->training && !L->is_output) {
        soma_rng rng = {r->dropout_rng.seed, r->dropout_rng.offset + (uint64_t)L->index};
        return soma_bias_act_dropout(d->act, d->act_param, d->dropout, rng, z, bias, out, z, mask, L->alive);
    }
    if (out == z) {
        if (bias) SOMA_TRY(soma_bias_add(z, bias, z));
    } else {
        SOMA_TRY(soma_bias_act(d->act, d->act_param, z, bias, z, out));
    }
    if (r->training && d->act == SOMA_ACT_RELU && L->alive) SOMA_TRY(soma_active_columns(z, L->alive));
    return SOMA_OK;
}

soma_status soma_layer_act_backward(const soma_layer *L, const soma_tensor *z, const soma_tensor *out,
                                    const soma_tensor *mask, const soma_tensor *dy, soma_tensor *g,
                                    const soma_tensor **dz) {
    const soma_layer_desc *d = &L->desc;
    *dz = dy;
    if (!L->is_output) {
        SOMA_TRY(soma_bias_act_dropout_backward(d->act, d->act_param, d->dropout, z, mask, dy, g));
        *dz = g;
    } else if (d->act != SOMA_ACT_IDENTITY) {
        SOMA_TRY(soma_activation_backward(d->act, d->act_param, z, out, dy, g));
        *dz = g;
    }
    return SOMA_OK;
}

static int relu_family(soma_activation act) {
    return act == SOMA_ACT_RELU || act == SOMA_ACT_LEAKY_RELU || act == SOMA_ACT_GELU_ERF ||
           act == SOMA_ACT_GELU_TANH || act == SOMA_ACT_SILU;
}

soma_status soma_layer_init_matrix(soma_tensor *w, soma_init init, soma_activation act, uint64_t seed,
                                   uint64_t offset) {
    soma_rng rng = soma_rng_make(seed);
    rng.offset = offset; /* a matrix's weights depend on (seed, offset) only */
    if (init == SOMA_INIT_AUTO) init = relu_family(act) ? SOMA_INIT_HE_UNIFORM : SOMA_INIT_XAVIER_UNIFORM;
    double fan_in = (double)soma_tensor_cols(w), fan_out = (double)soma_tensor_rows(w);
    double var = init == SOMA_INIT_HE_UNIFORM || init == SOMA_INIT_HE_NORMAL ? 2.0 / fan_in : 2.0 / (fan_in + fan_out);
    if (init == SOMA_INIT_XAVIER_NORMAL || init == SOMA_INIT_HE_NORMAL)
        return soma_tensor_fill_normal(w, &rng, 0.0f, (float)sqrt(var));
    float a = (float)sqrt(3.0 * var); /* U(-a, a) has variance a^2 / 3 */
    return soma_tensor_fill_uniform(w, &rng, -a, a);
}
