/* cublaslt.cpp: a stand-in for cuBLASLt's matrix multiply, with the
 * documented epilogues.
 *
 * D = epilogue(alpha op(A) op(B) + beta C), all column-major as described
 * by the layouts (rows, cols, leading dimension; CUBLASLT_ORDER_COL only).
 * Checked as the library checks, at the heuristic query and at the
 * multiply: shapes that agree (op(A) is D.rows x k, op(B) k x D.cols, C as
 * D), leading dimensions of at least the rows, supported types (A and B
 * float or bf16, C and D float, float scaling) and compute types (32F,
 * 32F_PEDANTIC, 32F_FAST_TF32, 32F_FAST_16BF), an epilogue's pointers and
 * their leading dimensions, in-place use only with equal C and D layouts.
 * The algorithm returned by the heuristic records the problem and the
 * operand alignment it may assume (the preference's minimum, at most 16
 * bytes): a multiply with other descriptors or less-aligned pointers is
 * refused (CUBLAS_STATUS_INVALID_VALUE), where a GPU might fault instead.
 * Then, as for cuBLAS, every operand must lie inside one device allocation.
 *
 * Epilogues (D has m rows, bias m entries; aux is column-major with
 * EPILOGUE_AUX_LD):
 *   BIAS        + bias[i]
 *   RELU, GELU  max(0, x), and GELU's tanh approximation
 *               0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
 *   *_AUX       keep what backward needs: RELU a bit mask (bit i + j ld set
 *               when x > 0; ld a multiple of 128), GELU its input x (ld a
 *               multiple of 8)
 *   DRELU/DGELU D = (alpha op(A) op(B) + beta C) f'(x) with x from aux
 *   *_BGRAD     also bias[i] = sum_j D[i,j]
 *   BGRADA      bias[i] = sum_l op(A)[i,l];  BGRADB  bias[j] = sum_l op(B)[l,j]
 * The products run in float (reference_product); what the epilogues add is
 * computed in float too. */
#include <math.h>
#include <string.h>

#include <set>
#include <vector>

#include "emu_device.h"
#include "emu_internal.h"

#include <cublasLt.h>

