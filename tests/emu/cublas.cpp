/* cublas.cpp: a stand-in for cuBLAS (the calls soma makes), and the
 * reference matrix product that cublaslt.cpp shares.
 *
 * cuBLAS is column-major: C (m x n, leading dimension ldc) = alpha op(A)
 * op(B) + beta C, op(A) m x k, op(B) k x n. The stand-in validates the way
 * the library does (CUBLAS_STATUS_INVALID_VALUE for a negative size, an
 * unknown transpose, or a leading dimension below the stored rows), and
 * then what the library cannot: that each operand, as its shape and
 * leading dimension describe it, lies inside one device allocation. A
 * swapped m and n or a leading dimension taken from the wrong matrix gets
 * caught here rather than reading a neighbour's memory. With beta == 0, C
 * is not read (NaN in C stays out of the result), as documented. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <set>
#include <vector>

#include "emu_device.h"
#include "emu_internal.h"

#include <cublas_v2.h>

struct cublasContext {
    cudaStream_t stream = NULL;
    cublasMath_t math = CUBLAS_DEFAULT_MATH;
    cublasPointerMode_t pointer_mode = CUBLAS_POINTER_MODE_HOST;
};

namespace soma_emu {

static std::set<cublasContext *> live_handles;

static uint32_t float_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static float bits_float(uint32_t u) {
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* Keeps the top 1 + 8 + mantissa_bits bits, rounding to nearest even. */
static float round_mantissa(float x, int mantissa_bits) {
    if (!isfinite(x)) return x;
    uint32_t u = float_bits(x), drop = 23u - (uint32_t)mantissa_bits;
    uint32_t half = 1u << (drop - 1), lsb = (u >> drop) & 1u;
    u = (u + half - 1u + lsb) & ~((1u << drop) - 1u);
    return bits_float(u);
}

/* Keeps the top 1 + 8 + 10 bits, dropping the rest. */
static float truncate_tf32(float x) {
    if (!isfinite(x)) return x;
    return bits_float(float_bits(x) & ~((1u << 13) - 1u));
}

float round_operand(float x, operand_rounding rounding) {
    switch (rounding) {
    case ROUND_TF32: return truncate_tf32(x);
    case ROUND_BF16: return round_mantissa(x, 7);
    default: return x;
    }
}

float load_operand(const void *p, cudaDataType type, int64_t index) {
    if (type == CUDA_R_16BF) {
        uint16_t h;
        memcpy(&h, (const char *)p + 2 * index, 2);
        return bits_float((uint32_t)h << 16);
    }
    return ((const float *)p)[index];
}

size_t operand_extent(int64_t rows, int64_t cols, int64_t ld, size_t elem_bytes) {
    if (rows <= 0 || cols <= 0) return 0;
    return (size_t)((cols - 1) * ld + rows) * elem_bytes;
}

void reference_product(int64_t m, int64_t n, int64_t k, bool trans_a, bool trans_b,
                       const void *a, cudaDataType a_type, int64_t lda, const void *b,
                       cudaDataType b_type, int64_t ldb, operand_rounding rounding, float *acc) {
    /* op(A) packed column-major m x k, op(B) k x n */
    std::vector<float> pa((size_t)(m * k)), pb((size_t)(k * n));
    for (int64_t l = 0; l < k; l++)
        for (int64_t i = 0; i < m; i++)
            pa[(size_t)(i + l * m)] =
                round_operand(load_operand(a, a_type, trans_a ? l + i * lda : i + l * lda), rounding);
    for (int64_t j = 0; j < n; j++)
        for (int64_t l = 0; l < k; l++)
            pb[(size_t)(l + j * k)] =
                round_operand(load_operand(b, b_type, trans_b ? j + l * ldb : l + j * ldb), rounding);
    for (int64_t j = 0; j < n; j++) {
        float *__restrict col = acc + j * m; /* restrict: vectorized at -O2 without alias checks */
        for (int64_t i = 0; i < m; i++) col[i] = 0.0f;
        for (int64_t l = 0; l < k; l++) {
            const float blj = pb[(size_t)(l + j * k)];
            const float *__restrict al = &pa[(size_t)(l * m)];
            for (int64_t i = 0; i < m; i++) col[i] += al[i] * blj;
        }
    }
}

} // namespace soma_emu

using namespace soma_emu;

