/* op_list.h: every op of soma, once, in op-id order (no include guard: an
 * X-macro list, included with SOMA_OP defined by the includer).
 *
 *   SOMA_OP(ID, CPU, CUDA, REF, declaration...)
 *
 * ID    the op's id: SOMA_OP_<ID> (op_table.h makes the enum from this list,
 *       so the order here is the ids' order; activations keep soma_activation's
 *       order, forward then backward, for SOMA_ACT_FORWARD_OP);
 * CPU   its CPU kernel, a soma_op_kernel (CPU_KERNEL in src/cpu/cpu_*.c);
 * CUDA  SOMA_CUDA_LAUNCH(f): f(const soma_op_call *, cudaStream_t) in a .cu file of kernels/,
 *       which launches the kernels on the call's tensors (cuda_backend.c wraps it:
 *       current device, error with the op's name); or SOMA_CUDA_KERNEL(f): f a
 *       whole soma_op_kernel in src/cuda (cuBLAS calls, older ops);
 * REF   its float64 reference, a soma_ref_fn (src/ref/);
 * then  the fields of its soma_op_desc (op_table.h): name, public function,
 *       arity, shapes, limits, gradient wiring, test parameters.
 *
 *   SOMA_OP_PUBLIC(name, (parameters), call fields...)
 *
 * after an entry defines its public function (declared, with its maths, in
 * soma/ops.h): it builds a soma_op_call from its parameters and runs it
 * through the op layer, which checks everything (ops.c expands these; the
 * older ops' functions are written out in ops.c). Its name in
 * tests/abi_symbols.txt comes from here too (abi_test.sh reads this file).
 *
 * From this one list come: the enum (op_table.h), the declarations table
 * (op_table.c), the CPU and CUDA kernel tables and the prototypes of the CPU
 * kernels, CUDA launchers and references (cpu_backend.c, cuda_backend.c,
 * ref/reference.h). Adding an op is an entry here, its CPU kernel, its CUDA
 * kernel and its reference; test_ops, test_grad, test_cuda and `soma check`
 * iterate the table (docs/ops.md walks through batchnorm). Helper macros of
 * the declarations (LIMIT_*, GEMM_PARAMS, ...) are defined in op_table.c:
 * the other includers drop the declaration unexpanded. */

#ifndef SOMA_OP_PUBLIC /* only ops.c defines the public functions */
#define SOMA_OP_PUBLIC(...)
#define SOMA_OP_PUBLIC_UNSET
#endif

/* A forward activation and its backward, tested with SLOPE as param. */
#define SOMA_ACTIVATION_OPS(ID, NAME, SLOPE)                                                   \
    SOMA_OP(ID, soma_cpu_activation_forward, SOMA_CUDA_KERNEL(k_act_forward),                  \
            soma_ref_activation,                                                               \
            .name = NAME, .api = "soma_activation_forward", .n_in = 1, .n_out = 1,             \
            .arg = {"x", "y"}, .shape = {"mn", "mn"}, .alias_mask = 1u,                        \
            .nmse_limit = LIMIT_ELEMENTWISE, .grad_of = -1,                                    \
            .n_test_params = 1, .test_params = {{.alpha = SLOPE}})                             \
    SOMA_OP(ID##_BACKWARD, soma_cpu_activation_backward, SOMA_CUDA_KERNEL(k_act_backward),     \
            soma_ref_activation_backward,                                                      \
            .name = NAME "_backward", .api = "soma_activation_backward", .n_in = 3, .n_out = 1, \
            .arg = {"x", "y", "dy", "dx"}, .shape = {"mn", "mn", "mn", "mn"},                  \
            .alias_mask = 4u, .nmse_limit = LIMIT_ELEMENTWISE,                                 \
            .grad_of = SOMA_OP_##ID, .grad_wrt = 0,                                            \
            .grad_src = {SOMA_FROM_FWD_IN0, SOMA_FROM_FWD_OUT, SOMA_FROM_DOUT},                \
            .n_test_params = 1, .test_params = {{.alpha = SLOPE}})

SOMA_OP(GEMM, soma_cpu_gemm, SOMA_CUDA_KERNEL(soma_cuda_gemm), soma_ref_gemm,
    .name = "gemm", .api = "soma_gemm", .n_in = 2, .n_out = 1,
    .arg = {"a", "b", "c"},
    .check = check_gemm, .test_shapes = gemm_test_shapes,
    .reads_output = 1,
    .nmse_limit = LIMIT_GEMM, .part = SOMA_PROFILE_GEMM,
    .grad_of = -1,
    .n_test_params = 11,
    .test_params = {GEMM_PARAMS(0, 0), GEMM_PARAMS(0, 1), GEMM_PARAMS(1, 0),
                    GEMM_PARAMS(1, 1), PRECISION_PARAMS})
SOMA_OP(BIAS_ADD, soma_cpu_bias_add, SOMA_CUDA_KERNEL(k_bias_add), soma_ref_bias_add,
    .name = "bias_add", .api = "soma_bias_add", .n_in = 2, .n_out = 1,
    .arg = {"x", "bias", "y"}, .shape = {"mn", "1n", "mn"},
    .alias_mask = 1u,
    .nmse_limit = LIMIT_ELEMENTWISE, .grad_of = -1)
SOMA_OP(BIAS_GRAD, soma_cpu_bias_grad, SOMA_CUDA_KERNEL(k_bias_grad), soma_ref_bias_grad,
    .name = "bias_grad", .api = "soma_bias_grad", .n_in = 1, .n_out = 1,
    .arg = {"dy", "dbias"}, .shape = {"mn", "1n"},
    .nmse_limit = LIMIT_REDUCTION, .grad_of = SOMA_OP_BIAS_ADD, .grad_wrt = 1,
    .grad_src = {SOMA_FROM_DOUT})

