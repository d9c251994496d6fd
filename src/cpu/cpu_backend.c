/* cpu_backend.c: the CPU backend's table. Memory is plain aligned host memory
 * and ops run synchronously, so synchronize has nothing to wait for. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/error.h"
#include "core/host_memory.h"
#include "cpu/cpu_gemm.h"
#include "cpu/cpu_internal.h"
#include "cpu/cpu_round.h"

#define CPU_ALIGNMENT 64 /* a cache line, and an AVX-512 vector */

static int cpu_device_count(const char **reason) {
    (void)reason;
    return 1;
}

static int cpu_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static soma_status cpu_init(int ordinal, void **ctx, char *desc, size_t desc_size) {
    (void)ordinal;
    *ctx = NULL;
    const char *blas = soma_cpu_blas_description();
    snprintf(desc, desc_size, "cpu (%d thread%s, %s)", cpu_threads(), cpu_threads() == 1 ? "" : "s",
             blas ? blas : "own GEMM, no OpenBLAS");
    return SOMA_OK;
}

static void cpu_shutdown(void *ctx) { (void)ctx; }

static soma_status cpu_alloc(void *ctx, size_t bytes, void **ptr) {
    (void)ctx;
    size_t rounded = (bytes + CPU_ALIGNMENT - 1) / CPU_ALIGNMENT * CPU_ALIGNMENT;
    *ptr = aligned_alloc(CPU_ALIGNMENT, rounded ? rounded : CPU_ALIGNMENT);
    if (!*ptr) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "cpu: cannot allocate %zu bytes", bytes);
    /* touched now, so that what the process uses counts it: the next memory
     * check (cpu_check_memory) then sees it, as the kernel will */
    memset(*ptr, 0, rounded ? rounded : CPU_ALIGNMENT);
    return SOMA_OK;
}

/* A CPU device's memory is the process's: the host's limits apply. */
static soma_status cpu_check_memory(void *ctx, const char *api, const char *what, uint64_t bytes) {
    (void)ctx;
    return soma_host_memory_check(api, what, bytes);
}

static void cpu_free(void *ctx, void *ptr) {
    (void)ctx;
    free(ptr);
}

static soma_status cpu_memcpy(void *ctx, void *dst, const void *src, size_t bytes) {
    (void)ctx;
    memmove(dst, src, bytes);
    return SOMA_OK;
}

static soma_status cpu_synchronize(void *ctx) {
    (void)ctx;
    return SOMA_OK;
}

/* Every op's CPU kernel, as op_list.h names it (declared once per op). */
#define SOMA_OP(ID, CPU, ...) CPU_KERNEL(CPU);
#include "core/op_list.h"
#undef SOMA_OP

/* The GEMM's packing buffers and rounded operands of the calling thread. */
static void cpu_release_caches(void) {
    soma_cpu_gemm_release();
    soma_cpu_round_release();
}

const soma_backend soma_cpu_backend = {
    .name = "cpu",
    .kind = SOMA_DEVICE_CPU,
    .device_count = cpu_device_count,
    .init = cpu_init,
    .shutdown = cpu_shutdown,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_memcpy,
    .download = cpu_memcpy,
    .copy = cpu_memcpy,
    .synchronize = cpu_synchronize,
    .release_caches = cpu_release_caches,
    .check_memory = cpu_check_memory,
    .kernel = {
#define SOMA_OP(ID, CPU, ...) [SOMA_OP_##ID] = CPU,
#include "core/op_list.h"
#undef SOMA_OP
    },
    .variants = soma_cpu_variants,
};
