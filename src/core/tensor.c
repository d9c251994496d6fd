/* tensor.c: creating, viewing, freeing and copying tensors. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "core/device_internal.h"
#include "core/error.h"

/* Largest element count whose byte size fits in size_t and int64 indexing. */
#define MAX_NUMEL (INT64_MAX / (int64_t)sizeof(float) / 4)

static soma_status check_dims(const char *api, int64_t rows, int64_t cols) {
    if (rows < 1 || cols < 1)
        return soma_fail(SOMA_ERR_SHAPE, "%s: shape %lldx%lld is empty (rows and cols must be >= 1)",
                         api, (long long)rows, (long long)cols);
    if (rows > MAX_NUMEL / cols)
        return soma_fail(SOMA_ERR_SHAPE, "%s: shape %lldx%lld has too many elements", api,
                         (long long)rows, (long long)cols);
    return SOMA_OK;
}

static soma_status create(const char *api, soma_device *device, int64_t rows, int64_t cols,
                          int64_t guard, soma_tensor **out) {
    if (!out) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 'out' is NULL", api);
    *out = NULL;
    if (!device) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 'device' is NULL", api);
    SOMA_TRY(check_dims(api, rows, cols));
    soma_tensor *t = calloc(1, sizeof *t);
    if (!t) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
    soma_status status = soma_device_retain(device);
    if (status != SOMA_OK) {
        free(t);
        return status;
    }
    size_t bytes = (size_t)(rows * cols + 2 * guard) * sizeof(float);
    status = device->backend->alloc(device->ctx, bytes, &t->allocation);
    if (status != SOMA_OK) {
        char why[512]; /* soma_fail formats into the buffer soma_last_error reads */
        snprintf(why, sizeof why, "%s", soma_last_error());
        soma_device_release(device);
        free(t);
        return soma_fail(status, "%s: cannot allocate %lldx%lld floats (%.1f MiB) on %s: %s", api,
                         (long long)rows, (long long)cols, (double)bytes / (1 << 20),
                         device->name, why);
    }
    t->device = device;
    t->rows = rows;
    t->cols = cols;
    t->data = (float *)t->allocation + guard;
    *out = t;
    return SOMA_OK;
}

soma_status soma_tensor_create(soma_device *device, int64_t rows, int64_t cols, soma_tensor **out) {
    return create("soma_tensor_create", device, rows, cols, 0, out);
}

soma_status soma_tensor_create_guarded(soma_device *device, int64_t rows, int64_t cols,
                                       int64_t guard, soma_tensor **out) {
    SOMA_TRY(create("soma_tensor_create_guarded", device, rows, cols, guard, out));
    size_t total = (size_t)(rows * cols + 2 * guard);
    uint32_t *pattern = malloc(total * sizeof *pattern);
    if (!pattern) {
        soma_tensor_free(*out);
        *out = NULL;
        return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "soma_tensor_create_guarded: out of host memory");
    }
    for (size_t i = 0; i < total; i++) pattern[i] = SOMA_GUARD_BITS;
    soma_status status = device->backend->upload(device->ctx, (*out)->allocation, pattern,
                                                 total * sizeof *pattern);
    free(pattern);
    if (status != SOMA_OK) {
        soma_tensor_free(*out);
        *out = NULL;
    }
    return status;
}

soma_status soma_tensor_guards_intact(const soma_tensor *t, int64_t guard, int *intact) {
    size_t total = (size_t)(t->rows * t->cols + 2 * guard);
    uint32_t *host = malloc(total * sizeof *host);
    if (!host)
        return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "soma_tensor_guards_intact: out of host memory");
    soma_status status = t->device->backend->download(t->device->ctx, host, t->allocation,
                                                      total * sizeof *host);
    *intact = 1;
    for (size_t i = 0; status == SOMA_OK && i < (size_t)guard; i++)
        if (host[i] != SOMA_GUARD_BITS || host[total - 1 - i] != SOMA_GUARD_BITS) *intact = 0;
    free(host);
    return status;
}

