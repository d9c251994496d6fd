/* dist_train.c: what the training loop asks of the ranks (dist_internal.h):
 * its shard of each batch, a dropout stream per rank, the gradient average
 * of every step and the epoch's totals. In a single process each is a
 * no-op that costs a comparison: no copy, no host synchronisation. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "dist/dist_internal.h"
#include "io/crc32.h"
#include "soma/device.h"
#include "soma/tensor.h"

static int several(const soma_dist *d) { return d && d->size > 1 && d->comm; }

soma_status soma_dist_check_batch(const soma_dist *d, int64_t batch, int64_t rows) {
    int n = soma_dist_size(d);
    if (n == 1) return SOMA_OK;
    int64_t b = batch < rows ? batch : rows, part = rows % b;
    if (b % n)
        return soma_fail(SOMA_ERR_INVALID_ARG, "soma_train: the batch of %lld rows does not split over %d ranks "
                         "(the batch is global: give a multiple of %d)", (long long)b, n, n);
    if (part > 0 && part < n)
        return soma_fail(SOMA_ERR_INVALID_ARG, "soma_train: the last batch of an epoch (%lld rows %% %lld = %lld "
                         "rows) cannot give each of %d ranks a row; choose a batch that divides the rows or leaves "
                         "at least %d", (long long)rows, (long long)b, (long long)part, n, n);
    return SOMA_OK;
}

soma_shard soma_dist_shard(const soma_dist *d, int64_t batch, int64_t rows) {
    int64_t r = soma_dist_rank(d), n = soma_dist_size(d);
    int64_t b = batch < rows ? batch : rows, part = rows % b;
    soma_shard s = {.batch_first = b * r / n, .part_first = part * r / n};
    s.batch = b * (r + 1) / n - s.batch_first;
    s.part = part * (r + 1) / n - s.part_first;
    return s;
}

uint64_t soma_dist_dropout_key(const soma_dist *d, uint64_t key) {
    /* the golden-ratio increment: rank r's key is r steps of a Weyl sequence away */
    return key + (uint64_t)soma_dist_rank(d) * 0x9e3779b97f4a7c15ull;
}

/* The flat buffer holds every parameter's gradient and a flag: allocated on
 * the first step, reused by every other. */
static soma_status flat_reserve(soma_dist *d, size_t count) {
    if (d->flat_count >= count) return SOMA_OK;
    float *f = realloc(d->flat, count * sizeof *f);
    if (!f) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "soma_train: out of host memory for the %zu gradients of "
                             "the all-reduce", count);
    d->flat = f;
    d->flat_count = count;
    return SOMA_OK;
}

/* What the flat buffer carries, in the model's parameter order: the trained
 * tensors (soma_mlp_param with a gradient), their gradients, or the buffers
 * (float tensors without a gradient: batchnorm's running statistics). */
typedef enum part_kind { TRAINED, GRADIENTS, BUFFERS } part_kind;

/* The i-th tensor of that kind; NULL past the last. */
static soma_tensor *part_of(soma_mlp *m, int i, part_kind kind) {
    for (int k = 0; k < soma_mlp_param_count(m); k++) {
        soma_param p = soma_mlp_param(m, k);
        int wanted = kind == BUFFERS ? p.value && !p.grad : p.grad != NULL;
        if (wanted && i-- == 0) return kind == GRADIENTS ? p.grad : p.value;
    }
    return NULL;
}

/* Downloads the tensors of `kind` into the flat buffer (free outside the
 * gradient all-reduce, and large enough: flat_reserve counts every float
 * tensor); *count floats. */
static soma_status download_parts(soma_dist *d, soma_mlp *m, part_kind kind, size_t *count) {
    size_t at = 0;
    soma_tensor *t;
    for (int i = 0; (t = part_of(m, i, kind)) != NULL; i++) {
        SOMA_TRY(soma_tensor_download(t, d->flat + at, (size_t)soma_tensor_numel(t)));
        at += (size_t)soma_tensor_numel(t);
    }
    *count = at;
    return SOMA_OK;
}

/* A CRC-32 of the model's weights and biases, and with buffers of its
 * running statistics too. */
static soma_status crc_of_weights(soma_dist *d, soma_mlp *m, int buffers, uint32_t *crc) {
    size_t count;
    SOMA_TRY(download_parts(d, m, TRAINED, &count));
    *crc = soma_crc32_update(0, d->flat, count * sizeof(float));
    if (buffers) {
        SOMA_TRY(download_parts(d, m, BUFFERS, &count));
        *crc = soma_crc32_update(*crc, d->flat, count * sizeof(float));
    }
    return SOMA_OK;
}

/* Every float tensor of the model (trained and buffers), plus the flag. */
static size_t flat_floats(soma_mlp *m) {
    size_t n = 1;
    for (int k = 0; k < soma_mlp_param_count(m); k++) {
        soma_param p = soma_mlp_param(m, k);
        if (p.value) n += (size_t)soma_tensor_numel(p.value);
    }
    return n;
}

