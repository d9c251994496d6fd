/* cpu_norm.c: batch and layer normalization, forward and backward, and the
 * residual sum (soma/ops.h gives the maths).
 *
 * Batchnorm reduces over the rows of each column: threads split the
 * columns, and each walks its columns in blocks of NORM_BLOCK, rows whole,
 * so the inner loop runs over contiguous memory as bias_grad's does.
 * Layernorm reduces over the columns of each row: threads split the rows;
 * its dgamma and dbeta are column sums again, split by columns.
 * Sums accumulate in double: this backend is the one the GPU is compared
 * with, and a float running sum over 10^5 elements drifts past the limit
 * (cpu_softmax.c says how far). Per-element maths stays in float, in the
 * order the CUDA kernels use. */
#include <math.h>

#include "cpu/cpu_internal.h"
#include "cpu/cpu_parallel.h"

#define NORM_BLOCK 64 /* columns per block: 2 double sums each stay in L1 */
#define ALIGN 16      /* thread boundaries on whole cache lines of floats */

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* ---- batchnorm: columns [begin, end) ------------------------------------- */

/* mean and biased variance of columns [j0, j1) over m rows, in double */
static void column_stats(const float *x, int64_t m, int64_t n, int64_t j0, int64_t j1,
                         double *mean, double *var) {
    for (int64_t j = j0; j < j1; j++) mean[j - j0] = var[j - j0] = 0.0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = j0; j < j1; j++) mean[j - j0] += x[i * n + j];
    for (int64_t j = j0; j < j1; j++) mean[j - j0] /= (double)m;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = j0; j < j1; j++) {
            const double d = x[i * n + j] - mean[j - j0];
            var[j - j0] += d * d;
        }
    for (int64_t j = j0; j < j1; j++) var[j - j0] /= (double)m;
}

/* (x, gamma, beta) -> (y, saved, running_mean, running_var) */
SOMA_CPU_RANGE_BODY batchnorm_train_columns(const void *v, int64_t begin, int64_t end) {
    const soma_op_call *call = v;
    const int64_t m = call->in[0]->rows, n = call->in[0]->cols;
    const float *x = call->in[0]->data, *gamma = call->in[1]->data, *beta = call->in[2]->data;
    float *y = call->out[0]->data, *saved = call->out[1]->data;
    float *rmean = call->out[2]->data, *rvar = call->out[3]->data;
    const double mom = call->p.momentum, unbias = (double)m / (double)(m - 1);
    for (int64_t j0 = begin; j0 < end; j0 += NORM_BLOCK) {
        const int64_t j1 = min64(j0 + NORM_BLOCK, end);
        double mean[NORM_BLOCK], var[NORM_BLOCK];
        float mean_f[NORM_BLOCK], scale[NORM_BLOCK];
        column_stats(x, m, n, j0, j1, mean, var);
        for (int64_t j = j0; j < j1; j++) {
            const float rstd = (float)(1.0 / sqrt(var[j - j0] + (double)call->p.eps));
            mean_f[j - j0] = (float)mean[j - j0];
            scale[j - j0] = gamma[j] * rstd;
            saved[j] = mean_f[j - j0];
            saved[n + j] = rstd;
            rmean[j] = (float)((1.0 - mom) * rmean[j] + mom * mean[j - j0]);
            rvar[j] = (float)((1.0 - mom) * rvar[j] + mom * var[j - j0] * unbias);
        }
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = j0; j < j1; j++)
                y[i * n + j] = (x[i * n + j] - mean_f[j - j0]) * scale[j - j0] + beta[j];
    }
}
SOMA_CPU_RANGE_VARIANTS(batchnorm_train_columns)

CPU_KERNEL(soma_cpu_batchnorm_forward_train) {
    (void)ctx;
    soma_cpu_parallel_for(call->in[0]->cols, 3 * call->in[0]->rows, ALIGN,
                          batchnorm_train_columns_variant(), call);
    return SOMA_OK;
}