/* (x, bias) -> (z = x + bias, a = act(z)): a dense layer's forward after
 * its GEMM in one pass; tested with every activation */
SOMA_OP(BIAS_ACT, soma_cpu_bias_act, SOMA_CUDA_KERNEL(k_bias_act), soma_ref_bias_act,
    .name = "bias_act", .api = "soma_bias_act", .n_in = 2, .n_out = 2,
    .arg = {"x", "bias", "z", "a"}, .shape = {"mn", "1n", "mn", "mn"},
    .alias_mask = 1u,
    .nmse_limit = LIMIT_ELEMENTWISE, .grad_of = -1, .n_test_params = SOMA_ACT_COUNT,
    .test_params = {{.act = SOMA_ACT_IDENTITY}, {.act = SOMA_ACT_RELU},
                    {.act = SOMA_ACT_LEAKY_RELU, .alpha = 0.1f},
                    {.act = SOMA_ACT_SIGMOID}, {.act = SOMA_ACT_TANH},
                    {.act = SOMA_ACT_GELU_ERF}, {.act = SOMA_ACT_GELU_TANH},
                    {.act = SOMA_ACT_SILU}})

SOMA_ACTIVATION_OPS(IDENTITY, "identity", 0.0f)
SOMA_ACTIVATION_OPS(RELU, "relu", 0.0f)
SOMA_ACTIVATION_OPS(LEAKY_RELU, "leaky_relu", 0.1f)
SOMA_ACTIVATION_OPS(SIGMOID, "sigmoid", 0.0f)
SOMA_ACTIVATION_OPS(TANH, "tanh", 0.0f)
SOMA_ACTIVATION_OPS(GELU_ERF, "gelu_erf", 0.0f)
SOMA_ACTIVATION_OPS(GELU_TANH, "gelu_tanh", 0.0f)
SOMA_ACTIVATION_OPS(SILU, "silu", 0.0f)

SOMA_OP(SOFTMAX, soma_cpu_softmax, SOMA_CUDA_KERNEL(k_softmax), soma_ref_softmax,
    .name = "softmax", .api = "soma_softmax", .n_in = 1, .n_out = 1,
    .arg = {"x", "y"}, .shape = {"mn", "mn"}, .alias_mask = 1u,
    .nmse_limit = LIMIT_ELEMENTWISE, .grad_of = -1)
SOMA_OP(SOFTMAX_BACKWARD, soma_cpu_softmax_backward, SOMA_CUDA_KERNEL(k_softmax_backward),
        soma_ref_softmax_backward,
    .name = "softmax_backward", .api = "soma_softmax_backward",
    .n_in = 2, .n_out = 1,
    .arg = {"y", "dy", "dx"}, .shape = {"mn", "mn", "mn"},
    .alias_mask = 2u,
    .nmse_limit = LIMIT_ELEMENTWISE,
    .grad_of = SOMA_OP_SOFTMAX, .grad_wrt = 0,
    .grad_src = {SOMA_FROM_FWD_OUT, SOMA_FROM_DOUT})
SOMA_OP(LOG_SOFTMAX, soma_cpu_log_softmax, SOMA_CUDA_KERNEL(k_softmax), soma_ref_log_softmax,
    .name = "log_softmax", .api = "soma_log_softmax",
    .n_in = 1, .n_out = 1,
    .arg = {"x", "y"}, .shape = {"mn", "mn"}, .alias_mask = 1u,
    .nmse_limit = LIMIT_ELEMENTWISE, .grad_of = -1)
SOMA_OP(LOG_SOFTMAX_BACKWARD, soma_cpu_log_softmax_backward, SOMA_CUDA_KERNEL(k_softmax_backward),
        soma_ref_log_softmax_backward,
    .name = "log_softmax_backward",
    .api = "soma_log_softmax_backward",
    .n_in = 2, .n_out = 1,
    .arg = {"y", "dy", "dx"}, .shape = {"mn", "mn", "mn"},
    .alias_mask = 2u,
    .nmse_limit = LIMIT_ELEMENTWISE,
    .grad_of = SOMA_OP_LOG_SOFTMAX, .grad_wrt = 0,
    .grad_src = {SOMA_FROM_FWD_OUT, SOMA_FROM_DOUT})

SOMA_OP(MSE_LOSS, soma_cpu_mse_loss, SOMA_CUDA_KERNEL(k_mse_loss), soma_ref_mse_loss,
    .name = "mse_loss", .api = "soma_mse_loss", .n_in = 2, .n_out = 1,
    .arg = {"pred", "target", "loss"}, .shape = {"mn", "mn", "11"},
    .nmse_limit = LIMIT_REDUCTION, .part = SOMA_PROFILE_LOSS,
    .grad_of = -1)
SOMA_OP(MSE_BACKWARD, soma_cpu_mse_backward, SOMA_CUDA_KERNEL(k_mse_backward),
        soma_ref_mse_backward,
    .name = "mse_backward", .api = "soma_mse_backward",
    .n_in = 2, .n_out = 1,
    .arg = {"pred", "target", "dpred"}, .shape = {"mn", "mn", "mn"},
    .alias_mask = 1u,
    .nmse_limit = LIMIT_ELEMENTWISE,
    .part = SOMA_PROFILE_LOSS, .grad_of = SOMA_OP_MSE_LOSS, .grad_wrt = 0,
    .grad_src = {SOMA_FROM_FWD_IN0, SOMA_FROM_FWD_IN1})
