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
 * dx = dy - exp(y) sum(dy).
 *
 * Batch normalization, CUDNN_BATCHNORM_PER_ACTIVATION only (SPATIAL is
 * refused with NOT_SUPPORTED): each of the C*H*W activations is normalized
 * over the N images, with gamma, beta and the statistics 1 x C x H x W:
 *   training  mean, var (biased) over N; y = gamma (x - mean) / sqrt(var + eps) + beta;
 *             running = (1 - factor) running + factor {mean, var N / (N - 1)};
 *             saveMean = mean, saveInvVariance = 1 / sqrt(var + eps)
 *   inference y = gamma (x - estMean) / sqrt(estVar + eps) + beta
 *   backward  with xhat = (x - mean) invStd (saved ones when given):
 *             dBeta = sum dy, dScale = sum dy xhat,
 *             dx = gamma invStd / N (N dy - dBeta - xhat dScale)
 * The cuDNN documentation gives these, and the unbiased running variance is
 * what PyTorch gets from it on GPUs; alpha/beta blend as for softmax.
 *
 * Layer normalization through the graph ("backend") API: see the section
 * on cudnnBackend* below. */
#include <math.h>
#include <string.h>

#include <map>
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

/* Checks a batchnorm call's data tensors (same shape) and its parameter
 * descriptor (1 x C x H x W of them), and that every pointer spans its
 * tensor; the activations per image into *per. */
static cudnnStatus_t check_batchnorm(const char *caller, cudnnBatchNormMode_t mode,
                                     std::initializer_list<const cudnnTensorStruct *> data,
                                     std::initializer_list<const void *> data_ptrs,
                                     const cudnnTensorStruct *param,
                                     std::initializer_list<const void *> param_ptrs, int64_t *per) {
    if (mode != CUDNN_BATCHNORM_PER_ACTIVATION) {
        note("%s: only CUDNN_BATCHNORM_PER_ACTIVATION is emulated", caller);
        return CUDNN_STATUS_NOT_SUPPORTED;
    }
    cudnnStatus_t st = check_tensors(caller, data, data_ptrs);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    const cudnnTensorStruct *x = *data.begin();
    if (!live_dnn.count((void *)param) || !param->set) {
        note("%s: a tensor descriptor that was not created and set", caller);
        return CUDNN_STATUS_BAD_PARAM;
    }
    if (param->n != 1 || param->c != x->c || param->h != x->h || param->w != x->w) {
        note("%s: the parameter descriptor is not 1xCxHxW of the data", caller);
        return CUDNN_STATUS_BAD_PARAM;
    }
    *per = (int64_t)x->c * x->h * x->w;
    for (const void *p : param_ptrs)
        if (p && !device_span_ok(p, (size_t)*per * sizeof(float), caller, "a parameter tensor"))
            fatal("%s: a parameter tensor reaches outside its device memory", caller);
    return CUDNN_STATUS_SUCCESS;
}

