/* reference_norm.c: the float64 references of the normalizations and the
 * residual sum (soma/ops.h gives the maths). Two passes for the variance,
 * mean first, as the textbook writes it. */
#include <math.h>

#include "ref/reference.h"

/* x [m,n], gamma, beta [1,n] -> y [m,n], saved [2,n] (mean, 1/std),
 * running_mean, running_var [1,n] (read and written) */
void soma_ref_batchnorm_forward_train(const soma_ref_call *c) {
    const int64_t m = c->in_shape[0].rows, n = c->in_shape[0].cols;
    const double *x = c->in[0], *gamma = c->in[1], *beta = c->in[2], mom = c->p.momentum;
    double *y = c->out[0], *saved = c->out[1], *rmean = c->out[2], *rvar = c->out[3];
    for (int64_t j = 0; j < n; j++) {
        double mean = 0.0, var = 0.0;
        for (int64_t i = 0; i < m; i++) mean += x[i * n + j];
        mean /= (double)m;
        for (int64_t i = 0; i < m; i++) var += (x[i * n + j] - mean) * (x[i * n + j] - mean);
        var /= (double)m;
        const double rstd = 1.0 / sqrt(var + (double)c->p.eps);
        for (int64_t i = 0; i < m; i++) y[i * n + j] = gamma[j] * (x[i * n + j] - mean) * rstd + beta[j];
        saved[j] = mean;
        saved[n + j] = rstd;
        rmean[j] = (1.0 - mom) * rmean[j] + mom * mean;
        rvar[j] = (1.0 - mom) * rvar[j] + mom * var * (double)m / (double)(m - 1);
    }
}

/* (x, gamma, beta, running_mean, running_var) -> y */
void soma_ref_batchnorm_forward_eval(const soma_ref_call *c) {
    const int64_t m = c->in_shape[0].rows, n = c->in_shape[0].cols;
    const double *x = c->in[0], *gamma = c->in[1], *beta = c->in[2], *rmean = c->in[3], *rvar = c->in[4];
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            c->out[0][i * n + j] =
                gamma[j] * (x[i * n + j] - rmean[j]) / sqrt(rvar[j] + (double)c->p.eps) + beta[j];
}

/* (x, gamma, saved [2,n], dy) -> (dx, dgamma, dbeta), xhat = (x - mean) rstd:
 * dx = gamma rstd / m (m dy - sum dy - xhat sum dy xhat) */
void soma_ref_batchnorm_backward(const soma_ref_call *c) {
    const int64_t m = c->in_shape[0].rows, n = c->in_shape[0].cols;
    const double *x = c->in[0], *gamma = c->in[1], *saved = c->in[2], *dy = c->in[3];
    double *dx = c->out[0], *dgamma = c->out[1], *dbeta = c->out[2];
    for (int64_t j = 0; j < n; j++) {
        const double mean = saved[j], rstd = saved[n + j];
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (int64_t i = 0; i < m; i++) {
            sum_dy += dy[i * n + j];
            sum_dy_xhat += dy[i * n + j] * (x[i * n + j] - mean) * rstd;
        }
        for (int64_t i = 0; i < m; i++) {
            const double xhat = (x[i * n + j] - mean) * rstd;
            dx[i * n + j] = gamma[j] * rstd / (double)m *
                            ((double)m * dy[i * n + j] - sum_dy - xhat * sum_dy_xhat);
        }
        dgamma[j] = sum_dy_xhat;
        dbeta[j] = sum_dy;
    }
}

/* (x, gamma, beta) -> (y, saved [m,2]: mean_i, rstd_i) */
void soma_ref_layernorm_forward(const soma_ref_call *c) {
    const int64_t m = c->in_shape[0].rows, n = c->in_shape[0].cols;
    const double *gamma = c->in[1], *beta = c->in[2];
    for (int64_t i = 0; i < m; i++) {
        const double *x = c->in[0] + i * n;
        double mean = 0.0, var = 0.0;
        for (int64_t j = 0; j < n; j++) mean += x[j];
        mean /= (double)n;
        for (int64_t j = 0; j < n; j++) var += (x[j] - mean) * (x[j] - mean);
        var /= (double)n;
        const double rstd = 1.0 / sqrt(var + (double)c->p.eps);
        for (int64_t j = 0; j < n; j++) c->out[0][i * n + j] = gamma[j] * (x[j] - mean) * rstd + beta[j];
        c->out[1][2 * i] = mean;
        c->out[1][2 * i + 1] = rstd;
    }
}

/* (x, gamma, saved [m,2], dy) -> (dx, dgamma, dbeta), with g = dy gamma:
 * dx = rstd / n (n g - sum_k g - xhat sum_k g xhat) */
void soma_ref_layernorm_backward(const soma_ref_call *c) {
    const int64_t m = c->in_shape[0].rows, n = c->in_shape[0].cols;
    const double *gamma = c->in[1], *saved = c->in[2];
    double *dgamma = c->out[1], *dbeta = c->out[2];
    for (int64_t j = 0; j < n; j++) dgamma[j] = dbeta[j] = 0.0;
    for (int64_t i = 0; i < m; i++) {
        const double *x = c->in[0] + i * n, *dy = c->in[3] + i * n, mean = saved[2 * i], rstd = saved[2 * i + 1];
        double sum_g = 0.0, sum_g_xhat = 0.0;
        for (int64_t j = 0; j < n; j++) {
            sum_g += dy[j] * gamma[j];
            sum_g_xhat += dy[j] * gamma[j] * (x[j] - mean) * rstd;
        }
        for (int64_t j = 0; j < n; j++) {
            const double xhat = (x[j] - mean) * rstd;
            c->out[0][i * n + j] = rstd / (double)n * ((double)n * dy[j] * gamma[j] - sum_g - xhat * sum_g_xhat);
            dgamma[j] += dy[j] * xhat;
            dbeta[j] += dy[j];
        }
    }
}

void soma_ref_add(const soma_ref_call *c) {
    for (int64_t i = 0; i < c->in_shape[0].rows * c->in_shape[0].cols; i++)
        c->out[0][i] = c->in[0][i] + c->in[1][i];
}
