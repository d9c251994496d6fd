/* norm.cu: batch and layer normalization, forward and backward, and the
 * residual sum (soma/ops.h gives the maths; src/cpu/cpu_norm.c is the twin).
 *
 * Batchnorm reduces over the rows of each column. Launch shape: the column
 * tile of reduce.cu's bias_grad, COL_TILE_COLS x COL_TILE_ROWS threads per
 * block owning COL_TILE_COLS adjacent columns (a warp reads 32 consecutive
 * floats of a row: coalesced); the COL_TILE_ROWS threads of a column stride
 * down its rows and their partial sums meet in a shared-memory tree that
 * every thread of the column then reads. Layernorm reduces over the columns
 * of each row: one block per row as softmax.cu, soma_block_sum for the row
 * sums; its dgamma and dbeta are column sums again (the column tile).
 * Statistics take two passes (mean, then the squares of x - mean), as the
 * CPU and the reference do, so no catastrophic cancellation. */
#include "core/backend.h" // soma_op_call: the launchers below take the call
#include "kernels.h"
#include "launch_util.cuh" // SOMA_LAUNCH, SOMA_GRID_STRIDE, SOMA_ROW_STRIDE, soma_row_threads
#include "reduce_util.cuh" // soma_block_sum

#define COL_TILE_COLS 32
#define COL_TILE_ROWS 16

/* The column's total of the per-thread partials a and b (two sums at once),
 * for every thread of the tile: a tree over threadIdx.y in shared memory.
 * All threads of the block call it (uniform control flow); the leading
 * barrier keeps a fast thread from overwriting `part` while a slow one still
 * reads the previous call's totals. */
static __device__ __forceinline__ void column_sum2(float *a, float *b) {
    __shared__ float part[2][COL_TILE_ROWS][COL_TILE_COLS];
    const unsigned x = threadIdx.x, y = threadIdx.y;
    __syncthreads();
    part[0][y][x] = *a;
    part[1][y][x] = *b;
    __syncthreads();
    for (unsigned half = COL_TILE_ROWS / 2; half > 0; half >>= 1) {
        if (y < half) {
            part[0][y][x] += part[0][y + half][x];
            part[1][y][x] += part[1][y + half][x];
        }
        __syncthreads();
    }
    *a = part[0][0][x];
    *b = part[1][0][x];
}

/* (x, gamma, beta) -> (y, saved [2,n], running_mean, running_var) */
static __global__ void batchnorm_forward_train_kernel(float momentum, float eps, const float *x,
                                                      const float *gamma, const float *beta,
                                                      float *y, float *saved, float *rmean,
                                                      float *rvar, int64_t m, int64_t n) {
    const int64_t j = (int64_t)blockIdx.x * COL_TILE_COLS + threadIdx.x;
    const bool live = j < n;
    float sum = 0.0f, unused = 0.0f;
    if (live)
        for (int64_t i = threadIdx.y; i < m; i += COL_TILE_ROWS) sum += x[i * n + j];
    column_sum2(&sum, &unused);
    const float mean = sum / (float)m;
    float sq = 0.0f;
    if (live)
        for (int64_t i = threadIdx.y; i < m; i += COL_TILE_ROWS) {
            const float d = x[i * n + j] - mean;
            sq += d * d;
        }
    column_sum2(&sq, &unused);
    if (!live) return; /* after the last barrier */
    const float var = sq / (float)m, rstd = 1.0f / sqrtf(var + eps), scale = gamma[j] * rstd;
    for (int64_t i = threadIdx.y; i < m; i += COL_TILE_ROWS)
        y[i * n + j] = (x[i * n + j] - mean) * scale + beta[j];
    if (threadIdx.y == 0) {
        saved[j] = mean;
        saved[n + j] = rstd;
        rmean[j] = (1.0f - momentum) * rmean[j] + momentum * mean;
        rvar[j] = (1.0f - momentum) * rvar[j] + momentum * var * ((float)m / (float)(m - 1));
    }
}

/* y = (x - running_mean) gamma / sqrt(running_var + eps) + beta, elementwise */
static __global__ void batchnorm_forward_eval_kernel(float eps, const float *x, const float *gamma,
                                                     const float *beta, const float *rmean,
                                                     const float *rvar, float *y, int64_t count,
                                                     int64_t n) {
    SOMA_GRID_STRIDE(i, count) {
        const int64_t j = i % n;
        y[i] = (x[i] - rmean[j]) * (gamma[j] / sqrtf(rvar[j] + eps)) + beta[j];
    }
}

