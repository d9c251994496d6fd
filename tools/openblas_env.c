/* openblas_env.c: keeps a threaded OpenBLAS from running a thread pool.
 *
 * A threaded OpenBLAS starts its pool in a constructor, while the library
 * loads, before main, with OPENBLAS_NUM_THREADS threads (else one per core).
 * soma calls OpenBLAS single-threaded from its own OpenMP threads
 * (src/cpu/cpu_blas.c), so the pool would only fight them for the cores; and
 * under an address-space limit (ulimit -v 800000) a pool thread looped on a
 * failed allocation and even `soma --version` hung. Setting the variable from
 * inside is too late (and from .preinit_array it is lost: libc sets the
 * environment again when it starts), so soma starts itself again with
 * OPENBLAS_NUM_THREADS=1, a pool without threads, before doing anything.
 * Costs one more start of the program (about 0.1 s). A program that links
 * libsoma should set the variable itself. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "openblas_env.h"

void openblas_keep_pool_empty(char **argv) {
#ifdef SOMA_HAVE_BLAS
    const char *threads = getenv("OPENBLAS_NUM_THREADS");
    if (threads && strcmp(threads, "1") == 0) return;
    if (setenv("OPENBLAS_NUM_THREADS", "1", 1) != 0) return;
    execv("/proc/self/exe", argv);
    /* no /proc: go on as things are (the pool is there, and unused) */
#else
    (void)argv;
#endif
}