SOMA_OP(BCE_LOGITS_LOSS, soma_cpu_bce_logits_loss, SOMA_CUDA_KERNEL(k_bce_loss),
        soma_ref_bce_logits_loss,
    .name = "bce_logits_loss", .api = "soma_bce_logits_loss",
    .n_in = 2, .n_out = 1,
    .arg = {"logits", "target", "loss"},
    .shape = {"mn", "mn", "11"},
    .kind = {SOMA_IN_NORMAL, SOMA_IN_PROB},
    .nmse_limit = LIMIT_REDUCTION,
    .part = SOMA_PROFILE_LOSS, .grad_of = -1)
SOMA_OP(BCE_LOGITS_BACKWARD, soma_cpu_bce_logits_backward, SOMA_CUDA_KERNEL(k_bce_backward),
        soma_ref_bce_logits_backward,
    .name = "bce_logits_backward",
    .api = "soma_bce_logits_backward", .n_in = 2, .n_out = 1,
    .arg = {"logits", "target", "dlogits"},
    .shape = {"mn", "mn", "mn"},
    .kind = {SOMA_IN_NORMAL, SOMA_IN_PROB},
    .alias_mask = 1u,
    .nmse_limit = LIMIT_ELEMENTWISE,
    .part = SOMA_PROFILE_LOSS, .grad_of = SOMA_OP_BCE_LOGITS_LOSS, .grad_wrt = 0,
    .grad_src = {SOMA_FROM_FWD_IN0, SOMA_FROM_FWD_IN1})
SOMA_OP(SOFTMAX_XENT_LOSS, soma_cpu_softmax_xent_loss, SOMA_CUDA_KERNEL(k_xent_loss),
        soma_ref_softmax_xent_loss,
    .name = "softmax_xent_loss", .api = "soma_softmax_xent_loss",
    .n_in = 2, .n_out = 1,
    .arg = {"logits", "labels", "loss"},
    .shape = {"mn", "m1", "11"},
    .kind = {SOMA_IN_NORMAL, SOMA_IN_LABELS},
    .nmse_limit = LIMIT_REDUCTION,
    .part = SOMA_PROFILE_LOSS, .grad_of = -1)
SOMA_OP(SOFTMAX_XENT_BACKWARD, soma_cpu_softmax_xent_backward, SOMA_CUDA_KERNEL(k_xent_backward),
        soma_ref_softmax_xent_backward,
    .name = "softmax_xent_backward",
    .api = "soma_softmax_xent_backward",
    .n_in = 2, .n_out = 1,
    .arg = {"logits", "labels", "dlogits"},
    .shape = {"mn", "m1", "mn"},
    .kind = {SOMA_IN_NORMAL, SOMA_IN_LABELS},
    .alias_mask = 1u,
    .nmse_limit = LIMIT_ELEMENTWISE,
    .part = SOMA_PROFILE_LOSS, .grad_of = SOMA_OP_SOFTMAX_XENT_LOSS, .grad_wrt = 0,
    .grad_src = {SOMA_FROM_FWD_IN0, SOMA_FROM_FWD_IN1})

SOMA_OP(SCALE, soma_cpu_scale, SOMA_CUDA_KERNEL(k_scale), soma_ref_scale,
    .name = "scale", .api = "soma_scale", .n_in = 1, .n_out = 1,
    .arg = {"x", "y"}, .shape = {"mn", "mn"}, .alias_mask = 1u,
    .nmse_limit = LIMIT_ELEMENTWISE, .grad_of = -1, .n_test_params = 1, .test_params = {{.alpha = -1.7f}})
SOMA_OP(AXPY, soma_cpu_axpy, SOMA_CUDA_KERNEL(k_axpy), soma_ref_axpy,
    .name = "axpy", .api = "soma_axpy", .n_in = 1, .n_out = 1,
    .arg = {"x", "y"}, .shape = {"mn", "mn"}, .reads_output = 1,
    .nmse_limit = LIMIT_ELEMENTWISE, .grad_of = -1, .n_test_params = 1, .test_params = {{.alpha = 0.37f}})
SOMA_OP(SUM, soma_cpu_sum, SOMA_CUDA_KERNEL(k_sum), soma_ref_sum,
    .name = "sum", .api = "soma_sum", .n_in = 1, .n_out = 1,
    .arg = {"x", "out"}, .shape = {"mn", "11"}, .kind = {SOMA_IN_POSITIVE},
    .nmse_limit = LIMIT_REDUCTION, .grad_of = -1)
SOMA_OP(MEAN, soma_cpu_mean, SOMA_CUDA_KERNEL(k_sum), soma_ref_mean,
    .name = "mean", .api = "soma_mean", .n_in = 1, .n_out = 1,
    .arg = {"x", "out"}, .shape = {"mn", "11"}, .kind = {SOMA_IN_POSITIVE},
    .nmse_limit = LIMIT_REDUCTION, .grad_of = -1)
SOMA_OP(ROW_ARGMAX, soma_cpu_row_argmax, SOMA_CUDA_KERNEL(k_row_argmax), soma_ref_row_argmax,
    .name = "row_argmax", .api = "soma_row_argmax",
    .n_in = 1, .n_out = 1,
    .arg = {"x", "out"}, .shape = {"mn", "m1"}, .bit_exact = 1,
    .grad_of = -1)
SOMA_OP(CORRECT_COUNT, soma_cpu_correct_count, SOMA_CUDA_KERNEL(k_correct_count),
        soma_ref_correct_count,
    .name = "correct_count", .api = "soma_correct_count",
    .n_in = 2, .n_out = 1,
    .arg = {"x", "labels", "out"}, .shape = {"mn", "m1", "11"},
    .kind = {SOMA_IN_NORMAL, SOMA_IN_LABELS}, .bit_exact = 1,
    .grad_of = -1)

