/* mlp.c: the multilayer perceptron: layers, initialization, forward and
 * backward passes, all through the tensor API (device-blind).
 *
 * Per layer l with input x_l (rows x in), in training:
 *   z = x_l W^T + b,   h = act(z) mask / (1 - p)
 * where a hidden layer's bias, activation and dropout (p = 0: none) run in
 * one pass after the GEMM (soma_bias_act_dropout), which keeps the mask
 * (1 bit per element) for the backward and counts the units ever active
 * for the dead-ReLU statistics. The output layer has no dropout:
 * h = act(z) (soma_bias_act, or a bias add in place for identity).
 * Backward, from dh:
 *   dz = dh mask / (1 - p) act'(z)   (one pass, no random numbers drawn),
 *   dW = dz^T x_l,  db = colsum(dz),  dx_l = dz W.
 * In evaluation every layer is h = act(z) (soma_bias_act): no dropout, no
 * mask, no statistics. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/device_internal.h"
#include "core/error.h"
#include "core/step_ops.h"
#include "model/model_internal.h"
#include "soma/model.h"
#include "model/mlp_internal.h"

#define MAX_WORKSPACES 4 /* batch, last partial batch, evaluation batch and its remainder */

typedef struct layer {
    soma_layer_spec spec;
    int64_t in, out;
    soma_tensor *w, *b, *dw, *db;
    soma_tensor *alive; /* 1 x out: ever positive pre-activation (ReLU layers) */
} layer;

/* Work tensors for one batch size: z and the layer's output h (which is z
 * itself for an identity output layer); for training also the dropout masks
 * of the hidden layers and g, the gradient flowing back through each layer's
 * outputs, made by the first training forward with these rows (evaluation
 * batches never need them). */
typedef struct workspace {
    int64_t rows;
    int training;
    soma_tensor *z[SOMA_MAX_LAYERS], *h[SOMA_MAX_LAYERS];
    soma_tensor *mask[SOMA_MAX_LAYERS], *g[SOMA_MAX_LAYERS];
    unsigned long long last_used;
} workspace;

struct soma_mlp {
    soma_device *device;
    int64_t inputs;
    int n_layers;
    layer layers[SOMA_MAX_LAYERS];
    workspace ws[MAX_WORKSPACES];
    workspace *current;  /* of the last forward */
    int current_training; /* ... and whether it was a training one */
    unsigned long long clock;
    unsigned long long workspace_generation; /* +1 whenever a workspace is (re)made */
    const soma_tensor *step_ctl; /* set by the training loop: dropout's step comes from it */
    soma_precision precision; /* of every GEMM (soma_mlp_set_precision) */
};

static const char *const init_names[SOMA_INIT_COUNT] = {
    "auto", "xavier_uniform", "xavier_normal", "he_uniform", "he_normal"};

const char *soma_init_name(soma_init init) {
    return (int)init >= 0 && init < SOMA_INIT_COUNT ? init_names[init] : NULL;
}

soma_status soma_init_parse(const char *name, soma_init *out) {
    for (int i = 0; name && out && i < SOMA_INIT_COUNT; i++)
        if (strcmp(name, init_names[i]) == 0) {
            *out = (soma_init)i;
            return SOMA_OK;
        }
    return soma_fail(SOMA_ERR_INVALID_ARG,
                     "soma_init_parse: unknown initialization '%s' (expected auto, xavier_uniform, "
                     "xavier_normal, he_uniform or he_normal)",
                     name ? name : "(null)");
}

static void workspace_free(workspace *ws) {
    for (int l = 0; l < SOMA_MAX_LAYERS; l++) {
        if (ws->h[l] != ws->z[l]) soma_tensor_free(ws->h[l]);
        soma_tensor_free(ws->z[l]);
        soma_tensor_free(ws->mask[l]);
        soma_tensor_free(ws->g[l]);
    }
    memset(ws, 0, sizeof *ws);
}

void soma_mlp_free(soma_mlp *m) {
    if (!m) return;
    for (int w = 0; w < MAX_WORKSPACES; w++) workspace_free(&m->ws[w]);
    for (int l = 0; l < m->n_layers; l++) {
        layer *L = &m->layers[l];
        soma_tensor *ts[] = {L->w, L->b, L->dw, L->db, L->alive};
        for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) soma_tensor_free(ts[i]);
    }
    soma_device_close(m->device);
    free(m);
}

