/* cuda_backend.c: the CUDA backend: devices, contexts, memory, copies, and
 * the kernel table that maps each op id to a launcher in kernels/.
 *
 * Every op is queued on the context's one stream; only download and
 * synchronize wait. Kernels see tensors already validated by the op layer. */
#include <stdio.h>
#include <stdlib.h>

#include "cuda/cuda_internal.h"
#include "../../kernels/kernels.h" /* the launchers (kernels/ is not on the include path) */

/* ---- devices ------------------------------------------------------------- */

static int cuda_device_count(const char **reason) {
    static _Thread_local char why[256];
    int count = 0; /* cudaGetDeviceCount leaves it unwritten when it fails */
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        (void)cudaGetLastError();
        snprintf(why, sizeof why, "no usable CUDA device (%s: %s)", cudaGetErrorName(err),
                 cudaGetErrorString(err));
        count = 0;
    } else if (count == 0) {
        snprintf(why, sizeof why, "no usable CUDA device (the driver reports none)");
    }
    if (count == 0 && reason) *reason = why;
    return count;
}

static void cuda_shutdown(void *vctx) {
    soma_cuda_ctx *ctx = vctx;
    if (!ctx) return;
    /* Teardown is best effort: errors here cannot be acted upon. */
    if (cudaSetDevice(ctx->ordinal) == cudaSuccess && ctx->stream)
        (void)cudaStreamSynchronize(ctx->stream);
    soma_cuda_cudnn_destroy(ctx);
    soma_cuda_memory_destroy(ctx);
    if (ctx->cublaslt) (void)cublasLtDestroy(ctx->cublaslt);
    if (ctx->cublas) (void)cublasDestroy(ctx->cublas);
    if (ctx->partials) (void)cudaFree(ctx->partials);
    if (ctx->lt_workspace) (void)cudaFree(ctx->lt_workspace);
    if (ctx->stream) (void)cudaStreamDestroy(ctx->stream);
    (void)cudaGetLastError();
    free(ctx);
}

/* Creates the stream, the library handles and the scratch buffers of ctx,
 * each stored only once it exists, so cuda_shutdown can undo a partial init. */
static soma_status create_resources(soma_cuda_ctx *ctx, char *desc, size_t desc_size) {
#define INIT_CUDA(expr, what) SOMA_TRY(soma_cuda_check(ctx->ordinal, (expr), "init", (what)))
#define INIT_CUBLAS(expr, what) SOMA_TRY(soma_cublas_check(ctx->ordinal, (expr), "init", (what)))
    INIT_CUDA(cudaSetDevice(ctx->ordinal), "cudaSetDevice");
    struct cudaDeviceProp prop;
    INIT_CUDA(cudaGetDeviceProperties(&prop, ctx->ordinal), "cudaGetDeviceProperties");

    cudaStream_t stream;
    INIT_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking),
              "cudaStreamCreateWithFlags");
    ctx->stream = stream;

    cublasHandle_t cublas;
    INIT_CUBLAS(cublasCreate(&cublas), "cublasCreate");
    ctx->cublas = cublas;
    INIT_CUBLAS(cublasSetStream(cublas, stream), "cublasSetStream");
    /* CUBLAS_DEFAULT_MATH keeps cublasSgemm in true FP32 (no TF32 tensor
     * cores, which need CUBLAS_TF32_TENSOR_OP_MATH; no BF16x9 emulation,
     * which needs CUBLAS_FP32_EMULATED_BF16X9_MATH). Set explicitly so that a
     * changed library default cannot change our numerics silently. */
    INIT_CUBLAS(cublasSetMathMode(cublas, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");

    cublasLtHandle_t lt;
    INIT_CUBLAS(cublasLtCreate(&lt), "cublasLtCreate");
    ctx->cublaslt = lt;

    void *mem;
    INIT_CUDA(cudaMalloc(&mem, SOMA_CUDA_LT_WORKSPACE_BYTES), "cudaMalloc (cuBLASLt workspace)");
    ctx->lt_workspace = mem;
    /* cuBLAS gets the same workspace (its calls and cuBLASLt's run in order
     * on the one stream): without one it allocates its own, which a CUDA
     * graph capture of a training step must not see. */
    INIT_CUBLAS(cublasSetWorkspace(cublas, mem, SOMA_CUDA_LT_WORKSPACE_BYTES), "cublasSetWorkspace");
    INIT_CUDA(cudaMalloc(&mem, SOMA_CUDA_MAX_PARTIALS * sizeof(float)),
              "cudaMalloc (reduction scratch)");
    ctx->partials = mem;
#undef INIT_CUDA
#undef INIT_CUBLAS

    snprintf(desc, desc_size, "cuda:%d (%s, sm_%d%d, %.1f GiB)", ctx->ordinal, prop.name,
             prop.major, prop.minor, (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0));
    return SOMA_OK;
}

static soma_status cuda_init(int ordinal, void **out, char *desc, size_t desc_size) {
    *out = NULL;
    const char *reason = NULL;
    int count = cuda_device_count(&reason);
    if (count == 0) return soma_fail(SOMA_ERR_UNSUPPORTED, "cuda:%d: %s", ordinal, reason);
    if (ordinal < 0 || ordinal >= count)
        return soma_fail(SOMA_ERR_DEVICE, "cuda:%d: no such device (%d CUDA device%s present)",
                         ordinal, count, count == 1 ? "" : "s");

    soma_cuda_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "cuda:%d: cannot allocate the device context",
                         ordinal);
    ctx->ordinal = ordinal;
    soma_status st = create_resources(ctx, desc, desc_size);
    if (st != SOMA_OK) {
        cuda_shutdown(ctx); /* sets no message, so create_resources' one stays */
        return st;
    }
    *out = ctx;
    return SOMA_OK;
}

