/**
 * @file soma/ops.h
 * @brief The operations, forward and backward, on any device.
 *
 * Outputs are tensors the caller created with the right shape; every op
 * checks shapes, devices and NULLs first and returns an error without
 * touching anything when they are wrong. All tensors of one call must live on
 * the same device. Ops are queued on the device; results are ready when read
 * with soma_tensor_download(). Scalars (losses, sums, counts) are 1x1 tensors.
 * Integer labels are stored as float32 values 0, 1, ..., n-1 in an m x 1
 * tensor (exact up to 2^24). Unless noted, an output may be the same tensor as
 * the first input (in place).
 *
 * In the formulas x, y, dy, ... are m x n unless said otherwise, x[i,j] is
 * row i, column j, and `d` marks a gradient of the loss.
 */
#ifndef SOMA_OPS_H
#define SOMA_OPS_H

#include "soma/export.h"

#include "soma/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- matrix product ---------------------------------------------------- */

/** Matrix product: `C = alpha * op(A) op(B) + beta * C`, `op(X) = X` or `X^T`
 *  as trans_a, trans_b say (non-zero: transposed). C must not alias A or B.
 *  beta == 0 writes C without reading it. The error names both shapes when
 *  the inner dimensions differ. */
SOMA_API soma_status soma_gemm(int trans_a, int trans_b, float alpha, const soma_tensor *a,
                      const soma_tensor *b, float beta, soma_tensor *c);

/** The precision of a matrix product's operands; accumulation is always
 *  float32 and the tensors stay float32 (master weights). */
typedef enum soma_precision {
    SOMA_PRECISION_FP32 = 0, /**< float32 operands, float32 arithmetic */
    SOMA_PRECISION_TF32,     /**< operands rounded to TF32 (10-bit mantissa, to nearest even) */
    SOMA_PRECISION_BF16,     /**< operands rounded to bfloat16 (7-bit mantissa, to nearest even) */
    SOMA_PRECISION_COUNT     /**< the number of precisions (not a precision) */
} soma_precision;

/** The precision's name: "fp32", "tf32", "bf16"; NULL when out of range. */
SOMA_API const char *soma_precision_name(soma_precision precision);
/** Parses those names; an unknown one is SOMA_ERR_INVALID_ARG. */
SOMA_API soma_status soma_precision_parse(const char *name, soma_precision *out);

/** soma_gemm() with the operands A and B rounded to `precision` first (to
 *  nearest, ties to even; products of two rounded operands are exact in
 *  float32, sums are float32). Every backend rounds the same way, so the CPU
 *  stays the reference: on CUDA, TF32 runs on the tensor cores
 *  (CUBLAS_COMPUTE_32F_FAST_TF32) and bf16 as a bfloat16 GEMM with float32
 *  accumulation, both on operands soma has rounded itself. */
SOMA_API soma_status soma_gemm_ex(int trans_a, int trans_b, float alpha, const soma_tensor *a,
                         const soma_tensor *b, float beta, soma_tensor *c,
                         soma_precision precision);

/* ---- bias -------------------------------------------------------------- */

/** `y[i,j] = x[i,j] + bias[0,j]`   (bias is 1 x n) */
SOMA_API soma_status soma_bias_add(const soma_tensor *x, const soma_tensor *bias, soma_tensor *y);
/** `dbias[0,j] = sum_i dy[i,j]`   (the gradient of soma_bias_add() with
 *  respect to bias) */
SOMA_API soma_status soma_bias_grad(const soma_tensor *dy, soma_tensor *dbias);

/* ---- activations -------------------------------------------------------- */