SOMA_OP(FILL, soma_cpu_fill, SOMA_CUDA_KERNEL(k_fill), soma_ref_fill,
    .name = "fill", .api = "soma_tensor_fill", .n_in = 0, .n_out = 1,
    .arg = {"t"}, .shape = {"mn"}, .bit_exact = 1,
    .grad_of = -1,
    .n_test_params = 1, .test_params = {{.alpha = 2.5f}})
SOMA_OP(FILL_UNIFORM, soma_cpu_fill_uniform, SOMA_CUDA_KERNEL(k_fill_uniform),
        soma_ref_fill_uniform,
    .name = "fill_uniform", .api = "soma_tensor_fill_uniform",
    .n_in = 0, .n_out = 1, .arg = {"t"}, .shape = {"mn"},
    .bit_exact = 1, .nmse_limit = LIMIT_ELEMENTWISE,
    .grad_of = -1,
    .n_test_params = 2,
    .test_params = {{.alpha = -2.0f, .beta = 3.0f, .seed = 42, .offset = 0},
                    {.alpha = 0.0f, .beta = 1.0f,
                     .seed = 0x123456789abcdefull, .offset = 77}})
SOMA_OP(FILL_NORMAL, soma_cpu_fill_normal, SOMA_CUDA_KERNEL(k_fill_normal), soma_ref_fill_normal,
    .name = "fill_normal", .api = "soma_tensor_fill_normal",
    .n_in = 0, .n_out = 1, .arg = {"t"}, .shape = {"mn"},
    .bit_exact = 1, .nmse_limit = LIMIT_ELEMENTWISE,
    .grad_of = -1,
    .n_test_params = 2,
    .test_params = {{.alpha = 0.0f, .beta = 1.0f, .seed = 7, .offset = 1},
                    {.alpha = 0.5f, .beta = 2.0f,
                     .seed = 1234567890123ull, .offset = 3}})

/* x -> y = x mask / (1 - p), the mask drawn from {seed, offset}; its
 * backward draws the same mask again (the model uses bias_act_dropout,
 * which keeps it) */
SOMA_OP(DROPOUT, soma_cpu_dropout, SOMA_CUDA_KERNEL(k_dropout), soma_ref_dropout,
    .name = "dropout", .api = "soma_dropout_forward", .n_in = 1, .n_out = 1,
    .arg = {"x", "y"}, .shape = {"mn", "mn"}, .alias_mask = 1u,
    .nmse_limit = LIMIT_ELEMENTWISE, .part = SOMA_PROFILE_DROPOUT,
    .grad_of = -1, .n_test_params = 2,
    .test_params = {{.drop = 0.3f, .seed = 5, .offset = 9},
                    {.drop = 0.0f, .seed = 5, .offset = 9}})
SOMA_OP(DROPOUT_BACKWARD, soma_cpu_dropout, SOMA_CUDA_KERNEL(k_dropout), soma_ref_dropout,
    .name = "dropout_backward", .api = "soma_dropout_backward",
    .n_in = 1, .n_out = 1,
    .arg = {"dy", "dx"}, .shape = {"mn", "mn"}, .alias_mask = 1u,
    .nmse_limit = LIMIT_ELEMENTWISE, .part = SOMA_PROFILE_DROPOUT,
    .grad_of = SOMA_OP_DROPOUT, .grad_wrt = 0,
    .grad_src = {SOMA_FROM_DOUT}, .n_test_params = 1,
    .test_params = {{.drop = 0.3f, .seed = 5, .offset = 9}})

/* (x, bias) -> (h, z, mask, alive): a hidden layer's training forward
 * after its GEMM in one pass: z = x + bias, h = f(z) mask / (1 - p), the
 * mask kept for the backward (1 bit per element), and the dead-unit
 * statistics alive[j] |= [z[i,j] > 0] (read and written). Tested with
 * every activation; tanh first (test_grad takes the first: smooth) */
SOMA_OP(BIAS_ACT_DROPOUT, soma_cpu_bias_act_dropout, SOMA_CUDA_KERNEL(k_bias_act_dropout),
        soma_ref_bias_act_dropout,
    .name = "bias_act_dropout", .api = "soma_bias_act_dropout",
    .n_in = 2, .n_out = 4,
    .arg = {"x", "bias", "h", "z", "mask", "alive"},
    .shape = {"mn", "1n", "mn", "mn", "mw", "1n"},
    .out_kind = {SOMA_IN_NORMAL, SOMA_IN_NORMAL, SOMA_IN_BITS,
                 SOMA_IN_LABELS},
    .reads_output = 1, .alias_mask = 1u, .bits_out = 1u << 2,
    .nmse_limit = LIMIT_ELEMENTWISE, .part = SOMA_PROFILE_DROPOUT,
    .grad_of = -1,
    .n_test_params = 10,
    .test_params = {BIAS_ACT_DROPOUT_PARAMS})
/* (z, mask, dh) -> dx = dh mask / (1 - p) f'(z) (f(z) is recomputed where
 * f' needs it) */
