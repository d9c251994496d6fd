/* profile.c: time accounting for soma_train_config::profile (profile.h). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "core/profile.h"

#include <time.h>

#include "core/error.h"

static const char *const part_names[SOMA_PROFILE_PARTS] = {
    [SOMA_PROFILE_ELEMENTWISE] = "elementwise", [SOMA_PROFILE_GEMM] = "gemm",
    [SOMA_PROFILE_DROPOUT] = "dropout",         [SOMA_PROFILE_LOSS] = "loss",
    [SOMA_PROFILE_OPTIMIZER] = "optimizer",     [SOMA_PROFILE_DATA] = "data",
    [SOMA_PROFILE_VALIDATION] = "validation",   [SOMA_PROFILE_OTHER] = "other",
};

const char *soma_profile_part_name(soma_profile_part part) {
    return (int)part >= 0 && part < SOMA_PROFILE_PARTS ? part_names[part] : NULL;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void soma_profile_attach(soma_device *dev, soma_profile *into) {
    if (!dev) return;
    dev->profile = into;
    dev->profile_phase_open = 0;
}

void soma_profile_detach(soma_device *dev, double total_seconds) {
    if (!dev || !dev->profile) return;
    double counted = 0.0;
    for (int part = 0; part < SOMA_PROFILE_PARTS; part++)
        if (part != SOMA_PROFILE_OTHER) counted += dev->profile->seconds[part];
    dev->profile->seconds[SOMA_PROFILE_OTHER] += total_seconds > counted ? total_seconds - counted : 0.0;
    soma_profile_attach(dev, NULL);
}

soma_status soma_profile_run_op(soma_device *dev, soma_op_kernel kernel, const soma_op_call *call) {
    if (dev->profile_phase_open) return kernel(dev->ctx, call); /* the phase counts it */
    double start = now_seconds();
    soma_status st = kernel(dev->ctx, call);
    if (st == SOMA_OK) st = dev->backend->synchronize(dev->ctx);
    dev->profile->seconds[soma_op_table[call->op].part] += now_seconds() - start;
    return st;
}

soma_status soma_profile_begin(soma_device *dev, soma_profile_part part, soma_profile_phase *phase) {
    phase->dev = NULL;
    if (!dev || !dev->profile || dev->profile_phase_open) return SOMA_OK; /* phases do not nest */
    SOMA_TRY(dev->backend->synchronize(dev->ctx));
    *phase = (soma_profile_phase){.dev = dev, .part = part, .start = now_seconds()};
    dev->profile_phase_open = 1;
    return SOMA_OK;
}

soma_status soma_profile_end(soma_profile_phase *phase) {
    soma_device *dev = phase->dev;
    if (!dev) return SOMA_OK;
    phase->dev = NULL;
    dev->profile_phase_open = 0;
    soma_status st = dev->backend->synchronize(dev->ctx);
    if (dev->profile) dev->profile->seconds[phase->part] += now_seconds() - phase->start;
    return st;
}
