/* train.c: the training loop, evaluation and prediction (soma/train.h).
 *
 * One step: take a shuffled batch, forward (training mode), loss and its
 * gradient with respect to the outputs, backward, optimizer update. Every
 * scalar a step needs (learning rate, Adam's corrections, the clipping
 * scale, dropout's step, the batch's position) lives in a step control
 * block in device memory (core/step_ctl.h), filled from a schedule the host
 * uploads once per epoch; losses are summed there and a non-finite loss or
 * gradient norm is recorded there with its step. So a step never makes the
 * host wait: the host reads the block once per epoch (or every check_every
 * steps). When the training data fits the device (soma_train_config::
 * data_budget), it is uploaded once and batches are gathered on the device;
 * then, on a device that records graphs (CUDA), one full step is recorded
 * and replayed with one launch per step. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/device_internal.h"
#include "core/error.h"
#include "core/philox.h"
#include "core/profile.h"
#include "core/step_ctl.h"
#include "core/step_ops.h"
#include "dist/dist_internal.h" /* soma_dist_shard, soma_dist_average_gradients: data parallelism */
#include "model/model_internal.h"
#include "train/feeder.h"
#include "train/optimizer_internal.h"

#define EVAL_BATCH 1024
/* Dropout masks, shuffles and the weights (soma_mlp_init: key = seed, offset
 * = layer) each get their own Philox key: with a shared key, epoch e's
 * shuffle drew the very words that made layer e's initial weights. */
#define DROPOUT_SALT 0xd1b54a32d192ed03ull
#define SHUFFLE_SALT 0x8cb92ba72f3d8dd7ull

typedef soma_status (*loss_op)(const soma_tensor *, const soma_tensor *, soma_tensor *);

static const struct {
    const char *name;
    loss_op forward, backward;
} losses[SOMA_LOSS_COUNT] = {
    [SOMA_LOSS_XENT] = {"xent", soma_softmax_xent_loss, soma_softmax_xent_backward},
    [SOMA_LOSS_MSE] = {"mse", soma_mse_loss, soma_mse_backward},
    [SOMA_LOSS_BCE] = {"bce", soma_bce_logits_loss, soma_bce_logits_backward},
};

const char *soma_loss_name(soma_loss loss) {
    return (int)loss >= 0 && loss < SOMA_LOSS_COUNT ? losses[loss].name : NULL;
}

