/* cuda_absent.c: the CUDA backend where there is none: in a build without
 * CUDA (it replaces every other file of src/cuda and kernels/), and in a
 * shared build whose module libsoma-cuda.so could not be loaded (cuda_module.c
 * gives the reason). The table is valid, so code above the backend layer
 * needs no #ifdef: it reports no devices and refuses to open one, saying why.
 * Plain C, no CUDA headers. */
#include "core/backend.h"
#include "core/cuda_module.h"
#include "core/error.h"

#define SOMA_NO_CUDA                                                                       \
    "soma was built without CUDA (configure with -DSOMA_CUDA=ON and a CUDA toolkit)"

/* Set once, before the table is handed out (cuda_module.c: under pthread_once). */
static const char *absent_reason = SOMA_NO_CUDA;

static int absent_device_count(const char **reason) {
    if (reason) *reason = absent_reason;
    return 0;
}

static soma_status absent_init(int ordinal, void **ctx, char *desc, size_t desc_size) {
    (void)ordinal;
    *ctx = NULL;
    if (desc_size > 0) desc[0] = '\0';
    return soma_fail(SOMA_ERR_UNSUPPORTED, "%s", absent_reason);
}

/* Every other entry is NULL (no kernels, no variants): no device of this
 * backend ever opens, so none of them can be reached. */
static const soma_backend absent_backend = {
    .name = "cuda",
    .kind = SOMA_DEVICE_CUDA,
    .device_count = absent_device_count,
    .init = absent_init,
};

const soma_backend *soma_cuda_absent_backend(const char *reason) {
    absent_reason = reason;
    return &absent_backend;
}

#ifndef SOMA_CUDA_AS_MODULE /* a build without CUDA: this is its CUDA backend */
const int soma_cuda_built = 0;

const soma_backend *soma_cuda_backend_get(int load) {
    (void)load;
    return &absent_backend;
}
#endif
