/* loss.cu: MSE, binary cross-entropy on logits and softmax cross-entropy,
 * each as a loss (1x1, the mean) and as the gradient of that mean.
 *
 * Losses are two-pass reductions: a grid of at most SOMA_CUDA_MAX_PARTIALS
 * blocks writes one partial sum per block into `partials`, then
 * soma_cuda_finish_partials (reduce.cu) adds them and divides. Fixed order,
 * so the same input always gives the same bits; no atomics. Gradients are
 * elementwise (flat grid-stride) except softmax cross-entropy, which needs
 * its row statistics (one block per row, as in softmax.cu). */
#include "kernels.h"
#include "launch_util.cuh" // grid-stride macros and launch shapes
#include "reduce_util.cuh" // soma_block_sum, soma_block_row_max_sumexp

#include "core/act_math.h" // soma_sigmoidf

/* A float-coded label is valid when it is a whole number in [0, n) (as on
 * the CPU); NaN is not. The bound is compared in double so that n above 2^24
 * is not rounded. */
static __device__ __forceinline__ bool label_ok(float label, int64_t n) {
    return label >= 0.0f && (double)label < (double)n && label == floorf(label);
}

/* partials[b] = sum over block b's share of (pred - target)^2 */
static __global__ void mse_partials_kernel(const float *pred, const float *target, int64_t count,
                                           float *partials) {
    float acc = 0.0f;
    SOMA_GRID_STRIDE(i, count) {
        float d = pred[i] - target[i];
        acc += d * d;
    }
    acc = soma_block_sum(acc);
    if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

/* dpred = 2 (pred - target) / (m n); scale = 2 / (m n) */
static __global__ void mse_backward_kernel(const float *pred, const float *target, float *dpred,
                                           int64_t count, float scale) {
    SOMA_GRID_STRIDE(i, count) dpred[i] = (pred[i] - target[i]) * scale;
}

/* partials[b] = sum over block b's share of max(x,0) - x t + log(1 + exp(-|x|)) */
static __global__ void bce_partials_kernel(const float *logits, const float *target,
                                           int64_t count, float *partials) {
    float acc = 0.0f;
    SOMA_GRID_STRIDE(i, count) {
        float x = logits[i];
        acc += fmaxf(x, 0.0f) - x * target[i] + log1pf(expf(-fabsf(x)));
    }
    acc = soma_block_sum(acc);
    if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

/* dx = (sigmoid(x) - t) / (m n); scale = 1 / (m n) */
static __global__ void bce_backward_kernel(const float *logits, const float *target,
                                           float *dlogits, int64_t count, float scale) {
    SOMA_GRID_STRIDE(i, count) dlogits[i] = (soma_sigmoidf(logits[i]) - target[i]) * scale;
}

/* partials[b] = sum over block b's rows i of logsumexp(x[i,:]) - x[i, label_i]
 * (NaN for a row whose label is not a class index). One block per row; the grid
 * is at most SOMA_CUDA_MAX_PARTIALS blocks and thread 0 keeps the block's
 * running total. */
static __global__ void xent_partials_kernel(const float *logits, const float *labels, int64_t m,
                                            int64_t n, float *partials) {
    float block_total = 0.0f;
    SOMA_ROW_STRIDE(r, m) {
        const float *xr = logits + r * n;
        float row_max, sum_exp;
        soma_block_row_max_sumexp(xr, n, &row_max, &sum_exp);
        if (threadIdx.x == 0) {
            float label = labels[r];
            /* log sum exp(x - max) - (x[label] - max): no cancellation of max */
            block_total += label_ok(label, n)
                               ? logf(sum_exp) - (xr[(int64_t)label] - row_max)
                               : NAN;
        }
    }
    if (threadIdx.x == 0) partials[blockIdx.x] = block_total;
}

/* dx[i,j] = (softmax(x)[i,j] - [j == label_i]) / m, the whole row NaN for an
 * invalid label; scale = 1 / m. One block per row. */
static __global__ void xent_backward_kernel(const float *logits, const float *labels,
                                            float *dlogits, int64_t m, int64_t n, float scale) {
    SOMA_ROW_STRIDE(r, m) {
        const float *xr = logits + r * n;
        float *dxr = dlogits + r * n;
        float row_max, sum_exp;
        soma_block_row_max_sumexp(xr, n, &row_max, &sum_exp);
        float label = labels[r];
        bool ok = label_ok(label, n);
        int64_t target = ok ? (int64_t)label : -1;
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
            float p = expf(xr[j] - row_max) / sum_exp;
            dxr[j] = ok ? (p - (j == target ? 1.0f : 0.0f)) * scale : NAN;
        }
    }
}

static unsigned partial_blocks(int64_t count, int threads) {
    return soma_blocks_for(count, threads, SOMA_CUDA_MAX_PARTIALS);
}

extern "C" cudaError_t soma_cuda_mse_loss(const float *pred, const float *target, int64_t count,
                                          float *partials, float *out, cudaStream_t stream) {
    unsigned blocks = partial_blocks(count, SOMA_BLOCK);
    SOMA_LAUNCH(mse_partials_kernel, blocks, SOMA_BLOCK, 0, stream, pred, target, count, partials);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
        return e;
    return soma_cuda_finish_partials(partials, (int)blocks, (double)count, out, stream);
}

extern "C" cudaError_t soma_cuda_mse_backward(const float *pred, const float *target,
                                              float *dpred, int64_t count, cudaStream_t stream) {
    float scale = (float)(2.0 / (double)count);
    SOMA_LAUNCH(mse_backward_kernel, soma_flat_blocks(count), SOMA_BLOCK, 0, stream, pred, target,
                dpred, count, scale);
    return cudaGetLastError();
}

extern "C" cudaError_t soma_cuda_bce_logits_loss(const float *logits, const float *target,
                                                 int64_t count, float *partials, float *out,
                                                 cudaStream_t stream) {
    unsigned blocks = partial_blocks(count, SOMA_BLOCK);
    SOMA_LAUNCH(bce_partials_kernel, blocks, SOMA_BLOCK, 0, stream, logits, target, count,
                partials);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
        return e;
    return soma_cuda_finish_partials(partials, (int)blocks, (double)count, out, stream);
}

extern "C" cudaError_t soma_cuda_bce_logits_backward(const float *logits, const float *target,
                                                     float *dlogits, int64_t count,
                                                     cudaStream_t stream) {
    float scale = (float)(1.0 / (double)count);
    SOMA_LAUNCH(bce_backward_kernel, soma_flat_blocks(count), SOMA_BLOCK, 0, stream, logits, target,
                dlogits, count, scale);
    return cudaGetLastError();
}

extern "C" cudaError_t soma_cuda_softmax_xent_loss(const float *logits, const float *labels,
                                                   int64_t m, int64_t n, float *partials,
                                                   float *out, cudaStream_t stream) {
    unsigned blocks = partial_blocks(m, 1);
    SOMA_LAUNCH(xent_partials_kernel, blocks, soma_row_threads(n), 0, stream, logits, labels, m, n,
                partials);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
    return soma_cuda_finish_partials(partials, (int)blocks, (double)m, out, stream);
}

extern "C" cudaError_t soma_cuda_softmax_xent_backward(const float *logits, const float *labels,
                                                       float *dlogits, int64_t m, int64_t n,
                                                       cudaStream_t stream) {
    float scale = (float)(1.0 / (double)m);
    unsigned blocks = soma_blocks_for(m, 1, SOMA_MAX_ROW_BLOCKS);
    SOMA_LAUNCH(xent_backward_kernel, blocks, soma_row_threads(n), 0, stream, logits, labels,
                dlogits, m, n, scale);
    return cudaGetLastError();
}
