/* op_table.c: the declaration of every op (see op_table.h).
 *
 * NMSE limits, sum((a-b)^2)/sum(b^2), hold between any backend and the
 * float64 reference and between two backends. Float rounding alone gives
 * about 1e-14 for one operation per element; 1e-11 leaves room for libm and
 * CUDA's expf/erff/tanhf differing by a few ulps; GEMM and reductions add
 * k or numel roundings per output, hence their looser limits. */
#include <string.h>

#include "core/error.h"
#include "core/op_table.h"
#include "core/step_ctl.h"
#include "ref/reference.h"

#define LIMIT_ELEMENTWISE 1e-11
#define LIMIT_REDUCTION 1e-10
#define LIMIT_GEMM 1e-9

/* C = alpha op(A) op(B) + beta C; a is m x k (k x m transposed), b is k x n
 * (n x k transposed) */
static soma_status check_gemm(const soma_op_desc *d, const soma_shape in[], const soma_shape out[],
                              const soma_op_params *p);

static void gemm_test_shapes(const soma_op_params *p, int64_t m, int64_t n, int64_t k,
                             soma_shape in[], soma_shape out[]) {
    in[0] = p->trans_a ? (soma_shape){k, m} : (soma_shape){m, k};
    in[1] = p->trans_b ? (soma_shape){n, k} : (soma_shape){k, n};
    out[0] = (soma_shape){m, n};
}

#define GEMM_PARAMS(ta, tb)                                                                    \
    {.trans_a = ta, .trans_b = tb, .alpha = 1.0f, .beta = 0.0f},                               \
        {.trans_a = ta, .trans_b = tb, .alpha = 0.7f, .beta = -0.3f}

/* GEMMs on operands rounded to TF32 and bf16, in the three transpositions
 * a dense layer uses. Every backend and the reference round the operands
 * the same way (core/precision.h), so the GEMM's limit holds unchanged:
 * what remains is float32 accumulation, as at fp32. */
#define PRECISION_PARAMS                                                                       \
    {.trans_a = 0, .trans_b = 1, .alpha = 1.0f, .precision = SOMA_PRECISION_TF32},             \
        {.trans_a = 1, .trans_b = 0, .alpha = 1.0f, .precision = SOMA_PRECISION_BF16},         \
        {.trans_a = 0, .trans_b = 0, .alpha = 0.7f, .beta = -0.3f,                             \
         .precision = SOMA_PRECISION_BF16}

/* bias_act_dropout and its backward: every activation at p = 0.3, the
 * default 0.1 and no dropout at all with ReLU, each from its own stream. */
#define BIAS_ACT_DROPOUT_PARAMS                                                                \
    {.act = SOMA_ACT_TANH, .drop = 0.3f, .seed = 11, .offset = 1},                             \
        {.act = SOMA_ACT_RELU, .drop = 0.3f, .seed = 11, .offset = 2},                         \
        {.act = SOMA_ACT_LEAKY_RELU, .alpha = 0.1f, .drop = 0.3f, .seed = 11, .offset = 3},    \
        {.act = SOMA_ACT_SIGMOID, .drop = 0.3f, .seed = 11, .offset = 4},                      \
        {.act = SOMA_ACT_IDENTITY, .drop = 0.3f, .seed = 11, .offset = 5},                     \
        {.act = SOMA_ACT_GELU_ERF, .drop = 0.3f, .seed = 11, .offset = 6},                     \
        {.act = SOMA_ACT_GELU_TANH, .drop = 0.3f, .seed = 11, .offset = 7},                    \
        {.act = SOMA_ACT_SILU, .drop = 0.3f, .seed = 0x123456789abcdefull, .offset = 8,          \
         .step_stride = 1ull << 33},       \
        {.act = SOMA_ACT_RELU, .drop = 0.1f, .seed = 3, .offset = (1ull << 32) + 5,              \
         .step_stride = 32},           \
        {.act = SOMA_ACT_RELU, .drop = 0.0f, .seed = 3, .offset = 6, .step_stride = 32}

/* gather_rows: src holds 2m + k rows, so that the block's clock (1) times
 * the stride (m) plus m rows stay inside it. */
static void gather_test_shapes(const soma_op_params *p, int64_t m, int64_t n, int64_t k,
                               soma_shape in[], soma_shape out[]) {
    (void)p;
    in[0] = (soma_shape){2 * m + k, n};
    in[1] = (soma_shape){1, 2 * m + k};
    in[2] = (soma_shape){1, SOMA_CTL_SIZE};
    out[0] = (soma_shape){m, n};
}

/* step_begin: m + 1 schedule rows, so that the clock (1) is one of them */
static void step_begin_test_shapes(const soma_op_params *p, int64_t m, int64_t n, int64_t k,
                                   soma_shape in[], soma_shape out[]) {
    (void)p, (void)n, (void)k;
    in[0] = (soma_shape){m + 1, SOMA_SCHED_COLS};
    out[0] = (soma_shape){1, SOMA_CTL_SIZE};
}

/* A forward activation and its backward, tested with `slope` as param. */
#define ACTIVATION_OPS(ID, NAME, SLOPE)                                                        \
    [SOMA_OP_##ID] = {.name = NAME,                                                            \
                      .api = "soma_activation_forward",                                        \
                      .n_in = 1, .n_out = 1,                                                   \
                      .arg = {"x", "y"}, .shape = {"mn", "mn"},                                \
                      .alias_mask = 1u,                                                        \
                      .nmse_limit = LIMIT_ELEMENTWISE,                                         \
                      .reference = soma_ref_activation,                                        \
                      .grad_of = -1,                                                           \
                      .n_test_params = 1, .test_params = {{.alpha = SLOPE}}},                  \
    [SOMA_OP_##ID##_BACKWARD] = {.name = NAME "_backward",                                     \
                                 .api = "soma_activation_backward",                            \
                                 .n_in = 3, .n_out = 1,                                        \
                                 .arg = {"x", "y", "dy", "dx"},                                \
                                 .shape = {"mn", "mn", "mn", "mn"},                            \
                                 .alias_mask = 4u,                                             \
                                 .nmse_limit = LIMIT_ELEMENTWISE,                              \
                                 .reference = soma_ref_activation_backward,                    \
                                 .grad_of = SOMA_OP_##ID, .grad_wrt = 0,                       \
                                 .grad_src = {SOMA_FROM_FWD_IN0, SOMA_FROM_FWD_OUT,            \
                                              SOMA_FROM_DOUT},                                 \
                                 .n_test_params = 1, .test_params = {{.alpha = SLOPE}}}