/* ---- memory and copies --------------------------------------------------- */

static soma_status cuda_alloc(void *vctx, size_t bytes, void **ptr) {
    soma_cuda_ctx *ctx = vctx;
    *ptr = NULL;
    SOMA_TRY(soma_cuda_enter(ctx, "alloc"));
    return soma_cuda_memory_alloc(ctx, bytes, ptr);
}

/* To the cache: work queued on the context's stream that still uses ptr
 * runs before any work that reuses it (cuda_memory.c). */
static void cuda_free(void *vctx, void *ptr) {
    soma_cuda_ctx *ctx = vctx;
    if (!ptr || cudaSetDevice(ctx->ordinal) != cudaSuccess) return;
    soma_cuda_memory_free(ctx, ptr);
}

/* The host buffer may be pageable and freed by the caller right after the
 * call, so each host copy waits for its stream. */
static soma_status cuda_upload(void *vctx, void *dst, const void *host_src, size_t bytes) {
    soma_cuda_ctx *ctx = vctx;
    SOMA_TRY(soma_cuda_enter(ctx, "upload"));
    SOMA_TRY(soma_cuda_check(
        ctx->ordinal, cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, ctx->stream),
        "upload", "cudaMemcpyAsync"));
    return soma_cuda_check(ctx->ordinal, cudaStreamSynchronize(ctx->stream), "upload",
                           "cudaStreamSynchronize");
}

static soma_status cuda_download(void *vctx, void *host_dst, const void *src, size_t bytes) {
    soma_cuda_ctx *ctx = vctx;
    SOMA_TRY(soma_cuda_enter(ctx, "download"));
    SOMA_TRY(soma_cuda_check(
        ctx->ordinal, cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, ctx->stream),
        "download", "cudaMemcpyAsync"));
    return soma_cuda_check(ctx->ordinal, cudaStreamSynchronize(ctx->stream), "download",
                           "cudaStreamSynchronize");
}

static soma_status cuda_copy(void *vctx, void *dst, const void *src, size_t bytes) {
    soma_cuda_ctx *ctx = vctx;
    SOMA_TRY(soma_cuda_enter(ctx, "copy"));
    return soma_cuda_check(
        ctx->ordinal, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ctx->stream),
        "copy", "cudaMemcpyAsync");
}

static soma_status cuda_synchronize(void *vctx) {
    soma_cuda_ctx *ctx = vctx;
    SOMA_TRY(soma_cuda_enter(ctx, "synchronize"));
    return soma_cuda_check(ctx->ordinal, cudaStreamSynchronize(ctx->stream), "synchronize",
                           "cudaStreamSynchronize");
}

