/* cpu_loss.c: losses (means over their terms, summed in double) and their
 * gradients (of that mean). */
#include <math.h>

#include "core/act_math.h"
#include "cpu/cpu_internal.h"
#include "cpu/cpu_parallel.h"

#define NUMEL(t) ((t)->rows * (t)->cols)

/* loss = 1/N sum (p - t)^2 */
CPU_KERNEL(soma_cpu_mse_loss) {
    (void)ctx;
    const float *p = call->in[0]->data, *t = call->in[1]->data;
    int64_t n = NUMEL(call->in[0]);
    double s = 0.0;
    SOMA_PARALLEL_SUM(n, s)
    for (int64_t i = 0; i < n; i++) {
        double d = (double)p[i] - (double)t[i];
        s += d * d;
    }
    call->out[0]->data[0] = (float)(s / (double)n);
    return SOMA_OK;
}

/* dp = 2 (p - t) / N */
CPU_KERNEL(soma_cpu_mse_backward) {
    (void)ctx;
    const float *p = call->in[0]->data, *t = call->in[1]->data;
    float *dp = call->out[0]->data;
    int64_t n = NUMEL(call->in[0]);
    float scale = 2.0f / (float)n;
    SOMA_PARALLEL_FOR(n)
    for (int64_t i = 0; i < n; i++) dp[i] = scale * (p[i] - t[i]);
    return SOMA_OK;
}

/* loss = 1/N sum max(x,0) - x t + log(1 + exp(-|x|)) */
CPU_KERNEL(soma_cpu_bce_logits_loss) {
    (void)ctx;
    const float *x = call->in[0]->data, *t = call->in[1]->data;
    int64_t n = NUMEL(call->in[0]);
    double s = 0.0;
    SOMA_PARALLEL_SUM(n, s)
    for (int64_t i = 0; i < n; i++)
        s += (double)(fmaxf(x[i], 0.0f) - x[i] * t[i] + log1pf(expf(-fabsf(x[i]))));
    call->out[0]->data[0] = (float)(s / (double)n);
    return SOMA_OK;
}

/* dx = (sigmoid(x) - t) / N */
CPU_KERNEL(soma_cpu_bce_logits_backward) {
    (void)ctx;
    const float *x = call->in[0]->data, *t = call->in[1]->data;
    float *dx = call->out[0]->data;
    int64_t n = NUMEL(call->in[0]);
    float inv_n = 1.0f / (float)n;
    SOMA_PARALLEL_FOR(n)
    for (int64_t i = 0; i < n; i++) dx[i] = (soma_sigmoidf(x[i]) - t[i]) * inv_n;
    return SOMA_OK;
}

/* The class index a float label holds, or -1 when it is not one of 0..n-1. */
static int64_t label_index(float label, int64_t n) {
    if (!(label >= 0.0f && label < (float)n) || label != floorf(label)) return -1;
    return (int64_t)label;
}

/* loss = 1/m sum_i logsumexp(x_i) - x_i[label_i]
 *      = 1/m sum_i log sum_j exp(x_ij - max_i) - (x_i[label_i] - max_i) */
CPU_KERNEL(soma_cpu_softmax_xent_loss) {
    (void)ctx;
    const float *x = call->in[0]->data, *labels = call->in[1]->data;
    int64_t m = call->in[0]->rows, n = call->in[0]->cols;
    double s = 0.0;
    SOMA_PARALLEL_SUM(m * n, s)
    for (int64_t i = 0; i < m; i++) {
        int64_t label = label_index(labels[i], n);
        float mx, log_sum;
        soma_cpu_row_stats(x + i * n, n, &mx, &log_sum);
        s += label < 0 ? NAN : (double)(log_sum - (x[i * n + label] - mx));
    }
    call->out[0]->data[0] = (float)(s / (double)m);
    return SOMA_OK;
}

/* dx = (softmax(x) - onehot(label)) / m */
CPU_KERNEL(soma_cpu_softmax_xent_backward) {
    (void)ctx;
    const float *x = call->in[0]->data, *labels = call->in[1]->data;
    float *dx = call->out[0]->data;
    int64_t m = call->in[0]->rows, n = call->in[0]->cols;
    float inv_m = 1.0f / (float)m;
    SOMA_PARALLEL_FOR(m * n)
    for (int64_t i = 0; i < m; i++) {
        int64_t label = label_index(labels[i], n);
        float mx, log_sum;
        soma_cpu_row_stats(x + i * n, n, &mx, &log_sum);
        for (int64_t j = 0; j < n; j++) {
            float g = (expf(x[i * n + j] - mx - log_sum) - (j == label ? 1.0f : 0.0f)) * inv_m;
            dx[i * n + j] = label < 0 ? NAN : g;
        }
    }
    return SOMA_OK;
}
