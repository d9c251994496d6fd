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
 * what PyTorch gets from it on GPUs; alpha/beta blend as for softmax. */
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
