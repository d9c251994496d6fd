/* cpu_philox.h: Philox4x32-10 for 32 consecutive blocks at once, per
 * instruction set, for the CPU kernels that draw random numbers
 * (cpu_random.c: fills; cpu_dropout.c: dropout).
 *
 *   philox_words_<isa>(seed, offset, first_block, words)
 * writes the 128 words of blocks [first_block, first_block + 32) in element
 * order: words[4 b + q] is word q of block first_block + b, the word of
 * element 4 (first_block + b) + q of the stream (core/philox.h). The AVX-512
 * version runs the blocks in the 16 lanes of zmm registers, AVX2 in the 8
 * lanes of ymm registers, two sets of lanes interleaved so that one set's
 * multiplies run while the other's wait (the ten rounds are one chain of
 * dependent steps: 20% faster than one set at a time on a Zen 4); the
 * generic one block after another through core/philox.h. All three give the
 * same words (test_ops runs each path), which are the CUDA kernels' words.
 *
 *   keep_bits_<isa>(words, threshold)
 * packs [words[b] >= threshold] for b < 32 into bit b of a 32-bit word: a
 * dropout mask word (soma_dropout_threshold).
 *
 * One round of Philox on a lane: the 64-bit products c0 M0 and c2 M1 give
 * (hi, lo) halves; SIMD multiplies (vpmuludq) take the even 32-bit lanes
 * of each 64-bit pair, so the odd lanes are shifted down, multiplied apart,
 * and the halves blended back into 32-bit lanes. The words then come out
 * one vector per word index q; a 4 x 16 transpose (unpack, then 128-bit
 * lane shuffles) puts them into element order.
 *
 * PHILOX_RANGE_VARIANTS(body) is SOMA_CPU_RANGE_VARIANTS for range bodies
 * that draw: body(args, begin, end, words, keep_bits) gets its instruction
 * set's two functions, which the compiler inlines. */
#ifndef SOMA_CPU_PHILOX_H
#define SOMA_CPU_PHILOX_H

#include <stdint.h>

#include "core/philox.h"
#include "cpu/cpu_parallel.h"

#define PHILOX_GROUP 32 /* blocks per call */
#define PHILOX_SETS 2   /* sets of lanes interleaved */

typedef void (*philox_words_fn)(uint64_t seed, uint64_t offset, uint64_t first_block,
                                uint32_t *words);
typedef uint32_t (*keep_bits_fn)(const uint32_t *words, uint32_t threshold);

#define PHILOX_INLINE static inline __attribute__((always_inline))

PHILOX_INLINE void philox_words_generic(uint64_t seed, uint64_t offset, uint64_t first_block,
                                        uint32_t *words) {
    for (int b = 0; b < PHILOX_GROUP; b++) {
        soma_philox4 r = soma_philox_block(seed, offset, first_block + (uint64_t)b);
        for (int q = 0; q < 4; q++) words[4 * b + q] = r.v[q];
    }
}

PHILOX_INLINE uint32_t keep_bits_generic(const uint32_t *words, uint32_t threshold) {
    uint32_t bits = 0;
    for (int b = 0; b < 32; b++) bits |= (uint32_t)(words[b] >= threshold) << b;
    return bits;
}

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define PHILOX_AVX512 static inline __attribute__((always_inline, target("avx512f")))
#define PHILOX_AVX2 static inline __attribute__((always_inline, target("avx2,fma")))

/* The lanes' low words would wrap into the high word inside the group: the
 * SIMD paths leave such groups (one in 2^28, at elements beyond 2^34) to the
 * generic one rather than carry between lanes. */
#define PHILOX_GROUP_WRAPS(first_block) ((uint32_t)(first_block) > UINT32_MAX - (PHILOX_GROUP - 1))

PHILOX_AVX512 void mulhilo_avx512(__m512i a, __m512i m, __m512i *hi, __m512i *lo) {
    __m512i even = _mm512_mul_epu32(a, m);
    __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
    *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
    *lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
}

