/* cuda_cudnn.c: the "cudnn" variant of softmax, log_softmax and their
 * backward ops, through cudnnSoftmaxForward/Backward, and of batchnorm's
 * three ops, through cuDNN's batch-normalization calls (built only when
 * cuDNN is found; cudnn_absent.c stands in otherwise).
 *
 * An m x n row-major matrix is an NCHW tensor of m images with n channels of
 * 1 x 1 pixels: CUDNN_SOFTMAX_MODE_INSTANCE normalises over C*H*W = n per
 * image, i.e. per row. CUDNN_SOFTMAX_ACCURATE subtracts the row maximum (the
 * stable form in ops.h); CUDNN_SOFTMAX_LOG gives log_softmax, and its
 * backward dx = dy - exp(y) sum(dy), as ops.h asks. */
#include <limits.h>

#include <cudnn.h>

#include "cuda/cuda_internal.h" /* after cudnn.h, for soma_cudnn_check */

/* The context's cuDNN handle, created on first use: cudnnCreate loads
 * cuDNN's sub-libraries, a cost that programs never asking for this variant
 * should not pay in soma_device_open. */
soma_status soma_cudnn_handle(soma_cuda_ctx *ctx, const char *where, cudnnHandle_t *out) {
    if (!ctx->cudnn) {
        cudnnHandle_t handle;
        SOMA_TRY(soma_cudnn_check(ctx->ordinal, cudnnCreate(&handle), where, "cudnnCreate"));
        soma_status st = soma_cudnn_check(ctx->ordinal, cudnnSetStream(handle, ctx->stream),
                                          where, "cudnnSetStream");
        if (st != SOMA_OK) {
            (void)cudnnDestroy(handle);
            return st;
        }
        ctx->cudnn = handle;
    }
    *out = ctx->cudnn;
    return SOMA_OK;
}

void soma_cuda_cudnn_destroy(soma_cuda_ctx *ctx) {
    soma_cudnn_plans_destroy(ctx); /* the plans name the handle: they go first */
    if (ctx->cudnn) (void)cudnnDestroy((cudnnHandle_t)ctx->cudnn);
    ctx->cudnn = NULL;
}

/* cuDNN's tensor descriptors take int sizes: an m x n operand must fit them
 * (larger ones are left to soma's kernels). */
static soma_status cudnn_sizes_fit(const soma_cuda_ctx *ctx, const char *where, int64_t m, int64_t n) {
    if (m > INT_MAX || n > INT_MAX || m * n > INT_MAX)
        return soma_fail(SOMA_ERR_UNSUPPORTED,
                         "cuda:%d %s (cudnn): %lldx%lld is beyond cuDNN's 32-bit tensor sizes",
                         ctx->ordinal, where, (long long)m, (long long)n);
    return SOMA_OK;
}

/* Queues the op, all of whose tensors are described by `desc`. */
static cudnnStatus_t cudnn_run(cudnnHandle_t handle, cudnnTensorDescriptor_t desc,
                               const soma_op_call *call) {
    const float one = 1.0f, zero = 0.0f; /* out = 1 * result + 0 * out: out is not read */
    const cudnnSoftmaxMode_t mode = CUDNN_SOFTMAX_MODE_INSTANCE;
    const int take_log =
        call->op == SOMA_OP_LOG_SOFTMAX || call->op == SOMA_OP_LOG_SOFTMAX_BACKWARD;
    const cudnnSoftmaxAlgorithm_t algo = take_log ? CUDNN_SOFTMAX_LOG : CUDNN_SOFTMAX_ACCURATE;
    if (call->op == SOMA_OP_SOFTMAX || call->op == SOMA_OP_LOG_SOFTMAX) /* x -> y */
        return cudnnSoftmaxForward(handle, algo, mode, &one, desc, call->in[0]->data, &zero, desc,
                                   call->out[0]->data);
    /* (y, dy) -> dx */
    return cudnnSoftmaxBackward(handle, algo, mode, &one, desc, call->in[0]->data, desc,
                                call->in[1]->data, &zero, desc, call->out[0]->data);
}

