/**
 * @file soma/model.h
 * @brief Multilayer perceptrons.
 *
 * A model is a list of layers, written in one line as an architecture
 * string (docs/models.md), inputs first:
 *
 *     784,dense:256,batchnorm:relu,res:256:relu,res:256:relu,dense:10
 *
 * - `dense:U[:ACT][:drop=P]`: `z = x W^T + b`, `a = act(z)`, then dropout
 *   (training only). W is stored [outputs, inputs] and b [1, outputs], as
 *   PyTorch's nn.Linear stores them.
 * - `batchnorm[:ACT][:drop=P]`, `layernorm[:ACT][:drop=P]` (short: bn, ln):
 *   as torch.nn.BatchNorm1d / LayerNorm (eps 1e-5, momentum 0.1), then the
 *   activation and dropout.
 * - `res:H[:ACT][:W]`: a pre-norm residual block
 *   `y = s(x) + fc2(act(fc1(layernorm(x))))`, fc1 in -> H, fc2 H -> W
 *   (W defaults to in, and then s(x) = x; else s is a projection without bias).
 *
 * Every tensor is a named parameter (soma_mlp_param()), named as in a PyTorch
 * state dict, so checkpoints load into PyTorch as they are. Everything lives
 * on the model's device and runs through the tensor API, so the same code
 * trains on the CPU and on a GPU.
 */
#ifndef SOMA_MODEL_H
#define SOMA_MODEL_H

#include "soma/export.h"

#include <stdio.h>
#include "soma/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The most layers (of any kind) a model may have. */
#define SOMA_MAX_LAYERS 32

/** Characters enough for any architecture string in canonical form, NUL included. */
#define SOMA_ARCH_MAX 2048

/** A multilayer perceptron on one device (opaque). */
typedef struct soma_mlp soma_mlp;

/** One dense layer of a model (soma_mlp_create()). */
typedef struct soma_layer_spec {
    int64_t units;        /**< outputs of the dense layer */
    soma_activation act;  /**< applied after it (identity for output logits) */
    float act_param;      /**< leaky_relu's slope (0 means 0.01) */
    float dropout;        /**< drop probability after the activation, training only */
} soma_layer_spec;

/** How soma_mlp_init() draws the weights. */
typedef enum soma_init {
    SOMA_INIT_AUTO = 0,      /**< He for the ReLU family, Xavier otherwise (uniform) */
    SOMA_INIT_XAVIER_UNIFORM, /**< `U(-a, a), a = sqrt(6 / (fan_in + fan_out))` */
    SOMA_INIT_XAVIER_NORMAL,  /**< `N(0, 2 / (fan_in + fan_out))` */
    SOMA_INIT_HE_UNIFORM,     /**< `U(-a, a), a = sqrt(6 / fan_in)` */
    SOMA_INIT_HE_NORMAL,      /**< `N(0, 2 / fan_in)` */
    SOMA_INIT_COUNT           /**< the number of schemes (not a scheme) */
} soma_init;

/** The scheme's name: "auto", "xavier_uniform", "xavier_normal",
 *  "he_uniform", "he_normal"; NULL when out of range. */
SOMA_API const char *soma_init_name(soma_init init);
/** Parses those names; an unknown one is SOMA_ERR_INVALID_ARG. */
SOMA_API soma_status soma_init_parse(const char *name, soma_init *out);

/** A model with `inputs` features and the given layers (1 to
 *  ::SOMA_MAX_LAYERS); weights are initialized by soma_mlp_init() before use
 *  (soma_mlp_create does it with SOMA_INIT_AUTO and seed 1). */
SOMA_API soma_status soma_mlp_create(soma_device *device, int64_t inputs, const soma_layer_spec *layers,
                            int n_layers, soma_mlp **out);
/** The short way: sizes {784, 256, 128, 10} (inputs first), one activation
 *  for the hidden layers, identity on the output. */
SOMA_API soma_status soma_mlp_create_simple(soma_device *device, const int64_t *sizes, int n_sizes,
                                   soma_activation hidden, soma_mlp **out);
/** Frees a model and its tensors. NULL is allowed. */
SOMA_API void soma_mlp_free(soma_mlp *m);

/** Biases 0, weights drawn by `init` from the counter-based RNG: the same
 *  weights on every device for the same seed. */
SOMA_API soma_status soma_mlp_init(soma_mlp *m, soma_init init, uint64_t seed);

/** A model from an architecture string (see above), weights initialized
 *  with SOMA_INIT_AUTO and seed 1. A malformed string is
 *  SOMA_ERR_INVALID_ARG naming the bad token and its position. */
SOMA_API soma_status soma_mlp_create_arch(soma_device *device, const char *arch, soma_mlp **out);
/** Checks an architecture string and writes its canonical form into buf
 *  (long names, every field explicit: what checkpoints store), e.g.
 *  "4,dense:8:relu:drop=0,bn:relu" -> "4,dense:8:relu:drop=0,batchnorm:relu:drop=0".
 *  *inputs (may be NULL) gets its first field. */
SOMA_API soma_status soma_arch_canonical(const char *arch, char *buf, size_t size, int64_t *inputs);
/** The model's architecture in canonical form. */
SOMA_API soma_status soma_mlp_arch(const soma_mlp *m, char *buf, size_t size);

