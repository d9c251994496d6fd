/* cpu_blas_absent.c: stands in for cpu_blas.c when soma is built without
 * OpenBLAS; the blocked GEMM is then the only one. */
#include "cpu/cpu_internal.h"

const soma_op_variant soma_cpu_variants[] = {
    {SOMA_OP_GEMM, "blocked", soma_cpu_gemm_blocked_op},
    {SOMA_OP_COUNT, NULL, NULL},
};

const char *soma_cpu_blas_description(void) { return NULL; }

int soma_cpu_blas_has_avx512_kernels(void) { return 0; }

int soma_cpu_blas_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                        const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                        float *c, int64_t ldc) {
    (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda;
    (void)b, (void)ldb, (void)beta, (void)c, (void)ldc;
    return 0;
}