namespace soma_emu {

struct lt_layout {
    cudaDataType type;
    int32_t order = CUBLASLT_ORDER_COL;
    uint64_t rows, cols;
    int64_t ld;
    int32_t batch_count = 1;
};

struct lt_desc {
    cublasComputeType_t compute;
    cudaDataType scale;
    int32_t pointer_mode = CUBLASLT_POINTER_MODE_HOST;
    int32_t trans_a = CUBLAS_OP_N, trans_b = CUBLAS_OP_N;
    uint32_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
    void *bias = NULL;
    int32_t bias_type = -1; /* -1: D's type */
    void *aux = NULL;
    int64_t aux_ld = 0;
    int32_t aux_type = -1;
};

struct lt_pref {
    uint64_t max_workspace = 0;
    uint32_t min_align[4] = {256, 256, 256, 256}; /* A, B, C, D */
};

static std::set<void *> live_lt;      /* handles */
static bool no_epilogue_algorithms;   /* soma_emu_lt_offer_no_epilogue */
static std::set<void *> live_objects; /* descriptors, layouts, preferences */

/* What a heuristic result's algorithm carries. */
#define ALGO_MAGIC 0x736f6d61656d75ull /* "somaemu" */
struct algo_info {
    uint64_t magic;
    uint64_t problem; /* hash of the descriptors it was chosen for */
    uint64_t alignment; /* bytes every operand pointer must be aligned to */
};

static uint64_t mix(uint64_t h, uint64_t v) { return (h ^ v) * 0x100000001b3ull; }

static uint64_t problem_hash(const lt_desc *d, const lt_layout *l[4]) {
    uint64_t h = 0xcbf29ce484222325ull;
    h = mix(h, (uint64_t)d->compute), h = mix(h, (uint64_t)d->trans_a);
    h = mix(h, (uint64_t)d->trans_b), h = mix(h, d->epilogue);
    for (int i = 0; i < 4; i++) {
        h = mix(h, (uint64_t)l[i]->type), h = mix(h, l[i]->rows), h = mix(h, l[i]->cols);
        h = mix(h, (uint64_t)l[i]->ld);
    }
    return h;
}

static bool has(uint32_t epilogue, uint32_t flag) { return (epilogue & flag) == flag; }

static bool known_epilogue(uint32_t e) {
    switch (e) {
    case CUBLASLT_EPILOGUE_DEFAULT: case CUBLASLT_EPILOGUE_RELU: case CUBLASLT_EPILOGUE_RELU_AUX:
    case CUBLASLT_EPILOGUE_BIAS: case CUBLASLT_EPILOGUE_RELU_BIAS:
    case CUBLASLT_EPILOGUE_RELU_AUX_BIAS: case CUBLASLT_EPILOGUE_DRELU:
    case CUBLASLT_EPILOGUE_DRELU_BGRAD: case CUBLASLT_EPILOGUE_GELU:
    case CUBLASLT_EPILOGUE_GELU_AUX: case CUBLASLT_EPILOGUE_GELU_BIAS:
    case CUBLASLT_EPILOGUE_GELU_AUX_BIAS: case CUBLASLT_EPILOGUE_DGELU:
    case CUBLASLT_EPILOGUE_DGELU_BGRAD: case CUBLASLT_EPILOGUE_BGRADA:
    case CUBLASLT_EPILOGUE_BGRADB:
        return true;
    default: return false;
    }
}

static bool is_relu(uint32_t e) {
    return e == CUBLASLT_EPILOGUE_RELU || e == CUBLASLT_EPILOGUE_RELU_AUX ||
           e == CUBLASLT_EPILOGUE_RELU_BIAS || e == CUBLASLT_EPILOGUE_RELU_AUX_BIAS;
}
static bool is_gelu(uint32_t e) {
    return e == CUBLASLT_EPILOGUE_GELU || e == CUBLASLT_EPILOGUE_GELU_AUX ||
           e == CUBLASLT_EPILOGUE_GELU_BIAS || e == CUBLASLT_EPILOGUE_GELU_AUX_BIAS;
}
static bool is_drelu(uint32_t e) { return e == CUBLASLT_EPILOGUE_DRELU || e == CUBLASLT_EPILOGUE_DRELU_BGRAD; }
static bool is_dgelu(uint32_t e) { return e == CUBLASLT_EPILOGUE_DGELU || e == CUBLASLT_EPILOGUE_DGELU_BGRAD; }
static bool adds_bias(uint32_t e) {
    return e == CUBLASLT_EPILOGUE_BIAS || e == CUBLASLT_EPILOGUE_RELU_BIAS ||
           e == CUBLASLT_EPILOGUE_RELU_AUX_BIAS || e == CUBLASLT_EPILOGUE_GELU_BIAS ||
           e == CUBLASLT_EPILOGUE_GELU_AUX_BIAS;
}
static bool writes_bias_grad(uint32_t e) {
    return e == CUBLASLT_EPILOGUE_DRELU_BGRAD || e == CUBLASLT_EPILOGUE_DGELU_BGRAD ||
           e == CUBLASLT_EPILOGUE_BGRADA || e == CUBLASLT_EPILOGUE_BGRADB;
}
static bool uses_aux(uint32_t e) { return has(e, CUBLASLT_EPILOGUE_RELU_AUX) || has(e, CUBLASLT_EPILOGUE_GELU_AUX) || is_drelu(e) || is_dgelu(e); }

static size_t type_bytes(cudaDataType t) { return t == CUDA_R_16BF ? 2 : 4; }

/* The problem's dimensions, after checking it is one the stand-in (and the
 * library) accepts; false after a note. */
struct problem {
    int64_t m, n, k;
    bool ta, tb;
};

static bool validate(const char *caller, const lt_desc *d, const lt_layout *a, const lt_layout *b,
                     const lt_layout *c, const lt_layout *dd, problem *p, cublasStatus_t *why) {
    *why = CUBLAS_STATUS_INVALID_VALUE;
    const lt_layout *all[4] = {a, b, c, dd};
    for (int i = 0; i < 4; i++) {
        if (all[i]->order != CUBLASLT_ORDER_COL || all[i]->batch_count != 1) {
            note("%s: only column-major, unbatched layouts are emulated", caller);
            *why = CUBLAS_STATUS_NOT_SUPPORTED;
            return false;
        }
        if (all[i]->ld < (int64_t)(all[i]->rows > 1 ? all[i]->rows : 1)) {
            note("%s: layout %c has %llu rows but leading dimension %lld", caller, "ABCD"[i],
                 (unsigned long long)all[i]->rows, (long long)all[i]->ld);
            return false;
        }
    }
    bool ta = d->trans_a != CUBLAS_OP_N, tb = d->trans_b != CUBLAS_OP_N;
    int64_t m = (int64_t)dd->rows, n = (int64_t)dd->cols;
    int64_t a_rows = ta ? (int64_t)a->cols : (int64_t)a->rows, k = ta ? (int64_t)a->rows : (int64_t)a->cols;
    int64_t b_rows = tb ? (int64_t)b->cols : (int64_t)b->rows, b_cols = tb ? (int64_t)b->rows : (int64_t)b->cols;
    if (a_rows != m || b_rows != k || b_cols != n || c->rows != dd->rows || c->cols != dd->cols) {
        note("%s: shapes disagree: op(A) %lldx%lld, op(B) %lldx%lld, C %llux%llu, D %llux%llu",
             caller, (long long)a_rows, (long long)k, (long long)b_rows, (long long)b_cols,
             (unsigned long long)c->rows, (unsigned long long)c->cols,
             (unsigned long long)dd->rows, (unsigned long long)dd->cols);
        return false;
    }
    bool ab_bf16 = a->type == CUDA_R_16BF && b->type == CUDA_R_16BF;
    bool ab_f32 = a->type == CUDA_R_32F && b->type == CUDA_R_32F;
    bool compute_ok =
        (d->compute == CUBLAS_COMPUTE_32F || d->compute == CUBLAS_COMPUTE_32F_PEDANTIC) ? (ab_f32 || ab_bf16)
        : (d->compute == CUBLAS_COMPUTE_32F_FAST_TF32 || d->compute == CUBLAS_COMPUTE_32F_FAST_16BF) ? ab_f32
                                                                                                   : false;
    if (!compute_ok || c->type != CUDA_R_32F || dd->type != CUDA_R_32F || d->scale != CUDA_R_32F) {
        note("%s: types not emulated: compute %d, scale %d, A %d, B %d, C %d, D %d", caller,
             (int)d->compute, (int)d->scale, (int)a->type, (int)b->type, (int)c->type,
             (int)dd->type);
        *why = CUBLAS_STATUS_NOT_SUPPORTED;
        return false;
    }
    if (!known_epilogue(d->epilogue)) {
        note("%s: epilogue %u is not emulated", caller, d->epilogue);
        *why = CUBLAS_STATUS_NOT_SUPPORTED;
        return false;
    }
    if (uses_aux(d->epilogue)) {
        bool bits = is_relu(d->epilogue) || is_drelu(d->epilogue);
        int64_t multiple = bits ? 128 : 8;
        if (d->aux_ld < m || d->aux_ld % multiple != 0) {
            note("%s: EPILOGUE_AUX_LD %lld must be at least the %lld rows of D and a multiple of "
                 "%lld",
                 caller, (long long)d->aux_ld, (long long)m, (long long)multiple);
            return false;
        }
    }
    p->m = m, p->n = n, p->k = k, p->ta = ta, p->tb = tb;
    return true;
}

static float gelu_tanh(float x) {
    const float c = 0.79788456080286536f;
    return 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * x * x * x)));
}

