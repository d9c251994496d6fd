/* cpu_elementwise.c: ops that map each element on its own. Every loop reads
 * element i before writing element i, so outputs may alias inputs.
 *
 * The loops run through soma_cpu_parallel_for (threads for large tensors,
 * denormals flushed) and are compiled per instruction set
 * (SOMA_CPU_RANGE_VARIANTS).
 * The activation switch sits outside the loops: each activation gets a loop
 * of its own, which the compiler vectorises where the maths allows (identity,
 * ReLU, leaky ReLU; the others call libm per element). */
#include "core/act_math.h"
#include "cpu/cpu_internal.h"
#include "cpu/cpu_parallel.h"

#define NUMEL(t) ((t)->rows * (t)->cols)
#define ALIGN 16 /* pieces of 16 floats: whole cache lines per thread */

static soma_activation activation_of(soma_op_id op) {
    return (soma_activation)((op - SOMA_OP_IDENTITY) / 2);
}

typedef struct map_args {
    soma_activation act;
    float param;
    const float *x, *y, *dy, *bias;
    float *out, *out2;
    int64_t cols;
} map_args;

/* y = f(x) */
SOMA_CPU_RANGE_BODY act_forward_range(const void *v, int64_t begin, int64_t end) {
    const map_args *a = v;
    const float *x = a->x;
    float *y = a->out, slope = a->param;
    FOR_EACH_ACTIVATION(a->act, for (int64_t i = begin; i < end; i++) y[i] = soma_act_f(ACT, x[i], slope))
}
SOMA_CPU_RANGE_VARIANTS(act_forward_range)

CPU_KERNEL(soma_cpu_activation_forward) {
    (void)ctx;
    map_args a = {.act = activation_of(call->op), .param = call->p.alpha, .x = call->in[0]->data,
                  .out = call->out[0]->data};
    soma_cpu_parallel_for(NUMEL(call->out[0]), 1, ALIGN, act_forward_range_variant(), &a);
    return SOMA_OK;
}

/* dx = dy f'(x), with y = f(x) at hand */
SOMA_CPU_RANGE_BODY act_backward_range(const void *v, int64_t begin, int64_t end) {
    const map_args *a = v;
    const float *x = a->x, *y = a->y, *dy = a->dy;
    float *dx = a->out, slope = a->param;
    FOR_EACH_ACTIVATION(a->act, for (int64_t i = begin; i < end; i++)
                                    dx[i] = dy[i] * soma_act_df(ACT, x[i], y[i], slope))
}
SOMA_CPU_RANGE_VARIANTS(act_backward_range)

CPU_KERNEL(soma_cpu_activation_backward) {
    (void)ctx;
    map_args a = {.act = activation_of(call->op), .param = call->p.alpha, .x = call->in[0]->data,
                  .y = call->in[1]->data, .dy = call->in[2]->data, .out = call->out[0]->data};
    soma_cpu_parallel_for(NUMEL(call->out[0]), 1, ALIGN, act_backward_range_variant(), &a);
    return SOMA_OK;
}

/* rows [begin, end): y[i,j] = x[i,j] + bias[j] */
SOMA_CPU_RANGE_BODY bias_add_rows(const void *v, int64_t begin, int64_t end) {
    const map_args *a = v;
    const int64_t n = a->cols;
    const float *bias = a->bias;
    for (int64_t i = begin; i < end; i++) {
        const float *x = a->x + i * n;
        float *y = a->out + i * n;
        for (int64_t j = 0; j < n; j++) y[j] = x[j] + bias[j];
    }
}
SOMA_CPU_RANGE_VARIANTS(bias_add_rows)

CPU_KERNEL(soma_cpu_bias_add) {
    (void)ctx;
    map_args a = {.x = call->in[0]->data, .bias = call->in[1]->data, .out = call->out[0]->data,
                  .cols = call->out[0]->cols};
    soma_cpu_parallel_for(call->out[0]->rows, a.cols, 1, bias_add_rows_variant(), &a);
    return SOMA_OK;
}

/* rows [begin, end): z[i,j] = x[i,j] + bias[j], a[i,j] = f(z[i,j]), in one pass */
SOMA_CPU_RANGE_BODY bias_act_rows(const void *v, int64_t begin, int64_t end) {
    const map_args *a = v;
    const int64_t n = a->cols;
    const float *bias = a->bias, slope = a->param;
    FOR_EACH_ACTIVATION(a->act, for (int64_t i = begin; i < end; i++) {
        const float *x = a->x + i * n;
        float *z = a->out + i * n, *y = a->out2 + i * n;
        for (int64_t j = 0; j < n; j++) {
            float zj = x[j] + bias[j];
            z[j] = zj;
            y[j] = soma_act_f(ACT, zj, slope);
        }
    })
}
SOMA_CPU_RANGE_VARIANTS(bias_act_rows)

/* (x, bias) -> (z, a); params: act, alpha = leaky_relu's slope */
CPU_KERNEL(soma_cpu_bias_act) {
    (void)ctx;
    map_args a = {.act = (soma_activation)call->p.act, .param = call->p.alpha,
                  .x = call->in[0]->data, .bias = call->in[1]->data, .out = call->out[0]->data,
                  .out2 = call->out[1]->data, .cols = call->out[0]->cols};
    soma_cpu_parallel_for(call->out[0]->rows, 2 * a.cols, 1, bias_act_rows_variant(), &a);
    return SOMA_OK;
}

/* y = alpha x */
SOMA_CPU_RANGE_BODY scale_range(const void *v, int64_t begin, int64_t end) {
    const map_args *a = v;
    const float *x = a->x, alpha = a->param;
    float *y = a->out;
    for (int64_t i = begin; i < end; i++) y[i] = alpha * x[i];
}
SOMA_CPU_RANGE_VARIANTS(scale_range)

CPU_KERNEL(soma_cpu_scale) {
    (void)ctx;
    map_args a = {.param = call->p.alpha, .x = call->in[0]->data, .out = call->out[0]->data};
    soma_cpu_parallel_for(NUMEL(call->out[0]), 1, ALIGN, scale_range_variant(), &a);
    return SOMA_OK;
}

/* y += alpha x (y does not alias x) */
SOMA_CPU_RANGE_BODY axpy_range(const void *v, int64_t begin, int64_t end) {
    const map_args *a = v;
    const float *restrict x = a->x;
    float *restrict y = a->out;
    const float alpha = a->param;
    for (int64_t i = begin; i < end; i++) y[i] += alpha * x[i];
}
SOMA_CPU_RANGE_VARIANTS(axpy_range)

CPU_KERNEL(soma_cpu_axpy) {
    (void)ctx;
    map_args a = {.param = call->p.alpha, .x = call->in[0]->data, .out = call->out[0]->data};
    soma_cpu_parallel_for(NUMEL(call->out[0]), 1, ALIGN, axpy_range_variant(), &a);
    return SOMA_OK;
}

/* t = alpha */
CPU_KERNEL(soma_cpu_fill) {
    (void)ctx;
    float *t = call->out[0]->data, value = call->p.alpha;
    int64_t n = NUMEL(call->out[0]);
    SOMA_PARALLEL_FOR(n)
    for (int64_t i = 0; i < n; i++) t[i] = value;
    return SOMA_OK;
}