#define HANDLE_OK(h)                                                                       \
    do {                                                                                   \
        if (!live_handles.count(h)) {                                                      \
            note("%s: %p is not a live cuBLAS handle", __func__, (void *)(h));            \
            return CUBLAS_STATUS_NOT_INITIALIZED;                                          \
        }                                                                                  \
    } while (0)

extern "C" {

cublasStatus_t cublasCreate_v2(cublasHandle_t *handle) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
    *handle = new cublasContext();
    live_handles.insert(*handle);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    HANDLE_OK(handle);
    live_handles.erase(handle);
    delete handle;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t stream) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    HANDLE_OK(handle);
    handle->stream = stream;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetStream_v2(cublasHandle_t handle, cudaStream_t *stream) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    HANDLE_OK(handle);
    if (!stream) return CUBLAS_STATUS_INVALID_VALUE;
    *stream = handle->stream;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    HANDLE_OK(handle);
    handle->math = mode;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetPointerMode_v2(cublasHandle_t handle, cublasPointerMode_t mode) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    HANDLE_OK(handle);
    if (mode != CUBLAS_POINTER_MODE_HOST && mode != CUBLAS_POINTER_MODE_DEVICE)
        return CUBLAS_STATUS_INVALID_VALUE;
    handle->pointer_mode = mode;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t handle, void *workspace, size_t bytes) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    HANDLE_OK(handle);
    if (bytes > 0 && !device_span_ok(workspace, bytes, "cublasSetWorkspace", "the workspace"))
        return CUBLAS_STATUS_INVALID_VALUE;
    return CUBLAS_STATUS_SUCCESS;
}

static const char *status_name(cublasStatus_t s) {
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "CUBLAS_STATUS_UNKNOWN";
    }
}

const char *cublasGetStatusName(cublasStatus_t status) { return status_name(status); }

const char *cublasGetStatusString(cublasStatus_t status) {
    switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_INVALID_VALUE: return "an invalid value was used as an argument";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "the functionality requested is not supported";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
    default: return status_name(status);
    }
}

/* Reads a scalar argument: from host memory at the call, or, in device
 * pointer mode, from device memory when the GEMM runs. */
static bool scalar_ok(const cublasContext *h, const float *p, const char *name) {
    if (!p) {
        note("cublasSgemm: %s is NULL", name);
        return false;
    }
    bool on_device = find_allocation(p, sizeof *p) != NULL;
    if (on_device != (h->pointer_mode == CUBLAS_POINTER_MODE_DEVICE)) {
        note("cublasSgemm: %s is %s memory but the pointer mode is %s", name,
             on_device ? "device" : "host", on_device ? "host" : "device");
        return false;
    }
    return true;
}

/* What cuBLAS checks of a GEMM's shape before anything else: known
 * operations, no negative size, leading dimensions at least the rows of the
 * stored (column-major) operands. */
static bool gemm_shape_ok(const char *caller, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                          int k, int lda, int ldb, int ldc) {
    bool ta = transa != CUBLAS_OP_N, tb = transb != CUBLAS_OP_N;
    bool ops_ok = (transa == CUBLAS_OP_N || transa == CUBLAS_OP_T || transa == CUBLAS_OP_C) &&
                  (transb == CUBLAS_OP_N || transb == CUBLAS_OP_T || transb == CUBLAS_OP_C);
    int a_rows = ta ? k : m, b_rows = tb ? n : k;
    if (ops_ok && m >= 0 && n >= 0 && k >= 0 && lda >= (a_rows > 1 ? a_rows : 1) &&
        ldb >= (b_rows > 1 ? b_rows : 1) && ldc >= (m > 1 ? m : 1))
        return true;
    note("%s: invalid arguments: trans %d/%d, m %d n %d k %d, lda %d (>= %d), ldb %d (>= %d), ldc %d (>= %d)",
         caller, (int)transa, (int)transb, m, n, k, lda, a_rows, ldb, b_rows, ldc, m);
    return false;
}

/* Stops the program when an operand of a GEMM (A and B of `elem` bytes per
 * element, C float) reaches outside the device memory it starts in. */
