/* random.cu: Philox fills and dropout, bit-identical with the CPU backend.
 *
 * Element i takes word i % 4 of Philox block i / 4 of the stream {seed,
 * offset} (core/philox.h, the very functions the CPU calls; they spell every
 * float step with round-to-nearest intrinsics, so nvcc cannot fuse it
 * differently). One thread per block of four elements, grid-stride: each
 * block is computed once and all four of its words used, and the counter is
 * the element index, so the launch shape cannot change the numbers. Dropout
 * compares the words with soma_dropout_threshold(p), integers only, so its
 * masks are the CPU's bit for bit. */
#include "kernels.h"
#include "launch_util.cuh" // SOMA_LAUNCH, SOMA_BLOCK, SOMA_GRID_STRIDE, soma_flat_blocks

#include "core/act_math.h" // soma_act_f, soma_act_df, soma_act_df_reads_y
#include "core/philox.h"   // soma_philox_block, soma_uniform_from_word, soma_normal_pair_from_words
#include "core/step_ctl.h" // soma_ctl_dropout_offset

/* Philox blocks that cover count elements */
static __host__ __device__ inline int64_t blocks_of(int64_t count) { return (count + 3) / 4; }

/* y[i] = lo + (hi - lo) u_i, u_i in [0, 1) a multiple of 2^-24 */
static __global__ void fill_uniform_kernel(uint64_t seed, uint64_t offset, float lo, float hi,
                                           float *y, int64_t count) {
    SOMA_GRID_STRIDE(b, blocks_of(count)) {
        soma_philox4 r = soma_philox_block(seed, offset, (uint64_t)b);
        for (int q = 0; q < 4 && 4 * b + q < count; q++)
            y[4 * b + q] = soma_uniform_from_word(r.v[q], lo, hi);
    }
}

/* y[i] = mean + stddev z_i, z_i standard normal by Box-Muller: words (0, 1)
 * and (2, 3) of a block are the pairs */
static __global__ void fill_normal_kernel(uint64_t seed, uint64_t offset, float mean,
                                          float stddev, float *y, int64_t count) {
    SOMA_GRID_STRIDE(b, blocks_of(count)) {
        soma_philox4 r = soma_philox_block(seed, offset, (uint64_t)b);
        for (int pair = 0; pair < 4 && 4 * b + pair < count; pair += 2) {
            float z0, z1;
            soma_normal_pair_from_words(r.v[pair], r.v[pair + 1], mean, stddev, &z0, &z1);
            y[4 * b + pair] = z0;
            if (4 * b + pair + 1 < count) y[4 * b + pair + 1] = z1;
        }
    }
}

/* y[i] = word_i >= threshold ? x[i] keep_scale : 0, keep_scale = 1 / (1 - p).
 * Each thread reads x[i] before writing y[i], so y may alias x. */
static __global__ void dropout_kernel(uint64_t seed, uint64_t offset, uint32_t threshold,
                                      float keep_scale, const float *x, float *y, int64_t count) {
    SOMA_GRID_STRIDE(b, blocks_of(count)) {
        soma_philox4 r = soma_philox_block(seed, offset, (uint64_t)b);
        for (int q = 0; q < 4 && 4 * b + q < count; q++) {
            const int64_t i = 4 * b + q;
            y[i] = r.v[q] >= threshold ? x[i] * keep_scale : 0.0f;
        }
    }
}

/* The fused hidden-layer forward, one thread per 32-bit mask word (32
 * columns of a row): z = x + bias, h = f(z) mask / (1 - p), the word, and
 * alive[j] = 1 where z > 0 or alive[j] was not 0. Threads of different rows
 * share alive[j]; every one of them stores only 1.0f, and only where the
 * value is not 1 yet, so the outcome does not depend on their order. The
 * bits past column n stay 0. x is read before z and h are written (z or h
 * may alias x). */
