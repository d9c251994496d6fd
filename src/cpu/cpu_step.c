/* cpu_step.c: the training step's control ops on the CPU (core/step_ctl.h;
 * the maths is shared with the CUDA kernels of kernels/step.cu). */
#include <string.h>

#include "core/step_ctl.h"
#include "cpu/cpu_internal.h"
#include "cpu/cpu_parallel.h"

typedef struct gather_args {
    const float *src, *order;
    float *dst;
    int64_t cols, first;
} gather_args;

/* dst rows [begin, end) from src rows order[first + r] */
static void gather_range(const void *v, int64_t begin, int64_t end) {
    const gather_args *a = v;
    for (int64_t r = begin; r < end; r++)
        memcpy(a->dst + r * a->cols, a->src + (int64_t)a->order[a->first + r] * a->cols,
               (size_t)a->cols * sizeof(float));
}

/* (src, order, ctl) -> dst[r] = src[order[clock * stride + r]] */
CPU_KERNEL(soma_cpu_gather_rows) {
    (void)ctx;
    const soma_tensor *dst = call->out[0];
    int64_t stride = call->p.step_stride ? call->p.step_stride : dst->rows;
    gather_args a = {call->in[0]->data, call->in[1]->data, call->out[0]->data, dst->cols,
                     soma_ctl_count(call->in[2]->data + SOMA_CTL_CLOCK) * stride};
    /* a gathered row costs a cache miss per 16 floats: weigh it as 8 */
    soma_cpu_parallel_for(dst->rows, dst->cols * 8, 1, gather_range, &a);
    return SOMA_OK;
}

/* schedule -> ctl */
CPU_KERNEL(soma_cpu_step_begin) {
    (void)ctx;
    soma_ctl_begin(call->in[0]->data, call->out[0]->data);
    return SOMA_OK;
}

/* loss -> (sum, ctl) */
CPU_KERNEL(soma_cpu_watch_loss) {
    (void)ctx;
    soma_ctl_watch_loss(call->in[0]->data[0], call->p.alpha, call->out[0]->data, call->out[1]->data);
    return SOMA_OK;
}

/* parts -> ctl */
CPU_KERNEL(soma_cpu_clip_scale) {
    (void)ctx;
    soma_ctl_clip(call->in[0]->data, call->in[0]->rows * call->in[0]->cols, call->p.alpha,
                  call->out[0]->data);
    return SOMA_OK;
}