const soma_op_desc soma_op_table[SOMA_OP_COUNT] = {
    [SOMA_OP_GEMM] = {.name = "gemm", .api = "soma_gemm", .n_in = 2, .n_out = 1,
                      .arg = {"a", "b", "c"},
                      .check = check_gemm, .test_shapes = gemm_test_shapes,
                      .reads_output = 1,
                      .nmse_limit = LIMIT_GEMM, .part = SOMA_PROFILE_GEMM,
                      .reference = soma_ref_gemm, .grad_of = -1,
                      .n_test_params = 11,
                      .test_params = {GEMM_PARAMS(0, 0), GEMM_PARAMS(0, 1), GEMM_PARAMS(1, 0),
                                      GEMM_PARAMS(1, 1), PRECISION_PARAMS}},
    [SOMA_OP_BIAS_ADD] = {.name = "bias_add", .api = "soma_bias_add", .n_in = 2, .n_out = 1,
                          .arg = {"x", "bias", "y"}, .shape = {"mn", "1n", "mn"},
                          .alias_mask = 1u,
                          .nmse_limit = LIMIT_ELEMENTWISE, .reference = soma_ref_bias_add,
                          .grad_of = -1},
    [SOMA_OP_BIAS_GRAD] = {.name = "bias_grad", .api = "soma_bias_grad", .n_in = 1, .n_out = 1,
                           .arg = {"dy", "dbias"}, .shape = {"mn", "1n"},
                           .nmse_limit = LIMIT_REDUCTION, .reference = soma_ref_bias_grad,
                           .grad_of = SOMA_OP_BIAS_ADD, .grad_wrt = 1,
                           .grad_src = {SOMA_FROM_DOUT}},

    /* (x, bias) -> (z = x + bias, a = act(z)): a dense layer's forward after
     * its GEMM in one pass; tested with every activation */
    [SOMA_OP_BIAS_ACT] = {.name = "bias_act", .api = "soma_bias_act", .n_in = 2, .n_out = 2,
                          .arg = {"x", "bias", "z", "a"}, .shape = {"mn", "1n", "mn", "mn"},
                          .alias_mask = 1u,
                          .nmse_limit = LIMIT_ELEMENTWISE, .reference = soma_ref_bias_act,
                          .grad_of = -1, .n_test_params = SOMA_ACT_COUNT,
                          .test_params = {{.act = SOMA_ACT_IDENTITY}, {.act = SOMA_ACT_RELU},
                                          {.act = SOMA_ACT_LEAKY_RELU, .alpha = 0.1f},
                                          {.act = SOMA_ACT_SIGMOID}, {.act = SOMA_ACT_TANH},
                                          {.act = SOMA_ACT_GELU_ERF}, {.act = SOMA_ACT_GELU_TANH},
                                          {.act = SOMA_ACT_SILU}}},

    ACTIVATION_OPS(IDENTITY, "identity", 0.0f),
    ACTIVATION_OPS(RELU, "relu", 0.0f),
    ACTIVATION_OPS(LEAKY_RELU, "leaky_relu", 0.1f),
    ACTIVATION_OPS(SIGMOID, "sigmoid", 0.0f),
    ACTIVATION_OPS(TANH, "tanh", 0.0f),
    ACTIVATION_OPS(GELU_ERF, "gelu_erf", 0.0f),
    ACTIVATION_OPS(GELU_TANH, "gelu_tanh", 0.0f),
    ACTIVATION_OPS(SILU, "silu", 0.0f),

    [SOMA_OP_SOFTMAX] = {.name = "softmax", .api = "soma_softmax", .n_in = 1, .n_out = 1,
                         .arg = {"x", "y"}, .shape = {"mn", "mn"}, .alias_mask = 1u,
                         .nmse_limit = LIMIT_ELEMENTWISE, .reference = soma_ref_softmax,
                         .grad_of = -1},
    [SOMA_OP_SOFTMAX_BACKWARD] = {.name = "softmax_backward", .api = "soma_softmax_backward",
                                  .n_in = 2, .n_out = 1,
                                  .arg = {"y", "dy", "dx"}, .shape = {"mn", "mn", "mn"},
                                  .alias_mask = 2u,
                                  .nmse_limit = LIMIT_ELEMENTWISE,
                                  .reference = soma_ref_softmax_backward,
                                  .grad_of = SOMA_OP_SOFTMAX, .grad_wrt = 0,
                                  .grad_src = {SOMA_FROM_FWD_OUT, SOMA_FROM_DOUT}},
    [SOMA_OP_LOG_SOFTMAX] = {.name = "log_softmax", .api = "soma_log_softmax",
                             .n_in = 1, .n_out = 1,
                             .arg = {"x", "y"}, .shape = {"mn", "mn"}, .alias_mask = 1u,
                             .nmse_limit = LIMIT_ELEMENTWISE, .reference = soma_ref_log_softmax,
                             .grad_of = -1},
    [SOMA_OP_LOG_SOFTMAX_BACKWARD] = {.name = "log_softmax_backward",
                                      .api = "soma_log_softmax_backward",
                                      .n_in = 2, .n_out = 1,
                                      .arg = {"y", "dy", "dx"}, .shape = {"mn", "mn", "mn"},
                                      .alias_mask = 2u,
                                      .nmse_limit = LIMIT_ELEMENTWISE,
                                      .reference = soma_ref_log_softmax_backward,
                                      .grad_of = SOMA_OP_LOG_SOFTMAX, .grad_wrt = 0,
                                      .grad_src = {SOMA_FROM_FWD_OUT, SOMA_FROM_DOUT}},

    [SOMA_OP_MSE_LOSS] = {.name = "mse_loss", .api = "soma_mse_loss", .n_in = 2, .n_out = 1,
                          .arg = {"pred", "target", "loss"}, .shape = {"mn", "mn", "11"},
                          .nmse_limit = LIMIT_REDUCTION, .part = SOMA_PROFILE_LOSS,
                          .reference = soma_ref_mse_loss,
                          .grad_of = -1},
    [SOMA_OP_MSE_BACKWARD] = {.name = "mse_backward", .api = "soma_mse_backward",
                              .n_in = 2, .n_out = 1,
                              .arg = {"pred", "target", "dpred"}, .shape = {"mn", "mn", "mn"},
                              .alias_mask = 1u,
                              .nmse_limit = LIMIT_ELEMENTWISE,
                              .part = SOMA_PROFILE_LOSS, .reference = soma_ref_mse_backward,
                              .grad_of = SOMA_OP_MSE_LOSS, .grad_wrt = 0,
                              .grad_src = {SOMA_FROM_FWD_IN0, SOMA_FROM_FWD_IN1}},
    [SOMA_OP_BCE_LOGITS_LOSS] = {.name = "bce_logits_loss", .api = "soma_bce_logits_loss",
                                 .n_in = 2, .n_out = 1,
                                 .arg = {"logits", "target", "loss"},
                                 .shape = {"mn", "mn", "11"},
                                 .kind = {SOMA_IN_NORMAL, SOMA_IN_PROB},
                                 .nmse_limit = LIMIT_REDUCTION,
                                 .part = SOMA_PROFILE_LOSS, .reference = soma_ref_bce_logits_loss,
                                 .grad_of = -1},
    [SOMA_OP_BCE_LOGITS_BACKWARD] = {.name = "bce_logits_backward",
                                     .api = "soma_bce_logits_backward", .n_in = 2, .n_out = 1,
                                     .arg = {"logits", "target", "dlogits"},
                                     .shape = {"mn", "mn", "mn"},
                                     .kind = {SOMA_IN_NORMAL, SOMA_IN_PROB},
                                     .alias_mask = 1u,
                                     .nmse_limit = LIMIT_ELEMENTWISE,
                                     .part = SOMA_PROFILE_LOSS, .reference = soma_ref_bce_logits_backward,
                                     .grad_of = SOMA_OP_BCE_LOGITS_LOSS, .grad_wrt = 0,
                                     .grad_src = {SOMA_FROM_FWD_IN0, SOMA_FROM_FWD_IN1}},
    [SOMA_OP_SOFTMAX_XENT_LOSS] = {.name = "softmax_xent_loss", .api = "soma_softmax_xent_loss",
                                   .n_in = 2, .n_out = 1,
                                   .arg = {"logits", "labels", "loss"},
                                   .shape = {"mn", "m1", "11"},
                                   .kind = {SOMA_IN_NORMAL, SOMA_IN_LABELS},
                                   .nmse_limit = LIMIT_REDUCTION,
                                   .part = SOMA_PROFILE_LOSS, .reference = soma_ref_softmax_xent_loss,
                                   .grad_of = -1},
    [SOMA_OP_SOFTMAX_XENT_BACKWARD] = {.name = "softmax_xent_backward",
                                       .api = "soma_softmax_xent_backward",
                                       .n_in = 2, .n_out = 1,
                                       .arg = {"logits", "labels", "dlogits"},
                                       .shape = {"mn", "m1", "mn"},
                                       .kind = {SOMA_IN_NORMAL, SOMA_IN_LABELS},
                                       .alias_mask = 1u,
                                       .nmse_limit = LIMIT_ELEMENTWISE,
                                       .part = SOMA_PROFILE_LOSS, .reference = soma_ref_softmax_xent_backward,
                                       .grad_of = SOMA_OP_SOFTMAX_XENT_LOSS, .grad_wrt = 0,
                                       .grad_src = {SOMA_FROM_FWD_IN0, SOMA_FROM_FWD_IN1}},

    [SOMA_OP_SCALE] = {.name = "scale", .api = "soma_scale", .n_in = 1, .n_out = 1,
                       .arg = {"x", "y"}, .shape = {"mn", "mn"}, .alias_mask = 1u,
                       .nmse_limit = LIMIT_ELEMENTWISE, .reference = soma_ref_scale,
                       .grad_of = -1, .n_test_params = 1, .test_params = {{.alpha = -1.7f}}},
    [SOMA_OP_AXPY] = {.name = "axpy", .api = "soma_axpy", .n_in = 1, .n_out = 1,
                      .arg = {"x", "y"}, .shape = {"mn", "mn"}, .reads_output = 1,
                      .nmse_limit = LIMIT_ELEMENTWISE, .reference = soma_ref_axpy,
                      .grad_of = -1, .n_test_params = 1, .test_params = {{.alpha = 0.37f}}},
    [SOMA_OP_SUM] = {.name = "sum", .api = "soma_sum", .n_in = 1, .n_out = 1,
                     .arg = {"x", "out"}, .shape = {"mn", "11"}, .kind = {SOMA_IN_POSITIVE},
                     .nmse_limit = LIMIT_REDUCTION, .reference = soma_ref_sum, .grad_of = -1},
    [SOMA_OP_MEAN] = {.name = "mean", .api = "soma_mean", .n_in = 1, .n_out = 1,
                      .arg = {"x", "out"}, .shape = {"mn", "11"}, .kind = {SOMA_IN_POSITIVE},
                      .nmse_limit = LIMIT_REDUCTION, .reference = soma_ref_mean, .grad_of = -1},
    [SOMA_OP_ROW_ARGMAX] = {.name = "row_argmax", .api = "soma_row_argmax",
                            .n_in = 1, .n_out = 1,
                            .arg = {"x", "out"}, .shape = {"mn", "m1"}, .bit_exact = 1,
                            .reference = soma_ref_row_argmax, .grad_of = -1},
    [SOMA_OP_CORRECT_COUNT] = {.name = "correct_count", .api = "soma_correct_count",
                               .n_in = 2, .n_out = 1,
                               .arg = {"x", "labels", "out"}, .shape = {"mn", "m1", "11"},
                               .kind = {SOMA_IN_NORMAL, SOMA_IN_LABELS}, .bit_exact = 1,
                               .reference = soma_ref_correct_count, .grad_of = -1},

    [SOMA_OP_FILL] = {.name = "fill", .api = "soma_tensor_fill", .n_in = 0, .n_out = 1,
                      .arg = {"t"}, .shape = {"mn"}, .bit_exact = 1,
                      .reference = soma_ref_fill, .grad_of = -1,
                      .n_test_params = 1, .test_params = {{.alpha = 2.5f}}},
    [SOMA_OP_FILL_UNIFORM] = {.name = "fill_uniform", .api = "soma_tensor_fill_uniform",
                              .n_in = 0, .n_out = 1, .arg = {"t"}, .shape = {"mn"},
                              .bit_exact = 1, .nmse_limit = LIMIT_ELEMENTWISE,
                              .reference = soma_ref_fill_uniform, .grad_of = -1,
                              .n_test_params = 2,
                              .test_params = {{.alpha = -2.0f, .beta = 3.0f, .seed = 42, .offset = 0},
                                              {.alpha = 0.0f, .beta = 1.0f,
                                               .seed = 0x123456789abcdefull, .offset = 77}}},
    [SOMA_OP_FILL_NORMAL] = {.name = "fill_normal", .api = "soma_tensor_fill_normal",
                             .n_in = 0, .n_out = 1, .arg = {"t"}, .shape = {"mn"},
                             .bit_exact = 1, .nmse_limit = LIMIT_ELEMENTWISE,
                             .reference = soma_ref_fill_normal, .grad_of = -1,
                             .n_test_params = 2,
                             .test_params = {{.alpha = 0.0f, .beta = 1.0f, .seed = 7, .offset = 1},
                                             {.alpha = 0.5f, .beta = 2.0f,
                                              .seed = 1234567890123ull, .offset = 3}}},

    /* x -> y = x mask / (1 - p), the mask drawn from {seed, offset}; its
     * backward draws the same mask again (the model uses bias_act_dropout,
     * which keeps it) */
    [SOMA_OP_DROPOUT] = {.name = "dropout", .api = "soma_dropout_forward", .n_in = 1, .n_out = 1,
                         .arg = {"x", "y"}, .shape = {"mn", "mn"}, .alias_mask = 1u,
                         .nmse_limit = LIMIT_ELEMENTWISE, .part = SOMA_PROFILE_DROPOUT,
                         .reference = soma_ref_dropout, .grad_of = -1, .n_test_params = 2,
                         .test_params = {{.drop = 0.3f, .seed = 5, .offset = 9},
                                         {.drop = 0.0f, .seed = 5, .offset = 9}}},
    [SOMA_OP_DROPOUT_BACKWARD] = {.name = "dropout_backward", .api = "soma_dropout_backward",
                                  .n_in = 1, .n_out = 1,
                                  .arg = {"dy", "dx"}, .shape = {"mn", "mn"}, .alias_mask = 1u,
                                  .nmse_limit = LIMIT_ELEMENTWISE, .part = SOMA_PROFILE_DROPOUT,
                                  .reference = soma_ref_dropout,
                                  .grad_of = SOMA_OP_DROPOUT, .grad_wrt = 0,
                                  .grad_src = {SOMA_FROM_DOUT}, .n_test_params = 1,
                                  .test_params = {{.drop = 0.3f, .seed = 5, .offset = 9}}},

    /* (x, bias) -> (h, z, mask, alive): a hidden layer's training forward
     * after its GEMM in one pass: z = x + bias, h = f(z) mask / (1 - p), the
     * mask kept for the backward (1 bit per element), and the dead-unit
     * statistics alive[j] |= [z[i,j] > 0] (read and written). Tested with
     * every activation; tanh first (test_grad takes the first: smooth) */
    [SOMA_OP_BIAS_ACT_DROPOUT] = {.name = "bias_act_dropout", .api = "soma_bias_act_dropout",
                                  .n_in = 2, .n_out = 4,
                                  .arg = {"x", "bias", "h", "z", "mask", "alive"},
                                  .shape = {"mn", "1n", "mn", "mn", "mw", "1n"},
                                  .out_kind = {SOMA_IN_NORMAL, SOMA_IN_NORMAL, SOMA_IN_BITS,
                                               SOMA_IN_LABELS},
                                  .reads_output = 1, .alias_mask = 1u, .bits_out = 1u << 2,
                                  .nmse_limit = LIMIT_ELEMENTWISE, .part = SOMA_PROFILE_DROPOUT,
                                  .reference = soma_ref_bias_act_dropout, .grad_of = -1,
                                  .n_test_params = 10,
                                  .test_params = {BIAS_ACT_DROPOUT_PARAMS}},
    /* (z, mask, dh) -> dx = dh mask / (1 - p) f'(z) (f(z) is recomputed where
     * f' needs it) */
    [SOMA_OP_BIAS_ACT_DROPOUT_BACKWARD] = {.name = "bias_act_dropout_backward",
                                           .api = "soma_bias_act_dropout_backward",
                                           .n_in = 3, .n_out = 1,
                                           .arg = {"z", "mask", "dh", "dx"},
                                           .shape = {"mn", "mw", "mn", "mn"},
                                           .kind = {SOMA_IN_NORMAL, SOMA_IN_BITS, SOMA_IN_NORMAL},
                                           .alias_mask = 5u,
                                           .nmse_limit = LIMIT_ELEMENTWISE,
                                           .part = SOMA_PROFILE_DROPOUT,
                                           .reference = soma_ref_bias_act_dropout_backward,
                                           .grad_of = SOMA_OP_BIAS_ACT_DROPOUT, .grad_wrt = 0,
                                           .grad_src = {SOMA_FROM_FWD_OUT1, SOMA_FROM_FWD_OUT2,
                                                        SOMA_FROM_DOUT},
                                           .n_test_params = 10,
                                           .test_params = {BIAS_ACT_DROPOUT_PARAMS}},
    [SOMA_OP_SUM_SQUARES] = {.name = "sum_squares", .api = "soma_sum_squares",
                             .n_in = 1, .n_out = 1, .arg = {"x", "out"}, .shape = {"mn", "11"},
                             .nmse_limit = LIMIT_REDUCTION, .reference = soma_ref_sum_squares,
                             .grad_of = -1},
    [SOMA_OP_ACTIVE_COLUMNS] = {.name = "active_columns", .api = "soma_active_columns",
                                .n_in = 1, .n_out = 1, .arg = {"x", "flags"},
                                .shape = {"mn", "1n"}, .reads_output = 1,
                                .out_kind = {SOMA_IN_LABELS}, .bit_exact = 1,
                                .reference = soma_ref_active_columns, .grad_of = -1},
    [SOMA_OP_SGD_UPDATE] = {.name = "sgd_update", .api = "soma_sgd_update", .n_in = 1, .n_out = 2,
                            .arg = {"grad", "weight", "velocity"}, .shape = {"mn", "mn", "mn"},
                            .reads_output = 1, .nmse_limit = LIMIT_ELEMENTWISE,
                            .part = SOMA_PROFILE_OPTIMIZER, .reference = soma_ref_sgd_update,
                            .grad_of = -1, .n_test_params = 3,
                            .test_params = {{.lr = 0.1f, .momentum = 0.9f},
                                            {.lr = 0.05f, .momentum = 0.9f, .weight_decay = 0.01f,
                                             .nesterov = 1},
                                            {.lr = 0.1f}}},
    [SOMA_OP_ADAM_UPDATE] = {.name = "adam_update", .api = "soma_adam_update",
                             .n_in = 1, .n_out = 3,
                             .arg = {"grad", "weight", "m", "v"},
                             .shape = {"mn", "mn", "mn", "mn"}, .reads_output = 1,
                             .out_kind = {SOMA_IN_NORMAL, SOMA_IN_NORMAL, SOMA_IN_POSITIVE},
                             .nmse_limit = LIMIT_ELEMENTWISE, .part = SOMA_PROFILE_OPTIMIZER,
                             .reference = soma_ref_adam_update,
                             .grad_of = -1, .n_test_params = 3,
                             /* step 3: 1/(1-0.9^3) = 3.6900369, 1/(1-0.999^3) = 333.6669 */
                             .test_params = {{.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f,
                                              .eps = 1e-8f, .bias_correction1 = 3.6900369f,
                                              .bias_correction2 = 333.6669f},
                                             {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f,
                                              .eps = 1e-8f, .weight_decay = 0.01f, .decoupled = 1,
                                              .bias_correction1 = 3.6900369f,
                                              .bias_correction2 = 333.6669f},
                                             {.lr = 1e-2f, .beta1 = 0.8f, .beta2 = 0.99f,
                                              .eps = 1e-6f, .weight_decay = 0.01f,
                                              .bias_correction1 = 5.0f,
                                              .bias_correction2 = 100.0f}}},
    /* The training step's control ops (core/step_ctl.h): their scalars come
     * from a control block in device memory, so a captured step replays
     * correctly at every step of the run. Counts in the block are exact:
     * backends agree bit for bit. */
    /* (src, order, ctl) -> dst[r] = src[order[clock * stride + r]] */
    [SOMA_OP_GATHER_ROWS] = {.name = "gather_rows", .api = "soma_gather_rows", .n_in = 3,
                             .n_out = 1, .arg = {"src", "order", "ctl", "dst"},
                             .shape = {"kn", "1k", "1c", "mn"},
                             .kind = {SOMA_IN_NORMAL, SOMA_IN_ROW_INDEX, SOMA_IN_STEP_CTL},
                             .test_shapes = gather_test_shapes, .bit_exact = 1,
                             .part = SOMA_PROFILE_DATA, .reference = soma_ref_gather_rows,
                             .grad_of = -1},
    /* schedule -> ctl: row clock of the schedule in, clock + 1, scale 1 */
    [SOMA_OP_STEP_BEGIN] = {.name = "step_begin", .api = "soma_step_begin", .n_in = 1, .n_out = 1,
                            .arg = {"schedule", "ctl"}, .shape = {"ms", "1c"},
                            .kind = {SOMA_IN_SCHEDULE}, .out_kind = {SOMA_IN_STEP_CTL},
                            .test_shapes = step_begin_test_shapes, .reads_output = 1,
                            .bit_exact = 1, .part = SOMA_PROFILE_OPTIMIZER,
                            .reference = soma_ref_step_begin, .grad_of = -1},
    /* loss -> (sum += alpha loss, ctl: the step marked bad when loss is not finite) */
    [SOMA_OP_WATCH_LOSS] = {.name = "watch_loss", .api = "soma_watch_loss", .n_in = 1, .n_out = 2,
                            .arg = {"loss", "sum", "ctl"}, .shape = {"11", "11", "1c"},
                            .out_kind = {SOMA_IN_POSITIVE, SOMA_IN_STEP_CTL}, .reads_output = 1,
                            .bit_exact = 1, .nmse_limit = LIMIT_ELEMENTWISE,
                            .part = SOMA_PROFILE_LOSS, .reference = soma_ref_watch_loss,
                            .grad_of = -1, .n_test_params = 2,
                            .test_params = {{.alpha = 128.0f}, {.alpha = 7.0f}}},
    /* parts (m x 1 sums of squares) -> ctl: scale = min(1, alpha / sqrt(sum parts)) */
    [SOMA_OP_CLIP_SCALE] = {.name = "clip_scale", .api = "soma_clip_scale", .n_in = 1, .n_out = 1,
                            .arg = {"parts", "ctl"}, .shape = {"m1", "1c"},
                            .kind = {SOMA_IN_POSITIVE}, .out_kind = {SOMA_IN_STEP_CTL},
                            .reads_output = 1, .bit_exact = 1, .nmse_limit = LIMIT_ELEMENTWISE,
                            .part = SOMA_PROFILE_OPTIMIZER, .reference = soma_ref_clip_scale,
                            .grad_of = -1, .n_test_params = 2,
                            .test_params = {{.alpha = 0.5f}, {.alpha = 1e6f}}},
    /* (grad, ctl) -> (weight, velocity): sgd_update of scale grad at the block's lr */
    [SOMA_OP_SGD_STEP] = {.name = "sgd_step", .api = "soma_sgd_step", .n_in = 2, .n_out = 2,
                          .arg = {"grad", "ctl", "weight", "velocity"},
                          .shape = {"mn", "1c", "mn", "mn"},
                          .kind = {SOMA_IN_NORMAL, SOMA_IN_STEP_CTL}, .reads_output = 1,
                          .nmse_limit = LIMIT_ELEMENTWISE, .part = SOMA_PROFILE_OPTIMIZER,
                          .reference = soma_ref_sgd_step, .grad_of = -1, .n_test_params = 2,
                          .test_params = {{.momentum = 0.9f, .weight_decay = 0.01f, .nesterov = 1},
                                          {.momentum = 0.0f}}},
    /* (grad, ctl) -> (weight, m, v): adam_update of scale grad at the block's lr and
     * corrections */
    [SOMA_OP_ADAM_STEP] = {.name = "adam_step", .api = "soma_adam_step", .n_in = 2, .n_out = 3,
                           .arg = {"grad", "ctl", "weight", "m", "v"},
                           .shape = {"mn", "1c", "mn", "mn", "mn"},
                           .kind = {SOMA_IN_NORMAL, SOMA_IN_STEP_CTL},
                           .out_kind = {SOMA_IN_NORMAL, SOMA_IN_NORMAL, SOMA_IN_POSITIVE},
                           .reads_output = 1, .nmse_limit = LIMIT_ELEMENTWISE,
                           .part = SOMA_PROFILE_OPTIMIZER, .reference = soma_ref_adam_step,
                           .grad_of = -1, .n_test_params = 2,
                           .test_params = {{.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                                            .weight_decay = 0.01f, .decoupled = 1},
                                           {.beta1 = 0.8f, .beta2 = 0.99f, .eps = 1e-6f,
                                            .weight_decay = 0.01f}}},
    /* (x, bias, ctl) -> (h, z, mask, alive): bias_act_dropout with the Philox
     * offset + (t - 1) step_stride of the block's step t */
    [SOMA_OP_BIAS_ACT_DROPOUT_STEP] = {.name = "bias_act_dropout_step",
                                       .api = "soma_bias_act_dropout_step", .n_in = 3, .n_out = 4,
                                       .arg = {"x", "bias", "ctl", "h", "z", "mask", "alive"},
                                       .shape = {"mn", "1n", "1c", "mn", "mn", "mw", "1n"},
                                       .kind = {SOMA_IN_NORMAL, SOMA_IN_NORMAL, SOMA_IN_STEP_CTL},
                                       .out_kind = {SOMA_IN_NORMAL, SOMA_IN_NORMAL, SOMA_IN_BITS,
                                                    SOMA_IN_LABELS},
                                       .reads_output = 1, .alias_mask = 1u, .bits_out = 1u << 2,
                                       .nmse_limit = LIMIT_ELEMENTWISE,
                                       .part = SOMA_PROFILE_DROPOUT,
                                       .reference = soma_ref_bias_act_dropout_step, .grad_of = -1,
                                       .n_test_params = 10,
                                       .test_params = {BIAS_ACT_DROPOUT_PARAMS}},

    /* cuBLASLt's fused epilogues, as one layer of an MLP uses them (the CPU
     * and CUDA's default run a GEMM and a pass; CUDA's "cublaslt" variant one
     * cublasLtMatmul). Forward, x [m,k], w [n,k], bias [1,n]:
     *   z = x w^T + bias, h = relu(z) or gelu_tanh(z) (cuBLASLt's GELU is the
     *   tanh form), and what the backward needs: ReLU's mask, bit j % 32 of
     *   word j / 32 of row i set where z[i,j] > 0 (a row of 4 ceil(n/128)
     *   words: EPILOGUE_AUX_LD a multiple of 128 bits), or GELU's z (a row of
     *   8 ceil(n/8) floats); padding bits and floats are 0.
     * Backward, g [m,k] (the next layer's dz), w2 [k,n] (its weight):
     *   dz = (g w2) f'(z), f' from the mask or from z; db = sum over rows of dz.
     * Inputs are small integers (bias half-integers), so that every GEMM is
     * exact in float32 on every backend and z is never 0: the mask compares
     * bit for bit, and the rest as elementwise ops do (GELU's tanh is libm's). */
    [SOMA_OP_GEMM_BIAS_RELU] = {.name = "gemm_bias_relu", .api = "soma_op_run (gemm_bias_relu)",
                                .n_in = 3, .n_out = 2,
                                .arg = {"x", "w", "bias", "h", "mask"},
                                .shape = {"mk", "nk", "1n", "mn", "mr"},
                                .kind = {SOMA_IN_SMALL_INT, SOMA_IN_SMALL_INT, SOMA_IN_HALF_INT},
                                .bits_out = 1u << 1, .nmse_limit = LIMIT_ELEMENTWISE,
                                .part = SOMA_PROFILE_GEMM, .reference = soma_ref_gemm_bias_act,
                                .grad_of = -1},
    [SOMA_OP_GEMM_DRELU_BGRAD] = {.name = "gemm_drelu_bgrad", .api = "soma_op_run (gemm_drelu_bgrad)",
                                  .n_in = 3, .n_out = 2,
                                  .arg = {"g", "w2", "mask", "dz", "db"},
                                  .shape = {"mk", "kn", "mr", "mn", "1n"},
                                  .kind = {SOMA_IN_SMALL_INT, SOMA_IN_SMALL_INT, SOMA_IN_BITS},
                                  .nmse_limit = LIMIT_REDUCTION, .part = SOMA_PROFILE_GEMM,
                                  .reference = soma_ref_gemm_act_backward, .grad_of = -1},
    [SOMA_OP_GEMM_BIAS_GELU] = {.name = "gemm_bias_gelu", .api = "soma_op_run (gemm_bias_gelu)",
                                .n_in = 3, .n_out = 2,
                                .arg = {"x", "w", "bias", "h", "z"},
                                .shape = {"mk", "nk", "1n", "mn", "mg"},
                                .kind = {SOMA_IN_SMALL_INT, SOMA_IN_SMALL_INT, SOMA_IN_HALF_INT},
                                .nmse_limit = LIMIT_ELEMENTWISE, .part = SOMA_PROFILE_GEMM,
                                .reference = soma_ref_gemm_bias_act, .grad_of = -1},
    [SOMA_OP_GEMM_DGELU_BGRAD] = {.name = "gemm_dgelu_bgrad", .api = "soma_op_run (gemm_dgelu_bgrad)",
                                  .n_in = 3, .n_out = 2,
                                  .arg = {"g", "w2", "z", "dz", "db"},
                                  .shape = {"mk", "kn", "mg", "mn", "1n"},
                                  .kind = {SOMA_IN_SMALL_INT, SOMA_IN_SMALL_INT, SOMA_IN_NORMAL},
                                  .nmse_limit = LIMIT_REDUCTION, .part = SOMA_PROFILE_GEMM,
                                  .reference = soma_ref_gemm_act_backward, .grad_of = -1},

    /* Normalizations (soma/ops.h gives the maths). Batchnorm reduces over the
     * m rows of each column, layernorm over the n columns of each row; both
     * keep the mean and 1/sqrt(var + eps) for the backward ("saved"). Their
     * outputs are reductions' results scaled per element: LIMIT_REDUCTION.
     * Parameters: PyTorch's defaults (momentum 0.1, eps 1e-5), and a larger
     * eps and momentum. */
    [SOMA_OP_BATCHNORM_FORWARD_TRAIN] = {.name = "batchnorm_forward_train",
                                         .api = "soma_batchnorm_forward_train",
                                         .n_in = 3, .n_out = 4,
                                         .arg = {"x", "gamma", "beta", "y", "saved",
                                                 "running_mean", "running_var"},
                                         .shape = {"mn", "1n", "1n", "mn", "2n", "1n", "1n"},
                                         .out_kind = {SOMA_IN_NORMAL, SOMA_IN_NORMAL,
                                                      SOMA_IN_NORMAL, SOMA_IN_POSITIVE},
                                         .reads_output = 1, .min_rows = 2,
                                         .nmse_limit = LIMIT_REDUCTION,
                                         .reference = soma_ref_batchnorm_forward_train,
                                         .grad_of = -1, .n_test_params = 2,
                                         .test_params = {{.momentum = 0.1f, .eps = 1e-5f},
                                                         {.momentum = 0.5f, .eps = 1e-2f}}},
    [SOMA_OP_BATCHNORM_FORWARD_EVAL] = {.name = "batchnorm_forward_eval",
                                        .api = "soma_batchnorm_forward_eval",
                                        .n_in = 5, .n_out = 1,
                                        .arg = {"x", "gamma", "beta", "running_mean",
                                                "running_var", "y"},
                                        .shape = {"mn", "1n", "1n", "1n", "1n", "mn"},
                                        .kind = {SOMA_IN_NORMAL, SOMA_IN_NORMAL, SOMA_IN_NORMAL,
                                                 SOMA_IN_NORMAL, SOMA_IN_POSITIVE},
                                        .alias_mask = 1u, .nmse_limit = LIMIT_ELEMENTWISE,
                                        .reference = soma_ref_batchnorm_forward_eval,
                                        .grad_of = -1, .n_test_params = 2,
                                        .test_params = {{.eps = 1e-5f}, {.eps = 1e-2f}}},
    /* (x, gamma, saved, dy) -> (dx, dgamma, dbeta). The saved statistics
     * are free inputs here (mean and 1/std in [0.5, 1.5)): the formula does
     * not need them to be x's. The parameters only serve test_grad's forward:
     * eps 1e-2, because at m = 2 (the 1x1 case) a column normalizes to +-1
     * whatever x is, and x's gradient, of order eps, would drown in float
     * noise at eps 1e-5. */
    [SOMA_OP_BATCHNORM_BACKWARD] = {.name = "batchnorm_backward", .api = "soma_batchnorm_backward",
                                    .n_in = 4, .n_out = 3,
                                    .arg = {"x", "gamma", "saved", "dy", "dx", "dgamma", "dbeta"},
                                    .shape = {"mn", "1n", "2n", "mn", "mn", "1n", "1n"},
                                    .kind = {SOMA_IN_NORMAL, SOMA_IN_NORMAL, SOMA_IN_POSITIVE,
                                             SOMA_IN_NORMAL},
                                    .nmse_limit = LIMIT_REDUCTION,
                                    .reference = soma_ref_batchnorm_backward,
                                    .grad_of = SOMA_OP_BATCHNORM_FORWARD_TRAIN, .grad_wrt = 0,
                                    .grad_src = {SOMA_FROM_FWD_IN0, SOMA_FROM_FWD_IN1,
                                                 SOMA_FROM_FWD_OUT1, SOMA_FROM_DOUT},
                                    .n_test_params = 1,
                                    .test_params = {{.momentum = 0.1f, .eps = 1e-2f}}},
    [SOMA_OP_LAYERNORM_FORWARD] = {.name = "layernorm_forward", .api = "soma_layernorm_forward",
                                   .n_in = 3, .n_out = 2,
                                   .arg = {"x", "gamma", "beta", "y", "saved"},
                                   .shape = {"mn", "1n", "1n", "mn", "m2"},
                                   .nmse_limit = LIMIT_REDUCTION,
                                   .reference = soma_ref_layernorm_forward, .grad_of = -1,
                                   .n_test_params = 2,
                                   .test_params = {{.eps = 1e-5f}, {.eps = 1e-2f}}},
    /* (x, gamma, saved, dy) -> (dx, dgamma, dbeta); saved free as above */
    [SOMA_OP_LAYERNORM_BACKWARD] = {.name = "layernorm_backward", .api = "soma_layernorm_backward",
                                    .n_in = 4, .n_out = 3,
                                    .arg = {"x", "gamma", "saved", "dy", "dx", "dgamma", "dbeta"},
                                    .shape = {"mn", "1n", "m2", "mn", "mn", "1n", "1n"},
                                    .kind = {SOMA_IN_NORMAL, SOMA_IN_NORMAL, SOMA_IN_POSITIVE,
                                             SOMA_IN_NORMAL},
                                    .nmse_limit = LIMIT_REDUCTION,
                                    .reference = soma_ref_layernorm_backward,
                                    .grad_of = SOMA_OP_LAYERNORM_FORWARD, .grad_wrt = 0,
                                    .grad_src = {SOMA_FROM_FWD_IN0, SOMA_FROM_FWD_IN1,
                                                 SOMA_FROM_FWD_OUT1, SOMA_FROM_DOUT},
                                    .n_test_params = 1, .test_params = {{.eps = 1e-5f}}},
    /* (a, b) -> y = a + b; y may be a or b */
    [SOMA_OP_ADD] = {.name = "add", .api = "soma_add", .n_in = 2, .n_out = 1,
                     .arg = {"a", "b", "y"}, .shape = {"mn", "mn", "mn"}, .alias_mask = 3u,
                     .nmse_limit = LIMIT_ELEMENTWISE, .reference = soma_ref_add, .grad_of = -1},
};

