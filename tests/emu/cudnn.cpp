/* cudnn.cpp: a stand-in for the cuDNN calls soma makes, computing their
 * documented semantics in double and rounding to float.
 *
 * Tensors are 4-D NCHW float (other formats and types are refused with
 * CUDNN_STATUS_NOT_SUPPORTED). Softmax normalizes, for MODE_INSTANCE, over
 * C*H*W of each image, for MODE_CHANNEL over C at each (n, h, w):
 *   FAST      y = exp(x) / sum exp(x)
 *   ACCURATE  y = exp(x - max) / sum exp(x - max)
 *   LOG       y = x - max - log sum exp(x - max)
 * and the outputs blend as out = alpha result + beta out (beta == 0: out is
 * not read). Backward: dx = y (dy - sum(dy y)), or for LOG
 * dx = dy - exp(y) sum(dy). */
#include <math.h>
#include <string.h>

#include <set>
#include <vector>

#include "emu_device.h"
#include "emu_internal.h"

#include <cudnn.h>

struct cudnnContext {
    cudaStream_t stream = NULL;
};

struct cudnnTensorStruct {
    bool set = false;
    cudnnTensorFormat_t format = CUDNN_TENSOR_NCHW;
    cudnnDataType_t type = CUDNN_DATA_FLOAT;
    int n = 0, c = 0, h = 0, w = 0;
};

namespace soma_emu {

static std::set<void *> live_dnn;

/* The index of element (n, c, h, w) of an NCHW tensor. */
static int64_t at(const cudnnTensorStruct &t, int n, int c, int h, int w) {
    return (((int64_t)n * t.c + c) * t.h + h) * t.w + w;
}

/* Calls f(list of element indices) once per group the mode normalizes over. */
template <class F>
static void for_each_group(const cudnnTensorStruct &t, cudnnSoftmaxMode_t mode, F f) {
    std::vector<int64_t> group;
    if (mode == CUDNN_SOFTMAX_MODE_INSTANCE) {
        for (int n = 0; n < t.n; n++) {
            group.clear();
            for (int c = 0; c < t.c; c++)
                for (int h = 0; h < t.h; h++)
                    for (int w = 0; w < t.w; w++) group.push_back(at(t, n, c, h, w));
            f(group);
        }
    } else {
        for (int n = 0; n < t.n; n++)
            for (int h = 0; h < t.h; h++)
                for (int w = 0; w < t.w; w++) {
                    group.clear();
                    for (int c = 0; c < t.c; c++) group.push_back(at(t, n, c, h, w));
                    f(group);
                }
    }
}

static bool same_shape(const cudnnTensorStruct *a, const cudnnTensorStruct *b) {
    return a->n == b->n && a->c == b->c && a->h == b->h && a->w == b->w;
}

static cudnnStatus_t check_tensors(const char *caller, std::initializer_list<const cudnnTensorStruct *> ts,
                                   std::initializer_list<const void *> ptrs) {
    const cudnnTensorStruct *first = *ts.begin();
    for (const cudnnTensorStruct *t : ts) {
        if (!live_dnn.count((void *)t) || !t->set) {
            note("%s: a tensor descriptor that was not created and set", caller);
            return CUDNN_STATUS_BAD_PARAM;
        }
        if (t->format != CUDNN_TENSOR_NCHW || t->type != CUDNN_DATA_FLOAT) {
            note("%s: only NCHW float tensors are emulated", caller);
            return CUDNN_STATUS_NOT_SUPPORTED;
        }
        if (!same_shape(t, first)) {
            note("%s: tensor descriptors of different shapes", caller);
            return CUDNN_STATUS_BAD_PARAM;
        }
    }
    size_t bytes = (size_t)first->n * first->c * first->h * first->w * sizeof(float);
    for (const void *p : ptrs)
        if (!device_span_ok(p, bytes, caller, "a tensor"))
            fatal("%s: a tensor reaches outside its device memory", caller);
    return CUDNN_STATUS_SUCCESS;
}

} // namespace soma_emu

using namespace soma_emu;