SOMA_OP(BIAS_ACT_DROPOUT_BACKWARD, soma_cpu_bias_act_dropout_backward, SOMA_CUDA_KERNEL(k_bias_act_dropout_backward),
        soma_ref_bias_act_dropout_backward,
    .name = "bias_act_dropout_backward",
    .api = "soma_bias_act_dropout_backward",
    .n_in = 3, .n_out = 1,
    .arg = {"z", "mask", "dh", "dx"},
    .shape = {"mn", "mw", "mn", "mn"},
    .kind = {SOMA_IN_NORMAL, SOMA_IN_BITS, SOMA_IN_NORMAL},
    .alias_mask = 5u,
    .nmse_limit = LIMIT_ELEMENTWISE,
    .part = SOMA_PROFILE_DROPOUT,
    .grad_of = SOMA_OP_BIAS_ACT_DROPOUT, .grad_wrt = 0,
    .grad_src = {SOMA_FROM_FWD_OUT1, SOMA_FROM_FWD_OUT2,
                 SOMA_FROM_DOUT},
    .n_test_params = 10,
    .test_params = {BIAS_ACT_DROPOUT_PARAMS})
SOMA_OP(SUM_SQUARES, soma_cpu_sum_squares, SOMA_CUDA_KERNEL(k_sum_squares), soma_ref_sum_squares,
    .name = "sum_squares", .api = "soma_sum_squares",
    .n_in = 1, .n_out = 1, .arg = {"x", "out"}, .shape = {"mn", "11"},
    .nmse_limit = LIMIT_REDUCTION, .grad_of = -1)
SOMA_OP(ACTIVE_COLUMNS, soma_cpu_active_columns, SOMA_CUDA_KERNEL(k_active_columns),
        soma_ref_active_columns,
    .name = "active_columns", .api = "soma_active_columns",
    .n_in = 1, .n_out = 1, .arg = {"x", "flags"},
    .shape = {"mn", "1n"}, .reads_output = 1,
    .out_kind = {SOMA_IN_LABELS}, .bit_exact = 1,
    .grad_of = -1)
SOMA_OP(SGD_UPDATE, soma_cpu_sgd_update, SOMA_CUDA_KERNEL(k_sgd_update), soma_ref_sgd_update,
    .name = "sgd_update", .api = "soma_sgd_update", .n_in = 1, .n_out = 2,
    .arg = {"grad", "weight", "velocity"}, .shape = {"mn", "mn", "mn"},
    .reads_output = 1, .nmse_limit = LIMIT_ELEMENTWISE,
    .part = SOMA_PROFILE_OPTIMIZER, .grad_of = -1, .n_test_params = 3,
    .test_params = {{.lr = 0.1f, .momentum = 0.9f},
                    {.lr = 0.05f, .momentum = 0.9f, .weight_decay = 0.01f,
                     .nesterov = 1},
                    {.lr = 0.1f}})
SOMA_OP(ADAM_UPDATE, soma_cpu_adam_update, SOMA_CUDA_KERNEL(k_adam_update), soma_ref_adam_update,
    .name = "adam_update", .api = "soma_adam_update",
    .n_in = 1, .n_out = 3,
    .arg = {"grad", "weight", "m", "v"},
    .shape = {"mn", "mn", "mn", "mn"}, .reads_output = 1,
    .out_kind = {SOMA_IN_NORMAL, SOMA_IN_NORMAL, SOMA_IN_POSITIVE},
    .nmse_limit = LIMIT_ELEMENTWISE, .part = SOMA_PROFILE_OPTIMIZER,
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
                     .bias_correction2 = 100.0f}})
/* The training step's control ops (core/step_ctl.h): their scalars come
 * from a control block in device memory, so a captured step replays
 * correctly at every step of the run. Counts in the block are exact:
 * backends agree bit for bit. */
/* (src, order, ctl) -> dst[r] = src[order[clock * stride + r]] */
SOMA_OP(GATHER_ROWS, soma_cpu_gather_rows, SOMA_CUDA_KERNEL(k_gather_rows), soma_ref_gather_rows,
    .name = "gather_rows", .api = "soma_gather_rows", .n_in = 3,
    .n_out = 1, .arg = {"src", "order", "ctl", "dst"},
    .shape = {"kn", "1k", "1c", "mn"},
    .kind = {SOMA_IN_NORMAL, SOMA_IN_ROW_INDEX, SOMA_IN_STEP_CTL},
    .test_shapes = gather_test_shapes, .bit_exact = 1,
    .part = SOMA_PROFILE_DATA, .grad_of = -1)
/* schedule -> ctl: row clock of the schedule in, clock + 1, scale 1 */
SOMA_OP(STEP_BEGIN, soma_cpu_step_begin, SOMA_CUDA_KERNEL(k_step_begin), soma_ref_step_begin,
    .name = "step_begin", .api = "soma_step_begin", .n_in = 1, .n_out = 1,
    .arg = {"schedule", "ctl"}, .shape = {"ms", "1c"},
    .kind = {SOMA_IN_SCHEDULE}, .out_kind = {SOMA_IN_STEP_CTL},
    .test_shapes = step_begin_test_shapes, .reads_output = 1,
    .bit_exact = 1, .part = SOMA_PROFILE_OPTIMIZER,
    .grad_of = -1)
/* loss -> (sum += alpha loss, ctl: the step marked bad when loss is not finite) */
SOMA_OP(WATCH_LOSS, soma_cpu_watch_loss, SOMA_CUDA_KERNEL(k_watch_loss), soma_ref_watch_loss,
    .name = "watch_loss", .api = "soma_watch_loss", .n_in = 1, .n_out = 2,
    .arg = {"loss", "sum", "ctl"}, .shape = {"11", "11", "1c"},
    .out_kind = {SOMA_IN_POSITIVE, SOMA_IN_STEP_CTL}, .reads_output = 1,
    .bit_exact = 1, .nmse_limit = LIMIT_ELEMENTWISE,
    .part = SOMA_PROFILE_LOSS, .grad_of = -1, .n_test_params = 2,
    .test_params = {{.alpha = 128.0f}, {.alpha = 7.0f}})
