/* comm_nccl_absent.c: a soma built without NCCL (SOMA_NCCL=OFF, no CUDA, or no NCCL found):
 * GPU ranks reduce their gradients through the host communicator. */
#include "core/error.h"
#include "dist/dist_internal.h"

soma_status soma_nccl_open(soma_dist *d, soma_device *dev, soma_nccl **out) {
    (void)d, (void)dev;
    *out = NULL;
    return soma_fail(SOMA_ERR_UNSUPPORTED, "this soma was built without NCCL");
}

void soma_nccl_close(soma_nccl *n) { (void)n; }

const char *soma_nccl_description(const soma_nccl *n) {
    (void)n;
    return "";
}

soma_status soma_nccl_average(soma_nccl *n, soma_device *dev, soma_tensor *const *grads, int count, float share,
                              float *flag) {
    (void)n, (void)dev, (void)grads, (void)count, (void)share, (void)flag;
    return soma_fail(SOMA_ERR_UNSUPPORTED, "this soma was built without NCCL");
}

const int soma_nccl_built = 0;
