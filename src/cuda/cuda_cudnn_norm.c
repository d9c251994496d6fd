/* cuda_cudnn_norm.c: the "cudnn" variant of layernorm_forward and
 * layernorm_backward, through cuDNN's graph ("backend") API, the only way
 * cuDNN 9 offers layer normalization.
 *
 * A graph of one operation, NORM_FORWARD (LAYER_NORM mode, TRAINING phase:
 * it writes the statistics) or NORM_BACKWARD, over 4-D tensors: the m x n
 * row-major matrix is [m, n, 1, 1] with strides [n, 1, n, n], LAYER_NORM
 * normalizing each of the m rows over its n columns; gamma, beta and their
 * gradients are [1, n, 1, 1]; the statistics, one per row, are [m, 1, 1, 1].
 * cuDNN's mean and "inverse variance" (1 / sqrt(var + eps), as soma's rstd)
 * are two tensors; soma keeps them as the two columns of saved [m, 2], so
 * they are described in place with a row stride of 2: mean at saved, rstd at
 * saved + 1 (4-byte aligned only, which the descriptors declare). epsilon is
 * a by-value [1, 1, 1, 1] tensor of the forward graph, given per call;
 * soma's backward has no epsilon (it uses the saved rstd), so the backward
 * graph has none.
 *
 * Building a plan (operation, graph, heuristics, engine config, plan) costs
 * far more than running it, so plans are built once per (op, m, n) and kept
 * in a small cache in the context, released with the cuDNN handle. Running
 * one needs only host calls (a variant pack) and the context's workspace,
 * shared with cuBLAS/cuBLASLt (all on the one stream, in order): nothing is
 * allocated on the device, so a step with this variant can be recorded in a
 * CUDA graph. Where cuDNN has no engine for a shape (heuristics empty, every
 * plan refused, a workspace above the context's) or a pointer is less
 * aligned than the plan assumes, the op runs on soma's own kernel. */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <cudnn.h>

#include "cuda/cuda_internal.h" /* after cudnn.h, for soma_cudnn_check */

/* The tensors' unique ids (variant pack keys). */
enum {
    UID_X = 1, UID_SCALE, UID_BIAS, UID_EPS, UID_Y, UID_MEAN, UID_RSTD,
    UID_DY, UID_DX, UID_DSCALE, UID_DBIAS
};

#define PLAN_SLOTS 8  /* shapes kept per context (a model has a few widths) */
#define PLAN_DESCS 32 /* descriptors one plan keeps alive */
#define HEUR_MAX 8    /* engine configs tried, best first */
#define DATA_ALIGN 16 /* the alignment declared for x, y, gamma, ... */

typedef struct norm_plan {
    soma_op_id op;
    int64_t m, n;
    int usable; /* 0: cuDNN has no engine for this shape: soma's kernel runs */
    cudnnBackendDescriptor_t plan;
    int64_t workspace;
    /* every descriptor built for the plan, released with it: the backend
     * API does not say that a finalized plan owns what it was built from */
    cudnnBackendDescriptor_t keep[PLAN_DESCS];
    int n_keep;
} norm_plan;

typedef struct norm_plans {
    norm_plan slot[PLAN_SLOTS];
    int used, next; /* filled slots; the next to replace once all are */
} norm_plans;

static void plan_release(norm_plan *p) {
    for (int i = p->n_keep - 1; i >= 0; i--) (void)cudnnBackendDestroyDescriptor(p->keep[i]);
    p->n_keep = 0;
    p->plan = NULL;
    p->usable = 0;
}

void soma_cudnn_plans_destroy(soma_cuda_ctx *ctx) {
    norm_plans *plans = ctx->cudnn_plans;
    if (!plans) return;
    for (int i = 0; i < plans->used; i++) plan_release(&plans->slot[i]);
    free(plans);
    ctx->cudnn_plans = NULL;
}

/* A descriptor of `type`, kept by p (NULL when it cannot be made). */
static cudnnBackendDescriptor_t keep_new(norm_plan *p, cudnnBackendDescriptorType_t type) {
    cudnnBackendDescriptor_t d = NULL;
    if (p->n_keep == PLAN_DESCS || cudnnBackendCreateDescriptor(type, &d) != CUDNN_STATUS_SUCCESS)
        return NULL;
    p->keep[p->n_keep++] = d;
    return d;
}

#define SET(d, name, type, count, ptr)                                                    \
    do {                                                                                  \
        if (cudnnBackendSetAttribute(d, name, type, count, ptr) != CUDNN_STATUS_SUCCESS) \
            return NULL;                                                                  \
    } while (0)

