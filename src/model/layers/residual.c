/* residual.c: `res:H[:ACT][:W]`, a pre-norm residual block
 *
 *   n = layernorm(x),  z1 = n W1^T + b1,  h1 = act(z1),  z2 = h1 W2^T + b2,
 *   out = s(x) + z2,   s(x) = x when W = in, else x P^T (a projection without bias)
 *
 * with W1 [H, in], W2 [W, H], P [W, in]. Backward, from dy = dL/dout:
 *   dW2 = dy^T h1, db2 = colsum(dy), dh1 = dy W2, dz1 = dh1 act'(z1),
 *   dW1 = dz1^T n, db1 = colsum(dz1), dn = dz1 W1, dx_n = layernorm'(dn),
 *   dP = dy^T x,   dx = dx_n + (P ? dy P : dy).
 * Tensors, as the PyTorch module of docs/checkpoints.md registers them:
 * norm.weight, norm.bias, fc1.weight, fc1.bias, fc2.weight, fc2.bias and
 * proj.weight when W != in. */
#include "core/error.h"
#include "model/layer.h"

#define LN_EPS 1e-5f

enum { NORM_W, NORM_B, FC1_W, FC1_B, FC2_W, FC2_B, PROJ };  /* parameters */
enum { N, SAVED, Z1, H1, Z2, DH1, DN, DXN };                /* work tensors */

static int64_t res_out_width(const soma_layer_desc *d, int64_t in) { return d->width ? d->width : in; }

static int has_proj(const soma_layer *L) { return L->out != L->in; }

static soma_status res_create(soma_device *dev, soma_layer *L) {
    int64_t in = L->in, h = L->desc.units, w = L->out;
    SOMA_TRY(soma_layer_add_param(dev, L, "norm.weight", 1, in, 1, 1));
    SOMA_TRY(soma_layer_add_param(dev, L, "norm.bias", 1, in, 1, 1));
    SOMA_TRY(soma_layer_add_param(dev, L, "fc1.weight", h, in, 2, 1));
    SOMA_TRY(soma_layer_add_param(dev, L, "fc1.bias", 1, h, 1, 1));
    SOMA_TRY(soma_layer_add_param(dev, L, "fc2.weight", w, h, 2, 1));
    SOMA_TRY(soma_layer_add_param(dev, L, "fc2.bias", 1, w, 1, 1));
    if (has_proj(L)) SOMA_TRY(soma_layer_add_param(dev, L, "proj.weight", w, in, 2, 1));
    if (!dev) return SOMA_OK;
    /* the dead-ReLU statistics count the hidden units, the only ones behind an activation */
    SOMA_TRY(soma_tensor_create(dev, 1, h, &L->alive));
    return soma_tensor_fill(L->alive, 0.0f);
}

/* fc1 by the block's activation (He for the ReLU family), fc2 and the
 * projection as linear maps (Xavier under AUTO); each matrix its own
 * offset of the weight stream: l, l + SOMA_MAX_LAYERS, l + 2 SOMA_MAX_LAYERS */
static soma_status res_init(soma_layer *L, soma_init init, uint64_t seed) {
    uint64_t l = (uint64_t)L->index;
    SOMA_TRY(soma_tensor_fill(L->params[NORM_W].value, 1.0f));
    SOMA_TRY(soma_tensor_fill(L->params[NORM_B].value, 0.0f));
    SOMA_TRY(soma_layer_init_matrix(L->params[FC1_W].value, init, L->desc.act, seed, l));
    SOMA_TRY(soma_tensor_fill(L->params[FC1_B].value, 0.0f));
    SOMA_TRY(soma_layer_init_matrix(L->params[FC2_W].value, init, SOMA_ACT_IDENTITY, seed, l + SOMA_MAX_LAYERS));
    SOMA_TRY(soma_tensor_fill(L->params[FC2_B].value, 0.0f));
    if (has_proj(L))
        SOMA_TRY(soma_layer_init_matrix(L->params[PROJ].value, init, SOMA_ACT_IDENTITY, seed, l + 2 * SOMA_MAX_LAYERS));
    return SOMA_OK;
}

static soma_status res_ws_create(soma_device *dev, const soma_layer *L, int64_t rows, int training,
                                 soma_layer_ws *ws) {
    int64_t in = L->in, h = L->desc.units;
    SOMA_TRY(soma_layer_ensure(dev, &ws->t[N], rows, in));
    SOMA_TRY(soma_layer_ensure(dev, &ws->t[SAVED], rows, 2));
    SOMA_TRY(soma_layer_ensure(dev, &ws->t[Z1], rows, h));
    if (L->desc.act != SOMA_ACT_IDENTITY) SOMA_TRY(soma_layer_ensure(dev, &ws->t[H1], rows, h));
    SOMA_TRY(soma_layer_ensure(dev, &ws->t[Z2], rows, L->out));
    ws->out = ws->t[Z2];
    if (!training) return SOMA_OK;
    SOMA_TRY(soma_layer_ensure(dev, &ws->t[DH1], rows, h));
    SOMA_TRY(soma_layer_ensure(dev, &ws->t[DN], rows, in));
    return soma_layer_ensure(dev, &ws->t[DXN], rows, in);
}

