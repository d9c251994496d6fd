/* cpu_dropout.c: dropout on the CPU: the standalone op, which draws its
 * mask again on the way back, and the hidden layer's fused pass, which
 * keeps the mask (1 bit per element) so that its backward draws nothing.
 *
 * Element e of a mask is kept when the Philox word of e (word e % 4 of
 * block e / 4 of the stream {seed, offset}) is >= soma_dropout_threshold(p):
 * integer arithmetic, the very comparison the CUDA kernels make, so the
 * backends' masks agree bit for bit. The words are drawn 32 blocks (128
 * elements) at a time by the instruction set's generator (cpu_philox.h),
 * every word used, into a buffer in L1, and the loops that consume them are
 * plain C the compiler vectorises per instruction set. */
#include "core/act_math.h"
#include "core/philox.h"
#include "core/step_ctl.h"
#include "cpu/cpu_internal.h"
#include "cpu/cpu_parallel.h"
#include "cpu/cpu_philox.h"

#define ELEMENTS_PER_GROUP (4 * PHILOX_GROUP) /* 128: one call of the generator */
#define CHUNK 256                             /* elements per buffer of words */
#define DRAW_COST 4 /* an element drawn and written against one copied, for the team size */

typedef struct dropout_args {
    const float *x, *bias, *z_in; /* inputs (the backward's dh is x) */
    const uint32_t *mask_in;
    float *y, *z, *alive;         /* outputs (the forward's h is y) */
    uint32_t *mask;
    int64_t rows, cols, words;    /* words: of one mask row */
    soma_activation act;
    float slope, scale;  /* scale = 1 / (1 - p), in float as every backend computes it */
    uint32_t threshold;
    uint64_t seed, offset;
} dropout_args;

static dropout_args args_of(const soma_op_call *call) {
    const soma_op_params *p = &call->p;
    return (dropout_args){.act = (soma_activation)p->act, .slope = p->alpha,
                          .scale = 1.0f / (1.0f - p->drop),
                          .threshold = soma_dropout_threshold(p->drop), .seed = p->seed,
                          .offset = p->offset};
}

/* The words of elements [first, first + count) of the stream into words[skip ..],
 * skip = first % 128; words holds skip + count rounded up to 128. */
PHILOX_INLINE const uint32_t *draw(philox_words_fn generate, const dropout_args *a, int64_t first,
                                   int64_t count, uint32_t *words) {
    const int64_t start = first / ELEMENTS_PER_GROUP * ELEMENTS_PER_GROUP, skip = first - start;
    for (int64_t g = 0; g < skip + count; g += ELEMENTS_PER_GROUP)
        generate(a->seed, a->offset, (uint64_t)(start + g) / 4, words + g);
    return words + skip;
}

/* y = x mask / (1 - p) over [begin, end) of the flat tensor (y may be x) */
PHILOX_INLINE void dropout_range(const void *v, int64_t begin, int64_t end, philox_words_fn generate,
                                 keep_bits_fn unused) {
    (void)unused;
    const dropout_args *a = v;
    const uint32_t t = a->threshold; /* locals: a store to y could change *a, for all the compiler knows */
    const float scale = a->scale;
    uint32_t buffer[CHUNK + ELEMENTS_PER_GROUP];
    for (int64_t first = begin; first < end; first += CHUNK) {
        const int64_t count = end - first < CHUNK ? end - first : CHUNK;
        const uint32_t *w = draw(generate, a, first, count, buffer);
        const float *x = a->x + first;
        float *y = a->y + first;
        for (int64_t k = 0; k < count; k++) {
            const float kept = x[k] * scale; /* loaded either way, so the loop vectorises */
            y[k] = w[k] >= t ? kept : 0.0f;
        }
    }
}
PHILOX_RANGE_VARIANTS(dropout_range)

/* x -> y; the backward is the same map with the same mask */
CPU_KERNEL(soma_cpu_dropout) {
    (void)ctx;
    dropout_args a = args_of(call);
    a.x = call->in[0]->data;
    a.y = call->out[0]->data;
    soma_cpu_parallel_for(call->out[0]->rows * call->out[0]->cols, DRAW_COST, ELEMENTS_PER_GROUP,
                          dropout_range_variant(), &a);
    return SOMA_OK;
}

/* The fused forward over the columns of mask words [wbegin, wend) of every
 * row: z = x + bias, h = f(z) mask / (1 - p), the mask's words, and alive
 * for those columns. Splitting by columns gives each thread whole mask
 * words and its own entries of alive, so no two threads write one word. */
