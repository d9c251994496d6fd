/* backend.h: the interface every backend implements, and the structs behind
 * the public opaque handles.
 *
 * A backend is a table of functions (as in ggml-backend-impl.h): memory
 * management and one kernel per op id. The op layer (ops.c) has already
 * checked shapes, devices and NULLs when a kernel runs, so kernels only
 * compute. Code above this layer never asks which backend it is using. */
#ifndef SOMA_CORE_BACKEND_H
#define SOMA_CORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "core/op_table.h"
#include "soma/device.h"
#include "soma/tensor.h"
#include "soma/profile.h"

struct soma_tensor {
    soma_device *device;
    int64_t rows, cols;
    float *data;          /* device memory: rows*cols floats, row stride cols */
    void *allocation;     /* what backend->alloc returned; NULL for views */
    const soma_tensor *view_of;
};

/* One op invocation, as a backend kernel receives it. */
typedef struct soma_op_call {
    soma_op_id op;
    const soma_tensor *in[SOMA_MAX_IN];
    soma_tensor *out[SOMA_MAX_OUT];
    soma_op_params p;
} soma_op_call;

typedef soma_status (*soma_op_kernel)(void *ctx, const soma_op_call *call);

/* A second implementation of an op that a backend offers besides its default
 * (OpenBLAS or the blocked kernel for CPU GEMM, cuDNN for softmax). The tests
 * and `soma check` compare every variant with the reference. */
typedef struct soma_op_variant {
    soma_op_id op;
    const char *name;
    soma_op_kernel kernel;
} soma_op_variant;

typedef struct soma_backend {
    const char *name; /* "cpu", "cuda" */
    soma_device_kind kind;

    /* Number of devices this backend can open; 0 with *reason set when none. */
    int (*device_count)(const char **reason);
    /* Creates the context of device `ordinal` (streams, library handles) and
     * writes a human description into desc. */
    soma_status (*init)(int ordinal, void **ctx, char *desc, size_t desc_size);
    void (*shutdown)(void *ctx);

    soma_status (*alloc)(void *ctx, size_t bytes, void **ptr);
    void (*free)(void *ctx, void *ptr);
    /* Copies between host memory and this device's memory, and within the
     * device. Both download and synchronize wait for queued work. */
    soma_status (*upload)(void *ctx, void *dst, const void *host_src, size_t bytes);
    soma_status (*download)(void *ctx, void *host_dst, const void *src, size_t bytes);
    soma_status (*copy)(void *ctx, void *dst, const void *src, size_t bytes);
    soma_status (*synchronize)(void *ctx);
    /* Frees caches that outlive single calls (packing buffers, pools); may be NULL. */
    void (*release_caches)(void);
    /* Returns the memory a context keeps for reuse (freed blocks) to the
     * system; may be NULL. */
    void (*trim)(void *ctx);
    /* Fails (SOMA_ERR_OUT_OF_MEMORY, naming both figures) when `bytes` more
     * are more than this device can give, before a model, an optimizer or a
     * workspace is allocated; may be NULL (then the allocation itself says). */
    soma_status (*check_memory)(void *ctx, const char *api, const char *what, uint64_t bytes);
    /* Free and total bytes of the device's own memory; NULL where its memory
     * is the host's (the CPU: data there is resident already). */
    soma_status (*memory_info)(void *ctx, uint64_t *free_bytes, uint64_t *total_bytes);
    /* Makes the context's device current for the calling thread and gives the
     * stream its work is queued on (a cudaStream_t), for a library that queues
     * work beside it (NCCL, src/dist/comm_nccl.c). NULL: neither exists. */
    soma_status (*make_current)(void *ctx, void **stream);

    /* Recording queued work into a graph that replays it with one launch
     * (CUDA graphs); all NULL where the backend has none. Between begin and
     * end nothing runs: ops are recorded. The recording fails when something
     * in it made the host wait or allocated. */
    /* Batches copied from host memory while the device computes (double
     * buffering): `slots` pinned host buffers of `bytes` each, copied to the
     * device on a stream of their own, ordered against the compute stream by
     * events. All NULL where a copy is a plain memcpy (the CPU). */
    soma_status (*staging_create)(void *ctx, size_t bytes, int slots, void **staging);
    void (*staging_free)(void *ctx, void *staging);
    /* The host buffer of `slot`, once its previous copy has finished (the
     * host waits only if it has not). */
    soma_status (*staging_acquire)(void *ctx, void *staging, int slot, void **host);
    /* Copies the slot's buffer, pieces[i] bytes after the pieces before it,
     * to dst[i] (n pieces) on the copy stream, once the compute stream is done
     * with the slot's previous data; compute queued after this waits for it. */
    soma_status (*staging_upload)(void *ctx, void *staging, int slot, int n, void *const *dst,
                                  const size_t *pieces);
    /* The compute work that reads the slot's data is queued: the next upload
     * into the slot's destinations waits for it. */
    soma_status (*staging_release)(void *ctx, void *staging, int slot);

    /* Changes whenever the backend replaces an internal buffer that recorded
     * work may point to (scratch that grew): a graph recorded before is
     * stale. NULL: never. */
    unsigned long long (*generation)(void *ctx);
    soma_status (*graph_begin)(void *ctx);
    soma_status (*graph_end)(void *ctx, void **graph);
    soma_status (*graph_launch)(void *ctx, void *graph);
    void (*graph_free)(void *ctx, void *graph);

    soma_op_kernel kernel[SOMA_OP_COUNT]; /* NULL: not implemented here */
    const soma_op_variant *variants;      /* ends with a {.name = NULL} entry; may be NULL */
} soma_backend;

/* The CPU backend, in every build. */
extern const soma_backend soma_cpu_backend;
/* The CUDA backend: linked in (cuda/cuda_entry.c), loaded from the module
 * libsoma-cuda.so (core/cuda_module.c), or an absent one (cuda/cuda_absent.c)
 * whose device_count says why there is no device. Always a valid table when
 * `load` is 1; with load 0, NULL while the module has not been loaded (so
 * that asking does not load it). */
const soma_backend *soma_cuda_backend_get(int load);
/* 1 when this soma has a CUDA backend (linked in or as a module), 0 when it
 * was built without CUDA. */
extern const int soma_cuda_built;

struct soma_device {
    const soma_backend *backend;
    void *ctx;
    int ordinal;
    int refcount;
    char name[16];
    char description[256];
    soma_profile *profile;  /* where op times go while profiled (core/profile.h); else NULL */
    int profile_phase_open; /* a phase counts everything until it ends */
};

/* Runs an op through the op layer: validates, then calls the device's kernel,
 * or the variant of that name when variant is not NULL. */
soma_status soma_op_run(const soma_op_call *call, const char *variant);

/* Tensors with `guard` sentinel floats on each side of the data, for tests
 * that catch out-of-bounds writes. soma_tensor_guards_intact downloads the
 * guards and reports whether any changed. */
#define SOMA_GUARD_BITS 0x7fc0beefu /* a quiet NaN no kernel computes */
soma_status soma_tensor_create_guarded(soma_device *device, int64_t rows, int64_t cols,
                                       int64_t guard, soma_tensor **out);
soma_status soma_tensor_guards_intact(const soma_tensor *t, int64_t guard, int *intact);

#endif