static soma_status check_specs(int64_t inputs, const soma_layer_spec *layers, int n_layers) {
    const char *api = "soma_mlp_create";
    if (inputs < 1) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: inputs = %lld must be >= 1", api, (long long)inputs);
    if (n_layers < 1 || n_layers > SOMA_MAX_LAYERS)
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: %d layers (must be 1..%d)", api, n_layers, SOMA_MAX_LAYERS);
    if (!layers) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 'layers' is NULL", api);
    for (int l = 0; l < n_layers; l++) {
        if (layers[l].units < 1)
            return soma_fail(SOMA_ERR_INVALID_ARG, "%s: layer %d has %lld units", api, l, (long long)layers[l].units);
        if ((int)layers[l].act < 0 || layers[l].act >= SOMA_ACT_COUNT)
            return soma_fail(SOMA_ERR_INVALID_ARG, "%s: layer %d: activation %d is not a soma_activation",
                             api, l, (int)layers[l].act);
        if (!(layers[l].dropout >= 0.0f && layers[l].dropout < 1.0f))
            return soma_fail(SOMA_ERR_INVALID_ARG, "%s: layer %d: dropout %g is not in [0, 1)", api, l,
                             layers[l].dropout);
        if (l == n_layers - 1 && layers[l].dropout > 0.0f)
            return soma_fail(SOMA_ERR_INVALID_ARG, "%s: the output layer cannot have dropout", api);
    }
    return SOMA_OK;
}

soma_status soma_mlp_create(soma_device *device, int64_t inputs, const soma_layer_spec *layers,
                            int n_layers, soma_mlp **out) {
    if (!out) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_mlp_create: argument 'out' is NULL");
    *out = NULL;
    if (!device) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_mlp_create: argument 'device' is NULL");
    SOMA_TRY(check_specs(inputs, layers, n_layers));
    /* per layer: weight and its gradient (out x in), bias, its gradient and the liveness row (out) */
    double params = 0.0, floats = 0.0, fan_in = (double)inputs;
    for (int l = 0; l < n_layers; l++) {
        double out = (double)layers[l].units;
        params += out * fan_in + out;
        floats += 2.0 * out * fan_in + 3.0 * out;
        fan_in = out;
    }
    char what[96];
    snprintf(what, sizeof what, "a model of %.0f parameters (with their gradients)", params);
    SOMA_TRY(soma_device_check_memory(device, "soma_mlp_create", what,
                                      floats * 4.0 < 1.8e19 ? (uint64_t)(floats * 4.0) : UINT64_MAX));
    soma_mlp *m = calloc(1, sizeof *m);
    if (!m) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "soma_mlp_create: out of host memory");
    soma_status st = soma_device_open(soma_device_name(device), &m->device);
    if (st != SOMA_OK) {
        free(m);
        return st;
    }
    m->inputs = inputs;
    m->n_layers = n_layers;
    int64_t in = inputs;
    for (int l = 0; l < n_layers && st == SOMA_OK; l++) {
        layer *L = &m->layers[l];
        L->spec = layers[l];
        if (L->spec.act == SOMA_ACT_LEAKY_RELU && L->spec.act_param == 0.0f) L->spec.act_param = 0.01f;
        L->in = in;
        L->out = layers[l].units;
        if (st == SOMA_OK) st = soma_tensor_create(device, L->out, L->in, &L->w);
        if (st == SOMA_OK) st = soma_tensor_create(device, 1, L->out, &L->b);
        if (st == SOMA_OK) st = soma_tensor_create(device, L->out, L->in, &L->dw);
        if (st == SOMA_OK) st = soma_tensor_create(device, 1, L->out, &L->db);
        if (st == SOMA_OK) st = soma_tensor_create(device, 1, L->out, &L->alive);
        if (st == SOMA_OK) st = soma_tensor_fill(L->alive, 0.0f);
        in = L->out;
    }
    if (st == SOMA_OK) st = soma_mlp_init(m, SOMA_INIT_AUTO, 1);
    if (st != SOMA_OK) {
        soma_mlp_free(m);
        return st;
    }
    *out = m;
    return SOMA_OK;
}

