/* cuda_staging.c: batches from host memory copied while the GPU computes.
 *
 * Each slot is a pinned host buffer with two events. A step of the training
 * loop acquires a slot (the host waits only if the slot's previous copy is
 * still running: with two slots, that is the copy of two steps ago), gathers
 * its batch into it, and uploads it: the copy stream first waits for
 * `consumed` (the compute stream has finished the step that last read the
 * slot's destination tensors), copies, and records `copied`; the compute
 * stream waits for `copied` before the step's kernels. After queueing the
 * step, the loop releases the slot: `consumed` is recorded on the compute
 * stream. So the gather of step b + 1 on the host and its copy overlap the
 * kernels of step b, and copies from pinned memory need no staging by the
 * driver (pageable copies do, synchronously). */
#include <stdlib.h>

#include "cuda/cuda_internal.h"

#define MAX_SLOTS 4

typedef struct staging {
    int slots;
    size_t bytes;
    cudaStream_t copy_stream;
    void *host[MAX_SLOTS];
    cudaEvent_t copied[MAX_SLOTS], consumed[MAX_SLOTS];
    int pending[MAX_SLOTS]; /* an upload of the slot was queued: `copied` is recorded */
} staging;

void soma_cuda_staging_free(void *vctx, void *vst) {
    soma_cuda_ctx *ctx = vctx;
    staging *st = vst;
    if (!st) return;
    if (cudaSetDevice(ctx->ordinal) == cudaSuccess) {
        if (st->copy_stream) (void)cudaStreamSynchronize(st->copy_stream);
        for (int i = 0; i < st->slots; i++) {
            if (st->host[i]) (void)cudaFreeHost(st->host[i]);
            if (st->copied[i]) (void)cudaEventDestroy(st->copied[i]);
            if (st->consumed[i]) (void)cudaEventDestroy(st->consumed[i]);
        }
        if (st->copy_stream) (void)cudaStreamDestroy(st->copy_stream);
        (void)cudaGetLastError();
    }
    free(st);
}

soma_status soma_cuda_staging_create(void *vctx, size_t bytes, int slots, void **out) {
    soma_cuda_ctx *ctx = vctx;
    *out = NULL;
    if (slots < 1 || slots > MAX_SLOTS)
        return soma_fail(SOMA_ERR_INVALID_ARG, "staging: %d slots (1 to %d)", slots, MAX_SLOTS);
    SOMA_TRY(soma_cuda_enter(ctx, "staging"));
    staging *st = calloc(1, sizeof *st);
    if (!st) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "staging: out of host memory");
    st->slots = slots;
    st->bytes = bytes;
    soma_status s = soma_cuda_check(ctx->ordinal, cudaStreamCreateWithFlags(&st->copy_stream, cudaStreamNonBlocking),
                                    "staging", "cudaStreamCreateWithFlags");
    for (int i = 0; i < slots && s == SOMA_OK; i++) {
        s = soma_cuda_check(ctx->ordinal, cudaMallocHost(&st->host[i], bytes ? bytes : 1), "staging",
                            "cudaMallocHost (pinned batch buffer)");
        if (s == SOMA_OK)
            s = soma_cuda_check(ctx->ordinal, cudaEventCreateWithFlags(&st->copied[i], cudaEventDisableTiming),
                                "staging", "cudaEventCreateWithFlags");
        if (s == SOMA_OK)
            s = soma_cuda_check(ctx->ordinal, cudaEventCreateWithFlags(&st->consumed[i], cudaEventDisableTiming),
                                "staging", "cudaEventCreateWithFlags");
    }
    if (s != SOMA_OK) {
        soma_cuda_staging_free(ctx, st);
        return s;
    }
    *out = st;
    return SOMA_OK;
}

soma_status soma_cuda_staging_acquire(void *vctx, void *vst, int slot, void **host) {
    soma_cuda_ctx *ctx = vctx;
    staging *st = vst;
    SOMA_TRY(soma_cuda_enter(ctx, "staging"));
    if (st->pending[slot]) /* the host may not overwrite what a queued copy still reads */
        SOMA_TRY(soma_cuda_check(ctx->ordinal, cudaEventSynchronize(st->copied[slot]), "staging",
                                 "cudaEventSynchronize"));
    st->pending[slot] = 0;
    *host = st->host[slot];
    return SOMA_OK;
}

soma_status soma_cuda_staging_upload(void *vctx, void *vst, int slot, int n, void *const *dst,
                                     const size_t *pieces) {
    soma_cuda_ctx *ctx = vctx;
    staging *st = vst;
    SOMA_TRY(soma_cuda_enter(ctx, "staging"));
    /* a consumed event never recorded yet waits for nothing */
    SOMA_TRY(soma_cuda_check(ctx->ordinal, cudaStreamWaitEvent(st->copy_stream, st->consumed[slot], 0),
                             "staging", "cudaStreamWaitEvent"));
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        if (at + pieces[i] > st->bytes)
            return soma_fail(SOMA_ERR_INVALID_ARG, "staging: %zu bytes do not fit a slot of %zu", at + pieces[i],
                             st->bytes);
        SOMA_TRY(soma_cuda_check(ctx->ordinal,
                                 cudaMemcpyAsync(dst[i], (const char *)st->host[slot] + at, pieces[i],
                                                 cudaMemcpyHostToDevice, st->copy_stream),
                                 "staging", "cudaMemcpyAsync"));
        at += pieces[i];
    }
    SOMA_TRY(soma_cuda_check(ctx->ordinal, cudaEventRecord(st->copied[slot], st->copy_stream), "staging",
                             "cudaEventRecord"));
    st->pending[slot] = 1;
    return soma_cuda_check(ctx->ordinal, cudaStreamWaitEvent(ctx->stream, st->copied[slot], 0), "staging",
                           "cudaStreamWaitEvent");
}

soma_status soma_cuda_staging_release(void *vctx, void *vst, int slot) {
    soma_cuda_ctx *ctx = vctx;
    staging *st = vst;
    SOMA_TRY(soma_cuda_enter(ctx, "staging"));
    return soma_cuda_check(ctx->ordinal, cudaEventRecord(st->consumed[slot], ctx->stream), "staging",
                           "cudaEventRecord");
}
