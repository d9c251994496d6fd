/* train_ranks.c: see train_ranks.h. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "soma/device.h"

#include "interrupt.h"
#include "train_ranks.h"

int ranks_open(soma_dist **d) {
    if (soma_dist_open(d) == SOMA_OK) return 0;
    fprintf(stderr, "soma train: %s\n", soma_last_error());
    return 1;
}

int ranks_device(train_args *a, const soma_dist *d) {
    static char spec[32];
    if (soma_dist_size(d) == 1 || (strcmp(a->device, "cuda") != 0 && strcmp(a->device, "auto") != 0)) return 0;
    const char *reason = NULL;
    int gpus = soma_cuda_device_count(&reason);
    if (gpus <= 0) return 0; /* "auto": the CPU; "cuda": its error comes when the device opens */
    snprintf(spec, sizeof spec, "cuda:%d", soma_dist_local_rank(d) % gpus);
    a->device = spec;
    return 0;
}

int ranks_quiet(train_args *a, const soma_dist *d) {
    if (soma_dist_rank(d) == 0) return 0;
    a->save = a->log = a->plot = NULL;
    a->save_every = 0;
    if (!freopen("/dev/null", "w", stdout)) {
        fprintf(stderr, "soma train: rank %d: cannot silence standard output\n", soma_dist_rank(d));
        return 1;
    }
    return 0;
}

int ranks_agree(soma_dist *d, int code) {
    if (soma_dist_size(d) == 1) return code;
    if (code == 0) soma_clear_error();
    /* what a failed rank printed is on standard error already; its
     * soma_last_error() is the library's part of it, when there is one */
    soma_status st = soma_dist_agree(d, code ? SOMA_ERR_INVALID_ARG : SOMA_OK);
    if (st == SOMA_OK) return 0;
    if (code == 0 && soma_dist_rank(d) == 0) fprintf(stderr, "soma train: %s\n", soma_last_error());
    return code ? code : 1;
}

int ranks_quiet_failure(const soma_dist *d) { return soma_dist_rank(d) != 0 && soma_dist_failure_agreed(d); }

void ranks_describe(const soma_dist *d, long long batch) {
    int n = soma_dist_size(d);
    if (n == 1) return;
    printf("ranks: %d (%s), batch %lld = %d x %lld rows per step\n", n, soma_dist_description(d), batch, n,
           batch / n);
}

void ranks_report_check(const soma_dist *d) {
    long long steps = soma_dist_checked_steps(d);
    if (soma_dist_rank(d) == 0 && steps > 0)
        fprintf(stderr, "soma train: SOMA_DIST_CHECK: the weights of all %d ranks were bit-identical after each "
                "of %lld steps (gradients reduced by %s)\n", soma_dist_size(d), steps, soma_dist_reducer(d));
}

void ranks_finish(soma_dist *d) {
    int unused = 0;
    if (soma_dist_any(d, &unused) != SOMA_OK && soma_dist_rank(d) == 0)
        fprintf(stderr, "soma train: waiting for the other ranks failed: %s\n", soma_last_error());
}

void ranks_agree_interrupt(soma_dist *d) {
    float got[2] = {interrupt_signal == SIGINT, interrupt_signal == SIGTERM};
    if (soma_dist_size(d) == 1 || soma_dist_all_reduce_sum(d, got, 2) != SOMA_OK) return;
    if (!interrupt_signal && (got[0] > 0 || got[1] > 0)) interrupt_signal = got[0] > 0 ? SIGINT : SIGTERM;
}
