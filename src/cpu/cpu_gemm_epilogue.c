/* cpu_gemm_epilogue.c: the GEMMs with cuBLASLt's epilogues (op_list.h:
 * gemm_bias_relu, gemm_bias_gelu and their backward ops) as the CPU's GEMM
 * followed by one pass: the reference the "cublaslt" variant of the CUDA
 * backend is held to.
 *
 * Forward:  h = x w^T (the GEMM writes h), then per element z = h + bias,
 *           h = f(z), and the aux row (mask bits or z, padding 0).
 * Backward: dz = g w2, then dz *= f'(z) per element and db = column sums. */
#include <string.h>

#include "core/act_math.h" /* soma_act_f, soma_act_df */
#include "core/error.h"    /* SOMA_TRY */
#include "cpu/cpu_internal.h"

static soma_status gemm(void *ctx, int trans_b, const soma_tensor *a, const soma_tensor *b, soma_tensor *c) {
    soma_op_call g = {.op = SOMA_OP_GEMM, .in = {a, b}, .out = {c},
                      .p = {.trans_b = trans_b, .alpha = 1.0f, .beta = 0.0f}};
    return soma_cpu_gemm(ctx, &g);
}

CPU_KERNEL(soma_cpu_gemm_bias_act) {
    const soma_tensor *x = call->in[0], *w = call->in[1], *bias = call->in[2];
    soma_tensor *h = call->out[0], *aux = call->out[1];
    SOMA_TRY(gemm(ctx, 1, x, w, h));
    const int relu = call->op == SOMA_OP_GEMM_BIAS_RELU;
    const int64_t m = h->rows, n = h->cols, aux_cols = aux->cols;
    memset(aux->data, 0, (size_t)(m * aux_cols) * sizeof(float));
    for (int64_t i = 0; i < m; i++) {
        float *hi = h->data + i * n, *ai = aux->data + i * aux_cols;
        uint32_t *mi = (uint32_t *)ai;
        for (int64_t j = 0; j < n; j++) {
            float z = hi[j] + bias->data[j];
            if (relu) {
                if (z > 0.0f) mi[j / 32] |= 1u << (j % 32);
                hi[j] = z > 0.0f ? z : 0.0f;
            } else {
                ai[j] = z;
                hi[j] = soma_act_f(SOMA_ACT_GELU_TANH, z, 0.0f);
            }
        }
    }
    return SOMA_OK;
}

CPU_KERNEL(soma_cpu_gemm_act_backward) {
    const soma_tensor *g = call->in[0], *w2 = call->in[1], *aux = call->in[2];
    soma_tensor *dz = call->out[0], *db = call->out[1];
    SOMA_TRY(gemm(ctx, 0, g, w2, dz));
    const int relu = call->op == SOMA_OP_GEMM_DRELU_BGRAD;
    const int64_t m = dz->rows, n = dz->cols, aux_cols = aux->cols;
    memset(db->data, 0, (size_t)n * sizeof(float));
    for (int64_t i = 0; i < m; i++) {
        float *di = dz->data + i * n;
        const float *ai = aux->data + i * aux_cols;
        const uint32_t *mi = (const uint32_t *)ai;
        for (int64_t j = 0; j < n; j++) {
            float d = relu ? ((mi[j / 32] >> (j % 32)) & 1u ? di[j] : 0.0f)
                           : di[j] * soma_act_df(SOMA_ACT_GELU_TANH, ai[j], 0.0f, 0.0f);
            di[j] = d;
            db->data[j] += d;
        }
    }
    return SOMA_OK;
}
