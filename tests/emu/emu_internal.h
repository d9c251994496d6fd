/* emu_internal.h: what the parts of the CUDA emulation share (C++). */
#ifndef SOMA_TESTS_EMU_INTERNAL_H
#define SOMA_TESTS_EMU_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <functional>
#include <mutex>

#include <cuda_runtime_api.h>
#include <library_types.h> /* cudaDataType */

#include "emu.h"

namespace soma_emu {

/* ---- fibers (fiber.cpp) --------------------------------------------------
 * A fiber runs fiber_body(arg) on a stack of its own; fiber_switch saves the
 * current context in *from and resumes `to`. Plain register switching on
 * x86-64 (no system call), ucontext elsewhere; annotated for ASan. */
struct fiber;
typedef void (*fiber_body)(void *arg);
fiber *fiber_create(fiber_body body, void *arg);
/* Switches from the scheduler (the OS thread's own stack) to f, until f
 * calls fiber_yield. */
void fiber_resume(fiber *f);
/* Switches from the running fiber back to the scheduler that resumed it. */
void fiber_yield();

/* ---- grids (grid.cpp) ---------------------------------------------------- */

/* Runs every block of a grid, each thread calling body once, with the
 * barrier and warp semantics of emu_device.h. `kernel` identifies the
 * kernel (its function), `name` is for messages. Stops the program with a
 * message on a hang or undefined synchronization. */
void run_grid(const char *name, const void *kernel, dim3 grid, dim3 block,
              const std::function<void()> &body);

/* ---- the runtime (runtime.cpp) ------------------------------------------- */

/* One lock around every entry point: the stand-ins keep global state, and
 * soma may call them from several host threads. */
extern std::recursive_mutex api_lock;

/* Prints "soma-emu: <message>" and aborts: for what the hardware would hang
 * on or do undefined things with, which no status can report. */
[[noreturn]] void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "soma-emu: <message>" to stderr and goes on: the reason behind a
 * status the stand-in returns, which the real library would not explain. */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Environment settings (emu.h). */
struct settings {
    int devices;
    uint64_t memory_bytes;
    int schedule;  /* 0 random, 1 forward, 2 reverse */
    uint64_t seed; /* of the random schedule */
    long fail_alloc_at;
    int report;
};
const settings &config();

extern soma_emu_counters counters;

/* The live device allocation holding [p, p + bytes), on any device, or
 * NULL: how every stand-in tells device memory from host memory. */
struct allocation {
    char *base;   /* what cudaMalloc returned */
    size_t bytes; /* what was asked */
    int device;
    uint64_t serial; /* the nth cudaMalloc of the process */
};
const allocation *find_allocation(const void *p, size_t bytes);

/* Validates a stream handle for the current device and returns the
 * stream's device, or -1 after setting the last error. */
int stream_device(cudaStream_t stream, const char *caller);

/* Queues work on a stream (or records it into the graph the stream is
 * capturing). `what` names it in messages. The work runs when the host
 * waits for the stream, or a later op of another stream depends on it. */
void enqueue(cudaStream_t stream, const char *what, std::function<void()> work,
             bool library_call);

/* Sets this host thread's last error (cudaGetLastError) and returns err. */
cudaError_t set_error(cudaError_t err);
/* The sticky error of a failed device (a kernel fault), cudaSuccess if none. */
cudaError_t sticky_error();
int current_device();

/* Reads device memory [p, p + bytes) as host memory while the device runs
 * work (under ASan device memory is poisoned outside of device work, so
 * that host code touching it is reported). */
bool device_running();

/* Checks that a library call's matrix operand lies within one device
 * allocation: `extent` bytes from p. Returns false after a note naming
 * the caller and operand. */
bool device_span_ok(const void *p, size_t extent, const char *caller, const char *operand);

/* ---- the reference matrix product (cublas.cpp), for cuBLAS and cuBLASLt --
 * acc[i + j m] = sum_l op(A)[i,l] op(B)[l,j] in column-major terms, op(X)
 * = X or its transpose, accumulated in float in l order (the GPU's order
 * differs; the op table's GEMM limit covers that). The operands are stored
 * as `type` (CUDA_R_32F or CUDA_R_16BF) and rounded as `rounding` says
 * before multiplying. TF32 keeps the top 10 mantissa bits and drops the
 * rest (truncation): NVIDIA documents no rounding for the FP32 operands of
 * a TF32 GEMM, and PyTorch's numerical-accuracy notes say only the first 10
 * mantissa bits are read; it is also the conversion furthest from the CPU's
 * rounding to nearest, so a caller that relies on the library to round (soma
 * rounds its operands itself, kernels/round.cu) shows up here rather than
 * only on a GPU. BF16 (CUBLAS_COMPUTE_32F_FAST_16BF) rounds to nearest even,
 * as cvt.rn.bf16.f32 does. Either way an operand already rounded to the
 * format passes unchanged. */
enum operand_rounding { ROUND_NONE, ROUND_TF32, ROUND_BF16 };
float round_operand(float x, operand_rounding rounding);
/* Element `index` of an operand stored as `type`, as a float. */
float load_operand(const void *p, cudaDataType type, int64_t index);
void reference_product(int64_t m, int64_t n, int64_t k, bool trans_a, bool trans_b,
                       const void *a, cudaDataType a_type, int64_t lda, const void *b,
                       cudaDataType b_type, int64_t ldb, operand_rounding rounding, float *acc);
/* Bytes from a column-major rows x cols operand's first element to the end
 * of its last, with leading dimension ld and elements of elem_bytes. */
size_t operand_extent(int64_t rows, int64_t cols, int64_t ld, size_t elem_bytes);

} // namespace soma_emu

#endif
