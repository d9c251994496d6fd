/* kernels.h: the CUDA kernels of soma, as C-callable launch functions.
 *
 * Every launcher queues its kernel(s) on `stream` and returns
 * cudaGetLastError(), so a bad launch configuration is reported at once (an
 * error inside a running kernel shows up at the next synchronisation).
 * Matrices are row-major float32 on the device; element counts and
 * dimensions are int64_t; every function accepts any size from 1 up.
 * The caller (src/cuda) has made the right device current. */
#ifndef SOMA_KERNELS_H
#define SOMA_KERNELS_H

#include <stdint.h>
#include <cuda_runtime_api.h> /* cudaStream_t, cudaError_t */

#ifdef __cplusplus
extern "C" {
#endif

/* Size, in floats, of the scratch buffer that the reductions write one
 * partial sum per block into; the caller owns it (one per device context,
 * used in stream order). */
#define SOMA_CUDA_MAX_PARTIALS 1024

/* ---- elementwise.cu ------------------------------------------------------ */

/* y = f(x) for activation `act` (a soma_activation), slope for leaky_relu. */
cudaError_t soma_cuda_act_forward(int act, float param, const float *x, float *y, int64_t count,
                                  cudaStream_t stream);
/* dx = dy * f'(x) (y = f(x) given for sigmoid/tanh). */
cudaError_t soma_cuda_act_backward(int act, float param, const float *x, const float *y,
                                   const float *dy, float *dx, int64_t count,
                                   cudaStream_t stream);
/* y[i,j] = x[i,j] + bias[j] for an m x n x. */
cudaError_t soma_cuda_bias_add(const float *x, const float *bias, float *y, int64_t m, int64_t n,
                               cudaStream_t stream);
/* z[i,j] = x[i,j] + bias[j], a[i,j] = f(z[i,j]) for an m x n x (z may be x). */
cudaError_t soma_cuda_bias_act(int act, float param, const float *x, const float *bias, float *z,
                               float *a, int64_t m, int64_t n, cudaStream_t stream);
/* y = alpha x */
cudaError_t soma_cuda_scale(float alpha, const float *x, float *y, int64_t count,
                            cudaStream_t stream);
/* y = y + alpha x */
cudaError_t soma_cuda_axpy(float alpha, const float *x, float *y, int64_t count,
                           cudaStream_t stream);
/* y = value */
cudaError_t soma_cuda_fill(float value, float *y, int64_t count, cudaStream_t stream);

/* ---- random.cu (Philox4x32-10, bit-identical with the CPU backend) ------- */

cudaError_t soma_cuda_fill_uniform(uint64_t seed, uint64_t offset, float lo, float hi, float *y,
                                   int64_t count, cudaStream_t stream);
cudaError_t soma_cuda_fill_normal(uint64_t seed, uint64_t offset, float mean, float stddev,
                                  float *y, int64_t count, cudaStream_t stream);
/* y = x * [u >= p] / (1 - p), u the uniform [0, 1) fill of {seed, offset};
 * forward and backward alike (y may alias x). */
cudaError_t soma_cuda_dropout(uint64_t seed, uint64_t offset, float p, const float *x, float *y,
                              int64_t count, cudaStream_t stream);
/* For an m x n x: z = x + bias, h = f(z) [u >= p] / (1 - p) (u element
 * i n + j of {seed, offset}), the bits [u >= p] into mask (m rows of
 * ceil(n/32) words, bit j % 32 of word j / 32), alive[j] = 1 where some
 * z[i,j] > 0 or alive[j] != 0, else 0. z or h may alias x. With a step
 * control block ctl (else NULL), the offset is offset + (t - 1) stride at
 * its step t (core/step_ctl.h). */
cudaError_t soma_cuda_bias_act_dropout(int act, float param, float p, uint64_t seed,
                                       uint64_t offset, const float *ctl, int64_t stride,
                                       const float *x, const float *bias,
                                       float *h, float *z, uint32_t *mask, float *alive,
                                       int64_t m, int64_t n, cudaStream_t stream);
/* dx = (mask bit ? dh / (1 - p) : 0) f'(z) for an m x n z (dx may alias z or dh). */
cudaError_t soma_cuda_bias_act_dropout_backward(int act, float param, float p, const float *z,
                                                const uint32_t *mask, const float *dh, float *dx,
                                                int64_t m, int64_t n, cudaStream_t stream);

/* ---- softmax.cu (row-wise over m x n) ------------------------------------ */

/* log_output 0: y = softmax(x); 1: y = log_softmax(x). */
cudaError_t soma_cuda_softmax(int log_output, const float *x, float *y, int64_t m, int64_t n,
                              cudaStream_t stream);
/* log_output 0: dx = y (dy - sum(dy y));  1: dx = dy - exp(y) sum(dy). */
cudaError_t soma_cuda_softmax_backward(int log_output, const float *y, const float *dy, float *dx,
                                       int64_t m, int64_t n, cudaStream_t stream);

/* ---- loss.cu (losses write out[0]; gradients are of the mean loss) ------- */

cudaError_t soma_cuda_mse_loss(const float *pred, const float *target, int64_t count,
                               float *partials, float *out, cudaStream_t stream);
cudaError_t soma_cuda_mse_backward(const float *pred, const float *target, float *dpred,
                                   int64_t count, cudaStream_t stream);
cudaError_t soma_cuda_bce_logits_loss(const float *logits, const float *target, int64_t count,
                                      float *partials, float *out, cudaStream_t stream);
cudaError_t soma_cuda_bce_logits_backward(const float *logits, const float *target,
                                          float *dlogits, int64_t count, cudaStream_t stream);
/* logits m x n, labels m x 1 (float-coded integers). */
cudaError_t soma_cuda_softmax_xent_loss(const float *logits, const float *labels, int64_t m,
                                        int64_t n, float *partials, float *out,
                                        cudaStream_t stream);
cudaError_t soma_cuda_softmax_xent_backward(const float *logits, const float *labels,
                                            float *dlogits, int64_t m, int64_t n,
                                            cudaStream_t stream);

/* ---- reduce.cu ----------------------------------------------------------- */

/* out[0] = sum of x[0..count) / divisor (1 for sum, count for mean). */
cudaError_t soma_cuda_sum(const float *x, int64_t count, double divisor, float *partials,
                          float *out, cudaStream_t stream);
/* out[0] = sum of x[i]^2 over x[0..count). */
cudaError_t soma_cuda_sum_squares(const float *x, int64_t count, float *partials, float *out,
                                  cudaStream_t stream);
/* dbias[j] = sum_i dy[i,j] for an m x n dy. */
cudaError_t soma_cuda_bias_grad(const float *dy, float *dbias, int64_t m, int64_t n,
                                cudaStream_t stream);
/* flags[j] = (flags[j] != 0 || x[i,j] > 0 for some i) ? 1 : 0 for an m x n x. */
cudaError_t soma_cuda_active_columns(const float *x, float *flags, int64_t m, int64_t n,
                                     cudaStream_t stream);
/* out[i] = the first j with x[i,j] maximal, as a float. */
cudaError_t soma_cuda_row_argmax(const float *x, float *out, int64_t m, int64_t n,
                                 cudaStream_t stream);
/* out[0] = number of rows whose argmax equals labels[i]. */
cudaError_t soma_cuda_correct_count(const float *x, const float *labels, int64_t m, int64_t n,
                                    float *partials, float *out, cudaStream_t stream);
/* out[0] = (sum of partials[0..count)) / divisor: the second pass of every
 * two-pass reduction (count <= SOMA_CUDA_MAX_PARTIALS). */
cudaError_t soma_cuda_finish_partials(const float *partials, int count, double divisor,
                                      float *out, cudaStream_t stream);

/* ---- optim.cu (in place on the outputs; none aliases another) ---------- */

/* g' = g + wd w;  v = momentum v + g';  w -= lr (nesterov ? g' + momentum v : v) */
cudaError_t soma_cuda_sgd_update(float lr, float momentum, float weight_decay, int nesterov,
                                 const float *ctl, const float *g, float *w, float *v,
                                 int64_t count, cudaStream_t stream);
/* g' = g + wd w unless decoupled (then w -= lr wd w);  m = b1 m + (1-b1) g';
 * v = b2 v + (1-b2) g'^2;  w -= lr (m bc1) / (sqrt(v bc2) + eps), bc = 1/(1-b^t) */
cudaError_t soma_cuda_adam_update(float lr, float beta1, float beta2, float eps,
                                  float weight_decay, int decoupled, float bias_correction1,
                                  float bias_correction2, const float *ctl, const float *g,
                                  float *w, float *m, float *v, int64_t count,
                                  cudaStream_t stream);

/* ---- step.cu: the training step's control ops (core/step_ctl.h) --------- */

/* dst[r] = src[order[clock * stride + r]], r < rows; src rows of `cols` floats */
cudaError_t soma_cuda_gather_rows(const float *src, const float *order, const float *ctl,
                                  int64_t stride, float *dst, int64_t rows, int64_t cols,
                                  cudaStream_t stream);
/* the schedule's row at the block's clock into the block; clock + 1 */
cudaError_t soma_cuda_step_begin(const float *schedule, float *ctl, cudaStream_t stream);
/* sum += rows loss; a loss that is not finite marks the block's step bad */
cudaError_t soma_cuda_watch_loss(const float *loss, float rows, float *sum, float *ctl,
                                 cudaStream_t stream);
/* the block's gradient scale from k sums of squares and the clip norm */
cudaError_t soma_cuda_clip_scale(const float *parts, int64_t k, float clip, float *ctl,
                                 cudaStream_t stream);

/* ---- epilogue.cu (aux rows in cuBLASLt's layout: see op_list.h)  ------ */

/* h holds x w^T (m x n); adds bias, applies ReLU (relu) or gelu_tanh, and
 * writes the aux rows (aux_cols 32-bit mask words or floats per row). */
cudaError_t soma_cuda_bias_act_aux(int relu, float *h, const float *bias, float *aux, int64_t m,
                                   int64_t n, int64_t aux_cols, cudaStream_t stream);
/* dz (m x n) *= f'(z), from the mask bits (relu) or z in aux. */
cudaError_t soma_cuda_act_aux_backward(int relu, float *dz, const float *aux, int64_t m, int64_t n,
                                       int64_t aux_cols, cudaStream_t stream);

/* ---- round.cu (core/precision.h: to nearest, ties to even) ------------ */

/* y = x rounded to TF32 (float32 with the 13 low mantissa bits zero) */
cudaError_t soma_cuda_round_tf32(const float *x, float *y, int64_t count, cudaStream_t stream);
/* y = x rounded to bfloat16 (CUDA_R_16BF bit patterns) */
cudaError_t soma_cuda_round_bf16(const float *x, uint16_t *y, int64_t count, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif
