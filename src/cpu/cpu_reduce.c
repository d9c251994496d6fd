/* cpu_reduce.c: reductions: sums (in double), column sums, row argmax. */
#include "cpu/cpu_internal.h"
#include "cpu/cpu_parallel.h"

static double sum_all(const soma_tensor *t) {
    const float *x = t->data;
    int64_t n = t->rows * t->cols;
    double s = 0.0;
    SOMA_PARALLEL_SUM(n, s)
    for (int64_t i = 0; i < n; i++) s += x[i];
    return s;
}

CPU_KERNEL(soma_cpu_sum) {
    (void)ctx;
    call->out[0]->data[0] = (float)sum_all(call->in[0]);
    return SOMA_OK;
}

CPU_KERNEL(soma_cpu_sum_squares) {
    (void)ctx;
    const float *x = call->in[0]->data;
    int64_t n = call->in[0]->rows * call->in[0]->cols;
    double s = 0.0;
    SOMA_PARALLEL_SUM(n, s)
    for (int64_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    call->out[0]->data[0] = (float)s;
    return SOMA_OK;
}

CPU_KERNEL(soma_cpu_mean) {
    (void)ctx;
    const soma_tensor *x = call->in[0];
    call->out[0]->data[0] = (float)(sum_all(x) / (double)(x->rows * x->cols));
    return SOMA_OK;
}

typedef struct column_args {
    const float *x;
    float *out;
    int64_t rows, cols;
} column_args;

/* columns [begin, end): db[j] = sum_i dy[i,j]. Rows are added whole, so the
 * inner loop is a contiguous, vectorised add; column blocks of 256 keep the
 * partial sums in L1. */
SOMA_CPU_RANGE_BODY bias_grad_columns(const void *args, int64_t begin, int64_t end) {
    const column_args *a = args;
    const int64_t n = a->cols, block = 256;
    for (int64_t j0 = begin; j0 < end; j0 += block) {
        const int64_t j1 = j0 + block < end ? j0 + block : end;
        float *restrict db = a->out;
        for (int64_t j = j0; j < j1; j++) db[j] = 0.0f;
        for (int64_t i = 0; i < a->rows; i++) {
            const float *restrict dy = a->x + i * n;
            for (int64_t j = j0; j < j1; j++) db[j] += dy[j];
        }
    }
}
SOMA_CPU_RANGE_VARIANTS(bias_grad_columns)

/* threads split the columns, in whole cache lines */
CPU_KERNEL(soma_cpu_bias_grad) {
    (void)ctx;
    column_args a = {call->in[0]->data, call->out[0]->data, call->in[0]->rows, call->in[0]->cols};
    soma_cpu_parallel_for(a.cols, a.rows, 16, bias_grad_columns_variant(), &a);
    return SOMA_OK;
}

/* the first index of the row maximum */
static int64_t row_argmax(const float *x, int64_t n) {
    int64_t best = 0;
    for (int64_t j = 1; j < n; j++)
        if (x[j] > x[best]) best = j;
    return best;
}

CPU_KERNEL(soma_cpu_row_argmax) {
    (void)ctx;
    const float *x = call->in[0]->data;
    float *out = call->out[0]->data;
    int64_t m = call->in[0]->rows, n = call->in[0]->cols;
    SOMA_PARALLEL_FOR(m * n)
    for (int64_t i = 0; i < m; i++) out[i] = (float)row_argmax(x + i * n, n);
    return SOMA_OK;
}

CPU_KERNEL(soma_cpu_correct_count) {
    (void)ctx;
    const float *x = call->in[0]->data, *labels = call->in[1]->data;
    int64_t m = call->in[0]->rows, n = call->in[0]->cols;
    double count = 0.0;
    SOMA_PARALLEL_SUM(m * n, count)
    for (int64_t i = 0; i < m; i++) count += (float)row_argmax(x + i * n, n) == labels[i];
    call->out[0]->data[0] = (float)count;
    return SOMA_OK;
}

/* columns [begin, end): flags[j] = 1 if it was or some x[i,j] > 0, else 0;
 * a select per element, so it vectorises */
SOMA_CPU_RANGE_BODY active_columns_range(const void *args, int64_t begin, int64_t end) {
    const column_args *a = args;
    float *restrict flags = a->out;
    for (int64_t j = begin; j < end; j++) flags[j] = flags[j] != 0.0f ? 1.0f : 0.0f;
    for (int64_t i = 0; i < a->rows; i++) {
        const float *restrict x = a->x + i * a->cols;
        for (int64_t j = begin; j < end; j++) flags[j] = x[j] > 0.0f ? 1.0f : flags[j];
    }
}
SOMA_CPU_RANGE_VARIANTS(active_columns_range)

CPU_KERNEL(soma_cpu_active_columns) {
    (void)ctx;
    column_args a = {call->in[0]->data, call->out[0]->data, call->in[0]->rows, call->in[0]->cols};
    soma_cpu_parallel_for(a.cols, a.rows, 16, active_columns_range_variant(), &a);
    return SOMA_OK;
}
