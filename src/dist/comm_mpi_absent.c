/* comm_mpi_absent.c: a soma built without MPI (SOMA_MPI=OFF, or no MPI found). */
#include "core/error.h"
#include "dist/dist_internal.h"

soma_status soma_comm_mpi_open(const soma_comm **comm, void **ctx, int *rank, int *size, char *description,
                               size_t description_size) {
    (void)comm, (void)ctx, (void)rank, (void)size, (void)description, (void)description_size;
    return soma_fail(SOMA_ERR_UNSUPPORTED, "this soma was built without MPI (configure with -DSOMA_MPI=ON "
                     "after apt-get install libopenmpi-dev)");
}
