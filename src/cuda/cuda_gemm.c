/* cuda_gemm.c: C = alpha op(A) op(B) + beta C on the GPU, by cuBLAS
 * (default) and by cuBLASLt (variant "cublaslt").
 *
 * cuBLAS is column-major and soma row-major. A row-major r x c matrix is the
 * column-major c x r matrix (its transpose) with leading dimension c, so
 *   row-major  C[m,n] = op(A) op(B)
 * is column-major C^T[n,m] = op(B)^T op(A)^T: we pass B first with B's op,
 * A second with A's op, and swap m and n. No data moves.
 * With beta == 0 cublasSgemm writes C without reading it (documented, as
 * in BLAS); cuBLASLt is relied on to do the same (to be confirmed on a GPU
 * with a NaN-filled C). */
#include <limits.h>
#include <stdint.h>

#include "cuda/cuda_internal.h"

/* The call in cuBLAS's column-major terms. */
typedef struct gemm_shape {
    int rows, cols, inner;          /* n, m, k: the column-major D is rows x cols */
    cublasOperation_t op_first;     /* on B */
    cublasOperation_t op_second;    /* on A */
    int ld_first, ld_second, ld_out; /* B->cols, A->cols, n */
} gemm_shape;

static soma_status gemm_shape_of(const soma_op_call *call, gemm_shape *s) {
    const soma_tensor *a = call->in[0], *b = call->in[1], *c = call->out[0];
    int64_t m = c->rows, n = c->cols, k = call->p.trans_a ? a->rows : a->cols;
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX || a->cols > INT_MAX || b->cols > INT_MAX)
        return soma_fail(SOMA_ERR_UNSUPPORTED,
                         "soma_gemm: %lldx%lld = op(%lldx%lld) op(%lldx%lld) has a dimension "
                         "above INT_MAX, beyond cuBLAS's 32-bit interface",
                         (long long)m, (long long)n, (long long)a->rows, (long long)a->cols,
                         (long long)b->rows, (long long)b->cols);
    s->rows = (int)n;
    s->cols = (int)m;
    s->inner = (int)k;
    s->op_first = call->p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    s->op_second = call->p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    s->ld_first = (int)b->cols;
    s->ld_second = (int)a->cols;
    s->ld_out = (int)n;
    return SOMA_OK;
}

soma_status soma_cuda_gemm(void *vctx, const soma_op_call *call) {
    soma_cuda_ctx *ctx = vctx;
    gemm_shape s = {0};
    SOMA_TRY(gemm_shape_of(call, &s));
    SOMA_TRY(soma_cuda_enter(ctx, "gemm"));
    const float alpha = call->p.alpha, beta = call->p.beta;
    return soma_cublas_check(ctx->ordinal,
                             cublasSgemm(ctx->cublas, s.op_first, s.op_second, s.rows, s.cols,
                                         s.inner, &alpha, call->in[1]->data, s.ld_first,
                                         call->in[0]->data, s.ld_second, &beta,
                                         call->out[0]->data, s.ld_out),
                             "gemm", "cublasSgemm");
}

/* ---- cuBLASLt ------------------------------------------------------------ */

/* The largest power of two (<= 256, the heuristic's default assumption) that
 * divides the address. Row views start at any float, so the heuristic must
 * be told, or it may pick a kernel that needs 16-byte aligned operands. */
static uint32_t alignment_of(const void *p) {
    uint32_t align = 256;
    while (align > 1 && (uintptr_t)p % align != 0) align /= 2;
    return align;
}

/* Everything one cublasLtMatmul needs; NULL members are not created yet. */
typedef struct lt_plan {
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t first, second, out;
    cublasLtMatmulPreference_t pref;
} lt_plan;

static void lt_plan_destroy(lt_plan *p) {
    if (p->pref) (void)cublasLtMatmulPreferenceDestroy(p->pref);
    if (p->out) (void)cublasLtMatrixLayoutDestroy(p->out);
    if (p->second) (void)cublasLtMatrixLayoutDestroy(p->second);
    if (p->first) (void)cublasLtMatrixLayoutDestroy(p->first);
    if (p->op) (void)cublasLtMatmulDescDestroy(p->op);
}