soma_status soma_mlp_create_simple(soma_device *device, const int64_t *sizes, int n_sizes,
                                   soma_activation hidden, soma_mlp **out) {
    if (!sizes || n_sizes < 2 || n_sizes > SOMA_MAX_LAYERS + 1) {
        if (out) *out = NULL;
        return soma_fail(SOMA_ERR_INVALID_ARG,
                         "soma_mlp_create_simple: need 2 to %d sizes (inputs, ..., outputs), got %d",
                         SOMA_MAX_LAYERS + 1, sizes ? n_sizes : 0);
    }
    soma_layer_spec specs[SOMA_MAX_LAYERS];
    for (int l = 0; l + 1 < n_sizes; l++)
        specs[l] = (soma_layer_spec){.units = sizes[l + 1],
                                     .act = l + 2 < n_sizes ? hidden : SOMA_ACT_IDENTITY};
    return soma_mlp_create(device, sizes[0], specs, n_sizes - 1, out);
}

static int relu_family(soma_activation act) {
    return act == SOMA_ACT_RELU || act == SOMA_ACT_LEAKY_RELU || act == SOMA_ACT_GELU_ERF ||
           act == SOMA_ACT_GELU_TANH || act == SOMA_ACT_SILU;
}

soma_status soma_mlp_init(soma_mlp *m, soma_init init, uint64_t seed) {
    if (!m) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_mlp_init: argument 'm' is NULL");
    if ((int)init < 0 || init >= SOMA_INIT_COUNT)
        return soma_fail(SOMA_ERR_INVALID_ARG, "soma_mlp_init: init %d is not a soma_init", (int)init);
    soma_rng rng = soma_rng_make(seed);
    for (int l = 0; l < m->n_layers; l++) {
        layer *L = &m->layers[l];
        soma_init kind = init;
        if (kind == SOMA_INIT_AUTO)
            kind = relu_family(L->spec.act) ? SOMA_INIT_HE_UNIFORM : SOMA_INIT_XAVIER_UNIFORM;
        double fan_in = (double)L->in, fan_out = (double)L->out;
        double var = kind == SOMA_INIT_HE_UNIFORM || kind == SOMA_INIT_HE_NORMAL ? 2.0 / fan_in
                                                                                 : 2.0 / (fan_in + fan_out);
        rng.offset = (uint64_t)l; /* layer l's weights depend on (seed, l) only */
        if (kind == SOMA_INIT_XAVIER_NORMAL || kind == SOMA_INIT_HE_NORMAL) {
            SOMA_TRY(soma_tensor_fill_normal(L->w, &rng, 0.0f, (float)sqrt(var)));
        } else {
            float a = (float)sqrt(3.0 * var); /* U(-a, a) has variance a^2 / 3 */
            SOMA_TRY(soma_tensor_fill_uniform(L->w, &rng, -a, a));
        }
        SOMA_TRY(soma_tensor_fill(L->b, 0.0f));
    }
    return SOMA_OK;
}

int soma_mlp_layer_count(const soma_mlp *m) { return m ? m->n_layers : 0; }
int64_t soma_mlp_inputs(const soma_mlp *m) { return m ? m->inputs : 0; }
int64_t soma_mlp_outputs(const soma_mlp *m) { return m ? m->layers[m->n_layers - 1].out : 0; }
soma_device *soma_mlp_device(const soma_mlp *m) { return m ? m->device : NULL; }

soma_layer_spec soma_mlp_layer(const soma_mlp *m, int l) {
    soma_layer_spec none = {0};
    return m && l >= 0 && l < m->n_layers ? m->layers[l].spec : none;
}

int64_t soma_mlp_parameter_count(const soma_mlp *m) {
    int64_t total = 0;
    for (int l = 0; m && l < m->n_layers; l++) total += (m->layers[l].in + 1) * m->layers[l].out;
    return total;
}

#define LAYER_TENSOR(fn, field)                                                                 \
    soma_tensor *fn(soma_mlp *m, int l) {                                                      \
        return m && l >= 0 && l < m->n_layers ? m->layers[l].field : NULL;                     \
    }
LAYER_TENSOR(soma_mlp_weight, w)
LAYER_TENSOR(soma_mlp_bias, b)
LAYER_TENSOR(soma_mlp_weight_grad, dw)
LAYER_TENSOR(soma_mlp_bias_grad, db)

