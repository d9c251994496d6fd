/* step.cu: the training step's control ops (core/step_ctl.h): a gather of
 * resident rows at the block's clock, and three one-thread kernels that read
 * and write the block. Their maths is the CPU's (the SOMA_HD functions of
 * step_ctl.h), so the two backends agree bit for bit. */
#include "kernels.h"
#include "launch_util.cuh" // SOMA_LAUNCH, SOMA_BLOCK, SOMA_GRID_STRIDE, soma_flat_blocks

#include "core/step_ctl.h" // soma_ctl_count, soma_ctl_begin, soma_ctl_watch_loss, soma_ctl_clip

/* dst[r, j] = src[order[first + r], j], first = clock * stride: one thread
 * per element, so consecutive threads copy consecutive floats of a row */
static __global__ void gather_rows_kernel(const float *src, const float *order, const float *ctl,
                                          int64_t stride, float *dst, int64_t rows,
                                          int64_t cols) {
    const int64_t first = soma_ctl_count(ctl + SOMA_CTL_CLOCK) * stride;
    SOMA_GRID_STRIDE(e, rows * cols) {
        const int64_t r = e / cols, j = e % cols;
        dst[e] = src[(int64_t)order[first + r] * cols + j];
    }
}

static __global__ void step_begin_kernel(const float *schedule, float *ctl) {
    soma_ctl_begin(schedule, ctl);
}

static __global__ void watch_loss_kernel(const float *loss, float rows, float *sum, float *ctl) {
    soma_ctl_watch_loss(loss[0], rows, sum, ctl);
}

static __global__ void clip_scale_kernel(const float *parts, int64_t k, float clip, float *ctl) {
    soma_ctl_clip(parts, k, clip, ctl);
}

extern "C" cudaError_t soma_cuda_gather_rows(const float *src, const float *order, const float *ctl,
                                             int64_t stride, float *dst, int64_t rows,
                                             int64_t cols, cudaStream_t stream) {
    SOMA_LAUNCH(gather_rows_kernel, soma_flat_blocks(rows * cols), SOMA_BLOCK, 0, stream, src,
                order, ctl, stride, dst, rows, cols);
    return cudaGetLastError();
}

extern "C" cudaError_t soma_cuda_step_begin(const float *schedule, float *ctl, cudaStream_t stream) {
    SOMA_LAUNCH(step_begin_kernel, 1, 1, 0, stream, schedule, ctl);
    return cudaGetLastError();
}

extern "C" cudaError_t soma_cuda_watch_loss(const float *loss, float rows, float *sum, float *ctl,
                                            cudaStream_t stream) {
    SOMA_LAUNCH(watch_loss_kernel, 1, 1, 0, stream, loss, rows, sum, ctl);
    return cudaGetLastError();
}

extern "C" cudaError_t soma_cuda_clip_scale(const float *parts, int64_t k, float clip, float *ctl,
                                            cudaStream_t stream) {
    SOMA_LAUNCH(clip_scale_kernel, 1, 1, 0, stream, parts, k, clip, ctl);
    return cudaGetLastError();
}