/* (x, gamma, saved, dy) -> (dx, dgamma, dbeta), per column:
 * dx = gamma rstd / m (m dy - sum dy - xhat sum dy xhat) */
static __global__ void batchnorm_backward_kernel(const float *x, const float *gamma,
                                                 const float *saved, const float *dy, float *dx,
                                                 float *dgamma, float *dbeta, int64_t m,
                                                 int64_t n) {
    const int64_t j = (int64_t)blockIdx.x * COL_TILE_COLS + threadIdx.x;
    const bool live = j < n;
    const float mean = live ? saved[j] : 0.0f, rstd = live ? saved[n + j] : 0.0f;
    float sum_dy = 0.0f, sum_dy_xhat = 0.0f;
    if (live)
        for (int64_t i = threadIdx.y; i < m; i += COL_TILE_ROWS) {
            const float g = dy[i * n + j];
            sum_dy += g;
            sum_dy_xhat += g * ((x[i * n + j] - mean) * rstd);
        }
    column_sum2(&sum_dy, &sum_dy_xhat);
    if (!live) return;
    const float k = gamma[j] * rstd / (float)m;
    for (int64_t i = threadIdx.y; i < m; i += COL_TILE_ROWS) {
        const float xhat = (x[i * n + j] - mean) * rstd;
        dx[i * n + j] = k * ((float)m * dy[i * n + j] - sum_dy - xhat * sum_dy_xhat);
    }
    if (threadIdx.y == 0) {
        dgamma[j] = sum_dy_xhat;
        dbeta[j] = sum_dy;
    }
}

/* (x, gamma, beta) -> (y, saved [m,2]), one block per row */
static __global__ void layernorm_forward_kernel(float eps, const float *x, const float *gamma,
                                                const float *beta, float *y, float *saved,
                                                int64_t m, int64_t n) {
    SOMA_ROW_STRIDE(r, m) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        float s = 0.0f;
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x) s += xr[j];
        const float mean = soma_block_sum(s) / (float)n;
        float sq = 0.0f;
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
            const float d = xr[j] - mean;
            sq += d * d;
        }
        const float rstd = 1.0f / sqrtf(soma_block_sum(sq) / (float)n + eps);
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
            yr[j] = gamma[j] * ((xr[j] - mean) * rstd) + beta[j];
        if (threadIdx.x == 0) {
            saved[2 * r] = mean;
            saved[2 * r + 1] = rstd;
        }
    }
}

/* dx, one block per row, with g = dy gamma:
 * dx = rstd / n (n g - sum g - xhat sum g xhat) */
static __global__ void layernorm_dx_kernel(const float *x, const float *gamma, const float *saved,
                                           const float *dy, float *dx, int64_t m, int64_t n) {
    SOMA_ROW_STRIDE(r, m) {
        const float *xr = x + r * n, *dyr = dy + r * n;
        const float mean = saved[2 * r], rstd = saved[2 * r + 1];
        float sum_g = 0.0f, sum_g_xhat = 0.0f;
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
            const float g = dyr[j] * gamma[j];
            sum_g += g;
            sum_g_xhat += g * ((xr[j] - mean) * rstd);
        }
        sum_g = soma_block_sum(sum_g);
        sum_g_xhat = soma_block_sum(sum_g_xhat);
        const float k = rstd / (float)n;
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
            dx[r * n + j] = k * ((float)n * (dyr[j] * gamma[j]) - sum_g -
                                 ((xr[j] - mean) * rstd) * sum_g_xhat);
    }
}

/* dgamma = sum_i dy xhat, dbeta = sum_i dy: the column tile */
static __global__ void layernorm_params_kernel(const float *x, const float *saved, const float *dy,
                                               float *dgamma, float *dbeta, int64_t m, int64_t n) {
    const int64_t j = (int64_t)blockIdx.x * COL_TILE_COLS + threadIdx.x;
    float sum_dy = 0.0f, sum_dy_xhat = 0.0f;
    if (j < n)
        for (int64_t i = threadIdx.y; i < m; i += COL_TILE_ROWS) {
            const float g = dy[i * n + j];
            sum_dy += g;
            sum_dy_xhat += g * ((x[i * n + j] - saved[2 * i]) * saved[2 * i + 1]);
        }
    column_sum2(&sum_dy, &sum_dy_xhat);
    if (threadIdx.y == 0 && j < n) {
        dgamma[j] = sum_dy_xhat;
        dbeta[j] = sum_dy;
    }
}

