/* mlp.c: the model: a list of layers (model/layer.h) with their work
 * tensors per batch size, and the named parameters they register. The
 * forward runs each layer's forward on the previous layer's output; the
 * backward runs them in reverse, each writing the gradient of its input
 * into the previous layer's g. Nothing here knows a layer kind. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/device_internal.h"
#include "core/error.h"
#include "model/layer.h"
#include "model/mlp_internal.h"
#include "model/model_internal.h"
#include "soma/model.h"

#define MAX_WORKSPACES 4 /* batch, last partial batch, evaluation batch and its remainder */

/* Work tensors for one batch size, per layer; the training half (the
 * gradients g, dropout masks, what the backward needs) is made by the
 * first training forward with these rows (evaluation batches never need it). */
typedef struct workspace {
    int64_t rows;
    int training;
    soma_layer_ws lws[SOMA_MAX_LAYERS];
    unsigned long long last_used;
} workspace;

struct soma_mlp {
    soma_device *device;
    int64_t inputs;
    int n_layers;
    soma_layer layers[SOMA_MAX_LAYERS];
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
    for (int l = 0; l < SOMA_MAX_LAYERS; l++) soma_layer_ws_free(&ws->lws[l]);
    memset(ws, 0, sizeof *ws);
}

void soma_mlp_free(soma_mlp *m) {
    if (!m) return;
    for (int w = 0; w < MAX_WORKSPACES; w++) workspace_free(&m->ws[w]);
    for (int l = 0; l < m->n_layers; l++) soma_layer_free(&m->layers[l]);
    soma_device_close(m->device);
    free(m);
}

/* The trained parameters of a layer of this description. */
static double layer_params(const soma_layer_desc *d, int64_t in64, int64_t out64) {
    double in = (double)in64, out = (double)out64, h = (double)d->units;
    switch (d->kind) {
    case SOMA_LAYER_DENSE: return in * out + out;
    case SOMA_LAYER_RESIDUAL: return 2.0 * in + in * h + h + h * out + out + (in != out ? in * out : 0.0);
    default: return 2.0 * out;
    }
}

static soma_status check_descs(int64_t inputs, const soma_layer_desc *d, int n) {
    const char *api = "soma_mlp_create";
    if (inputs < 1) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: inputs = %lld must be >= 1", api, (long long)inputs);
    if (n < 1 || n > SOMA_MAX_LAYERS)
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: %d layers (must be 1..%d)", api, n, SOMA_MAX_LAYERS);
    for (int l = 0; l < n; l++) {
        if (!soma_layer_kind_of(d[l].kind))
            return soma_fail(SOMA_ERR_INVALID_ARG, "%s: layer %d: kind %d is not a layer kind", api, l, (int)d[l].kind);
        if ((d[l].kind == SOMA_LAYER_DENSE || d[l].kind == SOMA_LAYER_RESIDUAL) && d[l].units < 1)
            return soma_fail(SOMA_ERR_INVALID_ARG, "%s: layer %d has %lld units", api, l, (long long)d[l].units);
        if (d[l].width < 0)
            return soma_fail(SOMA_ERR_INVALID_ARG, "%s: layer %d has width %lld", api, l, (long long)d[l].width);
        if ((int)d[l].act < 0 || d[l].act >= SOMA_ACT_COUNT)
            return soma_fail(SOMA_ERR_INVALID_ARG, "%s: layer %d: activation %d is not a soma_activation",
                             api, l, (int)d[l].act);
        if (!(d[l].dropout >= 0.0f && d[l].dropout < 1.0f))
            return soma_fail(SOMA_ERR_INVALID_ARG, "%s: layer %d: dropout %g is not in [0, 1)", api, l,
                             d[l].dropout);
        if (l == n - 1 && d[l].dropout > 0.0f)
            return soma_fail(SOMA_ERR_INVALID_ARG, "%s: the output layer cannot have dropout", api);
    }
    return SOMA_OK;
}

