/* cpu_backend.c: the CPU backend's table. Memory is plain aligned host memory
 * and ops run synchronously, so synchronize has nothing to wait for. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/error.h"
#include "core/host_memory.h"
#include "cpu/cpu_gemm.h"
#include "cpu/cpu_internal.h"
#include "cpu/cpu_round.h"

#define CPU_ALIGNMENT 64 /* a cache line, and an AVX-512 vector */

static int cpu_device_count(const char **reason) {
    (void)reason;
    return 1;
}

static int cpu_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static soma_status cpu_init(int ordinal, void **ctx, char *desc, size_t desc_size) {
    (void)ordinal;
    *ctx = NULL;
    const char *blas = soma_cpu_blas_description();
    snprintf(desc, desc_size, "cpu (%d thread%s, %s)", cpu_threads(), cpu_threads() == 1 ? "" : "s",
             blas ? blas : "own GEMM, no OpenBLAS");
    return SOMA_OK;
}

static void cpu_shutdown(void *ctx) { (void)ctx; }

static soma_status cpu_alloc(void *ctx, size_t bytes, void **ptr) {
    (void)ctx;
    size_t rounded = (bytes + CPU_ALIGNMENT - 1) / CPU_ALIGNMENT * CPU_ALIGNMENT;
    *ptr = aligned_alloc(CPU_ALIGNMENT, rounded ? rounded : CPU_ALIGNMENT);
    if (!*ptr) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "cpu: cannot allocate %zu bytes", bytes);
    /* touched now, so that what the process uses counts it: the next memory
     * check (cpu_check_memory) then sees it, as the kernel will */
    memset(*ptr, 0, rounded ? rounded : CPU_ALIGNMENT);
    return SOMA_OK;
}

/* A CPU device's memory is the process's: the host's limits apply. */
static soma_status cpu_check_memory(void *ctx, const char *api, const char *what, uint64_t bytes) {
    (void)ctx;
    return soma_host_memory_check(api, what, bytes);
}

static void cpu_free(void *ctx, void *ptr) {
    (void)ctx;
    free(ptr);
}

static soma_status cpu_memcpy(void *ctx, void *dst, const void *src, size_t bytes) {
    (void)ctx;
    memmove(dst, src, bytes);
    return SOMA_OK;
}

static soma_status cpu_synchronize(void *ctx) {
    (void)ctx;
    return SOMA_OK;
}