/* parts (m x 1 sums of squares) -> ctl: scale = min(1, alpha / sqrt(sum parts)) */
SOMA_OP(CLIP_SCALE, soma_cpu_clip_scale, SOMA_CUDA_KERNEL(k_clip_scale), soma_ref_clip_scale,
    .name = "clip_scale", .api = "soma_clip_scale", .n_in = 1, .n_out = 1,
    .arg = {"parts", "ctl"}, .shape = {"m1", "1c"},
    .kind = {SOMA_IN_POSITIVE}, .out_kind = {SOMA_IN_STEP_CTL},
    .reads_output = 1, .bit_exact = 1, .nmse_limit = LIMIT_ELEMENTWISE,
    .part = SOMA_PROFILE_OPTIMIZER, .grad_of = -1, .n_test_params = 2,
    .test_params = {{.alpha = 0.5f}, {.alpha = 1e6f}})
/* (grad, ctl) -> (weight, velocity): sgd_update of scale grad at the block's lr */
SOMA_OP(SGD_STEP, soma_cpu_sgd_step, SOMA_CUDA_KERNEL(k_sgd_update), soma_ref_sgd_step,
    .name = "sgd_step", .api = "soma_sgd_step", .n_in = 2, .n_out = 2,
    .arg = {"grad", "ctl", "weight", "velocity"},
    .shape = {"mn", "1c", "mn", "mn"},
    .kind = {SOMA_IN_NORMAL, SOMA_IN_STEP_CTL}, .reads_output = 1,
    .nmse_limit = LIMIT_ELEMENTWISE, .part = SOMA_PROFILE_OPTIMIZER,
    .grad_of = -1, .n_test_params = 2,
    .test_params = {{.momentum = 0.9f, .weight_decay = 0.01f, .nesterov = 1},
                    {.momentum = 0.0f}})
/* (grad, ctl) -> (weight, m, v): adam_update of scale grad at the block's lr and
 * corrections */
SOMA_OP(ADAM_STEP, soma_cpu_adam_step, SOMA_CUDA_KERNEL(k_adam_update), soma_ref_adam_step,
    .name = "adam_step", .api = "soma_adam_step", .n_in = 2, .n_out = 3,
    .arg = {"grad", "ctl", "weight", "m", "v"},
    .shape = {"mn", "1c", "mn", "mn", "mn"},
    .kind = {SOMA_IN_NORMAL, SOMA_IN_STEP_CTL},
    .out_kind = {SOMA_IN_NORMAL, SOMA_IN_NORMAL, SOMA_IN_POSITIVE},
    .reads_output = 1, .nmse_limit = LIMIT_ELEMENTWISE,
    .part = SOMA_PROFILE_OPTIMIZER, .grad_of = -1, .n_test_params = 2,
    .test_params = {{.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                     .weight_decay = 0.01f, .decoupled = 1},
                    {.beta1 = 0.8f, .beta2 = 0.99f, .eps = 1e-6f,
                     .weight_decay = 0.01f}})
/* (x, bias, ctl) -> (h, z, mask, alive): bias_act_dropout with the Philox
 * offset + (t - 1) step_stride of the block's step t */
SOMA_OP(BIAS_ACT_DROPOUT_STEP, soma_cpu_bias_act_dropout_step, SOMA_CUDA_KERNEL(k_bias_act_dropout),
        soma_ref_bias_act_dropout_step,
    .name = "bias_act_dropout_step",
    .api = "soma_bias_act_dropout_step", .n_in = 3, .n_out = 4,
    .arg = {"x", "bias", "ctl", "h", "z", "mask", "alive"},
    .shape = {"mn", "1n", "1c", "mn", "mn", "mw", "1n"},
    .kind = {SOMA_IN_NORMAL, SOMA_IN_NORMAL, SOMA_IN_STEP_CTL},
    .out_kind = {SOMA_IN_NORMAL, SOMA_IN_NORMAL, SOMA_IN_BITS,
                 SOMA_IN_LABELS},
    .reads_output = 1, .alias_mask = 1u, .bits_out = 1u << 2,
    .nmse_limit = LIMIT_ELEMENTWISE,
    .part = SOMA_PROFILE_DROPOUT,
    .grad_of = -1,
    .n_test_params = 10,
    .test_params = {BIAS_ACT_DROPOUT_PARAMS})

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
SOMA_OP(GEMM_BIAS_RELU, soma_cpu_gemm_bias_act, SOMA_CUDA_KERNEL(soma_cuda_gemm_epilogue),
        soma_ref_gemm_bias_act,
    .name = "gemm_bias_relu", .api = "soma_op_run (gemm_bias_relu)",
    .n_in = 3, .n_out = 2,
    .arg = {"x", "w", "bias", "h", "mask"},
    .shape = {"mk", "nk", "1n", "mn", "mr"},
    .kind = {SOMA_IN_SMALL_INT, SOMA_IN_SMALL_INT, SOMA_IN_HALF_INT},
    .bits_out = 1u << 1, .nmse_limit = LIMIT_ELEMENTWISE,
    .part = SOMA_PROFILE_GEMM, .grad_of = -1)
SOMA_OP(GEMM_DRELU_BGRAD, soma_cpu_gemm_act_backward, SOMA_CUDA_KERNEL(soma_cuda_gemm_epilogue),
        soma_ref_gemm_act_backward,
    .name = "gemm_drelu_bgrad", .api = "soma_op_run (gemm_drelu_bgrad)",
    .n_in = 3, .n_out = 2,
    .arg = {"g", "w2", "mask", "dz", "db"},
    .shape = {"mk", "kn", "mr", "mn", "1n"},
    .kind = {SOMA_IN_SMALL_INT, SOMA_IN_SMALL_INT, SOMA_IN_BITS},
    .nmse_limit = LIMIT_REDUCTION, .part = SOMA_PROFILE_GEMM,
    .grad_of = -1)
