/* cpu_round.c: GEMM operands rounded to TF32 or bf16 (core/precision.h)
 * before the float32 kernel multiplies them, so that a reduced-precision
 * GEMM on the CPU is the reference for the same GEMM on a GPU.
 *
 * The rounded copies live in two grow-only buffers of the calling thread
 * (one per operand), freed with the GEMM's packing buffers, so a training
 * loop allocates nothing once its largest GEMM has run. */
#include <stdlib.h>

#include "core/error.h"
#include "core/precision.h"
#include "cpu/cpu_internal.h"
#include "cpu/cpu_parallel.h" /* soma_cpu_parallel_for */
#include "cpu/cpu_round.h"

static _Thread_local struct { float *buf; size_t cap; } tl_rounded[2];

void soma_cpu_round_release(void) {
    for (int i = 0; i < 2; i++) {
        free(tl_rounded[i].buf);
        tl_rounded[i].buf = NULL;
        tl_rounded[i].cap = 0;
    }
}

static soma_status reserve(int slot, size_t floats) {
    if (floats <= tl_rounded[slot].cap) return SOMA_OK;
    float *p = malloc(floats * sizeof *p);
    if (!p)
        return soma_fail(SOMA_ERR_OUT_OF_MEMORY,
                         "soma_gemm: no memory for a %zu-float rounded copy of operand %c", floats,
                         "ab"[slot]);
    free(tl_rounded[slot].buf);
    tl_rounded[slot].buf = p;
    tl_rounded[slot].cap = floats;
    return SOMA_OK;
}

typedef struct round_args {
    float *dst;
    const float *src;
    int precision;
} round_args;

static void round_range(const void *v, int64_t begin, int64_t end) {
    const round_args *a = v;
    for (int64_t i = begin; i < end; i++) a->dst[i] = soma_round_operand(a->src[i], a->precision);
}

/* Through the kernels' team (cpu_parallel.h): a separate OpenMP region here,
 * between the GEMM's, was measured 8x slower than the GEMM itself on a
 * loaded 2-core machine. */
static void round_into(float *dst, const float *src, int64_t count, int precision) {
    round_args a = {dst, src, precision};
    soma_cpu_parallel_for(count, 1, 16, round_range, &a);
}

soma_status soma_cpu_round_operands(const soma_op_call *call, soma_tensor rounded[2],
                                    soma_op_call *out) {
    *out = *call;
    if (call->p.precision == SOMA_PRECISION_FP32) return SOMA_OK;
    for (int slot = 0; slot < 2; slot++) {
        const soma_tensor *t = call->in[slot];
        int64_t count = t->rows * t->cols; /* row stride cols: contiguous */
        SOMA_TRY(reserve(slot, (size_t)count));
        round_into(tl_rounded[slot].buf, t->data, count, call->p.precision);
        rounded[slot] = *t;
        rounded[slot].data = tl_rounded[slot].buf;
        rounded[slot].allocation = NULL;
        out->in[slot] = &rounded[slot];
    }
    return SOMA_OK;
}
