/* comm_mpi.c: the communicator over MPI (dist_internal.h), for ranks on
 * the CPU. Collectives on host memory, on MPI_COMM_WORLD, with MPI's errors
 * returned as statuses rather than ending the process. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <mpi.h>

#include "core/error.h"
#include "dist/dist_internal.h"

static soma_status mpi_failed(const char *what, int code) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "error %d", code);
    return soma_fail(SOMA_ERR_BACKEND, "%s: %s", what, text);
}

/* MPI counts are ints: larger buffers go in chunks of at most INT_MAX elements. */
#define CHUNK ((size_t)INT_MAX)

static soma_status all_reduce_sum_f32(void *ctx, float *data, size_t count) {
    (void)ctx;
    for (size_t at = 0; at < count; at += CHUNK) {
        int n = (int)(count - at < CHUNK ? count - at : CHUNK);
        int rc = MPI_Allreduce(MPI_IN_PLACE, data + at, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_failed("MPI_Allreduce (float sum)", rc);
    }
    return SOMA_OK;
}

static soma_status all_reduce_sum_f64(void *ctx, double *data, size_t count) {
    (void)ctx;
    for (size_t at = 0; at < count; at += CHUNK) {
        int n = (int)(count - at < CHUNK ? count - at : CHUNK);
        int rc = MPI_Allreduce(MPI_IN_PLACE, data + at, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_failed("MPI_Allreduce (double sum)", rc);
    }
    return SOMA_OK;
}

static soma_status all_gather(void *ctx, const void *mine, void *all, size_t bytes) {
    (void)ctx;
    if (bytes > CHUNK) return soma_fail(SOMA_ERR_INVALID_ARG, "MPI_Allgather: %zu bytes per rank is too many", bytes);
    int rc = MPI_Allgather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? SOMA_OK : mpi_failed("MPI_Allgather", rc);
}

static soma_status broadcast(void *ctx, void *data, size_t bytes, int root) {
    (void)ctx;
    for (size_t at = 0; at < bytes; at += CHUNK) {
        int n = (int)(bytes - at < CHUNK ? bytes - at : CHUNK);
        int rc = MPI_Bcast((char *)data + at, n, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_failed("MPI_Bcast", rc);
    }
    return SOMA_OK;
}

static void abort_all(void *ctx, int exit_code) {
    (void)ctx;
    MPI_Abort(MPI_COMM_WORLD, exit_code);
}

static void close_mpi(void *ctx) {
    (void)ctx;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
}

static const soma_comm mpi_comm = {
    /* .name = */ "mpi",
    /* .all_reduce_sum_f32 = */ all_reduce_sum_f32,
    /* .all_reduce_sum_f64 = */ all_reduce_sum_f64,
    /* .all_gather = */ all_gather,
    /* .broadcast = */ broadcast,
    /* .abort = */ abort_all,
    /* .close = */ close_mpi,
};

soma_status soma_comm_mpi_open(const soma_comm **comm, void **ctx, int *rank, int *size, char *description,
                               size_t description_size) {
    int initialized = 0, provided = 0;
    MPI_Initialized(&initialized);
    /* MPI is called from the thread that opened it only (FUNNELED); the
     * CPU backend's OpenMP threads never call it */
    if (!initialized) {
        int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) return mpi_failed("soma_dist_open: MPI_Init_thread", rc);
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    if (MPI_Get_library_version(version, &len) != MPI_SUCCESS) snprintf(version, sizeof version, "unknown");
    version[strcspn(version, ",\n")] = '\0'; /* "Open MPI v4.1.4" */
    snprintf(description, description_size, "MPI (%s)", version);
    *comm = &mpi_comm;
    *ctx = NULL;
    return SOMA_OK;
}
