/* round.cu: GEMM operands rounded to TF32 or bfloat16 before a reduced-
 * precision GEMM (src/cuda/cuda_gemm.c), with the CPU's rounding
 * (core/precision.h: to nearest, ties to even), so a GPU multiplies the very
 * operands the CPU reference multiplies, whatever conversion the tensor
 * cores would apply on their own. One thread per element, grid-stride. */
#include "kernels.h"
#include "launch_util.cuh" // SOMA_BLOCK, SOMA_GRID_STRIDE, soma_flat_blocks

#include "core/precision.h" // soma_round_tf32, soma_round_bf16_bits

/* y[i] = x[i] with its 13 low mantissa bits rounded off (still float32) */
static __global__ void round_tf32_kernel(const float *x, float *y, int64_t count) {
    SOMA_GRID_STRIDE(i, count) y[i] = soma_round_tf32(x[i]);
}

/* y[i] = bfloat16(x[i]), the bit pattern of CUDA_R_16BF */
static __global__ void round_bf16_kernel(const float *x, uint16_t *y, int64_t count) {
    SOMA_GRID_STRIDE(i, count) y[i] = soma_round_bf16_bits(x[i]);
}

extern "C" cudaError_t soma_cuda_round_tf32(const float *x, float *y, int64_t count,
                                            cudaStream_t stream) {
    SOMA_LAUNCH(round_tf32_kernel, soma_flat_blocks(count), SOMA_BLOCK, 0, stream, x, y, count);
    return cudaGetLastError();
}

extern "C" cudaError_t soma_cuda_round_bf16(const float *x, uint16_t *y, int64_t count,
                                            cudaStream_t stream) {
    SOMA_LAUNCH(round_bf16_kernel, soma_flat_blocks(count), SOMA_BLOCK, 0, stream, x, y, count);
    return cudaGetLastError();
}