SOMA_OP(GEMM_BIAS_GELU, soma_cpu_gemm_bias_act, SOMA_CUDA_KERNEL(soma_cuda_gemm_epilogue),
        soma_ref_gemm_bias_act,
    .name = "gemm_bias_gelu", .api = "soma_op_run (gemm_bias_gelu)",
    .n_in = 3, .n_out = 2,
    .arg = {"x", "w", "bias", "h", "z"},
    .shape = {"mk", "nk", "1n", "mn", "mg"},
    .kind = {SOMA_IN_SMALL_INT, SOMA_IN_SMALL_INT, SOMA_IN_HALF_INT},
    .nmse_limit = LIMIT_ELEMENTWISE, .part = SOMA_PROFILE_GEMM,
    .grad_of = -1)
SOMA_OP(GEMM_DGELU_BGRAD, soma_cpu_gemm_act_backward, SOMA_CUDA_KERNEL(soma_cuda_gemm_epilogue),
        soma_ref_gemm_act_backward,
    .name = "gemm_dgelu_bgrad", .api = "soma_op_run (gemm_dgelu_bgrad)",
    .n_in = 3, .n_out = 2,
    .arg = {"g", "w2", "z", "dz", "db"},
    .shape = {"mk", "kn", "mg", "mn", "1n"},
    .kind = {SOMA_IN_SMALL_INT, SOMA_IN_SMALL_INT, SOMA_IN_NORMAL},
    .nmse_limit = LIMIT_REDUCTION, .part = SOMA_PROFILE_GEMM,
    .grad_of = -1)

/* Normalizations (soma/ops.h gives the maths). Batchnorm reduces over the
 * m rows of each column, layernorm over the n columns of each row; both
 * keep the mean and 1/sqrt(var + eps) for the backward ("saved"). Their
 * outputs are reductions' results scaled per element: LIMIT_REDUCTION.
 * Parameters: PyTorch's defaults (momentum 0.1, eps 1e-5), and a larger
 * eps and momentum. */
SOMA_OP(BATCHNORM_FORWARD_TRAIN, soma_cpu_batchnorm_forward_train,
        SOMA_CUDA_LAUNCH(soma_cuda_batchnorm_forward_train), soma_ref_batchnorm_forward_train,
    .name = "batchnorm_forward_train", .api = "soma_batchnorm_forward_train",
    .n_in = 3, .n_out = 4,
    .arg = {"x", "gamma", "beta", "y", "saved", "running_mean", "running_var"},
    .shape = {"mn", "1n", "1n", "mn", "2n", "1n", "1n"},
    .out_kind = {SOMA_IN_NORMAL, SOMA_IN_NORMAL, SOMA_IN_NORMAL, SOMA_IN_POSITIVE},
    .reads_output = 1, /* the running statistics */
    .min_rows = 2,     /* the unbiased variance of one row is undefined */
    .check_params = check_norm_params, .nmse_limit = LIMIT_REDUCTION, .grad_of = -1,
    .n_test_params = 2,
    .test_params = {{.momentum = 0.1f, .eps = 1e-5f}, {.momentum = 0.5f, .eps = 1e-2f}})
SOMA_OP_PUBLIC(soma_batchnorm_forward_train,
               (float momentum, float eps, const soma_tensor *x, const soma_tensor *gamma,
                const soma_tensor *beta, soma_tensor *y, soma_tensor *saved,
                soma_tensor *running_mean, soma_tensor *running_var),
               .op = SOMA_OP_BATCHNORM_FORWARD_TRAIN, .in = {x, gamma, beta},
               .out = {y, saved, running_mean, running_var},
               .p = {.momentum = momentum, .eps = eps})

SOMA_OP(BATCHNORM_FORWARD_EVAL, soma_cpu_batchnorm_forward_eval,
        SOMA_CUDA_LAUNCH(soma_cuda_batchnorm_forward_eval), soma_ref_batchnorm_forward_eval,
    .name = "batchnorm_forward_eval", .api = "soma_batchnorm_forward_eval",
    .n_in = 5, .n_out = 1,
    .arg = {"x", "gamma", "beta", "running_mean", "running_var", "y"},
    .shape = {"mn", "1n", "1n", "1n", "1n", "mn"},
    .kind = {SOMA_IN_NORMAL, SOMA_IN_NORMAL, SOMA_IN_NORMAL, SOMA_IN_NORMAL, SOMA_IN_POSITIVE},
    .alias_mask = 1u, .check_params = check_norm_params, .nmse_limit = LIMIT_ELEMENTWISE,
    .grad_of = -1, .n_test_params = 2, .test_params = {{.eps = 1e-5f}, {.eps = 1e-2f}})
SOMA_OP_PUBLIC(soma_batchnorm_forward_eval,
               (float eps, const soma_tensor *x, const soma_tensor *gamma, const soma_tensor *beta,
                const soma_tensor *running_mean, const soma_tensor *running_var, soma_tensor *y),
               .op = SOMA_OP_BATCHNORM_FORWARD_EVAL,
               .in = {x, gamma, beta, running_mean, running_var}, .out = {y}, .p = {.eps = eps})