soma_status soma_loss_parse(const char *name, soma_loss *out) {
    for (int i = 0; name && out && i < SOMA_LOSS_COUNT; i++)
        if (strcmp(losses[i].name, name) == 0) {
            *out = (soma_loss)i;
            return SOMA_OK;
        }
    return soma_fail(SOMA_ERR_INVALID_ARG, "unknown loss '%s' (expected xent, mse or bce)",
                     name ? name : "(null)");
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int all_finite(const float *o, int64_t n) {
    for (int64_t j = 0; j < n; j++)
        if (!isfinite(o[j])) return 0;
    return 1;
}

/* Correct predictions among `rows` outputs: argmax against the class for
 * class targets, the sign of the logit against t > 0.5 for one BCE output.
 * A row whose outputs are not all finite is never correct. */
static int64_t count_correct(const float *out, int64_t rows, int64_t outputs, const float *targets,
                             int64_t target_cols, soma_loss loss) {
    int64_t correct = 0;
    for (int64_t i = 0; i < rows; i++) {
        const float *o = out + i * outputs;
        if (!all_finite(o, outputs)) continue;
        if (outputs == 1) {
            correct += (loss == SOMA_LOSS_BCE ? o[0] > 0.0f : o[0] > 0.5f) == (targets[i * target_cols] > 0.5f);
            continue;
        }
        int64_t best = 0;
        for (int64_t j = 1; j < outputs; j++)
            if (o[j] > o[best]) best = j;
        correct += (float)best == targets[i * target_cols];
    }
    return correct;
}

/* Rows whose outputs are not all finite: how many, and the first (a row of
 * the dataset it came from). */
typedef struct non_finite {
    int64_t rows, first;
} non_finite;

/* Runs the model over ds in inference mode; any of the outputs may be NULL. */
static soma_status run_inference(soma_mlp *m, const soma_dataset *ds, soma_loss loss, double *mean_loss,
                                 double *accuracy, float *predictions, non_finite *bad) {
    soma_device *dev = soma_mlp_device(m);
    int64_t rows = soma_dataset_rows(ds), outputs = soma_mlp_outputs(m);
    int64_t classes = soma_dataset_classes(ds);
    int has_accuracy = classes > 0 && (outputs > 1 || loss == SOMA_LOSS_BCE);
    soma_feeder f;
    SOMA_TRY(soma_feeder_init(&f, dev, ds, EVAL_BATCH, loss, outputs));
    /* With only the loss and the accuracy wanted and class-index targets,
     * the correct predictions are counted on the device too, and nothing is
     * read back before the end. (A row whose outputs are not finite may then
     * count as correct; the loss, summed over it, is not finite then and the
     * accuracy is reported as NaN.) */
    int count_on_device = has_accuracy && accuracy && !predictions && !bad && f.target_cols == 1 && outputs > 1 &&
                          rows < ((int64_t)1 << 24);
    soma_tensor *batch_loss = NULL, *loss_sum = NULL, *batch_correct = NULL, *correct_sum = NULL;
    float *host_out = malloc((size_t)(f.batch * outputs) * sizeof *host_out);
    soma_status st = host_out ? SOMA_OK : soma_fail(SOMA_ERR_OUT_OF_MEMORY, "soma_evaluate: out of host memory");
    if (st == SOMA_OK) st = soma_tensor_create(dev, 1, 1, &batch_loss);
    if (st == SOMA_OK) st = soma_tensor_create(dev, 1, 1, &loss_sum);
    if (st == SOMA_OK) st = soma_tensor_fill(loss_sum, 0.0f);
    if (st == SOMA_OK && count_on_device) st = soma_tensor_create(dev, 1, 1, &batch_correct);
    if (st == SOMA_OK && count_on_device) st = soma_tensor_create(dev, 1, 1, &correct_sum);
    if (st == SOMA_OK && count_on_device) st = soma_tensor_fill(correct_sum, 0.0f);
    int64_t correct = 0;
    soma_rng unused = {0, 0};
    for (int64_t first = 0; first < rows && st == SOMA_OK; first += f.batch) {
        int64_t count = rows - first < f.batch ? rows - first : f.batch;
        soma_tensor *x, *y;
        const soma_tensor *out;
        st = soma_feeder_load(&f, NULL, first, count, &x, &y);
        if (st == SOMA_OK) st = soma_mlp_forward(m, x, 0, unused, &out);
        if (st == SOMA_OK && mean_loss) st = losses[loss].forward(out, y, batch_loss);
        if (st == SOMA_OK && mean_loss) st = soma_axpy((float)count, batch_loss, loss_sum);
        if (st == SOMA_OK && count_on_device) st = soma_correct_count(out, y, batch_correct);
        if (st == SOMA_OK && count_on_device) st = soma_axpy(1.0f, batch_correct, correct_sum);
        if (st == SOMA_OK && !count_on_device && (accuracy || predictions || bad))
            st = soma_tensor_download(out, host_out, (size_t)(count * outputs));
        for (int64_t i = 0; st == SOMA_OK && bad && i < count; i++)
            if (!all_finite(host_out + i * outputs, outputs) && bad->rows++ == 0)
                bad->first = soma_dataset_source_row(ds, first + i);
        if (st == SOMA_OK && predictions)
            memcpy(predictions + first * outputs, host_out, (size_t)(count * outputs) * sizeof(float));
        if (st == SOMA_OK && accuracy && has_accuracy && !count_on_device)
            correct += count_correct(host_out, count, outputs, soma_dataset_target_data_const(ds) +
                                     first * soma_dataset_targets(ds), soma_dataset_targets(ds), loss);
    }
    float sum = 0.0f, device_correct = 0.0f; /* counts up to 2^24 are exact in a float */
    if (st == SOMA_OK && mean_loss) st = soma_tensor_download(loss_sum, &sum, 1);
    if (st == SOMA_OK && count_on_device) st = soma_tensor_download(correct_sum, &device_correct, 1);
    if (count_on_device) correct = mean_loss && !isfinite(sum) ? -1 : (int64_t)device_correct;
    if (st == SOMA_OK && mean_loss) *mean_loss = (double)sum / (double)rows;
    if (st == SOMA_OK && accuracy)
        *accuracy = has_accuracy && correct >= 0 ? (double)correct / (double)rows : NAN;
    free(host_out);
    soma_tensor_free(batch_loss);
    soma_tensor_free(loss_sum);
    soma_tensor_free(batch_correct);
    soma_tensor_free(correct_sum);
    soma_feeder_free(&f);
    return st;
}

soma_status soma_evaluate(soma_mlp *m, const soma_dataset *ds, soma_loss loss, double *mean_loss,
                          double *accuracy) {
    if (!m || !ds) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_evaluate: argument '%s' is NULL", m ? "ds" : "model");
    if ((int)loss < 0 || loss >= SOMA_LOSS_COUNT)
        return soma_fail(SOMA_ERR_INVALID_ARG, "soma_evaluate: loss %d is not a soma_loss", (int)loss);
    if (soma_dataset_features(ds) != soma_mlp_inputs(m))
        return soma_fail(SOMA_ERR_SHAPE, "soma_evaluate: the data has %lld features but the model takes %lld inputs",
                         (long long)soma_dataset_features(ds), (long long)soma_mlp_inputs(m));
    SOMA_TRY(soma_check_targets("soma_evaluate", ds, loss, soma_mlp_outputs(m)));
    non_finite bad = {0, 0};
    SOMA_TRY(run_inference(m, ds, loss, mean_loss, accuracy, NULL, &bad));
    if (bad.rows)
        return soma_fail(SOMA_ERR_NUMERIC, "soma_evaluate: %lld of %lld rows give outputs that are not finite "
                         "(the first: row %lld); their features may lie far outside those the model was trained on",
                         (long long)bad.rows, (long long)soma_dataset_rows(ds), (long long)bad.first);
    return SOMA_OK;
}

soma_status soma_predict(soma_mlp *m, const soma_dataset *ds, float *out) {
    if (!m || !ds || !out)
        return soma_fail(SOMA_ERR_INVALID_ARG, "soma_predict: argument '%s' is NULL", !m ? "model" : !ds ? "ds" : "out");
    if (soma_dataset_features(ds) != soma_mlp_inputs(m))
        return soma_fail(SOMA_ERR_SHAPE, "soma_predict: the data has %lld features but the model takes %lld inputs",
                         (long long)soma_dataset_features(ds), (long long)soma_mlp_inputs(m));
    /* the targets are not used: they only have to fit the feeder's buffers */
    soma_loss any = soma_dataset_targets(ds) == soma_mlp_outputs(m) ? SOMA_LOSS_MSE : SOMA_LOSS_XENT;
    return run_inference(m, ds, any, NULL, NULL, out, NULL);
}

/* The permutation of epoch e: Fisher-Yates driven by Philox words (key seed
 * ^ SHUFFLE_SALT, offset e), so it depends only on (seed, e) and a resumed
 * run shuffles as the original. */
static void shuffle_order(int64_t *order, int64_t n, uint64_t seed, int epoch, int no_shuffle) {
    for (int64_t i = 0; i < n; i++) order[i] = i;
    if (no_shuffle) return;
    for (int64_t i = n - 1; i > 0; i--) {
        soma_philox4 r = soma_philox_block(seed ^ SHUFFLE_SALT, (uint64_t)epoch, (uint64_t)i);
        uint64_t word = ((uint64_t)r.v[0] << 32) | r.v[1];
        int64_t j = (int64_t)(word % (uint64_t)(i + 1));
        int64_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

static soma_status check_train_args(soma_mlp *m, soma_optimizer *o, const soma_dataset *train,
                                    const soma_dataset *val, const soma_train_config *c,
                                    soma_train_state *state) {
    const char *api = "soma_train";
    if (!m || !o || !train || !c || !state)
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument '%s' is NULL", api,
                         !m ? "model" : !o ? "optimizer" : !train ? "train" : !c ? "config" : "state");
    if ((int)c->loss < 0 || c->loss >= SOMA_LOSS_COUNT)
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: loss %d is not a soma_loss", api, (int)c->loss);
    if (c->batch < 1) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: batch size %lld must be >= 1", api, (long long)c->batch);
    if (c->epochs < 0) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: epochs %d must be >= 0", api, c->epochs);
    int64_t rows = soma_dataset_rows(train), batch = c->batch < rows ? c->batch : rows;
    if (state->epochs_done < 0 || state->steps_in_epoch < 0 || state->steps_in_epoch >= (rows + batch - 1) / batch)
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: state: %d epochs and %lld steps done, but an epoch of these "
                         "%lld rows has %lld steps", api, state->epochs_done, (long long)state->steps_in_epoch,
                         (long long)rows, (long long)((rows + batch - 1) / batch));
    SOMA_TRY(soma_dist_check_batch(c->dist, c->batch, rows));
    const soma_dataset *sets[2] = {train, val};
    for (int s = 0; s < 2; s++) {
        if (!sets[s]) continue;
        if (soma_dataset_features(sets[s]) != soma_mlp_inputs(m))
            return soma_fail(SOMA_ERR_SHAPE, "%s: the %s data has %lld features but the model takes %lld inputs",
                             api, s ? "validation" : "training", (long long)soma_dataset_features(sets[s]),
                             (long long)soma_mlp_inputs(m));
        SOMA_TRY(soma_check_targets(api, sets[s], c->loss, soma_mlp_outputs(m)));
    }
    return SOMA_OK;
}

/* What one run holds besides the model: made before the first step, freed
 * after the last. */
typedef struct run {
    int64_t batch;     /* rows per step, over all ranks */
    soma_shard shard;  /* this rank's part of them (all of them in a single process) */
    soma_feeder feed;
    int64_t *order;
    soma_tensor *batch_loss, *loss_sum, *grad, *grad_part;
    soma_tensor *ctl, *schedule; /* the step control block; a schedule row per step of an epoch */
    float *schedule_host;
    soma_mlp *model;      /* whose step_ctl is set while the run lasts */
    soma_mlp *best;       /* the best weights so far, with early stopping */
    int use_graph;        /* record a full step and replay it */
    int warm;             /* a full step ran eagerly in this run: what a recording needs exists */
    void *graph;          /* the recorded step, or NULL */
    unsigned long long graph_generation[2]; /* of the model's work tensors and the device's buffers it uses */
    int stop_all;         /* several ranks: one of them was asked to stop (soma_dist_average_gradients) */
} run;

static void run_free(run *r) {
    if (r->graph) soma_device_graph_free(soma_mlp_device(r->model), r->graph);
    if (r->model) soma_mlp_set_step_ctl(r->model, NULL);
    soma_feeder_free(&r->feed);
    free(r->order);
    free(r->schedule_host);
    soma_tensor *ts[] = {r->batch_loss, r->loss_sum, r->grad_part, r->grad, r->ctl, r->schedule};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) soma_tensor_free(ts[i]);
    soma_mlp_free(r->best);
}

