/* cpu_gemm_op.c: the GEMM op on the CPU: the blocked kernel of cpu_gemm.c
 * by default, OpenBLAS's sgemm on request; both are also variants
 * ("blocked", "openblas") so tests and `soma check` exercise each.
 * C = alpha op(A) op(B) + beta C, row-major. */
#include <stdlib.h>
#include <string.h>

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

/* The default is soma's own kernel: measured at 0.95-0.99x OpenBLAS on
 * large squares and 1.2-1.6x on the MLP shapes (bench/RESULTS.md), and it
 * shares OpenMP's threads, where OpenBLAS's own thread pool fights OpenMP's
 * spinning threads for the cores. SOMA_CPU_GEMM=openblas picks OpenBLAS. */
static int use_blocked(void) {
    static int choice = -1;
    if (choice < 0) {
        const char *env = getenv("SOMA_CPU_GEMM");
        choice = !(env && strcmp(env, "openblas") == 0);
    }
    return choice;
}

CPU_KERNEL(soma_cpu_gemm) {
    return use_blocked() ? soma_cpu_gemm_blocked_op(ctx, call) : soma_cpu_gemm_openblas_op(ctx, call);
}