/* A float tensor [d0, d1, 1, 1] with strides [s0, s1, d1 s1, d1 s1]. */
static cudnnBackendDescriptor_t tensor(norm_plan *p, int64_t uid, int64_t d0, int64_t d1,
                                       int64_t s0, int64_t s1, int64_t align, bool by_value) {
    cudnnBackendDescriptor_t t = keep_new(p, CUDNN_BACKEND_TENSOR_DESCRIPTOR);
    if (!t) return NULL;
    const cudnnDataType_t type = CUDNN_DATA_FLOAT;
    const int64_t dims[4] = {d0, d1, 1, 1}, strides[4] = {s0, s1, d1 * s1, d1 * s1};
    SET(t, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type);
    SET(t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims);
    SET(t, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides);
    SET(t, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
    SET(t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align);
    if (by_value) SET(t, CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, &by_value);
    return cudnnBackendFinalize(t) == CUDNN_STATUS_SUCCESS ? t : NULL;
}

/* The finalized NORM_FORWARD or NORM_BACKWARD operation of p's shape. */
static cudnnBackendDescriptor_t norm_operation(norm_plan *p) {
    const int64_t m = p->m, n = p->n;
    const cudnnBackendAttributeType_t B = CUDNN_TYPE_BACKEND_DESCRIPTOR;
    cudnnBackendDescriptor_t x = tensor(p, UID_X, m, n, n, 1, DATA_ALIGN, false);
    cudnnBackendDescriptor_t scale = tensor(p, UID_SCALE, 1, n, n, 1, DATA_ALIGN, false);
    cudnnBackendDescriptor_t mean = tensor(p, UID_MEAN, m, 1, 2, 1, 4, false); /* saved[:, 0] */
    cudnnBackendDescriptor_t rstd = tensor(p, UID_RSTD, m, 1, 2, 1, 4, false); /* saved[:, 1] */
    if (!x || !scale || !mean || !rstd) return NULL;
    const cudnnBackendNormMode_t mode = CUDNN_LAYER_NORM;
    if (p->op == SOMA_OP_LAYERNORM_FORWARD) {
        cudnnBackendDescriptor_t bias = tensor(p, UID_BIAS, 1, n, n, 1, DATA_ALIGN, false);
        cudnnBackendDescriptor_t eps = tensor(p, UID_EPS, 1, 1, 1, 1, 4, true);
        cudnnBackendDescriptor_t y = tensor(p, UID_Y, m, n, n, 1, DATA_ALIGN, false);
        cudnnBackendDescriptor_t op = keep_new(p, CUDNN_BACKEND_OPERATION_NORM_FORWARD_DESCRIPTOR);
        if (!bias || !eps || !y || !op) return NULL;
        const cudnnBackendNormFwdPhase_t phase = CUDNN_NORM_FWD_TRAINING;
        SET(op, CUDNN_ATTR_OPERATION_NORM_FWD_MODE, CUDNN_TYPE_NORM_MODE, 1, &mode);
        SET(op, CUDNN_ATTR_OPERATION_NORM_FWD_PHASE, CUDNN_TYPE_NORM_FWD_PHASE, 1, &phase);
        SET(op, CUDNN_ATTR_OPERATION_NORM_FWD_XDESC, B, 1, &x);
        SET(op, CUDNN_ATTR_OPERATION_NORM_FWD_MEAN_DESC, B, 1, &mean);
        SET(op, CUDNN_ATTR_OPERATION_NORM_FWD_INV_VARIANCE_DESC, B, 1, &rstd);
        SET(op, CUDNN_ATTR_OPERATION_NORM_FWD_SCALE_DESC, B, 1, &scale);
        SET(op, CUDNN_ATTR_OPERATION_NORM_FWD_BIAS_DESC, B, 1, &bias);
        SET(op, CUDNN_ATTR_OPERATION_NORM_FWD_EPSILON_DESC, B, 1, &eps);
        SET(op, CUDNN_ATTR_OPERATION_NORM_FWD_YDESC, B, 1, &y);
        return cudnnBackendFinalize(op) == CUDNN_STATUS_SUCCESS ? op : NULL;
    }
    cudnnBackendDescriptor_t dy = tensor(p, UID_DY, m, n, n, 1, DATA_ALIGN, false);
    cudnnBackendDescriptor_t dx = tensor(p, UID_DX, m, n, n, 1, DATA_ALIGN, false);
    cudnnBackendDescriptor_t dscale = tensor(p, UID_DSCALE, 1, n, n, 1, DATA_ALIGN, false);
    cudnnBackendDescriptor_t dbias = tensor(p, UID_DBIAS, 1, n, n, 1, DATA_ALIGN, false);
    cudnnBackendDescriptor_t op = keep_new(p, CUDNN_BACKEND_OPERATION_NORM_BACKWARD_DESCRIPTOR);
    if (!dy || !dx || !dscale || !dbias || !op) return NULL;
    SET(op, CUDNN_ATTR_OPERATION_NORM_BWD_MODE, CUDNN_TYPE_NORM_MODE, 1, &mode);
    SET(op, CUDNN_ATTR_OPERATION_NORM_BWD_XDESC, B, 1, &x);
    SET(op, CUDNN_ATTR_OPERATION_NORM_BWD_MEAN_DESC, B, 1, &mean);
    SET(op, CUDNN_ATTR_OPERATION_NORM_BWD_INV_VARIANCE_DESC, B, 1, &rstd);
    SET(op, CUDNN_ATTR_OPERATION_NORM_BWD_DYDESC, B, 1, &dy);
    SET(op, CUDNN_ATTR_OPERATION_NORM_BWD_SCALE_DESC, B, 1, &scale);
    SET(op, CUDNN_ATTR_OPERATION_NORM_BWD_DSCALE_DESC, B, 1, &dscale);
    SET(op, CUDNN_ATTR_OPERATION_NORM_BWD_DBIAS_DESC, B, 1, &dbias);
    SET(op, CUDNN_ATTR_OPERATION_NORM_BWD_DXDESC, B, 1, &dx);
    return cudnnBackendFinalize(op) == CUDNN_STATUS_SUCCESS ? op : NULL;
}

/* The execution plan of p's shape, from the first engine config of
 * heuristics mode A that finalizes; NULL when there is none. */
static cudnnBackendDescriptor_t build_plan(norm_plan *p, cudnnHandle_t handle) {
    const cudnnBackendAttributeType_t B = CUDNN_TYPE_BACKEND_DESCRIPTOR;
    cudnnBackendDescriptor_t op = norm_operation(p);
    cudnnBackendDescriptor_t graph = keep_new(p, CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
    if (!op || !graph) return NULL;
    SET(graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle);
    SET(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, B, 1, &op);
    if (cudnnBackendFinalize(graph) != CUDNN_STATUS_SUCCESS) return NULL;

    cudnnBackendDescriptor_t heur = keep_new(p, CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
    if (!heur) return NULL;
    const cudnnBackendHeurMode_t heur_mode = CUDNN_HEUR_MODE_A;
    SET(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, B, 1, &graph);
    SET(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &heur_mode);
    if (cudnnBackendFinalize(heur) != CUDNN_STATUS_SUCCESS) return NULL;
    int64_t found = 0;
    if (cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, B, 0, &found, NULL) !=
            CUDNN_STATUS_SUCCESS ||
        found <= 0)
        return NULL;
    /* the results are copied into engine configs the caller creates */
    cudnnBackendDescriptor_t configs[HEUR_MAX];
    int64_t want = found < HEUR_MAX ? found : HEUR_MAX, got = 0;
    for (int64_t i = 0; i < want; i++)
        if (!(configs[i] = keep_new(p, CUDNN_BACKEND_ENGINECFG_DESCRIPTOR))) return NULL;
    if (cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, B, want, &got, configs) !=
        CUDNN_STATUS_SUCCESS)
        return NULL;
    for (int64_t i = 0; i < got && i < want; i++) {
        cudnnBackendDescriptor_t plan = keep_new(p, CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
        if (!plan) return NULL;
        SET(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle);
        SET(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, B, 1, &configs[i]);
        int64_t count = 0;
        if (cudnnBackendFinalize(plan) == CUDNN_STATUS_SUCCESS &&
            cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                                     CUDNN_TYPE_INT64, 1, &count, &p->workspace) ==
                CUDNN_STATUS_SUCCESS &&
            count == 1 && p->workspace >= 0 &&
            (uint64_t)p->workspace <= SOMA_CUDA_LT_WORKSPACE_BYTES)
            return plan;
        /* this engine refused the graph (or wants too much workspace): the next */
        (void)cudnnBackendDestroyDescriptor(plan);
        p->n_keep--;
    }
    return NULL;
}
#undef SET

/* The cached plan for (op, m, n), built on first use; NULL only when the
 * cache itself cannot be allocated (an unusable plan is returned as such). */
static norm_plan *find_plan(soma_cuda_ctx *ctx, cudnnHandle_t handle, soma_op_id op, int64_t m,
                            int64_t n) {
    norm_plans *plans = ctx->cudnn_plans;
    if (!plans && !(plans = ctx->cudnn_plans = calloc(1, sizeof *plans))) return NULL;
    for (int i = 0; i < plans->used; i++) {
        norm_plan *p = &plans->slot[i];
        if (p->op == op && p->m == m && p->n == n) return p;
    }
    norm_plan *p;
    if (plans->used < PLAN_SLOTS) {
        p = &plans->slot[plans->used++];
    } else { /* the oldest goes */
        p = &plans->slot[plans->next];
        plans->next = (plans->next + 1) % PLAN_SLOTS;
        plan_release(p);
    }
    *p = (norm_plan){.op = op, .m = m, .n = n};
    p->plan = build_plan(p, handle);
    p->usable = p->plan != NULL;
    if (!p->usable) plan_release(p); /* no engine: nothing worth keeping but the answer */
    return p;
}

static int aligned(const void *ptr, uintptr_t to) { return ((uintptr_t)ptr % to) == 0; }

soma_status soma_cudnn_layernorm(void *vctx, const soma_op_call *call) {
    soma_cuda_ctx *ctx = vctx;
    const char *where = soma_cuda_op_name(call);
    const int forward = call->op == SOMA_OP_LAYERNORM_FORWARD;
    const int64_t m = call->in[0]->rows, n = call->in[0]->cols;
    SOMA_TRY(soma_cuda_enter(ctx, where));
    /* 2 m elements in saved, m n in x: cuDNN's tensors count in int64, but
     * its kernels index in 32 bits; beyond, soma's kernel */
    int fits = m * n <= INT_MAX && 2 * m <= INT_MAX;
    void *ptrs[8];
    int64_t uids[8];
    int k = 0;
    const float eps = call->p.eps; /* by value: read when the plan is executed */
#define BIND(uid, ptr) (uids[k] = (uid), ptrs[k++] = (void *)(ptr))
    if (forward) { /* (x, gamma, beta) -> (y, saved) */
        float *saved = call->out[1]->data;
        BIND(UID_X, call->in[0]->data), BIND(UID_SCALE, call->in[1]->data);
        BIND(UID_BIAS, call->in[2]->data), BIND(UID_EPS, &eps);
        BIND(UID_Y, call->out[0]->data), BIND(UID_MEAN, saved), BIND(UID_RSTD, saved + 1);
    } else { /* (x, gamma, saved, dy) -> (dx, dgamma, dbeta) */
        const float *saved = call->in[2]->data;
        BIND(UID_X, call->in[0]->data), BIND(UID_SCALE, call->in[1]->data);
        BIND(UID_MEAN, saved), BIND(UID_RSTD, saved + 1), BIND(UID_DY, call->in[3]->data);
        BIND(UID_DX, call->out[0]->data), BIND(UID_DSCALE, call->out[1]->data);
        BIND(UID_DBIAS, call->out[2]->data);
    }
#undef BIND
    for (int i = 0; i < k; i++)
        if (uids[i] != UID_EPS && uids[i] != UID_MEAN && uids[i] != UID_RSTD)
            fits = fits && aligned(ptrs[i], DATA_ALIGN);
    if (!fits) return soma_cuda_backend.kernel[call->op](ctx, call); /* soma's kernel */
    cudnnHandle_t handle;
    SOMA_TRY(soma_cudnn_handle(ctx, where, &handle));
    norm_plan *p = find_plan(ctx, handle, call->op, m, n);
    if (!p)
        return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "cuda:%d %s (cudnn): no memory for the plan cache",
                         ctx->ordinal, where);
    if (!p->usable) /* no cuDNN engine for this shape: soma's kernel */
        return soma_cuda_backend.kernel[call->op](ctx, call);

    cudnnBackendDescriptor_t pack = NULL;
    SOMA_TRY(soma_cudnn_check(ctx->ordinal,
                              cudnnBackendCreateDescriptor(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &pack),
                              where, "cudnnBackendCreateDescriptor (variant pack)"));
    void *workspace = ctx->lt_workspace;
    const char *what = "cudnnBackendSetAttribute (variant pack)";
    cudnnStatus_t st = cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS,
                                                CUDNN_TYPE_INT64, k, uids);
    if (st == CUDNN_STATUS_SUCCESS)
        st = cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS,
                                      CUDNN_TYPE_VOID_PTR, k, ptrs);
    if (st == CUDNN_STATUS_SUCCESS)
        st = cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR,
                                      1, &workspace);
    if (st == CUDNN_STATUS_SUCCESS) {
        what = "cudnnBackendFinalize (variant pack)";
        st = cudnnBackendFinalize(pack);
    }
    if (st == CUDNN_STATUS_SUCCESS) {
        what = "cudnnBackendExecute";
        st = cudnnBackendExecute(handle, p->plan, pack);
    }
    (void)cudnnBackendDestroyDescriptor(pack);
    return soma_cudnn_check(ctx->ordinal, st, where, what);
}