/* 16 blocks per set, PHILOX_SETS sets */
PHILOX_AVX512 void philox_words_avx512(uint64_t seed, uint64_t offset, uint64_t first_block,
                                       uint32_t *words) {
    if (PHILOX_GROUP_WRAPS(first_block)) {
        philox_words_generic(seed, offset, first_block, words);
        return;
    }
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i m0 = _mm512_set1_epi64(0xD2511F53u), m1 = _mm512_set1_epi64(0xCD9E8D57u);
    __m512i c0[PHILOX_SETS], c1[PHILOX_SETS], c2[PHILOX_SETS], c3[PHILOX_SETS];
    for (int s = 0; s < PHILOX_SETS; s++) {
        c0[s] = _mm512_add_epi32(_mm512_set1_epi32((int)(uint32_t)(first_block + 16 * (uint64_t)s)), lanes);
        c1[s] = _mm512_set1_epi32((int)(uint32_t)(first_block >> 32));
        c2[s] = _mm512_set1_epi32((int)(uint32_t)offset);
        c3[s] = _mm512_set1_epi32((int)(uint32_t)(offset >> 32));
    }
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int round = 0; round < 10; round++) {
        const __m512i key0 = _mm512_set1_epi32((int)k0), key1 = _mm512_set1_epi32((int)k1);
        for (int s = 0; s < PHILOX_SETS; s++) {
            __m512i hi0, lo0, hi1, lo1;
            mulhilo_avx512(c0[s], m0, &hi0, &lo0);
            mulhilo_avx512(c2[s], m1, &hi1, &lo1);
            /* 0x96: the three-way exclusive or */
            c0[s] = _mm512_ternarylogic_epi32(hi1, c1[s], key0, 0x96);
            c2[s] = _mm512_ternarylogic_epi32(hi0, c3[s], key1, 0x96);
            c1[s] = lo1;
            c3[s] = lo0;
        }
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    for (int s = 0; s < PHILOX_SETS; s++) {
        /* per 128-bit lane l: t0 = (c0, c1) of blocks 4l, 4l+1; ... u0 = block 4l */
        __m512i t0 = _mm512_unpacklo_epi32(c0[s], c1[s]), t1 = _mm512_unpackhi_epi32(c0[s], c1[s]);
        __m512i t2 = _mm512_unpacklo_epi32(c2[s], c3[s]), t3 = _mm512_unpackhi_epi32(c2[s], c3[s]);
        __m512i u0 = _mm512_unpacklo_epi64(t0, t2), u1 = _mm512_unpackhi_epi64(t0, t2);
        __m512i u2 = _mm512_unpacklo_epi64(t1, t3), u3 = _mm512_unpackhi_epi64(t1, t3);
        /* then the 128-bit lanes: output vector v holds blocks 4v .. 4v+3 */
        __m512i v0 = _mm512_shuffle_i32x4(u0, u1, 0x44), v1 = _mm512_shuffle_i32x4(u2, u3, 0x44);
        __m512i v2 = _mm512_shuffle_i32x4(u0, u1, 0xEE), v3 = _mm512_shuffle_i32x4(u2, u3, 0xEE);
        uint32_t *out = words + 64 * s;
        _mm512_storeu_si512(out, _mm512_shuffle_i32x4(v0, v1, 0x88));
        _mm512_storeu_si512(out + 16, _mm512_shuffle_i32x4(v0, v1, 0xDD));
        _mm512_storeu_si512(out + 32, _mm512_shuffle_i32x4(v2, v3, 0x88));
        _mm512_storeu_si512(out + 48, _mm512_shuffle_i32x4(v2, v3, 0xDD));
    }
}

PHILOX_AVX512 uint32_t keep_bits_avx512(const uint32_t *words, uint32_t threshold) {
    const __m512i t = _mm512_set1_epi32((int)threshold);
    uint32_t lo = _mm512_cmpge_epu32_mask(_mm512_loadu_si512(words), t);
    uint32_t hi = _mm512_cmpge_epu32_mask(_mm512_loadu_si512(words + 16), t);
    return lo | hi << 16;
}

