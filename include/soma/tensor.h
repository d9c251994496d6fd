/**
 * @file soma/tensor.h
 * @brief float32 matrices on a device, and the counter-based random numbers
 * that fill them.
 *
 * A tensor is a row-major rows x cols float32 matrix owned by one device.
 * Host memory is reached only through upload/download; ops never mix devices.
 * Shapes are at least 1x1: a zero-size tensor is refused at creation.
 */
#ifndef SOMA_TENSOR_H
#define SOMA_TENSOR_H

#include "soma/export.h"

#include <stddef.h>
#include <stdint.h>
#include "soma/device.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A rows x cols float32 matrix on one device (opaque). */
typedef struct soma_tensor soma_tensor;

/** Creates a rows x cols tensor on device (contents undefined until written).
 *  Both dimensions must be at least 1. */
SOMA_API soma_status soma_tensor_create(soma_device *device, int64_t rows, int64_t cols, soma_tensor **out);

/** A view of rows [first, first+count) of t: shares t's memory, owns nothing,
 *  and must be freed (before t) with soma_tensor_free(). */
SOMA_API soma_status soma_tensor_view_rows(soma_tensor *t, int64_t first, int64_t count, soma_tensor **out);

/** Frees a tensor or a view. NULL is allowed. */
SOMA_API void soma_tensor_free(soma_tensor *t);

/** The number of rows. */
SOMA_API int64_t soma_tensor_rows(const soma_tensor *t);
/** The number of columns. */
SOMA_API int64_t soma_tensor_cols(const soma_tensor *t);
/** The number of elements, rows * cols. */
SOMA_API int64_t soma_tensor_numel(const soma_tensor *t);
/** The device the tensor lives on. */
SOMA_API soma_device *soma_tensor_device(const soma_tensor *t);

/** Copies count floats from host memory into t; count must equal its numel. */
SOMA_API soma_status soma_tensor_upload(soma_tensor *t, const float *host, size_t count);
/** Copies all of t into host memory; count must equal its numel. Waits for
 *  the work queued on the device to finish first. */
SOMA_API soma_status soma_tensor_download(const soma_tensor *t, float *host, size_t count);
/** dst = src; same shape; the devices may differ. */
SOMA_API soma_status soma_tensor_copy(soma_tensor *dst, const soma_tensor *src);

/** The state of a counter-based random stream (Philox4x32-10).
 *
 *  Element i of a fill with state {seed, offset} depends only on (seed,
 *  offset, i), so every backend produces the same numbers bit for bit. Each
 *  fill uses one offset and advances it by one, so successive fills draw fresh
 *  numbers and a saved {seed, offset} pair resumes the sequence exactly. */
typedef struct soma_rng {
    uint64_t seed;   /**< the key of the stream */
    uint64_t offset; /**< which fill of the stream comes next */
} soma_rng;

/** A stream at offset 0 of seed. */
SOMA_API soma_rng soma_rng_make(uint64_t seed);

/** Sets every element of t to value. */
SOMA_API soma_status soma_tensor_fill(soma_tensor *t, float value);
/** Uniform on [lo, hi): lo + (hi - lo) * u with u a multiple of 2^-24 in
 *  [0,1). Advances rng->offset by one. */
SOMA_API soma_status soma_tensor_fill_uniform(soma_tensor *t, soma_rng *rng, float lo, float hi);
/** Normal(mean, stddev^2) by the Box-Muller transform. Advances rng->offset
 *  by one. */
SOMA_API soma_status soma_tensor_fill_normal(soma_tensor *t, soma_rng *rng, float mean, float stddev);

#ifdef __cplusplus
}
#endif
#endif
