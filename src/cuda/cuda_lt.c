/* cuda_lt.c: the GEMMs with cuBLASLt's epilogues (op_list.h:
 * gemm_bias_relu, gemm_bias_gelu, gemm_drelu_bgrad, gemm_dgelu_bgrad).
 *
 * Default kernels: cublasSgemm (soma_cuda_gemm) and one pass
 * (kernels/epilogue.cu), plus soma_cuda_bias_grad for the backward's db.
 * Variant "cublaslt": one cublasLtMatmul with the epilogue
 *   forward   RELU_AUX_BIAS or GELU_AUX_BIAS: D = h, BIAS_POINTER = bias,
 *             EPILOGUE_AUX_POINTER = the mask or z rows, AUX_LD = 128
 *             ceil(n/128) bits or 8 ceil(n/8) floats (what the header
 *             requires: a multiple of 128, resp. 8, and at least D's rows);
 *   backward  DRELU_BGRAD or DGELU_BGRAD: D = dz, BIAS_POINTER = db (the
 *             bias gradient), the same aux as input.
 * The aux rows are cleared first (cudaMemsetAsync), so that the padding
 * bits and floats the library may leave alone are 0 as the op says. When
 * the heuristic offers no algorithm (CUBLAS_STATUS_NOT_SUPPORTED or none
 * returned), the variant falls back to the default kernels.
 *
 * In cuBLAS's column-major terms (cuda_gemm.c): the forward's D is h^T
 * (n x m, ld n) = W (stored k x n, ld k, transposed) times x^T (k x m, ld
 * k); the backward's D is dz^T = w2^T (n x k, ld n) times g^T (k x m, ld
 * k). D's rows are the layer's units, so the bias and its gradient have
 * one entry per row, as the epilogues want them. */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "../../kernels/kernels.h" /* soma_cuda_bias_act_aux, soma_cuda_act_aux_backward, soma_cuda_bias_grad */
#include "cuda/cuda_internal.h"

static int is_relu(const soma_op_call *call) {
    return call->op == SOMA_OP_GEMM_BIAS_RELU || call->op == SOMA_OP_GEMM_DRELU_BGRAD;
}

static int is_forward(const soma_op_call *call) {
    return call->op == SOMA_OP_GEMM_BIAS_RELU || call->op == SOMA_OP_GEMM_BIAS_GELU;
}

/* ---- default: cublasSgemm and a pass --------------------------------------- */

soma_status soma_cuda_gemm_epilogue(void *vctx, const soma_op_call *call) {
    soma_cuda_ctx *ctx = vctx;
    const char *name = soma_cuda_op_name(call);
    const int relu = is_relu(call);
    if (is_forward(call)) {
        soma_tensor *h = call->out[0], *aux = call->out[1];
        soma_op_call g = {.op = SOMA_OP_GEMM, .in = {call->in[0], call->in[1]}, .out = {h},
                          .p = {.trans_b = 1, .alpha = 1.0f}};
        SOMA_TRY(soma_cuda_gemm(ctx, &g));
        return soma_cuda_check(ctx->ordinal,
                               soma_cuda_bias_act_aux(relu, h->data, call->in[2]->data, aux->data,
                                                      h->rows, h->cols, aux->cols, ctx->stream),
                               name, relu ? "bias_relu_aux_kernel" : "bias_gelu_aux_kernel");
    }
    soma_tensor *dz = call->out[0], *db = call->out[1];
    const soma_tensor *aux = call->in[2];
    soma_op_call g = {.op = SOMA_OP_GEMM, .in = {call->in[0], call->in[1]}, .out = {dz},
                      .p = {.alpha = 1.0f}};
    SOMA_TRY(soma_cuda_gemm(ctx, &g));
    SOMA_TRY(soma_cuda_check(ctx->ordinal,
                             soma_cuda_act_aux_backward(relu, dz->data, aux->data, dz->rows, dz->cols,
                                                        aux->cols, ctx->stream),
                             name, "act_aux_backward_kernel"));
    return soma_cuda_check(ctx->ordinal,
                           soma_cuda_bias_grad(dz->data, db->data, dz->rows, dz->cols, ctx->stream),
                           name, "bias_grad");
}