/* What a run allocates besides the model, in bytes (an upper bound): the
 * model's work tensors for a training batch, its remainder and an
 * evaluation batch (z, a, h and g of every layer), the feeders (host and
 * device copies), the output gradient, the shuffle order and the schedule. */
static uint64_t workspace_bytes(soma_mlp *m, const soma_dataset *train, const soma_dataset *val,
                                const soma_train_config *c) {
    double rows = (double)soma_dataset_rows(train), batch = fmin((double)c->batch, rows);
    double eval = val ? fmin((double)EVAL_BATCH, (double)soma_dataset_rows(val)) : 0.0;
    double units = 0.0, outputs = (double)soma_mlp_outputs(m), features = (double)soma_dataset_features(train);
    for (int l = 0; l < soma_mlp_layer_count(m); l++) units += (double)soma_mlp_layer(m, l).units;
    double floats = 4.0 * units * (2.0 * batch + 2.0 * eval) + 2.0 * (batch + eval) * (features + outputs) +
                    batch * outputs + SOMA_SCHED_COLS * (rows / batch + 1.0);
    double bytes = 4.0 * floats + 8.0 * rows;
    return bytes < 1.8e19 ? (uint64_t)bytes : UINT64_MAX;
}

/* Whether the training data is to be uploaded once: it fits the budget of
 * device memory (c->data_budget, by default half of what is free), on a
 * device with memory of its own. */
