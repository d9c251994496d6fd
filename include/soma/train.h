/**
 * @file soma/train.h
 * @brief The training loop, evaluation and prediction, written once on the
 * tensor API so that it runs unchanged on the CPU and on a GPU.
 */
#ifndef SOMA_TRAIN_H
#define SOMA_TRAIN_H

#include "soma/export.h"

#include <signal.h>

#include "soma/data.h"
#include "soma/dist.h"
#include "soma/optim.h"
#include "soma/profile.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The losses a model trains on. */
typedef enum soma_loss {
    SOMA_LOSS_XENT = 0, /**< softmax cross-entropy on logits, integer class targets */
    SOMA_LOSS_MSE,      /**< mean squared error; class targets become one-hot */
    SOMA_LOSS_BCE,      /**< binary cross-entropy on logits; targets in [0, 1] or classes one-hot */
    SOMA_LOSS_COUNT     /**< the number of losses (not a loss) */
} soma_loss;

/** The loss's name: "xent", "mse", "bce"; NULL when out of range. */
SOMA_API const char *soma_loss_name(soma_loss loss);
/** Parses those names; an unknown one is SOMA_ERR_INVALID_ARG. */
SOMA_API soma_status soma_loss_parse(const char *name, soma_loss *out);

/** What soma_train() reports after every epoch (soma_train_config::on_epoch). */
typedef struct soma_epoch_report {
    /**@{*/
    /** epoch: which epoch this is (1-based); epochs: of how many */
    int epoch, epochs;
    /**@}*/
    double train_loss;           /**< mean over the epoch's samples */
    double val_loss;             /**< NaN without validation data */
    double val_accuracy;         /**< NaN without validation data or for regression */
    float lr;                    /**< learning rate of the last update */
    double seconds;              /**< wall time of the epoch, validation included */
    int64_t samples;             /**< training samples seen in the epoch */
    int n_layers;                /**< the model's dense layers */
    double dead_relu[SOMA_MAX_LAYERS]; /**< fraction of ReLU units never active in the epoch;
                                            NaN for layers that are not ReLU */
    int best;                    /**< the best validation loss so far */
    soma_profile profile;        /**< where the epoch's time went (soma_train_config::profile);
                                      all zero when not profiled */
    int data_resident;           /**< the training data was on the device: batches gathered there */
    int64_t graph_steps;         /**< steps of the epoch replayed from one recorded step (CUDA graph) */
} soma_epoch_report;

/** How soma_train() trains. */
typedef struct soma_train_config {
    soma_loss loss;    /**< what is minimized */
    int64_t batch;     /**< rows per step (128) */
    int epochs;        /**< total epochs, counting those done before a resume */
    uint64_t seed;     /**< shuffling and dropout masks */
    int no_shuffle;    /**< 1: batches in data order */
    int patience;      /**< > 0: stop after this many epochs without a better validation
                            loss, and restore the best weights */
    /** Called after every epoch; returning non-zero stops training. */
    int (*on_epoch)(const soma_epoch_report *report, void *user);
    /** Called after every step (for progress bars); may be NULL. */
    void (*on_batch)(int64_t batch, int64_t batches, void *user);
    void *user;        /**< passed to the callbacks */
    int profile;       /**< 1: time the parts of every epoch (soma_epoch_report::profile) */
    /** When not NULL, read after every step: once it is non-zero, soma_train()
     *  stops after that step and returns SOMA_OK with the state where it
     *  stopped (steps_in_epoch > 0 in the middle of an epoch), so a checkpoint
     *  saved then resumes exactly. A signal handler may set it. */
    const volatile sig_atomic_t *stop;
    /** Data parallelism (soma/dist.h): every rank trains on its share of each
     *  global batch of `batch` rows and the gradients are averaged before
     *  every update. NULL, or a single process: training as without it. */
    soma_dist *dist;
    /** Steps between reads of the device's loss sum and non-finite flag
     *  (each read makes the host wait for the device); 0: once per epoch.
     *  A non-finite loss stops training at the next read, naming its step. */
    int64_t check_every;
    /** Called after each such read with the steps done in the epoch and
     *  the mean training loss over them; may be NULL. */
    void (*on_check)(int64_t steps, double mean_loss, void *user);
    /** 1: queue every step's ops one by one; 0: where the device can (CUDA)
     *  and the data is resident, record one step into a graph and replay it
     *  (the same weights either way). */
    int no_graph;
    /** Device memory the training data may take to be uploaded once and
     *  batched on the device, in bytes; 0: half of the free device memory;
     *  -1: never (batches are gathered on the host and uploaded). Devices
     *  whose memory is the host's (the CPU) read the data where it is. */
    int64_t data_budget;
    /** The precision of the model's GEMMs (fp32 by default; the CLI's
     *  --precision): soma_train() sets it on the model
     *  (soma_mlp_set_precision()), which keeps it for later evaluation. */
    soma_precision precision;
} soma_train_config;

/** Where a run stands, for checkpoints: soma_train() starts after epochs_done
 *  epochs and steps_in_epoch steps of the next (0 and 0 for a fresh run) and
 *  updates both. */
typedef struct soma_train_state {
    int epochs_done;      /**< epochs trained so far */
    int64_t steps_in_epoch; /**< steps of epoch epochs_done + 1 already done: non-zero only
                                 when a run was stopped in the middle of an epoch */
    int best_epoch;       /**< 0 when there is no validation data */
    double best_val_loss; /**< the validation loss of best_epoch */
    int stopped_early;    /**< patience ran out */
} soma_train_state;

/** Trains model with optimizer on train, validating on validation (may be
 *  NULL) after every epoch. Checks the targets against the model's outputs
 *  first (class indices in range, or matching column counts). Once the first
 *  steps have run, a step allocates nothing. */
SOMA_API soma_status soma_train(soma_mlp *model, soma_optimizer *optimizer, const soma_dataset *train,
                       const soma_dataset *validation, const soma_train_config *config,
                       soma_train_state *state);

/** Mean loss and accuracy (NaN for regression) of model on ds. */
SOMA_API soma_status soma_evaluate(soma_mlp *model, const soma_dataset *ds, soma_loss loss, double *mean_loss,
                          double *accuracy);

/** The model's raw outputs for every row of ds, into out (rows x outputs). */
SOMA_API soma_status soma_predict(soma_mlp *model, const soma_dataset *ds, float *out);

#ifdef __cplusplus
}
#endif
#endif
