/* feeder.h: moves mini-batches of a host dataset onto the model's device.
 * Rows are gathered (in a given order) into host staging buffers and
 * uploaded into device tensors made once, so a step allocates nothing.
 * Targets become what the loss op wants: class indices (m x 1) for
 * cross-entropy, or m x outputs values, expanding class indices to one-hot
 * when the dataset holds classes and the loss is MSE or BCE. */
#ifndef SOMA_TRAIN_FEEDER_H
#define SOMA_TRAIN_FEEDER_H

#include "soma/train.h"

typedef struct soma_feeder {
    const soma_dataset *ds;
    int64_t batch, features, target_cols;
    int64_t part; /* rows of the last, partial batch (0: none); this rank's share of both on several ranks */
    int one_hot;
    float *x_host, *y_host;
    soma_tensor *x, *y;           /* batch rows */
    soma_tensor *x_part, *y_part; /* views of the first rows, for a last partial batch */
    /* resident (soma_feeder_make_resident): the whole dataset on the device,
     * targets already as the loss wants them, and the epoch's order */
    soma_tensor *x_all, *y_all, *order;
    float *order_host;
    /* streamed (soma_feeder_stream): each batch through a pinned slot and a
     * copy stream into one of two sets of batch tensors, alternating, so the
     * next batch's gather and copy overlap this one's step */
    void *staging;
    int slot;                                /* of the batch being taken */
    soma_tensor *xs[2], *ys[2], *xs_part[2], *ys_part[2]; /* set 0 is x, y */
} soma_feeder;

/* Checks ds's targets against the loss and the model's outputs, naming the
 * first row at fault. */
soma_status soma_check_targets(const char *api, const soma_dataset *ds, soma_loss loss, int64_t outputs);

soma_status soma_feeder_init(soma_feeder *f, soma_device *dev, const soma_dataset *ds, int64_t batch,
                             soma_loss loss, int64_t outputs);
/* The same for one rank of several (src/dist): `batch` rows of each full
 * global batch and `part` rows of its last, partial one (0: none). */
soma_status soma_feeder_init_shard(soma_feeder *f, soma_device *dev, const soma_dataset *ds, int64_t batch,
                                   int64_t part, soma_loss loss, int64_t outputs);
/* Loads rows order[first .. first+count) (or first.. when order is NULL);
 * count is the batch size or, for the last batch, the partial size. */
soma_status soma_feeder_load(soma_feeder *f, const int64_t *order, int64_t first, int64_t count,
                             soma_tensor **x, soma_tensor **y);
void soma_feeder_free(soma_feeder *f);

/* Device bytes that soma_feeder_make_resident would take. */
uint64_t soma_feeder_resident_bytes(const soma_feeder *f);
/* Uploads the whole dataset once, so that a batch is a gather on the device
 * (soma_feeder_take) and an epoch uploads only its order. Needs fewer than
 * 2^24 rows (row indices travel as exact floats). */
soma_status soma_feeder_make_resident(soma_feeder *f);
/* Resident feeders: uploads the epoch's order (a permutation of the rows). */
soma_status soma_feeder_begin_epoch(soma_feeder *f, const int64_t *order);
/* Batches from the host through pinned double buffers on devices that have
 * them (CUDA); nothing elsewhere. soma_feeder_done must follow each
 * soma_feeder_take once the step that reads the batch is queued. */
soma_status soma_feeder_stream(soma_feeder *f);
soma_status soma_feeder_done(soma_feeder *f);
/* The batch of the step at ctl's clock (core/step_ctl.h): count rows from
 * position clock * batch of the epoch's order, gathered on the device for a
 * resident feeder, else gathered on the host from order and uploaded (the
 * host's `first` must then be that same position). */
soma_status soma_feeder_take(soma_feeder *f, const soma_tensor *ctl, const int64_t *order, int64_t first,
                             int64_t count, soma_tensor **x, soma_tensor **y);

#endif