static int wants_resident(soma_device *dev, const soma_feeder *f, const soma_train_config *c) {
    uint64_t free_bytes = 0, total = 0;
    if (c->data_budget < 0 || soma_dataset_rows(f->ds) >= ((int64_t)1 << 24)) return 0;
    if (soma_device_memory_info(dev, &free_bytes, &total) != SOMA_OK) {
        soma_clear_error(); /* the CPU: its data is where it is */
        return 0;
    }
    uint64_t budget = c->data_budget > 0 ? (uint64_t)c->data_budget : free_bytes / 2;
    return soma_feeder_resident_bytes(f) <= budget;
}

static soma_status run_init(run *r, soma_mlp *m, const soma_dataset *train, const soma_dataset *val,
                            const soma_train_config *c) {
    memset(r, 0, sizeof *r);
    soma_device *dev = soma_mlp_device(m);
    int64_t rows = soma_dataset_rows(train), outputs = soma_mlp_outputs(m);
    SOMA_TRY(soma_device_check_memory(dev, "soma_train", "the training workspace (activations, gradients and "
                                      "batches)", workspace_bytes(m, train, val, c)));
    r->batch = c->batch < rows ? c->batch : rows;
    r->shard = soma_dist_shard(c->dist, c->batch, rows);
    SOMA_TRY(soma_feeder_init_shard(&r->feed, dev, train, r->shard.batch, r->shard.part, c->loss, outputs));
    int64_t batches = (rows + r->batch - 1) / r->batch;
    r->order = malloc((size_t)rows * sizeof *r->order);
    r->schedule_host = malloc((size_t)(batches * SOMA_SCHED_COLS) * sizeof *r->schedule_host);
    if (!r->order || !r->schedule_host) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "soma_train: out of host memory");
    SOMA_TRY(soma_tensor_create(dev, 1, 1, &r->batch_loss));
    SOMA_TRY(soma_tensor_create(dev, 1, 1, &r->loss_sum));
    SOMA_TRY(soma_tensor_create(dev, 1, SOMA_CTL_SIZE, &r->ctl));
    SOMA_TRY(soma_tensor_create(dev, batches, SOMA_SCHED_COLS, &r->schedule));
    SOMA_TRY(soma_tensor_create(dev, r->shard.batch, outputs, &r->grad));
    if (r->shard.part) SOMA_TRY(soma_tensor_view_rows(r->grad, 0, r->shard.part, &r->grad_part));
    /* several ranks gather their shards on the host and reduce between the
     * steps' halves: no resident data and no graph (one process: as before) */
    if (soma_dist_size(c->dist) == 1 && wants_resident(dev, &r->feed, c))
        SOMA_TRY(soma_feeder_make_resident(&r->feed));
    else
        SOMA_TRY(soma_feeder_stream(&r->feed));
    r->use_graph = r->feed.x_all && !c->no_graph && !c->profile && soma_device_has_graphs(dev);
    r->model = m;
    soma_mlp_set_step_ctl(m, r->ctl);
    if (c->patience > 0 && val) {
        char arch[SOMA_ARCH_MAX];
        SOMA_TRY(soma_mlp_arch(m, arch, sizeof arch));
        SOMA_TRY(soma_mlp_create_arch(dev, arch, &r->best));
        SOMA_TRY(soma_mlp_copy_parameters(r->best, m));
    }
    return SOMA_OK;
}

