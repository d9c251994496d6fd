/* layernorm.c: `layernorm[:ACT][:drop=P]`, as torch.nn.LayerNorm(n) (eps
 * 1e-5), then the activation stage of a dense layer.
 *
 * y = gamma (x - mean_i) / sqrt(var_i + eps) + beta, over each row's n
 * columns (the same in training and evaluation); out = act(y) with dropout
 * (training, hidden layers) through soma_layer_act_forward with a zero bias.
 * Backward: dy -> dz (activation, dropout) -> soma_layernorm_backward.
 * Parameters: weight (gamma) and bias (beta), [n] each. */
#include "core/error.h"
#include "model/layer.h"

#define LN_EPS 1e-5f

enum { GAMMA, BETA };   /* parameters */
enum { Y, SAVED, DX };  /* work tensors */

static int64_t ln_out_width(const soma_layer_desc *d, int64_t in) {
    (void)d;
    return in;
}

static soma_status ln_create(soma_device *dev, soma_layer *L) {
    SOMA_TRY(soma_layer_add_param(dev, L, "weight", 1, L->out, 1, 1));
    SOMA_TRY(soma_layer_add_param(dev, L, "bias", 1, L->out, 1, 1));
    if (!dev) return SOMA_OK;
    SOMA_TRY(soma_tensor_create(dev, 1, L->out, &L->zeros));
    SOMA_TRY(soma_tensor_fill(L->zeros, 0.0f));
    SOMA_TRY(soma_tensor_create(dev, 1, L->out, &L->alive));
    return soma_tensor_fill(L->alive, 0.0f);
}

static soma_status ln_init(soma_layer *L, soma_init init, uint64_t seed) {
    (void)init;
    (void)seed;
    SOMA_TRY(soma_tensor_fill(L->params[GAMMA].value, 1.0f));
    return soma_tensor_fill(L->params[BETA].value, 0.0f);
}

static soma_status ln_ws_create(soma_device *dev, const soma_layer *L, int64_t rows, int training,
                                soma_layer_ws *ws) {
    SOMA_TRY(soma_layer_ensure(dev, &ws->t[Y], rows, L->out));
    SOMA_TRY(soma_layer_ensure(dev, &ws->t[SAVED], rows, 2));
    if (training && L->index == 0) SOMA_TRY(soma_layer_ensure(dev, &ws->t[DX], rows, L->in)); /* dx nobody reads */
    return soma_layer_act_ws(dev, L, rows, training, ws->t[Y], ws);
}

static soma_status ln_forward(const soma_layer *L, const soma_tensor *x, soma_layer_ws *ws, const soma_layer_run *r) {
    SOMA_TRY(soma_layernorm_forward(LN_EPS, x, L->params[GAMMA].value, L->params[BETA].value, ws->t[Y], ws->t[SAVED]));
    return soma_layer_act_forward(L, ws->t[Y], ws->out == ws->t[Y] ? NULL : L->zeros, ws->out, ws->mask, r);
}

static soma_status ln_backward(const soma_layer *L, const soma_tensor *x, soma_layer_ws *ws, const soma_tensor *dy,
                               soma_tensor *dx, soma_precision precision) {
    (void)precision;
    const soma_tensor *dz;
    SOMA_TRY(soma_layer_act_backward(L, ws->t[Y], ws->out, ws->mask, dy, ws->g, &dz));
    return soma_layernorm_backward(x, L->params[GAMMA].value, ws->t[SAVED], dz, dx ? dx : ws->t[DX],
                                   L->params[GAMMA].grad, L->params[BETA].grad);
}

const soma_layer_kind soma_layer_layernorm = {
    /* .name = */ "layernorm",
    /* .short_name = */ "ln",
    /* .out_width = */ ln_out_width,
    /* .create = */ ln_create,
    /* .init = */ ln_init,
    /* .ws_create = */ ln_ws_create,
    /* .forward = */ ln_forward,
    /* .backward = */ ln_backward,
};
