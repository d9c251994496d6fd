/* cuda_absent.c: the CUDA backend of a build without CUDA (it replaces every
 * other file of src/cuda and kernels/). The table is valid, so code above the
 * backend layer needs no #ifdef: it reports no devices and refuses to open
 * one, saying why. Plain C, no CUDA headers. */
#include "core/backend.h"
#include "core/error.h"

#define SOMA_NO_CUDA                                                                       \
    "soma was built without CUDA (configure with -DSOMA_CUDA=ON and a CUDA toolkit)"

static int absent_device_count(const char **reason) {
    if (reason) *reason = SOMA_NO_CUDA;
    return 0;
}

static soma_status absent_init(int ordinal, void **ctx, char *desc, size_t desc_size) {
    (void)ordinal;
    *ctx = NULL;
    if (desc_size > 0) desc[0] = '\0';
    return soma_fail(SOMA_ERR_UNSUPPORTED, "%s", SOMA_NO_CUDA);
}

/* Every other entry is NULL (no kernels, no variants): no device of this
 * backend ever opens, so none of them can be reached. */
const soma_backend soma_cuda_backend = {
    .name = "cuda",
    .kind = SOMA_DEVICE_CUDA,
    .device_count = absent_device_count,
    .init = absent_init,
};