/* y = a + b (y may be a or b) */
static __global__ void add_kernel(const float *a, const float *b, float *y, int64_t count) {
    SOMA_GRID_STRIDE(i, count) y[i] = a[i] + b[i];
}

static unsigned column_tiles(int64_t n) { return soma_blocks_for(n, COL_TILE_COLS, INT32_MAX); }
static unsigned row_blocks(int64_t m) { return soma_blocks_for(m, 1, SOMA_MAX_ROW_BLOCKS); }

/* ---- launchers: op_list.h's SOMA_CUDA_LAUNCH entries --------------------
 * Each takes the call as the op layer checked it (shapes as op_list.h
 * declares them; x is m x n) and queues its kernels on `stream`. */

#define IN(i) (call->in[i]->data)
#define OUT(o) (call->out[o]->data)
#define M (call->in[0]->rows)
#define N (call->in[0]->cols)

/* (x, gamma, beta) -> (y, saved, running_mean, running_var) */
extern "C" cudaError_t soma_cuda_batchnorm_forward_train(const soma_op_call *call, cudaStream_t stream) {
    dim3 threads(COL_TILE_COLS, COL_TILE_ROWS);
    SOMA_LAUNCH(batchnorm_forward_train_kernel, column_tiles(N), threads, 0, stream,
                call->p.momentum, call->p.eps, IN(0), IN(1), IN(2), OUT(0), OUT(1), OUT(2), OUT(3),
                M, N);
    return cudaGetLastError();
}

/* (x, gamma, beta, running_mean, running_var) -> y */
extern "C" cudaError_t soma_cuda_batchnorm_forward_eval(const soma_op_call *call, cudaStream_t stream) {
    SOMA_LAUNCH(batchnorm_forward_eval_kernel, soma_flat_blocks(M * N), SOMA_BLOCK, 0, stream,
                call->p.eps, IN(0), IN(1), IN(2), IN(3), IN(4), OUT(0), M * N, N);
    return cudaGetLastError();
}

/* (x, gamma, saved, dy) -> (dx, dgamma, dbeta) */
extern "C" cudaError_t soma_cuda_batchnorm_backward(const soma_op_call *call, cudaStream_t stream) {
    dim3 threads(COL_TILE_COLS, COL_TILE_ROWS);
    SOMA_LAUNCH(batchnorm_backward_kernel, column_tiles(N), threads, 0, stream, IN(0), IN(1), IN(2),
                IN(3), OUT(0), OUT(1), OUT(2), M, N);
    return cudaGetLastError();
}

/* (x, gamma, beta) -> (y, saved) */
extern "C" cudaError_t soma_cuda_layernorm_forward(const soma_op_call *call, cudaStream_t stream) {
    SOMA_LAUNCH(layernorm_forward_kernel, row_blocks(M), soma_row_threads(N), 0, stream, call->p.eps,
                IN(0), IN(1), IN(2), OUT(0), OUT(1), M, N);
    return cudaGetLastError();
}

/* (x, gamma, saved, dy) -> (dx, dgamma, dbeta): dx by rows, then the column sums */
extern "C" cudaError_t soma_cuda_layernorm_backward(const soma_op_call *call, cudaStream_t stream) {
    SOMA_LAUNCH(layernorm_dx_kernel, row_blocks(M), soma_row_threads(N), 0, stream, IN(0), IN(1),
                IN(2), IN(3), OUT(0), M, N);
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) return err;
    dim3 threads(COL_TILE_COLS, COL_TILE_ROWS);
    SOMA_LAUNCH(layernorm_params_kernel, column_tiles(N), threads, 0, stream, IN(0), IN(2), IN(3),
                OUT(1), OUT(2), M, N);
    return cudaGetLastError();
}

/* (a, b) -> y */
extern "C" cudaError_t soma_cuda_add(const soma_op_call *call, cudaStream_t stream) {
    SOMA_LAUNCH(add_kernel, soma_flat_blocks(M * N), SOMA_BLOCK, 0, stream, IN(0), IN(1), OUT(0),
                M * N);
    return cudaGetLastError();
}
