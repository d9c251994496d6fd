/* batchnorm.c: `batchnorm[:ACT][:drop=P]`, as torch.nn.BatchNorm1d(n) (eps
 * 1e-5, momentum 0.1), then the activation stage of a dense layer.
 *
 * Training: y = gamma (x - mean) / sqrt(var + eps) + beta with the batch's
 * mean and (biased) variance per column, the running statistics updated
 * (running_var with the unbiased variance, as PyTorch); evaluation: the
 * running statistics instead. Then out = act(y) with dropout (training,
 * hidden layers), through soma_layer_act_forward with a zero bias.
 * Backward: dy -> dz (activation, dropout) -> soma_batchnorm_backward.
 * Tensors, in PyTorch's state-dict order: weight (gamma), bias (beta),
 * running_mean, running_var (saved, not trained) and num_batches_tracked
 * (an int64 counter of training forwards). */
#include "core/error.h"
#include "model/layer.h"

#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f

enum { GAMMA, BETA, MEAN, VAR, COUNT };   /* parameters */
enum { Y, SAVED, DX };                    /* work tensors */

static int64_t bn_out_width(const soma_layer_desc *d, int64_t in) {
    (void)d;
    return in;
}

static soma_status bn_create(soma_device *dev, soma_layer *L) {
    SOMA_TRY(soma_layer_add_param(dev, L, "weight", 1, L->out, 1, 1));
    SOMA_TRY(soma_layer_add_param(dev, L, "bias", 1, L->out, 1, 1));
    SOMA_TRY(soma_layer_add_param(dev, L, "running_mean", 1, L->out, 1, 0));
    SOMA_TRY(soma_layer_add_param(dev, L, "running_var", 1, L->out, 1, 0));
    SOMA_TRY(soma_layer_add_param(dev, L, "num_batches_tracked", 1, 1, 0, 0));
    if (!dev) return SOMA_OK;
    SOMA_TRY(soma_tensor_create(dev, 1, L->out, &L->zeros));
    SOMA_TRY(soma_tensor_fill(L->zeros, 0.0f));
    SOMA_TRY(soma_tensor_create(dev, 1, L->out, &L->alive));
    return soma_tensor_fill(L->alive, 0.0f);
}

/* PyTorch's reset_parameters and reset_running_stats */
static soma_status bn_init(soma_layer *L, soma_init init, uint64_t seed) {
    (void)init;
    (void)seed;
    static const float start[] = {[GAMMA] = 1.0f, [BETA] = 0.0f, [MEAN] = 0.0f, [VAR] = 1.0f};
    for (int k = GAMMA; k <= VAR; k++) SOMA_TRY(soma_tensor_fill(L->params[k].value, start[k]));
    L->batches = 0;
    return SOMA_OK;
}

static soma_status bn_ws_create(soma_device *dev, const soma_layer *L, int64_t rows, int training,
                                soma_layer_ws *ws) {
    SOMA_TRY(soma_layer_ensure(dev, &ws->t[Y], rows, L->out));
    if (training) SOMA_TRY(soma_layer_ensure(dev, &ws->t[SAVED], 2, L->out));
    if (training && L->index == 0) SOMA_TRY(soma_layer_ensure(dev, &ws->t[DX], rows, L->in)); /* dx nobody reads */
    return soma_layer_act_ws(dev, L, rows, training, ws->t[Y], ws);
}

static soma_status bn_forward(const soma_layer *L, const soma_tensor *x, soma_layer_ws *ws, const soma_layer_run *r) {
    const soma_param *p = L->params;
    if (r->training && soma_tensor_rows(x) < 2)
        return soma_fail(SOMA_ERR_SHAPE, "batchnorm layer %d: a training batch of 1 row has no batch variance (as in "
                         "PyTorch); when it is an epoch's last batch, choose a batch size that leaves 0 or at least "
                         "2 rows over", L->index);
    if (r->training)
        SOMA_TRY(soma_batchnorm_forward_train(BN_MOMENTUM, BN_EPS, x, p[GAMMA].value, p[BETA].value, ws->t[Y],
                                              ws->t[SAVED], p[MEAN].value, p[VAR].value));
    else
        SOMA_TRY(soma_batchnorm_forward_eval(BN_EPS, x, p[GAMMA].value, p[BETA].value, p[MEAN].value, p[VAR].value,
                                             ws->t[Y]));
    return soma_layer_act_forward(L, ws->t[Y], ws->out == ws->t[Y] ? NULL : L->zeros, ws->out, ws->mask, r);
}

static soma_status bn_backward(const soma_layer *L, const soma_tensor *x, soma_layer_ws *ws, const soma_tensor *dy,
                               soma_tensor *dx, soma_precision precision) {
    (void)precision;
    const soma_tensor *dz;
    SOMA_TRY(soma_layer_act_backward(L, ws->t[Y], ws->out, ws->mask, dy, ws->g, &dz));
    return soma_batchnorm_backward(x, L->params[GAMMA].value, ws->t[SAVED], dz, dx ? dx : ws->t[DX],
                                   L->params[GAMMA].grad, L->params[BETA].grad);
}

const soma_layer_kind soma_layer_batchnorm = {
    /* .name = */ "batchnorm",
    /* .short_name = */ "bn",
    /* .out_width = */ bn_out_width,
    /* .create = */ bn_create,
    /* .init = */ bn_init,
    /* .ws_create = */ bn_ws_create,
    /* .forward = */ bn_forward,
    /* .backward = */ bn_backward,
};
