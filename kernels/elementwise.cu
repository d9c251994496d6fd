/* elementwise.cu: activations forward/backward, bias add, bias + activation,
 * scale, axpy, fill.
 *
 * All are one thread per element in a grid-stride loop (launch_util.cuh):
 * flat 256-thread blocks, coalesced loads, any count. Each thread reads its
 * inputs at index i before writing index i, so an output may alias an input
 * (in-place use). */
#include "kernels.h"
#include "launch_util.cuh" // SOMA_BLOCK, SOMA_GRID_STRIDE, soma_flat_blocks

#include "core/act_math.h" // soma_act_f, soma_act_df: the one switch, shared with the CPU

/* y[i] = f(x[i]); the switch on `act` is uniform across the grid, so it
 * costs no divergence. */
static __global__ void act_forward_kernel(soma_activation act, float param, const float *x,
                                          float *y, int64_t count) {
    SOMA_GRID_STRIDE(i, count) y[i] = soma_act_f(act, x[i], param);
}

/* dx[i] = dy[i] * f'(x[i]), with y[i] = f(x[i]) */
static __global__ void act_backward_kernel(soma_activation act, float param, const float *x,
                                           const float *y, const float *dy, float *dx,
                                           int64_t count) {
    SOMA_GRID_STRIDE(i, count) dx[i] = dy[i] * soma_act_df(act, x[i], y[i], param);
}

/* y[i,j] = x[i,j] + bias[j]: flat over the m x n elements, column j = e % n
 * (a 64-bit modulo, cheap next to the memory traffic). */
static __global__ void bias_add_kernel(const float *x, const float *bias, float *y,
                                       int64_t count, int64_t n) {
    SOMA_GRID_STRIDE(e, count) y[e] = x[e] + bias[e % n];
}

/* z[i,j] = x[i,j] + bias[j], a[i,j] = f(z[i,j]): bias_add_kernel and
 * act_forward_kernel in one pass (z may alias x: element e is read before
 * it is written). */
static __global__ void bias_act_kernel(soma_activation act, float param, const float *x,
                                       const float *bias, float *z, float *a, int64_t count,
                                       int64_t n) {
    SOMA_GRID_STRIDE(e, count) {
        float ze = x[e] + bias[e % n];
        z[e] = ze;
        a[e] = soma_act_f(act, ze, param);
    }
}

/* y[i] = alpha x[i] */
static __global__ void scale_kernel(float alpha, const float *x, float *y, int64_t count) {
    SOMA_GRID_STRIDE(i, count) y[i] = alpha * x[i];
}

/* y[i] = y[i] + alpha x[i] */
static __global__ void axpy_kernel(float alpha, const float *x, float *y, int64_t count) {
    SOMA_GRID_STRIDE(i, count) y[i] += alpha * x[i];
}

/* y[i] = value */
static __global__ void fill_kernel(float value, float *y, int64_t count) {
    SOMA_GRID_STRIDE(i, count) y[i] = value;
}

extern "C" cudaError_t soma_cuda_act_forward(int act, float param, const float *x, float *y,
                                             int64_t count, cudaStream_t stream) {
    SOMA_LAUNCH(act_forward_kernel, soma_flat_blocks(count), SOMA_BLOCK, 0, stream,
                (soma_activation)act, param, x, y, count);
    return cudaGetLastError();
}

extern "C" cudaError_t soma_cuda_act_backward(int act, float param, const float *x,
                                              const float *y, const float *dy, float *dx,
                                              int64_t count, cudaStream_t stream) {
    SOMA_LAUNCH(act_backward_kernel, soma_flat_blocks(count), SOMA_BLOCK, 0, stream,
                (soma_activation)act, param, x, y, dy, dx, count);
    return cudaGetLastError();
}

extern "C" cudaError_t soma_cuda_bias_add(const float *x, const float *bias, float *y, int64_t m,
                                          int64_t n, cudaStream_t stream) {
    SOMA_LAUNCH(bias_add_kernel, soma_flat_blocks(m * n), SOMA_BLOCK, 0, stream, x, bias, y, m * n,
                n);
    return cudaGetLastError();
}

extern "C" cudaError_t soma_cuda_bias_act(int act, float param, const float *x,
                                          const float *bias, float *z, float *a, int64_t m,
                                          int64_t n, cudaStream_t stream) {
    SOMA_LAUNCH(bias_act_kernel, soma_flat_blocks(m * n), SOMA_BLOCK, 0, stream,
                (soma_activation)act, param, x, bias, z, a, m * n, n);
    return cudaGetLastError();
}

extern "C" cudaError_t soma_cuda_scale(float alpha, const float *x, float *y, int64_t count,
                                       cudaStream_t stream) {
    SOMA_LAUNCH(scale_kernel, soma_flat_blocks(count), SOMA_BLOCK, 0, stream, alpha, x, y, count);
    return cudaGetLastError();
}

extern "C" cudaError_t soma_cuda_axpy(float alpha, const float *x, float *y, int64_t count,
                                      cudaStream_t stream) {
    SOMA_LAUNCH(axpy_kernel, soma_flat_blocks(count), SOMA_BLOCK, 0, stream, alpha, x, y, count);
    return cudaGetLastError();
}

extern "C" cudaError_t soma_cuda_fill(float value, float *y, int64_t count, cudaStream_t stream) {
    SOMA_LAUNCH(fill_kernel, soma_flat_blocks(count), SOMA_BLOCK, 0, stream, value, y, count);
    return cudaGetLastError();
}
