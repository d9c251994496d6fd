/**
 * @file soma/dist.h
 * @brief Data-parallel training over several processes (ranks).
 *
 * Every rank holds the whole model and trains on its own slice of every
 * global batch; the gradients are averaged by one all-reduce per step before
 * the optimizer, so all ranks keep the same weights. Launch the ranks with
 * `mpirun -np N` (or any launcher that sets the usual rank variables:
 * OMPI_COMM_WORLD_RANK/SIZE, PMI_RANK/SIZE, SLURM_PROCID/NTASKS), open a
 * soma_dist in each and pass it to soma_train() (soma_train_config::dist).
 *
 * Started without a launcher, or as one rank, soma_dist_open() gives a single
 * process: every call below returns at once and training is exactly what it
 * is without a soma_dist. The functions named collective must be called by
 * every rank, in the same order.
 */
#ifndef SOMA_DIST_H
#define SOMA_DIST_H

#include <stddef.h>

#include "soma/export.h"
#include "soma/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The ranks of one run (opaque). NULL stands for a single process everywhere. */
typedef struct soma_dist soma_dist;

/** Joins the ranks the launcher started (MPI_Init when there are several).
 *  Launched as several ranks by a soma built without MPI: SOMA_ERR_UNSUPPORTED
 *  (on every rank, so none waits for another). */
SOMA_API soma_status soma_dist_open(soma_dist **out);

/** Leaves the ranks (MPI_Finalize) and frees d; NULL is ignored. */
SOMA_API void soma_dist_close(soma_dist *d);

/** This process's rank, 0 .. size-1 (0 for NULL). */
SOMA_API int soma_dist_rank(const soma_dist *d);
/** This process's rank among those on its machine (OMPI_COMM_WORLD_LOCAL_RANK,
 *  MPI_LOCALRANKID or SLURM_LOCALID; the rank when none is set): which GPU
 *  to take, one rank per GPU. */
SOMA_API int soma_dist_local_rank(const soma_dist *d);
/** The number of ranks (1 for NULL). */
SOMA_API int soma_dist_size(const soma_dist *d);
/** How the ranks talk: "single process" or "MPI" with its library version. */
SOMA_API const char *soma_dist_description(const soma_dist *d);

/** Collective: every rank passes its outcome (SOMA_OK, or the failure whose
 *  message is soma_last_error()). Returns SOMA_OK when every rank succeeded;
 *  otherwise, on every rank, the status of the lowest failing rank, with
 *  soma_last_error() reading "rank R of N: <its message>". */
SOMA_API soma_status soma_dist_agree(soma_dist *d, soma_status local);

/** Collective: *flag becomes 1 on every rank when it was non-zero on any. */
SOMA_API soma_status soma_dist_any(soma_dist *d, int *flag);

/** Collective: bytes from rank root into data on every rank. */
SOMA_API soma_status soma_dist_broadcast(soma_dist *d, void *data, size_t bytes, int root);

/** Collective: the element-wise sum of count floats (host memory) over the
 *  ranks, in place on every rank. The ranks get bit-identical sums. */
SOMA_API soma_status soma_dist_all_reduce_sum(soma_dist *d, float *data, size_t count);

/** With the environment variable SOMA_DIST_CHECK=1 set on every rank,
 *  soma_train() compares a CRC-32 of every rank's weights after every step
 *  (a mismatch is SOMA_ERR_NUMERIC naming the step and the rank); this is how
 *  many steps passed that check (0 without it). */
SOMA_API long long soma_dist_checked_steps(const soma_dist *d);

/** What reduced the gradients so far: "host buffer over MPI", or "NCCL
 *  2.28.9" once a GPU model's first step opened NCCL (SOMA_DIST_NCCL=0
 *  keeps GPU ranks on the host path). */
SOMA_API const char *soma_dist_reducer(const soma_dist *d);

/** 1 when soma_dist_agree() (or the SOMA_DIST_CHECK comparison) has given
 *  a failure to every rank, which then all know of it. */
SOMA_API int soma_dist_failure_agreed(const soma_dist *d);

/** For a rank that failed: when soma_dist_agree() gave the failure to every
 *  rank, it returns and the caller ends as usual. Otherwise the other ranks may
 *  be waiting for this one in a collective (a step's all-reduce), so it ends
 *  every rank at once with exit_code (MPI_Abort) and does not return. Nothing
 *  happens in a single process. */
SOMA_API void soma_dist_fail(soma_dist *d, int exit_code);

#ifdef __cplusplus
}
#endif
#endif