/** One named tensor of a model. */
typedef struct soma_param {
    const char *name;   /**< e.g. "layers.3.fc1.weight": its checkpoint and PyTorch state-dict key */
    soma_tensor *value; /**< float32 values; NULL for a counter */
    soma_tensor *grad;  /**< written by soma_mlp_backward(); NULL for state that is saved but not
                             trained (batchnorm's running statistics and counter) */
    int rank;           /**< its rank in files: 2 [out, in], 1 [n] (value is 1 x n), 0 a counter */
    int64_t *count;     /**< rank 0: the int64 counter (batchnorm's num_batches_tracked) */
} soma_param;
/** The number of named tensors: trained parameters and saved state. */
SOMA_API int soma_mlp_param_count(const soma_mlp *m);
/** Tensor i, in a fixed order (layer by layer); all NULL when out of range. */
SOMA_API soma_param soma_mlp_param(const soma_mlp *m, int i);

/** The number of layers (of any kind). */
SOMA_API int soma_mlp_layer_count(const soma_mlp *m);
/** The number of input features. */
SOMA_API int64_t soma_mlp_inputs(const soma_mlp *m);
/** The number of outputs (the last layer's units). */
SOMA_API int64_t soma_mlp_outputs(const soma_mlp *m);
/** Layer `layer`'s spec: units is its output width, act and dropout those
 *  of its activation stage (a residual block's inner activation); all zero
 *  when there is no such layer. */
SOMA_API soma_layer_spec soma_mlp_layer(const soma_mlp *m, int layer);
/** The trained parameters of all layers together (numbers, not tensors). */
SOMA_API int64_t soma_mlp_parameter_count(const soma_mlp *m);
/** The trained parameters of layer `layer` (all its tensors with a
 *  gradient, as soma_mlp_print_summary() counts them); 0 when there is no
 *  such layer. */
SOMA_API int64_t soma_mlp_layer_parameter_count(const soma_mlp *m, int layer);
/** The device the model lives on. */
SOMA_API soma_device *soma_mlp_device(const soma_mlp *m);
/** Dense layer `layer`'s weight [out, in]; NULL when there is no such layer
 *  or it is not dense (other kinds: soma_mlp_param()). */
SOMA_API soma_tensor *soma_mlp_weight(soma_mlp *m, int layer);
/** Dense layer `layer`'s bias [1, out]; NULL when there is no such dense layer. */
SOMA_API soma_tensor *soma_mlp_bias(soma_mlp *m, int layer);
/** The gradient of dense layer `layer`'s weight, written by soma_mlp_backward(). */
SOMA_API soma_tensor *soma_mlp_weight_grad(soma_mlp *m, int layer);
/** The gradient of dense layer `layer`'s bias, written by soma_mlp_backward(). */
SOMA_API soma_tensor *soma_mlp_bias_grad(soma_mlp *m, int layer);

/** Prints one line per layer (shapes and parameter counts), then the total. */
SOMA_API void soma_mlp_print_summary(const soma_mlp *m, FILE *to);

/** Forward pass on a batch x [rows, inputs]. training: dropout is applied
 *  with masks from dropout_rng (layer l uses offset dropout_rng.offset + l).
 *  Work tensors are kept per batch size (a training run allocates them for
 *  its first batches and then nothing). The result stays valid until the
 *  next forward with the same number of rows. */
SOMA_API soma_status soma_mlp_forward(soma_mlp *m, const soma_tensor *x, int training, soma_rng dropout_rng,
                             const soma_tensor **output);
/** Backward pass after a training forward with the same x: from dL/d(output)
 *  (rows x outputs) it writes the gradients of every weight and bias. */
SOMA_API soma_status soma_mlp_backward(soma_mlp *m, const soma_tensor *x, const soma_tensor *doutput);
/** The fraction of layer `layer`'s units whose pre-activations were never
 *  positive since the last reset: its dead ReLU units (0 for layers that are
 *  not ReLU; a residual block's are its hidden units). Tracked during
 *  training forwards of layers with ReLU. */
SOMA_API soma_status soma_mlp_dead_fraction(soma_mlp *m, int layer, double *fraction);
/** Starts dead-unit tracking afresh (soma_train does it every epoch). */
SOMA_API soma_status soma_mlp_reset_dead_tracking(soma_mlp *m);

/** The precision of the model's GEMMs (forward and backward) from now on:
 *  fp32 by default; tf32 or bf16 round the GEMM operands (soma_gemm_ex())
 *  while weights, gradients and everything else stay float32. soma_train()
 *  sets it from its config. */
SOMA_API soma_status soma_mlp_set_precision(soma_mlp *m, soma_precision precision);
/** The model's GEMM precision (fp32 for NULL). */
SOMA_API soma_precision soma_mlp_precision(const soma_mlp *m);

/** Copies every named tensor (parameters and running statistics) from src
 *  (same architecture, any device). */
SOMA_API soma_status soma_mlp_copy_parameters(soma_mlp *dst, const soma_mlp *src);

#ifdef __cplusplus
}
#endif
#endif
