/* dist_internal.h: the communicator table behind soma/dist.h, and the
 * hooks the training loop calls (src/train/train.c).
 *
 * A communicator is a table of collectives on host memory, like a backend's
 * op table: comm_mpi.c fills it from MPI; a single process has none (every
 * collective is then the identity and is never called). A GPU communicator
 * (NCCL) would be a second table whose buffers are device memory. */
#ifndef SOMA_DIST_INTERNAL_H
#define SOMA_DIST_INTERNAL_H

#include <signal.h>
#include <stdint.h>

#include "soma/dist.h"
#include "soma/model.h"
#include "soma/optim.h"
#include "soma/train.h"

typedef struct soma_comm {
    const char *name;
    /* in place: the element-wise sum over the ranks, identical on every rank */
    soma_status (*all_reduce_sum_f32)(void *ctx, float *data, size_t count);
    soma_status (*all_reduce_sum_f64)(void *ctx, double *data, size_t count);
    /* every rank's `bytes` bytes, in rank order, into all (size * bytes) */
    soma_status (*all_gather)(void *ctx, const void *mine, void *all, size_t bytes);
    soma_status (*broadcast)(void *ctx, void *data, size_t bytes, int root);
    void (*abort)(void *ctx, int exit_code); /* ends every rank; does not return */
    void (*close)(void *ctx);
} soma_comm;

/* NCCL between GPU ranks (comm_nccl.c, or comm_nccl_absent.c). */
typedef struct soma_nccl soma_nccl;
extern const int soma_nccl_built;
/* Collective: a communicator for the ranks' GPUs (dev on this rank); *out
 * stays NULL, with the reason in d->nccl_missing, when some rank cannot load
 * libnccl. */
soma_status soma_nccl_open(soma_dist *d, soma_device *dev, soma_nccl **out);
void soma_nccl_close(soma_nccl *n);
const char *soma_nccl_description(const soma_nccl *n);
/* Collective: grads[0..count) become the sum over the ranks of share x each
 * rank's; *flag (host) the sum of the ranks' flags. Waits for the device. */
soma_status soma_nccl_average(soma_nccl *n, soma_device *dev, soma_tensor *const *grads, int count, float share,
                              float *flag);

struct soma_dist {
    int rank, size;
    int local_rank;        /* among the ranks of this machine (the launcher's variable; else rank) */
    const soma_comm *comm; /* NULL in a single process */
    void *ctx;
    char description[160];
    int failure_agreed;    /* soma_dist_agree() returned a failure to every rank */
    int check_steps;       /* SOMA_DIST_CHECK=1: compare the ranks' weights after every step */
    int64_t steps;         /* gradient all-reduces done */
    int64_t checked_steps; /* how many steps that check passed */
    float *flat;           /* the gradients of every layer and a stop flag, for one all-reduce */
    int use_nccl;          /* GPU models reduce over NCCL (built with it, SOMA_DIST_NCCL not 0) */
    soma_nccl *nccl;       /* opened at the first step of a GPU model */
    char nccl_missing[200]; /* the host path and why NCCL could not be loaded, when it could not */
    size_t flat_count;
};

/* The MPI communicator (comm_mpi.c, or comm_mpi_absent.c without MPI):
 * MPI_Init, then the rank and size it reports. */
soma_status soma_comm_mpi_open(const soma_comm **comm, void **ctx, int *rank, int *size, char *description,
                               size_t description_size);

/* This rank's rows of every global batch: `batch` rows at batch_first of a
 * full batch, `part` rows at part_first of the last, partial one (rows %
 * batch rows; part is 0 when there is none). Rank r of N takes rows
 * [count * r / N, count * (r + 1) / N) of a batch of count rows. */
typedef struct soma_shard {
    int64_t batch, batch_first, part, part_first;
} soma_shard;

/* The global batch must split: batch % size == 0, and a last partial batch
 * must give every rank a row. */
soma_status soma_dist_check_batch(const soma_dist *d, int64_t batch, int64_t rows);
soma_shard soma_dist_shard(const soma_dist *d, int64_t batch, int64_t rows);

/* Collective, before the first step: every rank has the same data (a
 * CRC-32), weights, optimizer steps and settings as rank 0; otherwise an
 * agreed failure naming the first rank that differs and in what. */
soma_status soma_dist_check_same(soma_dist *d, soma_mlp *m, const soma_optimizer *o, const soma_dataset *train,
                                 const soma_train_config *c);

/* The dropout key of this rank: key itself on rank 0 (so a single process
 * draws as it always did), another stream on every other rank. */
uint64_t soma_dist_dropout_key(const soma_dist *d, uint64_t key);

/* After backward, before the optimizer: each rank's gradients (the mean
 * over its `rows` of the step's `global_rows`) become the mean over all
 * global_rows, by one all-reduce of a flat buffer that also carries each
 * rank's stop request (*stop non-zero), so that every rank stops after the
 * same step (*stop_all). Nothing happens (*stop_all = 0) in a single
 * process. */
soma_status soma_dist_average_gradients(soma_dist *d, soma_mlp *m, int64_t rows, int64_t global_rows,
                                        const volatile sig_atomic_t *stop, int *stop_all);

/* At the end of an epoch: the loss sum and the samples over every rank (and,
 * with SOMA_DIST_CHECK, the weights compared once more). */
soma_status soma_dist_end_epoch(soma_dist *d, soma_mlp *m, float *loss_sum, int64_t *samples);

#endif