/* After a step whose loss (or, clipping, whose gradient norm) was not
 * finite: the first named tensor (soma_mlp_param) whose values or gradient
 * are not finite, searched from the input side; when all are finite the
 * outputs overflowed, and the tensor with the largest values is named. The
 * values are those the bad step used (the updates skip from that step on). */
static soma_status name_non_finite(soma_mlp *m, soma_tensor *scratch, int64_t step, int epoch,
                                   const char *what_bad, float value) {
    double largest = -1.0;
    const char *largest_name = "";
    /* values of every tensor first: a bad weight makes every gradient below it bad too */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < soma_mlp_param_count(m); i++) {
            soma_param p = soma_mlp_param(m, i);
            soma_tensor *t = pass ? p.grad : p.value;
            if (!t) continue;
            float sq;
            SOMA_TRY(soma_sum_squares(t, scratch));
            SOMA_TRY(soma_tensor_download(scratch, &sq, 1));
            if (!isfinite(sq))
                return soma_fail(SOMA_ERR_NUMERIC,
                                 "soma_train: step %lld (epoch %d): %s is %g; %s%s is not finite "
                                 "(try a smaller learning rate or --clip)",
                                 (long long)step, epoch, what_bad, (double)value, pass ? "the gradient of " : "",
                                 p.name);
            if (!pass && p.grad && sq > largest) {
                largest = sq;
                largest_name = p.name;
            }
        }
    return soma_fail(SOMA_ERR_NUMERIC,
                     "soma_train: step %lld (epoch %d): %s is %g: the outputs overflowed although the "
                     "parameters are finite (the largest, norm %.3g, is %s); the training "
                     "diverged: try a smaller learning rate or --clip",
                     (long long)step, epoch, what_bad, (double)value, sqrt(largest), largest_name);
}

