/* cuda_graph.c: a training step recorded once into a CUDA graph and replayed
 * with one launch (core/backend.h: graph_begin .. graph_launch).
 *
 * The capture is global (cudaStreamCaptureModeGlobal): a call anywhere in
 * the process that could make the host wait or allocate while the step is
 * being recorded invalidates the capture, and graph_end reports it, rather
 * than the graph silently missing work. Everything a step touches is
 * allocated before (the first step of a run is eager) and its scalars live
 * in device memory (core/step_ctl.h), so the one graph stays valid for the
 * run. */
#include "cuda/cuda_internal.h"

soma_status soma_cuda_graph_begin(void *vctx) {
    soma_cuda_ctx *ctx = vctx;
    SOMA_TRY(soma_cuda_enter(ctx, "graph_begin"));
    return soma_cuda_check(ctx->ordinal, cudaStreamBeginCapture(ctx->stream, cudaStreamCaptureModeGlobal),
                           "graph_begin", "cudaStreamBeginCapture");
}

soma_status soma_cuda_graph_end(void *vctx, void **out) {
    soma_cuda_ctx *ctx = vctx;
    *out = NULL;
    SOMA_TRY(soma_cuda_enter(ctx, "graph_end"));
    cudaGraph_t graph = NULL;
    cudaError_t err = cudaStreamEndCapture(ctx->stream, &graph);
    if (err != cudaSuccess) {
        (void)cudaGetLastError(); /* the capture's error is reported here, not by the next op */
        if (graph) (void)cudaGraphDestroy(graph);
        return soma_cuda_check(ctx->ordinal, err, "graph_end", "cudaStreamEndCapture");
    }
    cudaGraphExec_t exec = NULL;
    err = cudaGraphInstantiate(&exec, graph, 0);
    (void)cudaGraphDestroy(graph); /* the executable graph keeps what it needs */
    SOMA_TRY(soma_cuda_check(ctx->ordinal, err, "graph_end", "cudaGraphInstantiate"));
    *out = exec;
    return SOMA_OK;
}

soma_status soma_cuda_graph_launch(void *vctx, void *graph) {
    soma_cuda_ctx *ctx = vctx;
    SOMA_TRY(soma_cuda_enter(ctx, "graph_launch"));
    return soma_cuda_check(ctx->ordinal, cudaGraphLaunch((cudaGraphExec_t)graph, ctx->stream),
                           "graph_launch", "cudaGraphLaunch");
}

void soma_cuda_graph_free(void *vctx, void *graph) {
    soma_cuda_ctx *ctx = vctx;
    if (!graph || soma_cuda_enter(ctx, "graph_free") != SOMA_OK) return;
    (void)cudaGraphExecDestroy((cudaGraphExec_t)graph);
}
