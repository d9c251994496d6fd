/* cpu_random.c: Philox fills. Compiled with -ffp-contract=off (see
 * CMakeLists.txt) so that the float arithmetic in core/philox.h rounds
 * exactly as it does on the GPU and the numbers match bit for bit. */
#include "core/philox.h"
#include "cpu/cpu_internal.h"
#include "cpu/cpu_parallel.h"

CPU_KERNEL(soma_cpu_fill_uniform) {
    (void)ctx;
    float *t = call->out[0]->data;
    int64_t n = call->out[0]->rows * call->out[0]->cols;
    soma_op_params p = call->p;
    SOMA_PARALLEL_FOR(n)
    for (int64_t i = 0; i < n; i++) t[i] = soma_philox_uniform(p.seed, p.offset, (uint64_t)i, p.alpha, p.beta);
    return SOMA_OK;
}

CPU_KERNEL(soma_cpu_fill_normal) {
    (void)ctx;
    float *t = call->out[0]->data;
    int64_t n = call->out[0]->rows * call->out[0]->cols;
    soma_op_params p = call->p;
    SOMA_PARALLEL_FOR(n)
    for (int64_t i = 0; i < n; i++) t[i] = soma_philox_normal(p.seed, p.offset, (uint64_t)i, p.alpha, p.beta);
    return SOMA_OK;
}

/* y = x / (1 - p) where u_i >= p, else 0; forward and backward alike */
CPU_KERNEL(soma_cpu_dropout) {
    (void)ctx;
    const float *x = call->in[0]->data;
    float *y = call->out[0]->data;
    int64_t n = call->out[0]->rows * call->out[0]->cols;
    soma_op_params p = call->p;
    float keep_scale = 1.0f / (1.0f - p.alpha);
    SOMA_PARALLEL_FOR(n)
    for (int64_t i = 0; i < n; i++) {
        float u = soma_philox_uniform(p.seed, p.offset, (uint64_t)i, 0.0f, 1.0f);
        y[i] = u >= p.alpha ? x[i] * keep_scale : 0.0f;
    }
    return SOMA_OK;
}
