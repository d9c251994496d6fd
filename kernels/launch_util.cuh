/* launch_util.cuh: how kernels are launched, and the launch shapes they
 * share. */
#ifndef SOMA_KERNELS_LAUNCH_UTIL_CUH
#define SOMA_KERNELS_LAUNCH_UTIL_CUH

#include <stdint.h>

/* SOMA_LAUNCH(kernel, grid, block, shared_bytes, stream, args...) queues
 * kernel<<<grid, block, shared_bytes, stream>>>(args...). Every launch in
 * kernels/ goes through it: the emulation build (-DSOMA_CUDA_EMULATION=ON,
 * tests/emu) compiles the .cu files as host C++, where it becomes a call
 * that checks the launch and runs the grid on the CPU. */
#ifdef SOMA_CUDA_EMULATION
#define SOMA_LAUNCH(kernel, grid, block, shared_bytes, stream, ...)                         \
    soma_emu::launch(#kernel, kernel, dim3(grid), dim3(block), (size_t)(shared_bytes),       \
                     (stream), __VA_ARGS__)
#else
#define SOMA_LAUNCH(kernel, grid, block, shared_bytes, stream, ...)                         \
    kernel<<<(grid), (block), (shared_bytes), (stream)>>>(__VA_ARGS__)
#endif

/* Threads per block of the flat (elementwise, grid-stride) kernels: a
 * multiple of the warp size that keeps 8 blocks resident per SM. */
#define SOMA_BLOCK 256
/* Blocks of a flat launch. With 256 threads this covers 16.7M elements one
 * per thread; larger tensors loop (grid-stride), so no size is too big. */
#define SOMA_MAX_BLOCKS 65536
/* Blocks of a one-block-per-row launch; more rows loop over the grid. */
#define SOMA_MAX_ROW_BLOCKS 65535

/* for (i = this thread's first element; i < count; i += all threads) with
 * 64-bit indices, so tensors beyond 2^31 elements are safe. */
#define SOMA_GRID_STRIDE(i, count)                                                   \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (count);  \
         i += (int64_t)blockDim.x * gridDim.x)

/* The same over rows, one block per row (every thread of a block sees the
 * same rows, so block-wide barriers inside the loop are uniform). */
#define SOMA_ROW_STRIDE(r, rows) for (int64_t r = blockIdx.x; r < (rows); r += gridDim.x)

/* Blocks for a grid-stride loop over count items, at most max_blocks. */
static inline unsigned soma_blocks_for(int64_t count, int block, int64_t max_blocks) {
    int64_t blocks = (count + block - 1) / block;
    if (blocks > max_blocks) blocks = max_blocks;
    return (unsigned)(blocks < 1 ? 1 : blocks);
}

/* Blocks of a flat launch over count elements. */
static inline unsigned soma_flat_blocks(int64_t count) {
    return soma_blocks_for(count, SOMA_BLOCK, SOMA_MAX_BLOCKS);
}

/* Threads per block for a block that walks one row of n elements: the
 * smallest power of two >= n between 32 (one full warp, which the shuffle
 * reductions need) and 512 (longer rows loop; 512 still leaves room for
 * several resident blocks per SM). */
static inline int soma_row_threads(int64_t n) {
    int threads = 32;
    while (threads < n && threads < 512) threads *= 2;
    return threads;
}

#endif
