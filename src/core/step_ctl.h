/* step_ctl.h: the training step's control block, which lives in device
 * memory so that a step needs nothing from the host (a CUDA graph of the
 * step stays valid for the whole run).
 *
 * The block is SOMA_CTL_SIZE floats. Counts are whole numbers stored in two
 * floats, hi * 2^24 + lo with lo < 2^24, each exact in a float:
 *
 *   clock   the step within the epoch: step_begin reads a schedule row at
 *           clock and advances it; gather_rows takes rows clock * stride on
 *   status  0, or the run's step t at which the loss or the gradient norm was
 *           first not finite (watch_loss, clip_scale); the updates skip every
 *           step while it is set, so the weights stay those of that step
 *   step    the run's step t (1-based), copied from the schedule: dropout
 *           draws its Philox stream from it
 *   lr, bc1, bc2   this step's learning rate and Adam's bias corrections
 *           1/(1-beta1^t), 1/(1-beta2^t), copied from the schedule
 *   scale   the factor the updates apply to the gradients: 1, or
 *           clip / |g| when clipping and the global norm |g| is larger
 *   bad_kind, bad_value   what was not finite at the status's step:
 *           1 the loss, 2 the gradients' squared norm; and its value
 *
 * A schedule row (SOMA_SCHED_COLS floats), one per step of an epoch, is
 * computed on the host once per epoch: lr, bc1, bc2, step (two floats).
 *
 * Shared by the CPU kernels, the CUDA kernels and the float64 references
 * (SOMA_HD: host and device). */
#ifndef SOMA_CORE_STEP_CTL_H
#define SOMA_CORE_STEP_CTL_H

#include <math.h>
#include <stdint.h>
#include "core/philox.h" /* SOMA_HD */

#define SOMA_CTL_CLOCK 0  /* 2 floats */
#define SOMA_CTL_STATUS 2 /* 2 floats */
#define SOMA_CTL_STEP 4   /* 2 floats */
#define SOMA_CTL_LR 6
#define SOMA_CTL_BC1 7
#define SOMA_CTL_BC2 8
#define SOMA_CTL_SCALE 9
#define SOMA_CTL_BAD_KIND 10
#define SOMA_CTL_BAD_VALUE 11
#define SOMA_CTL_SIZE 12

#define SOMA_BAD_LOSS 1
#define SOMA_BAD_GRAD_NORM 2

#define SOMA_SCHED_LR 0
#define SOMA_SCHED_BC1 1
#define SOMA_SCHED_BC2 2
#define SOMA_SCHED_STEP 3 /* 2 floats */
#define SOMA_SCHED_COLS 5

#define SOMA_CTL_LO_LIMIT 16777216.0f /* 2^24 */

/* The count at c[0..1]. */
SOMA_HD int64_t soma_ctl_count(const float *c) {
    return (int64_t)c[0] * (int64_t)16777216 + (int64_t)c[1];
}

SOMA_HD void soma_ctl_set_count(float *c, int64_t v) {
    c[0] = (float)(v >> 24);
    c[1] = (float)(v & 0xffffff);
}

/* Records step t as the first bad one, with what was not finite, unless
 * one is recorded already. */
SOMA_HD void soma_ctl_mark_bad(float *ctl, int kind, float value) {
    if (soma_ctl_count(ctl + SOMA_CTL_STATUS) == 0) {
        ctl[SOMA_CTL_STATUS] = ctl[SOMA_CTL_STEP];
        ctl[SOMA_CTL_STATUS + 1] = ctl[SOMA_CTL_STEP + 1];
        ctl[SOMA_CTL_BAD_KIND] = (float)kind;
        ctl[SOMA_CTL_BAD_VALUE] = value;
    }
}

/* step_begin: row `clock` of the schedule into the block; clock + 1. */
SOMA_HD void soma_ctl_begin(const float *schedule, float *ctl) {
    int64_t clock = soma_ctl_count(ctl + SOMA_CTL_CLOCK);
    const float *row = schedule + clock * SOMA_SCHED_COLS;
    ctl[SOMA_CTL_LR] = row[SOMA_SCHED_LR];
    ctl[SOMA_CTL_BC1] = row[SOMA_SCHED_BC1];
    ctl[SOMA_CTL_BC2] = row[SOMA_SCHED_BC2];
    ctl[SOMA_CTL_STEP] = row[SOMA_SCHED_STEP];
    ctl[SOMA_CTL_STEP + 1] = row[SOMA_SCHED_STEP + 1];
    ctl[SOMA_CTL_SCALE] = 1.0f;
    soma_ctl_set_count(ctl + SOMA_CTL_CLOCK, clock + 1);
}

/* watch_loss: sum += rows * loss, and a loss that is not finite marks the
 * step bad. */
SOMA_HD void soma_ctl_watch_loss(float loss, float rows, float *sum, float *ctl) {
#ifdef __CUDA_ARCH__
    *sum = __fadd_rn(*sum, __fmul_rn(rows, loss)); /* no fma: the CPU's two roundings */
#else
    *sum = *sum + rows * loss;
#endif
    if (!isfinite(loss)) soma_ctl_mark_bad(ctl, SOMA_BAD_LOSS, loss);
}

/* clip_scale: the gradients' squared norm is the sum of the k parts, added
 * in order in double; scale = clip / sqrt(total) when that is over clip. A
 * norm that is not finite marks the step bad. */
SOMA_HD void soma_ctl_clip(const float *parts, int64_t k, float clip, float *ctl) {
    double total = 0.0;
    for (int64_t i = 0; i < k; i++) total += (double)parts[i];
    double norm = sqrt(total);
    if (!isfinite(norm)) {
        soma_ctl_mark_bad(ctl, SOMA_BAD_GRAD_NORM, (float)total);
        return;
    }
    ctl[SOMA_CTL_SCALE] = norm > (double)clip ? (float)((double)clip / norm) : 1.0f;
}

/* The Philox offset of dropout at the block's step: base + (t - 1) stride,
 * so that step t draws what the host-driven call with offset
 * base + (t - 1) stride draws. */
SOMA_HD uint64_t soma_ctl_dropout_offset(const float *ctl, uint64_t base, int64_t stride) {
    int64_t t = soma_ctl_count(ctl + SOMA_CTL_STEP);
    return base + (uint64_t)(t > 0 ? t - 1 : 0) * (uint64_t)stride;
}

#endif
