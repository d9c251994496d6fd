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
 * with a NaN-filled C).
 *
 * TF32 and bf16 (the call's precision): a kernel (kernels/round.cu) first
 * rounds A and B to the format, to nearest even as the CPU does, into the
 * context's grow-only scratch; then TF32 runs as cublasGemmEx with float
 * operands and CUBLAS_COMPUTE_32F_FAST_TF32 (tensor cores), bf16 as
 * cublasGemmEx with CUDA_R_16BF operands and CUBLAS_COMPUTE_32F (float
 * accumulation), C float in both. Rounding ourselves costs one pass over
 * the operands, and buys that the GPU multiplies the very operands the CPU
 * reference multiplies: NVIDIA documents no rounding mode for the FP32
 * operands of a TF32 GEMM (truncation and cvt.rna both leave an already
 * rounded value unchanged). */
#include <limits.h>
#include <stdint.h>

#include "cuda/cuda_internal.h"
#include "../../kernels/kernels.h" /* soma_cuda_round_tf32, soma_cuda_round_bf16 */

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

/* The operands as the library reads them, in column-major order (B first). */
typedef struct gemm_operands {
    const void *first, *second;
    cudaDataType type;           /* CUDA_R_32F or CUDA_R_16BF */
    cublasComputeType_t compute; /* CUBLAS_COMPUTE_32F or _32F_FAST_TF32 */
} gemm_operands;

/* Scratch slot `slot` with room for `bytes`; grown through the memory cache
 * (the old block goes back to it), so a training loop stops allocating once
 * its largest GEMM has run. */
static soma_status rounded_scratch(soma_cuda_ctx *ctx, int slot, size_t bytes, void **out) {
    if (ctx->rounded_bytes[slot] < bytes) {
        soma_cuda_memory_free(ctx, ctx->rounded[slot]);
        ctx->rounded[slot] = NULL;
        ctx->rounded_bytes[slot] = 0;
        ctx->generation++; /* a recorded graph that used the old block must be recorded again */
        SOMA_TRY(soma_cuda_memory_alloc(ctx, bytes, &ctx->rounded[slot]));
        ctx->rounded_bytes[slot] = bytes;
    }
    *out = ctx->rounded[slot];
    return SOMA_OK;
}

/* The tensors themselves at fp32; rounded copies at TF32 and bf16. */
static soma_status gemm_operands_of(soma_cuda_ctx *ctx, const soma_op_call *call, const char *where,
                                    gemm_operands *o) {
    const soma_tensor *t[2] = {call->in[1], call->in[0]}; /* first, second */
    int precision = call->p.precision;
    o->type = precision == SOMA_PRECISION_BF16 ? CUDA_R_16BF : CUDA_R_32F;
    o->compute = precision == SOMA_PRECISION_TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    const void *p[2] = {t[0]->data, t[1]->data};
    if (precision != SOMA_PRECISION_FP32)
        for (int slot = 0; slot < 2; slot++) {
            int64_t count = t[slot]->rows * t[slot]->cols; /* row stride cols: contiguous */
            void *dst;
            SOMA_TRY(rounded_scratch(ctx, slot, (size_t)count * (precision == SOMA_PRECISION_BF16 ? 2 : 4),
                                     &dst));
            cudaError_t err = precision == SOMA_PRECISION_BF16
                                  ? soma_cuda_round_bf16(t[slot]->data, dst, count, ctx->stream)
                                  : soma_cuda_round_tf32(t[slot]->data, dst, count, ctx->stream);
            SOMA_TRY(soma_cuda_check(ctx->ordinal, err, where,
                                     precision == SOMA_PRECISION_BF16 ? "round_bf16_kernel"
                                                                      : "round_tf32_kernel"));
            p[slot] = dst;
        }
    o->first = p[0];
    o->second = p[1];
    return SOMA_OK;
}

/* TF32 and bf16 through cublasGemmEx (see the top of the file). */
static soma_status gemm_reduced(soma_cuda_ctx *ctx, const soma_op_call *call, const gemm_shape *s) {
    gemm_operands o;
    SOMA_TRY(gemm_operands_of(ctx, call, "gemm", &o));
    const float alpha = call->p.alpha, beta = call->p.beta;
    return soma_cublas_check(ctx->ordinal,
                             cublasGemmEx(ctx->cublas, s->op_first, s->op_second, s->rows, s->cols,
                                          s->inner, &alpha, o.first, o.type, s->ld_first, o.second,
                                          o.type, s->ld_second, &beta, call->out[0]->data,
                                          CUDA_R_32F, s->ld_out, o.compute, CUBLAS_GEMM_DEFAULT),
                             "gemm", "cublasGemmEx");
}

soma_status soma_cuda_gemm(void *vctx, const soma_op_call *call) {
    soma_cuda_ctx *ctx = vctx;
    gemm_shape s = {0};
    SOMA_TRY(gemm_shape_of(call, &s));
    SOMA_TRY(soma_cuda_enter(ctx, "gemm"));
    if (call->p.precision != SOMA_PRECISION_FP32) return gemm_reduced(ctx, call, &s);
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

/* Describes the call: the operands' type and compute type (at fp32: float
 * data, CUBLAS_COMPUTE_32F, no TF32), the layouts as stored (before op),
 * and a preference that fits our
 * workspace and the operands' actual alignment. */
static soma_status lt_plan_create(int ordinal, const soma_op_call *call, const gemm_shape *s,
                                  const gemm_operands *o, lt_plan *p) {
    const soma_tensor *a = call->in[0], *b = call->in[1], *c = call->out[0];
    LT_CALL(cublasLtMatmulDescCreate, &p->op, o->compute, CUDA_R_32F);
    int32_t op_first = s->op_first, op_second = s->op_second;
    LT_CALL(cublasLtMatmulDescSetAttribute, p->op, CUBLASLT_MATMUL_DESC_TRANSA, &op_first,
            sizeof op_first);
    LT_CALL(cublasLtMatmulDescSetAttribute, p->op, CUBLASLT_MATMUL_DESC_TRANSB, &op_second,
            sizeof op_second);
    /* a stored row-major r x c matrix is column-major c x r, leading dim c */
    LT_CALL(cublasLtMatrixLayoutCreate, &p->first, o->type, (uint64_t)b->cols,
            (uint64_t)b->rows, b->cols);
    LT_CALL(cublasLtMatrixLayoutCreate, &p->second, o->type, (uint64_t)a->cols,
            (uint64_t)a->rows, a->cols);
    LT_CALL(cublasLtMatrixLayoutCreate, &p->out, CUDA_R_32F, (uint64_t)c->cols,
            (uint64_t)c->rows, c->cols);

    LT_CALL(cublasLtMatmulPreferenceCreate, &p->pref);
    uint64_t workspace = SOMA_CUDA_LT_WORKSPACE_BYTES;
    LT_CALL(cublasLtMatmulPreferenceSetAttribute, p->pref,
            CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace, sizeof workspace);
    uint32_t align_first = alignment_of(o->first), align_second = alignment_of(o->second),
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
    gemm_operands o;
    SOMA_TRY(gemm_operands_of(ctx, call, "gemm (cublaslt)", &o));
    SOMA_TRY(lt_plan_create(ordinal, call, s, &o, p));
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
    LT_CALL(cublasLtMatmul, ctx->cublaslt, p->op, &alpha, o.first, p->first, o.second, p->second,
            &beta, c, p->out, c, p->out, &result.algo,
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
