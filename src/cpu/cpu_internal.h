/* cpu_internal.h: the CPU backend's kernels, one file per concept:
 *   cpu_elementwise.c  activations, bias add, bias + activation, scale, axpy, fill
 *   cpu_random.c       Philox uniform and normal fills
 *   cpu_dropout.c      dropout, and the hidden layer's fused bias + activation
 *                      + dropout pass with its backward (cpu_philox.h draws)
 *   cpu_optim.c        SGD and Adam updates (scalars from the call or a step control block)
 *   cpu_step.c         the training step's control ops: gather, schedule, loss watch, clipping
 *   cpu_softmax.c      softmax and log-softmax, forward and backward
 *   cpu_loss.c         MSE, BCE on logits, softmax cross-entropy
 *   cpu_reduce.c       sum, mean, sum of squares, bias gradient, row argmax,
 *                      correct count, active columns
 *   cpu_norm.c         batchnorm, layernorm (forward, backward), the residual add
 *   cpu_gemm_op.c      GEMM: OpenBLAS or the blocked kernel of cpu_gemm.c
 *   cpu_parallel.c     threads and the denormal mode of the loops above
 * Each has the signature of soma_op_kernel; the op layer has checked shapes.
 * cpu_backend.c declares every op's kernel from core/op_list.h; the ones
 * below are those other files call (or older ops, declared before the list). */
#ifndef SOMA_CPU_INTERNAL_H
#define SOMA_CPU_INTERNAL_H

#include "core/backend.h"

#define CPU_KERNEL(name) soma_status name(void *ctx, const soma_op_call *call)

/* Expands the body once per activation, with ACT that activation as a
 * constant, so that soma_act_f's switch folds away inside each loop. */
#define ACT_CASE(NAME, ...)                                                                     \
    case NAME: {                                                                                \
        const soma_activation ACT = NAME;                                                       \
        __VA_ARGS__;                                                                            \
        break;                                                                                  \
    }
#define FOR_EACH_ACTIVATION(act, ...)                                                           \
    switch (act) {                                                                              \
        ACT_CASE(SOMA_ACT_RELU, __VA_ARGS__)                                                    \
        ACT_CASE(SOMA_ACT_LEAKY_RELU, __VA_ARGS__)                                              \
        ACT_CASE(SOMA_ACT_SIGMOID, __VA_ARGS__)                                                 \
        ACT_CASE(SOMA_ACT_TANH, __VA_ARGS__)                                                    \
        ACT_CASE(SOMA_ACT_GELU_ERF, __VA_ARGS__)                                                \
        ACT_CASE(SOMA_ACT_GELU_TANH, __VA_ARGS__)                                               \
        ACT_CASE(SOMA_ACT_SILU, __VA_ARGS__)                                                    \
    default: {                                                                                  \
        const soma_activation ACT = SOMA_ACT_IDENTITY;                                          \
        __VA_ARGS__;                                                                            \
    }                                                                                           \
    }

CPU_KERNEL(soma_cpu_activation_forward);
CPU_KERNEL(soma_cpu_activation_backward);
CPU_KERNEL(soma_cpu_bias_add);
CPU_KERNEL(soma_cpu_bias_act);
CPU_KERNEL(soma_cpu_scale);
CPU_KERNEL(soma_cpu_axpy);
CPU_KERNEL(soma_cpu_fill);
CPU_KERNEL(soma_cpu_fill_uniform);
CPU_KERNEL(soma_cpu_fill_normal);
CPU_KERNEL(soma_cpu_softmax);
CPU_KERNEL(soma_cpu_log_softmax);
CPU_KERNEL(soma_cpu_softmax_backward);
CPU_KERNEL(soma_cpu_log_softmax_backward);
CPU_KERNEL(soma_cpu_mse_loss);
CPU_KERNEL(soma_cpu_mse_backward);
CPU_KERNEL(soma_cpu_bce_logits_loss);
CPU_KERNEL(soma_cpu_bce_logits_backward);
CPU_KERNEL(soma_cpu_softmax_xent_loss);
CPU_KERNEL(soma_cpu_softmax_xent_backward);
CPU_KERNEL(soma_cpu_sum);
CPU_KERNEL(soma_cpu_mean);
CPU_KERNEL(soma_cpu_bias_grad);
CPU_KERNEL(soma_cpu_row_argmax);
CPU_KERNEL(soma_cpu_correct_count);
CPU_KERNEL(soma_cpu_dropout);
CPU_KERNEL(soma_cpu_bias_act_dropout);
CPU_KERNEL(soma_cpu_bias_act_dropout_backward);
CPU_KERNEL(soma_cpu_sum_squares);
CPU_KERNEL(soma_cpu_active_columns);
CPU_KERNEL(soma_cpu_sgd_update);
CPU_KERNEL(soma_cpu_adam_update);
CPU_KERNEL(soma_cpu_sgd_step);
CPU_KERNEL(soma_cpu_adam_step);
CPU_KERNEL(soma_cpu_bias_act_dropout_step);
/* cpu_step.c: the training step's control ops (core/step_ctl.h) */
CPU_KERNEL(soma_cpu_gather_rows);
CPU_KERNEL(soma_cpu_step_begin);
CPU_KERNEL(soma_cpu_watch_loss);
CPU_KERNEL(soma_cpu_clip_scale);
CPU_KERNEL(soma_cpu_gemm);         /* OpenBLAS when present, else blocked */
CPU_KERNEL(soma_cpu_gemm_bias_act);     /* cpu_gemm_epilogue.c: gemm_bias_relu, gemm_bias_gelu */
CPU_KERNEL(soma_cpu_gemm_act_backward); /* gemm_drelu_bgrad, gemm_dgelu_bgrad */
CPU_KERNEL(soma_cpu_gemm_blocked_op);

/* max_j x[j] and log sum_j exp(x[j] - max) of one row of n (cpu_softmax.c).
 * Kept apart rather than added up, so that log-softmax and cross-entropy
 * stay exact when the logits are large (1000 + 0.4 loses digits in float). */
void soma_cpu_row_stats(const float *x, int64_t n, float *max_out, float *log_sum_out);

/* OpenBLAS, when soma is built with it (cpu_blas.c), else absent
 * (cpu_blas_absent.c): sgemm, a description for humans, and the backend's
 * variant list (the blocked GEMM, and OpenBLAS's when present). */
extern const soma_op_variant soma_cpu_variants[];
const char *soma_cpu_blas_description(void); /* "OpenBLAS 0.3.21 ..." or NULL */
/* 1 when OpenBLAS is present and runs its AVX-512 kernels (SkylakeX and
 * later), the only case where it beats soma's own GEMM on some shapes. */
int soma_cpu_blas_has_avx512_kernels(void);
/* Returns 0 (and does nothing) when soma is built without OpenBLAS. */
int soma_cpu_blas_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                        const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                        float *c, int64_t ldc);
CPU_KERNEL(soma_cpu_gemm_openblas_op);

#endif
