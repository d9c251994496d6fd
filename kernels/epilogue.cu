/* epilogue.cu: the passes that follow a plain GEMM where cuBLASLt's fused
 * epilogues are not used (src/cuda/cuda_lt.c: the default kernels of
 * gemm_bias_relu, gemm_bias_gelu and their backward ops, and the fallback of
 * the "cublaslt" variant), writing the aux rows in cuBLASLt's layout
 * (op_list.h): ReLU mask words (bit j % 32 of word j / 32), GELU's z; the
 * padding is written 0. */
#include "kernels.h"
#include "launch_util.cuh" // SOMA_BLOCK, SOMA_GRID_STRIDE, soma_flat_blocks

#include "core/act_math.h" // soma_act_f, soma_act_df

/* One thread per mask word (row i, word w): its 32 columns of h = x w^T
 * get the bias, the mask bits of z > 0, and ReLU; words past ceil(n/32)
 * (padding) become 0. */
static __global__ void bias_relu_aux_kernel(float *h, const float *bias, uint32_t *mask, int64_t m,
                                            int64_t n, int64_t words) {
    SOMA_GRID_STRIDE(e, m * words) {
        int64_t i = e / words, w = e % words;
        uint32_t bits = 0;
        for (int64_t j = 32 * w; j < n && j < 32 * w + 32; j++) {
            float z = h[i * n + j] + bias[j];
            if (z > 0.0f) bits |= 1u << (j % 32);
            h[i * n + j] = z > 0.0f ? z : 0.0f;
        }
        mask[e] = bits;
    }
}

/* One thread per aux element (row i, column c): z = h + bias into aux,
 * h = gelu_tanh(z); columns from n on (padding) become 0. */
static __global__ void bias_gelu_aux_kernel(float *h, const float *bias, float *aux, int64_t m,
                                            int64_t n, int64_t aux_cols) {
    SOMA_GRID_STRIDE(e, m * aux_cols) {
        int64_t i = e / aux_cols, c = e % aux_cols;
        if (c < n) {
            float z = h[i * n + c] + bias[c];
            aux[e] = z;
            h[i * n + c] = soma_act_f(SOMA_ACT_GELU_TANH, z, 0.0f);
        } else {
            aux[e] = 0.0f;
        }
    }
}

/* dz[i,j] *= f'(z[i,j]), f' from the mask bit or from z in aux */
static __global__ void act_aux_backward_kernel(int relu, float *dz, const float *aux, int64_t m,
                                               int64_t n, int64_t aux_cols) {
    SOMA_GRID_STRIDE(e, m * n) {
        int64_t i = e / n, j = e % n;
        const float *row = aux + i * aux_cols;
        if (relu) {
            uint32_t word = ((const uint32_t *)row)[j / 32];
            dz[e] = (word >> (j % 32)) & 1u ? dz[e] : 0.0f;
        } else {
            dz[e] *= soma_act_df(SOMA_ACT_GELU_TANH, row[j], 0.0f, 0.0f);
        }
    }
}

extern "C" cudaError_t soma_cuda_bias_act_aux(int relu, float *h, const float *bias, float *aux,
                                              int64_t m, int64_t n, int64_t aux_cols,
                                              cudaStream_t stream) {
    if (relu)
        SOMA_LAUNCH(bias_relu_aux_kernel, soma_flat_blocks(m * aux_cols), SOMA_BLOCK, 0, stream, h,
                    bias, (uint32_t *)aux, m, n, aux_cols);
    else
        SOMA_LAUNCH(bias_gelu_aux_kernel, soma_flat_blocks(m * aux_cols), SOMA_BLOCK, 0, stream, h,
                    bias, aux, m, n, aux_cols);
    return cudaGetLastError();
}

extern "C" cudaError_t soma_cuda_act_aux_backward(int relu, float *dz, const float *aux, int64_t m,
                                                  int64_t n, int64_t aux_cols, cudaStream_t stream) {
    SOMA_LAUNCH(act_aux_backward_kernel, soma_flat_blocks(m * n), SOMA_BLOCK, 0, stream, relu, dz,
                aux, m, n, aux_cols);
    return cudaGetLastError();
}
