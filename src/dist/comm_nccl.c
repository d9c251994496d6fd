/* comm_nccl.c: the gradient all-reduce between GPU ranks over NCCL
 * (dist_internal.h), one rank per GPU. The NCCL unique id goes from rank 0
 * to the others over the host communicator (MPI); the reductions run on the
 * device's compute stream, in place on the gradient tensors, one
 * ncclAllReduce per tensor in one group (NCCL fuses them), each rank's
 * gradients pre-multiplied by its share of the batch (ncclRedOpCreatePreMulSum),
 * so that the sum is the batch's mean gradient. One more float carries the
 * ranks' stop requests; reading it back is the step's one host wait.
 *
 * libnccl (218 MB) is loaded at the first step of GPU ranks (dlopen), not
 * at every start of soma: mapped at start it took soma past `ulimit -v
 * 800000` (tests/hostile.sh c8). When a rank cannot load it, every rank
 * stays on the host path (the ranks agree on it), and soma_dist_reducer says
 * why. In the emulation build the same calls go to tests/emu/nccl.cpp (over
 * MPI on emulated device memory), linked in. Not yet run on a GPU. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include <nccl.h>

#include "core/backend.h" /* make_current: the device's stream (no CUDA call here: the core links no CUDA) */
#include "core/error.h"
#include "dist/dist_internal.h"
#include "soma/tensor.h"

/* The NCCL functions soma calls. */
typedef struct nccl_api {
    ncclResult_t (*GetUniqueId)(ncclUniqueId *);
    ncclResult_t (*CommInitRank)(ncclComm_t *, int, ncclUniqueId, int);
    ncclResult_t (*CommDestroy)(ncclComm_t);
    ncclResult_t (*GetVersion)(int *);
    const char *(*GetErrorString)(ncclResult_t);
    ncclResult_t (*RedOpCreatePreMulSum)(ncclRedOp_t *, void *, ncclDataType_t, ncclScalarResidence_t, ncclComm_t);
    ncclResult_t (*RedOpDestroy)(ncclRedOp_t, ncclComm_t);
    ncclResult_t (*GroupStart)(void);
    ncclResult_t (*GroupEnd)(void);
    ncclResult_t (*AllReduce)(const void *, void *, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t);
} nccl_api;

static nccl_api api;

#ifdef SOMA_CUDA_EMULATION
static int load_api(char *why, size_t why_size) {
    (void)why, (void)why_size;
    api = (nccl_api){ncclGetUniqueId, ncclCommInitRank, ncclCommDestroy, ncclGetVersion, ncclGetErrorString,
                     ncclRedOpCreatePreMulSum, ncclRedOpDestroy, ncclGroupStart, ncclGroupEnd, ncclAllReduce};
    return 1;
}
#else
static int load_api(char *why, size_t why_size) {
    if (api.AllReduce) return 1;
    void *lib = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(why, why_size, "%s", dlerror());
        return 0;
    }
    nccl_api a;
    void **slots = (void **)&a;
    static const char *const names[] = {"ncclGetUniqueId", "ncclCommInitRank", "ncclCommDestroy",
                                        "ncclGetVersion", "ncclGetErrorString", "ncclRedOpCreatePreMulSum",
                                        "ncclRedOpDestroy", "ncclGroupStart", "ncclGroupEnd", "ncclAllReduce"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!(slots[i] = dlsym(lib, names[i]))) {
            snprintf(why, why_size, "libnccl.so.2 has no %s (NCCL older than 2.11?)", names[i]);
            dlclose(lib);
            return 0;
        }
    api = a; /* the library stays loaded for the process */
    return 1;
}
#endif

struct soma_nccl {
    ncclComm_t comm;
    soma_tensor *flag; /* one float on the device: the stop requests */
    char description[64];
};

static soma_status nccl_failed(const char *what, ncclResult_t r) {
    return soma_fail(SOMA_ERR_BACKEND, "soma_train: %s failed: %s (%d)", what, api.GetErrorString(r), (int)r);
}

