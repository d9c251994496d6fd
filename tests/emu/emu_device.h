/* emu_device.h: the CUDA built-ins for the kernels (kernels/, .cu) compiled as host C++
 * (the emulation build, -DSOMA_CUDA_EMULATION=ON; force-included with
 * `-include`, before any CUDA header). Test infrastructure, never shipped.
 *
 * What a kernel sees here:
 * - threadIdx, blockIdx, blockDim, gridDim: those of the emulated thread
 *   that is running (each thread of a block is a fiber, grid.cpp);
 * - __shared__: one copy per OS thread (`static thread_local`); the blocks
 *   of a grid run one after another on one OS thread, so each block sees
 *   one array shared by its threads, as on the hardware (values left by the
 *   previous block stand in for the hardware's undefined contents);
 * - __syncthreads and the warp exchanges (__shfl_*_sync, __ballot_sync,
 *   __syncwarp, ...) suspend the calling fiber until every thread of the
 *   block (or lane of the warp) has arrived, and stop the program with a
 *   message when that can never happen (a barrier or shuffle that not every
 *   thread reaches: a hang or undefined behaviour on the hardware), when
 *   threads wait at different barriers, or when a shuffle names a partial
 *   mask or runs in a block that is not whole warps;
 * - the __f*_rn intrinsics as plain IEEE float operations (the emulation
 *   compiles kernels with -ffp-contract=off, so a*b+c is two roundings as
 *   __fadd_rn(__fmul_rn(a, b), c) is on the GPU);
 * - math functions from the host's libm: expf, tanhf, erff, ... may differ
 *   from the GPU's by a few ulps; that is what the op table's NMSE limits
 *   absorb, and what the emulation cannot check.
 *
 * Kernels are launched with SOMA_LAUNCH (kernels/launch_util.cuh), which
 * here calls soma_emu::launch: it converts the arguments as a call would,
 * checks that every pointer argument is device memory of the stream's
 * device, and queues the grid on the stream (runtime.cpp). */
#ifndef SOMA_EMU_DEVICE_H
#define SOMA_EMU_DEVICE_H

#ifndef __cplusplus
#error "emu_device.h is for kernels compiled as C++ (the CUDA emulation build)"
#endif

/* Defined before <cuda_runtime_api.h> so that host_defines.h keeps them. */
#define __global__
#define __device__
#define __host__
#define __shared__ static thread_local
#define __constant__ static
#define __launch_bounds__(...)
#define __grid_constant__

#include <cuda_runtime_api.h> /* dim3, uint3, cudaStream_t, cudaError_t */

#include <math.h>
#include <stdint.h>
#include <string.h>

#include <functional>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

namespace soma_emu {

/* The running thread's coordinates (grid.cpp keeps them current): its
 * index in the block, and the block's place in the grid. Plain globals, not
 * thread_local (every kernel reads them, and TLS costs a call in PIC code):
 * grids run one at a time, under the runtime's lock. */
struct block_coords {
    uint3 block_idx;
    dim3 block_dim, grid_dim;
};
extern const uint3 *current_thread_idx;
extern const block_coords *current_block_coords;

/* A call site, for messages about barriers and shuffles. */
struct site {
    const char *file;
    int line;
};

/* Barriers and warp exchanges (grid.cpp). */
void syncthreads(site where);
enum warp_op { WARP_SHFL_IDX, WARP_SHFL_UP, WARP_SHFL_DOWN, WARP_SHFL_XOR, WARP_SYNC, WARP_BALLOT };
/* Deposits this lane's 8-byte value, waits for the whole warp, and returns
 * a pointer to the 32 lanes' values (valid until the lane's next exchange). */
const uint64_t *warp_exchange(warp_op op, unsigned mask, uint64_t value, int width, site where);
unsigned lane_id();

/* Value `var` from lane `src` of this lane's width-wide segment, with the
 * rules of __shfl_*_sync: lanes whose source falls outside the segment keep
 * their own value (up/down); idx and xor wrap within the segment. */
template <class T>
T shfl(warp_op op, site where, unsigned mask, T var, int arg, int width = 32) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value,
                  "__shfl_*_sync: the emulation exchanges values of at most 8 bytes");
    uint64_t bits = 0;
    memcpy(&bits, &var, sizeof var);
    const uint64_t *lanes = warp_exchange(op, mask, bits, width, where);
    int lane = (int)lane_id(), base = lane & ~(width - 1), offset = lane - base, src = lane;
    switch (op) {
    case WARP_SHFL_IDX: src = base + (arg & (width - 1)); break;
    case WARP_SHFL_UP: src = offset - arg >= 0 ? lane - arg : lane; break;
    case WARP_SHFL_DOWN: src = offset + arg < width ? lane + arg : lane; break;
    default: src = base + ((offset ^ arg) & (width - 1)); break; /* xor */
    }
    T out;
    memcpy(&out, &lanes[src], sizeof out);
    return out;
}

unsigned ballot(site where, unsigned mask, int predicate);

static inline void syncwarp(site where, unsigned mask = 0xffffffffu) {
    (void)warp_exchange(WARP_SYNC, mask, 0, 32, where);
}

/* The queueing of a grid (runtime.cpp): validates the configuration and the
 * pointer arguments, counts the launch, and runs `body` once per thread when
 * the stream reaches it. */
void launch_grid(const char *name, const void *kernel, dim3 grid, dim3 block, size_t shared_bytes,
                 cudaStream_t stream, std::function<void()> body, const void *const *pointers,
                 const int *pointer_positions, int n_pointers);