extern "C" {

size_t cudnnGetVersion(void) { return CUDNN_VERSION; }

const char *cudnnGetErrorString(cudnnStatus_t status) {
    switch (status) {
    case CUDNN_STATUS_SUCCESS: return "CUDNN_STATUS_SUCCESS";
    case CUDNN_STATUS_NOT_INITIALIZED: return "CUDNN_STATUS_NOT_INITIALIZED";
    case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
    case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
    case CUDNN_STATUS_EXECUTION_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED";
    default: return "CUDNN_STATUS_INTERNAL_ERROR";
    }
}

cudnnStatus_t cudnnCreate(cudnnHandle_t *handle) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    if (!handle) return CUDNN_STATUS_BAD_PARAM;
    *handle = new cudnnContext();
    live_dnn.insert(*handle);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroy(cudnnHandle_t handle) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    if (!live_dnn.count(handle)) return CUDNN_STATUS_BAD_PARAM;
    live_dnn.erase(handle);
    delete handle;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t stream) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    if (!live_dnn.count(handle)) return CUDNN_STATUS_BAD_PARAM;
    handle->stream = stream;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *desc) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    if (!desc) return CUDNN_STATUS_BAD_PARAM;
    *desc = new cudnnTensorStruct();
    live_dnn.insert(*desc);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t desc) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    if (!desc) return CUDNN_STATUS_SUCCESS;
    if (!live_dnn.count(desc)) return CUDNN_STATUS_BAD_PARAM;
    live_dnn.erase(desc);
    delete desc;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t desc, cudnnTensorFormat_t format,
                                         cudnnDataType_t type, int n, int c, int h, int w) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    if (!live_dnn.count(desc)) return CUDNN_STATUS_BAD_PARAM;
    if (n <= 0 || c <= 0 || h <= 0 || w <= 0 ||
        (double)n * c * h * w > 2147483647.0) /* cuDNN's 32-bit element counts */
        return CUDNN_STATUS_BAD_PARAM;
    desc->set = true;
    desc->format = format;
    desc->type = type;
    desc->n = n, desc->c = c, desc->h = h, desc->w = w;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSoftmaxForward(cudnnHandle_t handle, cudnnSoftmaxAlgorithm_t algo,
                                  cudnnSoftmaxMode_t mode, const void *alpha,
                                  const cudnnTensorDescriptor_t xDesc, const void *x,
                                  const void *beta, const cudnnTensorDescriptor_t yDesc, void *y) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    if (!live_dnn.count(handle)) return CUDNN_STATUS_NOT_INITIALIZED;
    if (!alpha || !beta) return CUDNN_STATUS_BAD_PARAM;
    cudnnStatus_t st = check_tensors("cudnnSoftmaxForward", {xDesc, yDesc}, {x, y});
    if (st != CUDNN_STATUS_SUCCESS) return st;
    if (stream_device(handle->stream, "cudnnSoftmaxForward") < 0) return CUDNN_STATUS_EXECUTION_FAILED;
    float al = *(const float *)alpha, be = *(const float *)beta;
    cudnnTensorStruct t = *xDesc;
    const float *xf = (const float *)x;
    float *yf = (float *)y;
    enqueue(handle->stream, "cudnnSoftmaxForward",
            [=] {
                for_each_group(t, mode, [&](const std::vector<int64_t> &g) {
                    double mx = -INFINITY;
                    if (algo != CUDNN_SOFTMAX_FAST)
                        for (int64_t i : g) mx = fmax(mx, (double)xf[i]);
                    else
                        mx = 0.0;
                    double sum = 0.0;
                    for (int64_t i : g) sum += exp((double)xf[i] - mx);
                    std::vector<double> r(g.size());
                    for (size_t q = 0; q < g.size(); q++)
                        r[q] = algo == CUDNN_SOFTMAX_LOG ? (double)xf[g[q]] - mx - log(sum)
                                                         : exp((double)xf[g[q]] - mx) / sum;
                    for (size_t q = 0; q < g.size(); q++) {
                        double v = al * r[q];
                        yf[g[q]] = (float)(be == 0.0f ? v : v + be * (double)yf[g[q]]);
                    }
                });
            },
            true);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSoftmaxBackward(cudnnHandle_t handle, cudnnSoftmaxAlgorithm_t algo,
                                   cudnnSoftmaxMode_t mode, const void *alpha,
                                   const cudnnTensorDescriptor_t yDesc, const void *y,
                                   const cudnnTensorDescriptor_t dyDesc, const void *dy,
                                   const void *beta, const cudnnTensorDescriptor_t dxDesc,
                                   void *dx) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    if (!live_dnn.count(handle)) return CUDNN_STATUS_NOT_INITIALIZED;
    if (!alpha || !beta) return CUDNN_STATUS_BAD_PARAM;
    cudnnStatus_t st = check_tensors("cudnnSoftmaxBackward", {yDesc, dyDesc, dxDesc}, {y, dy, dx});
    if (st != CUDNN_STATUS_SUCCESS) return st;
    if (stream_device(handle->stream, "cudnnSoftmaxBackward") < 0) return CUDNN_STATUS_EXECUTION_FAILED;
    float al = *(const float *)alpha, be = *(const float *)beta;
    cudnnTensorStruct t = *yDesc;
    const float *yf = (const float *)y, *dyf = (const float *)dy;
    float *dxf = (float *)dx;
    enqueue(handle->stream, "cudnnSoftmaxBackward",
            [=] {
                for_each_group(t, mode, [&](const std::vector<int64_t> &g) {
                    double s = 0.0;
                    for (int64_t i : g)
                        s += algo == CUDNN_SOFTMAX_LOG ? (double)dyf[i] : (double)dyf[i] * yf[i];
                    std::vector<double> r(g.size());
                    for (size_t q = 0; q < g.size(); q++) {
                        int64_t i = g[q];
                        r[q] = algo == CUDNN_SOFTMAX_LOG ? (double)dyf[i] - exp((double)yf[i]) * s
                                                         : (double)yf[i] * ((double)dyf[i] - s);
                    }
                    for (size_t q = 0; q < g.size(); q++) {
                        double v = al * r[q];
                        dxf[g[q]] = (float)(be == 0.0f ? v : v + be * (double)dxf[g[q]]);
                    }
                });
            },
            true);
    return CUDNN_STATUS_SUCCESS;
}

} /* extern "C" */
