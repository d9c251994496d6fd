/* cpu_optim.c: optimizer updates, each one pass over parameters, gradient
 * and state (formulas in soma/ops.h). */
#include <math.h>

#include "cpu/cpu_internal.h"
#include "cpu/cpu_parallel.h"

/* outputs (w, v) */
CPU_KERNEL(soma_cpu_sgd_update) {
    (void)ctx;
    const float *g = call->in[0]->data;
    float *w = call->out[0]->data, *v = call->out[1]->data;
    const soma_op_params p = call->p;
    int64_t n = call->in[0]->rows * call->in[0]->cols;
    SOMA_PARALLEL_FOR(n)
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i] + p.weight_decay * w[i];
        float vi = p.momentum * v[i] + gi;
        v[i] = vi;
        w[i] -= p.lr * (p.nesterov ? gi + p.momentum * vi : vi);
    }
    return SOMA_OK;
}

/* outputs (w, m, v) */
CPU_KERNEL(soma_cpu_adam_update) {
    (void)ctx;
    const float *g = call->in[0]->data;
    float *w = call->out[0]->data, *m = call->out[1]->data, *v = call->out[2]->data;
    const soma_op_params p = call->p;
    int64_t n = call->in[0]->rows * call->in[0]->cols;
    SOMA_PARALLEL_FOR(n)
    for (int64_t i = 0; i < n; i++) {
        float wi = w[i], gi = g[i];
        if (p.decoupled)
            wi -= p.lr * p.weight_decay * wi;
        else
            gi += p.weight_decay * wi;
        float mi = p.beta1 * m[i] + (1.0f - p.beta1) * gi;
        float vi = p.beta2 * v[i] + (1.0f - p.beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] = wi - p.lr * (mi * p.bias_correction1) / (sqrtf(vi * p.bias_correction2) + p.eps);
    }
    return SOMA_OK;
}
