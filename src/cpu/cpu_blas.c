/* cpu_blas.c: OpenBLAS's sgemm, built when CMake finds OpenBLAS
 * (cpu_blas_absent.c stands in otherwise). */
#include <cblas.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu/cpu_internal.h"
#include "cpu/cpu_parallel.h" /* soma_cpu_fp_enter/leave, soma_cpu_team_* */

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

/* OpenBLAS picks its kernels at load time from the CPU it detects; 0.3.21
 * takes some AVX-512 Xeons for a Prescott and then runs SSE3 kernels at a
 * third of the speed (OPENBLAS_CORETYPE=SkylakeX corrects it). */
int soma_cpu_blas_has_avx512_kernels(void) {
    const char *core = openblas_get_corename();
    static const char *const fast[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
    for (size_t i = 0; core && i < sizeof fast / sizeof fast[0]; i++)
        if (strcmp(core, fast[i]) == 0) return 1;
    return 0;
}

/* OpenBLAS runs on soma's OpenMP threads, each thread one slice of C
 * through a single-threaded sgemm, rather than on OpenBLAS's own thread
 * pool: two pools on two cores fight (each spins, and OpenBLAS's threads
 * keep spinning for a while after every call), which cost more in a training
 * step, where OpenMP kernels run between the GEMMs, than OpenBLAS gained.
 * This sets a pthread OpenBLAS's thread count to 1 for the whole process (the
 * CLI keeps its pool empty from the start: tools/openblas_env.c). An OpenMP
 * build is left alone: its thread count is OpenMP's, which is soma's too, and
 * called inside soma's parallel region it runs on the calling thread. A
 * serial build (cmake/openblas.cmake refuses it, but it may be what loads) is
 * not safe to call from two threads at once: it gets one call at a time.
 * Slices are whole 64-column or 64-row blocks, along the longer side of C. */
#define SLICE_UNIT 64
#define MACS_PER_THREAD (1 << 22) /* less work per thread is not worth a thread */

static void sgemm_slice(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                        const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                        float *c, int64_t ldc, int part, int parts) {
    int split_rows = m > n;
    int64_t len = split_rows ? m : n, units = (len + SLICE_UNIT - 1) / SLICE_UNIT;
    int64_t first = units * part / parts * SLICE_UNIT, last = units * (part + 1) / parts * SLICE_UNIT;
    last = last < len ? last : len;
    if (first >= last) return;
    if (split_rows) { /* rows first..last of C and op(A) */
        a += trans_a ? first : first * lda;
        c += first * ldc;
        m = last - first;
    } else { /* columns first..last of C and op(B) */
        b += trans_b ? first * ldb : first;
        c += first;
        n = last - first;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, alpha, a, (int)lda, b,
                (int)ldb, beta, c, (int)ldc);
}

int soma_cpu_blas_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                        const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                        float *c, int64_t ldc) {
    /* cblas takes 32-bit sizes */
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX || lda > INT_MAX || ldb > INT_MAX || ldc > INT_MAX)
        return 0;
    int parallel = openblas_get_parallel(); /* 0 serial, 1 pthread, 2 OpenMP */
    if (parallel == 1) { /* OpenBLAS's pool is not to be resized by two callers at once (soma_mlp_run) */
        static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
        pthread_mutex_lock(&pool_lock);
        if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
        pthread_mutex_unlock(&pool_lock);
    }
    int team = 1;
#ifdef _OPENMP
    double macs = (double)m * (double)n * (double)k;
    int64_t units = ((m > n ? m : n) + SLICE_UNIT - 1) / SLICE_UNIT;
    team = omp_in_parallel() || parallel == 0 ? 1 : omp_get_max_threads();
    if (macs < (double)team * MACS_PER_THREAD) team = (int)(macs / MACS_PER_THREAD);
    if (team > units) team = (int)units;
    if (team < 1) team = 1;
    team = soma_cpu_team_size(team);
    soma_cpu_team clock;
    soma_cpu_team_begin(&clock);
#pragma omp parallel num_threads(team) if (team > 1)
    {
        soma_cpu_team_started(&clock);
        unsigned saved = soma_cpu_fp_enter();
        sgemm_slice(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
                    omp_get_thread_num(), omp_get_num_threads());
        soma_cpu_fp_leave(saved);
        if (omp_get_thread_num() == 0) soma_cpu_team_caller_done(&clock);
    }
    if (team > 1) soma_cpu_team_end(&clock);
#else
    unsigned saved = soma_cpu_fp_enter();
    sgemm_slice(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, 0, 1);
    soma_cpu_fp_leave(saved);
#endif
    return 1;
}
