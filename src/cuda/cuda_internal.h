/* cuda_internal.h: what the files of the CUDA backend share (private to
 * src/cuda): the per-device context and the error-check helpers. */
#ifndef SOMA_CUDA_INTERNAL_H
#define SOMA_CUDA_INTERNAL_H

#include <stddef.h>

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "core/backend.h"
#include "core/error.h"

/* cuBLASLt workspace, allocated once per device at init: 32 MiB is what
 * NVIDIA recommends for Hopper (smaller GPUs need less). */
#define SOMA_CUDA_LT_WORKSPACE_BYTES ((size_t)32 << 20)

typedef struct soma_cuda_memory soma_cuda_memory; /* cuda_memory.c */

/* One per open device ordinal. Everything is queued on `stream`, in order,
 * so the scratch buffers can be reused from one op to the next. A context is
 * not meant to be driven from several host threads at once (nor are the
 * cuBLAS/cuDNN handles in it). */
typedef struct soma_cuda_ctx {
    int ordinal;
    cudaStream_t stream;            /* non-blocking: no implicit sync with stream 0 */
    cublasHandle_t cublas;          /* bound to stream */
    cublasLtHandle_t cublaslt;
    void *lt_workspace;             /* SOMA_CUDA_LT_WORKSPACE_BYTES */
    float *partials;                /* SOMA_CUDA_MAX_PARTIALS floats (kernels/kernels.h) */
    void *cudnn;                    /* cudnnHandle_t, created on first use (cuda_cudnn.c) */
    void *cudnn_plans;              /* cuDNN graph plans by shape (cuda_cudnn_norm.c) */
    soma_cuda_memory *memory;       /* the cache of device blocks (cuda_memory.c) */
    void *rounded[2];               /* TF32/bf16 copies of a GEMM's B and A (cuda_gemm.c), */
    size_t rounded_bytes[2];        /* grow-only, from `memory` (freed with it) */
    unsigned long long generation;  /* +1 whenever a buffer above is replaced (graphs hold pointers) */
} soma_cuda_ctx;

/* Each returns SOMA_OK on success; otherwise it leaves the message
 * "cuda:<ordinal> <where>: <what> failed: <library error name> (<its
 * description>)" and returns SOMA_ERR_BACKEND. `where` is the op's name or
 * the backend entry point ("upload"), `what` the library call. */
static inline soma_status soma_cuda_check(int ordinal, cudaError_t err, const char *where,
                                          const char *what) {
    if (err == cudaSuccess) return SOMA_OK;
    (void)cudaGetLastError(); /* reset a non-sticky error so the next launch check is clean */
    return soma_fail(SOMA_ERR_BACKEND, "cuda:%d %s: %s failed: %s (%s)", ordinal, where, what,
                     cudaGetErrorName(err), cudaGetErrorString(err));
}

static inline soma_status soma_cublas_check(int ordinal, cublasStatus_t st, const char *where,
                                            const char *what) {
    if (st == CUBLAS_STATUS_SUCCESS) return SOMA_OK;
    return soma_fail(SOMA_ERR_BACKEND, "cuda:%d %s: %s failed: %s (%s)", ordinal, where, what,
                     cublasGetStatusName(st), cublasGetStatusString(st));
}

/* cuda_graph.c: recording the stream into a CUDA graph (core/backend.h) */
soma_status soma_cuda_graph_begin(void *ctx);
soma_status soma_cuda_graph_end(void *ctx, void **graph);
soma_status soma_cuda_graph_launch(void *ctx, void *graph);
void soma_cuda_graph_free(void *ctx, void *graph);
/* cuda_staging.c: pinned double buffers on a copy stream (core/backend.h) */
soma_status soma_cuda_staging_create(void *ctx, size_t bytes, int slots, void **staging);
void soma_cuda_staging_free(void *ctx, void *staging);
soma_status soma_cuda_staging_acquire(void *ctx, void *staging, int slot, void **host);
soma_status soma_cuda_staging_upload(void *ctx, void *staging, int slot, int n, void *const *dst,
                                     const size_t *pieces);