void soma_mlp_print_summary(const soma_mlp *m, FILE *to) {
    fprintf(to, "%-6s %-14s %-12s %-10s %-8s %12s\n", "layer", "weight", "activation", "dropout",
            "output", "parameters");
    for (int l = 0; l < m->n_layers; l++) {
        const layer *L = &m->layers[l];
        char shape[32];
        snprintf(shape, sizeof shape, "%lldx%lld", (long long)L->out, (long long)L->in);
        fprintf(to, "%-6d %-14s %-12s %-10.2f %-8lld %12lld\n", l, shape,
                soma_activation_name(L->spec.act), (double)L->spec.dropout, (long long)L->out,
                (long long)((L->in + 1) * L->out));
    }
    fprintf(to, "total parameters: %lld\n", (long long)soma_mlp_parameter_count(m));
}

static int is_hidden(const soma_mlp *m, int l) { return l + 1 < m->n_layers; }

/* The training half of a workspace: masks and gradients. */
static soma_status workspace_add_training(soma_mlp *m, workspace *ws) {
    for (int l = 0; l < m->n_layers; l++) {
        const layer *L = &m->layers[l];
        SOMA_TRY(soma_tensor_create(m->device, ws->rows, L->out, &ws->g[l]));
        if (is_hidden(m, l))
            SOMA_TRY(soma_tensor_create(m->device, ws->rows, soma_dropout_mask_words(L->out), &ws->mask[l]));
    }
    ws->training = 1;
    return SOMA_OK;
}

/* The workspace for `rows`, created on first use (evicting the least
 * recently used one when all are taken), with its training half when
 * training. */
static soma_status workspace_for(soma_mlp *m, int64_t rows, int training, workspace **out) {
    workspace *pick = NULL;
    for (int w = 0; w < MAX_WORKSPACES && !pick; w++)
        if (m->ws[w].rows == rows) pick = &m->ws[w];
    if (!pick) {
        pick = &m->ws[0];
        for (int w = 1; w < MAX_WORKSPACES; w++)
            if (m->ws[w].last_used < pick->last_used) pick = &m->ws[w];
        workspace_free(pick);
        m->workspace_generation++;
        pick->rows = rows;
        soma_status st = SOMA_OK;
        for (int l = 0; l < m->n_layers && st == SOMA_OK; l++) {
            const layer *L = &m->layers[l];
            st = soma_tensor_create(m->device, rows, L->out, &pick->z[l]);
            pick->h[l] = pick->z[l];
            if (st == SOMA_OK && (is_hidden(m, l) || L->spec.act != SOMA_ACT_IDENTITY))
                st = soma_tensor_create(m->device, rows, L->out, &pick->h[l]);
        }
        if (st != SOMA_OK) {
            workspace_free(pick);
            return st;
        }
    }
    if (training && !pick->training) {
        m->workspace_generation++;
        soma_status st = workspace_add_training(m, pick);
        if (st != SOMA_OK) {
            workspace_free(pick);
            return st;
        }
    }
    pick->last_used = ++m->clock;
    *out = pick;
    return SOMA_OK;
}

/* h = act(z + b) with z = z + b kept, or z += b alone where h is z */
static soma_status bias_and_activation(const layer *L, soma_tensor *z, soma_tensor *h) {
    if (h == z) return soma_bias_add(z, L->b, z);
    return soma_bias_act(L->spec.act, L->spec.act_param, z, L->b, z, h);
}