static float gelu_tanh_grad(float x) {
    const float c = 0.79788456080286536f;
    float t = tanhf(c * (x + 0.044715f * x * x * x));
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * c * (1.0f + 3.0f * 0.044715f * x * x);
}

/* The whole multiply and its epilogue, when the stream runs it. */
struct matmul_job {
    problem p;
    lt_desc d;
    lt_layout a, b, c, dd;
    const void *A, *B, *C;
    void *D;
    float alpha, beta;
    const float *alpha_dev, *beta_dev;
    operand_rounding rounding;

    void run() const {
        int64_t m = p.m, n = p.n, k = p.k;
        float al = alpha_dev ? *alpha_dev : alpha, be = beta_dev ? *beta_dev : beta;
        std::vector<float> acc((size_t)(m * n), 0.0f);
        if (k > 0)
            reference_product(m, n, k, p.ta, p.tb, A, a.type, a.ld, B, b.type, b.ld, rounding,
                              acc.data());
        const float *Cf = (const float *)C;
        float *Df = (float *)D;
        const float *bias_in = (const float *)d.bias;
        float *bias_out = (float *)d.bias;
        uint32_t e = d.epilogue;
        unsigned char *mask = (unsigned char *)d.aux;
        float *aux = (float *)d.aux;
        for (int64_t j = 0; j < n; j++)
            for (int64_t i = 0; i < m; i++) {
                float x = al * acc[(size_t)(i + j * m)];
                if (be != 0.0f) x += be * Cf[i + j * c.ld];
                if (adds_bias(e)) x += bias_in[i];
                int64_t ai = i + j * d.aux_ld;
                if (is_relu(e)) {
                    if (has(e, CUBLASLT_EPILOGUE_RELU_AUX)) {
                        unsigned char bit = (unsigned char)(1u << (ai & 7));
                        mask[ai >> 3] = x > 0.0f ? (mask[ai >> 3] | bit) : (mask[ai >> 3] & ~bit);
                    }
                    x = x > 0.0f ? x : 0.0f;
                } else if (is_gelu(e)) {
                    if (has(e, CUBLASLT_EPILOGUE_GELU_AUX)) aux[ai] = x;
                    x = gelu_tanh(x);
                } else if (is_drelu(e)) {
                    x = (mask[ai >> 3] >> (ai & 7)) & 1 ? x : 0.0f;
                } else if (is_dgelu(e)) {
                    x *= gelu_tanh_grad(aux[ai]);
                }
                Df[i + j * dd.ld] = x;
            }
        if (e == CUBLASLT_EPILOGUE_DRELU_BGRAD || e == CUBLASLT_EPILOGUE_DGELU_BGRAD)
            for (int64_t i = 0; i < m; i++) {
                float s = 0.0f;
                for (int64_t j = 0; j < n; j++) s += Df[i + j * dd.ld];
                bias_out[i] = s;
            }
        if (e == CUBLASLT_EPILOGUE_BGRADA || e == CUBLASLT_EPILOGUE_BGRADB) {
            bool of_a = e == CUBLASLT_EPILOGUE_BGRADA;
            int64_t len = of_a ? m : n;
            const void *src = of_a ? A : B;
            const lt_layout &l = of_a ? a : b;
            bool trans = of_a ? p.ta : p.tb;
            for (int64_t r = 0; r < len; r++) {
                float s = 0.0f;
                for (int64_t q = 0; q < k; q++) {
                    /* op(A)[r,q] or op(B)[q,r] */
                    int64_t idx = of_a ? (trans ? q + r * l.ld : r + q * l.ld)
                                       : (trans ? r + q * l.ld : q + r * l.ld);
                    s += load_operand(src, l.type, idx);
                }
                bias_out[r] = s;
            }
        }
    }
};

} // namespace soma_emu