/* Queues one step on the device: the batch at the control block's clock
 * (rows order[first ..] on the host path), the step's schedule row, forward,
 * loss (summed, and watched for non-finite values on the device), backward
 * and the update. Changes nothing on the host but the streamed feeder's
 * slot (never recorded: graphs need resident data). */
static soma_status queue_step(soma_mlp *m, soma_optimizer *o, const soma_train_config *c, run *r,
                              int64_t first, int64_t count) {
    soma_device *dev = soma_mlp_device(m);
    soma_tensor *x, *y, *grad = count == r->batch ? r->grad : r->grad_part;
    const soma_tensor *out;
    /* this rank's rows of the batch: all of them in a single process */
    int64_t mine = count == r->batch ? r->shard.batch : r->shard.part;
    first += count == r->batch ? r->shard.batch_first : r->shard.part_first;
    /* its offset comes from the block (model_internal.h); each rank has its own key */
    soma_rng dropout_rng = {soma_dist_dropout_key(c->dist, c->seed ^ DROPOUT_SALT), 0};
    SOMA_TRY_PROFILED(dev, SOMA_PROFILE_DATA, soma_feeder_take(&r->feed, r->ctl, r->order, first, mine, &x, &y));
    SOMA_TRY(soma_step_begin(r->schedule, r->ctl));
    SOMA_TRY(soma_mlp_forward(m, x, 1, dropout_rng, &out));
    soma_profile_phase phase;
    SOMA_TRY(soma_profile_begin(dev, SOMA_PROFILE_LOSS, &phase));
    SOMA_TRY(losses[c->loss].forward(out, y, r->batch_loss));
    SOMA_TRY(soma_watch_loss(r->batch_loss, (float)mine, r->loss_sum, r->ctl));
    SOMA_TRY(losses[c->loss].backward(out, y, grad));
    SOMA_TRY(soma_profile_end(&phase));
    SOMA_TRY(soma_mlp_backward(m, x, grad));
    SOMA_TRY(soma_dist_average_gradients(c->dist, m, mine, count, c->stop, &r->stop_all));
    SOMA_TRY_PROFILED(dev, SOMA_PROFILE_OPTIMIZER, soma_optimizer_queue_step(o, r->ctl));
    return soma_feeder_done(&r->feed);
}

/* A full step through the recorded graph: recorded at the first call (the
 * run's first full step ran eagerly, so every buffer the step touches
 * exists), and again whenever the model remade its work tensors or the
 * device replaced a buffer of its own (GEMM scratch grown by a larger
 * validation batch, say): a graph keeps the pointers it was recorded with. A device
 * that refuses the recording gets eager steps for the rest of the run. */
static soma_status graph_step(soma_mlp *m, soma_optimizer *o, const soma_train_config *c, run *r,
                              int64_t first, int *ran) {
    soma_device *dev = soma_mlp_device(m);
    const unsigned long long now[2] = {soma_mlp_workspace_generation(m), soma_device_generation(dev)};
    *ran = 0;
    if (r->graph && (r->graph_generation[0] != now[0] || r->graph_generation[1] != now[1])) {
        soma_device_graph_free(dev, r->graph);
        r->graph = NULL;
    }
    if (!r->graph) {
        SOMA_TRY(soma_device_graph_begin(dev));
        soma_status st = queue_step(m, o, c, r, first, r->batch);
        void *graph = NULL;
        soma_status end = soma_device_graph_end(dev, &graph);
        r->graph_generation[0] = soma_mlp_workspace_generation(m);
        r->graph_generation[1] = soma_device_generation(dev);
        if (st != SOMA_OK || end != SOMA_OK || r->graph_generation[0] != now[0] || r->graph_generation[1] != now[1]) {
            soma_device_graph_free(dev, graph);
            soma_clear_error();
            r->use_graph = 0; /* nothing of the step ran: it runs eagerly */
            return SOMA_OK;
        }
        r->graph = graph;
    }
    *ran = 1;
    return soma_device_graph_launch(dev, r->graph);
}

/* Reads the control block and the loss sum (the host waits for the device
 * here): fails naming the step when one was not finite. */