static void operands_in_device_memory(const char *caller, bool ta, bool tb, int m, int n, int k, const void *A,
                                      int lda, const void *B, int ldb, const void *C, int ldc, size_t elem) {
    int a_rows = ta ? k : m, b_rows = tb ? n : k;
    size_t a_extent = operand_extent(a_rows, ta ? m : k, lda, elem);
    size_t b_extent = operand_extent(b_rows, tb ? k : n, ldb, elem);
    size_t c_extent = operand_extent(m, n, ldc, 4);
    if ((a_extent && !device_span_ok(A, a_extent, caller, "A")) ||
        (b_extent && !device_span_ok(B, b_extent, caller, "B")) || !device_span_ok(C, c_extent, caller, "C"))
        fatal("%s(m %d, n %d, k %d, lda %d, ldb %d, ldc %d): an operand reaches outside its device memory "
              "(on a GPU: wrong results or a fault)",
              caller, m, n, k, lda, ldb, ldc);
}

cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa,
                              cublasOperation_t transb, int m, int n, int k, const float *alpha,
                              const float *A, int lda, const float *B, int ldb, const float *beta,
                              float *C, int ldc) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    HANDLE_OK(handle);
    if (sticky_error() != cudaSuccess) return CUBLAS_STATUS_EXECUTION_FAILED;
    if (!gemm_shape_ok("cublasSgemm", transa, transb, m, n, k, lda, ldb, ldc))
        return CUBLAS_STATUS_INVALID_VALUE;
    bool ta = transa != CUBLAS_OP_N, tb = transb != CUBLAS_OP_N;
    if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
    if (!scalar_ok(handle, alpha, "alpha") || !scalar_ok(handle, beta, "beta"))
        return CUBLAS_STATUS_INVALID_VALUE;
    operands_in_device_memory("cublasSgemm", ta, tb, m, n, k, A, lda, B, ldb, C, ldc, 4);
    if (stream_device(handle->stream, "cublasSgemm") < 0) return CUBLAS_STATUS_EXECUTION_FAILED;
    bool device_scalars = handle->pointer_mode == CUBLAS_POINTER_MODE_DEVICE;
    float alpha_now = device_scalars ? 0.0f : *alpha, beta_now = device_scalars ? 0.0f : *beta;
    operand_rounding rounding = handle->math == CUBLAS_TF32_TENSOR_OP_MATH ? ROUND_TF32 : ROUND_NONE;
    enqueue(handle->stream, "cublasSgemm",
            [=] {
                float a_s = device_scalars ? *alpha : alpha_now;
                float b_s = device_scalars ? *beta : beta_now;
                std::vector<float> acc((size_t)m * (size_t)n);
                if (k > 0)
                    reference_product(m, n, k, ta, tb, A, CUDA_R_32F, lda, B, CUDA_R_32F, ldb,
                                      rounding, acc.data());
                for (int64_t j = 0; j < n; j++)
                    for (int64_t i = 0; i < m; i++) {
                        float *c = &C[i + j * (int64_t)ldc];
                        float v = a_s * acc[(size_t)(i + j * m)];
                        *c = b_s == 0.0f ? v : v + b_s * *c;
                    }
            },
            true);
    return CUBLAS_STATUS_SUCCESS;
}

/* The type combinations of cublasGemmEx that the stand-in runs, all with
 * float scalars and a float C: A and B both float (compute 32F, its
 * PEDANTIC form, or the FAST_TF32 / FAST_16BF down-conversions) or both
 * bf16 (compute 32F or 32F_PEDANTIC only: cuBLAS lists no FAST_* compute
 * type for 16-bit inputs). Other combinations that the library supports
 * (half, int8, complex, bf16 C) are refused as not emulated; ones it does
 * not (mixed A and B types, FAST_* with bf16 inputs) as it refuses them:
 * CUBLAS_STATUS_NOT_SUPPORTED either way. */
