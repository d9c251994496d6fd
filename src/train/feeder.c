/* feeder.c: mini-batches from host datasets to device tensors (feeder.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/device_internal.h"
#include "core/error.h"
#include "core/step_ops.h"
#include "cpu/cpu_parallel.h" /* soma_cpu_parallel_for: host threads */
#include "train/feeder.h"

/* A gathered float (a cache miss per 16) against one float of an
 * elementwise op: 8 puts the second thread in at 4096 floats per batch,
 * as the 16384 of the measured OpenMP loop it replaces did at half a team. */
#define GATHER_COST 8

static int is_class(float v, int64_t classes) {
    return v >= 0.0f && v < (float)classes && v == floorf(v);
}

/* Whether the targets are class indices the loss must expand to one-hot. */
static int wants_one_hot(const soma_dataset *ds, soma_loss loss, int64_t outputs) {
    return loss != SOMA_LOSS_XENT && soma_dataset_targets(ds) == 1 && outputs > 1;
}

soma_status soma_check_targets(const char *api, const soma_dataset *ds, soma_loss loss, int64_t outputs) {
    int64_t rows = soma_dataset_rows(ds), cols = soma_dataset_targets(ds);
    const float *t = soma_dataset_target_data_const(ds);
    if (loss == SOMA_LOSS_XENT || wants_one_hot(ds, loss, outputs)) {
        if (cols != 1)
            return soma_fail(SOMA_ERR_SHAPE, "%s: cross-entropy needs one target column of class indices, the data has %lld",
                             api, (long long)cols);
        for (int64_t i = 0; i < rows; i++)
            if (!is_class(t[i], outputs))
                return soma_fail(SOMA_ERR_INVALID_ARG,
                                 "%s: the target of row %lld is %g, not a class index in [0, %lld) "
                                 "for a model with %lld outputs",
                                 api, (long long)soma_dataset_source_row(ds, i), t[i], (long long)outputs,
                                 (long long)outputs);
        return SOMA_OK;
    }
    if (cols != outputs)
        return soma_fail(SOMA_ERR_SHAPE, "%s: the data has %lld target columns but the model has %lld outputs",
                         api, (long long)cols, (long long)outputs);
    if (loss == SOMA_LOSS_BCE)
        for (int64_t i = 0; i < rows * cols; i++)
            if (!(t[i] >= 0.0f && t[i] <= 1.0f))
                return soma_fail(SOMA_ERR_INVALID_ARG, "%s: binary cross-entropy target %g at row %lld is not in [0, 1]",
                                 api, t[i], (long long)soma_dataset_source_row(ds, i / cols));
    return SOMA_OK;
}

void soma_feeder_free(soma_feeder *f) {
    if (f->staging) soma_device_staging_free(soma_tensor_device(f->x), f->staging);
    soma_tensor_free(f->xs[1]); /* set 0 is x, y and their views, freed below */
    soma_tensor_free(f->ys[1]);
    soma_tensor_free(f->xs_part[1]);
    soma_tensor_free(f->ys_part[1]);
    soma_tensor_free(f->x_all);
    soma_tensor_free(f->y_all);
    soma_tensor_free(f->order);
    free(f->order_host);
    soma_tensor_free(f->x_part);
    soma_tensor_free(f->y_part);
    soma_tensor_free(f->x);
    soma_tensor_free(f->y);
    free(f->x_host);
    free(f->y_host);
    memset(f, 0, sizeof *f);
}

soma_status soma_feeder_init(soma_feeder *f, soma_device *dev, const soma_dataset *ds, int64_t batch,
                             soma_loss loss, int64_t outputs) {
    int64_t rows = soma_dataset_rows(ds), b = batch < rows ? batch : rows;
    return soma_feeder_init_shard(f, dev, ds, b, rows % b, loss, outputs);
}

