/* nccl.cpp: a stand-in for NCCL (the calls soma makes), over MPI, for the
 * emulation build: the GPU call sequence of data-parallel training runs in
 * CI with one process per emulated GPU, started by mpirun.
 *
 * Emulated device memory is host memory, so an ncclAllReduce is an
 * MPI_Allreduce on it, queued on the stream like any device work and run
 * when the host waits for the stream, in stream order (as NCCL's kernel
 * runs in stream order on a GPU). The communicator is a duplicate of
 * MPI_COMM_WORLD: the queued reductions never mix with the host's own MPI
 * calls. What it checks, that the real library leaves to a fault or a hang:
 * buffers that are not device memory of the stream's device or overrun their
 * allocation, a rank count or rank that disagrees with MPI's, a reduction op
 * of another communicator, and calls between ncclGroupStart and ncclGroupEnd
 * that never end. Only float sums and pre-multiplied sums
 * (ncclRedOpCreatePreMulSum with a host scalar) are modelled. */
#include <stdio.h>
#include <string.h>

#include <map>

#define OMPI_SKIP_MPICXX 1 /* the C API only: no MPI C++ bindings to link */
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include "emu_internal.h"

#include <nccl.h>

using namespace soma_emu;

struct ncclComm {
    MPI_Comm mpi;
    int rank, size;
    std::map<int, float> premul; /* the ops made by ncclRedOpCreatePreMulSum: their scalars */
    int next_op = ncclNumOps;
};

static int group_depth = 0;

extern "C" {

ncclResult_t ncclGetVersion(int *version) {
    if (!version) return ncclInvalidArgument;
    *version = NCCL_VERSION_CODE;
    return ncclSuccess;
}

const char *ncclGetErrorString(ncclResult_t result) {
    switch (result) {
    case ncclSuccess: return "no error";
    case ncclUnhandledCudaError: return "unhandled cuda error";
    case ncclSystemError: return "unhandled system error";
    case ncclInternalError: return "internal error";
    case ncclInvalidArgument: return "invalid argument";
    case ncclInvalidUsage: return "invalid usage";
    default: return "unknown result code";
    }
}

ncclResult_t ncclGetUniqueId(ncclUniqueId *id) {
    if (!id) return ncclInvalidArgument;
    memset(id, 0, sizeof *id);
    snprintf(id->internal, sizeof id->internal, "soma-emu nccl");
    return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank) {
    std::lock_guard<std::recursive_mutex> lock(api_lock);
    if (!comm) return ncclInvalidArgument;
    int initialized = 0, size = 0, mine = -1;
    MPI_Initialized(&initialized);
    if (!initialized) {
        note("ncclCommInitRank: the emulated NCCL runs over MPI, which is not initialized");
        return ncclInvalidUsage;
    }
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_rank(MPI_COMM_WORLD, &mine);
    if (nranks != size || rank != mine || strcmp(id.internal, "soma-emu nccl") != 0) {
        note("ncclCommInitRank(nranks %d, rank %d): MPI has %d ranks and this is rank %d, or the id did not come "
             "from ncclGetUniqueId", nranks, rank, size, mine);
        return ncclInvalidArgument;
    }
    ncclComm *c = new ncclComm;
    c->rank = rank;
    c->size = nranks;
    if (MPI_Comm_dup(MPI_COMM_WORLD, &c->mpi) != MPI_SUCCESS) {
        delete c;
        return ncclSystemError;
    }
    *comm = c;
    return ncclSuccess;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
    std::lock_guard<std::recursive_mutex> lock(api_lock);
    if (!comm) return ncclInvalidArgument;
    MPI_Comm_free(&comm->mpi);
    delete comm;
    return ncclSuccess;
}

ncclResult_t ncclRedOpCreatePreMulSum(ncclRedOp_t *op, void *scalar, ncclDataType_t datatype,
                                      ncclScalarResidence_t residence, ncclComm_t comm) {
    std::lock_guard<std::recursive_mutex> lock(api_lock);
    if (!op || !scalar || !comm) return ncclInvalidArgument;
    if (datatype != ncclFloat32 || residence != ncclScalarHostImmediate) {
        note("ncclRedOpCreatePreMulSum: the emulation models float scalars on the host only");
        return ncclInvalidArgument;
    }
    int id = comm->next_op++;
    comm->premul[id] = *(const float *)scalar; /* host-immediate: taken now */
    *op = (ncclRedOp_t)id;
    return ncclSuccess;
}

ncclResult_t ncclRedOpDestroy(ncclRedOp_t op, ncclComm_t comm) {
    std::lock_guard<std::recursive_mutex> lock(api_lock);
    if (!comm || !comm->premul.erase((int)op)) return ncclInvalidArgument;
    return ncclSuccess;
}

ncclResult_t ncclGroupStart() {
    group_depth++;
    return ncclSuccess;
}

ncclResult_t ncclGroupEnd() {
    if (group_depth == 0) return ncclInvalidUsage;
    group_depth--;
    return ncclSuccess;
}

ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
                           ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream) {
    std::lock_guard<std::recursive_mutex> lock(api_lock);
    if (!comm || !sendbuff || !recvbuff) return ncclInvalidArgument;
    if (datatype != ncclFloat32) {
        note("ncclAllReduce: the emulation models float32 only");
        return ncclInvalidArgument;
    }
    float scale = 1.0f;
    if (op != ncclSum) {
        auto it = comm->premul.find((int)op);
        if (it == comm->premul.end()) {
            note("ncclAllReduce: op %d is neither ncclSum nor a pre-multiplied sum of this communicator", (int)op);
            return ncclInvalidArgument;
        }
        scale = it->second;
    }
    size_t bytes = count * sizeof(float);
    if (!device_span_ok(sendbuff, bytes, "ncclAllReduce", "sendbuff") ||
        !device_span_ok(recvbuff, bytes, "ncclAllReduce", "recvbuff"))
        return ncclInvalidArgument;
    int device = stream_device(stream, "ncclAllReduce");
    if (device < 0) return ncclUnhandledCudaError;
    if (find_allocation(recvbuff, bytes)->device != device) {
        note("ncclAllReduce: recvbuff is memory of device %d, the stream's is %d", find_allocation(recvbuff, bytes)->device,
             device);
        return ncclInvalidArgument;
    }
    MPI_Comm mpi = comm->mpi;
    const float *send = (const float *)sendbuff;
    float *recv = (float *)recvbuff;
    enqueue(stream, "ncclAllReduce",
            [=] {
                if (recv != send) memcpy(recv, send, bytes);
                if (scale != 1.0f)
                    for (size_t i = 0; i < count; i++) recv[i] *= scale;
                for (size_t at = 0; at < count; at += (size_t)1 << 30) {
                    int n = (int)(count - at < ((size_t)1 << 30) ? count - at : ((size_t)1 << 30));
                    if (MPI_Allreduce(MPI_IN_PLACE, recv + at, n, MPI_FLOAT, MPI_SUM, mpi) != MPI_SUCCESS)
                        fatal("ncclAllReduce: MPI_Allreduce failed (on a GPU: a hang or a fault)");
                }
            },
            true);
    return ncclSuccess;
}

} /* extern "C" */
