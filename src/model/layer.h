/* layer.h: the layer table. A model is a list of layers; each layer kind
 * (layers/dense.c, batchnorm.c, layernorm.c, residual.c) says how it is
 * created, initialized, run forward and backward, and registers its tensors
 * as named parameters (soma_param: name, value, gradient). Everything above
 * the layers (optimizer, checkpoints, clipping, the NaN diagnosis, the
 * statistics) iterates that parameter list and never sees a kind. Layers
 * compute only through ops, so they run on every device, and they allocate
 * nothing in a forward or backward: their work tensors are made per batch
 * size by ws_create (what a recorded CUDA step needs). */
#ifndef SOMA_MODEL_LAYER_H
#define SOMA_MODEL_LAYER_H

#include "soma/model.h"

/* The layer kinds, in the order of the table in layer.c. */
typedef enum soma_layer_kind_id {
    SOMA_LAYER_DENSE = 0,
    SOMA_LAYER_BATCHNORM,
    SOMA_LAYER_LAYERNORM,
    SOMA_LAYER_RESIDUAL,
    SOMA_LAYER_KIND_COUNT
} soma_layer_kind_id;

/* One layer as the architecture string describes it (arch.c):
 *   dense:U[:ACT][:drop=P]      units = U
 *   batchnorm[:ACT][:drop=P]    (width of its input)
 *   layernorm[:ACT][:drop=P]
 *   res:H[:ACT][:W]             units = H (the hidden width), width = W (0: its input's) */
typedef struct soma_layer_desc {
    soma_layer_kind_id kind;
    int64_t units, width;
    soma_activation act;
    float act_param; /* leaky_relu's slope */
    float dropout;
} soma_layer_desc;

/* A dense layer of the public soma_layer_spec (soma_mlp_create, the
 * 'layers' metadata of older checkpoints). */
static inline soma_layer_desc soma_layer_desc_dense(const soma_layer_spec *s) {
    return (soma_layer_desc){.kind = SOMA_LAYER_DENSE, .units = s->units, .act = s->act, .act_param = s->act_param,
                             .dropout = s->dropout};
}

/* The most tensors a layer registers (parameters, running statistics, counters). */
#define SOMA_LAYER_MAX_PARAMS 8
#define SOMA_LAYER_MAX_WS 8
#define SOMA_PARAM_NAME 48

/* A layer's work tensors for one batch size: kind-specific ones in t[],
 * its output `out` (which may be one of t[]), and for training g (the
 * gradient of the loss with respect to out, written by the layer after it)
 * and the dropout mask. */
typedef struct soma_layer_ws {
    soma_tensor *t[SOMA_LAYER_MAX_WS];
    soma_tensor *out, *g, *mask;
} soma_layer_ws;

/* How a forward runs: in training (dropout, batch statistics), with the
 * step control block when the training loop queues whole steps (dropout's
 * stream comes from its step), the GEMM precision. */
typedef struct soma_layer_run {
    int training;
    soma_rng dropout_rng;
    const soma_tensor *step_ctl;
    soma_precision precision;
} soma_layer_run;

typedef struct soma_layer soma_layer;

typedef struct soma_layer_kind {
    const char *name, *short_name; /* "batchnorm", "bn" */
    /* its output width for input width in */
    int64_t (*out_width)(const soma_layer_desc *d, int64_t in);
    /* registers and allocates its parameters (soma_layer_add_param); with
     * dev NULL it registers their names and shapes only and allocates nothing */
    soma_status (*create)(soma_device *dev, soma_layer *L);
    /* weights drawn from rng (offset set by the caller per matrix), biases 0, norms 1 */
    soma_status (*init)(soma_layer *L, soma_init init, uint64_t seed);
    /* makes the work tensors it lacks for `rows` (training: those of the backward too) */
    soma_status (*ws_create)(soma_device *dev, const soma_layer *L, int64_t rows, int training, soma_layer_ws *ws);
    soma_status (*forward)(const soma_layer *L, const soma_tensor *x, soma_layer_ws *ws, const soma_layer_run *r);
    /* from dy (the gradient of out) the parameters' gradients, and dx when dx is not NULL */
    soma_status (*backward)(const soma_layer *L, const soma_tensor *x, soma_layer_ws *ws, const soma_tensor *dy,
                            soma_tensor *dx, soma_precision precision);
} soma_layer_kind;

