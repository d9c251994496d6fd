/* reference_step.c: float64 references of the training step's control ops
 * (core/step_ctl.h explains the control block). The counts in a block are
 * whole numbers, exact in double as in float. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/step_ctl.h"
#include "ref/reference.h"

static int64_t count_at(const double *c) { return (int64_t)c[0] * 16777216 + (int64_t)c[1]; }

static void set_count(double *c, int64_t v) {
    c[0] = (double)(v >> 24);
    c[1] = (double)(v & 0xffffff);
}

static void mark_bad(double *ctl, int kind, double value) {
    if (count_at(ctl + SOMA_CTL_STATUS) == 0) {
        ctl[SOMA_CTL_STATUS] = ctl[SOMA_CTL_STEP];
        ctl[SOMA_CTL_STATUS + 1] = ctl[SOMA_CTL_STEP + 1];
        ctl[SOMA_CTL_BAD_KIND] = kind;
        ctl[SOMA_CTL_BAD_VALUE] = value;
    }
}

/* (src, order, ctl) -> dst: dst[r] = src[order[clock * stride + r]] */
void soma_ref_gather_rows(const soma_ref_call *c) {
    const double *src = c->in[0], *order = c->in[1], *ctl = c->in[2];
    int64_t rows = c->out_shape[0].rows, cols = c->out_shape[0].cols;
    int64_t stride = c->p.step_stride ? c->p.step_stride : rows;
    int64_t first = count_at(ctl + SOMA_CTL_CLOCK) * stride;
    for (int64_t r = 0; r < rows; r++) {
        int64_t row = (int64_t)order[first + r];
        for (int64_t j = 0; j < cols; j++) c->out[0][r * cols + j] = src[row * cols + j];
    }
}

/* schedule -> ctl: the row at clock into the block, clock + 1, scale 1 */
void soma_ref_step_begin(const soma_ref_call *c) {
    double *ctl = c->out[0];
    int64_t clock = count_at(ctl + SOMA_CTL_CLOCK);
    const double *row = c->in[0] + clock * SOMA_SCHED_COLS;
    ctl[SOMA_CTL_LR] = row[SOMA_SCHED_LR];
    ctl[SOMA_CTL_BC1] = row[SOMA_SCHED_BC1];
    ctl[SOMA_CTL_BC2] = row[SOMA_SCHED_BC2];
    ctl[SOMA_CTL_STEP] = row[SOMA_SCHED_STEP];
    ctl[SOMA_CTL_STEP + 1] = row[SOMA_SCHED_STEP + 1];
    ctl[SOMA_CTL_SCALE] = 1.0;
    set_count(ctl + SOMA_CTL_CLOCK, clock + 1);
}

/* loss -> (sum += alpha loss, ctl: the step marked bad if loss is not finite) */
void soma_ref_watch_loss(const soma_ref_call *c) {
    double loss = c->in[0][0];
    c->out[0][0] += (double)c->p.alpha * loss;
    if (!isfinite(loss)) mark_bad(c->out[1], SOMA_BAD_LOSS, loss);
}

/* parts -> ctl: scale = clip / sqrt(sum parts) when that norm is over clip */
void soma_ref_clip_scale(const soma_ref_call *c) {
    double total = 0.0, *ctl = c->out[0];
    for (int64_t i = 0; i < NUMEL_OF(c->in_shape[0]); i++) total += c->in[0][i];
    double norm = sqrt(total);
    if (!isfinite(norm))
        mark_bad(ctl, SOMA_BAD_GRAD_NORM, total);
    else
        ctl[SOMA_CTL_SCALE] = norm > (double)c->p.alpha ? (double)c->p.alpha / norm : 1.0;
}

/* The update op's reference with lr, corrections and the scaled gradient
 * taken from the block; nothing when the block's status is set. */
static void update_from_ctl(const soma_ref_call *c, void (*update)(const soma_ref_call *)) {
    const double *ctl = c->in[1];
    if (count_at(ctl + SOMA_CTL_STATUS) != 0) return;
    int64_t n = NUMEL_OF(c->in_shape[0]);
    double *g = malloc((size_t)(n ? n : 1) * sizeof *g);
    if (!g) abort(); /* test code: the float64 oracle has no error path */
    for (int64_t i = 0; i < n; i++) g[i] = ctl[SOMA_CTL_SCALE] * c->in[0][i];
    soma_ref_call u = *c;
    u.in[0] = g;
    u.p.lr = (float)ctl[SOMA_CTL_LR];
    u.p.bias_correction1 = (float)ctl[SOMA_CTL_BC1];
    u.p.bias_correction2 = (float)ctl[SOMA_CTL_BC2];
    update(&u);
    free(g);
}

void soma_ref_sgd_step(const soma_ref_call *c) { update_from_ctl(c, soma_ref_sgd_update); }
void soma_ref_adam_step(const soma_ref_call *c) { update_from_ctl(c, soma_ref_adam_update); }

/* (x, bias, ctl) -> bias_act_dropout with offset + (t - 1) stride */
void soma_ref_bias_act_dropout_step(const soma_ref_call *c) {
    int64_t t = count_at(c->in[2] + SOMA_CTL_STEP);
    soma_ref_call u = *c;
    u.p.offset = c->p.offset + (uint64_t)(t > 0 ? t - 1 : 0) * (uint64_t)c->p.step_stride;
    soma_ref_bias_act_dropout(&u);
}