/* ---- variant "cublaslt": one cublasLtMatmul --------------------------------- */

typedef struct epilogue_plan {
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t first, second, out;
    cublasLtMatmulPreference_t pref;
} epilogue_plan;

static void plan_destroy(epilogue_plan *p) {
    if (p->pref) (void)cublasLtMatmulPreferenceDestroy(p->pref);
    if (p->out) (void)cublasLtMatrixLayoutDestroy(p->out);
    if (p->second) (void)cublasLtMatrixLayoutDestroy(p->second);
    if (p->first) (void)cublasLtMatrixLayoutDestroy(p->first);
    if (p->op) (void)cublasLtMatmulDescDestroy(p->op);
}

#define LT(fn, ...) SOMA_TRY(soma_cublas_check(ctx->ordinal, fn(__VA_ARGS__), name, #fn))

static uint32_t alignment_of(const void *p) {
    uint32_t align = 256;
    while (align > 1 && (uintptr_t)p % align != 0) align /= 2;
    return align;
}

/* The problem in column-major terms: D rows x cols, inner k; the first
 * operand stored first_rows x first_cols with leading dimension first_ld. */
typedef struct lt_problem {
    uint64_t rows, cols, k;
    uint64_t first_rows, first_cols;
    int64_t first_ld;
    int32_t trans_first;
    const float *first, *second;
    float *d, *bias, *aux;
    int64_t aux_ld;
    uint32_t epilogue;
} lt_problem;

static lt_problem problem_of(const soma_op_call *call) {
    lt_problem q;
    memset(&q, 0, sizeof q);
    const int relu = is_relu(call);
    if (is_forward(call)) {
        const soma_tensor *x = call->in[0], *w = call->in[1];
        q.rows = (uint64_t)w->rows, q.cols = (uint64_t)x->rows, q.k = (uint64_t)x->cols;
        q.first_rows = (uint64_t)w->cols, q.first_cols = (uint64_t)w->rows, q.first_ld = w->cols;
        q.trans_first = CUBLAS_OP_T;
        q.first = w->data, q.second = x->data, q.d = call->out[0]->data;
        q.bias = call->in[2]->data, q.aux = call->out[1]->data;
        q.aux_ld = relu ? 32 * call->out[1]->cols : call->out[1]->cols;
        q.epilogue = relu ? CUBLASLT_EPILOGUE_RELU_AUX_BIAS : CUBLASLT_EPILOGUE_GELU_AUX_BIAS;
    } else {
        const soma_tensor *g = call->in[0], *w2 = call->in[1];
        q.rows = (uint64_t)w2->cols, q.cols = (uint64_t)g->rows, q.k = (uint64_t)g->cols;
        q.first_rows = (uint64_t)w2->cols, q.first_cols = (uint64_t)w2->rows, q.first_ld = w2->cols;
        q.trans_first = CUBLAS_OP_N;
        q.first = w2->data, q.second = g->data, q.d = call->out[0]->data;
        q.bias = call->out[1]->data, q.aux = call->in[2]->data;
        q.aux_ld = relu ? 32 * call->in[2]->cols : call->in[2]->cols;
        q.epilogue = relu ? CUBLASLT_EPILOGUE_DRELU_BGRAD : CUBLASLT_EPILOGUE_DGELU_BGRAD;
    }
    return q;
}