/* SOMA_DIST_CHECK: a CRC-32 of this rank's weights against every other
 * rank's, after `updates` optimizer steps. The flat buffer is free again
 * (the gradients are back on the device), so it holds the weights. */
static soma_status check_weights(soma_dist *d, soma_mlp *m, int64_t updates, int buffers) {
    uint32_t mine;
    SOMA_TRY(crc_of_weights(d, m, buffers, &mine));
    uint32_t *all = malloc((size_t)d->size * sizeof *all);
    if (!all) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "soma_train: out of host memory");
    soma_status st = d->comm->all_gather(d->ctx, &mine, all, sizeof mine);
    for (int r = 1; st == SOMA_OK && r < d->size; r++)
        if (all[r] != all[0]) {
            st = soma_fail(SOMA_ERR_NUMERIC, "soma_train: SOMA_DIST_CHECK: after %lld steps the weights%s of rank %d "
                           "(crc32 %08x) differ from rank 0's (crc32 %08x)", (long long)updates,
                           buffers ? " and running statistics" : "", r,
                           (unsigned)all[r], (unsigned)all[0]);
            d->failure_agreed = 1; /* every rank saw the same CRCs */
        }
    free(all);
    if (st == SOMA_OK && updates > d->checked_steps) d->checked_steps = updates;
    return st;
}

/* What must be the same on every rank before the first step, and what this
 * rank has. The data is compared by a CRC-32 of its bytes (once per run:
 * 0.1 s for MNIST's 47 MB), the weights by a CRC-32 of theirs. */
typedef struct fingerprint {
    int64_t rows, features, targets, batch, steps;
    uint64_t seed;
    int32_t epochs, no_shuffle, loss, layers;
    uint32_t data_crc, weights_crc;
} fingerprint;

soma_status soma_dist_check_same(soma_dist *d, soma_mlp *m, const soma_optimizer *o, const soma_dataset *train,
                                 const soma_train_config *c) {
    if (!several(d)) return SOMA_OK;
    SOMA_TRY(flat_reserve(d, flat_floats(m)));
    fingerprint mine;
    memset(&mine, 0, sizeof mine); /* the padding too: the whole struct is compared */
    mine.rows = soma_dataset_rows(train);
    mine.features = soma_dataset_features(train);
    mine.targets = soma_dataset_targets(train);
    mine.batch = c->batch;
    mine.steps = soma_optimizer_steps(o);
    mine.seed = c->seed;
    mine.epochs = c->epochs;
    mine.no_shuffle = c->no_shuffle;
    mine.loss = (int32_t)c->loss;
    mine.layers = soma_mlp_layer_count(m);
    mine.data_crc = soma_crc32_update(0, soma_dataset_feature_data_const(train),
                                      (size_t)(mine.rows * mine.features) * sizeof(float));
    mine.data_crc = soma_crc32_update(mine.data_crc, soma_dataset_target_data_const(train),
                                      (size_t)(mine.rows * mine.targets) * sizeof(float));
    SOMA_TRY(crc_of_weights(d, m, 1, &mine.weights_crc));
    fingerprint *all = malloc((size_t)d->size * sizeof *all);
    if (!all) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "soma_train: out of host memory");
    soma_status st = d->comm->all_gather(d->ctx, &mine, all, sizeof mine);
    for (int r = 1; st == SOMA_OK && r < d->size; r++) {
        const fingerprint *a = &all[0], *b = &all[r];
        if (memcmp(a, b, sizeof *a) == 0) continue;
        d->failure_agreed = 1; /* every rank compares the same fingerprints */
        if (a->rows != b->rows || a->features != b->features || a->targets != b->targets || a->data_crc != b->data_crc)
            st = soma_fail(SOMA_ERR_INVALID_ARG, "soma_train: rank %d's training data (%lld rows x %lld features, "
                           "crc32 %08x) is not rank 0's (%lld x %lld, crc32 %08x): every rank must load the same "
                           "data", r, (long long)b->rows, (long long)b->features, (unsigned)b->data_crc,
                           (long long)a->rows, (long long)a->features, (unsigned)a->data_crc);
        else if (a->weights_crc != b->weights_crc || a->layers != b->layers || a->steps != b->steps)
            st = soma_fail(SOMA_ERR_INVALID_ARG, "soma_train: rank %d starts from other weights than rank 0 (crc32 "
                           "%08x against %08x, %lld against %lld optimizer steps): every rank must initialize from "
                           "the same seed or load the same checkpoint", r, (unsigned)b->weights_crc,
                           (unsigned)a->weights_crc, (long long)b->steps, (long long)a->steps);
        else
            st = soma_fail(SOMA_ERR_INVALID_ARG, "soma_train: rank %d trains with other settings than rank 0 (batch "
                           "%lld/%lld, epochs %d/%d, seed %llu/%llu, loss %d/%d, no_shuffle %d/%d)", r,
                           (long long)b->batch, (long long)a->batch, b->epochs, a->epochs,
                           (unsigned long long)b->seed, (unsigned long long)a->seed, b->loss, a->loss,
                           b->no_shuffle, a->no_shuffle);
    }
    free(all);
    return st;
}