soma_status soma_feeder_init_shard(soma_feeder *f, soma_device *dev, const soma_dataset *ds, int64_t batch,
                                   int64_t part, soma_loss loss, int64_t outputs) {
    memset(f, 0, sizeof *f);
    f->ds = ds;
    f->batch = batch;
    f->part = part;
    f->features = soma_dataset_features(ds);
    f->one_hot = wants_one_hot(ds, loss, outputs);
    f->target_cols = loss == SOMA_LOSS_XENT ? 1 : outputs;
    f->x_host = malloc((size_t)(f->batch * f->features) * sizeof(float));
    f->y_host = malloc((size_t)(f->batch * f->target_cols) * sizeof(float));
    soma_status st = SOMA_OK;
    if (!f->x_host || !f->y_host) st = soma_fail(SOMA_ERR_OUT_OF_MEMORY, "feeder: out of host memory");
    if (st == SOMA_OK) st = soma_tensor_create(dev, f->batch, f->features, &f->x);
    if (st == SOMA_OK) st = soma_tensor_create(dev, f->batch, f->target_cols, &f->y);
    if (st == SOMA_OK && part) st = soma_tensor_view_rows(f->x, 0, part, &f->x_part);
    if (st == SOMA_OK && part) st = soma_tensor_view_rows(f->y, 0, part, &f->y_part);
    if (st != SOMA_OK) soma_feeder_free(f);
    return st;
}

typedef struct gather {
    const soma_feeder *f;
    const int64_t *order;
    int64_t first;
    float *x_host, *y_host; /* where the batch's rows go */
} gather;

/* Rows [begin, end) of the batch into the staging buffers. */
static void gather_rows(const void *v, int64_t begin, int64_t end) {
    const gather *g = v;
    const soma_feeder *f = g->f;
    float *x_host = g->x_host, *y_host = g->y_host;
    const float *features = soma_dataset_feature_data_const(f->ds);
    const float *targets = soma_dataset_target_data_const(f->ds);
    int64_t in_cols = soma_dataset_targets(f->ds);
    for (int64_t r = begin; r < end; r++) {
        int64_t row = g->order ? g->order[g->first + r] : g->first + r;
        memcpy(x_host + r * f->features, features + row * f->features, (size_t)f->features * sizeof(float));
        float *dst = y_host + r * f->target_cols;
        if (f->one_hot) {
            memset(dst, 0, (size_t)f->target_cols * sizeof(float));
            dst[(int64_t)targets[row]] = 1.0f;
        } else {
            memcpy(dst, targets + row * in_cols, (size_t)in_cols * sizeof(float));
        }
    }
}

soma_status soma_feeder_load(soma_feeder *f, const int64_t *order, int64_t first, int64_t count,
                             soma_tensor **x, soma_tensor **y) {
    /* Shuffled rows come from all over the dataset, mostly from memory: two
     * threads keep twice as many cache misses in flight. The host's thread
     * helper (cpu_parallel.h) also notices a busy machine, where waiting for
     * a second thread would cost a scheduler slice per batch (2.5 s of
     * gathering per MNIST epoch instead of 0.04 s, measured on 2 busy
     * vCPUs), and gathers on one thread then. */
    gather g = {.f = f, .order = order, .first = first, .x_host = f->x_host, .y_host = f->y_host};
    soma_cpu_parallel_for(count, f->features * GATHER_COST, 1, gather_rows, &g);
    *x = count == f->batch ? f->x : f->x_part;
    *y = count == f->batch ? f->y : f->y_part;
    SOMA_TRY(soma_tensor_upload(*x, f->x_host, (size_t)(count * f->features)));
    return soma_tensor_upload(*y, f->y_host, (size_t)(count * f->target_cols));
}

uint64_t soma_feeder_resident_bytes(const soma_feeder *f) {
    uint64_t rows = (uint64_t)soma_dataset_rows(f->ds);
    return rows * (uint64_t)(f->features + f->target_cols + 1) * sizeof(float);
}

soma_status soma_feeder_make_resident(soma_feeder *f) {
    soma_device *dev = soma_tensor_device(f->x);
    int64_t rows = soma_dataset_rows(f->ds);
    if (rows >= ((int64_t)1 << 24))
        return soma_fail(SOMA_ERR_INVALID_ARG, "feeder: %lld rows are too many to keep on the device "
                         "(row indices must stay below 2^24)", (long long)rows);
    soma_status st = soma_tensor_create(dev, rows, f->features, &f->x_all);
    if (st == SOMA_OK) st = soma_tensor_upload(f->x_all, soma_dataset_feature_data_const(f->ds),
                                               (size_t)(rows * f->features));
    if (st == SOMA_OK) st = soma_tensor_create(dev, rows, f->target_cols, &f->y_all);
    if (st == SOMA_OK) st = soma_tensor_create(dev, 1, rows, &f->order);
    f->order_host = st == SOMA_OK ? malloc((size_t)rows * sizeof *f->order_host) : NULL;
    if (st == SOMA_OK && !f->order_host) st = soma_fail(SOMA_ERR_OUT_OF_MEMORY, "feeder: out of host memory");
    /* the targets as the loss takes them: a batch of them at a time through
     * the staging buffer, which expands classes to one-hot */
    for (int64_t first = 0; first < rows && st == SOMA_OK; first += f->batch) {
        int64_t count = rows - first < f->batch ? rows - first : f->batch;
        soma_tensor *part = NULL, *x, *y;
        st = soma_feeder_load(f, NULL, first, count, &x, &y);
        if (st == SOMA_OK) st = soma_tensor_view_rows(f->y_all, first, count, &part);
        if (st == SOMA_OK) st = soma_tensor_upload(part, f->y_host, (size_t)(count * f->target_cols));
        soma_tensor_free(part);
    }
    if (st != SOMA_OK) {
        soma_tensor_free(f->x_all);
        soma_tensor_free(f->y_all);
        soma_tensor_free(f->order);
        free(f->order_host);
        f->x_all = f->y_all = f->order = NULL;
        f->order_host = NULL;
    }
    return st;
}