/* The model of these layers, weights initialized with AUTO and seed 1. */
static soma_status create_from(soma_device *device, int64_t inputs, const soma_layer_desc *descs, int n,
                               soma_mlp **out) {
    SOMA_TRY(check_descs(inputs, descs, n));
    /* parameters and their gradients, and per layer the dead-unit flags (and
     * a norm's running statistics) */
    double params = 0.0, floats = 0.0;
    int64_t in = inputs;
    for (int l = 0; l < n; l++) {
        int64_t o = soma_layer_kind_of(descs[l].kind)->out_width(&descs[l], in);
        double p = layer_params(&descs[l], in, o);
        params += p;
        floats += 2.0 * p + (descs[l].kind == SOMA_LAYER_DENSE ? 1.0 : 4.0) * (double)o;
        in = o;
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
    in = inputs;
    for (int l = 0; l < n && st == SOMA_OK; l++) {
        soma_layer *L = &m->layers[l];
        m->n_layers = l + 1; /* what soma_mlp_free frees */
        L->kind = soma_layer_kind_of(descs[l].kind);
        L->desc = descs[l];
        if (L->desc.act == SOMA_ACT_LEAKY_RELU && L->desc.act_param == 0.0f) L->desc.act_param = 0.01f;
        L->index = l;
        L->is_output = l == n - 1;
        L->in = in;
        L->out = L->kind->out_width(&L->desc, in);
        st = L->kind->create(m->device, L);
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

soma_status soma_mlp_create(soma_device *device, int64_t inputs, const soma_layer_spec *layers,
                            int n_layers, soma_mlp **out) {
    if (!out) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_mlp_create: argument 'out' is NULL");
    *out = NULL;
    if (!device) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_mlp_create: argument 'device' is NULL");
    if (n_layers < 1 || n_layers > SOMA_MAX_LAYERS)
        return soma_fail(SOMA_ERR_INVALID_ARG, "soma_mlp_create: %d layers (must be 1..%d)", n_layers, SOMA_MAX_LAYERS);
    if (!layers) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_mlp_create: argument 'layers' is NULL");
    soma_layer_desc descs[SOMA_MAX_LAYERS];
    for (int l = 0; l < n_layers; l++) descs[l] = soma_layer_desc_dense(&layers[l]);
    return create_from(device, inputs, descs, n_layers, out);
}

soma_status soma_mlp_create_arch(soma_device *device, const char *arch, soma_mlp **out) {
    if (!out) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_mlp_create_arch: argument 'out' is NULL");
    *out = NULL;
    if (!device) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_mlp_create_arch: argument 'device' is NULL");
    soma_layer_desc descs[SOMA_MAX_LAYERS];
    int n = 0;
    int64_t inputs = 0;
    SOMA_TRY(soma_arch_parse(arch, &inputs, descs, &n));
    return create_from(device, inputs, descs, n, out);
}

soma_status soma_arch_param_shapes(const char *arch, soma_param_shape *out, int max, int *n) {
    soma_layer_desc descs[SOMA_MAX_LAYERS];
    int layers = 0;
    int64_t in = 0;
    SOMA_TRY(soma_arch_parse(arch, &in, descs, &layers));
    SOMA_TRY(check_descs(in, descs, layers));
    *n = 0;
    for (int l = 0; l < layers; l++) {
        soma_layer L = {.kind = soma_layer_kind_of(descs[l].kind), .desc = descs[l], .index = l,
                        .is_output = l == layers - 1, .in = in};
        L.out = L.kind->out_width(&L.desc, in);
        SOMA_TRY(L.kind->create(NULL, &L)); /* names and shapes only */
        for (int k = 0; k < L.n_params; k++) {
            if (*n == max) return soma_fail(SOMA_ERR_INVALID_ARG, "architecture: more than %d tensors", max);
            soma_param_shape *p = &out[(*n)++];
            snprintf(p->name, sizeof p->name, "%s", L.names[k]);
            p->rows = L.shapes[k][0];
            p->cols = L.shapes[k][1];
            p->rank = L.params[k].rank;
            p->trained = L.trained[k];
            p->layer = l;
            p->in = L.in;
            p->out = L.out;
        }
        in = L.out;
    }
    return SOMA_OK;
}

soma_status soma_mlp_arch(const soma_mlp *m, char *buf, size_t size) {
    if (!m) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_mlp_arch: argument 'm' is NULL");
    soma_layer_desc descs[SOMA_MAX_LAYERS];
    for (int l = 0; l < m->n_layers; l++) descs[l] = m->layers[l].desc;
    return soma_arch_format(m->inputs, descs, m->n_layers, buf, size);
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

soma_status soma_mlp_init(soma_mlp *m, soma_init init, uint64_t seed) {
    if (!m) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_mlp_init: argument 'm' is NULL");
    if ((int)init < 0 || init >= SOMA_INIT_COUNT)
        return soma_fail(SOMA_ERR_INVALID_ARG, "soma_mlp_init: init %d is not a soma_init", (int)init);
    for (int l = 0; l < m->n_layers; l++) SOMA_TRY(m->layers[l].kind->init(&m->layers[l], init, seed));
    return SOMA_OK;
}

int soma_mlp_layer_count(const soma_mlp *m) { return m ? m->n_layers : 0; }
int64_t soma_mlp_inputs(const soma_mlp *m) { return m ? m->inputs : 0; }
int64_t soma_mlp_outputs(const soma_mlp *m) { return m ? m->layers[m->n_layers - 1].out : 0; }
soma_device *soma_mlp_device(const soma_mlp *m) { return m ? m->device : NULL; }

soma_layer_spec soma_mlp_layer(const soma_mlp *m, int l) {
    soma_layer_spec none = {0};
    if (!m || l < 0 || l >= m->n_layers) return none;
    const soma_layer *L = &m->layers[l];
    return (soma_layer_spec){.units = L->out, .act = L->desc.act, .act_param = L->desc.act_param,
                             .dropout = L->desc.dropout};
}

int soma_mlp_param_count(const soma_mlp *m) {
    int n = 0;
    for (int l = 0; m && l < m->n_layers; l++) n += m->layers[l].n_params;
    return n;
}

soma_param soma_mlp_param(const soma_mlp *m, int i) {
    soma_param none = {0};
    for (int l = 0; m && i >= 0 && l < m->n_layers; l++) {
        if (i < m->layers[l].n_params) return m->layers[l].params[i];
        i -= m->layers[l].n_params;
    }
    return none;
}

static int64_t layer_parameters(const soma_layer *L) {
    int64_t total = 0;
    for (int k = 0; k < L->n_params; k++)
        if (L->params[k].grad) total += soma_tensor_numel(L->params[k].value);
    return total;
}

int64_t soma_mlp_layer_parameter_count(const soma_mlp *m, int l) {
    return m && l >= 0 && l < m->n_layers ? layer_parameters(&m->layers[l]) : 0;
}

int64_t soma_mlp_parameter_count(const soma_mlp *m) {
    int64_t total = 0;
    for (int l = 0; m && l < m->n_layers; l++) total += layer_parameters(&m->layers[l]);
    return total;
}

/* dense layer l's parameter k (0 weight, 1 bias): value or gradient */
static soma_tensor *dense_param(soma_mlp *m, int l, int k, int grad) {
    if (!m || l < 0 || l >= m->n_layers || m->layers[l].kind != &soma_layer_dense) return NULL;
    return grad ? m->layers[l].params[k].grad : m->layers[l].params[k].value;
}
soma_tensor *soma_mlp_weight(soma_mlp *m, int l) { return dense_param(m, l, 0, 0); }
soma_tensor *soma_mlp_bias(soma_mlp *m, int l) { return dense_param(m, l, 1, 0); }
soma_tensor *soma_mlp_weight_grad(soma_mlp *m, int l) { return dense_param(m, l, 0, 1); }
soma_tensor *soma_mlp_bias_grad(soma_mlp *m, int l) { return dense_param(m, l, 1, 1); }

void soma_mlp_print_summary(const soma_mlp *m, FILE *to) {
    fprintf(to, "%-6s %-14s %-12s %-10s %-8s %12s\n", "layer", "weight", "activation", "dropout",
            "output", "parameters");
    for (int l = 0; l < m->n_layers; l++) {
        const soma_layer *L = &m->layers[l];
        char shape[40];
        if (L->kind == &soma_layer_dense)
            snprintf(shape, sizeof shape, "%lldx%lld", (long long)L->out, (long long)L->in);
        else if (L->desc.kind == SOMA_LAYER_RESIDUAL)
            snprintf(shape, sizeof shape, "res:%lld", (long long)L->desc.units);
        else
            snprintf(shape, sizeof shape, "%s", L->kind->name);
        fprintf(to, "%-6d %-14s %-12s %-10.2f %-8lld %12lld\n", l, shape, soma_activation_name(L->desc.act),
                (double)L->desc.dropout, (long long)L->out, (long long)layer_parameters(L));
    }
    fprintf(to, "total parameters: %lld\n", (long long)soma_mlp_parameter_count(m));
}

/* The layers' work tensors for `rows` (the training half too when training). */
static soma_status make_ws(soma_mlp *m, int64_t rows, int training, soma_layer_ws *lws) {
    for (int l = 0; l < m->n_layers; l++) {
        const soma_layer *L = &m->layers[l];
        SOMA_TRY(L->kind->ws_create(m->device, L, rows, training, &lws[l]));
        if (training) SOMA_TRY(soma_layer_ensure(m->device, &lws[l].g, rows, L->out));
    }
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
        soma_status st = make_ws(m, rows, 0, pick->lws);
        if (st != SOMA_OK) {
            workspace_free(pick);
            return st;
        }
    }
    if (training && !pick->training) {
        m->workspace_generation++;
        soma_status st = make_ws(m, rows, 1, pick->lws);
        if (st != SOMA_OK) {
            workspace_free(pick);
            return st;
        }
        pick->training = 1;
    }
    pick->last_used = ++m->clock;
    *out = pick;
    return SOMA_OK;
}

void soma_mlp_count_forward(soma_mlp *m) {
    for (int i = 0; m && i < soma_mlp_param_count(m); i++) {
        soma_param p = soma_mlp_param(m, i);
        if (p.count) (*p.count)++;
    }
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
    soma_layer_run run = {training, dropout_rng, m->step_ctl, m->precision};
    const soma_tensor *input = x;
    for (int l = 0; l < m->n_layers; l++) {
        SOMA_TRY(m->layers[l].kind->forward(&m->layers[l], input, &ws->lws[l], &run));
        input = ws->lws[l].out;
    }
    /* the training loop (step_ctl set) counts its steps itself: a recorded
     * step runs this forward once to record and then replays it */
    if (training && !m->step_ctl) soma_mlp_count_forward(m);
    m->current = ws;
    m->current_training = training;
    *output = input;
    return SOMA_OK;
}

/* ---- evaluation forwards on caller-owned work tensors (mlp_internal.h) ---- */

void soma_mlp_eval_ws_free(soma_mlp_eval_ws *ws) {
    if (!ws) return;
    for (int l = 0; l < SOMA_MAX_LAYERS; l++) soma_layer_ws_free(&ws->lws[l]);
    memset(ws, 0, sizeof *ws);
}

soma_status soma_mlp_eval_ws_create(const soma_mlp *m, int64_t rows, soma_mlp_eval_ws *ws) {
    memset(ws, 0, sizeof *ws);
    ws->rows = rows;
    ws->n_layers = m->n_layers;
    for (int l = 0; l < m->n_layers; l++) {
        soma_status st = m->layers[l].kind->ws_create(m->device, &m->layers[l], rows, 0, &ws->lws[l]);
        if (st != SOMA_OK) {
            soma_mlp_eval_ws_free(ws);
            return st;
        }
    }
    return SOMA_OK;
}

/* fp32 whatever the model's training precision: evaluation is the reference */
soma_status soma_mlp_eval_forward(const soma_mlp *m, const soma_tensor *x, soma_mlp_eval_ws *ws,
                                  const soma_tensor **output) {
    if (ws->n_layers != m->n_layers || soma_tensor_rows(x) != ws->rows || soma_tensor_cols(x) != m->inputs)
        return soma_fail(SOMA_ERR_SHAPE, "soma_mlp_eval_forward: 'x' is %lldx%lld, the work tensors are for %lld rows "
                         "and the model takes %lld inputs", (long long)soma_tensor_rows(x),
                         (long long)soma_tensor_cols(x), (long long)ws->rows, (long long)m->inputs);
    soma_layer_run run = {0, {0, 0}, NULL, SOMA_PRECISION_FP32};
    const soma_tensor *input = x;
    for (int l = 0; l < m->n_layers; l++) {
        SOMA_TRY(m->layers[l].kind->forward(&m->layers[l], input, &ws->lws[l], &run));
        input = ws->lws[l].out;
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
    const soma_tensor *dy = doutput;
    for (int l = m->n_layers - 1; l >= 0; l--) {
        const soma_tensor *input = l > 0 ? ws->lws[l - 1].out : x;
        soma_tensor *dx = l > 0 ? ws->lws[l - 1].g : NULL;
        SOMA_TRY(m->layers[l].kind->backward(&m->layers[l], input, &ws->lws[l], dy, dx, m->precision));
        dy = dx;
    }
    return SOMA_OK;
}

/* Called once per epoch, so the host buffer is allocated here, not kept. */
soma_status soma_mlp_dead_fraction(soma_mlp *m, int l, double *fraction) {
    if (!m || !fraction || l < 0 || l >= m->n_layers)
        return soma_fail(SOMA_ERR_INVALID_ARG, "soma_mlp_dead_fraction: no layer %d, or NULL argument", l);
    const soma_layer *L = &m->layers[l];
    *fraction = 0.0;
    if (L->desc.act != SOMA_ACT_RELU) return SOMA_OK;
    /* the units the layer's activation runs on: its outputs, or a residual
     * block's hidden units */
    int64_t units = soma_tensor_cols(L->alive);
    float *flags = malloc((size_t)units * sizeof *flags);
    if (!flags) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "soma_mlp_dead_fraction: out of host memory");
    soma_status st = soma_tensor_download(L->alive, flags, (size_t)units);
    int64_t dead = 0;
    for (int64_t j = 0; st == SOMA_OK && j < units; j++) dead += flags[j] == 0.0f;
    free(flags);
    *fraction = (double)dead / (double)units;
    return st;
}

soma_status soma_mlp_reset_dead_tracking(soma_mlp *m) {
    if (!m) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_mlp_reset_dead_tracking: argument 'm' is NULL");
    for (int l = 0; l < m->n_layers; l++)
        if (m->layers[l].alive) SOMA_TRY(soma_tensor_fill(m->layers[l].alive, 0.0f));
    return SOMA_OK;
}

soma_status soma_mlp_copy_parameters(soma_mlp *dst, const soma_mlp *src) {
    if (!dst || !src)
        return soma_fail(SOMA_ERR_INVALID_ARG, "soma_mlp_copy_parameters: argument '%s' is NULL",
                         dst ? "src" : "dst");
    int n = soma_mlp_param_count(dst);
    if (dst->inputs != src->inputs || n != soma_mlp_param_count(src))
        return soma_fail(SOMA_ERR_SHAPE, "soma_mlp_copy_parameters: the models differ in architecture");
    for (int i = 0; i < n; i++) {
        soma_param d = soma_mlp_param(dst, i), s = soma_mlp_param(src, i);
        if (strcmp(d.name, s.name) != 0 || d.rank != s.rank)
            return soma_fail(SOMA_ERR_SHAPE, "soma_mlp_copy_parameters: the models differ in architecture ('%s' "
                             "against '%s')", d.name, s.name);
        if (d.count) *d.count = *s.count;
        if (d.value) SOMA_TRY(soma_tensor_copy(d.value, s.value));
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