using namespace soma_emu;

#define LT_HANDLE_OK(h)                                                                    \
    do {                                                                                   \
        if (!live_lt.count((void *)(h))) {                                                 \
            note("%s: %p is not a live cuBLASLt handle", __func__, (void *)(h));          \
            return CUBLAS_STATUS_NOT_INITIALIZED;                                          \
        }                                                                                  \
    } while (0)
#define OBJECT_OK(o)                                                                       \
    do {                                                                                   \
        if (!live_objects.count((void *)(o))) {                                            \
            note("%s: %p is not a live cuBLASLt descriptor", __func__, (void *)(o));      \
            return CUBLAS_STATUS_INVALID_VALUE;                                            \
        }                                                                                  \
    } while (0)

/* Copies an attribute of the declared size, or refuses a wrong size. */
template <class T>
static bool take(T *field, const void *buf, size_t size) {
    if (!buf || size != sizeof(T)) return false;
    memcpy(field, buf, sizeof(T));
    return true;
}

extern "C" {

cublasStatus_t cublasLtCreate(cublasLtHandle_t *handle) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
    *handle = (cublasLtHandle_t) new char[1];
    live_lt.insert((void *)*handle);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtDestroy(cublasLtHandle_t handle) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    LT_HANDLE_OK(handle);
    live_lt.erase((void *)handle);
    delete[] (char *)handle;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *desc, cublasComputeType_t compute,
                                        cudaDataType_t scale) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    if (!desc) return CUBLAS_STATUS_INVALID_VALUE;
    lt_desc *d = new lt_desc();
    d->compute = compute;
    d->scale = scale;
    live_objects.insert(d);
    *desc = (cublasLtMatmulDesc_t)d;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t desc) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    if (!desc) return CUBLAS_STATUS_SUCCESS;
    OBJECT_OK(desc);
    live_objects.erase((void *)desc);
    delete (lt_desc *)desc;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t desc,
                                              cublasLtMatmulDescAttributes_t attr,
                                              const void *buf, size_t size) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    OBJECT_OK(desc);
    lt_desc *d = (lt_desc *)desc;
    bool ok;
    switch (attr) {
    case CUBLASLT_MATMUL_DESC_COMPUTE_TYPE: ok = take((int32_t *)&d->compute, buf, size); break;
    case CUBLASLT_MATMUL_DESC_SCALE_TYPE: ok = take((int32_t *)&d->scale, buf, size); break;
    case CUBLASLT_MATMUL_DESC_POINTER_MODE: ok = take(&d->pointer_mode, buf, size); break;
    case CUBLASLT_MATMUL_DESC_TRANSA: ok = take(&d->trans_a, buf, size); break;
    case CUBLASLT_MATMUL_DESC_TRANSB: ok = take(&d->trans_b, buf, size); break;
    case CUBLASLT_MATMUL_DESC_EPILOGUE: ok = take(&d->epilogue, buf, size); break;
    case CUBLASLT_MATMUL_DESC_BIAS_POINTER: ok = take(&d->bias, buf, size); break;
    case CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE: ok = take(&d->bias_type, buf, size); break;
    case CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER: ok = take(&d->aux, buf, size); break;
    case CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD: ok = take(&d->aux_ld, buf, size); break;
    case CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_DATA_TYPE: ok = take(&d->aux_type, buf, size); break;
    default:
        note("cublasLtMatmulDescSetAttribute: attribute %d is not emulated", (int)attr);
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    if (!ok) {
        note("cublasLtMatmulDescSetAttribute: attribute %d given %zu bytes (or NULL)", (int)attr,
             size);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *layout, cudaDataType type,
                                          uint64_t rows, uint64_t cols, int64_t ld) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    if (!layout) return CUBLAS_STATUS_INVALID_VALUE;
    lt_layout *l = new lt_layout();
    l->type = type;
    l->rows = rows;
    l->cols = cols;
    l->ld = ld;
    live_objects.insert(l);
    *layout = (cublasLtMatrixLayout_t)l;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t layout) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    if (!layout) return CUBLAS_STATUS_SUCCESS;
    OBJECT_OK(layout);
    live_objects.erase((void *)layout);
    delete (lt_layout *)layout;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutSetAttribute(cublasLtMatrixLayout_t layout,
                                                cublasLtMatrixLayoutAttribute_t attr,
                                                const void *buf, size_t size) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    OBJECT_OK(layout);
    lt_layout *l = (lt_layout *)layout;
    bool ok;
    switch (attr) {
    case CUBLASLT_MATRIX_LAYOUT_TYPE: ok = take((uint32_t *)&l->type, buf, size); break;
    case CUBLASLT_MATRIX_LAYOUT_ORDER: ok = take(&l->order, buf, size); break;
    case CUBLASLT_MATRIX_LAYOUT_ROWS: ok = take(&l->rows, buf, size); break;
    case CUBLASLT_MATRIX_LAYOUT_COLS: ok = take(&l->cols, buf, size); break;
    case CUBLASLT_MATRIX_LAYOUT_LD: ok = take(&l->ld, buf, size); break;
    case CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT: ok = take(&l->batch_count, buf, size); break;
    default:
        note("cublasLtMatrixLayoutSetAttribute: attribute %d is not emulated", (int)attr);
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    return ok ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE;
}

cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *pref) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    if (!pref) return CUBLAS_STATUS_INVALID_VALUE;
    lt_pref *p = new lt_pref();
    live_objects.insert(p);
    *pref = (cublasLtMatmulPreference_t)p;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t pref) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    if (!pref) return CUBLAS_STATUS_SUCCESS;
    OBJECT_OK(pref);
    live_objects.erase((void *)pref);
    delete (lt_pref *)pref;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t pref,
                                                    cublasLtMatmulPreferenceAttributes_t attr,
                                                    const void *buf, size_t size) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    OBJECT_OK(pref);
    lt_pref *p = (lt_pref *)pref;
    bool ok;
    switch (attr) {
    case CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES: ok = take(&p->max_workspace, buf, size); break;
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES: ok = take(&p->min_align[0], buf, size); break;
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES: ok = take(&p->min_align[1], buf, size); break;
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES: ok = take(&p->min_align[2], buf, size); break;
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES: ok = take(&p->min_align[3], buf, size); break;
    default: ok = true; /* search modes and the like choose among algorithms: one here */
    }
    return ok ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE;
}

cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc,
                                              cublasLtMatrixLayout_t Adesc,
                                              cublasLtMatrixLayout_t Bdesc,
                                              cublasLtMatrixLayout_t Cdesc,
                                              cublasLtMatrixLayout_t Ddesc,
                                              cublasLtMatmulPreference_t pref, int requested,
                                              cublasLtMatmulHeuristicResult_t results[],
                                              int *returned) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    LT_HANDLE_OK(handle);
    for (const void *o : {(const void *)desc, (const void *)Adesc, (const void *)Bdesc,
                          (const void *)Cdesc, (const void *)Ddesc, (const void *)pref})
        OBJECT_OK(o);
    if (requested < 1 || !results || !returned) return CUBLAS_STATUS_INVALID_VALUE;
    *returned = 0;
    const lt_desc *d = (const lt_desc *)desc;
    const lt_layout *l[4] = {(const lt_layout *)Adesc, (const lt_layout *)Bdesc,
                             (const lt_layout *)Cdesc, (const lt_layout *)Ddesc};
    problem p;
    cublasStatus_t why;
    if (!validate("cublasLtMatmulAlgoGetHeuristic", d, l[0], l[1], l[2], l[3], &p, &why))
        return why;
    if (no_epilogue_algorithms && d->epilogue != CUBLASLT_EPILOGUE_DEFAULT) {
        note("cublasLtMatmulAlgoGetHeuristic: no algorithm for epilogue %u (as asked by the test)",
             d->epilogue);
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    const lt_pref *pr = (const lt_pref *)pref;
    uint32_t align = 16;
    for (int i = 0; i < 4; i++)
        if (pr->min_align[i] < align) align = pr->min_align[i];
    memset(&results[0], 0, sizeof results[0]);
    algo_info info = {ALGO_MAGIC, problem_hash(d, l), align};
    static_assert(sizeof info <= sizeof results[0].algo, "algo_info fits cublasLtMatmulAlgo_t");
    memcpy(&results[0].algo, &info, sizeof info);
    results[0].workspaceSize = 0;
    results[0].state = CUBLAS_STATUS_SUCCESS;
    results[0].wavesCount = 1.0f;
    *returned = 1;
    return CUBLAS_STATUS_SUCCESS;
}