static soma_status plan_create(soma_cuda_ctx *ctx, const char *name, const lt_problem *q, epilogue_plan *p) {
    LT(cublasLtMatmulDescCreate, &p->op, CUBLAS_COMPUTE_32F, CUDA_R_32F);
    int32_t ta = q->trans_first, tb = CUBLAS_OP_N;
    LT(cublasLtMatmulDescSetAttribute, p->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta);
    LT(cublasLtMatmulDescSetAttribute, p->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb);
    LT(cublasLtMatmulDescSetAttribute, p->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &q->epilogue, sizeof q->epilogue);
    LT(cublasLtMatmulDescSetAttribute, p->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &q->bias, sizeof q->bias);
    LT(cublasLtMatmulDescSetAttribute, p->op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &q->aux,
       sizeof q->aux);
    LT(cublasLtMatmulDescSetAttribute, p->op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &q->aux_ld,
       sizeof q->aux_ld);
    LT(cublasLtMatrixLayoutCreate, &p->first, CUDA_R_32F, q->first_rows, q->first_cols, q->first_ld);
    LT(cublasLtMatrixLayoutCreate, &p->second, CUDA_R_32F, q->k, q->cols, (int64_t)q->k);
    LT(cublasLtMatrixLayoutCreate, &p->out, CUDA_R_32F, q->rows, q->cols, (int64_t)q->rows);
    LT(cublasLtMatmulPreferenceCreate, &p->pref);
    uint64_t workspace = SOMA_CUDA_LT_WORKSPACE_BYTES;
    LT(cublasLtMatmulPreferenceSetAttribute, p->pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
       &workspace, sizeof workspace);
    uint32_t align[3] = {alignment_of(q->first), alignment_of(q->second), alignment_of(q->d)};
    LT(cublasLtMatmulPreferenceSetAttribute, p->pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES,
       &align[0], sizeof align[0]);
    LT(cublasLtMatmulPreferenceSetAttribute, p->pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
       &align[1], sizeof align[1]);
    LT(cublasLtMatmulPreferenceSetAttribute, p->pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES,
       &align[2], sizeof align[2]);
    LT(cublasLtMatmulPreferenceSetAttribute, p->pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES,
       &align[2], sizeof align[2]);
    return SOMA_OK;
}

/* *ran = 0 when the heuristic offered nothing (the caller falls back). */
static soma_status lt_epilogue_run(soma_cuda_ctx *ctx, const soma_op_call *call, epilogue_plan *p, int *ran) {
    const char *name = soma_cuda_op_name(call);
    *ran = 0;
    lt_problem q = problem_of(call);
    if (q.rows > INT_MAX || q.cols > INT_MAX || q.k > INT_MAX)
        return SOMA_OK; /* the default kernels report it */
    SOMA_TRY(plan_create(ctx, name, &q, p));
    cublasLtMatmulHeuristicResult_t result;
    int found = 0;
    cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(ctx->cublaslt, p->op, p->first, p->second, p->out,
                                                       p->out, p->pref, 1, &result, &found);
    if (st == CUBLAS_STATUS_NOT_SUPPORTED || (st == CUBLAS_STATUS_SUCCESS && found < 1)) return SOMA_OK;
    SOMA_TRY(soma_cublas_check(ctx->ordinal, st, name, "cublasLtMatmulAlgoGetHeuristic"));
    if (result.workspaceSize > SOMA_CUDA_LT_WORKSPACE_BYTES) return SOMA_OK;
    /* the aux rows' padding: 0, whatever the library writes there or not */
    const soma_tensor *aux = is_forward(call) ? call->out[1] : NULL;
    if (aux)
        SOMA_TRY(soma_cuda_check(ctx->ordinal,
                                 cudaMemsetAsync(aux->data, 0, (size_t)(aux->rows * aux->cols) * sizeof(float),
                                                 ctx->stream),
                                 name, "cudaMemsetAsync"));
    const float alpha = 1.0f, beta = 0.0f;
    LT(cublasLtMatmul, ctx->cublaslt, p->op, &alpha, q.first, p->first, q.second, p->second, &beta, q.d,
       p->out, q.d, p->out, &result.algo, ctx->lt_workspace, SOMA_CUDA_LT_WORKSPACE_BYTES, ctx->stream);
    *ran = 1;
    return SOMA_OK;
}

soma_status soma_cuda_gemm_epilogue_lt(void *vctx, const soma_op_call *call) {
    soma_cuda_ctx *ctx = vctx;
    SOMA_TRY(soma_cuda_enter(ctx, soma_cuda_op_name(call)));
    epilogue_plan plan;
    memset(&plan, 0, sizeof plan);
    int ran = 0;
    soma_status st = lt_epilogue_run(ctx, call, &plan, &ran);
    plan_destroy(&plan);
    if (st != SOMA_OK || ran) return st;
    return soma_cuda_gemm_epilogue(ctx, call); /* no fused algorithm: GEMM and a pass */
}
