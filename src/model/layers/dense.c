/* dense.c: the dense layer, `dense:U[:ACT][:drop=P]`.
 *
 * Forward, input x (rows x in):
 *   z = x W^T + b,   out = act(z) mask / (1 - p)
 * a GEMM, then bias, activation and dropout in one pass
 * (soma_layer_act_forward), which keeps the mask (1 bit per element) for the
 * backward and counts the units ever active for the dead-ReLU statistics.
 * An output layer has no dropout: out = act(z) (or z += b for identity).
 * Backward, from dy:
 *   dz = dy mask / (1 - p) act'(z)   (one pass, no random numbers drawn),
 *   dW = dz^T x,  db = colsum(dz),  dx = dz W.
 * Parameters: weight [out, in] and bias [1, out] (written [out]), as
 * PyTorch's nn.Linear. */
#include "core/error.h"
#include "model/layer.h"

enum { W, B };   /* parameters */
enum { Z };      /* work tensors */

static int64_t dense_out_width(const soma_layer_desc *d, int64_t in) {
    (void)in;
    return d->units;
}

static soma_status dense_create(soma_device *dev, soma_layer *L) {
    SOMA_TRY(soma_layer_add_param(dev, L, "weight", L->out, L->in, 2, 1));
    SOMA_TRY(soma_layer_add_param(dev, L, "bias", 1, L->out, 1, 1));
    if (!dev) return SOMA_OK;
    SOMA_TRY(soma_tensor_create(dev, 1, L->out, &L->alive));
    return soma_tensor_fill(L->alive, 0.0f);
}

/* layer l's weights come from offset l (as before the layer table) */
static soma_status dense_init(soma_layer *L, soma_init init, uint64_t seed) {
    SOMA_TRY(soma_layer_init_matrix(L->params[W].value, init, L->desc.act, seed, (uint64_t)L->index));
    return soma_tensor_fill(L->params[B].value, 0.0f);
}

static soma_status dense_ws_create(soma_device *dev, const soma_layer *L, int64_t rows, int training,
                                   soma_layer_ws *ws) {
    SOMA_TRY(soma_layer_ensure(dev, &ws->t[Z], rows, L->out));
    return soma_layer_act_ws(dev, L, rows, training, ws->t[Z], ws);
}

static soma_status dense_forward(const soma_layer *L, const soma_tensor *x, soma_layer_ws *ws,
                                 const soma_layer_run *r) {
    SOMA_TRY(soma_gemm_ex(0, 1, 1.0f, x, L->params[W].value, 0.0f, ws->t[Z], r->precision));
    return soma_layer_act_forward(L, ws->t[Z], L->params[B].value, ws->out, ws->mask, r);
}

static soma_status dense_backward(const soma_layer *L, const soma_tensor *x, soma_layer_ws *ws, const soma_tensor *dy,
                                  soma_tensor *dx, soma_precision precision) {
    const soma_tensor *dz;
    SOMA_TRY(soma_layer_act_backward(L, ws->t[Z], ws->out, ws->mask, dy, ws->g, &dz));
    SOMA_TRY(soma_gemm_ex(1, 0, 1.0f, dz, x, 0.0f, L->params[W].grad, precision));
    SOMA_TRY(soma_bias_grad(dz, L->params[B].grad));
    if (dx) SOMA_TRY(soma_gemm_ex(0, 0, 1.0f, dz, L->params[W].value, 0.0f, dx, precision));
    return SOMA_OK;
}

const soma_layer_kind soma_layer_dense = {
    /* .name = */ "dense",
    /* .short_name = */ "dense",
    /* .out_width = */ dense_out_width,
    /* .create = */ dense_create,
    /* .init = */ dense_init,
    /* .ws_create = */ dense_ws_create,
    /* .forward = */ dense_forward,
    /* .backward = */ dense_backward,
};