static bool aligned_to(const void *p, uint64_t alignment) {
    return p == NULL || (uintptr_t)p % alignment == 0;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc,
                              const void *alpha, const void *A, cublasLtMatrixLayout_t Adesc,
                              const void *B, cublasLtMatrixLayout_t Bdesc, const void *beta,
                              const void *C, cublasLtMatrixLayout_t Cdesc, void *D,
                              cublasLtMatrixLayout_t Ddesc, const cublasLtMatmulAlgo_t *algo,
                              void *workspace, size_t workspace_bytes, cudaStream_t stream) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    const char *me = "cublasLtMatmul";
    LT_HANDLE_OK(handle);
    for (const void *o : {(const void *)desc, (const void *)Adesc, (const void *)Bdesc,
                          (const void *)Cdesc, (const void *)Ddesc})
        OBJECT_OK(o);
    if (sticky_error() != cudaSuccess) return CUBLAS_STATUS_EXECUTION_FAILED;
    const lt_desc *d = (const lt_desc *)desc;
    const lt_layout *l[4] = {(const lt_layout *)Adesc, (const lt_layout *)Bdesc,
                             (const lt_layout *)Cdesc, (const lt_layout *)Ddesc};
    problem p;
    cublasStatus_t why;
    if (!validate(me, d, l[0], l[1], l[2], l[3], &p, &why)) return why;
    if (!alpha || !beta || !A || !B || !C || !D) {
        note("%s: a NULL scalar or matrix pointer", me);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (C == D && (l[2]->ld != l[3]->ld || l[2]->type != l[3]->type)) {
        note("%s: in place (C == D) needs equal C and D layouts", me);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    uint64_t alignment = 16;
    if (algo) {
        algo_info info;
        memcpy(&info, algo, sizeof info);
        if (info.magic != ALGO_MAGIC) {
            note("%s: the algorithm was not returned by cublasLtMatmulAlgoGetHeuristic", me);
            return CUBLAS_STATUS_INVALID_VALUE;
        }
        if (info.problem != problem_hash(d, l)) {
            note("%s: the algorithm was chosen for other descriptors", me);
            return CUBLAS_STATUS_INVALID_VALUE;
        }
        alignment = info.alignment;
    }
    const void *ptrs[4] = {A, B, C, D};
    for (int i = 0; i < 4; i++)
        if (!aligned_to(ptrs[i], alignment)) {
            note("%s: %c (%p) is not aligned to the %llu bytes the algorithm assumes (tell the "
                 "heuristic with CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_%c_BYTES)",
                 me, "ABCD"[i], ptrs[i], (unsigned long long)alignment, "ABCD"[i]);
            return CUBLAS_STATUS_INVALID_VALUE;
        }
    if (workspace_bytes > 0 && !device_span_ok(workspace, workspace_bytes, me, "the workspace"))
        return CUBLAS_STATUS_INVALID_VALUE;
    bool device_scalars = d->pointer_mode == CUBLASLT_POINTER_MODE_DEVICE;
    bool alpha_on_device = find_allocation(alpha, 4) != NULL;
    bool beta_on_device = find_allocation(beta, 4) != NULL;
    if (alpha_on_device != device_scalars || beta_on_device != device_scalars) {
        note("%s: alpha/beta are %s memory but the pointer mode is %s", me,
             alpha_on_device ? "device" : "host", device_scalars ? "device" : "host");
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    /* every operand inside its allocation */
    size_t a_bytes = operand_extent((int64_t)l[0]->rows, (int64_t)l[0]->cols, l[0]->ld, type_bytes(l[0]->type));
    size_t b_bytes = operand_extent((int64_t)l[1]->rows, (int64_t)l[1]->cols, l[1]->ld, type_bytes(l[1]->type));
    size_t c_bytes = operand_extent((int64_t)l[2]->rows, (int64_t)l[2]->cols, l[2]->ld, 4);
    size_t d_bytes = operand_extent((int64_t)l[3]->rows, (int64_t)l[3]->cols, l[3]->ld, 4);
    bool spans = device_span_ok(A, a_bytes, me, "A") && device_span_ok(B, b_bytes, me, "B") &&
                 device_span_ok(C, c_bytes, me, "C") && device_span_ok(D, d_bytes, me, "D");
    uint32_t e = d->epilogue;
    if (adds_bias(e) || writes_bias_grad(e)) {
        int64_t len = e == CUBLASLT_EPILOGUE_BGRADB ? p.n : p.m;
        if (!d->bias) {
            note("%s: epilogue %u needs CUBLASLT_MATMUL_DESC_BIAS_POINTER", me, e);
            return CUBLAS_STATUS_INVALID_VALUE;
        }
        spans = spans && device_span_ok(d->bias, (size_t)len * 4, me, "the bias");
    }
    if (uses_aux(e)) {
        if (!d->aux) {
            note("%s: epilogue %u needs CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER", me, e);
            return CUBLAS_STATUS_INVALID_VALUE;
        }
        bool bits = is_relu(e) || is_drelu(e);
        size_t aux_bytes = bits ? (size_t)((d->aux_ld * (p.n - 1) + p.m + 7) / 8)
                                : operand_extent(p.m, p.n, d->aux_ld, 4);
        spans = spans && device_span_ok(d->aux, aux_bytes, me, "the epilogue's aux buffer");
    }
    if (!spans)
        fatal("%s (D %lldx%lld, k %lld): an operand reaches outside its device memory (on a GPU: "
              "wrong results or a fault)",
              me, (long long)p.m, (long long)p.n, (long long)p.k);
    if (stream_device(stream, me) < 0) return CUBLAS_STATUS_EXECUTION_FAILED;
    matmul_job job;
    job.p = p;
    job.d = *d;
    job.a = *l[0], job.b = *l[1], job.c = *l[2], job.dd = *l[3];
    job.A = A, job.B = B, job.C = C, job.D = D;
    job.alpha = device_scalars ? 0.0f : *(const float *)alpha;
    job.beta = device_scalars ? 0.0f : *(const float *)beta;
    job.alpha_dev = device_scalars ? (const float *)alpha : NULL;
    job.beta_dev = device_scalars ? (const float *)beta : NULL;
    job.rounding = d->compute == CUBLAS_COMPUTE_32F_FAST_TF32   ? ROUND_TF32
                   : d->compute == CUBLAS_COMPUTE_32F_FAST_16BF ? ROUND_BF16
                                                                : ROUND_NONE;
    enqueue(stream, me, [job] { job.run(); }, true);
    return CUBLAS_STATUS_SUCCESS;
}

void soma_emu_lt_offer_no_epilogue(int on) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    no_epilogue_algorithms = on != 0;
}

} /* extern "C" */