#define ACTIVATION(ID)                                                                         \
    [SOMA_OP_##ID] = soma_cpu_activation_forward,                                              \
    [SOMA_OP_##ID##_BACKWARD] = soma_cpu_activation_backward

/* The GEMM's packing buffers and rounded operands of the calling thread. */
static void cpu_release_caches(void) {
    soma_cpu_gemm_release();
    soma_cpu_round_release();
}

const soma_backend soma_cpu_backend = {
    .name = "cpu",
    .kind = SOMA_DEVICE_CPU,
    .device_count = cpu_device_count,
    .init = cpu_init,
    .shutdown = cpu_shutdown,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_memcpy,
    .download = cpu_memcpy,
    .copy = cpu_memcpy,
    .synchronize = cpu_synchronize,
    .release_caches = cpu_release_caches,
    .check_memory = cpu_check_memory,
    .kernel = {
        [SOMA_OP_GEMM_BIAS_RELU] = soma_cpu_gemm_bias_act,
        [SOMA_OP_GEMM_BIAS_GELU] = soma_cpu_gemm_bias_act,
        [SOMA_OP_GEMM_DRELU_BGRAD] = soma_cpu_gemm_act_backward,
        [SOMA_OP_GEMM_DGELU_BGRAD] = soma_cpu_gemm_act_backward,
        [SOMA_OP_GEMM] = soma_cpu_gemm,
        [SOMA_OP_BIAS_ADD] = soma_cpu_bias_add,
        [SOMA_OP_BIAS_GRAD] = soma_cpu_bias_grad,
        [SOMA_OP_BIAS_ACT] = soma_cpu_bias_act,
        ACTIVATION(IDENTITY), ACTIVATION(RELU), ACTIVATION(LEAKY_RELU), ACTIVATION(SIGMOID),
        ACTIVATION(TANH), ACTIVATION(GELU_ERF), ACTIVATION(GELU_TANH), ACTIVATION(SILU),
        [SOMA_OP_SOFTMAX] = soma_cpu_softmax,
        [SOMA_OP_SOFTMAX_BACKWARD] = soma_cpu_softmax_backward,
        [SOMA_OP_LOG_SOFTMAX] = soma_cpu_log_softmax,
        [SOMA_OP_LOG_SOFTMAX_BACKWARD] = soma_cpu_log_softmax_backward,
        [SOMA_OP_MSE_LOSS] = soma_cpu_mse_loss,
        [SOMA_OP_MSE_BACKWARD] = soma_cpu_mse_backward,
        [SOMA_OP_BCE_LOGITS_LOSS] = soma_cpu_bce_logits_loss,
        [SOMA_OP_BCE_LOGITS_BACKWARD] = soma_cpu_bce_logits_backward,
        [SOMA_OP_SOFTMAX_XENT_LOSS] = soma_cpu_softmax_xent_loss,
        [SOMA_OP_SOFTMAX_XENT_BACKWARD] = soma_cpu_softmax_xent_backward,
        [SOMA_OP_SCALE] = soma_cpu_scale,
        [SOMA_OP_AXPY] = soma_cpu_axpy,
        [SOMA_OP_SUM] = soma_cpu_sum,
        [SOMA_OP_MEAN] = soma_cpu_mean,
        [SOMA_OP_ROW_ARGMAX] = soma_cpu_row_argmax,
        [SOMA_OP_CORRECT_COUNT] = soma_cpu_correct_count,
        [SOMA_OP_FILL] = soma_cpu_fill,
        [SOMA_OP_FILL_UNIFORM] = soma_cpu_fill_uniform,
        [SOMA_OP_FILL_NORMAL] = soma_cpu_fill_normal,
        [SOMA_OP_DROPOUT] = soma_cpu_dropout,
        [SOMA_OP_DROPOUT_BACKWARD] = soma_cpu_dropout,
        [SOMA_OP_BIAS_ACT_DROPOUT] = soma_cpu_bias_act_dropout,
        [SOMA_OP_BIAS_ACT_DROPOUT_BACKWARD] = soma_cpu_bias_act_dropout_backward,
        [SOMA_OP_SUM_SQUARES] = soma_cpu_sum_squares,
        [SOMA_OP_ACTIVE_COLUMNS] = soma_cpu_active_columns,
        [SOMA_OP_SGD_UPDATE] = soma_cpu_sgd_update,
        [SOMA_OP_ADAM_UPDATE] = soma_cpu_adam_update,
        [SOMA_OP_GATHER_ROWS] = soma_cpu_gather_rows,
        [SOMA_OP_STEP_BEGIN] = soma_cpu_step_begin,
        [SOMA_OP_WATCH_LOSS] = soma_cpu_watch_loss,
        [SOMA_OP_CLIP_SCALE] = soma_cpu_clip_scale,
        [SOMA_OP_SGD_STEP] = soma_cpu_sgd_step,
        [SOMA_OP_ADAM_STEP] = soma_cpu_adam_step,
        [SOMA_OP_BIAS_ACT_DROPOUT_STEP] = soma_cpu_bias_act_dropout_step,
        [SOMA_OP_BATCHNORM_FORWARD_TRAIN] = soma_cpu_batchnorm_forward_train,
        [SOMA_OP_BATCHNORM_FORWARD_EVAL] = soma_cpu_batchnorm_forward_eval,
        [SOMA_OP_BATCHNORM_BACKWARD] = soma_cpu_batchnorm_backward,
        [SOMA_OP_LAYERNORM_FORWARD] = soma_cpu_layernorm_forward,
        [SOMA_OP_LAYERNORM_BACKWARD] = soma_cpu_layernorm_backward,
        [SOMA_OP_ADD] = soma_cpu_add,
    },
    .variants = soma_cpu_variants,
};
