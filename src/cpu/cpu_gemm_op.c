/* cpu_gemm_op.c: the GEMM op on the CPU. The default uses OpenBLAS's sgemm
 * when soma is built with it and the blocked kernel of cpu_gemm.c otherwise;
 * both are also variants ("openblas", "blocked") so tests and `soma check`
 * exercise each. C = alpha op(A) op(B) + beta C, row-major. */
#include "cpu/cpu_gemm.h"
#include "cpu/cpu_internal.h"

typedef struct gemm_dims {
    int64_t m, n, k;
} gemm_dims;

static gemm_dims dims_of(const soma_op_call *call) {
    const soma_tensor *a = call->in[0], *c = call->out[0];
    return (gemm_dims){c->rows, c->cols, call->p.trans_a ? a->rows : a->cols};
}

CPU_KERNEL(soma_cpu_gemm_blocked_op) {
    (void)ctx;
    gemm_dims d = dims_of(call);
    const soma_tensor *a = call->in[0], *b = call->in[1];
    soma_tensor *c = call->out[0];
    return soma_cpu_gemm_blocked(call->p.trans_a, call->p.trans_b, d.m, d.n, d.k, call->p.alpha,
                                 a->data, a->cols, b->data, b->cols, call->p.beta, c->data, c->cols);
}

CPU_KERNEL(soma_cpu_gemm_openblas_op) {
    gemm_dims d = dims_of(call);
    const soma_tensor *a = call->in[0], *b = call->in[1];
    soma_tensor *c = call->out[0];
    if (soma_cpu_blas_sgemm(call->p.trans_a, call->p.trans_b, d.m, d.n, d.k, call->p.alpha,
                            a->data, a->cols, b->data, b->cols, call->p.beta, c->data, c->cols))
        return SOMA_OK;
    return soma_cpu_gemm_blocked_op(ctx, call);
}

CPU_KERNEL(soma_cpu_gemm) { return soma_cpu_gemm_openblas_op(ctx, call); }