/* out = alpha v + beta out (beta == 0: out is not read) */
static float blend(double v, float alpha, float beta, float out) {
    return (float)(beta == 0.0f ? alpha * v : alpha * v + beta * (double)out);
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

cudnnStatus_t cudnnBatchNormalizationForwardTraining(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void *alpha, const void *beta,
    const cudnnTensorDescriptor_t xDesc, const void *x, const cudnnTensorDescriptor_t yDesc, void *y,
    const cudnnTensorDescriptor_t bnDesc, const void *bnScale, const void *bnBias,
    double exponentialAverageFactor, void *resultRunningMean, void *resultRunningVariance,
    double epsilon, void *resultSaveMean, void *resultSaveInvVariance) {
    const char *caller = "cudnnBatchNormalizationForwardTraining";
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    if (!live_dnn.count(handle)) return CUDNN_STATUS_NOT_INITIALIZED;
    if (!alpha || !beta || !bnScale || !bnBias || epsilon < CUDNN_BN_MIN_EPSILON ||
        !resultRunningMean != !resultRunningVariance || !resultSaveMean != !resultSaveInvVariance)
        return CUDNN_STATUS_BAD_PARAM;
    int64_t per = 0;
    cudnnStatus_t st = check_batchnorm(caller, mode, {xDesc, yDesc}, {x, y}, bnDesc,
                                       {bnScale, bnBias, resultRunningMean, resultRunningVariance,
                                        resultSaveMean, resultSaveInvVariance},
                                       &per);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    if (xDesc->n < 2 && resultRunningVariance) return CUDNN_STATUS_BAD_PARAM; /* N / (N - 1) */
    if (stream_device(handle->stream, caller) < 0) return CUDNN_STATUS_EXECUTION_FAILED;
    const float al = *(const float *)alpha, be = *(const float *)beta;
    const int64_t images = xDesc->n;
    const float *xf = (const float *)x, *gamma = (const float *)bnScale, *bias = (const float *)bnBias;
    float *yf = (float *)y, *rmean = (float *)resultRunningMean, *rvar = (float *)resultRunningVariance;
    float *smean = (float *)resultSaveMean, *sinv = (float *)resultSaveInvVariance;
    const double factor = exponentialAverageFactor;
    enqueue(handle->stream, caller,
            [=] {
                for (int64_t a = 0; a < per; a++) {
                    double mean = 0.0, var = 0.0;
                    for (int64_t i = 0; i < images; i++) mean += xf[i * per + a];
                    mean /= (double)images;
                    for (int64_t i = 0; i < images; i++)
                        var += ((double)xf[i * per + a] - mean) * ((double)xf[i * per + a] - mean);
                    var /= (double)images;
                    const double inv_std = 1.0 / sqrt(var + epsilon);
                    for (int64_t i = 0; i < images; i++)
                        yf[i * per + a] = blend((double)gamma[a] * ((double)xf[i * per + a] - mean) * inv_std + bias[a],
                                                al, be, yf[i * per + a]);
                    if (rmean) {
                        rmean[a] = (float)((1.0 - factor) * rmean[a] + factor * mean);
                        rvar[a] = (float)((1.0 - factor) * rvar[a] + factor * var * images / (images - 1));
                    }
                    if (smean) {
                        smean[a] = (float)mean;
                        sinv[a] = (float)inv_std;
                    }
                }
            },
            true);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBatchNormalizationForwardInference(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void *alpha, const void *beta,
    const cudnnTensorDescriptor_t xDesc, const void *x, const cudnnTensorDescriptor_t yDesc, void *y,
    const cudnnTensorDescriptor_t bnDesc, const void *bnScale, const void *bnBias,
    const void *estimatedMean, const void *estimatedVariance, double epsilon) {
    const char *caller = "cudnnBatchNormalizationForwardInference";
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    if (!live_dnn.count(handle)) return CUDNN_STATUS_NOT_INITIALIZED;
    if (!alpha || !beta || !bnScale || !bnBias || !estimatedMean || !estimatedVariance ||
        epsilon < CUDNN_BN_MIN_EPSILON)
        return CUDNN_STATUS_BAD_PARAM;
    int64_t per = 0;
    cudnnStatus_t st = check_batchnorm(caller, mode, {xDesc, yDesc}, {x, y}, bnDesc,
                                       {bnScale, bnBias, estimatedMean, estimatedVariance}, &per);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    if (stream_device(handle->stream, caller) < 0) return CUDNN_STATUS_EXECUTION_FAILED;
    const float al = *(const float *)alpha, be = *(const float *)beta;
    const int64_t count = (int64_t)xDesc->n * per;
    const float *xf = (const float *)x, *gamma = (const float *)bnScale, *bias = (const float *)bnBias;
    const float *mean = (const float *)estimatedMean, *var = (const float *)estimatedVariance;
    float *yf = (float *)y;
    enqueue(handle->stream, caller,
            [=] {
                for (int64_t i = 0; i < count; i++) {
                    const int64_t a = i % per;
                    const double v = (double)gamma[a] * ((double)xf[i] - mean[a]) / sqrt((double)var[a] + epsilon) + bias[a];
                    yf[i] = blend(v, al, be, yf[i]);
                }
            },
            true);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBatchNormalizationBackward(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void *alphaDataDiff,
    const void *betaDataDiff, const void *alphaParamDiff, const void *betaParamDiff,
    const cudnnTensorDescriptor_t xDesc, const void *x, const cudnnTensorDescriptor_t dyDesc,
    const void *dy, const cudnnTensorDescriptor_t dxDesc, void *dx,
    const cudnnTensorDescriptor_t bnDesc, const void *bnScale, void *dBnScaleResult,
    void *dBnBiasResult, double epsilon, const void *savedMean, const void *savedInvVariance) {
    const char *caller = "cudnnBatchNormalizationBackward";
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    if (!live_dnn.count(handle)) return CUDNN_STATUS_NOT_INITIALIZED;
    if (!alphaDataDiff || !betaDataDiff || !alphaParamDiff || !betaParamDiff || !bnScale ||
        !dBnScaleResult || !dBnBiasResult || epsilon < CUDNN_BN_MIN_EPSILON ||
        !savedMean != !savedInvVariance)
        return CUDNN_STATUS_BAD_PARAM;
    int64_t per = 0;
    cudnnStatus_t st = check_batchnorm(caller, mode, {xDesc, dyDesc, dxDesc}, {x, dy, dx}, bnDesc,
                                       {bnScale, dBnScaleResult, dBnBiasResult, savedMean, savedInvVariance},
                                       &per);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    if (stream_device(handle->stream, caller) < 0) return CUDNN_STATUS_EXECUTION_FAILED;
    const float ad = *(const float *)alphaDataDiff, bd = *(const float *)betaDataDiff;
    const float ap = *(const float *)alphaParamDiff, bp = *(const float *)betaParamDiff;
    const int64_t images = xDesc->n;
    const float *xf = (const float *)x, *dyf = (const float *)dy, *gamma = (const float *)bnScale;
    const float *smean = (const float *)savedMean, *sinv = (const float *)savedInvVariance;
    float *dxf = (float *)dx, *dscale = (float *)dBnScaleResult, *dbias = (float *)dBnBiasResult;
    enqueue(handle->stream, caller,
            [=] {
                for (int64_t a = 0; a < per; a++) {
                    double mean = 0.0, inv_std;
                    if (smean) {
                        mean = smean[a];
                        inv_std = sinv[a];
                    } else { /* the statistics again, from x */
                        double var = 0.0;
                        for (int64_t i = 0; i < images; i++) mean += xf[i * per + a];
                        mean /= (double)images;
                        for (int64_t i = 0; i < images; i++)
                            var += ((double)xf[i * per + a] - mean) * ((double)xf[i * per + a] - mean);
                        inv_std = 1.0 / sqrt(var / (double)images + epsilon);
                    }
                    double sum_dy = 0.0, sum_dy_xhat = 0.0;
                    for (int64_t i = 0; i < images; i++) {
                        sum_dy += dyf[i * per + a];
                        sum_dy_xhat += (double)dyf[i * per + a] * ((double)xf[i * per + a] - mean) * inv_std;
                    }
                    for (int64_t i = 0; i < images; i++) {
                        const double xhat = ((double)xf[i * per + a] - mean) * inv_std;
                        const double v = (double)gamma[a] * inv_std / (double)images *
                                         ((double)images * dyf[i * per + a] - sum_dy - xhat * sum_dy_xhat);
                        dxf[i * per + a] = blend(v, ad, bd, dxf[i * per + a]);
                    }
                    dscale[a] = blend(sum_dy_xhat, ap, bp, dscale[a]);
                    dbias[a] = blend(sum_dy, ap, bp, dbias[a]);
                }
            },
            true);
    return CUDNN_STATUS_SUCCESS;
}

} /* extern "C" */

/* ---- the graph ("backend") API: layer normalization only -----------------
 * Descriptors hold attributes as set (name, type, elements); each type
 * accepts a fixed list of attributes, each of one type and a count range
 * (kAttrs), and finalize checks what its type needs. Anything outside that
 * list is refused with a note, so a call soma makes wrongly fails here as it
 * would on cuDNN. The one engine emulated runs a graph of a single
 * NORM_FORWARD (LAYER_NORM, TRAINING) or NORM_BACKWARD (LAYER_NORM)
 * operation, whose tensors normalize over all dimensions but the first:
 *   forward   mean_i = sum_j x_ij / N,  var_i = sum_j (x_ij - mean_i)^2 / N,
 *             invVariance_i = 1 / sqrt(var_i + eps),
 *             y_ij = scale_j (x_ij - mean_i) invVariance_i + bias_j
 *   backward  xhat = (x - mean) invVariance (the given statistics), g = dy scale:
 *             dx_ij = invVariance_i / N (N g_ij - sum_k g_ik - xhat_ij sum_k g_ik xhat_ik),
 *             dScale_j = sum_i dy_ij xhat_ij,  dBias_j = sum_i dy_ij
 * The plan asks for a workspace of 64 + 8 N_rows bytes, which execute checks
 * is device memory of that size. By-value tensors (epsilon) are host
 * pointers in the variant pack, read at execute. */
namespace soma_emu {

struct BackendAttr {
    cudnnBackendAttributeType_t type;
    std::vector<char> bytes;
    int64_t count;
};

struct BackendDesc {
    cudnnBackendDescriptorType_t type;
    bool finalized = false;
    std::map<int, BackendAttr> attrs;
    /* engine configs and plans: the operation they run (a finalized op) */
    BackendDesc *op = nullptr;
    int64_t workspace = 0;
};

static std::set<BackendDesc *> live_backend;
static bool no_engine; /* soma_emu_cudnn_offer_no_engine */

struct AttrSpec {
    cudnnBackendDescriptorType_t desc;
    cudnnBackendAttributeName_t name;
    cudnnBackendAttributeType_t type;
    int64_t min_count, max_count;
    int elem_desc; /* BACKEND_DESCRIPTOR elements: their descriptor type (-1: any) */
};

#define T(a) CUDNN_BACKEND_##a##_DESCRIPTOR
#define A(a) CUDNN_ATTR_##a
static const AttrSpec kAttrs[] = {
    {T(TENSOR), A(TENSOR_DATA_TYPE), CUDNN_TYPE_DATA_TYPE, 1, 1, -1},
    {T(TENSOR), A(TENSOR_DIMENSIONS), CUDNN_TYPE_INT64, 1, 8, -1},
    {T(TENSOR), A(TENSOR_STRIDES), CUDNN_TYPE_INT64, 1, 8, -1},
    {T(TENSOR), A(TENSOR_UNIQUE_ID), CUDNN_TYPE_INT64, 1, 1, -1},
    {T(TENSOR), A(TENSOR_BYTE_ALIGNMENT), CUDNN_TYPE_INT64, 1, 1, -1},
    {T(TENSOR), A(TENSOR_IS_VIRTUAL), CUDNN_TYPE_BOOLEAN, 1, 1, -1},
    {T(TENSOR), A(TENSOR_IS_BY_VALUE), CUDNN_TYPE_BOOLEAN, 1, 1, -1},
    {T(OPERATION_NORM_FORWARD), A(OPERATION_NORM_FWD_MODE), CUDNN_TYPE_NORM_MODE, 1, 1, -1},
    {T(OPERATION_NORM_FORWARD), A(OPERATION_NORM_FWD_PHASE), CUDNN_TYPE_NORM_FWD_PHASE, 1, 1, -1},
    {T(OPERATION_NORM_FORWARD), A(OPERATION_NORM_FWD_XDESC), CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, T(TENSOR)},
    {T(OPERATION_NORM_FORWARD), A(OPERATION_NORM_FWD_MEAN_DESC), CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, T(TENSOR)},
    {T(OPERATION_NORM_FORWARD), A(OPERATION_NORM_FWD_INV_VARIANCE_DESC), CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, T(TENSOR)},
    {T(OPERATION_NORM_FORWARD), A(OPERATION_NORM_FWD_SCALE_DESC), CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, T(TENSOR)},
    {T(OPERATION_NORM_FORWARD), A(OPERATION_NORM_FWD_BIAS_DESC), CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, T(TENSOR)},
    {T(OPERATION_NORM_FORWARD), A(OPERATION_NORM_FWD_EPSILON_DESC), CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, T(TENSOR)},
    {T(OPERATION_NORM_FORWARD), A(OPERATION_NORM_FWD_YDESC), CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, T(TENSOR)},
    {T(OPERATION_NORM_BACKWARD), A(OPERATION_NORM_BWD_MODE), CUDNN_TYPE_NORM_MODE, 1, 1, -1},
    {T(OPERATION_NORM_BACKWARD), A(OPERATION_NORM_BWD_XDESC), CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, T(TENSOR)},
    {T(OPERATION_NORM_BACKWARD), A(OPERATION_NORM_BWD_MEAN_DESC), CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, T(TENSOR)},
    {T(OPERATION_NORM_BACKWARD), A(OPERATION_NORM_BWD_INV_VARIANCE_DESC), CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, T(TENSOR)},
    {T(OPERATION_NORM_BACKWARD), A(OPERATION_NORM_BWD_DYDESC), CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, T(TENSOR)},
    {T(OPERATION_NORM_BACKWARD), A(OPERATION_NORM_BWD_SCALE_DESC), CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, T(TENSOR)},
    {T(OPERATION_NORM_BACKWARD), A(OPERATION_NORM_BWD_EPSILON_DESC), CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, T(TENSOR)},
    {T(OPERATION_NORM_BACKWARD), A(OPERATION_NORM_BWD_DSCALE_DESC), CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, T(TENSOR)},
    {T(OPERATION_NORM_BACKWARD), A(OPERATION_NORM_BWD_DBIAS_DESC), CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, T(TENSOR)},
    {T(OPERATION_NORM_BACKWARD), A(OPERATION_NORM_BWD_DXDESC), CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, T(TENSOR)},
    {T(OPERATIONGRAPH), A(OPERATIONGRAPH_HANDLE), CUDNN_TYPE_HANDLE, 1, 1, -1},
    {T(OPERATIONGRAPH), A(OPERATIONGRAPH_OPS), CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 64, -1},
    {T(ENGINEHEUR), A(ENGINEHEUR_OPERATION_GRAPH), CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, T(OPERATIONGRAPH)},
    {T(ENGINEHEUR), A(ENGINEHEUR_MODE), CUDNN_TYPE_HEUR_MODE, 1, 1, -1},
    {T(EXECUTION_PLAN), A(EXECUTION_PLAN_HANDLE), CUDNN_TYPE_HANDLE, 1, 1, -1},
    {T(EXECUTION_PLAN), A(EXECUTION_PLAN_ENGINE_CONFIG), CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, T(ENGINECFG)},
    {T(VARIANT_PACK), A(VARIANT_PACK_UNIQUE_IDS), CUDNN_TYPE_INT64, 0, 64, -1},
    {T(VARIANT_PACK), A(VARIANT_PACK_DATA_POINTERS), CUDNN_TYPE_VOID_PTR, 0, 64, -1},
    {T(VARIANT_PACK), A(VARIANT_PACK_WORKSPACE), CUDNN_TYPE_VOID_PTR, 1, 1, -1},
};
#undef A

static const AttrSpec *attr_spec(cudnnBackendDescriptorType_t desc, cudnnBackendAttributeName_t name) {
    for (const AttrSpec &s : kAttrs)
        if (s.desc == desc && s.name == name) return &s;
    return nullptr;
}

static size_t attr_elem_size(cudnnBackendAttributeType_t type) {
    switch (type) {
    case CUDNN_TYPE_HANDLE: return sizeof(cudnnHandle_t);
    case CUDNN_TYPE_DATA_TYPE: return sizeof(cudnnDataType_t);
    case CUDNN_TYPE_BOOLEAN: return sizeof(bool);
    case CUDNN_TYPE_INT64: return sizeof(int64_t);
    case CUDNN_TYPE_VOID_PTR: return sizeof(void *);
    case CUDNN_TYPE_HEUR_MODE: return sizeof(cudnnBackendHeurMode_t);
    case CUDNN_TYPE_BACKEND_DESCRIPTOR: return sizeof(cudnnBackendDescriptor_t);
    case CUDNN_TYPE_NORM_MODE: return sizeof(cudnnBackendNormMode_t);
    case CUDNN_TYPE_NORM_FWD_PHASE: return sizeof(cudnnBackendNormFwdPhase_t);
    default: return 0;
    }
}

static BackendDesc *live_desc(cudnnBackendDescriptor_t d) {
    BackendDesc *b = (BackendDesc *)d;
    return live_backend.count(b) ? b : nullptr;
}

/* Attribute `name` of d, if set, as its count elements of type E. */
template <class E> static const E *attr(const BackendDesc *d, cudnnBackendAttributeName_t name, int64_t *count = nullptr) {
    auto it = d->attrs.find((int)name);
    if (it == d->attrs.end()) return nullptr;
    if (count) *count = it->second.count;
    return (const E *)it->second.bytes.data();
}

/* A tensor as the emulated engine reads it. */
struct EmuTensor {
    int64_t uid = 0, align = 0, rank = 0;
    int64_t dims[8] = {0}, strides[8] = {0};
    bool by_value = false;
    int64_t rows() const { return dims[0]; }
    int64_t per_row() const {
        int64_t p = 1;
        for (int64_t i = 1; i < rank; i++) p *= dims[i];
        return p;
    }
    /* the element offset of (row, k), k in row-major order over dims[1..] */
    int64_t at(int64_t row, int64_t k) const {
        int64_t off = row * strides[0];
        for (int64_t i = rank - 1; i >= 1; i--) {
            off += (k % dims[i]) * strides[i];
            k /= dims[i];
        }
        return off;
    }
    size_t extent_bytes() const {
        int64_t last = 0;
        for (int64_t i = 0; i < rank; i++) last += (dims[i] - 1) * strides[i];
        return (size_t)(last + 1) * sizeof(float);
    }
};

static EmuTensor tensor_of(const BackendDesc *t) {
    EmuTensor e;
    int64_t n = 0;
    const int64_t *dims = attr<int64_t>(t, CUDNN_ATTR_TENSOR_DIMENSIONS, &n);
    const int64_t *strides = attr<int64_t>(t, CUDNN_ATTR_TENSOR_STRIDES);
    e.rank = n;
    for (int64_t i = 0; i < n; i++) e.dims[i] = dims[i], e.strides[i] = strides[i];
    e.uid = *attr<int64_t>(t, CUDNN_ATTR_TENSOR_UNIQUE_ID);
    e.align = *attr<int64_t>(t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT);
    const bool *bv = attr<bool>(t, CUDNN_ATTR_TENSOR_IS_BY_VALUE);
    e.by_value = bv && *bv;
    return e;
}

/* The tensor an operation's attribute names (nullptr if unset). */
static const BackendDesc *op_tensor(const BackendDesc *op, cudnnBackendAttributeName_t name) {
    const cudnnBackendDescriptor_t *d = attr<cudnnBackendDescriptor_t>(op, name);
    return d ? (const BackendDesc *)*d : nullptr;
}

static cudnnStatus_t finalize_tensor(BackendDesc *d) {
    int64_t nd = 0, ns = 0;
    const cudnnDataType_t *type = attr<cudnnDataType_t>(d, CUDNN_ATTR_TENSOR_DATA_TYPE);
    const int64_t *dims = attr<int64_t>(d, CUDNN_ATTR_TENSOR_DIMENSIONS, &nd);
    const int64_t *strides = attr<int64_t>(d, CUDNN_ATTR_TENSOR_STRIDES, &ns);
    const int64_t *align = attr<int64_t>(d, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT);
    const bool *is_virtual = attr<bool>(d, CUDNN_ATTR_TENSOR_IS_VIRTUAL);
    if (!type || !dims || !strides || !align || !attr<int64_t>(d, CUDNN_ATTR_TENSOR_UNIQUE_ID)) {
        note("cudnnBackendFinalize(tensor): data type, dimensions, strides, unique id and byte alignment are all required");
        return CUDNN_STATUS_BAD_PARAM;
    }
    if (nd != ns || nd < 3) {
        note("cudnnBackendFinalize(tensor): %lld dimensions, %lld strides (cuDNN wants 3 to 8 of each)",
             (long long)nd, (long long)ns);
        return CUDNN_STATUS_BAD_PARAM;
    }
    for (int64_t i = 0; i < nd; i++)
        if (dims[i] <= 0 || strides[i] <= 0) {
            note("cudnnBackendFinalize(tensor): dimension %lld is %lld with stride %lld", (long long)i,
                 (long long)dims[i], (long long)strides[i]);
            return CUDNN_STATUS_BAD_PARAM;
        }
    if (*align <= 0 || (*align & (*align - 1))) {
        note("cudnnBackendFinalize(tensor): byte alignment %lld is not a power of two", (long long)*align);
        return CUDNN_STATUS_BAD_PARAM;
    }
    if (*type != CUDNN_DATA_FLOAT || (is_virtual && *is_virtual)) {
        note("cudnnBackendFinalize(tensor): only float, non-virtual tensors are emulated");
        return CUDNN_STATUS_NOT_SUPPORTED;
    }
    return CUDNN_STATUS_SUCCESS;
}

/* The tensors of a NORM_FORWARD/BACKWARD operation, by role. */
struct NormRoles {
    const BackendDesc *x, *mean, *inv, *scale, *bias, *eps, *y, *dy, *dscale, *dbias, *dx;
};

static NormRoles norm_roles(const BackendDesc *op) {
    NormRoles r = {};
    if (op->type == CUDNN_BACKEND_OPERATION_NORM_FORWARD_DESCRIPTOR) {
        r.x = op_tensor(op, CUDNN_ATTR_OPERATION_NORM_FWD_XDESC);
        r.mean = op_tensor(op, CUDNN_ATTR_OPERATION_NORM_FWD_MEAN_DESC);
        r.inv = op_tensor(op, CUDNN_ATTR_OPERATION_NORM_FWD_INV_VARIANCE_DESC);
        r.scale = op_tensor(op, CUDNN_ATTR_OPERATION_NORM_FWD_SCALE_DESC);
        r.bias = op_tensor(op, CUDNN_ATTR_OPERATION_NORM_FWD_BIAS_DESC);
        r.eps = op_tensor(op, CUDNN_ATTR_OPERATION_NORM_FWD_EPSILON_DESC);
        r.y = op_tensor(op, CUDNN_ATTR_OPERATION_NORM_FWD_YDESC);
    } else {
        r.x = op_tensor(op, CUDNN_ATTR_OPERATION_NORM_BWD_XDESC);
        r.mean = op_tensor(op, CUDNN_ATTR_OPERATION_NORM_BWD_MEAN_DESC);
        r.inv = op_tensor(op, CUDNN_ATTR_OPERATION_NORM_BWD_INV_VARIANCE_DESC);
        r.scale = op_tensor(op, CUDNN_ATTR_OPERATION_NORM_BWD_SCALE_DESC);
        r.eps = op_tensor(op, CUDNN_ATTR_OPERATION_NORM_BWD_EPSILON_DESC);
        r.dy = op_tensor(op, CUDNN_ATTR_OPERATION_NORM_BWD_DYDESC);
        r.dscale = op_tensor(op, CUDNN_ATTR_OPERATION_NORM_BWD_DSCALE_DESC);
        r.dbias = op_tensor(op, CUDNN_ATTR_OPERATION_NORM_BWD_DBIAS_DESC);
        r.dx = op_tensor(op, CUDNN_ATTR_OPERATION_NORM_BWD_DXDESC);
    }
    return r;
}

static bool same_dims(const EmuTensor &a, const EmuTensor &b) {
    if (a.rank != b.rank) return false;
    for (int64_t i = 0; i < a.rank; i++)
        if (a.dims[i] != b.dims[i]) return false;
    return true;
}

static cudnnStatus_t finalize_norm(BackendDesc *d) {
    const char *caller = "cudnnBackendFinalize(norm operation)";
    const bool fwd = d->type == CUDNN_BACKEND_OPERATION_NORM_FORWARD_DESCRIPTOR;
    const cudnnBackendNormMode_t *mode = attr<cudnnBackendNormMode_t>(
        d, fwd ? CUDNN_ATTR_OPERATION_NORM_FWD_MODE : CUDNN_ATTR_OPERATION_NORM_BWD_MODE);
    const cudnnBackendNormFwdPhase_t *phase = attr<cudnnBackendNormFwdPhase_t>(d, CUDNN_ATTR_OPERATION_NORM_FWD_PHASE);
    NormRoles r = norm_roles(d);
    if (!mode || (fwd && (!phase || !r.x || !r.mean || !r.inv || !r.scale || !r.bias || !r.eps || !r.y)) ||
        (!fwd && (!r.x || !r.mean || !r.inv || !r.scale || !r.dy || !r.dscale || !r.dbias || !r.dx))) {
        note("%s: a required attribute is missing", caller);
        return CUDNN_STATUS_BAD_PARAM;
    }
    if (*mode != CUDNN_LAYER_NORM || (fwd && *phase != CUDNN_NORM_FWD_TRAINING)) {
        note("%s: only LAYER_NORM (forward: TRAINING) is emulated", caller);
        return CUDNN_STATUS_NOT_SUPPORTED;
    }
    std::vector<const BackendDesc *> all = {r.x, r.mean, r.inv, r.scale, r.bias, r.eps, r.y, r.dy, r.dscale, r.dbias, r.dx};
    std::set<int64_t> uids;
    size_t present = 0;
    for (const BackendDesc *t : all)
        if (t) {
            present++;
            uids.insert(tensor_of(t).uid);
        }
    if (uids.size() != present) {
        note("%s: two tensors share a unique id", caller);
        return CUDNN_STATUS_BAD_PARAM;
    }
    /* layer norm: statistics [N, 1, ...], scale/bias [1, rest of x] */
    EmuTensor x = tensor_of(r.x);
    auto stat_ok = [&](const BackendDesc *t) {
        EmuTensor s = tensor_of(t);
        return s.rank == x.rank && s.dims[0] == x.dims[0] && s.per_row() == 1 && !s.by_value;
    };
    auto param_ok = [&](const BackendDesc *t) {
        EmuTensor s = tensor_of(t);
        if (s.rank != x.rank || s.dims[0] != 1 || s.by_value) return false;
        for (int64_t i = 1; i < x.rank; i++)
            if (s.dims[i] != x.dims[i]) return false;
        return true;
    };
    bool ok = !x.by_value && stat_ok(r.mean) && stat_ok(r.inv) && param_ok(r.scale);
    if (fwd) {
        EmuTensor e = tensor_of(r.eps);
        ok = ok && param_ok(r.bias) && same_dims(tensor_of(r.y), x) && !tensor_of(r.y).by_value &&
             e.by_value && e.rank == x.rank && e.per_row() * e.rows() == 1;
    } else {
        ok = ok && param_ok(r.dscale) && param_ok(r.dbias) && same_dims(tensor_of(r.dy), x) &&
             same_dims(tensor_of(r.dx), x) && !tensor_of(r.dy).by_value && !tensor_of(r.dx).by_value;
    }
    if (!ok) {
        note("%s: the tensors' shapes are not those of a layer norm over all dimensions but the first "
             "(statistics [N,1,..], scale and bias [1,...], epsilon a by-value scalar)", caller);
        return CUDNN_STATUS_BAD_PARAM;
    }
    return CUDNN_STATUS_SUCCESS;
}

static cudnnStatus_t finalize_backend(BackendDesc *d) {
    const cudnnBackendDescriptor_t *ds;
    int64_t n = 0;
    switch (d->type) {
    case CUDNN_BACKEND_TENSOR_DESCRIPTOR: return finalize_tensor(d);
    case CUDNN_BACKEND_OPERATION_NORM_FORWARD_DESCRIPTOR:
    case CUDNN_BACKEND_OPERATION_NORM_BACKWARD_DESCRIPTOR: return finalize_norm(d);
    case CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR:
        ds = attr<cudnnBackendDescriptor_t>(d, CUDNN_ATTR_OPERATIONGRAPH_OPS, &n);
        if (!attr<cudnnHandle_t>(d, CUDNN_ATTR_OPERATIONGRAPH_HANDLE) || !ds) {
            note("cudnnBackendFinalize(operation graph): handle and operations are required");
            return CUDNN_STATUS_BAD_PARAM;
        }
        if (!live_dnn.count((void *)*attr<cudnnHandle_t>(d, CUDNN_ATTR_OPERATIONGRAPH_HANDLE))) {
            note("cudnnBackendFinalize(operation graph): the handle is not a live cudnnHandle_t");
            return CUDNN_STATUS_BAD_PARAM;
        }
        if (n != 1 || (((BackendDesc *)ds[0])->type != CUDNN_BACKEND_OPERATION_NORM_FORWARD_DESCRIPTOR &&
                       ((BackendDesc *)ds[0])->type != CUDNN_BACKEND_OPERATION_NORM_BACKWARD_DESCRIPTOR)) {
            note("cudnnBackendFinalize(operation graph): only one norm operation is emulated");
            return CUDNN_STATUS_NOT_SUPPORTED;
        }
        d->op = (BackendDesc *)ds[0];
        return CUDNN_STATUS_SUCCESS;
    case CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR:
        ds = attr<cudnnBackendDescriptor_t>(d, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH);
        if (!ds || !attr<cudnnBackendHeurMode_t>(d, CUDNN_ATTR_ENGINEHEUR_MODE)) {
            note("cudnnBackendFinalize(engine heuristics): graph and mode are required");
            return CUDNN_STATUS_BAD_PARAM;
        }
        d->op = ((BackendDesc *)ds[0])->op;
        return CUDNN_STATUS_SUCCESS;
    case CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR: {
        ds = attr<cudnnBackendDescriptor_t>(d, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG);
        const cudnnHandle_t *h = attr<cudnnHandle_t>(d, CUDNN_ATTR_EXECUTION_PLAN_HANDLE);
        if (!ds || !h || !live_dnn.count((void *)*h)) {
            note("cudnnBackendFinalize(execution plan): a live handle and an engine config are required");
            return CUDNN_STATUS_BAD_PARAM;
        }
        d->op = ((BackendDesc *)ds[0])->op;
        d->workspace = 64 + 8 * tensor_of(norm_roles(d->op).x).rows();
        return CUDNN_STATUS_SUCCESS;
    }
    case CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR: {
        int64_t nu = 0, np = 0;
        const int64_t *u = attr<int64_t>(d, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, &nu);
        const void *const *p = attr<void *>(d, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, &np);
        if (!u || !p || nu != np) {
            note("cudnnBackendFinalize(variant pack): unique ids and data pointers, as many of each");
            return CUDNN_STATUS_BAD_PARAM;
        }
        return CUDNN_STATUS_SUCCESS;
    }
    case CUDNN_BACKEND_ENGINECFG_DESCRIPTOR:
        note("cudnnBackendFinalize(engine config): only configs from the heuristics are emulated");
        return CUDNN_STATUS_NOT_SUPPORTED;
    default: return CUDNN_STATUS_NOT_SUPPORTED;
    }
}

/* A norm operation's tensors, copied at execute (the work may run after
 * the descriptors are gone, or again from a recorded graph). */
struct NormTensors {
    EmuTensor x, mean, inv, scale, bias, y, dy, dscale, dbias, dx;
};

static NormTensors norm_tensors(const NormRoles &r) {
    NormTensors t;
    for (auto pr : {std::make_pair(r.x, &t.x), std::make_pair(r.mean, &t.mean), std::make_pair(r.inv, &t.inv),
                    std::make_pair(r.scale, &t.scale), std::make_pair(r.bias, &t.bias), std::make_pair(r.y, &t.y),
                    std::make_pair(r.dy, &t.dy), std::make_pair(r.dscale, &t.dscale),
                    std::make_pair(r.dbias, &t.dbias), std::make_pair(r.dx, &t.dx)})
        if (pr.first) *pr.second = tensor_of(pr.first);
    return t;
}

/* The emulated engine: one layer norm, forward or backward. */
static void run_norm(const NormTensors &r, bool fwd, std::map<int64_t, void *> ptr, float eps) {
    const EmuTensor &x = r.x, &mean = r.mean, &inv = r.inv, &scale = r.scale;
    const int64_t rows = x.rows(), per = x.per_row();
    const float *xf = (const float *)ptr[x.uid], *sc = (const float *)ptr[scale.uid];
    float *mf = (float *)ptr[mean.uid], *vf = (float *)ptr[inv.uid];
    if (fwd) {
        const EmuTensor &bias = r.bias, &y = r.y;
        const float *bf = (const float *)ptr[bias.uid];
        float *yf = (float *)ptr[y.uid];
        for (int64_t i = 0; i < rows; i++) {
            double mu = 0.0, var = 0.0;
            for (int64_t k = 0; k < per; k++) mu += xf[x.at(i, k)];
            mu /= (double)per;
            for (int64_t k = 0; k < per; k++) var += ((double)xf[x.at(i, k)] - mu) * ((double)xf[x.at(i, k)] - mu);
            const double rs = 1.0 / sqrt(var / (double)per + (double)eps);
            for (int64_t k = 0; k < per; k++)
                yf[y.at(i, k)] = (float)((double)sc[scale.at(0, k)] * ((double)xf[x.at(i, k)] - mu) * rs +
                                         (double)bf[bias.at(0, k)]);
            mf[mean.at(i, 0)] = (float)mu;
            vf[inv.at(i, 0)] = (float)rs;
        }
        return;
    }
    const EmuTensor &dy = r.dy, &dx = r.dx, &ds = r.dscale, &db = r.dbias;
    const float *dyf = (const float *)ptr[dy.uid];
    float *dxf = (float *)ptr[dx.uid], *dsf = (float *)ptr[ds.uid], *dbf = (float *)ptr[db.uid];
    std::vector<double> dscale(per, 0.0), dbias(per, 0.0);
    for (int64_t i = 0; i < rows; i++) {
        const double mu = mf[mean.at(i, 0)], rs = vf[inv.at(i, 0)];
        double sg = 0.0, sgx = 0.0;
        for (int64_t k = 0; k < per; k++) {
            const double xhat = ((double)xf[x.at(i, k)] - mu) * rs, d = dyf[dy.at(i, k)];
            const double g = d * sc[scale.at(0, k)];
            sg += g, sgx += g * xhat;
            dscale[k] += d * xhat, dbias[k] += d;
        }
        for (int64_t k = 0; k < per; k++) {
            const double xhat = ((double)xf[x.at(i, k)] - mu) * rs;
            const double g = (double)dyf[dy.at(i, k)] * sc[scale.at(0, k)];
            dxf[dx.at(i, k)] = (float)(rs / (double)per * ((double)per * g - sg - xhat * sgx));
        }
    }
    for (int64_t k = 0; k < per; k++) dsf[ds.at(0, k)] = (float)dscale[k], dbf[db.at(0, k)] = (float)dbias[k];
}

} // namespace soma_emu

extern "C" {

cudnnStatus_t cudnnBackendCreateDescriptor(cudnnBackendDescriptorType_t type, cudnnBackendDescriptor_t *out) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    if (!out) return CUDNN_STATUS_BAD_PARAM;
    bool known = type == T(ENGINECFG);
    for (const AttrSpec &s : kAttrs) known = known || s.desc == type;
    if (!known) {
        note("cudnnBackendCreateDescriptor: descriptor type %d is not emulated", (int)type);
        return CUDNN_STATUS_NOT_SUPPORTED;
    }
    BackendDesc *d = new BackendDesc();
    d->type = type;
    live_backend.insert(d);
    *out = d;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBackendDestroyDescriptor(cudnnBackendDescriptor_t desc) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    BackendDesc *d = live_desc(desc);
    if (!d) {
        note("cudnnBackendDestroyDescriptor: %p is not a live descriptor", desc);
        return CUDNN_STATUS_BAD_PARAM;
    }
    live_backend.erase(d);
    delete d;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBackendSetAttribute(cudnnBackendDescriptor_t desc, cudnnBackendAttributeName_t name,
                                       cudnnBackendAttributeType_t type, int64_t count, const void *elements) {
    const char *caller = "cudnnBackendSetAttribute";
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    BackendDesc *d = live_desc(desc);
    if (!d) {
        note("%s: %p is not a live descriptor", caller, desc);
        return CUDNN_STATUS_BAD_PARAM;
    }
    if (d->finalized) {
        note("%s: attribute %d set on a finalized descriptor", caller, (int)name);
        return CUDNN_STATUS_BAD_PARAM;
    }
    const AttrSpec *s = attr_spec(d->type, name);
    if (!s) {
        note("%s: descriptor type %d has no attribute %d", caller, (int)d->type, (int)name);
        return CUDNN_STATUS_BAD_PARAM;
    }
    if (type != s->type || count < s->min_count || count > s->max_count || (count > 0 && !elements)) {
        note("%s: attribute %d given as type %d x %lld (wants type %d x %lld..%lld)", caller, (int)name,
             (int)type, (long long)count, (int)s->type, (long long)s->min_count, (long long)s->max_count);
        return CUDNN_STATUS_BAD_PARAM;
    }
    if (type == CUDNN_TYPE_BACKEND_DESCRIPTOR)
        for (int64_t i = 0; i < count; i++) {
            BackendDesc *e = live_desc(((const cudnnBackendDescriptor_t *)elements)[i]);
            if (!e || !e->finalized || (s->elem_desc >= 0 && (int)e->type != s->elem_desc)) {
                note("%s: attribute %d element %lld is not a finalized descriptor of the right type",
                     caller, (int)name, (long long)i);
                return CUDNN_STATUS_BAD_PARAM;
            }
        }
    const size_t bytes = attr_elem_size(type) * (size_t)count;
    BackendAttr a{type, std::vector<char>((const char *)elements, (const char *)elements + bytes), count};
    d->attrs[(int)name] = a;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBackendFinalize(cudnnBackendDescriptor_t desc) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    BackendDesc *d = live_desc(desc);
    if (!d) {
        note("cudnnBackendFinalize: %p is not a live descriptor", desc);
        return CUDNN_STATUS_BAD_PARAM;
    }
    if (d->finalized) {
        note("cudnnBackendFinalize: finalized twice");
        return CUDNN_STATUS_BAD_PARAM;
    }
    cudnnStatus_t st = finalize_backend(d);
    d->finalized = st == CUDNN_STATUS_SUCCESS;
    return st;
}

cudnnStatus_t cudnnBackendGetAttribute(cudnnBackendDescriptor_t const desc, cudnnBackendAttributeName_t name,
                                       cudnnBackendAttributeType_t type, int64_t requested, int64_t *count,
                                       void *elements) {
    const char *caller = "cudnnBackendGetAttribute";
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    BackendDesc *d = live_desc(desc);
    if (!d || !d->finalized || !count || requested < 0 || (requested > 0 && !elements)) {
        note("%s: needs a live, finalized descriptor and room for what is asked", caller);
        return CUDNN_STATUS_BAD_PARAM;
    }
    if (d->type == T(ENGINEHEUR) && name == CUDNN_ATTR_ENGINEHEUR_RESULTS &&
        type == CUDNN_TYPE_BACKEND_DESCRIPTOR) {
        *count = no_engine ? 0 : 1; /* one emulated engine */
        if (requested == 0 || no_engine) return CUDNN_STATUS_SUCCESS;
        /* filled into engine configs the caller created */
        BackendDesc *cfg = live_desc(((cudnnBackendDescriptor_t *)elements)[0]);
        if (!cfg || cfg->type != T(ENGINECFG) || cfg->finalized) {
            note("%s(ENGINEHEUR_RESULTS): the elements must be new engine config descriptors", caller);
            return CUDNN_STATUS_BAD_PARAM;
        }
        cfg->op = d->op;
        cfg->finalized = true;
        return CUDNN_STATUS_SUCCESS;
    }
    if (d->type == T(EXECUTION_PLAN) && name == CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE &&
        type == CUDNN_TYPE_INT64 && requested >= 1) {
        *count = 1;
        *(int64_t *)elements = d->workspace;
        return CUDNN_STATUS_SUCCESS;
    }
    note("%s: attribute %d of descriptor type %d (as type %d) is not emulated", caller, (int)name,
         (int)d->type, (int)type);
    return CUDNN_STATUS_NOT_SUPPORTED;
}

cudnnStatus_t cudnnBackendExecute(cudnnHandle_t handle, cudnnBackendDescriptor_t plan_desc,
                                  cudnnBackendDescriptor_t pack_desc) {
    const char *caller = "cudnnBackendExecute";
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    if (!live_dnn.count(handle)) return CUDNN_STATUS_NOT_INITIALIZED;
    BackendDesc *plan = live_desc(plan_desc), *pack = live_desc(pack_desc);
    if (!plan || plan->type != T(EXECUTION_PLAN) || !plan->finalized || !pack ||
        pack->type != T(VARIANT_PACK) || !pack->finalized) {
        note("%s: needs a finalized execution plan and a finalized variant pack", caller);
        return CUDNN_STATUS_BAD_PARAM;
    }
    int64_t n = 0;
    const int64_t *uids = attr<int64_t>(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, &n);
    void *const *ptrs = attr<void *>(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS);
    const NormRoles r = norm_roles(plan->op);
    const bool fwd = plan->op->type == T(OPERATION_NORM_FORWARD);
    std::map<int64_t, EmuTensor> declared;
    for (const BackendDesc *t : {r.x, r.mean, r.inv, r.scale, r.bias, r.eps, r.y, r.dy, r.dscale, r.dbias, r.dx})
        if (t) declared[tensor_of(t).uid] = tensor_of(t);
    std::map<int64_t, void *> ptr;
    for (int64_t i = 0; i < n; i++) {
        auto it = declared.find(uids[i]);
        if (it == declared.end()) {
            note("%s: the variant pack names uid %lld, which no tensor of the plan has", caller, (long long)uids[i]);
            return CUDNN_STATUS_BAD_PARAM;
        }
        if (ptr.count(uids[i])) {
            note("%s: uid %lld twice in the variant pack", caller, (long long)uids[i]);
            return CUDNN_STATUS_BAD_PARAM;
        }
        ptr[uids[i]] = ptrs[i];
    }
    float eps = 0.0f;
    for (const auto &kv : declared) {
        const EmuTensor &t = kv.second;
        if (!ptr.count(t.uid) || !ptr[t.uid]) {
            note("%s: tensor uid %lld has no pointer in the variant pack", caller, (long long)t.uid);
            return CUDNN_STATUS_BAD_PARAM;
        }
        void *p = ptr[t.uid];
        if (t.by_value) { /* a host value, read now */
            if (find_allocation(p, 0)) {
                note("%s: by-value tensor uid %lld points to device memory", caller, (long long)t.uid);
                return CUDNN_STATUS_BAD_PARAM;
            }
            eps = *(const float *)p;
            continue;
        }
        if ((uintptr_t)p % (uintptr_t)t.align) {
            note("%s: tensor uid %lld at %p is not aligned to its declared %lld bytes", caller,
                 (long long)t.uid, p, (long long)t.align);
            return CUDNN_STATUS_BAD_PARAM;
        }
        if (!device_span_ok(p, t.extent_bytes(), caller, "a tensor"))
            fatal("%s: tensor uid %lld reaches outside its device memory", caller, (long long)t.uid);
    }
    void *const *ws = attr<void *>(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE);
    if (plan->workspace > 0 && (!ws || !*ws || !device_span_ok(*ws, (size_t)plan->workspace, caller, "the workspace"))) {
        note("%s: the plan needs %lld bytes of device workspace", caller, (long long)plan->workspace);
        return CUDNN_STATUS_BAD_PARAM;
    }
    if (fwd && !(eps >= 0.0f)) {
        note("%s: epsilon %g is negative or NaN", caller, (double)eps);
        return CUDNN_STATUS_BAD_PARAM;
    }
    if (stream_device(handle->stream, caller) < 0) return CUDNN_STATUS_EXECUTION_FAILED;
    /* the descriptors may be destroyed before the work runs: copies */
    const NormTensors tensors = norm_tensors(r);
    enqueue(handle->stream, caller, [tensors, fwd, ptr, eps] { run_norm(tensors, fwd, ptr, eps); }, true);
    return CUDNN_STATUS_SUCCESS;
}

void soma_emu_cudnn_offer_no_engine(int on) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    no_engine = on != 0;
}

} /* extern "C" */
#undef T