soma_status soma_tensor_view_rows(soma_tensor *t, int64_t first, int64_t count, soma_tensor **out) {
    const char *api = "soma_tensor_view_rows";
    if (!out) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 'out' is NULL", api);
    *out = NULL;
    if (!t) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 't' is NULL", api);
    if (first < 0 || count < 1 || first > t->rows - count)
        return soma_fail(SOMA_ERR_SHAPE, "%s: rows [%lld, %lld) are not within the %lld rows of a %lldx%lld tensor",
                         api, (long long)first, (long long)(first + count), (long long)t->rows,
                         (long long)t->rows, (long long)t->cols);
    soma_tensor *v = calloc(1, sizeof *v);
    if (!v) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
    soma_status status = soma_device_retain(t->device); /* t holds one already */
    if (status != SOMA_OK) {
        free(v);
        return status;
    }
    v->device = t->device;
    v->rows = count;
    v->cols = t->cols;
    v->data = t->data + first * t->cols;
    v->view_of = t;
    *out = v;
    return SOMA_OK;
}

void soma_tensor_free(soma_tensor *t) {
    if (!t) return;
    if (t->allocation) t->device->backend->free(t->device->ctx, t->allocation);
    soma_device_release(t->device);
    free(t);
}

int64_t soma_tensor_rows(const soma_tensor *t) { return t ? t->rows : 0; }
int64_t soma_tensor_cols(const soma_tensor *t) { return t ? t->cols : 0; }
int64_t soma_tensor_numel(const soma_tensor *t) { return t ? t->rows * t->cols : 0; }
soma_device *soma_tensor_device(const soma_tensor *t) { return t ? t->device : NULL; }

static soma_status check_transfer(const char *api, const soma_tensor *t, const void *host,
                                  size_t count) {
    if (!t) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 't' is NULL", api);
    if (!host) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 'host' is NULL", api);
    if (count != (size_t)(t->rows * t->cols))
        return soma_fail(SOMA_ERR_SHAPE, "%s: count is %zu but the tensor is %lldx%lld = %lld elements",
                         api, count, (long long)t->rows, (long long)t->cols,
                         (long long)(t->rows * t->cols));
    return SOMA_OK;
}

soma_status soma_tensor_upload(soma_tensor *t, const float *host, size_t count) {
    SOMA_TRY(check_transfer("soma_tensor_upload", t, host, count));
    return t->device->backend->upload(t->device->ctx, t->data, host, count * sizeof(float));
}

soma_status soma_tensor_download(const soma_tensor *t, float *host, size_t count) {
    SOMA_TRY(check_transfer("soma_tensor_download", t, host, count));
    return t->device->backend->download(t->device->ctx, host, t->data, count * sizeof(float));
}

soma_status soma_tensor_copy(soma_tensor *dst, const soma_tensor *src) {
    const char *api = "soma_tensor_copy";
    if (!dst || !src)
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument '%s' is NULL", api, dst ? "src" : "dst");
    if (dst->rows != src->rows || dst->cols != src->cols)
        return soma_fail(SOMA_ERR_SHAPE, "%s: 'dst' is %lldx%lld but 'src' is %lldx%lld", api,
                         (long long)dst->rows, (long long)dst->cols, (long long)src->rows,
                         (long long)src->cols);
    if (dst->data == src->data) return SOMA_OK;
    size_t bytes = (size_t)(src->rows * src->cols) * sizeof(float);
    if (dst->device == src->device)
        return dst->device->backend->copy(dst->device->ctx, dst->data, src->data, bytes);
    /* Across devices: through host memory (not a hot path; a pinned staging
     * buffer would make it faster). */
    float *staging = malloc(bytes);
    if (!staging) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
    soma_status status = src->device->backend->download(src->device->ctx, staging, src->data, bytes);
    if (status == SOMA_OK)
        status = dst->device->backend->upload(dst->device->ctx, dst->data, staging, bytes);
    free(staging);
    return status;
}
