/* softmax.cu: row-wise softmax and log-softmax, forward and backward.
 *
 * Launch shape: one block per row (rows beyond the grid loop), with
 * soma_row_threads(n) threads striding the row, so a row of any length from
 * 1 to 100k+ is handled by one block and the row reductions need no global
 * memory. Every write of element j comes after the block-wide reductions have
 * finished reading the row and is done by the thread that reads j, so the
 * output may alias either input. */
#include "kernels.h"
#include "launch_util.cuh" // SOMA_ROW_STRIDE, SOMA_MAX_ROW_BLOCKS, soma_row_threads
#include "reduce_util.cuh" // soma_block_sum, soma_block_row_max_sumexp

/* softmax:     y[i,j] = exp(x[i,j] - max_i) / sum_k exp(x[i,k] - max_i)
 * log_softmax: y[i,j] = x[i,j] - max_i - log sum_k exp(x[i,k] - max_i) */
static __global__ void softmax_kernel(int log_output, const float *x, float *y, int64_t m,
                                      int64_t n) {
    SOMA_ROW_STRIDE(r, m) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        float row_max, sum_exp;
        soma_block_row_max_sumexp(xr, n, &row_max, &sum_exp);
        if (log_output) {
            float log_sum = logf(sum_exp);
            for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
                yr[j] = (xr[j] - row_max) - log_sum; /* x - max is exact near the max */
        } else {
            for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
                yr[j] = expf(xr[j] - row_max) / sum_exp;
        }
    }
}

/* softmax:     dx[i,j] = y[i,j] (dy[i,j] - sum_k dy[i,k] y[i,k])
 * log_softmax: dx[i,j] = dy[i,j] - exp(y[i,j]) sum_k dy[i,k] */
static __global__ void softmax_backward_kernel(int log_output, const float *y, const float *dy,
                                               float *dx, int64_t m, int64_t n) {
    SOMA_ROW_STRIDE(r, m) {
        const float *yr = y + r * n, *dyr = dy + r * n;
        float *dxr = dx + r * n;
        float acc = 0.0f;
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
            acc += log_output ? dyr[j] : dyr[j] * yr[j];
        acc = soma_block_sum(acc);
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
            dxr[j] = log_output ? dyr[j] - expf(yr[j]) * acc : yr[j] * (dyr[j] - acc);
    }
}

static unsigned row_blocks(int64_t m) { return soma_blocks_for(m, 1, SOMA_MAX_ROW_BLOCKS); }

extern "C" cudaError_t soma_cuda_softmax(int log_output, const float *x, float *y, int64_t m,
                                         int64_t n, cudaStream_t stream) {
    SOMA_LAUNCH(softmax_kernel, row_blocks(m), soma_row_threads(n), 0, stream, log_output, x, y, m,
                n);
    return cudaGetLastError();
}

extern "C" cudaError_t soma_cuda_softmax_backward(int log_output, const float *y, const float *dy,
                                                  float *dx, int64_t m, int64_t n,
                                                  cudaStream_t stream) {
    SOMA_LAUNCH(softmax_backward_kernel, row_blocks(m), soma_row_threads(n), 0, stream, log_output,
                y, dy, dx, m, n);
    return cudaGetLastError();
}