soma_status soma_mlp_forward(soma_mlp *m, const soma_tensor *x, int training, soma_rng dropout_rng,
                             const soma_tensor **output) {
    const char *api = "soma_mlp_forward";
    if (!m || !x || !output)
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument '%s' is NULL", api, !m ? "m" : !x ? "x" : "output");
    if (soma_tensor_cols(x) != m->inputs)
        return soma_fail(SOMA_ERR_SHAPE, "%s: 'x' is %lldx%lld but the model takes %lld inputs", api,
                         (long long)soma_tensor_rows(x), (long long)soma_tensor_cols(x), (long long)m->inputs);
    workspace *ws;
    m->current = NULL; /* until this forward is complete */
    SOMA_TRY(workspace_for(m, soma_tensor_rows(x), training, &ws));
    const soma_tensor *input = x;
    for (int l = 0; l < m->n_layers; l++) {
        layer *L = &m->layers[l];
        soma_tensor *z = ws->z[l], *h = ws->h[l];
        SOMA_TRY(soma_gemm_ex(0, 1, 1.0f, input, L->w, 0.0f, z, m->precision));
        if (training && is_hidden(m, l) && m->step_ctl) {
            /* layer l of step t draws from offset l + (t - 1) SOMA_MAX_LAYERS, as below
             * with the offset (t - 1) SOMA_MAX_LAYERS that the training loop passes */
            soma_rng r = {dropout_rng.seed, (uint64_t)l};
            SOMA_TRY(soma_bias_act_dropout_step(L->spec.act, L->spec.act_param, L->spec.dropout, r,
                                                SOMA_MAX_LAYERS, z, L->b, m->step_ctl, h, z,
                                                ws->mask[l], L->alive));
        } else if (training && is_hidden(m, l)) {
            soma_rng r = {dropout_rng.seed, dropout_rng.offset + (uint64_t)l};
            SOMA_TRY(soma_bias_act_dropout(L->spec.act, L->spec.act_param, L->spec.dropout, r, z, L->b, h, z,
                                           ws->mask[l], L->alive));
        } else {
            SOMA_TRY(bias_and_activation(L, z, h));
            if (training && L->spec.act == SOMA_ACT_RELU) SOMA_TRY(soma_active_columns(z, L->alive));
        }
        input = h;
    }
    m->current = ws;
    m->current_training = training;
    *output = input;
    return SOMA_OK;
}

/* ---- evaluation forwards on caller-owned work tensors (mlp_internal.h) ---- */

void soma_mlp_eval_ws_free(soma_mlp_eval_ws *ws) {
    if (!ws) return;
    for (int l = 0; l < SOMA_MAX_LAYERS; l++) {
        if (ws->h[l] != ws->z[l]) soma_tensor_free(ws->h[l]);
        soma_tensor_free(ws->z[l]);
    }
    memset(ws, 0, sizeof *ws);
}

soma_status soma_mlp_eval_ws_create(const soma_mlp *m, int64_t rows, soma_mlp_eval_ws *ws) {
    memset(ws, 0, sizeof *ws);
    ws->rows = rows;
    ws->n_layers = m->n_layers;
    for (int l = 0; l < m->n_layers; l++) {
        const layer *L = &m->layers[l];
        soma_status st = soma_tensor_create(m->device, rows, L->out, &ws->z[l]);
        ws->h[l] = ws->z[l];
        if (st == SOMA_OK && (is_hidden(m, l) || L->spec.act != SOMA_ACT_IDENTITY))
            st = soma_tensor_create(m->device, rows, L->out, &ws->h[l]);
        if (st != SOMA_OK) {
            soma_mlp_eval_ws_free(ws);
            return st;
        }
    }
    return SOMA_OK;
}

soma_status soma_mlp_eval_forward(const soma_mlp *m, const soma_tensor *x, soma_mlp_eval_ws *ws,
                                  const soma_tensor **output) {
    if (ws->n_layers != m->n_layers || soma_tensor_rows(x) != ws->rows || soma_tensor_cols(x) != m->inputs)
        return soma_fail(SOMA_ERR_SHAPE, "soma_mlp_eval_forward: 'x' is %lldx%lld, the work tensors are for %lld rows "
                         "and the model takes %lld inputs", (long long)soma_tensor_rows(x),
                         (long long)soma_tensor_cols(x), (long long)ws->rows, (long long)m->inputs);
    const soma_tensor *input = x;
    for (int l = 0; l < m->n_layers; l++) {
        const layer *L = &m->layers[l];
        SOMA_TRY(soma_gemm(0, 1, 1.0f, input, L->w, 0.0f, ws->z[l]));
        SOMA_TRY(bias_and_activation(L, ws->z[l], ws->h[l]));
        input = ws->h[l];
    }
    *output = input;
    return SOMA_OK;
}