static soma_status check_steps(soma_mlp *m, run *r, int epoch, float *loss_sum) {
    float ctl[SOMA_CTL_SIZE];
    SOMA_TRY(soma_tensor_download(r->ctl, ctl, SOMA_CTL_SIZE));
    SOMA_TRY(soma_tensor_download(r->loss_sum, loss_sum, 1));
    int64_t bad = soma_ctl_count(ctl + SOMA_CTL_STATUS);
    if (!bad) return SOMA_OK;
    const char *what = ctl[SOMA_CTL_BAD_KIND] == SOMA_BAD_LOSS ? "the loss" : "the gradients' squared norm";
    return name_non_finite(m, r->batch_loss, bad, epoch, what, ctl[SOMA_CTL_BAD_VALUE]);
}

/* One epoch of steps, from step `first` on (an epoch resumed in its
 * middle). The epoch's schedule and order are uploaded first; then no step
 * waits for the device, except every c->check_every steps. *done counts
 * the epoch's steps done, *samples the rows they saw and *loss_sum their
 * summed loss; after a stop request (c->stop) *done is short of the epoch. */
static soma_status train_epoch(soma_mlp *m, soma_optimizer *o, const soma_dataset *train,
                               const soma_train_config *c, run *r, int epoch, int64_t first, int64_t *done,
                               int64_t *samples, float *loss_sum, int64_t *graph_steps) {
    int64_t rows = soma_dataset_rows(train), batch = r->batch;
    int64_t batches = (rows + batch - 1) / batch;
    int several = soma_dist_size(c->dist) > 1; /* then the ranks agree on a stop in the all-reduce */
    shuffle_order(r->order, rows, c->seed, epoch, c->no_shuffle);
    SOMA_TRY(soma_feeder_begin_epoch(&r->feed, r->order));
    /* rows first.. of the schedule are this epoch's steps; the block starts at step `first` */
    soma_optimizer_schedule_rows(o, soma_optimizer_steps(o), batches - first,
                                 r->schedule_host + first * SOMA_SCHED_COLS);
    SOMA_TRY(soma_tensor_upload(r->schedule, r->schedule_host, (size_t)(batches * SOMA_SCHED_COLS)));
    float ctl[SOMA_CTL_SIZE] = {0};
    soma_ctl_set_count(ctl + SOMA_CTL_CLOCK, first);
    SOMA_TRY(soma_tensor_upload(r->ctl, ctl, SOMA_CTL_SIZE));
    SOMA_TRY(soma_tensor_fill(r->loss_sum, 0.0f));
    SOMA_TRY(soma_mlp_reset_dead_tracking(m));
    *done = first;
    *samples = 0;
    *loss_sum = 0.0f;
    for (int64_t b = first; b < batches; b++) {
        if (!several && c->stop && *c->stop) break; /* asked to stop: after the step before, not in the middle of one */
        int64_t count = rows - b * batch < batch ? rows - b * batch : batch;
        int ran = 0;
        /* the run's first full step is eager: it makes what the recording needs */
        if (r->use_graph && count == batch && r->warm) SOMA_TRY(graph_step(m, o, c, r, b * batch, &ran));
        soma_mlp_count_forward(m); /* batchnorm's counters: one training forward per step */
        if (!ran) SOMA_TRY(queue_step(m, o, c, r, b * batch, count));
        r->warm |= count == batch;
        *graph_steps += ran;
        soma_optimizer_count_steps(o, 1);
        *done = b + 1;
        *samples += count == batch ? r->shard.batch : r->shard.part; /* this rank's rows */
        if (c->on_batch) c->on_batch(b + 1, batches, c->user);
        if (c->check_every > 0 && (b + 1 - first) % c->check_every == 0 && b + 1 < batches) {
            SOMA_TRY(soma_dist_agree(c->dist, check_steps(m, r, epoch, loss_sum))); /* every rank checks here */
            if (c->on_check) c->on_check(b + 1, (double)*loss_sum / (double)*samples, c->user);
        }
        if (r->stop_all) break; /* a rank was asked to stop: every rank stops after this step */
    }
    return soma_dist_agree(c->dist, check_steps(m, r, epoch, loss_sum)); /* every rank checks here */
}

