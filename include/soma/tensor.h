/* soma/tensor.h: float32 matrices on a device.
 *
 * A tensor is a row-major rows x cols float32 matrix owned by one device.
 * Host memory is reached only through upload/download; ops never mix devices.
 * Shapes are at least 1x1: a zero-size tensor is refused at creation. */
#ifndef SOMA_TENSOR_H
#define SOMA_TENSOR_H

#include <stddef.h>
#include <stdint.h>
#include "soma/device.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct soma_tensor soma_tensor;

soma_status soma_tensor_create(soma_device *device, int64_t rows, int64_t cols, soma_tensor **out);
/* A view of rows [first, first+count) of t: shares t's memory, owns nothing,
 * and must be freed (before t) with soma_tensor_free. */
soma_status soma_tensor_view_rows(soma_tensor *t, int64_t first, int64_t count, soma_tensor **out);
void soma_tensor_free(soma_tensor *t); /* NULL is allowed */

int64_t soma_tensor_rows(const soma_tensor *t);
int64_t soma_tensor_cols(const soma_tensor *t);
int64_t soma_tensor_numel(const soma_tensor *t);
soma_device *soma_tensor_device(const soma_tensor *t);

/* Host <-> device copies of all rows*cols elements; count must equal numel.
 * download waits for queued work on the device to finish. */
soma_status soma_tensor_upload(soma_tensor *t, const float *host, size_t count);
soma_status soma_tensor_download(const soma_tensor *t, float *host, size_t count);
/* dst = src; same shape; the devices may differ. */
soma_status soma_tensor_copy(soma_tensor *dst, const soma_tensor *src);

/* Counter-based random numbers (Philox4x32-10): element i of a fill with
 * state {seed, offset} depends only on (seed, offset, i), so every backend
 * produces the same numbers bit for bit. Each fill uses one offset and
 * advances it by one, so successive fills draw fresh numbers and a saved
 * {seed, offset} pair resumes the sequence exactly. */
typedef struct soma_rng {
    uint64_t seed;
    uint64_t offset;
} soma_rng;

soma_rng soma_rng_make(uint64_t seed);

soma_status soma_tensor_fill(soma_tensor *t, float value);
/* Uniform on [lo, hi): lo + (hi - lo) * u with u a multiple of 2^-24 in [0,1). */
soma_status soma_tensor_fill_uniform(soma_tensor *t, soma_rng *rng, float lo, float hi);
/* Normal(mean, stddev^2) by the Box-Muller transform. */
soma_status soma_tensor_fill_normal(soma_tensor *t, soma_rng *rng, float mean, float stddev);

#ifdef __cplusplus
}
#endif
#endif