/* ---- kernels --------------------------------------------------------------
 * Each makes the device current, calls its launcher (kernels/kernels.h) on
 * the context's stream, and turns the launcher's cudaError_t into a status
 * naming the op. Inputs and outputs are as the op table declares them. */

#define CUDA_KERNEL(name, launch)                                                          \
    static soma_status name(void *vctx, const soma_op_call *call) {                        \
        soma_cuda_ctx *ctx = vctx;                                                         \
        SOMA_TRY(soma_cuda_enter(ctx, soma_cuda_op_name(call)));                           \
        return soma_cuda_check(ctx->ordinal, (launch), soma_cuda_op_name(call),            \
                               "kernel launch");                                           \
    }

#define IN(i) (call->in[i]->data)
#define OUT (call->out[0]->data)
#define OUT_AT(o) (call->out[o]->data) /* output o, for ops with several */
#define ROWS (call->in[0]->rows) /* of input 0 */
#define COLS (call->in[0]->cols)
#define NUMEL (call->in[0]->rows * call->in[0]->cols)
#define OUT_NUMEL (call->out[0]->rows * call->out[0]->cols)
#define STREAM (ctx->stream)

/* activation ops: op = SOMA_OP_IDENTITY + 2 act (+1 for the backward) */
static int act_of(const soma_op_call *call) { return ((int)call->op - SOMA_OP_IDENTITY) / 2; }
static int is_log(const soma_op_call *call) {
    return call->op == SOMA_OP_LOG_SOFTMAX || call->op == SOMA_OP_LOG_SOFTMAX_BACKWARD;
}
/* The step control block of the step variants (sgd_step, adam_step,
 * bias_act_dropout_step: input i), NULL for the plain ops. */
static const float *step_ctl(const soma_op_call *call, int i) {
    int step = call->op == SOMA_OP_SGD_STEP || call->op == SOMA_OP_ADAM_STEP ||
               call->op == SOMA_OP_BIAS_ACT_DROPOUT_STEP;
    return step ? call->in[i]->data : NULL;
}
static double mean_divisor(const soma_op_call *call) {
    return call->op == SOMA_OP_MEAN ? (double)NUMEL : 1.0;
}

/* x -> y = f(x); alpha = slope of leaky_relu */
CUDA_KERNEL(k_act_forward,
            soma_cuda_act_forward(act_of(call), call->p.alpha, IN(0), OUT, NUMEL, STREAM))
/* (x, y, dy) -> dx = dy f'(x) */
CUDA_KERNEL(k_act_backward, soma_cuda_act_backward(act_of(call), call->p.alpha, IN(0), IN(1),
                                                   IN(2), OUT, NUMEL, STREAM))
/* (x, bias) -> y */
CUDA_KERNEL(k_bias_add, soma_cuda_bias_add(IN(0), IN(1), OUT, ROWS, COLS, STREAM))
/* (x, bias) -> (z, a = f(z)); act, alpha = slope of leaky_relu */
CUDA_KERNEL(k_bias_act, soma_cuda_bias_act(call->p.act, call->p.alpha, IN(0), IN(1), OUT_AT(0),
                                           OUT_AT(1), ROWS, COLS, STREAM))
/* dy -> dbias */
CUDA_KERNEL(k_bias_grad, soma_cuda_bias_grad(IN(0), OUT, ROWS, COLS, STREAM))
/* x -> y, softmax or log_softmax */
CUDA_KERNEL(k_softmax, soma_cuda_softmax(is_log(call), IN(0), OUT, ROWS, COLS, STREAM))
/* (y, dy) -> dx */
CUDA_KERNEL(k_softmax_backward,
            soma_cuda_softmax_backward(is_log(call), IN(0), IN(1), OUT, ROWS, COLS, STREAM))
/* (pred, target) -> 1x1 loss, and -> dpred */
CUDA_KERNEL(k_mse_loss, soma_cuda_mse_loss(IN(0), IN(1), NUMEL, ctx->partials, OUT, STREAM))
CUDA_KERNEL(k_mse_backward, soma_cuda_mse_backward(IN(0), IN(1), OUT, NUMEL, STREAM))
/* (logits, target) -> 1x1 loss, and -> dlogits */
CUDA_KERNEL(k_bce_loss,
            soma_cuda_bce_logits_loss(IN(0), IN(1), NUMEL, ctx->partials, OUT, STREAM))