/** Element-wise activation functions. */
typedef enum soma_activation {
    SOMA_ACT_IDENTITY = 0, /**< `f(x) = x` */
    SOMA_ACT_RELU,         /**< `f(x) = max(x, 0)` */
    SOMA_ACT_LEAKY_RELU,   /**< `f(x) = x > 0 ? x : slope * x` */
    SOMA_ACT_SIGMOID,      /**< `f(x) = 1 / (1 + exp(-x))` */
    SOMA_ACT_TANH,         /**< `f(x) = tanh(x)` */
    SOMA_ACT_GELU_ERF,     /**< `f(x) = x/2 (1 + erf(x / sqrt 2))` */
    SOMA_ACT_GELU_TANH,    /**< `f(x) = x/2 (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3)))` */
    SOMA_ACT_SILU,         /**< `f(x) = x sigmoid(x)` */
    SOMA_ACT_COUNT         /**< the number of activations (not an activation) */
} soma_activation;

/** The activation's name: "identity", "relu", "leaky_relu", "sigmoid",
 *  "tanh", "gelu_erf", "gelu_tanh", "silu"; NULL when out of range. */
SOMA_API const char *soma_activation_name(soma_activation act);
/** Parses those names (and "gelu" for gelu_erf, "linear" for identity);
 *  an unknown name is SOMA_ERR_INVALID_ARG with the name in the message. */
SOMA_API soma_status soma_activation_parse(const char *name, soma_activation *out);

/** `y = f(x)`. param is the slope of leaky_relu and ignored by the others. */
SOMA_API soma_status soma_activation_forward(soma_activation act, float param, const soma_tensor *x,
                                    soma_tensor *y);
/** `dx = dy * f'(x)`; `y = f(x)` is passed too because some derivatives are
 *  cheapest from it (sigmoid, tanh). dx may alias dy. */
SOMA_API soma_status soma_activation_backward(soma_activation act, float param, const soma_tensor *x,
                                     const soma_tensor *y, const soma_tensor *dy, soma_tensor *dx);

/** Bias and activation in one pass (a dense layer's forward after its GEMM):
 *  `z[i,j] = x[i,j] + bias[0,j]`, `a[i,j] = f(z[i,j])`   (bias is 1 x n).
 *  Both are kept because the backward pass needs z (and a for sigmoid, tanh).
 *  z may be x (in place); a must be a tensor of its own. */
SOMA_API soma_status soma_bias_act(soma_activation act, float param, const soma_tensor *x,
                          const soma_tensor *bias, soma_tensor *z, soma_tensor *a);

/* ---- softmax ------------------------------------------------------------ */

/** Row-wise softmax, stable (the row maximum is subtracted before exp):
 *  `y[i,j] = exp(x[i,j] - max_i) / sum_k exp(x[i,k] - max_i)` */
SOMA_API soma_status soma_softmax(const soma_tensor *x, soma_tensor *y);
/** Row-wise log-softmax, stable:
 *  `y[i,j] = x[i,j] - max_i - log sum_k exp(x[i,k] - max_i)` */
SOMA_API soma_status soma_log_softmax(const soma_tensor *x, soma_tensor *y);
/** `dx[i,j] = y[i,j] (dy[i,j] - sum_k dy[i,k] y[i,k])`   (`y = softmax(x)`).
 *  dx may alias dy (not y). */
SOMA_API soma_status soma_softmax_backward(const soma_tensor *y, const soma_tensor *dy, soma_tensor *dx);
/** `dx[i,j] = dy[i,j] - exp(y[i,j]) sum_k dy[i,k]`   (`y = log_softmax(x)`).
 *  dx may alias dy (not y). */
SOMA_API soma_status soma_log_softmax_backward(const soma_tensor *y, const soma_tensor *dy, soma_tensor *dx);

/* ---- losses (1x1 outputs; gradients are of that mean) ------------------- */

/** Mean squared error: `loss = 1/(m n) sum (pred - target)^2` (loss is 1x1). */
SOMA_API soma_status soma_mse_loss(const soma_tensor *pred, const soma_tensor *target, soma_tensor *loss);
/** Gradient of soma_mse_loss(): `dpred = 2 (pred - target) / (m n)` */
SOMA_API soma_status soma_mse_backward(const soma_tensor *pred, const soma_tensor *target, soma_tensor *dpred);

