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
    int one_hot;
    float *x_host, *y_host;
    soma_tensor *x, *y;           /* batch rows */
    soma_tensor *x_part, *y_part; /* views of the first rows, for a last partial batch */
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

#endif