static soma_status cudnn_softmax(void *vctx, const soma_op_call *call) {
    soma_cuda_ctx *ctx = vctx;
    const char *where = soma_cuda_op_name(call);
    int64_t m = call->in[0]->rows, n = call->in[0]->cols;
    SOMA_TRY(cudnn_sizes_fit(ctx, where, m, n));
    SOMA_TRY(soma_cuda_enter(ctx, where));
    cudnnHandle_t handle;
    SOMA_TRY(soma_cudnn_handle(ctx, where, &handle));

    cudnnTensorDescriptor_t desc;
    SOMA_TRY(soma_cudnn_check(ctx->ordinal, cudnnCreateTensorDescriptor(&desc), where,
                              "cudnnCreateTensorDescriptor"));
    soma_status st = soma_cudnn_check(
        ctx->ordinal,
        cudnnSetTensor4dDescriptor(desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)m, (int)n, 1, 1),
        where, "cudnnSetTensor4dDescriptor");
    if (st == SOMA_OK) {
        const char *what = call->op == SOMA_OP_SOFTMAX || call->op == SOMA_OP_LOG_SOFTMAX
                               ? "cudnnSoftmaxForward"
                               : "cudnnSoftmaxBackward";
        st = soma_cudnn_check(ctx->ordinal, cudnn_run(handle, desc, call), where, what);
    }
    (void)cudnnDestroyTensorDescriptor(desc);
    return st;
}

/* ---- batchnorm ------------------------------------------------------------
 * cuDNN 9 keeps cudnnBatchNormalizationForwardTraining, ForwardInference and
 * Backward in its legacy ops library (deprecated, not removed; they link and
 * their declarations are unchanged). The m x n matrix is again m images of n
 * channels of 1 x 1 pixels, and CUDNN_BATCHNORM_PER_ACTIVATION normalizes
 * each of the C*H*W = n activations over the N = m images: per column, as
 * soma's batchnorm. gamma, beta and the statistics are 1 x n x 1 x 1. cuDNN's
 * semantics match soma/ops.h: the running variance is updated with the
 * unbiased batch variance, runningMean = factor newMean + (1 - factor)
 * runningMean with factor = momentum, and "resultSaveInvVariance" holds
 * 1/sqrt(var + eps), soma's saved row 1 (so saved's two rows are cuDNN's two
 * save buffers). Layer normalization has no legacy call: cuDNN offers it
 * only through the graph API, used in cuda_cudnn_norm.c. */
static cudnnStatus_t cudnn_batchnorm_run(cudnnHandle_t handle, cudnnTensorDescriptor_t data,
                                         cudnnTensorDescriptor_t param, const soma_op_call *call) {
    const float one = 1.0f, zero = 0.0f; /* out = 1 * result + 0 * out: out is not read */
    const cudnnBatchNormMode_t mode = CUDNN_BATCHNORM_PER_ACTIVATION;
    const int64_t n = call->in[0]->cols;
    const float *x = call->in[0]->data, *gamma = call->in[1]->data;
    if (call->op == SOMA_OP_BATCHNORM_FORWARD_TRAIN) { /* (x, gamma, beta) -> (y, saved, rmean, rvar) */
        float *saved = call->out[1]->data;
        return cudnnBatchNormalizationForwardTraining(
            handle, mode, &one, &zero, data, x, data, call->out[0]->data, param, gamma,
            call->in[2]->data, (double)call->p.momentum, call->out[2]->data, call->out[3]->data,
            (double)call->p.eps, saved, saved + n);
    }
    if (call->op == SOMA_OP_BATCHNORM_FORWARD_EVAL) /* (x, gamma, beta, rmean, rvar) -> y */
        return cudnnBatchNormalizationForwardInference(
            handle, mode, &one, &zero, data, x, data, call->out[0]->data, param, gamma,
            call->in[2]->data, call->in[3]->data, call->in[4]->data, (double)call->p.eps);
    /* (x, gamma, saved, dy) -> (dx, dgamma, dbeta); with the saved statistics
     * given, cuDNN uses them and not eps (soma's backward has none: 0) */
    const float *saved = call->in[2]->data;
    return cudnnBatchNormalizationBackward(handle, mode, &one, &zero, &one, &zero, data, x, data,
                                           call->in[3]->data, data, call->out[0]->data, param,
                                           gamma, call->out[1]->data, call->out[2]->data,
                                           (double)call->p.eps, saved, saved + n);
}