struct soma_layer {
    const soma_layer_kind *kind;
    soma_layer_desc desc;
    int index, is_output;
    int64_t in, out;
    soma_param params[SOMA_LAYER_MAX_PARAMS]; /* in checkpoint order */
    int n_params;
    char names[SOMA_LAYER_MAX_PARAMS][SOMA_PARAM_NAME];
    int64_t shapes[SOMA_LAYER_MAX_PARAMS][2]; /* rows, cols of each (rank 0: 1, 1) */
    int trained[SOMA_LAYER_MAX_PARAMS];        /* has a gradient */
    soma_tensor *zeros; /* 1 x out zeros: the bias of a norm layer's activation stage */
    soma_tensor *alive; /* 1 x out: ever-positive pre-activations (dead ReLU statistics), or NULL */
    int64_t batches;    /* batchnorm's num_batches_tracked */
};

extern const soma_layer_kind soma_layer_dense, soma_layer_batchnorm, soma_layer_layernorm, soma_layer_residual;
const soma_layer_kind *soma_layer_kind_of(soma_layer_kind_id id);

/* Registers parameter `suffix` ("weight", "fc1.bias") of layer L as
 * "layers.<index>.<suffix>": a rows x cols tensor (rank 1 or 2 in files),
 * with a gradient when trained. Its index in L->params is the order of the
 * calls. rank 0: an int64 counter (L->batches), no tensor. dev NULL: the
 * name and shape only. */
soma_status soma_layer_add_param(soma_device *dev, soma_layer *L, const char *suffix, int64_t rows, int64_t cols,
                                 int rank, int trained);
void soma_layer_free(soma_layer *L);
void soma_layer_ws_free(soma_layer_ws *ws);
/* *t = a new rows x cols tensor unless it exists already */
soma_status soma_layer_ensure(soma_device *dev, soma_tensor **t, int64_t rows, int64_t cols);

/* The activation stage shared by dense and norm layers, after their linear
 * part left z: z += bias, out = act(z), dropout in training for hidden
 * layers (their mask kept, the dead-unit statistics updated). bias may be
 * NULL when out is z (an identity output layer: nothing to do). */
soma_status soma_layer_act_forward(const soma_layer *L, soma_tensor *z, const soma_tensor *bias, soma_tensor *out,
                                   soma_tensor *mask, const soma_layer_run *r);
/* Its backward: dz (into g, which may be dy) from dy; *dz is dy itself for
 * an identity output layer. */
soma_status soma_layer_act_backward(const soma_layer *L, const soma_tensor *z, const soma_tensor *out,
                                    const soma_tensor *mask, const soma_tensor *dy, soma_tensor *g,
                                    const soma_tensor **dz);
/* Work tensors of the activation stage: out (z itself for an identity output
 * layer) and, training a hidden layer, the mask. */
soma_status soma_layer_act_ws(soma_device *dev, const soma_layer *L, int64_t rows, int training, soma_tensor *z,
                              soma_layer_ws *ws);
/* Fills w from rng at offset `offset` by the scheme (AUTO: He for the ReLU
 * family of act, else Xavier; fan_in and fan_out from w's shape). */
soma_status soma_layer_init_matrix(soma_tensor *w, soma_init init, soma_activation act, uint64_t seed,
                                   uint64_t offset);

/* ---- architecture strings (arch.c) ---- */
/* Parses "784,dense:256,batchnorm:relu,..." into inputs and descs (at most
 * SOMA_MAX_LAYERS); errors name the bad token and its position. */
soma_status soma_arch_parse(const char *arch, int64_t *inputs, soma_layer_desc *descs, int *n);
/* The canonical form: long names, every field explicit. */
soma_status soma_arch_format(int64_t inputs, const soma_layer_desc *descs, int n, char *buf, size_t size);

#endif
