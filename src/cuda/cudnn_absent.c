/* cudnn_absent.c: stands in for cuda_cudnn.c when soma is built with CUDA
 * but without cuDNN: the same symbols, and no "cudnn" variants. */
#include "cuda/cuda_internal.h"

const soma_op_variant soma_cuda_variants[] = {
    {SOMA_OP_GEMM, "cublaslt", soma_cuda_gemm_lt},
    {SOMA_OP_GEMM_BIAS_RELU, "cublaslt", soma_cuda_gemm_epilogue_lt},
    {SOMA_OP_GEMM_DRELU_BGRAD, "cublaslt", soma_cuda_gemm_epilogue_lt},
    {SOMA_OP_GEMM_BIAS_GELU, "cublaslt", soma_cuda_gemm_epilogue_lt},
    {SOMA_OP_GEMM_DGELU_BGRAD, "cublaslt", soma_cuda_gemm_epilogue_lt},
    {SOMA_OP_COUNT, NULL, NULL},
};

void soma_cuda_cudnn_destroy(soma_cuda_ctx *ctx) { (void)ctx; /* no handle is ever made */ }