static __global__ void bias_act_dropout_kernel(soma_activation act, float param, uint64_t seed,
                                               uint64_t offset, const float *ctl,
                                               int64_t stride, uint32_t threshold,
                                               float keep_scale, const float *x,
                                               const float *bias, float *h, float *z,
                                               uint32_t *mask, float *alive, int64_t m,
                                               int64_t n) {
    const int64_t words = (n + 31) / 32;
    if (ctl) offset = soma_ctl_dropout_offset(ctl, offset, stride);
    SOMA_GRID_STRIDE(k, m * words) {
        const int64_t row = k / words, j0 = 32 * (k % words);
        const int count = n - j0 < 32 ? (int)(n - j0) : 32;
        uint32_t bits = 0;
        soma_philox4 r = soma_philox_block(seed, offset, (uint64_t)(row * n + j0) >> 2);
        for (int c = 0; c < count; c++) {
            const int64_t e = row * n + j0 + c, j = j0 + c;
            if (c > 0 && (e & 3) == 0) r = soma_philox_block(seed, offset, (uint64_t)e >> 2);
            const uint32_t keep = r.v[e & 3] >= threshold;
            const float ze = x[e] + bias[j];
            const float ae = soma_act_f(act, ze, param);
            z[e] = ze;
            h[e] = keep ? ae * keep_scale : 0.0f;
            bits |= keep << c;
            if ((ze > 0.0f || alive[j] != 0.0f) && alive[j] != 1.0f) alive[j] = 1.0f;
        }
        mask[k] = bits;
    }
}

/* dx = (mask bit ? dh keep_scale : 0) f'(z), f(z) recomputed where f' reads it */
static __global__ void bias_act_dropout_backward_kernel(soma_activation act, float param,
                                                        float keep_scale, const float *z,
                                                        const uint32_t *mask, const float *dh,
                                                        float *dx, int64_t m, int64_t n) {
    const int64_t words = (n + 31) / 32;
    SOMA_GRID_STRIDE(e, m * n) {
        const int64_t row = e / n, j = e % n;
        const uint32_t keep = (mask[row * words + j / 32] >> (j % 32)) & 1u;
        const float g = keep ? dh[e] * keep_scale : 0.0f;
        const float y = soma_act_df_reads_y(act) ? soma_act_f(act, z[e], param) : 0.0f;
        dx[e] = g * soma_act_df(act, z[e], y, param);
    }
}

extern "C" cudaError_t soma_cuda_fill_uniform(uint64_t seed, uint64_t offset, float lo, float hi,
                                              float *y, int64_t count, cudaStream_t stream) {
    SOMA_LAUNCH(fill_uniform_kernel, soma_flat_blocks(blocks_of(count)), SOMA_BLOCK, 0, stream, seed,
                offset, lo, hi, y, count);
    return cudaGetLastError();
}

extern "C" cudaError_t soma_cuda_fill_normal(uint64_t seed, uint64_t offset, float mean,
                                             float stddev, float *y, int64_t count,
                                             cudaStream_t stream) {
    SOMA_LAUNCH(fill_normal_kernel, soma_flat_blocks(blocks_of(count)), SOMA_BLOCK, 0, stream, seed,
                offset, mean, stddev, y, count);
    return cudaGetLastError();
}

extern "C" cudaError_t soma_cuda_dropout(uint64_t seed, uint64_t offset, float p, const float *x,
                                         float *y, int64_t count, cudaStream_t stream) {
    /* on the host, in float, exactly as the CPU computes them */
    const float keep_scale = 1.0f / (1.0f - p);
    SOMA_LAUNCH(dropout_kernel, soma_flat_blocks(blocks_of(count)), SOMA_BLOCK, 0, stream, seed,
                offset, soma_dropout_threshold(p), keep_scale, x, y, count);
    return cudaGetLastError();
}

extern "C" cudaError_t soma_cuda_bias_act_dropout(int act, float param, float p, uint64_t seed,
                                                  uint64_t offset, const float *ctl,
                                                  int64_t stride, const float *x,
                                                  const float *bias, float *h, float *z,
                                                  uint32_t *mask, float *alive, int64_t m,
                                                  int64_t n, cudaStream_t stream) {
    const float keep_scale = 1.0f / (1.0f - p);
    SOMA_LAUNCH(bias_act_dropout_kernel, soma_flat_blocks(m * ((n + 31) / 32)), SOMA_BLOCK, 0, stream,
                (soma_activation)act, param, seed, offset, ctl, stride, soma_dropout_threshold(p),
                keep_scale, x,
                bias, h, z, mask, alive, m, n);
    return cudaGetLastError();
}

extern "C" cudaError_t soma_cuda_bias_act_dropout_backward(int act, float param, float p,
                                                           const float *z, const uint32_t *mask,
                                                           const float *dh, float *dx, int64_t m,
                                                           int64_t n, cudaStream_t stream) {
    const float keep_scale = 1.0f / (1.0f - p);
    SOMA_LAUNCH(bias_act_dropout_backward_kernel, soma_flat_blocks(m * n), SOMA_BLOCK, 0, stream,
                (soma_activation)act, param, keep_scale, z, mask, dh, dx, m, n);
    return cudaGetLastError();
}
