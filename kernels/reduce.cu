/* reduce.cu: sum, mean and sum of squares of a tensor, bias gradient
 * (column sums), active columns, row argmax, correct-prediction count, and
 * the second pass of every two-pass reduction in soma.
 *
 * Whole-tensor reductions run in two passes: at most SOMA_CUDA_MAX_PARTIALS
 * blocks each reduce a grid-stride share in float and write one partial;
 * one block then adds the partials. The order of the additions depends only
 * on the size, so results are reproducible (no atomics). */
#include "kernels.h"
#include "launch_util.cuh" // grid-stride macros and launch shapes
#include "reduce_util.cuh" // soma_block_sum, soma_block_argmax

/* partials[b] = sum of block b's grid-stride share of x, or of x^2 when
 * `square` (uniform across the grid, so it costs no divergence) */
static __global__ void sum_partials_kernel(const float *x, int64_t count, int square,
                                           float *partials) {
    float acc = 0.0f;
    SOMA_GRID_STRIDE(i, count) {
        float v = x[i];
        acc += square ? v * v : v;
    }
    acc = soma_block_sum(acc);
    if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

/* out[0] = (sum_b partials[b]) / divisor; one block of SOMA_BLOCK threads
 * (there are at most SOMA_CUDA_MAX_PARTIALS partials). */
static __global__ void finish_partials_kernel(const float *partials, int count, double divisor,
                                              float *out) {
    float acc = 0.0f;
    for (int b = threadIdx.x; b < count; b += blockDim.x) acc += partials[b];
    acc = soma_block_sum(acc);
    if (threadIdx.x == 0) out[0] = (float)((double)acc / divisor);
}

/* Column-wise kernels (bias_grad, active_columns) tile an m x n matrix the
 * same way: a block of COL_TILE_COLS x COL_TILE_ROWS threads owns
 * COL_TILE_COLS adjacent columns (threadIdx.x, so each warp reads 32
 * consecutive floats of a row: coalesced), and the COL_TILE_ROWS threads of
 * a column (threadIdx.y) stride down its rows. */
#define COL_TILE_COLS 32
#define COL_TILE_ROWS 16

/* dbias[j] = sum_i dy[i,j]: the partial column sums of the COL_TILE_ROWS
 * threads of a column are added by a tree in shared memory. */
static __global__ void bias_grad_kernel(const float *dy, float *dbias, int64_t m, int64_t n) {
    __shared__ float part[COL_TILE_ROWS][COL_TILE_COLS];
    const int64_t j = (int64_t)blockIdx.x * COL_TILE_COLS + threadIdx.x;
    float acc = 0.0f;
    if (j < n)
        for (int64_t i = threadIdx.y; i < m; i += COL_TILE_ROWS) acc += dy[i * n + j];
    part[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    for (unsigned half = COL_TILE_ROWS / 2; half > 0; half >>= 1) {
        if (threadIdx.y < half)
            part[threadIdx.y][threadIdx.x] += part[threadIdx.y + half][threadIdx.x];
        __syncthreads();
    }
    if (threadIdx.y == 0 && j < n) dbias[j] = part[0][threadIdx.x];
}

/* flags[j] = (flags[j] != 0 || x[i,j] > 0 for some i) ? 1 : 0. Each of the
 * COL_TILE_ROWS threads of a column scans its rows until it finds a positive
 * value and parks the verdict in shared memory; after the barrier the
 * column's row-0 thread ORs them and is the only one to touch flags[j]. */
static __global__ void active_columns_kernel(const float *x, float *flags, int64_t m,
                                             int64_t n) {
    __shared__ int hit[COL_TILE_ROWS][COL_TILE_COLS];
    const int64_t j = (int64_t)blockIdx.x * COL_TILE_COLS + threadIdx.x;
    int any = 0;
    if (j < n)
        for (int64_t i = threadIdx.y; i < m && !any; i += COL_TILE_ROWS)
            any = x[i * n + j] > 0.0f;
    hit[threadIdx.y][threadIdx.x] = any;
    __syncthreads();
    if (threadIdx.y == 0 && j < n) {
        for (int r = 1; r < COL_TILE_ROWS; r++) any |= hit[r][threadIdx.x];
        flags[j] = (flags[j] != 0.0f || any) ? 1.0f : 0.0f;
    }
}

/* The first j with row[j] maximal, for the block that owns the row: each
 * thread keeps the best candidate of its strided share (skipping NaN except
 * at index 0, see soma_argmax_beats), then the block merges them. */
static __device__ int64_t block_row_argmax(const float *row, int64_t n) {
    float best = -INFINITY;
    int64_t best_j = SOMA_NO_INDEX;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
        float v = row[j];
        if ((j == 0 || !isnan(v)) && soma_argmax_beats(v, j, best, best_j)) {
            best = v;
            best_j = j;
        }
    }
    return soma_block_argmax(best, best_j);
}

/* out[i] = argmax_j x[i,j]; one block per row. */
static __global__ void row_argmax_kernel(const float *x, float *out, int64_t m, int64_t n) {
    SOMA_ROW_STRIDE(r, m) {
        int64_t j = block_row_argmax(x + r * n, n);
        if (threadIdx.x == 0) out[r] = (float)j;
    }
}

/* partials[b] = number of block b's rows with (float)argmax == label; one
 * block per row, at most SOMA_CUDA_MAX_PARTIALS blocks. An invalid label
 * (out of range, fractional, NaN) never equals an index, so never counts. */
static __global__ void correct_partials_kernel(const float *x, const float *labels, int64_t m,
                                               int64_t n, float *partials) {
    float block_count = 0.0f;
    SOMA_ROW_STRIDE(r, m) {
        int64_t j = block_row_argmax(x + r * n, n);
        if (threadIdx.x == 0 && labels[r] == (float)j) block_count += 1.0f;
    }
    if (threadIdx.x == 0) partials[blockIdx.x] = block_count;
}

extern "C" cudaError_t soma_cuda_finish_partials(const float *partials, int count, double divisor,
                                                 float *out, cudaStream_t stream) {
    SOMA_LAUNCH(finish_partials_kernel, 1, SOMA_BLOCK, 0, stream, partials, count, divisor, out);
    return cudaGetLastError();
}

/* out[0] = (sum of x[i] or of x[i]^2) / divisor, both passes. */
static cudaError_t sum_two_pass(const float *x, int64_t count, int square, double divisor,
                                float *partials, float *out, cudaStream_t stream) {
    unsigned blocks = soma_blocks_for(count, SOMA_BLOCK, SOMA_CUDA_MAX_PARTIALS);
    SOMA_LAUNCH(sum_partials_kernel, blocks, SOMA_BLOCK, 0, stream, x, count, square, partials);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
        return e;
    return soma_cuda_finish_partials(partials, (int)blocks, divisor, out, stream);
}

extern "C" cudaError_t soma_cuda_sum(const float *x, int64_t count, double divisor,
                                     float *partials, float *out, cudaStream_t stream) {
    return sum_two_pass(x, count, 0, divisor, partials, out, stream);
}

extern "C" cudaError_t soma_cuda_sum_squares(const float *x, int64_t count, float *partials,
                                             float *out, cudaStream_t stream) {
    return sum_two_pass(x, count, 1, 1.0, partials, out, stream);
}

/* The launch shape of the column-wise kernels: one block per COL_TILE_COLS
 * columns. */
static unsigned col_tile_blocks(int64_t n) { return soma_blocks_for(n, COL_TILE_COLS, INT32_MAX); }

extern "C" cudaError_t soma_cuda_bias_grad(const float *dy, float *dbias, int64_t m, int64_t n,
                                           cudaStream_t stream) {
    dim3 threads(COL_TILE_COLS, COL_TILE_ROWS);
    SOMA_LAUNCH(bias_grad_kernel, col_tile_blocks(n), threads, 0, stream, dy, dbias, m, n);
    return cudaGetLastError();
}

extern "C" cudaError_t soma_cuda_active_columns(const float *x, float *flags, int64_t m,
                                                int64_t n, cudaStream_t stream) {
    dim3 threads(COL_TILE_COLS, COL_TILE_ROWS);
    SOMA_LAUNCH(active_columns_kernel, col_tile_blocks(n), threads, 0, stream, x, flags, m, n);
    return cudaGetLastError();
}

extern "C" cudaError_t soma_cuda_row_argmax(const float *x, float *out, int64_t m, int64_t n,
                                            cudaStream_t stream) {
    unsigned blocks = soma_blocks_for(m, 1, SOMA_MAX_ROW_BLOCKS);
    SOMA_LAUNCH(row_argmax_kernel, blocks, soma_row_threads(n), 0, stream, x, out, m, n);
    return cudaGetLastError();
}

extern "C" cudaError_t soma_cuda_correct_count(const float *x, const float *labels, int64_t m,
                                               int64_t n, float *partials, float *out,
                                               cudaStream_t stream) {
    unsigned blocks = soma_blocks_for(m, 1, SOMA_CUDA_MAX_PARTIALS);
    SOMA_LAUNCH(correct_partials_kernel, blocks, soma_row_threads(n), 0, stream, x, labels, m, n,
                partials);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
    return soma_cuda_finish_partials(partials, (int)blocks, 1.0, out, stream);
}
