/* cpu_gemm_op.c: the GEMM op on the CPU: the blocked kernel of cpu_gemm.c
 * or OpenBLAS's sgemm, by shape (below); both are also variants
 * ("blocked", "openblas") so tests and `soma check` exercise each.
 * C = alpha op(A) op(B) + beta C, row-major. */
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_gemm.h"
#include "cpu/cpu_internal.h"
#include "cpu/cpu_parallel.h" /* soma_cpu_isa_level */
#include "cpu/cpu_round.h"    /* TF32 and bf16 operands */
#include "core/error.h"       /* SOMA_TRY */

typedef struct gemm_dims {
    int64_t m, n, k;
} gemm_dims;

static gemm_dims dims_of(const soma_op_call *call) {
    const soma_tensor *a = call->in[0], *c = call->out[0];
    return (gemm_dims){c->rows, c->cols, call->p.trans_a ? a->rows : a->cols};
}

/* Both kernels take the operands rounded to the call's precision first. */
#define ROUNDED_CALL()                                                                         \
    soma_tensor rounded_[2];                                                                   \
    soma_op_call rounded_call_;                                                                \
    SOMA_TRY(soma_cpu_round_operands(call, rounded_, &rounded_call_));                         \
    rounded_call_.p.precision = SOMA_PRECISION_FP32; /* done: exact from here on */            \
    call = &rounded_call_

CPU_KERNEL(soma_cpu_gemm_blocked_op) {
    (void)ctx;
    ROUNDED_CALL();
    gemm_dims d = dims_of(call);
    const soma_tensor *a = call->in[0], *b = call->in[1];
    soma_tensor *c = call->out[0];
    return soma_cpu_gemm_blocked(call->p.trans_a, call->p.trans_b, d.m, d.n, d.k, call->p.alpha,
                                 a->data, a->cols, b->data, b->cols, call->p.beta, c->data, c->cols);
}

CPU_KERNEL(soma_cpu_gemm_openblas_op) {
    ROUNDED_CALL();
    gemm_dims d = dims_of(call);
    const soma_tensor *a = call->in[0], *b = call->in[1];
    soma_tensor *c = call->out[0];
    if (soma_cpu_blas_sgemm(call->p.trans_a, call->p.trans_b, d.m, d.n, d.k, call->p.alpha,
                            a->data, a->cols, b->data, b->cols, call->p.beta, c->data, c->cols))
        return SOMA_OK;
    return soma_cpu_gemm_blocked_op(ctx, call);
}

/* Which kernel runs a GEMM: soma's own, except where OpenBLAS, when it runs
 * its AVX-512 kernels, measured faster (bench/RESULTS.md, the GEMM table):
 * - products of 2^31 multiply-adds or more (512 x 4096 x 1024 and up): the
 *   large MLP's shapes with 512 batch rows, where soma's kernel reached
 *   0.64-0.89x of OpenBLAS's speed (two runs), and squares of 2048 and up,
 *   where the two are within noise of each other;
 * - tiny ones with a dimension under 16 (a 10-class output layer, whose
 *   forward, weight gradient and input gradient have n, m or k = 10:
 *   1.9-3x), where packing 8 x 32 tiles for 10 rows, columns or products
 *   costs more than the product.
 * soma's kernel wins on batch-sized shapes (1.1-1.5x on the MNIST MLPs) and
 * ties on squares up to 1024. Fixed by shape, never timed at run time, so a
 * run is reproducible bit for bit. SOMA_CPU_GEMM=own or =openblas forces
 * one. */
#define OPENBLAS_MIN_MACS (1ull << 31) /* 512 x 4096 x 1024 */
#define TINY_DIM 16
#define TINY_MACS (1ull << 20)

static int choice_from_env(void) { /* 0 auto, 1 own, 2 openblas */
    const char *env = getenv("SOMA_CPU_GEMM");
    if (env && strcmp(env, "openblas") == 0) return 2;
    if (env && strcmp(env, "own") == 0) return 1;
    return 0;
}

static int use_openblas(const soma_op_call *call) {
    static int choice = -1; /* read once; racing threads store the same value */
    int c = __atomic_load_n(&choice, __ATOMIC_RELAXED);
    if (c < 0) {
        c = choice_from_env();
        if (c == 0 && !(soma_cpu_blas_has_avx512_kernels() && soma_cpu_isa_level() == SOMA_CPU_ISA_AVX512))
            c = 1; /* OpenBLAS absent, or slower than soma's kernel everywhere */
        __atomic_store_n(&choice, c, __ATOMIC_RELAXED);
    }
    if (c != 0) return c == 2;
    gemm_dims d = dims_of(call);
    unsigned long long macs = (unsigned long long)d.m * (unsigned long long)d.n * (unsigned long long)d.k;
    if ((d.m < TINY_DIM || d.n < TINY_DIM || d.k < TINY_DIM) && macs < TINY_MACS) return 1;
    return macs >= OPENBLAS_MIN_MACS;
}

CPU_KERNEL(soma_cpu_gemm) {
    return use_openblas(call) ? soma_cpu_gemm_openblas_op(ctx, call) : soma_cpu_gemm_blocked_op(ctx, call);
}
