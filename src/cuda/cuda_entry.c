/* cuda_entry.c: how the rest of soma reaches the CUDA backend.
 *
 * Linked in (a static build with -DSOMA_CUDA_MODULE=OFF, the emulation), the
 * core asks soma_cuda_backend_get for the table. As the module libsoma-cuda.so
 * (core/cuda_module.h), the core's loader checks soma_cuda_module_abi, then
 * calls soma_cuda_backend_entry with the services the backend needs from it:
 * soma_fail writes the core's per-thread message, op names come from the
 * core's op table. Only these two functions are exported; the rest of the
 * module is hidden. */
#include <stdarg.h>
#include <string.h>

#include "core/cuda_module.h"
#include "cuda/cuda_internal.h"

#ifdef SOMA_CUDA_AS_MODULE
#define SOMA_CUDA_EXPORT __attribute__((visibility("default")))

static const soma_cuda_host *host; /* set by the entry, before the table is handed out */

soma_status soma_fail(soma_status status, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    host->vfail(status, fmt, args);
    va_end(args);
    return status;
}

const char *soma_cuda_op_name(const soma_op_call *call) { return host->ops[call->op].name; }

/* The core calls both once, under its pthread_once (core/cuda_module.c). */
SOMA_CUDA_EXPORT const char *soma_cuda_module_abi(void) {
    static char text[160];
    soma_cuda_module_abi_text(text, sizeof text);
    return text;
}

SOMA_CUDA_EXPORT const soma_backend *soma_cuda_backend_entry(const char *abi, const soma_cuda_host *services) {
    if (!abi || !services || strcmp(abi, soma_cuda_module_abi()) != 0) return NULL;
    host = services;
    return &soma_cuda_backend;
}

#else /* linked into the core */

const int soma_cuda_built = 1;

const char *soma_cuda_op_name(const soma_op_call *call) { return soma_op_table[call->op].name; }

const soma_backend *soma_cuda_backend_get(int load) {
    (void)load;
    return &soma_cuda_backend;
}
#endif