/* (x, gamma, saved, dy) -> (dx, dgamma, dbeta): output o is the gradient of
 * the forward's input o (grad_wrt 0), each checked by test_grad. The saved
 * statistics are free inputs here (mean and 1/std in [0.5, 1.5)): the
 * formula does not need them to be x's. The parameters only serve
 * test_grad's forward: eps 1e-2, because at m = 2 (the 1x1 case) a column
 * normalizes to +-1 whatever x is, and x's gradient, of order eps, would
 * drown in float noise at eps 1e-5. */
SOMA_OP(BATCHNORM_BACKWARD, soma_cpu_batchnorm_backward,
        SOMA_CUDA_LAUNCH(soma_cuda_batchnorm_backward), soma_ref_batchnorm_backward,
    .name = "batchnorm_backward", .api = "soma_batchnorm_backward", .n_in = 4, .n_out = 3,
    .arg = {"x", "gamma", "saved", "dy", "dx", "dgamma", "dbeta"},
    .shape = {"mn", "1n", "2n", "mn", "mn", "1n", "1n"},
    .kind = {SOMA_IN_NORMAL, SOMA_IN_NORMAL, SOMA_IN_POSITIVE, SOMA_IN_NORMAL},
    .nmse_limit = LIMIT_REDUCTION,
    .grad_of = SOMA_OP_BATCHNORM_FORWARD_TRAIN, .grad_wrt = 0,
    .grad_src = {SOMA_FROM_FWD_IN0, SOMA_FROM_FWD_IN1, SOMA_FROM_FWD_OUT1, SOMA_FROM_DOUT},
    .n_test_params = 1, .test_params = {{.momentum = 0.1f, .eps = 1e-2f}})
SOMA_OP_PUBLIC(soma_batchnorm_backward,
               (const soma_tensor *x, const soma_tensor *gamma, const soma_tensor *saved,
                const soma_tensor *dy, soma_tensor *dx, soma_tensor *dgamma, soma_tensor *dbeta),
               .op = SOMA_OP_BATCHNORM_BACKWARD, .in = {x, gamma, saved, dy},
               .out = {dx, dgamma, dbeta})

SOMA_OP(LAYERNORM_FORWARD, soma_cpu_layernorm_forward,
        SOMA_CUDA_LAUNCH(soma_cuda_layernorm_forward), soma_ref_layernorm_forward,
    .name = "layernorm_forward", .api = "soma_layernorm_forward", .n_in = 3, .n_out = 2,
    .arg = {"x", "gamma", "beta", "y", "saved"}, .shape = {"mn", "1n", "1n", "mn", "m2"},
    .check_params = check_norm_params, .nmse_limit = LIMIT_REDUCTION, .grad_of = -1,
    .n_test_params = 2, .test_params = {{.eps = 1e-5f}, {.eps = 1e-2f}})
SOMA_OP_PUBLIC(soma_layernorm_forward,
               (float eps, const soma_tensor *x, const soma_tensor *gamma, const soma_tensor *beta,
                soma_tensor *y, soma_tensor *saved),
               .op = SOMA_OP_LAYERNORM_FORWARD, .in = {x, gamma, beta}, .out = {y, saved},
               .p = {.eps = eps})

/* (x, gamma, saved, dy) -> (dx, dgamma, dbeta); saved free as above */
SOMA_OP(LAYERNORM_BACKWARD, soma_cpu_layernorm_backward,
        SOMA_CUDA_LAUNCH(soma_cuda_layernorm_backward), soma_ref_layernorm_backward,
    .name = "layernorm_backward", .api = "soma_layernorm_backward", .n_in = 4, .n_out = 3,
    .arg = {"x", "gamma", "saved", "dy", "dx", "dgamma", "dbeta"},
    .shape = {"mn", "1n", "m2", "mn", "mn", "1n", "1n"},
    .kind = {SOMA_IN_NORMAL, SOMA_IN_NORMAL, SOMA_IN_POSITIVE, SOMA_IN_NORMAL},
    .nmse_limit = LIMIT_REDUCTION,
    .grad_of = SOMA_OP_LAYERNORM_FORWARD, .grad_wrt = 0,
    .grad_src = {SOMA_FROM_FWD_IN0, SOMA_FROM_FWD_IN1, SOMA_FROM_FWD_OUT1, SOMA_FROM_DOUT},
    .n_test_params = 1, .test_params = {{.eps = 1e-5f}})
SOMA_OP_PUBLIC(soma_layernorm_backward,
               (const soma_tensor *x, const soma_tensor *gamma, const soma_tensor *saved,
                const soma_tensor *dy, soma_tensor *dx, soma_tensor *dgamma, soma_tensor *dbeta),
               .op = SOMA_OP_LAYERNORM_BACKWARD, .in = {x, gamma, saved, dy},
               .out = {dx, dgamma, dbeta})

/* (a, b) -> y = a + b; y may be a or b. Its gradient is the identity
 * (dy to both), so it has no backward op. */
SOMA_OP(ADD, soma_cpu_add, SOMA_CUDA_LAUNCH(soma_cuda_add), soma_ref_add,
    .name = "add", .api = "soma_add", .n_in = 2, .n_out = 1,
    .arg = {"a", "b", "y"}, .shape = {"mn", "mn", "mn"}, .alias_mask = 3u,
    .nmse_limit = LIMIT_ELEMENTWISE, .grad_of = -1)
SOMA_OP_PUBLIC(soma_add, (const soma_tensor *a, const soma_tensor *b, soma_tensor *y),
               .op = SOMA_OP_ADD, .in = {a, b}, .out = {y})

#undef SOMA_ACTIVATION_OPS
#ifdef SOMA_OP_PUBLIC_UNSET
#undef SOMA_OP_PUBLIC
#undef SOMA_OP_PUBLIC_UNSET
#endif