/** Binary cross-entropy on logits x with targets t in [0,1], stable form:
 *  `loss = 1/(m n) sum max(x,0) - x t + log(1 + exp(-|x|))` (loss is 1x1). */
SOMA_API soma_status soma_bce_logits_loss(const soma_tensor *logits, const soma_tensor *target,
                                 soma_tensor *loss);
/** Gradient of soma_bce_logits_loss(): `dx = (sigmoid(x) - t) / (m n)` */
SOMA_API soma_status soma_bce_logits_backward(const soma_tensor *logits, const soma_tensor *target,
                                     soma_tensor *dlogits);

/** Softmax cross-entropy on logits x (m x n) with integer labels (m x 1),
 *  fused through log-sum-exp so no probability underflows:
 *  `loss = 1/m sum_i (logsumexp(x[i,:]) - x[i, label_i])` (loss is 1x1).
 *  A label outside [0, n) makes the loss NaN. */
SOMA_API soma_status soma_softmax_xent_loss(const soma_tensor *logits, const soma_tensor *labels,
                                   soma_tensor *loss);
/** Gradient of soma_softmax_xent_loss(): `dx = (softmax(x) - onehot(label)) / m`.
 *  A label outside [0, n) makes that row's gradient NaN. */
SOMA_API soma_status soma_softmax_xent_backward(const soma_tensor *logits, const soma_tensor *labels,
                                       soma_tensor *dlogits);

/* ---- what a training step needs besides --------------------------------- */

/** `y = alpha x` */
SOMA_API soma_status soma_scale(float alpha, const soma_tensor *x, soma_tensor *y);
/** `y = y + alpha x`   (y must not alias x) */
SOMA_API soma_status soma_axpy(float alpha, const soma_tensor *x, soma_tensor *y);
/** out (1x1) = the sum of all elements of x */
SOMA_API soma_status soma_sum(const soma_tensor *x, soma_tensor *out);
/** out (1x1) = the mean of all elements of x */
SOMA_API soma_status soma_mean(const soma_tensor *x, soma_tensor *out);
/** `out[i,0]` = the first j with `x[i,j]` maximal (as a float)   (out is m x 1) */
SOMA_API soma_status soma_row_argmax(const soma_tensor *x, soma_tensor *out);
/** out (1x1) = the number of rows i with `row_argmax(x)[i] == labels[i]` */
SOMA_API soma_status soma_correct_count(const soma_tensor *x, const soma_tensor *labels, soma_tensor *out);

/* ---- regularization and diagnostics -------------------------------------- */

/** Inverted dropout: `y = x * mask / (1 - p)`, `mask_i = [u_i >= p]` where
 *  `u_i` is element i of the uniform stream rng {seed, offset}. The mask
 *  depends only on (rng, i): every backend draws the same one, and backward
 *  recomputes it from the same rng (which these calls do not advance).
 *  0 <= p < 1. */
SOMA_API soma_status soma_dropout_forward(float p, soma_rng rng, const soma_tensor *x, soma_tensor *y);
/** `dx = dy * mask / (1 - p)`, with the mask of soma_dropout_forward() for
 *  the same p and rng. */
SOMA_API soma_status soma_dropout_backward(float p, soma_rng rng, const soma_tensor *dy, soma_tensor *dx);

/** The 32-bit words per row of a dropout mask for a tensor of `cols`
 *  columns: ceil(cols / 32). The mask of an m x n tensor is an
 *  m x soma_dropout_mask_words(n) tensor whose floats hold raw bits: bit
 *  j % 32 of word j / 32 of row i is 1 when element (i, j) is kept (the bits
 *  past column n are 0). Only the dropout ops read it. */
SOMA_API int64_t soma_dropout_mask_words(int64_t cols);

