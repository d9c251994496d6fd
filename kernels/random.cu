/* random.cu: Philox fills, bit-identical with the CPU backend.
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

extern "C" cudaError_t soma_cuda_fill_uniform(uint64_t seed, uint64_t offset, float lo, float hi,
                                              float *y, int64_t count, cudaStream_t stream) {
    fill_uniform_kernel<<<soma_flat_blocks(count), SOMA_BLOCK, 0, stream>>>(seed, offset, lo, hi,
                                                                            y, count);
    return cudaGetLastError();
}

extern "C" cudaError_t soma_cuda_fill_normal(uint64_t seed, uint64_t offset, float mean,
                                             float stddev, float *y, int64_t count,
                                             cudaStream_t stream) {
    fill_normal_kernel<<<soma_flat_blocks(count), SOMA_BLOCK, 0, stream>>>(seed, offset, mean,
                                                                           stddev, y, count);
    return cudaGetLastError();
}