CUDA_KERNEL(k_bce_backward, soma_cuda_bce_logits_backward(IN(0), IN(1), OUT, NUMEL, STREAM))
/* (logits, labels) -> 1x1 loss, and -> dlogits */
CUDA_KERNEL(k_xent_loss, soma_cuda_softmax_xent_loss(IN(0), IN(1), ROWS, COLS, ctx->partials,
                                                     OUT, STREAM))
CUDA_KERNEL(k_xent_backward,
            soma_cuda_softmax_xent_backward(IN(0), IN(1), OUT, ROWS, COLS, STREAM))
/* x -> y = alpha x;  x -> y += alpha x */
CUDA_KERNEL(k_scale, soma_cuda_scale(call->p.alpha, IN(0), OUT, NUMEL, STREAM))
CUDA_KERNEL(k_axpy, soma_cuda_axpy(call->p.alpha, IN(0), OUT, NUMEL, STREAM))
/* x -> 1x1 sum or mean */
CUDA_KERNEL(k_sum,
            soma_cuda_sum(IN(0), NUMEL, mean_divisor(call), ctx->partials, OUT, STREAM))
/* x -> 1x1 sum of squares */
CUDA_KERNEL(k_sum_squares, soma_cuda_sum_squares(IN(0), NUMEL, ctx->partials, OUT, STREAM))
/* x -> flags (1 x n) |= [some x[i,j] > 0], read and written */
CUDA_KERNEL(k_active_columns, soma_cuda_active_columns(IN(0), OUT, ROWS, COLS, STREAM))
/* x -> m x 1 argmax;  (x, labels) -> 1x1 count */
CUDA_KERNEL(k_row_argmax, soma_cuda_row_argmax(IN(0), OUT, ROWS, COLS, STREAM))
CUDA_KERNEL(k_correct_count,
            soma_cuda_correct_count(IN(0), IN(1), ROWS, COLS, ctx->partials, OUT, STREAM))
/* () -> y = alpha; uniform on [alpha, beta); normal(mean alpha, stddev beta) */
CUDA_KERNEL(k_fill, soma_cuda_fill(call->p.alpha, OUT, OUT_NUMEL, STREAM))
CUDA_KERNEL(k_fill_uniform, soma_cuda_fill_uniform(call->p.seed, call->p.offset, call->p.alpha,
                                                   call->p.beta, OUT, OUT_NUMEL, STREAM))
CUDA_KERNEL(k_fill_normal, soma_cuda_fill_normal(call->p.seed, call->p.offset, call->p.alpha,
                                                 call->p.beta, OUT, OUT_NUMEL, STREAM))
/* x -> y = x mask / (1 - p), drop = p; dy -> dx the same (one kernel) */
CUDA_KERNEL(k_dropout, soma_cuda_dropout(call->p.seed, call->p.offset, call->p.drop, IN(0), OUT,
                                         NUMEL, STREAM))
/* (x, bias) -> (h, z, mask, alive): bias, activation and dropout in one
 * pass; act, alpha = slope, drop = p. The mask's floats hold raw bits. */
CUDA_KERNEL(k_bias_act_dropout,
            soma_cuda_bias_act_dropout(call->p.act, call->p.alpha, call->p.drop, call->p.seed,
                                       call->p.offset, step_ctl(call, 2), call->p.step_stride,
                                       IN(0), IN(1), OUT_AT(0), OUT_AT(1),
                                       (uint32_t *)(void *)OUT_AT(2), OUT_AT(3), ROWS, COLS,
                                       STREAM))
/* (z, mask, dh) -> dx */
CUDA_KERNEL(k_bias_act_dropout_backward,
            soma_cuda_bias_act_dropout_backward(call->p.act, call->p.alpha, call->p.drop, IN(0),
                                                (const uint32_t *)(const void *)IN(1), IN(2),
                                                OUT, ROWS, COLS, STREAM))