/** A hidden layer's training forward after its GEMM, in one pass
 *  (bias is 1 x n, alive 1 x n, mask as soma_dropout_mask_words() says):
 *  `z[i,j] = x[i,j] + bias[0,j]`,  `h[i,j] = f(z[i,j]) * mask[i,j] / (1 - p)`,
 *  with the mask of soma_dropout_forward() (element i n + j of the uniform
 *  stream rng) stored for the backward, and the dead-unit statistics
 *  `alive[0,j] = 1 if alive[0,j] != 0 or z[i,j] > 0 for some i, else 0`.
 *  p = 0 keeps every element (h = f(z)). z may be x; h may be x when z is
 *  not. */
SOMA_API soma_status soma_bias_act_dropout(soma_activation act, float param, float p, soma_rng rng,
                                  const soma_tensor *x, const soma_tensor *bias, soma_tensor *h,
                                  soma_tensor *z, soma_tensor *mask, soma_tensor *alive);
/** The gradient of soma_bias_act_dropout() with respect to x (and z):
 *  `dx[i,j] = (mask[i,j] ? dh[i,j] / (1 - p) : 0) * f'(z[i,j])`, from the z and
 *  the mask it stored (no random numbers are drawn). dx may be dh or z. */
SOMA_API soma_status soma_bias_act_dropout_backward(soma_activation act, float param, float p,
                                           const soma_tensor *z, const soma_tensor *mask,
                                           const soma_tensor *dh, soma_tensor *dx);

/** out (1x1) = the sum of `x^2` (global gradient norms are built from these) */
SOMA_API soma_status soma_sum_squares(const soma_tensor *x, soma_tensor *out);
/** `flags[0,j] |= [x[i,j] > 0 for some i]` (flags is 1 x n): run over an
 *  epoch's pre-activations, a column still 0 is a dead ReLU unit. */
SOMA_API soma_status soma_active_columns(const soma_tensor *x, soma_tensor *flags);

/* ---- normalization and residual sums -------------------------------------- */

/** Batch normalization over the batch (per column j), training mode, as
 *  PyTorch's BatchNorm1d (x is m x n, m >= 2; gamma, beta, running_mean,
 *  running_var are 1 x n; saved is 2 x n):
 *  `mean_j = 1/m sum_i x[i,j]`, `var_j = 1/m sum_i (x[i,j] - mean_j)^2` (biased, used to normalize),
 *  `y[i,j] = gamma_j (x[i,j] - mean_j) / sqrt(var_j + eps) + beta_j`,
 *  `running_mean = (1 - momentum) running_mean + momentum mean`,
 *  `running_var = (1 - momentum) running_var + momentum var m / (m - 1)` (unbiased).
 *  saved row 0 holds mean_j, row 1 `1 / sqrt(var_j + eps)`, for
 *  soma_batchnorm_backward(). running_mean and running_var are read and
 *  written; y must not alias x. m = 1 is SOMA_ERR_SHAPE (the unbiased
 *  variance of one row is undefined). */
SOMA_API soma_status soma_batchnorm_forward_train(float momentum, float eps, const soma_tensor *x,
                                                  const soma_tensor *gamma, const soma_tensor *beta,
                                                  soma_tensor *y, soma_tensor *saved,
                                                  soma_tensor *running_mean, soma_tensor *running_var);
/** Batch normalization in evaluation mode, from the running statistics:
 *  `y[i,j] = gamma_j (x[i,j] - running_mean_j) / sqrt(running_var_j + eps) + beta_j`.
 *  y may be x. */
SOMA_API soma_status soma_batchnorm_forward_eval(float eps, const soma_tensor *x, const soma_tensor *gamma,
                                                 const soma_tensor *beta, const soma_tensor *running_mean,
                                                 const soma_tensor *running_var, soma_tensor *y);