PHILOX_AVX2 void mulhilo_avx2(__m256i a, __m256i m, __m256i *hi, __m256i *lo) {
    __m256i even = _mm256_mul_epu32(a, m);
    __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
    *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
    *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

/* 8 blocks per set, PHILOX_SETS sets */
PHILOX_AVX2 void philox_words16_avx2(uint64_t seed, uint64_t offset, uint64_t first_block,
                                     uint32_t *words) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i m0 = _mm256_set1_epi64x(0xD2511F53u), m1 = _mm256_set1_epi64x(0xCD9E8D57u);
    __m256i c0[PHILOX_SETS], c1[PHILOX_SETS], c2[PHILOX_SETS], c3[PHILOX_SETS];
    for (int s = 0; s < PHILOX_SETS; s++) {
        c0[s] = _mm256_add_epi32(_mm256_set1_epi32((int)(uint32_t)(first_block + 8 * (uint64_t)s)), lanes);
        c1[s] = _mm256_set1_epi32((int)(uint32_t)(first_block >> 32));
        c2[s] = _mm256_set1_epi32((int)(uint32_t)offset);
        c3[s] = _mm256_set1_epi32((int)(uint32_t)(offset >> 32));
    }
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int round = 0; round < 10; round++) {
        const __m256i key0 = _mm256_set1_epi32((int)k0), key1 = _mm256_set1_epi32((int)k1);
        for (int s = 0; s < PHILOX_SETS; s++) {
            __m256i hi0, lo0, hi1, lo1;
            mulhilo_avx2(c0[s], m0, &hi0, &lo0);
            mulhilo_avx2(c2[s], m1, &hi1, &lo1);
            c0[s] = _mm256_xor_si256(_mm256_xor_si256(hi1, c1[s]), key0);
            c2[s] = _mm256_xor_si256(_mm256_xor_si256(hi0, c3[s]), key1);
            c1[s] = lo1;
            c3[s] = lo0;
        }
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    for (int s = 0; s < PHILOX_SETS; s++) {
        /* per 128-bit lane l: u0 = block 4l (words 0..3), u1 = block 4l+1, ... */
        __m256i t0 = _mm256_unpacklo_epi32(c0[s], c1[s]), t1 = _mm256_unpackhi_epi32(c0[s], c1[s]);
        __m256i t2 = _mm256_unpacklo_epi32(c2[s], c3[s]), t3 = _mm256_unpackhi_epi32(c2[s], c3[s]);
        __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
        __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
        uint32_t *out = words + 32 * s;
        _mm256_storeu_si256((__m256i *)out, _mm256_permute2x128_si256(u0, u1, 0x20));
        _mm256_storeu_si256((__m256i *)(out + 8), _mm256_permute2x128_si256(u2, u3, 0x20));
        _mm256_storeu_si256((__m256i *)(out + 16), _mm256_permute2x128_si256(u0, u1, 0x31));
        _mm256_storeu_si256((__m256i *)(out + 24), _mm256_permute2x128_si256(u2, u3, 0x31));
    }
}

PHILOX_AVX2 void philox_words_avx2(uint64_t seed, uint64_t offset, uint64_t first_block,
                                   uint32_t *words) {
    if (PHILOX_GROUP_WRAPS(first_block)) {
        philox_words_generic(seed, offset, first_block, words);
        return;
    }
    philox_words16_avx2(seed, offset, first_block, words);
    philox_words16_avx2(seed, offset, first_block + 16, words + 64);
}

/* AVX2 compares signed: flipping the sign bits of both sides orders them as unsigned */
PHILOX_AVX2 uint32_t keep_bits_avx2(const uint32_t *words, uint32_t threshold) {
    const __m256i sign = _mm256_set1_epi32(INT32_MIN);
    const __m256i below = _mm256_set1_epi32((int)((threshold - 1u) ^ 0x80000000u)); /* w >= t: w > t-1 */
    uint32_t bits = 0;
    for (int v = 0; v < 4; v++) {
        __m256i w = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(words + 8 * v)), sign);
        __m256i keep = _mm256_cmpgt_epi32(w, below);
        bits |= (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(keep)) << (8 * v);
    }
    return threshold == 0 ? 0xFFFFFFFFu : bits; /* t - 1 wraps for t = 0: everything is kept */
}

#define PHILOX_RANGE_VARIANTS(body)                                                            \
    __attribute__((target("avx512f"))) static void body##_avx512(const void *a, int64_t b,     \
                                                                  int64_t e) {                 \
        body(a, b, e, philox_words_avx512, keep_bits_avx512);                                  \
    }                                                                                          \
    __attribute__((target("avx2,fma"))) static void body##_avx2(const void *a, int64_t b,      \
                                                                 int64_t e) {                  \
        body(a, b, e, philox_words_avx2, keep_bits_avx2);                                      \
    }                                                                                          \
    static void body##_generic(const void *a, int64_t b, int64_t e) {                          \
        body(a, b, e, philox_words_generic, keep_bits_generic);                                \
    }                                                                                          \
    static soma_cpu_range_fn body##_variant(void) {                                            \
        soma_cpu_isa isa = soma_cpu_isa_level();                                               \
        return isa == SOMA_CPU_ISA_AVX512 ? body##_avx512                                      \
               : isa == SOMA_CPU_ISA_AVX2 ? body##_avx2 : body##_generic;                      \
    }
#else
#define PHILOX_RANGE_VARIANTS(body)                                                            \
    static void body##_generic(const void *a, int64_t b, int64_t e) {                          \
        body(a, b, e, philox_words_generic, keep_bits_generic);                                \
    }                                                                                          \
    static soma_cpu_range_fn body##_variant(void) { return body##_generic; }
#endif

#endif