soma_op_id soma_op_find(const char *name) {
    for (int op = 0; op < SOMA_OP_COUNT; op++)
        if (name && strcmp(soma_op_table[op].name, name) == 0) return (soma_op_id)op;
    return SOMA_OP_COUNT;
}

int64_t soma_shape_letter_fixed(char letter) {
    return letter == '1' ? 1 : letter == '2' ? 2 : letter == 'c' ? SOMA_CTL_SIZE
           : letter == 's' ? SOMA_SCHED_COLS : 0;
}

static int64_t dim_of(char letter, int64_t m, int64_t n, int64_t k) {
    if (soma_shape_letter_fixed(letter)) return soma_shape_letter_fixed(letter);
    int64_t derived = soma_op_derived_cols(letter, n);
    return letter == 'm' ? m : letter == 'n' ? n : letter == 'k' ? k : derived >= 0 ? derived : 1;
}

void soma_op_test_shapes(soma_op_id op, const soma_op_params *p, int64_t m, int64_t n, int64_t k,
                         soma_shape in[SOMA_MAX_IN], soma_shape out[SOMA_MAX_OUT]) {
    const soma_op_desc *d = &soma_op_table[op];
    if (m < d->min_rows) m = d->min_rows;
    if (d->test_shapes) {
        d->test_shapes(p, m, n, k, in, out);
        return;
    }
    for (int a = 0; a < d->n_in + d->n_out; a++) {
        soma_shape s = {dim_of(d->shape[a][0], m, n, k), dim_of(d->shape[a][1], m, n, k)};
        if (a < d->n_in)
            in[a] = s;
        else
            out[a - d->n_in] = s;
    }
}