static bool gemm_ex_types_ok(cudaDataType a, cudaDataType b, cudaDataType c,
                             cublasComputeType_t compute, const char **why) {
    bool f32 = a == CUDA_R_32F && b == CUDA_R_32F, bf16 = a == CUDA_R_16BF && b == CUDA_R_16BF;
    *why = "not a combination cuBLAS supports";
    if (a != b) return false;
    if (c != CUDA_R_32F) {
        *why = "C other than float is not emulated";
        return false;
    }
    switch (compute) {
    case CUBLAS_COMPUTE_32F:
    case CUBLAS_COMPUTE_32F_PEDANTIC:
        if (!f32 && !bf16) *why = "A/B types other than float and bf16 are not emulated";
        return f32 || bf16;
    case CUBLAS_COMPUTE_32F_FAST_TF32:
    case CUBLAS_COMPUTE_32F_FAST_16BF:
    case CUBLAS_COMPUTE_32F_FAST_16F:
        if (compute == CUBLAS_COMPUTE_32F_FAST_16F) *why = "FAST_16F is not emulated";
        return f32 && compute != CUBLAS_COMPUTE_32F_FAST_16F;
    default:
        *why = "compute type not emulated";
        return false;
    }
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa,
                            cublasOperation_t transb, int m, int n, int k, const void *alpha,
                            const void *A, cudaDataType Atype, int lda, const void *B,
                            cudaDataType Btype, int ldb, const void *beta, void *C,
                            cudaDataType Ctype, int ldc, cublasComputeType_t computeType,
                            cublasGemmAlgo_t algo) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    HANDLE_OK(handle);
    if (sticky_error() != cudaSuccess) return CUBLAS_STATUS_EXECUTION_FAILED;
    const char *why;
    if (!gemm_ex_types_ok(Atype, Btype, Ctype, computeType, &why)) {
        note("cublasGemmEx: A %d, B %d, C %d with compute type %d: %s", (int)Atype, (int)Btype,
             (int)Ctype, (int)computeType, why);
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    if (algo != CUBLAS_GEMM_DEFAULT && algo != CUBLAS_GEMM_DEFAULT_TENSOR_OP) {
        note("cublasGemmEx: algorithm %d is not emulated (only CUBLAS_GEMM_DEFAULT)", (int)algo);
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    if (!gemm_shape_ok("cublasGemmEx", transa, transb, m, n, k, lda, ldb, ldc))
        return CUBLAS_STATUS_INVALID_VALUE;
    bool ta = transa != CUBLAS_OP_N, tb = transb != CUBLAS_OP_N;
    if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
    if (!scalar_ok(handle, (const float *)alpha, "alpha") ||
        !scalar_ok(handle, (const float *)beta, "beta"))
        return CUBLAS_STATUS_INVALID_VALUE;
    operands_in_device_memory("cublasGemmEx", ta, tb, m, n, k, A, lda, B, ldb, C, ldc,
                              Atype == CUDA_R_16BF ? 2 : 4);
    if (stream_device(handle->stream, "cublasGemmEx") < 0) return CUBLAS_STATUS_EXECUTION_FAILED;
    bool device_scalars = handle->pointer_mode == CUBLAS_POINTER_MODE_DEVICE;
    const float *alpha_p = (const float *)alpha, *beta_p = (const float *)beta;
    float alpha_now = device_scalars ? 0.0f : *alpha_p, beta_now = device_scalars ? 0.0f : *beta_p;
    /* FAST_* compute types down-convert float operands; so does the TF32
     * math mode for compute 32F on float operands (not for PEDANTIC) */
    operand_rounding rounding =
        computeType == CUBLAS_COMPUTE_32F_FAST_TF32   ? ROUND_TF32
        : computeType == CUBLAS_COMPUTE_32F_FAST_16BF ? ROUND_BF16
        : (computeType == CUBLAS_COMPUTE_32F && Atype == CUDA_R_32F &&
           handle->math == CUBLAS_TF32_TENSOR_OP_MATH)
            ? ROUND_TF32
            : ROUND_NONE;
    float *Cf = (float *)C;
    enqueue(handle->stream, "cublasGemmEx",
            [=] {
                float a_s = device_scalars ? *alpha_p : alpha_now;
                float b_s = device_scalars ? *beta_p : beta_now;
                std::vector<float> acc((size_t)m * (size_t)n);
                if (k > 0)
                    reference_product(m, n, k, ta, tb, A, Atype, lda, B, Btype, ldb, rounding,
                                      acc.data());
                for (int64_t j = 0; j < n; j++)
                    for (int64_t i = 0; i < m; i++) {
                        float *c = &Cf[i + j * (int64_t)ldc];
                        float v = a_s * acc[(size_t)(i + j * m)];
                        *c = b_s == 0.0f ? v : v + b_s * *c;
                    }
            },
            true);
    return CUBLAS_STATUS_SUCCESS;
}

} /* extern "C" */