static const soma_tensor *hidden_of(const soma_layer *L, const soma_layer_ws *ws) {
    return L->desc.act != SOMA_ACT_IDENTITY ? ws->t[H1] : ws->t[Z1];
}

static soma_status res_forward(const soma_layer *L, const soma_tensor *x, soma_layer_ws *ws, const soma_layer_run *r) {
    const soma_param *p = L->params;
    const soma_layer_desc *d = &L->desc;
    SOMA_TRY(soma_layernorm_forward(LN_EPS, x, p[NORM_W].value, p[NORM_B].value, ws->t[N], ws->t[SAVED]));
    SOMA_TRY(soma_gemm_ex(0, 1, 1.0f, ws->t[N], p[FC1_W].value, 0.0f, ws->t[Z1], r->precision));
    if (d->act != SOMA_ACT_IDENTITY)
        SOMA_TRY(soma_bias_act(d->act, d->act_param, ws->t[Z1], p[FC1_B].value, ws->t[Z1], ws->t[H1]));
    else
        SOMA_TRY(soma_bias_add(ws->t[Z1], p[FC1_B].value, ws->t[Z1]));
    if (r->training && d->act == SOMA_ACT_RELU) SOMA_TRY(soma_active_columns(ws->t[Z1], L->alive));
    SOMA_TRY(soma_gemm_ex(0, 1, 1.0f, hidden_of(L, ws), p[FC2_W].value, 0.0f, ws->t[Z2], r->precision));
    SOMA_TRY(soma_bias_add(ws->t[Z2], p[FC2_B].value, ws->t[Z2]));
    if (has_proj(L)) return soma_gemm_ex(0, 1, 1.0f, x, p[PROJ].value, 1.0f, ws->t[Z2], r->precision);
    return soma_add(ws->t[Z2], x, ws->t[Z2]);
}

static soma_status res_backward(const soma_layer *L, const soma_tensor *x, soma_layer_ws *ws, const soma_tensor *dy,
                                soma_tensor *dx, soma_precision precision) {
    const soma_param *p = L->params;
    const soma_layer_desc *d = &L->desc;
    soma_tensor *dh1 = ws->t[DH1];
    SOMA_TRY(soma_gemm_ex(1, 0, 1.0f, dy, hidden_of(L, ws), 0.0f, p[FC2_W].grad, precision));
    SOMA_TRY(soma_bias_grad(dy, p[FC2_B].grad));
    SOMA_TRY(soma_gemm_ex(0, 0, 1.0f, dy, p[FC2_W].value, 0.0f, dh1, precision));
    if (d->act != SOMA_ACT_IDENTITY)
        SOMA_TRY(soma_activation_backward(d->act, d->act_param, ws->t[Z1], ws->t[H1], dh1, dh1));
    SOMA_TRY(soma_gemm_ex(1, 0, 1.0f, dh1, ws->t[N], 0.0f, p[FC1_W].grad, precision));
    SOMA_TRY(soma_bias_grad(dh1, p[FC1_B].grad));
    SOMA_TRY(soma_gemm_ex(0, 0, 1.0f, dh1, p[FC1_W].value, 0.0f, ws->t[DN], precision));
    SOMA_TRY(soma_layernorm_backward(x, p[NORM_W].value, ws->t[SAVED], ws->t[DN], ws->t[DXN], p[NORM_W].grad,
                                     p[NORM_B].grad));
    if (has_proj(L)) SOMA_TRY(soma_gemm_ex(1, 0, 1.0f, dy, x, 0.0f, p[PROJ].grad, precision));
    if (!dx) return SOMA_OK;
    if (!has_proj(L)) return soma_add(dy, ws->t[DXN], dx);
    SOMA_TRY(soma_gemm_ex(0, 0, 1.0f, dy, p[PROJ].value, 0.0f, dx, precision));
    return soma_add(dx, ws->t[DXN], dx);
}

const soma_layer_kind soma_layer_residual = {
    /* .name = */ "res",
    /* .short_name = */ "residual",
    /* .out_width = */ res_out_width,
    /* .create = */ res_create,
    /* .init = */ res_init,
    /* .ws_create = */ res_ws_create,
    /* .forward = */ res_forward,
    /* .backward = */ res_backward,
};
