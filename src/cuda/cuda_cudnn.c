/* cuda_cudnn.c: the "cudnn" variant of softmax, log_softmax and their
 * backward ops, through cudnnSoftmaxForward/Backward (built only when cuDNN
 * is found; cudnn_absent.c stands in otherwise).
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
static soma_status cudnn_handle(soma_cuda_ctx *ctx, const char *where, cudnnHandle_t *out) {
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
    if (ctx->cudnn) (void)cudnnDestroy((cudnnHandle_t)ctx->cudnn);
    ctx->cudnn = NULL;
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
    if (m > INT_MAX || n > INT_MAX || m * n > INT_MAX)
        return soma_fail(SOMA_ERR_UNSUPPORTED,
                         "cuda:%d %s (cudnn): %lldx%lld is beyond cuDNN's 32-bit tensor sizes",
                         ctx->ordinal, where, (long long)m, (long long)n);
    SOMA_TRY(soma_cuda_enter(ctx, where));
    cudnnHandle_t handle;
    SOMA_TRY(cudnn_handle(ctx, where, &handle));

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
    {SOMA_OP_COUNT, NULL, NULL},
};
