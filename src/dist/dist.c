/* dist.c: the ranks of a data-parallel run (soma/dist.h): joining them,
 * agreeing on failures, and the collectives on host memory. A single
 * process (no launcher, one rank, or d == NULL) never calls a communicator:
 * every function returns at once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "dist/dist_internal.h"

#define MESSAGE_BYTES 1024 /* soma_last_error()'s buffer */

/* The rank count a launcher announced, and the variable that said so; 0 when
 * none did. OpenMPI's mpirun sets OMPI_COMM_WORLD_SIZE, MPICH's hydra
 * PMI_SIZE, Slurm's srun SLURM_STEP_NUM_TASKS. */
static long launcher_size(const char **which) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (!v || !*v) continue;
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (errno || *end || n < 1) continue;
        *which = vars[i];
        return n;
    }
    return 0;
}

soma_status soma_dist_open(soma_dist **out) {
    if (!out) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_dist_open: argument 'out' is NULL");
    *out = NULL;
    soma_dist *d = calloc(1, sizeof *d);
    if (!d) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "soma_dist_open: out of host memory");
    d->size = 1;
    const char *check = getenv("SOMA_DIST_CHECK");
    d->check_steps = check && strcmp(check, "1") == 0;
    const char *nccl = getenv("SOMA_DIST_NCCL");
    d->use_nccl = soma_nccl_built && !(nccl && strcmp(nccl, "0") == 0);
    snprintf(d->description, sizeof d->description, "single process");
    const char *var = NULL;
    long announced = launcher_size(&var);
    static const char *const locals[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"};
    d->local_rank = -1;
    for (size_t i = 0; i < sizeof locals / sizeof locals[0] && d->local_rank < 0; i++)
        if (getenv(locals[i])) d->local_rank = atoi(getenv(locals[i]));
    if (announced > 1) {
        soma_status st = soma_comm_mpi_open(&d->comm, &d->ctx, &d->rank, &d->size, d->description,
                                            sizeof d->description);
        if (st == SOMA_OK && d->size != announced) {
            /* e.g. MPICH's mpirun starting a soma linked to OpenMPI: each
             * process would be a world of its own, and all of them would
             * write the same checkpoint */
            st = soma_fail(SOMA_ERR_UNSUPPORTED, "soma_dist_open: the launcher started %ld ranks (%s) but MPI "
                           "sees %d; is soma linked to the MPI library of this launcher (%s)?",
                           announced, var, d->size, d->description);
        } else if (st == SOMA_ERR_UNSUPPORTED) {
            st = soma_fail(st, "soma_dist_open: started as one of %ld ranks (%s) but %s", announced, var,
                           soma_last_error());
        }
        if (st != SOMA_OK) {
            soma_dist_close(d);
            return st;
        }
    }
    if (d->local_rank < 0) d->local_rank = d->rank;
    *out = d;
    return SOMA_OK;
}

void soma_dist_close(soma_dist *d) {
    if (!d) return;
    soma_nccl_close(d->nccl); /* before MPI is finalized */
    if (d->comm) d->comm->close(d->ctx);
    free(d->flat);
    free(d);
}

int soma_dist_rank(const soma_dist *d) { return d ? d->rank : 0; }
int soma_dist_size(const soma_dist *d) { return d ? d->size : 1; }
int soma_dist_local_rank(const soma_dist *d) { return d ? d->local_rank : 0; }
const char *soma_dist_description(const soma_dist *d) { return d ? d->description : "single process"; }
int soma_dist_failure_agreed(const soma_dist *d) { return d ? d->failure_agreed : 0; }
const char *soma_dist_reducer(const soma_dist *d) {
    if (!d || d->size == 1) return "none (one process)";
    if (d->nccl) return soma_nccl_description(d->nccl);
    return d->nccl_missing[0] ? d->nccl_missing : "host buffer over MPI";
}
long long soma_dist_checked_steps(const soma_dist *d) { return d ? (long long)d->checked_steps : 0; }

static int several(const soma_dist *d) { return d && d->size > 1 && d->comm; }

soma_status soma_dist_agree(soma_dist *d, soma_status local) {
    if (!several(d)) return local;
    typedef struct outcome {
        int status;
        char message[MESSAGE_BYTES];
    } outcome;
    outcome mine = {.status = (int)local};
    if (local != SOMA_OK)
        snprintf(mine.message, sizeof mine.message, "%s", *soma_last_error() ? soma_last_error() : "(see its message above)");
    outcome *all = malloc((size_t)d->size * sizeof *all);
    if (!all) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "soma_dist_agree: out of host memory");
    soma_status st = d->comm->all_gather(d->ctx, &mine, all, sizeof mine);
    for (int r = 0; st == SOMA_OK && r < d->size; r++) {
        if (all[r].status == SOMA_OK) continue;
        all[r].message[MESSAGE_BYTES - 1] = '\0';
        int status = all[r].status > 0 && all[r].status < SOMA_STATUS_COUNT ? all[r].status : SOMA_ERR_BACKEND;
        st = soma_fail((soma_status)status, "rank %d of %d: %s", r, d->size, all[r].message);
        d->failure_agreed = 1;
    }
    free(all);
    return st;
}

soma_status soma_dist_any(soma_dist *d, int *flag) {
    if (!flag) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_dist_any: argument 'flag' is NULL");
    if (!several(d)) return SOMA_OK;
    double v = *flag ? 1.0 : 0.0;
    SOMA_TRY(d->comm->all_reduce_sum_f64(d->ctx, &v, 1));
    *flag = v > 0.0;
    return SOMA_OK;
}

soma_status soma_dist_broadcast(soma_dist *d, void *data, size_t bytes, int root) {
    if (!data && bytes) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_dist_broadcast: argument 'data' is NULL");
    if (root < 0 || root >= soma_dist_size(d))
        return soma_fail(SOMA_ERR_INVALID_ARG, "soma_dist_broadcast: root %d is not a rank (there are %d)", root,
                         soma_dist_size(d));
    if (!several(d) || bytes == 0) return SOMA_OK;
    return d->comm->broadcast(d->ctx, data, bytes, root);
}

soma_status soma_dist_all_reduce_sum(soma_dist *d, float *data, size_t count) {
    if (!data && count) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_dist_all_reduce_sum: argument 'data' is NULL");
    if (!several(d) || count == 0) return SOMA_OK;
    return d->comm->all_reduce_sum_f32(d->ctx, data, count);
}

void soma_dist_fail(soma_dist *d, int exit_code) {
    if (!several(d) || d->failure_agreed) return;
    d->comm->abort(d->ctx, exit_code);
}