soma_status soma_cuda_staging_release(void *ctx, void *staging, int slot);
/* cuda_memory.c: cudaMemGetInfo of the context's device */
soma_status soma_cuda_memory_info(void *ctx, uint64_t *free_bytes, uint64_t *total_bytes);

/* Only where <cudnn.h> was included first (cuda_cudnn.c). */
#ifdef CUDNN_MAJOR
static inline soma_status soma_cudnn_check(int ordinal, cudnnStatus_t st, const char *where,
                                           const char *what) {
    if (st == CUDNN_STATUS_SUCCESS) return SOMA_OK;
    return soma_fail(SOMA_ERR_BACKEND, "cuda:%d %s: %s failed: %s", ordinal, where, what,
                     cudnnGetErrorString(st));
}
/* cuda_cudnn.c: the context's cuDNN handle, created on first use */
soma_status soma_cudnn_handle(soma_cuda_ctx *ctx, const char *where, cudnnHandle_t *out);
#endif
/* cuda_cudnn_norm.c: the "cudnn" variant of layernorm_forward and
 * layernorm_backward (cuDNN's graph API), and the release of its cached
 * execution plans (before the handle they were built with). */
soma_status soma_cudnn_layernorm(void *ctx, const soma_op_call *call);
void soma_cudnn_plans_destroy(soma_cuda_ctx *ctx);

/* Makes the context's GPU current for this host thread; every entry point
 * calls it first, since several devices may be open at once. */
static inline soma_status soma_cuda_enter(const soma_cuda_ctx *ctx, const char *where) {
    return soma_cuda_check(ctx->ordinal, cudaSetDevice(ctx->ordinal), where, "cudaSetDevice");
}

/* The op's name ("relu_backward") for messages from kernels (cuda_entry.c:
 * the module reads the core's op table through its host services). */
const char *soma_cuda_op_name(const soma_op_call *call);

/* cuda_backend.c: the table; the core reaches it through cuda_entry.c. */
extern const soma_backend soma_cuda_backend;

/* cuda_memory.c: device memory through a cache of freed blocks, so that a
 * warmed-up run allocates nothing; the device must be current. Destroy
 * frees every block (at context shutdown). */
soma_status soma_cuda_memory_alloc(soma_cuda_ctx *ctx, size_t bytes, void **ptr);
void soma_cuda_memory_free(soma_cuda_ctx *ctx, void *ptr);
void soma_cuda_memory_trim(void *ctx); /* the backend's trim: cached blocks back to the device */
void soma_cuda_memory_destroy(soma_cuda_ctx *ctx);
void soma_cuda_memory_usage(const soma_cuda_ctx *ctx, size_t *live_bytes, size_t *cached_bytes);

/* cuda_gemm.c: C = alpha op(A) op(B) + beta C with cublasSgemm (default)
 * and with cublasLtMatmul (variant "cublaslt"). */
soma_status soma_cuda_gemm(void *ctx, const soma_op_call *call);
soma_status soma_cuda_gemm_lt(void *ctx, const soma_op_call *call);

/* cuda_lt.c: the GEMMs with cuBLASLt's epilogues (gemm_bias_relu,
 * gemm_bias_gelu, gemm_drelu_bgrad, gemm_dgelu_bgrad): cublasSgemm and a
 * pass (default), or one cublasLtMatmul (variant "cublaslt", falling back to
 * the default where the heuristic offers nothing). */
soma_status soma_cuda_gemm_epilogue(void *ctx, const soma_op_call *call);
soma_status soma_cuda_gemm_epilogue_lt(void *ctx, const soma_op_call *call);

/* cuda_cudnn.c, or cudnn_absent.c when soma is built without cuDNN (CMake
 * picks one): the backend's variant list, which holds "cublaslt" for GEMM
 * and, with cuDNN, "cudnn" for softmax, log_softmax, batchnorm, layernorm
 * and their backward ops (ends with a {SOMA_OP_COUNT, NULL, NULL} entry);
 * and the release of the context's cuDNN handle and plans, if made. */
extern const soma_op_variant soma_cuda_variants[];
void soma_cuda_cudnn_destroy(soma_cuda_ctx *ctx);

#endif