/* rows [begin, end): y = (x - running_mean) gamma / sqrt(running_var + eps) + beta */
SOMA_CPU_RANGE_BODY batchnorm_eval_rows(const void *v, int64_t begin, int64_t end) {
    const soma_op_call *call = v;
    const int64_t n = call->in[0]->cols;
    const float *gamma = call->in[1]->data, *beta = call->in[2]->data;
    const float *rmean = call->in[3]->data, *rvar = call->in[4]->data, eps = call->p.eps;
    for (int64_t i = begin; i < end; i++) {
        const float *x = call->in[0]->data + i * n;
        float *y = call->out[0]->data + i * n;
        for (int64_t j = 0; j < n; j++) y[j] = (x[j] - rmean[j]) * (gamma[j] / sqrtf(rvar[j] + eps)) + beta[j];
    }
}
SOMA_CPU_RANGE_VARIANTS(batchnorm_eval_rows)

CPU_KERNEL(soma_cpu_batchnorm_forward_eval) {
    (void)ctx;
    soma_cpu_parallel_for(call->in[0]->rows, 2 * call->in[0]->cols, 1, batchnorm_eval_rows_variant(), call);
    return SOMA_OK;
}

/* (x, gamma, saved, dy) -> (dx, dgamma, dbeta), per column:
 * dx = gamma rstd / m (m dy - sum dy - xhat sum dy xhat) */
SOMA_CPU_RANGE_BODY batchnorm_backward_columns(const void *v, int64_t begin, int64_t end) {
    const soma_op_call *call = v;
    const int64_t m = call->in[0]->rows, n = call->in[0]->cols;
    const float *x = call->in[0]->data, *gamma = call->in[1]->data, *saved = call->in[2]->data;
    const float *dy = call->in[3]->data;
    float *dx = call->out[0]->data, *dgamma = call->out[1]->data, *dbeta = call->out[2]->data;
    for (int64_t j0 = begin; j0 < end; j0 += NORM_BLOCK) {
        const int64_t j1 = min64(j0 + NORM_BLOCK, end);
        double sum_dy[NORM_BLOCK], sum_dy_xhat[NORM_BLOCK];
        float k[NORM_BLOCK];
        for (int64_t j = j0; j < j1; j++) sum_dy[j - j0] = sum_dy_xhat[j - j0] = 0.0;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = j0; j < j1; j++) {
                const float xhat = (x[i * n + j] - saved[j]) * saved[n + j];
                sum_dy[j - j0] += dy[i * n + j];
                sum_dy_xhat[j - j0] += (double)(dy[i * n + j] * xhat);
            }
        for (int64_t j = j0; j < j1; j++) {
            dbeta[j] = (float)sum_dy[j - j0];
            dgamma[j] = (float)sum_dy_xhat[j - j0];
            k[j - j0] = gamma[j] * saved[n + j] / (float)m;
        }
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = j0; j < j1; j++) {
                const float xhat = (x[i * n + j] - saved[j]) * saved[n + j];
                dx[i * n + j] = k[j - j0] * ((float)m * dy[i * n + j] - dbeta[j] - xhat * dgamma[j]);
            }
    }
}
SOMA_CPU_RANGE_VARIANTS(batchnorm_backward_columns)

CPU_KERNEL(soma_cpu_batchnorm_backward) {
    (void)ctx;
    soma_cpu_parallel_for(call->in[0]->cols, 3 * call->in[0]->rows, ALIGN,
                          batchnorm_backward_columns_variant(), call);
    return SOMA_OK;
}

/* ---- layernorm: rows [begin, end), and columns for dgamma, dbeta ---------- */

/* (x, gamma, beta) -> (y, saved [m,2]) */
SOMA_CPU_RANGE_BODY layernorm_rows(const void *v, int64_t begin, int64_t end) {
    const soma_op_call *call = v;
    const int64_t n = call->in[0]->cols;
    const float *gamma = call->in[1]->data, *beta = call->in[2]->data;
    for (int64_t i = begin; i < end; i++) {
        const float *x = call->in[0]->data + i * n;
        float *y = call->out[0]->data + i * n, *saved = call->out[1]->data + 2 * i;
        double mean = 0.0, var = 0.0;
        for (int64_t j = 0; j < n; j++) mean += x[j];
        mean /= (double)n;
        for (int64_t j = 0; j < n; j++) var += (x[j] - mean) * (x[j] - mean);
        var /= (double)n;
        const float mean_f = (float)mean, rstd = (float)(1.0 / sqrt(var + (double)call->p.eps));
        for (int64_t j = 0; j < n; j++) y[j] = gamma[j] * ((x[j] - mean_f) * rstd) + beta[j];
        saved[0] = mean_f;
        saved[1] = rstd;
    }
}
SOMA_CPU_RANGE_VARIANTS(layernorm_rows)