soma_status soma_mlp_backward(soma_mlp *m, const soma_tensor *x, const soma_tensor *doutput) {
    const char *api = "soma_mlp_backward";
    if (!m || !x || !doutput)
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument '%s' is NULL", api,
                         !m ? "m" : !x ? "x" : "doutput");
    workspace *ws = m->current;
    if (!ws || !m->current_training || ws->rows != soma_tensor_rows(x))
        return soma_fail(SOMA_ERR_INVALID_ARG,
                         "%s: no training forward pass with %lld rows precedes this backward pass",
                         api, (long long)soma_tensor_rows(x));
    const soma_tensor *dh = doutput;
    for (int l = m->n_layers - 1; l >= 0; l--) {
        layer *L = &m->layers[l];
        /* dz = dh mask / (1 - p) act'(z), into g[l] (in place when dh is
         * already there); for an identity output layer dz is dh itself */
        const soma_tensor *dz = dh;
        if (is_hidden(m, l)) {
            SOMA_TRY(soma_bias_act_dropout_backward(L->spec.act, L->spec.act_param, L->spec.dropout, ws->z[l],
                                                    ws->mask[l], dh, ws->g[l]));
            dz = ws->g[l];
        } else if (L->spec.act != SOMA_ACT_IDENTITY) {
            SOMA_TRY(soma_activation_backward(L->spec.act, L->spec.act_param, ws->z[l], ws->h[l], dh, ws->g[l]));
            dz = ws->g[l];
        }
        const soma_tensor *input = l > 0 ? ws->h[l - 1] : x;
        SOMA_TRY(soma_gemm_ex(1, 0, 1.0f, dz, input, 0.0f, L->dw, m->precision));
        SOMA_TRY(soma_bias_grad(dz, L->db));
        if (l > 0) {
            SOMA_TRY(soma_gemm_ex(0, 0, 1.0f, dz, L->w, 0.0f, ws->g[l - 1], m->precision));
            dh = ws->g[l - 1];
        }
    }
    return SOMA_OK;
}

/* Called once per epoch, so the host buffer is allocated here, not kept. */
soma_status soma_mlp_dead_fraction(soma_mlp *m, int l, double *fraction) {
    if (!m || !fraction || l < 0 || l >= m->n_layers)
        return soma_fail(SOMA_ERR_INVALID_ARG, "soma_mlp_dead_fraction: no layer %d, or NULL argument", l);
    layer *L = &m->layers[l];
    *fraction = 0.0;
    if (L->spec.act != SOMA_ACT_RELU) return SOMA_OK;
    float *flags = malloc((size_t)L->out * sizeof *flags);
    if (!flags) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "soma_mlp_dead_fraction: out of host memory");
    soma_status st = soma_tensor_download(L->alive, flags, (size_t)L->out);
    int64_t dead = 0;
    for (int64_t j = 0; st == SOMA_OK && j < L->out; j++) dead += flags[j] == 0.0f;
    free(flags);
    *fraction = (double)dead / (double)L->out;
    return st;
}

soma_status soma_mlp_reset_dead_tracking(soma_mlp *m) {
    if (!m) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_mlp_reset_dead_tracking: argument 'm' is NULL");
    for (int l = 0; l < m->n_layers; l++) SOMA_TRY(soma_tensor_fill(m->layers[l].alive, 0.0f));
    return SOMA_OK;
}

soma_status soma_mlp_copy_parameters(soma_mlp *dst, const soma_mlp *src) {
    if (!dst || !src)
        return soma_fail(SOMA_ERR_INVALID_ARG, "soma_mlp_copy_parameters: argument '%s' is NULL",
                         dst ? "src" : "dst");
    if (dst->n_layers != src->n_layers || dst->inputs != src->inputs)
        return soma_fail(SOMA_ERR_SHAPE, "soma_mlp_copy_parameters: the models differ in architecture");
    for (int l = 0; l < dst->n_layers; l++) {
        SOMA_TRY(soma_tensor_copy(dst->layers[l].w, src->layers[l].w));
        SOMA_TRY(soma_tensor_copy(dst->layers[l].b, src->layers[l].b));
    }
    return SOMA_OK;
}

void soma_mlp_set_step_ctl(soma_mlp *m, const soma_tensor *ctl) {
    if (m) m->step_ctl = ctl;
}

unsigned long long soma_mlp_workspace_generation(const soma_mlp *m) { return m ? m->workspace_generation : 0; }

soma_status soma_mlp_set_precision(soma_mlp *m, soma_precision precision) {
    if (!m) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_mlp_set_precision: argument 'm' is NULL");
    if (!soma_precision_name(precision))
        return soma_fail(SOMA_ERR_INVALID_ARG,
                         "soma_mlp_set_precision: precision %d is not a soma_precision (fp32 0, tf32 "
                         "1, bf16 2)",
                         (int)precision);
    m->precision = precision;
    return SOMA_OK;
}

soma_precision soma_mlp_precision(const soma_mlp *m) { return m ? m->precision : SOMA_PRECISION_FP32; }
