/* cpu_random.c: the uniform and normal fills. Compiled with
 * -ffp-contract=off (see CMakeLists.txt) so that the float arithmetic of
 * core/philox.h rounds exactly as it does on the GPU and the numbers match
 * bit for bit.
 *
 * The tensor is cut into chunks of 256 elements; for each, the words of 64
 * Philox blocks are drawn 32 blocks at a time (cpu_philox.h: every word
 * used) into a buffer in L1, and mapped to floats in a loop the compiler
 * vectorises per instruction set. The chunks are shared out by OpenMP
 * directly, not through soma_cpu_parallel_for, which flushes denormals: a
 * fill must give the GPU's bits even where they are denormal. */
#include "core/philox.h"
#include "cpu/cpu_internal.h"
#include "cpu/cpu_parallel.h"
#include "cpu/cpu_philox.h"

#define CHUNK 256                  /* elements per buffer of words: 1 KiB, in L1 */
#define ELEMENTS_PER_GROUP (4 * PHILOX_GROUP)

typedef struct fill_args {
    float *t;
    soma_op_params p;
} fill_args;

/* The words of elements [first, first + count) into w; first is a multiple
 * of 128 and w holds count rounded up to 128 (the excess is drawn, unused). */
PHILOX_INLINE void draw_words(philox_words_fn words, uint64_t seed, uint64_t offset, int64_t first,
                              int64_t count, uint32_t *w) {
    for (int64_t g = 0; g < count; g += ELEMENTS_PER_GROUP)
        words(seed, offset, (uint64_t)(first + g) / 4, w + g);
}

/* One chunk [begin, end) of a fill: uniform, t[i] = lo + (hi - lo) u_i
 * (alpha = lo, beta = hi), or normal, t[i] = mean + stddev z_i (alpha =
 * mean, beta = stddev), z by Box-Muller from the word pairs (0,1), (2,3) of
 * each block. */
PHILOX_INLINE void fill_chunk(const fill_args *a, int64_t begin, int64_t end, philox_words_fn words,
                              int normal) {
    const float alpha = a->p.alpha, beta = a->p.beta; /* locals: t's stores could change *a */
    const int64_t count = end - begin;
    uint32_t w[CHUNK];
    draw_words(words, a->p.seed, a->p.offset, begin, count, w);
    float *t = a->t + begin;
    if (!normal) {
        for (int64_t k = 0; k < count; k++) t[k] = soma_uniform_from_word(w[k], alpha, beta);
        return;
    }
    for (int64_t k = 0; k < count; k += 2) {
        float z[2];
        soma_normal_pair_from_words(w[k], w[k + 1], alpha, beta, &z[0], &z[1]);
        t[k] = z[0];
        if (k + 1 < count) t[k + 1] = z[1];
    }
}

PHILOX_INLINE void uniform_chunk(const void *v, int64_t begin, int64_t end, philox_words_fn words,
                                 keep_bits_fn unused) {
    (void)unused;
    fill_chunk(v, begin, end, words, 0);
}
PHILOX_RANGE_VARIANTS(uniform_chunk)

PHILOX_INLINE void normal_chunk(const void *v, int64_t begin, int64_t end, philox_words_fn words,
                                keep_bits_fn unused) {
    (void)unused;
    fill_chunk(v, begin, end, words, 1);
}
PHILOX_RANGE_VARIANTS(normal_chunk)

/* fn over the chunks of t (multiples of CHUNK, the last one shorter), on
 * threads when there are enough of them */
static void fill_chunks(soma_cpu_range_fn fn, const fill_args *a, int64_t n) {
    const int64_t chunks = (n + CHUNK - 1) / CHUNK;
    SOMA_PARALLEL_FOR(n)
    for (int64_t c = 0; c < chunks; c++) fn(a, c * CHUNK, c + 1 < chunks ? (c + 1) * CHUNK : n);
}

CPU_KERNEL(soma_cpu_fill_uniform) {
    (void)ctx;
    fill_args a = {.t = call->out[0]->data, .p = call->p};
    fill_chunks(uniform_chunk_variant(), &a, call->out[0]->rows * call->out[0]->cols);
    return SOMA_OK;
}

CPU_KERNEL(soma_cpu_fill_normal) {
    (void)ctx;
    fill_args a = {.t = call->out[0]->data, .p = call->p};
    fill_chunks(normal_chunk_variant(), &a, call->out[0]->rows * call->out[0]->cols);
    return SOMA_OK;
}