CPU_KERNEL(soma_cpu_layernorm_forward) {
    (void)ctx;
    soma_cpu_parallel_for(call->in[0]->rows, 3 * call->in[0]->cols, 1, layernorm_rows_variant(), call);
    return SOMA_OK;
}

/* rows [begin, end) of dx, with g = dy gamma:
 * dx = rstd / n (n g - sum g - xhat sum g xhat) */
SOMA_CPU_RANGE_BODY layernorm_dx_rows(const void *v, int64_t begin, int64_t end) {
    const soma_op_call *call = v;
    const int64_t n = call->in[0]->cols;
    const float *gamma = call->in[1]->data;
    for (int64_t i = begin; i < end; i++) {
        const float *x = call->in[0]->data + i * n, *dy = call->in[3]->data + i * n;
        const float mean = call->in[2]->data[2 * i], rstd = call->in[2]->data[2 * i + 1];
        float *dx = call->out[0]->data + i * n;
        double sum_g = 0.0, sum_g_xhat = 0.0;
        for (int64_t j = 0; j < n; j++) {
            const float g = dy[j] * gamma[j];
            sum_g += g;
            sum_g_xhat += (double)(g * ((x[j] - mean) * rstd));
        }
        const float a = (float)sum_g, b = (float)sum_g_xhat, k = rstd / (float)n;
        for (int64_t j = 0; j < n; j++)
            dx[j] = k * ((float)n * (dy[j] * gamma[j]) - a - ((x[j] - mean) * rstd) * b);
    }
}
SOMA_CPU_RANGE_VARIANTS(layernorm_dx_rows)

/* columns [begin, end): dgamma = sum_i dy xhat, dbeta = sum_i dy */
SOMA_CPU_RANGE_BODY layernorm_param_columns(const void *v, int64_t begin, int64_t end) {
    const soma_op_call *call = v;
    const int64_t m = call->in[0]->rows, n = call->in[0]->cols;
    const float *x = call->in[0]->data, *saved = call->in[2]->data, *dy = call->in[3]->data;
    for (int64_t j0 = begin; j0 < end; j0 += NORM_BLOCK) {
        const int64_t j1 = min64(j0 + NORM_BLOCK, end);
        double sum_dy[NORM_BLOCK], sum_dy_xhat[NORM_BLOCK];
        for (int64_t j = j0; j < j1; j++) sum_dy[j - j0] = sum_dy_xhat[j - j0] = 0.0;
        for (int64_t i = 0; i < m; i++) {
            const float mean = saved[2 * i], rstd = saved[2 * i + 1];
            for (int64_t j = j0; j < j1; j++) {
                sum_dy[j - j0] += dy[i * n + j];
                sum_dy_xhat[j - j0] += (double)(dy[i * n + j] * ((x[i * n + j] - mean) * rstd));
            }
        }
        for (int64_t j = j0; j < j1; j++) {
            call->out[1]->data[j] = (float)sum_dy_xhat[j - j0];
            call->out[2]->data[j] = (float)sum_dy[j - j0];
        }
    }
}
SOMA_CPU_RANGE_VARIANTS(layernorm_param_columns)

CPU_KERNEL(soma_cpu_layernorm_backward) {
    (void)ctx;
    const int64_t m = call->in[0]->rows, n = call->in[0]->cols;
    soma_cpu_parallel_for(m, 4 * n, 1, layernorm_dx_rows_variant(), call);
    soma_cpu_parallel_for(n, 2 * m, ALIGN, layernorm_param_columns_variant(), call);
    return SOMA_OK;
}

/* ---- the residual sum ------------------------------------------------------ */

/* y = a + b; y may be a or b (each element is read before it is written) */
SOMA_CPU_RANGE_BODY add_range(const void *v, int64_t begin, int64_t end) {
    const soma_op_call *call = v;
    const float *a = call->in[0]->data, *b = call->in[1]->data;
    float *y = call->out[0]->data;
    for (int64_t i = begin; i < end; i++) y[i] = a[i] + b[i];
}
SOMA_CPU_RANGE_VARIANTS(add_range)

CPU_KERNEL(soma_cpu_add) {
    (void)ctx;
    soma_cpu_parallel_for(call->out[0]->rows * call->out[0]->cols, 1, ALIGN, add_range_variant(), call);
    return SOMA_OK;
}
