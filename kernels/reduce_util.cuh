/* reduce_util.cuh: warp- and block-wide reductions shared by softmax.cu,
 * loss.cu and reduce.cu (nvcc only).
 *
 * Contract of every soma_block_* function: blockDim.x is a multiple of 32
 * (at most 1024, 1-D blocks), every thread of the block calls it with the
 * same control flow, and every thread gets the result. The order of the
 * additions is fixed by the launch shape, so results are deterministic. */
#ifndef SOMA_KERNELS_REDUCE_UTIL_CUH
#define SOMA_KERNELS_REDUCE_UTIL_CUH

#include <math.h>
#include <stdint.h>

#define SOMA_FULL_MASK 0xffffffffu

/* Butterfly (xor) shuffles leave the warp's total in every lane. */
static __device__ __forceinline__ float soma_warp_sum(float v) {
    for (int lane_mask = 16; lane_mask > 0; lane_mask >>= 1)
        v += __shfl_xor_sync(SOMA_FULL_MASK, v, lane_mask);
    return v;
}

static __device__ __forceinline__ float soma_warp_max(float v) {
    for (int lane_mask = 16; lane_mask > 0; lane_mask >>= 1)
        v = fmaxf(v, __shfl_xor_sync(SOMA_FULL_MASK, v, lane_mask));
    return v;
}

/* Sum over the block: each warp reduces by shuffles, lane 0 of each warp
 * parks its total in shared memory, then every warp reduces those (at most
 * 32) totals itself, which broadcasts the result without a second barrier.
 * The leading barrier keeps a fast warp from overwriting `totals` while a
 * slow one still reads them from the previous call (e.g. the previous row). */
static __device__ __forceinline__ float soma_block_sum(float v) {
    __shared__ float totals[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int n_warps = blockDim.x >> 5;
    v = soma_warp_sum(v);
    __syncthreads();
    if (lane == 0) totals[warp] = v;
    __syncthreads();
    return soma_warp_sum(lane < n_warps ? totals[lane] : 0.0f);
}

/* Maximum over the block, same scheme; -INFINITY is the neutral element. */
static __device__ __forceinline__ float soma_block_max(float v) {
    __shared__ float totals[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int n_warps = blockDim.x >> 5;
    v = soma_warp_max(v);
    __syncthreads();
    if (lane == 0) totals[warp] = v;
    __syncthreads();
    return soma_warp_max(lane < n_warps ? totals[lane] : -INFINITY);
}

/* "No element" index of soma_block_argmax: larger than any real index. */
#define SOMA_NO_INDEX INT64_MAX

/* Whether candidate (ov, oi) beats (v, i) for the FIRST maximum, whatever
 * order the candidates meet in: the larger value wins, a tie goes to the
 * smaller index. NaN follows the CPU's scan (best = 0; if x[j] > x[best]):
 * a NaN at index 0 is never replaced, a NaN elsewhere is never chosen, so
 * callers pass a NaN candidate only for index 0, and it beats everything. */
static __device__ __forceinline__ bool soma_argmax_beats(float ov, int64_t oi, float v,
                                                         int64_t i) {
    if (isnan(ov)) return true;
    if (isnan(v)) return false;
    return ov > v || (ov == v && oi < i);
}

static __device__ __forceinline__ void soma_argmax_merge(float *v, int64_t *i, float ov,
                                                         int64_t oi) {
    if (soma_argmax_beats(ov, oi, *v, *i)) {
        *v = ov;
        *i = oi;
    }
}

static __device__ __forceinline__ void soma_warp_argmax(float *v, int64_t *i) {
    for (int lane_mask = 16; lane_mask > 0; lane_mask >>= 1) {
        float ov = __shfl_xor_sync(SOMA_FULL_MASK, *v, lane_mask);
        int64_t oi = __shfl_xor_sync(SOMA_FULL_MASK, *i, lane_mask);
        soma_argmax_merge(v, i, ov, oi);
    }
}

/* Index of the block-wide maximum of the candidates (v, i); threads without
 * a candidate pass (-INFINITY, SOMA_NO_INDEX). */
static __device__ __forceinline__ int64_t soma_block_argmax(float v, int64_t i) {
    __shared__ float values[32];
    __shared__ int64_t indices[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int n_warps = blockDim.x >> 5;
    soma_warp_argmax(&v, &i);
    __syncthreads();
    if (lane == 0) {
        values[warp] = v;
        indices[warp] = i;
    }
    __syncthreads();
    v = lane < n_warps ? values[lane] : -INFINITY;
    i = lane < n_warps ? indices[lane] : SOMA_NO_INDEX;
    soma_warp_argmax(&v, &i);
    return i;
}

/* The row statistics of a stable softmax, for the block that owns the row:
 * *row_max = max_j row[j] and *sum_exp = sum_j exp(row[j] - *row_max).
 * Threads stride the row by blockDim.x, so any n works. */
static __device__ __forceinline__ void soma_block_row_max_sumexp(const float *row, int64_t n,
                                                                 float *row_max, float *sum_exp) {
    float m = -INFINITY;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) m = fmaxf(m, row[j]);
    m = soma_block_max(m);
    float s = 0.0f;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) s += expf(row[j] - m);
    *row_max = m;
    *sum_exp = soma_block_sum(s);
}

#endif