template <class T>
void collect_pointer(const T &value, int position, const void **pointers, int *positions, int *n) {
    if constexpr (std::is_pointer<T>::value) {
        pointers[*n] = (const void *)value;
        positions[*n] = position;
        (*n)++;
    } else {
        (void)value, (void)position, (void)pointers, (void)positions, (void)n;
    }
}

/* kernel<<<grid, block, shared_bytes, stream>>>(args...): the arguments are
 * converted to the kernel's parameter types and kept by value, as the
 * hardware launch does. */
template <class... P, class... A>
void launch(const char *name, void (*kernel)(P...), dim3 grid, dim3 block, size_t shared_bytes,
            cudaStream_t stream, A &&...args) {
    static_assert(sizeof...(P) == sizeof...(A), "SOMA_LAUNCH: wrong number of kernel arguments");
    auto params = std::make_shared<std::tuple<typename std::decay<P>::type...>>(
        static_cast<typename std::decay<P>::type>(std::forward<A>(args))...);
    const void *pointers[sizeof...(P) + 1];
    int positions[sizeof...(P) + 1], n = 0;
    std::apply(
        [&](auto &...p) {
            int position = 0;
            (collect_pointer(p, position++, pointers, positions, &n), ...);
        },
        *params);
    launch_grid(name, reinterpret_cast<const void *>(kernel), grid, block, shared_bytes, stream,
                [kernel, params] { std::apply(kernel, *params); }, pointers, positions, n);
}

} // namespace soma_emu

#define SOMA_EMU_HERE (soma_emu::site{__FILE__, __LINE__})

#define threadIdx (*soma_emu::current_thread_idx)
#define blockIdx (soma_emu::current_block_coords->block_idx)
#define blockDim (soma_emu::current_block_coords->block_dim)
#define gridDim (soma_emu::current_block_coords->grid_dim)
static const int warpSize = 32;

#define __syncthreads() soma_emu::syncthreads(SOMA_EMU_HERE)
#define __syncwarp(...) soma_emu::syncwarp(SOMA_EMU_HERE, ##__VA_ARGS__)
#define __shfl_sync(...) soma_emu::shfl(soma_emu::WARP_SHFL_IDX, SOMA_EMU_HERE, __VA_ARGS__)
#define __shfl_up_sync(...) soma_emu::shfl(soma_emu::WARP_SHFL_UP, SOMA_EMU_HERE, __VA_ARGS__)
#define __shfl_down_sync(...) soma_emu::shfl(soma_emu::WARP_SHFL_DOWN, SOMA_EMU_HERE, __VA_ARGS__)
#define __shfl_xor_sync(...) soma_emu::shfl(soma_emu::WARP_SHFL_XOR, SOMA_EMU_HERE, __VA_ARGS__)
#define __ballot_sync(mask, predicate) soma_emu::ballot(SOMA_EMU_HERE, (mask), (predicate))
#define __any_sync(mask, predicate) (__ballot_sync((mask), (predicate)) != 0u)
#define __all_sync(mask, predicate) (__ballot_sync((mask), !(predicate)) == 0u)

/* Round-to-nearest float arithmetic: one IEEE operation each. */
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline float __frcp_rn(float a) { return 1.0f / a; }
static inline float __fsqrt_rn(float a) { return sqrtf(a); }
static inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
static inline double __dadd_rn(double a, double b) { return a + b; }
static inline double __dmul_rn(double a, double b) { return a * b; }
/* __expf, __logf and the other fast approximations are glibc's functions of
 * the same names here: more accurate than the GPU's. */

static inline int __float_as_int(float x) { int i; memcpy(&i, &x, 4); return i; }
static inline unsigned __float_as_uint(float x) { unsigned i; memcpy(&i, &x, 4); return i; }
static inline float __int_as_float(int i) { float x; memcpy(&x, &i, 4); return x; }
static inline float __uint_as_float(unsigned i) { float x; memcpy(&x, &i, 4); return x; }
static inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((uint64_t)a * b) >> 32); }
static inline int __popc(unsigned x) { return __builtin_popcount(x); }
static inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
static inline int __clz(int x) { return x ? __builtin_clz((unsigned)x) : 32; }
static inline int __ffs(int x) { return __builtin_ffs(x); }
template <class T> static inline T __ldg(const T *p) { return *p; }

/* Atomics: the threads of a grid run on one OS thread, but the builtins
 * keep them right if blocks ever run on several. */
template <class T> static inline T atomicAdd(T *p, T v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
static inline float atomicAdd(float *p, float v) {
    float old = *p, sum;
    do {
        sum = old + v;
    } while (!__atomic_compare_exchange(p, &old, &sum, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return old;
}
template <class T> static inline T atomicMax(T *p, T v) {
    T old = *p;
    while (old < v && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {}
    return old;
}
template <class T> static inline T atomicMin(T *p, T v) {
    T old = *p;
    while (old > v && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {}
    return old;
}
template <class T> static inline T atomicExch(T *p, T v) { return __atomic_exchange_n(p, v, __ATOMIC_RELAXED); }
template <class T> static inline T atomicOr(T *p, T v) { return __atomic_fetch_or(p, v, __ATOMIC_RELAXED); }
template <class T> static inline T atomicCAS(T *p, T expected, T desired) {
    __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return expected;
}

#endif
