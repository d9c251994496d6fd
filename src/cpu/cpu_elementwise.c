/* cpu_elementwise.c: ops that map each element on its own. Every loop reads
 * element i before writing element i, so outputs may alias inputs. */
#include "core/act_math.h"
#include "cpu/cpu_internal.h"
#include "cpu/cpu_parallel.h"

#define NUMEL(t) ((t)->rows * (t)->cols)

static soma_activation activation_of(soma_op_id op) {
    return (soma_activation)((op - SOMA_OP_IDENTITY) / 2);
}

/* y = f(x) */
CPU_KERNEL(soma_cpu_activation_forward) {
    (void)ctx;
    soma_activation act = activation_of(call->op);
    const float *x = call->in[0]->data;
    float *y = call->out[0]->data, slope = call->p.alpha;
    int64_t n = NUMEL(call->out[0]);
    SOMA_PARALLEL_FOR(n)
    for (int64_t i = 0; i < n; i++) y[i] = soma_act_f(act, x[i], slope);
    return SOMA_OK;
}

/* dx = dy f'(x), with y = f(x) at hand */
CPU_KERNEL(soma_cpu_activation_backward) {
    (void)ctx;
    soma_activation act = activation_of(call->op);
    const float *x = call->in[0]->data, *y = call->in[1]->data, *dy = call->in[2]->data;
    float *dx = call->out[0]->data, slope = call->p.alpha;
    int64_t n = NUMEL(call->out[0]);
    SOMA_PARALLEL_FOR(n)
    for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * soma_act_df(act, x[i], y[i], slope);
    return SOMA_OK;
}

/* y[i,j] = x[i,j] + bias[j] */
CPU_KERNEL(soma_cpu_bias_add) {
    (void)ctx;
    const float *x = call->in[0]->data, *bias = call->in[1]->data;
    float *y = call->out[0]->data;
    int64_t m = call->out[0]->rows, n = call->out[0]->cols;
    SOMA_PARALLEL_FOR(m * n)
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) y[i * n + j] = x[i * n + j] + bias[j];
    return SOMA_OK;
}

/* y = alpha x */
CPU_KERNEL(soma_cpu_scale) {
    (void)ctx;
    const float *x = call->in[0]->data;
    float *y = call->out[0]->data, alpha = call->p.alpha;
    int64_t n = NUMEL(call->out[0]);
    SOMA_PARALLEL_FOR(n)
    for (int64_t i = 0; i < n; i++) y[i] = alpha * x[i];
    return SOMA_OK;
}

/* y += alpha x */
CPU_KERNEL(soma_cpu_axpy) {
    (void)ctx;
    const float *x = call->in[0]->data;
    float *y = call->out[0]->data, alpha = call->p.alpha;
    int64_t n = NUMEL(call->out[0]);
    SOMA_PARALLEL_FOR(n)
    for (int64_t i = 0; i < n; i++) y[i] += alpha * x[i];
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