PHILOX_INLINE void bias_act_dropout_cols(const void *v, int64_t wbegin, int64_t wend,
                                         philox_words_fn generate, keep_bits_fn keep_bits) {
    const dropout_args *a = v;
    const int64_t n = a->cols;
    const int64_t j_begin = 32 * wbegin, j_end = 32 * wend < n ? 32 * wend : n;
    const uint32_t t = a->threshold;
    const float slope = a->slope, scale = a->scale;
    /* a chunk may start 127 elements into its first group; its last mask word reads 32 words */
    uint32_t buffer[ELEMENTS_PER_GROUP + CHUNK + 32];
    float zs[CHUNK];
    FOR_EACH_ACTIVATION(a->act, for (int64_t i = 0; i < a->rows; i++) {
        for (int64_t j0 = j_begin; j0 < j_end; j0 += CHUNK) {
            const int64_t count = j_end - j0 < CHUNK ? j_end - j0 : CHUNK, e0 = i * n + j0;
            const int64_t padded = (count + 31) / 32 * 32; /* whole mask words are packed */
            const uint32_t *w = draw(generate, a, e0, padded, buffer);
            const float *x = a->x + e0, *bias = a->bias + j0;
            float *z = a->z + e0, *h = a->y + e0, *alive = a->alive + j0;
            /* z first into a local buffer: z and h may be x, which the
             * compiler would otherwise have to check for at every step */
            for (int64_t k = 0; k < count; k++) zs[k] = x[k] + bias[k];
            for (int64_t k = 0; k < count; k++) z[k] = zs[k];
            for (int64_t k = 0; k < count; k++) {
                const float kept = soma_act_f(ACT, zs[k], slope) * scale;
                h[k] = w[k] >= t ? kept : 0.0f;
            }
            for (int64_t k = 0; k < count; k++) alive[k] = ((alive[k] != 0.0f) | (zs[k] > 0.0f)) ? 1.0f : 0.0f;
            uint32_t *mask = a->mask + i * a->words + j0 / 32;
            for (int64_t q = 0; 32 * q < count; q++) {
                const int64_t left = count - 32 * q; /* columns past n get 0 bits */
                const uint32_t bits = keep_bits(w + 32 * q, t);
                mask[q] = left >= 32 ? bits : bits & ((1u << left) - 1u);
            }
        }
    })
}
PHILOX_RANGE_VARIANTS(bias_act_dropout_cols)

/* (x, bias) -> (h, z, mask, alive); the step variant (x, bias, ctl) draws
 * from offset + (t - 1) step_stride at the block's step t */
CPU_KERNEL(soma_cpu_bias_act_dropout) {
    (void)ctx;
    const soma_tensor *x = call->in[0];
    dropout_args a = args_of(call);
    if (call->op == SOMA_OP_BIAS_ACT_DROPOUT_STEP)
        a.offset = soma_ctl_dropout_offset(call->in[2]->data, call->p.offset, call->p.step_stride);
    a.x = x->data;
    a.bias = call->in[1]->data;
    a.y = call->out[0]->data;
    a.z = call->out[1]->data;
    a.mask = (uint32_t *)(void *)call->out[2]->data;
    a.alive = call->out[3]->data;
    a.cols = x->cols;
    a.words = call->out[2]->cols;
    a.rows = x->rows;
    soma_cpu_parallel_for(a.words, x->rows * 32 * DRAW_COST, 1, bias_act_dropout_cols_variant(), &a);
    return SOMA_OK;
}

/* rows [begin, end): dx = (mask ? dh / (1 - p) : 0) f'(z), f(z) recomputed
 * only for the activations whose derivative reads it (sigmoid, tanh) */
SOMA_CPU_RANGE_BODY bias_act_dropout_backward_rows(const void *v, int64_t begin, int64_t end) {
    const dropout_args *a = v;
    const int64_t n = a->cols;
    const float slope = a->slope, scale = a->scale;
    FOR_EACH_ACTIVATION(a->act, for (int64_t i = begin; i < end; i++) {
        const float *z = a->z_in + i * n, *dh = a->x + i * n;
        float *dx = a->y + i * n;
        const uint32_t *mask = a->mask_in + i * a->words;
        for (int64_t q = 0; q < a->words; q++) {
            const uint32_t bits = mask[q];
            const int64_t j0 = 32 * q, count = n - j0 < 32 ? n - j0 : 32;
            for (int64_t b = 0; b < count; b++) {
                const int64_t j = j0 + b;
                const float g = (bits >> b) & 1u ? dh[j] * scale : 0.0f;
                const float y = soma_act_df_reads_y(ACT) ? soma_act_f(ACT, z[j], slope) : 0.0f;
                dx[j] = g * soma_act_df(ACT, z[j], y, slope);
            }
        }
    })
}
SOMA_CPU_RANGE_VARIANTS(bias_act_dropout_backward_rows)

CPU_KERNEL(soma_cpu_bias_act_dropout_step) { return soma_cpu_bias_act_dropout(ctx, call); }

/* (z, mask, dh) -> dx */
CPU_KERNEL(soma_cpu_bias_act_dropout_backward) {
    (void)ctx;
    dropout_args a = args_of(call);
    a.z_in = call->in[0]->data;
    a.mask_in = (const uint32_t *)(const void *)call->in[1]->data;
    a.x = call->in[2]->data;
    a.y = call->out[0]->data;
    a.cols = call->in[0]->cols;
    a.words = call->in[1]->cols;
    soma_cpu_parallel_for(call->in[0]->rows, 2 * a.cols, 1, bias_act_dropout_backward_rows_variant(), &a);
    return SOMA_OK;
}
