/* cpu_blas.c: OpenBLAS's sgemm, built when CMake finds OpenBLAS
 * (cpu_blas_absent.c stands in otherwise). */
#include <cblas.h>
#include <limits.h>
#include <stdio.h>

#include "cpu/cpu_internal.h"

const soma_op_variant soma_cpu_variants[] = {
    {SOMA_OP_GEMM, "blocked", soma_cpu_gemm_blocked_op},
    {SOMA_OP_GEMM, "openblas", soma_cpu_gemm_openblas_op},
    {SOMA_OP_COUNT, NULL, NULL},
};

const char *soma_cpu_blas_description(void) {
    static char desc[128];
    snprintf(desc, sizeof desc, "%s", openblas_get_config());
    return desc;
}

int soma_cpu_blas_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                        const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                        float *c, int64_t ldc) {
    /* cblas takes 32-bit sizes */
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX || lda > INT_MAX || ldb > INT_MAX || ldc > INT_MAX)
        return 0;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, alpha, a, (int)lda, b,
                (int)ldb, beta, c, (int)ldc);
    return 1;
}
