/* emu.h: what tests can ask of the CUDA emulation (tests/emu), in C.
 *
 * The emulation build (-DSOMA_CUDA_EMULATION=ON) runs the kernels (kernels/) and the
 * host code of src/cuda on the CPU, against stand-ins for the CUDA runtime,
 * cuBLAS, cuBLASLt and cuDNN (runtime.cpp, cublas.cpp, cublaslt.cpp,
 * cudnn.cpp; kernels run as fibers, grid.cpp). Everything a program asks
 * of the "device" is counted here, which is how the GPU path's launches,
 * waits, allocations and copies per training step are judged until a GPU is
 * at hand. What the emulation proves and what it cannot is in TESTING.md.
 *
 * Environment (read at the first CUDA call):
 *   SOMA_EMU_SCHEDULE  order in which the threads of a block resume after a
 *                      barrier: "random" (default, seeded, the seed printed
 *                      with SOMA_EMU_REPORT), "random:SEED", "forward",
 *                      "reverse"
 *   SOMA_EMU_DEVICES   how many devices (default 1)
 *   SOMA_EMU_MEMORY    bytes of memory per device (default 16 GiB; what
 *                      cudaMemGetInfo reports and cudaMalloc enforces)
 *   SOMA_EMU_FAIL_ALLOC=N  the Nth cudaMalloc of the process, and every one
 *                      after it, fails with cudaErrorMemoryAllocation
 *   SOMA_EMU_REPORT=1  print the counters and any device memory still
 *                      allocated when the process exits */
#ifndef SOMA_TESTS_EMU_H
#define SOMA_TESTS_EMU_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct soma_emu_counters {
    uint64_t kernel_launches;  /* grids queued by SOMA_LAUNCH outside graph replays */
    uint64_t library_calls;    /* cublasSgemm, cublasLtMatmul, cudnn* compute calls */
    uint64_t graph_launches;   /* cudaGraphLaunch */
    uint64_t graph_nodes_run;  /* kernels and library calls replayed by graphs */
    uint64_t host_waits;       /* calls that block the host while the device has work queued:
                                  stream/event/device synchronize, cudaMemcpy, copies to
                                  pageable host memory, cudaFree (a download followed by a
                                  stream synchronize is one wait: the second finds nothing) */
    uint64_t device_allocs, device_frees;  /* cudaMalloc, cudaFree */
    uint64_t pinned_allocs, pinned_frees;  /* cudaMallocHost/cudaHostAlloc, cudaFreeHost */
    uint64_t h2d_copies, h2d_bytes;        /* host to device */
    uint64_t d2h_copies, d2h_bytes;        /* device to host */
    uint64_t d2d_copies, d2d_bytes;        /* device to device */
    uint64_t memsets;
    uint64_t fibers_switched;  /* context switches between emulated threads (cost) */
} soma_emu_counters;

void soma_emu_counters_read(soma_emu_counters *out);
void soma_emu_counters_reset(void);
/* after - before, field by field */
soma_emu_counters soma_emu_counters_diff(const soma_emu_counters *after,
                                         const soma_emu_counters *before);
/* One line per nonzero counter, each prefixed by `label`. */
void soma_emu_counters_print(FILE *to, const char *label, const soma_emu_counters *c);

/* Makes the nth cudaMalloc from now (n = 1: the next one), and every one
 * after it, fail with cudaErrorMemoryAllocation, as a device that ran out of
 * memory would; 0 turns it off. */
void soma_emu_fail_allocation_after(long n);
/* on != 0: cublasLtMatmulAlgoGetHeuristic offers no algorithm for any
 * epilogue but DEFAULT (CUBLAS_STATUS_NOT_SUPPORTED, none returned), as the
 * library does for a problem it has no fused kernel for; 0 turns it off. */
void soma_emu_lt_offer_no_epilogue(int on);
/* on != 0: cuDNN's engine heuristics (CUDNN_ATTR_ENGINEHEUR_RESULTS) offer
 * no engine for any graph, as the library does for a graph it cannot run;
 * 0 turns it off. */
void soma_emu_cudnn_offer_no_engine(int on);
/* Device allocations (cudaMalloc) not yet freed, and their bytes. */
long soma_emu_live_allocations(uint64_t *bytes);

#ifdef __cplusplus
}
#endif
#endif
