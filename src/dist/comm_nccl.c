/* comm_nccl.c: the gradient all-reduce between GPU ranks over NCCL
 * (dist_internal.h), one rank per GPU. The NCCL unique id goes from rank 0
 * to the others over the host communicator (MPI); the reductions run on the
 * device's compute stream, in place on the gradient tensors, one
 * ncclAllReduce per tensor in one group (NCCL fuses them), each rank's
 * gradients pre-multiplied by its share of the batch (ncclRedOpCreatePreMulSum),
 * so that the sum is the batch's mean gradient. One more float carries the
 * ranks' stop requests; reading it back is the step's one host wait.
 *
 * In the emulation build the same calls go to tests/emu/nccl.cpp (over MPI
 * on emulated device memory). Not yet run on a GPU. */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include <nccl.h>

#include "cuda/cuda_internal.h" /* soma_cuda_ctx: the device's stream and ordinal */
#include "dist/dist_internal.h"
#include "soma/tensor.h"

struct soma_nccl {
    ncclComm_t comm;
    soma_tensor *flag; /* one float on the device: the stop requests */
    char description[64];
};

static soma_status nccl_failed(const char *what, ncclResult_t r) {
    return soma_fail(SOMA_ERR_BACKEND, "soma_train: %s failed: %s (%d)", what, ncclGetErrorString(r), (int)r);
}

static soma_cuda_ctx *ctx_of(soma_device *dev) { return dev->ctx; }

soma_status soma_nccl_open(soma_dist *d, soma_device *dev, soma_nccl **out) {
    *out = NULL;
    ncclUniqueId id;
    ncclResult_t r = ncclSuccess;
    if (d->rank == 0 && (r = ncclGetUniqueId(&id)) != ncclSuccess) memset(&id, 0, sizeof id);
    /* every rank takes part in the broadcast, also after a failure: the id of
     * zeros then fails ncclCommInitRank on every rank */
    SOMA_TRY(d->comm->broadcast(d->ctx, &id, sizeof id, 0));
    if (r != ncclSuccess) return nccl_failed("ncclGetUniqueId", r);
    soma_nccl *n = calloc(1, sizeof *n);
    if (!n) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "soma_train: out of host memory");
    soma_cuda_ctx *ctx = ctx_of(dev);
    soma_status st = soma_cuda_check(ctx->ordinal, cudaSetDevice(ctx->ordinal), "nccl", "cudaSetDevice");
    if (st == SOMA_OK && (r = ncclCommInitRank(&n->comm, d->size, id, d->rank)) != ncclSuccess)
        st = nccl_failed("ncclCommInitRank", r);
    if (st == SOMA_OK) st = soma_tensor_create(dev, 1, 1, &n->flag);
    int version = 0;
    if (st == SOMA_OK && ncclGetVersion(&version) == ncclSuccess)
        snprintf(n->description, sizeof n->description, "NCCL %d.%d.%d%s", version / 10000, version / 100 % 100,
                 version % 100,
#ifdef SOMA_CUDA_EMULATION
                 " (emulated)"
#else
                 ""
#endif
        );
    if (st != SOMA_OK) {
        soma_nccl_close(n);
        return st;
    }
    *out = n;
    return SOMA_OK;
}

void soma_nccl_close(soma_nccl *n) {
    if (!n) return;
    soma_tensor_free(n->flag);
    if (n->comm) ncclCommDestroy(n->comm);
    free(n);
}

const char *soma_nccl_description(const soma_nccl *n) { return n->description; }

const int soma_nccl_built = 1;

soma_status soma_nccl_average(soma_nccl *n, soma_device *dev, soma_tensor *const *grads, int count, float share,
                              float *flag) {
    soma_cuda_ctx *ctx = ctx_of(dev);
    SOMA_TRY(soma_tensor_upload(n->flag, flag, 1));
    ncclRedOp_t op;
    ncclResult_t r = ncclRedOpCreatePreMulSum(&op, &share, ncclFloat32, ncclScalarHostImmediate, n->comm);
    if (r != ncclSuccess) return nccl_failed("ncclRedOpCreatePreMulSum", r);
    ncclResult_t group = ncclGroupStart();
    for (int i = 0; i < count && r == ncclSuccess && group == ncclSuccess; i++) {
        float *g = grads[i]->data;
        r = ncclAllReduce(g, g, (size_t)soma_tensor_numel(grads[i]), ncclFloat32, op, n->comm, ctx->stream);
    }
    if (r == ncclSuccess && group == ncclSuccess)
        r = ncclAllReduce(n->flag->data, n->flag->data, 1, ncclFloat32, ncclSum, n->comm, ctx->stream);
    if (group == ncclSuccess) group = ncclGroupEnd();
    ncclRedOpDestroy(op, n->comm); /* allowed once the last call given it has returned */
    if (r != ncclSuccess) return nccl_failed("ncclAllReduce", r);
    if (group != ncclSuccess) return nccl_failed("ncclGroupStart/End", group);
    return soma_tensor_download(n->flag, flag, 1); /* waits for the step's reductions */
}
