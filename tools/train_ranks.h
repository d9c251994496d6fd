/* train_ranks.h: `soma train` on several ranks (mpirun -np N soma train ...).
 *
 * Every rank runs the whole command on the same options; rank 0 alone writes
 * (checkpoints, --log, --plot, standard output), the others train quietly
 * and speak only of their own failures, on standard error. The ranks agree
 * on failures at the points where one rank may fail alone: loading before
 * training, and (inside soma_train) every epoch; a rank whose step fails
 * ends them all (soma_dist_fail). */
#ifndef SOMA_TOOLS_TRAIN_RANKS_H
#define SOMA_TOOLS_TRAIN_RANKS_H

#include "soma/dist.h"
#include "train_args.h"

/* Joins the ranks; on failure says why and returns 1. */
int ranks_open(soma_dist **d);

/* --device cuda or auto on several ranks: one GPU per rank, the
 * (local rank % GPUs)th. */
int ranks_device(train_args *a, const soma_dist *d);

/* On every rank but 0: no outputs (--save, --save-every, --log, --plot) and
 * standard output to /dev/null. */
int ranks_quiet(train_args *a, const soma_dist *d);

/* Collective: this rank's outcome of the preparation (an exit code) against
 * the others'. A rank that failed has said why; rank 0 names a failed
 * other rank and its message. Returns this rank's code, or 1 when another
 * rank failed. */
int ranks_agree(soma_dist *d, int code);

/* Whether this rank keeps quiet about a failure: another rank (0) reports
 * it, because every rank knows of it. */
int ranks_quiet_failure(const soma_dist *d);

/* The header's line: "ranks: 2 (MPI (Open MPI v4.1.4)), batch 128 = 2 x 64 rows" */
void ranks_describe(const soma_dist *d, long long batch);

/* SOMA_DIST_CHECK=1: rank 0 says how many steps were checked (on standard error). */
void ranks_report_check(const soma_dist *d);

/* Collective, after soma_train() returned SOMA_OK: when a rank received
 * SIGINT or SIGTERM (and so every rank stopped after the same step), every
 * rank takes it as its own (SIGINT first), so that rank 0 saves and says so. */
void ranks_agree_interrupt(soma_dist *d);

/* Collective, after training: no rank ends (and lets mpirun stop the job)
 * before rank 0 has saved what it saves. */
void ranks_finish(soma_dist *d);

#endif