soma_status soma_feeder_begin_epoch(soma_feeder *f, const int64_t *order) {
    if (!f->order) return SOMA_OK;
    int64_t rows = soma_dataset_rows(f->ds);
    for (int64_t i = 0; i < rows; i++) f->order_host[i] = (float)order[i];
    return soma_tensor_upload(f->order, f->order_host, (size_t)rows);
}

soma_status soma_feeder_stream(soma_feeder *f) {
    soma_device *dev = soma_tensor_device(f->x);
    if (!soma_device_has_staging(dev) || f->staging) return SOMA_OK;
    int64_t part = f->part;
    size_t bytes = (size_t)(f->batch * (f->features + f->target_cols)) * sizeof(float);
    soma_status st = soma_device_staging_create(dev, bytes, 2, &f->staging);
    if (st == SOMA_OK) st = soma_tensor_create(dev, f->batch, f->features, &f->xs[1]);
    if (st == SOMA_OK) st = soma_tensor_create(dev, f->batch, f->target_cols, &f->ys[1]);
    if (st == SOMA_OK && part) st = soma_tensor_view_rows(f->xs[1], 0, part, &f->xs_part[1]);
    if (st == SOMA_OK && part) st = soma_tensor_view_rows(f->ys[1], 0, part, &f->ys_part[1]);
    f->xs[0] = f->x, f->ys[0] = f->y, f->xs_part[0] = f->x_part, f->ys_part[0] = f->y_part;
    f->slot = 0;
    return st;
}

soma_status soma_feeder_done(soma_feeder *f) {
    if (!f->staging) return SOMA_OK;
    SOMA_TRY(soma_device_staging_release(soma_tensor_device(f->x), f->staging, f->slot));
    f->slot ^= 1;
    return SOMA_OK;
}

/* The streamed path: the batch gathered straight into a pinned slot. */
static soma_status take_streamed(soma_feeder *f, const int64_t *order, int64_t first, int64_t count,
                                 soma_tensor **x, soma_tensor **y) {
    soma_device *dev = soma_tensor_device(f->x);
    void *host;
    SOMA_TRY(soma_device_staging_acquire(dev, f->staging, f->slot, &host));
    gather g = {.f = f, .order = order, .first = first, .x_host = host,
                .y_host = (float *)host + count * f->features};
    soma_cpu_parallel_for(count, f->features * GATHER_COST, 1, gather_rows, &g);
    *x = count == f->batch ? f->xs[f->slot] : f->xs_part[f->slot];
    *y = count == f->batch ? f->ys[f->slot] : f->ys_part[f->slot];
    soma_tensor *both[2] = {*x, *y};
    return soma_device_staging_upload(dev, f->staging, f->slot, 2, both);
}

soma_status soma_feeder_take(soma_feeder *f, const soma_tensor *ctl, const int64_t *order, int64_t first,
                             int64_t count, soma_tensor **x, soma_tensor **y) {
    if (f->staging && !f->x_all) return take_streamed(f, order, first, count, x, y);
    if (!f->x_all) return soma_feeder_load(f, order, first, count, x, y);
    *x = count == f->batch ? f->x : f->x_part;
    *y = count == f->batch ? f->y : f->y_part;
    SOMA_TRY(soma_gather_rows(f->x_all, f->order, ctl, f->batch, *x));
    return soma_gather_rows(f->y_all, f->order, ctl, f->batch, *y);
}
