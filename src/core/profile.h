/* profile.h: where the time of a training run goes (soma_train_config::profile,
 * `soma train --profile`).
 *
 * While a soma_profile is attached to a device, every op run on that device
 * adds its time to the part its declaration names (op_list.h: GEMM,
 * elementwise, dropout, ...), and code that opens a phase (data gathering, the
 * loss, the optimizer, validation) has everything until it closes the phase
 * counted to that phase instead, ops included. The device is synchronized
 * after each timed op and at each phase boundary, so on a GPU the time is the
 * work's and not its launch's: profiling a GPU run slows it down. Without a
 * profile attached all of this costs one pointer test per op. */
#ifndef SOMA_CORE_PROFILE_H
#define SOMA_CORE_PROFILE_H

#include "core/backend.h"
#include "soma/profile.h"

/* Starts counting ops on dev into *into (added to what it holds). */
void soma_profile_attach(soma_device *dev, soma_profile *into);
/* Stops counting, and puts into "other" what total_seconds (the wall time of
 * what was profiled) holds beyond the parts counted. */
void soma_profile_detach(soma_device *dev, double total_seconds);

/* Runs an op's kernel and counts its time (ops.c, while a profile is attached). */
soma_status soma_profile_run_op(soma_device *dev, soma_op_kernel kernel, const soma_op_call *call);

/* An open phase: begin ... end count the time in between to one part. */
typedef struct soma_profile_phase {
    soma_device *dev; /* NULL when nothing is attached: begin and end do nothing */
    soma_profile_part part;
    double start;
} soma_profile_phase;
soma_status soma_profile_begin(soma_device *dev, soma_profile_part part, soma_profile_phase *phase);
soma_status soma_profile_end(soma_profile_phase *phase);

/* SOMA_TRY of expr, its time counted to part while dev is profiled. */
#define SOMA_TRY_PROFILED(dev, part, expr)                                                     \
    do {                                                                                   \
        soma_profile_phase soma_phase_;                                                    \
        SOMA_TRY(soma_profile_begin((dev), (part), &soma_phase_));                         \
        SOMA_TRY(expr);                                                                    \
        SOMA_TRY(soma_profile_end(&soma_phase_));                                          \
    } while (0)

#endif
