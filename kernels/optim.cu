/* optim.cu: optimizer updates (SGD with momentum, Adam/AdamW), each one
 * pass over parameters, gradient and state; formulas in soma/ops.h.
 *
 * One thread per element, grid-stride (launch_util.cuh). The outputs are
 * updated in place and never alias one another or the gradient (the op layer
 * refuses that), so each thread loads its element of every tensor once.
 *
 * Bit-identical with cpu_optim.c: every float step is spelled with an
 * __f*_rn intrinsic, in the CPU's order, so nvcc cannot contract a*b+c into
 * an fma that the CPU (ISO C, no contraction) does not do, and division and
 * square root stay correctly rounded whatever the flags (as sqrtf and / are
 * on the CPU). */
#include "kernels.h"
#include "launch_util.cuh" // SOMA_BLOCK, SOMA_GRID_STRIDE, soma_flat_blocks

#include "core/step_ctl.h" // the step control block: lr, corrections, scale, status

/* With a step control block (the sgd_step and adam_step ops), lr, Adam's
 * corrections and the gradient's scale come from it, and nothing is updated
 * while its status marks the run's step bad; without one the scale is 1. */
#define TAKE_STEP_SCALARS(ctl, lr, scale)                                                      \
    float scale = 1.0f;                                                                        \
    if (ctl) {                                                                                 \
        if (soma_ctl_count(ctl + SOMA_CTL_STATUS) != 0) return;                                \
        lr = ctl[SOMA_CTL_LR];                                                                 \
        scale = ctl[SOMA_CTL_SCALE];                                                           \
    }

/* g' = scale g + wd w;  v = momentum v + g';  w -= lr (nesterov ? g' + momentum v : v) */
static __global__ void sgd_update_kernel(float lr, float momentum, float weight_decay,
                                         int nesterov, const float *ctl, const float *g, float *w,
                                         float *v, int64_t count) {
    TAKE_STEP_SCALARS(ctl, lr, scale)
    SOMA_GRID_STRIDE(i, count) {
        float wi = w[i];
        float gi = __fadd_rn(__fmul_rn(scale, g[i]), __fmul_rn(weight_decay, wi)); /* g + wd w */
        float vi = __fadd_rn(__fmul_rn(momentum, v[i]), gi);        /* momentum v + g' */
        v[i] = vi;
        float step = nesterov ? __fadd_rn(gi, __fmul_rn(momentum, vi)) : vi;
        w[i] = __fsub_rn(wi, __fmul_rn(lr, step));                  /* w - lr step */
    }
}

/* m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g'^2;  w -= lr (m bc1) / (sqrt(v bc2) + eps),
 * g' = g + wd w (L2) or, decoupled (AdamW), w -= lr wd w first */
static __global__ void adam_update_kernel(float lr, float beta1, float beta2, float eps,
                                          float weight_decay, int decoupled,
                                          float bias_correction1, float bias_correction2,
                                          const float *ctl, const float *g, float *w, float *m,
                                          float *v, int64_t count) {
    TAKE_STEP_SCALARS(ctl, lr, scale)
    if (ctl) {
        bias_correction1 = ctl[SOMA_CTL_BC1];
        bias_correction2 = ctl[SOMA_CTL_BC2];
    }
    SOMA_GRID_STRIDE(i, count) {
        float wi = w[i], gi = __fmul_rn(scale, g[i]);
        if (decoupled)
            wi = __fsub_rn(wi, __fmul_rn(__fmul_rn(lr, weight_decay), wi)); /* w - (lr wd) w */
        else
            gi = __fadd_rn(gi, __fmul_rn(weight_decay, wi));                /* g + wd w */
        /* b1 m + (1 - b1) g' */
        float mi = __fadd_rn(__fmul_rn(beta1, m[i]), __fmul_rn(__fsub_rn(1.0f, beta1), gi));
        /* b2 v + ((1 - b2) g') g' */
        float vi = __fadd_rn(__fmul_rn(beta2, v[i]),
                             __fmul_rn(__fmul_rn(__fsub_rn(1.0f, beta2), gi), gi));
        m[i] = mi;
        v[i] = vi;
        /* w - (lr (m bc1)) / (sqrt(v bc2) + eps) */
        float num = __fmul_rn(lr, __fmul_rn(mi, bias_correction1));
        float den = __fadd_rn(__fsqrt_rn(__fmul_rn(vi, bias_correction2)), eps);
        w[i] = __fsub_rn(wi, __fdiv_rn(num, den));
    }
}

extern "C" cudaError_t soma_cuda_sgd_update(float lr, float momentum, float weight_decay,
                                            int nesterov, const float *ctl, const float *g,
                                            float *w, float *v, int64_t count,
                                            cudaStream_t stream) {
    SOMA_LAUNCH(sgd_update_kernel, soma_flat_blocks(count), SOMA_BLOCK, 0, stream, lr, momentum,
                weight_decay, nesterov, ctl, g, w, v, count);
    return cudaGetLastError();
}

extern "C" cudaError_t soma_cuda_adam_update(float lr, float beta1, float beta2, float eps,
                                             float weight_decay, int decoupled,
                                             float bias_correction1, float bias_correction2,
                                             const float *ctl, const float *g, float *w, float *m,
                                             float *v, int64_t count, cudaStream_t stream) {
    SOMA_LAUNCH(adam_update_kernel, soma_flat_blocks(count), SOMA_BLOCK, 0, stream, lr, beta1,
                beta2, eps, weight_decay, decoupled, bias_correction1, bias_correction2, ctl, g, w,
                m, v, count);
    return cudaGetLastError();
}