/** The gradient of soma_batchnorm_forward_train() (dgamma, dbeta 1 x n,
 *  overwritten, not accumulated), with `xhat = (x - mean_j) rstd_j` from saved:
 *  `dbeta_j = sum_i dy[i,j]`,  `dgamma_j = sum_i dy[i,j] xhat[i,j]`,
 *  `dx[i,j] = gamma_j rstd_j / m (m dy[i,j] - dbeta_j - xhat[i,j] dgamma_j)`. */
SOMA_API soma_status soma_batchnorm_backward(const soma_tensor *x, const soma_tensor *gamma,
                                             const soma_tensor *saved, const soma_tensor *dy, soma_tensor *dx,
                                             soma_tensor *dgamma, soma_tensor *dbeta);
/** Layer normalization over each row's n columns, as PyTorch's LayerNorm(n)
 *  (biased variance; gamma, beta 1 x n; saved m x 2):
 *  `y[i,j] = gamma_j (x[i,j] - mean_i) rstd_i + beta_j`,  `rstd_i = 1 / sqrt(var_i + eps)`;
 *  saved column 0 holds mean_i, column 1 rstd_i. y must not alias x. */
SOMA_API soma_status soma_layernorm_forward(float eps, const soma_tensor *x, const soma_tensor *gamma,
                                            const soma_tensor *beta, soma_tensor *y, soma_tensor *saved);
/** The gradient of soma_layernorm_forward() (dgamma, dbeta 1 x n, overwritten),
 *  with `xhat = (x - mean_i) rstd_i` and `g = dy gamma_j`:
 *  `dx[i,j] = rstd_i / n (n g[i,j] - sum_k g[i,k] - xhat[i,j] sum_k g[i,k] xhat[i,k])`,
 *  `dgamma_j = sum_i dy[i,j] xhat[i,j]`,  `dbeta_j = sum_i dy[i,j]`. */
SOMA_API soma_status soma_layernorm_backward(const soma_tensor *x, const soma_tensor *gamma,
                                             const soma_tensor *saved, const soma_tensor *dy, soma_tensor *dx,
                                             soma_tensor *dgamma, soma_tensor *dbeta);
/** `y = a + b` (same shapes; y may be a or b): a residual block's sum, and
 *  the sum of its two input gradients. */
SOMA_API soma_status soma_add(const soma_tensor *a, const soma_tensor *b, soma_tensor *y);

/* ---- optimizer updates, one pass over memory per parameter tensor -------- */

/** Settings of one soma_sgd_update(). */
typedef struct soma_sgd_params {
    /**@{*/
    /** lr: the learning rate; momentum: 0 for plain SGD; weight_decay: L2,
     *  added to the gradient. */
    float lr, momentum, weight_decay;
    /**@}*/
    int nesterov; /**< non-zero: Nesterov momentum */
} soma_sgd_params;

/** One SGD step on a parameter tensor (PyTorch's SGD without dampening):
 *  `g' = g + wd w;  v = momentum v + g';  w -= lr (nesterov ? g' + momentum v : v)` */
SOMA_API soma_status soma_sgd_update(const soma_sgd_params *p, const soma_tensor *grad, soma_tensor *weight,
                            soma_tensor *velocity);

/** Settings of one soma_adam_update(). */
typedef struct soma_adam_params {
    /**@{*/
    /** lr: the learning rate; beta1, beta2: the moments' decay rates; eps: added
     *  to the denominator; weight_decay: as decoupled says. */
    float lr, beta1, beta2, eps, weight_decay;
    /**@}*/
    int decoupled; /**< 1: AdamW (`w -= lr wd w`), 0: Adam with L2 (`g' = g + wd w`) */
    int64_t step;  /**< 1 for the first update: bias corrections `1 - beta^step` */
} soma_adam_params;

/** One Adam or AdamW step on a parameter tensor, with moments m and v:
 *  `m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g'^2;
 *  w -= lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)` */
SOMA_API soma_status soma_adam_update(const soma_adam_params *p, const soma_tensor *grad, soma_tensor *weight,
                             soma_tensor *m, soma_tensor *v);

#ifdef __cplusplus
}
#endif
#endif