/* Calls a cuBLASLt function and returns a status naming it on failure. */
#define LT_CALL(fn, ...)                                                                   \
    SOMA_TRY(soma_cublas_check(ordinal, fn(__VA_ARGS__), "gemm (cublaslt)", #fn))

/* Describes the call: FP32 data, FP32 compute (CUBLAS_COMPUTE_32F: no TF32),
 * the layouts as stored (before op), and a preference that fits our
 * workspace and the operands' actual alignment. */
static soma_status lt_plan_create(int ordinal, const soma_op_call *call, const gemm_shape *s,
                                  lt_plan *p) {
    const soma_tensor *a = call->in[0], *b = call->in[1], *c = call->out[0];
    LT_CALL(cublasLtMatmulDescCreate, &p->op, CUBLAS_COMPUTE_32F, CUDA_R_32F);
    int32_t op_first = s->op_first, op_second = s->op_second;
    LT_CALL(cublasLtMatmulDescSetAttribute, p->op, CUBLASLT_MATMUL_DESC_TRANSA, &op_first,
            sizeof op_first);
    LT_CALL(cublasLtMatmulDescSetAttribute, p->op, CUBLASLT_MATMUL_DESC_TRANSB, &op_second,
            sizeof op_second);
    /* a stored row-major r x c matrix is column-major c x r, leading dim c */
    LT_CALL(cublasLtMatrixLayoutCreate, &p->first, CUDA_R_32F, (uint64_t)b->cols,
            (uint64_t)b->rows, b->cols);
    LT_CALL(cublasLtMatrixLayoutCreate, &p->second, CUDA_R_32F, (uint64_t)a->cols,
            (uint64_t)a->rows, a->cols);
    LT_CALL(cublasLtMatrixLayoutCreate, &p->out, CUDA_R_32F, (uint64_t)c->cols,
            (uint64_t)c->rows, c->cols);

    LT_CALL(cublasLtMatmulPreferenceCreate, &p->pref);
    uint64_t workspace = SOMA_CUDA_LT_WORKSPACE_BYTES;
    LT_CALL(cublasLtMatmulPreferenceSetAttribute, p->pref,
            CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace, sizeof workspace);
    uint32_t align_first = alignment_of(b->data), align_second = alignment_of(a->data),
             align_out = alignment_of(c->data);
    LT_CALL(cublasLtMatmulPreferenceSetAttribute, p->pref,
            CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_first, sizeof align_first);
    LT_CALL(cublasLtMatmulPreferenceSetAttribute, p->pref,
            CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_second, sizeof align_second);
    LT_CALL(cublasLtMatmulPreferenceSetAttribute, p->pref,
            CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_out, sizeof align_out);
    LT_CALL(cublasLtMatmulPreferenceSetAttribute, p->pref,
            CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_out, sizeof align_out);
    return SOMA_OK;
}

/* TODO: cache the plan and the chosen algorithm per (shape, transposes,
 * alignment); today every call rebuilds the descriptors and asks the
 * heuristic again (microseconds of host time per call). */
static soma_status lt_run(soma_cuda_ctx *ctx, const soma_op_call *call, const gemm_shape *s,
                          lt_plan *p) {
    const int ordinal = ctx->ordinal;
    SOMA_TRY(lt_plan_create(ordinal, call, s, p));
    cublasLtMatmulHeuristicResult_t result;
    int found = 0;
    LT_CALL(cublasLtMatmulAlgoGetHeuristic, ctx->cublaslt, p->op, p->first, p->second, p->out,
            p->out, p->pref, 1, &result, &found);
    if (found < 1 || result.state != CUBLAS_STATUS_SUCCESS)
        return soma_fail(SOMA_ERR_UNSUPPORTED,
                         "cuda:%d gemm (cublaslt): no cuBLASLt algorithm for a %dx%d result "
                         "with inner dimension %d",
                         ordinal, s->cols, s->rows, s->inner);
    if (result.workspaceSize > SOMA_CUDA_LT_WORKSPACE_BYTES)
        return soma_fail(SOMA_ERR_BACKEND,
                         "cuda:%d gemm (cublaslt): the heuristic's algorithm wants %zu bytes of "
                         "workspace, above the %zu allowed",
                         ordinal, result.workspaceSize, SOMA_CUDA_LT_WORKSPACE_BYTES);
    const float alpha = call->p.alpha, beta = call->p.beta;
    float *c = call->out[0]->data;
    /* D = C, in place */
    LT_CALL(cublasLtMatmul, ctx->cublaslt, p->op, &alpha, call->in[1]->data, p->first,
            call->in[0]->data, p->second, &beta, c, p->out, c, p->out, &result.algo,
            ctx->lt_workspace, SOMA_CUDA_LT_WORKSPACE_BYTES, ctx->stream);
    return SOMA_OK;
}

soma_status soma_cuda_gemm_lt(void *vctx, const soma_op_call *call) {
    soma_cuda_ctx *ctx = vctx;
    gemm_shape s = {0};
    SOMA_TRY(gemm_shape_of(call, &s));
    SOMA_TRY(soma_cuda_enter(ctx, "gemm (cublaslt)"));
    lt_plan plan = {0};
    soma_status st = lt_run(ctx, call, &s, &plan);
    lt_plan_destroy(&plan);
    return st;
}
