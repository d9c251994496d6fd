/* cuda_module.h: how libsoma finds its CUDA backend, and the contract with
 * libsoma-cuda.so, the module that holds it in a shared build.
 *
 * A shared CUDA build puts src/cuda and kernels/ (with cuBLAS, cuBLASLt,
 * cuDNN and the CUDA runtime) into a module of their own, so that libsoma.so
 * and the soma CLI have no link-time dependency on any CUDA library and run
 * on a machine without them. The core loads the module (cuda_module.c) the
 * first time a CUDA device is asked for, calls its one entry and takes the
 * backend table it returns; when it cannot, the CUDA backend is an absent one
 * whose device_count gives the reason. Static builds may link the backend in
 * instead (-DSOMA_CUDA_MODULE=OFF), as does the CUDA emulation.
 *
 * The module is compiled from the same sources, but it cannot link the core's
 * internal functions (libsoma.so exports the public API only, and the CLI
 * holds the core statically): what it needs from the core comes through
 * soma_cuda_host. */
#ifndef SOMA_CORE_CUDA_MODULE_H
#define SOMA_CORE_CUDA_MODULE_H

#include <stdarg.h>
#include <stdio.h>

#include "core/backend.h"
#include "soma.h"

#define SOMA_CUDA_MODULE_FILE "libsoma-cuda.so"
#define SOMA_CUDA_MODULE_ENV "SOMA_CUDA_MODULE" /* a path: the only place tried */

/* Bump when soma_cuda_host or the entry's signature change. The layouts the
 * two sides share (the backend table, an op call, a tensor, the op ids) are
 * compared through soma_cuda_module_abi_text as well, so a module from
 * another build whose tables differ is refused rather than misread. */
#define SOMA_CUDA_MODULE_ABI 1

/* What the core lends the module: the calling thread's error message (the
 * module's soma_fail formats into it) and the op table (names in messages). */
typedef struct soma_cuda_host {
    soma_status (*vfail)(soma_status status, const char *fmt, va_list args);
    const soma_op_desc *ops; /* soma_op_table, SOMA_OP_COUNT entries */
} soma_cuda_host;

/* The module's two exports, looked up by name:
 *   const char *soma_cuda_module_abi(void);
 *     its ABI text (below), read and compared before anything else is called;
 *   const soma_backend *soma_cuda_backend_entry(const char *abi, const soma_cuda_host *host);
 *     given the core's ABI text (NULL back when it differs) and the host
 *     services, which it keeps: the backend table, valid while the module
 *     stays loaded (for the rest of the process). */
#define SOMA_CUDA_MODULE_ABI_SYMBOL "soma_cuda_module_abi"
#define SOMA_CUDA_MODULE_ENTRY_SYMBOL "soma_cuda_backend_entry"
typedef const char *(*soma_cuda_module_abi_fn)(void);
typedef const soma_backend *(*soma_cuda_module_entry_fn)(const char *abi, const soma_cuda_host *host);

/* "ABI 1, soma 0.1.0, 62 ops, table 632 B, call 320 B, tensor 48 B": each side
 * writes its own from the headers it was compiled with. */
static inline void soma_cuda_module_abi_text(char *text, size_t size) {
    snprintf(text, size, "ABI %d, soma %s, %d ops, table %zu B, call %zu B, tensor %zu B",
             SOMA_CUDA_MODULE_ABI, SOMA_VERSION_STRING, (int)SOMA_OP_COUNT, sizeof(soma_backend),
             sizeof(soma_op_call), sizeof(struct soma_tensor));
}

/* cuda/cuda_absent.c: a CUDA backend without devices, whose device_count and
 * init give `reason` (kept, not copied: it must outlive the process's use of
 * the table). */
const soma_backend *soma_cuda_absent_backend(const char *reason);

#endif