/* SOMA_DIST_FAIL_AT_STEP=S (a test's fault): the all-reduce of step S (from 1)
 * fails on this rank, as a device error in the middle of a step would. */
static int injected_failure(int64_t step) {
    const char *v = getenv("SOMA_DIST_FAIL_AT_STEP");
    return v && atoll(v) == step;
}

soma_status soma_dist_average_gradients(soma_dist *d, soma_mlp *m, int64_t rows, int64_t global_rows,
                                        const volatile sig_atomic_t *stop, int *stop_all) {
    *stop_all = 0;
    if (!several(d)) return SOMA_OK;
    int64_t updates = d->steps++;
    if (injected_failure(updates + 1))
        return soma_fail(SOMA_ERR_BACKEND, "soma_train: step %lld: SOMA_DIST_FAIL_AT_STEP: a failure injected on "
                         "rank %d", (long long)updates + 1, d->rank);
    SOMA_TRY(flat_reserve(d, flat_floats(m)));
    /* each rank's gradient is the mean over its rows: weighted by its share
     * of the batch, the sum over the ranks is the mean over the batch (with
     * equal shards the weight is 1/N, exact for N a power of two) */
    float share = (float)((double)rows / (double)global_rows);
    soma_device *dev = soma_mlp_device(m);
    if (d->use_nccl && soma_device_kind_of(dev) == SOMA_DEVICE_CUDA) {
        /* on the GPU: in place, on the compute stream */
        if (!d->nccl) SOMA_TRY(soma_nccl_open(d, dev, &d->nccl));
        if (!d->nccl) d->use_nccl = 0; /* no rank could use it: the host path below, on all */
    }
    if (d->use_nccl && soma_device_kind_of(dev) == SOMA_DEVICE_CUDA) {
        soma_tensor *grads[8 * SOMA_MAX_LAYERS];
        int count = 0;
        while (count < 8 * SOMA_MAX_LAYERS && (grads[count] = part_of(m, count, GRADIENTS)) != NULL) count++;
        float flag = stop && *stop ? 1.0f : 0.0f;
        SOMA_TRY(soma_nccl_average(d->nccl, dev, grads, count, share, &flag));
        *stop_all = flag > 0.0f;
        if (d->check_steps) SOMA_TRY(check_weights(d, m, updates, 0));
        return SOMA_OK;
    }
    size_t at = 0;
    soma_tensor *t;
    for (int i = 0; (t = part_of(m, i, GRADIENTS)) != NULL; i++) {
        SOMA_TRY(soma_tensor_download(t, d->flat + at, (size_t)soma_tensor_numel(t)));
        at += (size_t)soma_tensor_numel(t);
    }
    for (size_t i = 0; i < at; i++) d->flat[i] *= share;
    d->flat[at] = stop && *stop ? 1.0f : 0.0f;
    SOMA_TRY(d->comm->all_reduce_sum_f32(d->ctx, d->flat, at + 1));
    *stop_all = d->flat[at] > 0.0f;
    at = 0;
    for (int i = 0; (t = part_of(m, i, GRADIENTS)) != NULL; i++) {
        SOMA_TRY(soma_tensor_upload(t, d->flat + at, (size_t)soma_tensor_numel(t)));
        at += (size_t)soma_tensor_numel(t);
    }
    if (d->check_steps) SOMA_TRY(check_weights(d, m, updates, 0));
    return SOMA_OK;
}

/* Batch normalization's running statistics are each rank's own during an
 * epoch: every rank normalizes its share of the batch with that share's
 * statistics (PyTorch's DDP without SyncBatchNorm does the same). At the
 * epoch's end every rank takes their mean, so that validation, early
 * stopping and the saved model are the same on every rank. */
static soma_status average_buffers(soma_dist *d, soma_mlp *m) {
    size_t count;
    SOMA_TRY(flat_reserve(d, flat_floats(m)));
    SOMA_TRY(download_parts(d, m, BUFFERS, &count));
    if (count == 0) return SOMA_OK;
    SOMA_TRY(d->comm->all_reduce_sum_f32(d->ctx, d->flat, count));
    size_t at = 0;
    soma_tensor *t;
    for (int i = 0; (t = part_of(m, i, BUFFERS)) != NULL; i++) {
        size_t n = (size_t)soma_tensor_numel(t);
        for (size_t j = 0; j < n; j++) d->flat[at + j] /= (float)d->size;
        SOMA_TRY(soma_tensor_upload(t, d->flat + at, n));
        at += n;
    }
    return SOMA_OK;
}

soma_status soma_dist_end_epoch(soma_dist *d, soma_mlp *m, float *loss_sum, int64_t *samples) {
    if (!several(d)) return SOMA_OK;
    double totals[2] = {(double)*loss_sum, (double)*samples};
    SOMA_TRY(d->comm->all_reduce_sum_f64(d->ctx, totals, 2));
    *loss_sum = (float)totals[0];
    *samples = (int64_t)totals[1];
    SOMA_TRY(average_buffers(d, m));
    if (d->check_steps) SOMA_TRY(check_weights(d, m, d->steps, 1));
    return SOMA_OK;
}
