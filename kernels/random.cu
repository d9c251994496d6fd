/* random.cu: Philox fills and dropout, bit-identical with the CPU backend.
 *
 * Element i takes its value from soma_philox_uniform/normal(seed, offset, i),
 * the very functions the CPU calls (core/philox.h spells every float step
 * with round-to-nearest intrinsics, so nvcc cannot fuse it differently). One
 * thread per element, grid-stride: the counter is the element index, so the
 * launch shape cannot change the numbers. */
#include "kernels.h"
#include "launch_util.cuh" // SOMA_BLOCK, SOMA_GRID_STRIDE, soma_flat_blocks

#include "core/philox.h" // soma_philox_uniform, soma_philox_normal

/* y[i] = lo + (hi - lo) u_i, u_i in [0, 1) a multiple of 2^-24 */
static __global__ void fill_uniform_kernel(uint64_t seed, uint64_t offset, float lo, float hi,
                                           float *y, int64_t count) {
    SOMA_GRID_STRIDE(i, count) y[i] = soma_philox_uniform(seed, offset, (uint64_t)i, lo, hi);
}

/* y[i] = mean + stddev z_i, z_i standard normal by Box-Muller */
static __global__ void fill_normal_kernel(uint64_t seed, uint64_t offset, float mean,
                                          float stddev, float *y, int64_t count) {
    SOMA_GRID_STRIDE(i, count) {
        y[i] = soma_philox_normal(seed, offset, (uint64_t)i, mean, stddev);
    }
}

/* y[i] = u_i >= p ? x[i] keep_scale : 0, u_i element i of the uniform [0, 1)
 * stream (the same draw as fill_uniform's), keep_scale = 1 / (1 - p). Each
 * thread reads x[i] before writing y[i], so y may alias x. */
static __global__ void dropout_kernel(uint64_t seed, uint64_t offset, float p, float keep_scale,
                                      const float *x, float *y, int64_t count) {
    SOMA_GRID_STRIDE(i, count) {
        float u = soma_philox_uniform(seed, offset, (uint64_t)i, 0.0f, 1.0f);
        y[i] = u >= p ? x[i] * keep_scale : 0.0f;
    }
}

extern "C" cudaError_t soma_cuda_fill_uniform(uint64_t seed, uint64_t offset, float lo, float hi,
                                              float *y, int64_t count, cudaStream_t stream) {
    SOMA_LAUNCH(fill_uniform_kernel, soma_flat_blocks(count), SOMA_BLOCK, 0, stream, seed, offset,
                lo, hi, y, count);
    return cudaGetLastError();
}

extern "C" cudaError_t soma_cuda_fill_normal(uint64_t seed, uint64_t offset, float mean,
                                             float stddev, float *y, int64_t count,
                                             cudaStream_t stream) {
    SOMA_LAUNCH(fill_normal_kernel, soma_flat_blocks(count), SOMA_BLOCK, 0, stream, seed, offset,
                mean, stddev, y, count);
    return cudaGetLastError();
}

extern "C" cudaError_t soma_cuda_dropout(uint64_t seed, uint64_t offset, float p, const float *x,
                                         float *y, int64_t count, cudaStream_t stream) {
    /* on the host, in float, exactly as soma_cpu_dropout computes it */
    const float keep_scale = 1.0f / (1.0f - p);
    SOMA_LAUNCH(dropout_kernel, soma_flat_blocks(count), SOMA_BLOCK, 0, stream, seed, offset, p,
                keep_scale, x, y, count);
    return cudaGetLastError();
}
