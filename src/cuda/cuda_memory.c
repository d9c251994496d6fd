/* cuda_memory.c: device memory of the CUDA backend, through a cache.
 *
 * cudaMalloc and cudaFree are slow, and cudaFree waits for the whole device.
 * A training run asks for the same sizes again and again (each validation's
 * feeder, each checkpoint's copies), so a freed block goes to a cache keyed
 * by its rounded size and is handed out again instead: once a run has
 * warmed up, no step calls cudaMalloc or cudaFree. Reuse needs no wait:
 * every op of a context is queued on its one stream, in order, so work
 * queued after the free cannot run before the work that used the block.
 * cudaMalloc happens on a miss; when it fails, the cache is returned to the
 * device and the allocation tried once more. Shutdown frees everything. */
#include <stdlib.h>

#include "cuda/cuda_internal.h"

/* Rounded sizes: 512-byte steps up to 1 MiB, 2 MiB steps above, so that
 * tensors of nearby sizes share blocks without wasting much. */
static size_t rounded(size_t bytes) {
    size_t step = bytes <= ((size_t)1 << 20) ? 512 : ((size_t)2 << 20);
    return (bytes + step - 1) / step * step;
}

typedef struct block {
    void *ptr;
    size_t bytes; /* rounded */
} block;

struct soma_cuda_memory {
    block *live, *cached; /* handed out; waiting for reuse */
    size_t n_live, n_cached, cap_live, cap_cached;
    size_t live_bytes, cached_bytes;
};

static int push(block **list, size_t *n, size_t *cap, block b) {
    if (*n == *cap) {
        size_t cap2 = *cap ? 2 * *cap : 64;
        block *grown = realloc(*list, cap2 * sizeof *grown);
        if (!grown) return 0;
        *list = grown;
        *cap = cap2;
    }
    (*list)[(*n)++] = b;
    return 1;
}

static block take(block *list, size_t *n, size_t i) {
    block b = list[i];
    list[i] = list[--*n];
    return b;
}

/* Returns every cached block to the device. */
static void release_cached(soma_cuda_ctx *ctx) {
    soma_cuda_memory *m = ctx->memory;
    if (!m) return;
    for (size_t i = 0; i < m->n_cached; i++) (void)cudaFree(m->cached[i].ptr);
    m->n_cached = 0;
    m->cached_bytes = 0;
    (void)cudaGetLastError();
}

soma_status soma_cuda_memory_alloc(soma_cuda_ctx *ctx, size_t bytes, void **ptr) {
    *ptr = NULL;
    if (!ctx->memory && !(ctx->memory = calloc(1, sizeof *ctx->memory)))
        return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "cuda:%d: cannot allocate the memory cache",
                         ctx->ordinal);
    soma_cuda_memory *m = ctx->memory;
    size_t size = rounded(bytes ? bytes : 1);
    block b = {NULL, size};
    for (size_t i = 0; i < m->n_cached; i++)
        if (m->cached[i].bytes == size) {
            b = take(m->cached, &m->n_cached, i);
            m->cached_bytes -= size;
            break;
        }
    if (!b.ptr) {
        cudaError_t err = cudaMalloc(&b.ptr, size);
        if (err == cudaErrorMemoryAllocation && m->n_cached > 0) {
            (void)cudaGetLastError();
            release_cached(ctx);
            err = cudaMalloc(&b.ptr, size);
        }
        if (err == cudaErrorMemoryAllocation) {
            (void)cudaGetLastError();
            return soma_fail(SOMA_ERR_OUT_OF_MEMORY,
                             "cuda:%d: cudaMalloc of %zu bytes failed: out of device memory (%zu "
                             "bytes in use by soma)",
                             ctx->ordinal, bytes, m->live_bytes);
        }
        SOMA_TRY(soma_cuda_check(ctx->ordinal, err, "alloc", "cudaMalloc"));
    }
    if (!push(&m->live, &m->n_live, &m->cap_live, b)) {
        /* cannot remember it as handed out: keep it for later, or give it back */
        if (push(&m->cached, &m->n_cached, &m->cap_cached, b))
            m->cached_bytes += size;
        else
            (void)cudaFree(b.ptr);
        return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "cuda:%d: out of host memory for the memory cache",
                         ctx->ordinal);
    }
    m->live_bytes += size;
    *ptr = b.ptr;
    return SOMA_OK;
}

void soma_cuda_memory_free(soma_cuda_ctx *ctx, void *ptr) {
    soma_cuda_memory *m = ctx->memory;
    if (!ptr || !m) return;
    for (size_t i = 0; i < m->n_live; i++)
        if (m->live[i].ptr == ptr) {
            block b = take(m->live, &m->n_live, i);
            m->live_bytes -= b.bytes;
            if (push(&m->cached, &m->n_cached, &m->cap_cached, b))
                m->cached_bytes += b.bytes;
            else
                (void)cudaFree(b.ptr); /* no room to remember it: give it back */
            return;
        }
}

void soma_cuda_memory_trim(void *vctx) {
    soma_cuda_ctx *ctx = vctx;
    if (cudaSetDevice(ctx->ordinal) == cudaSuccess) release_cached(ctx);
}

void soma_cuda_memory_destroy(soma_cuda_ctx *ctx) {
    soma_cuda_memory *m = ctx->memory;
    if (!m) return;
    release_cached(ctx);
    for (size_t i = 0; i < m->n_live; i++) (void)cudaFree(m->live[i].ptr); /* tensors not freed */
    (void)cudaGetLastError();
    free(m->live);
    free(m->cached);
    free(m);
    ctx->memory = NULL;
}

void soma_cuda_memory_usage(const soma_cuda_ctx *ctx, size_t *live_bytes, size_t *cached_bytes) {
    const soma_cuda_memory *m = ctx->memory;
    *live_bytes = m ? m->live_bytes : 0;
    *cached_bytes = m ? m->cached_bytes : 0;
}

/* What the device has free, counting the blocks this cache holds for reuse
 * as free (they are, to soma). */
soma_status soma_cuda_memory_info(void *vctx, uint64_t *free_bytes, uint64_t *total_bytes) {
    soma_cuda_ctx *ctx = vctx;
    SOMA_TRY(soma_cuda_enter(ctx, "memory_info"));
    size_t free_now = 0, total = 0;
    SOMA_TRY(soma_cuda_check(ctx->ordinal, cudaMemGetInfo(&free_now, &total), "memory_info", "cudaMemGetInfo"));
    size_t live = 0, cached = 0;
    soma_cuda_memory_usage(ctx, &live, &cached);
    *free_bytes = (uint64_t)free_now + (uint64_t)cached;
    *total_bytes = (uint64_t)total;
    return SOMA_OK;
}