/* grad (, ctl) -> (weight, velocity), both updated in place */
CUDA_KERNEL(k_sgd_update,
            soma_cuda_sgd_update(call->p.lr, call->p.momentum, call->p.weight_decay,
                                 call->p.nesterov, step_ctl(call, 1), IN(0), OUT_AT(0), OUT_AT(1),
                                 NUMEL, STREAM))
/* grad (, ctl) -> (weight, m, v), all updated in place */
CUDA_KERNEL(k_adam_update,
            soma_cuda_adam_update(call->p.lr, call->p.beta1, call->p.beta2, call->p.eps,
                                  call->p.weight_decay, call->p.decoupled,
                                  call->p.bias_correction1, call->p.bias_correction2,
                                  step_ctl(call, 1), IN(0), OUT_AT(0), OUT_AT(1), OUT_AT(2), NUMEL,
                                  STREAM))
/* the training step's control ops (core/step_ctl.h) */
/* (src, order, ctl) -> dst */
CUDA_KERNEL(k_gather_rows,
            soma_cuda_gather_rows(IN(0), IN(1), IN(2),
                                  call->p.step_stride ? call->p.step_stride : call->out[0]->rows,
                                  OUT, call->out[0]->rows, call->out[0]->cols, STREAM))
/* schedule -> ctl */
CUDA_KERNEL(k_step_begin, soma_cuda_step_begin(IN(0), OUT, STREAM))
/* loss -> (sum, ctl) */
CUDA_KERNEL(k_watch_loss, soma_cuda_watch_loss(IN(0), call->p.alpha, OUT_AT(0), OUT_AT(1), STREAM))
/* parts -> ctl */
CUDA_KERNEL(k_clip_scale, soma_cuda_clip_scale(IN(0), NUMEL, call->p.alpha, OUT, STREAM))

/* The ops whose CUDA column in op_list.h is SOMA_CUDA_LAUNCH(f): f, in
 * kernels/, launches on the call's tensors; here each gets its
 * soma_op_kernel, as CUDA_KERNEL makes them. */
#define SOMA_CUDA_KERNEL(f)
#define SOMA_CUDA_LAUNCH(f)                                                                \
    cudaError_t f(const soma_op_call *call, cudaStream_t stream);                          \
    CUDA_KERNEL(launch_##f, f(call, STREAM))
#define SOMA_OP(ID, CPU, CUDA, ...) CUDA
#include "core/op_list.h"
#undef SOMA_OP
#undef SOMA_CUDA_KERNEL
#undef SOMA_CUDA_LAUNCH

static unsigned long long soma_cuda_generation(void *vctx) { return ((soma_cuda_ctx *)vctx)->generation; }

/* ---- the table ----------------------------------------------------------- */

const soma_backend soma_cuda_backend = {
    .name = "cuda",
    .kind = SOMA_DEVICE_CUDA,
    .device_count = cuda_device_count,
    .init = cuda_init,
    .shutdown = cuda_shutdown,
    .alloc = cuda_alloc,
    .free = cuda_free,
    .upload = cuda_upload,
    .download = cuda_download,
    .copy = cuda_copy,
    .synchronize = cuda_synchronize,
    .release_caches = NULL, /* every CUDA resource belongs to a context */
    .trim = soma_cuda_memory_trim,
    .memory_info = soma_cuda_memory_info,
    .staging_create = soma_cuda_staging_create,
    .staging_free = soma_cuda_staging_free,
    .staging_acquire = soma_cuda_staging_acquire,
    .staging_upload = soma_cuda_staging_upload,
    .staging_release = soma_cuda_staging_release,
    .generation = soma_cuda_generation,
    .graph_begin = soma_cuda_graph_begin,
    .graph_end = soma_cuda_graph_end,
    .graph_launch = soma_cuda_graph_launch,
    .graph_free = soma_cuda_graph_free,
    .kernel = {
#define SOMA_CUDA_KERNEL(f) f
#define SOMA_CUDA_LAUNCH(f) launch_##f
#define SOMA_OP(ID, CPU, CUDA, ...) [SOMA_OP_##ID] = CUDA,
#include "core/op_list.h"
#undef SOMA_OP
#undef SOMA_CUDA_KERNEL
#undef SOMA_CUDA_LAUNCH
    },
    .variants = soma_cuda_variants, /* cuda_cudnn.c or cudnn_absent.c */
};