/* Makes dev's GPU current for this thread (NCCL works on the current device)
 * and gives the stream the backend queues its work on. */
static soma_status enter(soma_device *dev, cudaStream_t *stream) {
    void *s = NULL;
    SOMA_TRY(dev->backend->make_current(dev->ctx, &s));
    *stream = (cudaStream_t)s;
    return SOMA_OK;
}

soma_status soma_nccl_open(soma_dist *d, soma_device *dev, soma_nccl **out) {
    *out = NULL;
    /* every rank loads the library, or none uses it */
    double missing = load_api(d->nccl_missing, sizeof d->nccl_missing) ? 0.0 : 1.0;
    SOMA_TRY(d->comm->all_reduce_sum_f64(d->ctx, &missing, 1));
    if (missing > 0.0) {
        char why[sizeof d->nccl_missing];
        snprintf(why, sizeof why, "%s", d->nccl_missing[0] ? d->nccl_missing : "another rank could not load it");
        snprintf(d->nccl_missing, sizeof d->nccl_missing, "host buffer over MPI (NCCL not loaded: %.140s)", why);
        return SOMA_OK; /* the host path, on every rank */
    }
    ncclUniqueId id;
    ncclResult_t r = ncclSuccess;
    if (d->rank == 0 && (r = api.GetUniqueId(&id)) != ncclSuccess) memset(&id, 0, sizeof id);
    /* every rank takes part in the broadcast, also after a failure: the id of
     * zeros then fails ncclCommInitRank on every rank */
    SOMA_TRY(d->comm->broadcast(d->ctx, &id, sizeof id, 0));
    if (r != ncclSuccess) return nccl_failed("ncclGetUniqueId", r);
    soma_nccl *n = calloc(1, sizeof *n);
    if (!n) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "soma_train: out of host memory");
    cudaStream_t stream;
    soma_status st = enter(dev, &stream);
    if (st == SOMA_OK && (r = api.CommInitRank(&n->comm, d->size, id, d->rank)) != ncclSuccess)
        st = nccl_failed("ncclCommInitRank", r);
    if (st == SOMA_OK) st = soma_tensor_create(dev, 1, 1, &n->flag);
    int version = 0;
    if (st == SOMA_OK && api.GetVersion(&version) == ncclSuccess)
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
    if (n->comm) api.CommDestroy(n->comm);
    free(n);
}

const char *soma_nccl_description(const soma_nccl *n) { return n->description; }

const int soma_nccl_built = 1;

soma_status soma_nccl_average(soma_nccl *n, soma_device *dev, soma_tensor *const *grads, int count, float share,
                              float *flag) {
    cudaStream_t stream;
    SOMA_TRY(enter(dev, &stream));
    SOMA_TRY(soma_tensor_upload(n->flag, flag, 1));
    ncclRedOp_t op;
    ncclResult_t r = api.RedOpCreatePreMulSum(&op, &share, ncclFloat32, ncclScalarHostImmediate, n->comm);
    if (r != ncclSuccess) return nccl_failed("ncclRedOpCreatePreMulSum", r);
    ncclResult_t group = api.GroupStart();
    for (int i = 0; i < count && r == ncclSuccess && group == ncclSuccess; i++) {
        float *g = grads[i]->data;
        r = api.AllReduce(g, g, (size_t)soma_tensor_numel(grads[i]), ncclFloat32, op, n->comm, stream);
    }
    if (r == ncclSuccess && group == ncclSuccess)
        r = api.AllReduce(n->flag->data, n->flag->data, 1, ncclFloat32, ncclSum, n->comm, stream);
    if (group == ncclSuccess) group = api.GroupEnd();
    api.RedOpDestroy(op, n->comm); /* allowed once the last call given it has returned */
    if (r != ncclSuccess) return nccl_failed("ncclAllReduce", r);
    if (group != ncclSuccess) return nccl_failed("ncclGroupStart/End", group);
    return soma_tensor_download(n->flag, flag, 1); /* waits for the step's reductions */
}