static soma_status check_gemm(const soma_op_desc *d, const soma_shape in[], const soma_shape out[],
                              const soma_op_params *p) {
    int64_t am = p->trans_a ? in[0].cols : in[0].rows, ak = p->trans_a ? in[0].rows : in[0].cols;
    int64_t bk = p->trans_b ? in[1].cols : in[1].rows, bn = p->trans_b ? in[1].rows : in[1].cols;
    if (p->precision < 0 || p->precision >= SOMA_PRECISION_COUNT)
        return soma_fail(SOMA_ERR_INVALID_ARG,
                         "%s: precision %d is not a soma_precision (fp32 0, tf32 1, bf16 2)",
                         d->api, p->precision);
    if (ak != bk)
        return soma_fail(SOMA_ERR_SHAPE,
                         "%s: op(a) is %lldx%lld (a %lldx%lld, trans_a=%d) but op(b) is "
                         "%lldx%lld (b %lldx%lld, trans_b=%d): inner dimensions %lld and %lld differ",
                         d->api, (long long)am, (long long)ak, (long long)in[0].rows,
                         (long long)in[0].cols, p->trans_a, (long long)bk, (long long)bn,
                         (long long)in[1].rows, (long long)in[1].cols, p->trans_b, (long long)ak,
                         (long long)bk);
    if (out[0].rows != am || out[0].cols != bn)
        return soma_fail(SOMA_ERR_SHAPE, "%s: 'c' is %lldx%lld but op(a) op(b) is %lldx%lld",
                         d->api, (long long)out[0].rows, (long long)out[0].cols, (long long)am,
                         (long long)bn);
    return SOMA_OK;
}
