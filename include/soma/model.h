/**
 * @file soma/model.h
 * @brief Multilayer perceptrons.
 *
 * An MLP is a list of dense layers, each `z = x W^T + b`, `a = act(z)`, then
 * dropout (training only). W is stored [outputs, inputs] and b [1, outputs],
 * as PyTorch's nn.Linear stores them, so checkpoints load into PyTorch as
 * they are. Everything lives on the model's device and runs through the
 * tensor API, so the same code trains on the CPU and on a GPU.
 */
#ifndef SOMA_MODEL_H
#define SOMA_MODEL_H

#include "soma/export.h"

#include <stdio.h>
#include "soma/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The most dense layers a model may have. */
#define SOMA_MAX_LAYERS 32

/** A multilayer perceptron on one device (opaque). */
typedef struct soma_mlp soma_mlp;

/** One dense layer of a model. */
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

/** The number of dense layers. */
SOMA_API int soma_mlp_layer_count(const soma_mlp *m);
/** The number of input features. */
SOMA_API int64_t soma_mlp_inputs(const soma_mlp *m);
/** The number of outputs (the last layer's units). */
SOMA_API int64_t soma_mlp_outputs(const soma_mlp *m);
/** Layer `layer`'s spec; all zero when there is no such layer. */
SOMA_API soma_layer_spec soma_mlp_layer(const soma_mlp *m, int layer);
/** Weights and biases of all layers together. */
SOMA_API int64_t soma_mlp_parameter_count(const soma_mlp *m);
/** The device the model lives on. */
SOMA_API soma_device *soma_mlp_device(const soma_mlp *m);
/** Layer `layer`'s weight [out, in]; NULL when there is no such layer. */
SOMA_API soma_tensor *soma_mlp_weight(soma_mlp *m, int layer);
/** Layer `layer`'s bias [1, out]; NULL when there is no such layer. */
SOMA_API soma_tensor *soma_mlp_bias(soma_mlp *m, int layer);
/** The gradient of layer `layer`'s weight, written by soma_mlp_backward(). */
SOMA_API soma_tensor *soma_mlp_weight_grad(soma_mlp *m, int layer);
/** The gradient of layer `layer`'s bias, written by soma_mlp_backward(). */
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
 *  not ReLU). Tracked during training forwards of ReLU layers. */
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

/** Copies all weights and biases from src (same architecture, any device). */
SOMA_API soma_status soma_mlp_copy_parameters(soma_mlp *dst, const soma_mlp *src);

#ifdef __cplusplus
}
#endif
#endif