soma_status soma_train(soma_mlp *m, soma_optimizer *o, const soma_dataset *train,
                       const soma_dataset *val, const soma_train_config *c, soma_train_state *state) {
    soma_dist *dist = c ? c->dist : NULL;
    /* every rank sees the same arguments; a rank short of memory tells the others */
    SOMA_TRY(soma_dist_agree(dist, check_train_args(m, o, train, val, c, state)));
    SOMA_TRY(soma_mlp_set_precision(m, c->precision));
    run r;
    soma_status st = soma_dist_agree(dist, run_init(&r, m, train, val, c));
    if (st == SOMA_OK) st = soma_dist_check_same(dist, m, o, train, c); /* the same data and weights everywhere */
    if (state->epochs_done == 0) state->best_val_loss = INFINITY;
    int since_best = 0;
    for (int epoch = state->epochs_done + 1; epoch <= c->epochs && st == SOMA_OK; epoch++) {
        double start = now_seconds();
        soma_epoch_report rep = {.epoch = epoch, .epochs = c->epochs, .val_loss = NAN,
                                 .val_accuracy = NAN, .samples = soma_dataset_rows(train),
                                 .n_layers = soma_mlp_layer_count(m)};
        int64_t rows = soma_dataset_rows(train), batches = (rows + r.batch - 1) / r.batch, done = 0;
        /* From here to soma_profile_detach nothing leaves the loop: the
         * device holds a pointer to rep.profile until then. */
        if (c->profile) soma_profile_attach(soma_mlp_device(m), &rep.profile);
        float sum = 0.0f;
        rep.data_resident = r.feed.x_all != NULL;
        st = train_epoch(m, o, train, c, &r, epoch, state->steps_in_epoch, &done, &rep.samples, &sum,
                         &rep.graph_steps);
        /* a failed step is this rank's own: the others may wait in an
         * all-reduce (soma_dist_fail); what follows, every rank agrees on */
        int step_failed = st != SOMA_OK;
        int stopped_inside = st == SOMA_OK && done < batches; /* on request, in the middle of the epoch */
        if (st == SOMA_OK && !stopped_inside) st = soma_dist_end_epoch(c->dist, m, &sum, &rep.samples);
        rep.train_loss = (double)sum / (double)rep.samples;
        if (st == SOMA_OK && !stopped_inside && !isfinite(rep.train_loss))
            st = soma_fail(SOMA_ERR_NUMERIC, "soma_train: the training loss of epoch %d is %g (try a smaller learning rate)",
                           epoch, rep.train_loss);
        for (int l = 0; l < rep.n_layers && st == SOMA_OK && !stopped_inside; l++) {
            st = soma_mlp_dead_fraction(m, l, &rep.dead_relu[l]);
            if (soma_mlp_layer(m, l).act != SOMA_ACT_RELU) rep.dead_relu[l] = NAN;
        }
        if (st == SOMA_OK && val && !stopped_inside) {
            soma_profile_phase phase;
            st = soma_profile_begin(soma_mlp_device(m), SOMA_PROFILE_VALIDATION, &phase);
            if (st == SOMA_OK) st = run_inference(m, val, c->loss, &rep.val_loss, &rep.val_accuracy, NULL, NULL);
            if (st == SOMA_OK) st = soma_profile_end(&phase);
        }
        rep.lr = soma_schedule_lr(soma_optimizer_config(o), soma_optimizer_steps(o) - 1);
        rep.seconds = now_seconds() - start;
        soma_profile_detach(soma_mlp_device(m), rep.seconds);
        if (!step_failed) st = soma_dist_agree(c->dist, st);
        if (st != SOMA_OK) break;
        if (stopped_inside) {
            state->steps_in_epoch = done;
            break;
        }
        state->steps_in_epoch = 0;
        state->epochs_done = epoch;
        if (val && rep.val_loss < state->best_val_loss) {
            state->best_val_loss = rep.val_loss;
            state->best_epoch = epoch;
            rep.best = 1;
            since_best = 0;
            if (r.best) st = soma_mlp_copy_parameters(r.best, m);
        } else {
            since_best++;
        }
        int stop = c->on_epoch ? c->on_epoch(&rep, c->user) : 0;
        if (c->stop && *c->stop) stop = 1;
        if ((st = soma_dist_any(c->dist, &stop)) != SOMA_OK) break; /* rank 0's log failed: all stop */
        if (r.best && since_best >= c->patience) {
            state->stopped_early = epoch < c->epochs;
            stop = 1;
        }
        if (stop) break;
    }
    if (st == SOMA_OK && r.best && state->best_epoch > 0) st = soma_mlp_copy_parameters(m, r.best);
    run_free(&r);
    return st;
}