static soma_status set_nchw(int ordinal, cudnnTensorDescriptor_t *desc, int64_t n, int64_t c,
                            const char *where) {
    SOMA_TRY(soma_cudnn_check(ordinal, cudnnCreateTensorDescriptor(desc), where,
                              "cudnnCreateTensorDescriptor"));
    return soma_cudnn_check(ordinal,
                            cudnnSetTensor4dDescriptor(*desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT,
                                                       (int)n, (int)c, 1, 1),
                            where, "cudnnSetTensor4dDescriptor");
}

static soma_status cudnn_batchnorm(void *vctx, const soma_op_call *call) {
    soma_cuda_ctx *ctx = vctx;
    const char *where = soma_cuda_op_name(call);
    int64_t m = call->in[0]->rows, n = call->in[0]->cols;
    SOMA_TRY(cudnn_sizes_fit(ctx, where, m, n));
    if (call->out[0]->data == call->in[0]->data) /* the op allows y = x; cuDNN does not say */
        return soma_fail(SOMA_ERR_UNSUPPORTED,
                         "cuda:%d %s (cudnn): y in place on x is left to the default kernel",
                         ctx->ordinal, where);
    SOMA_TRY(soma_cuda_enter(ctx, where));
    cudnnHandle_t handle;
    SOMA_TRY(soma_cudnn_handle(ctx, where, &handle));
    cudnnTensorDescriptor_t data = NULL, param = NULL;
    soma_status st = set_nchw(ctx->ordinal, &data, m, n, where);
    if (st == SOMA_OK) st = set_nchw(ctx->ordinal, &param, 1, n, where);
    if (st == SOMA_OK) {
        const char *what = call->op == SOMA_OP_BATCHNORM_FORWARD_TRAIN
                               ? "cudnnBatchNormalizationForwardTraining"
                           : call->op == SOMA_OP_BATCHNORM_FORWARD_EVAL
                               ? "cudnnBatchNormalizationForwardInference"
                               : "cudnnBatchNormalizationBackward";
        st = soma_cudnn_check(ctx->ordinal, cudnn_batchnorm_run(handle, data, param, call), where,
                              what);
    }
    (void)cudnnDestroyTensorDescriptor(data);
    (void)cudnnDestroyTensorDescriptor(param);
    return st;
}

const soma_op_variant soma_cuda_variants[] = {
    {SOMA_OP_GEMM, "cublaslt", soma_cuda_gemm_lt},
    {SOMA_OP_GEMM_BIAS_RELU, "cublaslt", soma_cuda_gemm_epilogue_lt},
    {SOMA_OP_GEMM_DRELU_BGRAD, "cublaslt", soma_cuda_gemm_epilogue_lt},
    {SOMA_OP_GEMM_BIAS_GELU, "cublaslt", soma_cuda_gemm_epilogue_lt},
    {SOMA_OP_GEMM_DGELU_BGRAD, "cublaslt", soma_cuda_gemm_epilogue_lt},
    {SOMA_OP_SOFTMAX, "cudnn", cudnn_softmax},
    {SOMA_OP_SOFTMAX_BACKWARD, "cudnn", cudnn_softmax},
    {SOMA_OP_LOG_SOFTMAX, "cudnn", cudnn_softmax},
    {SOMA_OP_LOG_SOFTMAX_BACKWARD, "cudnn", cudnn_softmax},
    {SOMA_OP_BATCHNORM_FORWARD_TRAIN, "cudnn", cudnn_batchnorm},
    {SOMA_OP_BATCHNORM_FORWARD_EVAL, "cudnn", cudnn_batchnorm},
    {SOMA_OP_BATCHNORM_BACKWARD, "cudnn", cudnn_batchnorm},
    {SOMA_OP_LAYERNORM_FORWARD, "cudnn", soma_cudnn_layernorm},
    {SOMA_OP_LAYERNORM_BACKWARD, "cudnn", soma_cudnn_layernorm},
    {SOMA_OP_COUNT, NULL, NULL},
};
