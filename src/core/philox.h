/* philox.h: the counter-based generator behind every random number in soma,
 * shared word for word by the CPU backend (C) and the CUDA kernels.
 *
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
 * SC'11) maps a 128-bit counter and a 64-bit key to four 32-bit words. Element
 * i of a fill with state {seed, offset} uses key = seed and counter =
 * (i / 4, offset), word i % 4, so it depends on nothing but (seed, offset, i),
 * and one call of the generator serves four consecutive elements: the
 * kernels compute each block once and use all four of its words (the
 * per-element functions at the end are the reference they are tested
 * against, and what code off the hot paths calls).
 *
 * Bit-identical floats on both backends: uniforms are exact multiples of
 * 2^-24; normals use a log and a sine/cosine written here from +, *, / and
 * fmaf only, each correctly rounded in IEEE arithmetic on both sides. On the
 * device the explicit __f*_rn intrinsics stop nvcc from contracting a*b+c
 * into an fma the host would not do; the host files are compiled with
 * -ffp-contract=off for the same reason. Dropout compares the words
 * themselves with an integer threshold: its masks are integer arithmetic
 * through and through. */
#ifndef SOMA_CORE_PHILOX_H
#define SOMA_CORE_PHILOX_H

#include <math.h>
#include <stdint.h>

#ifdef __CUDACC__
#define SOMA_HD __host__ __device__ __forceinline__
#else
#define SOMA_HD static inline
#endif

#ifdef __CUDA_ARCH__
#define SOMA_FADD(a, b) __fadd_rn((a), (b))
#define SOMA_FMUL(a, b) __fmul_rn((a), (b))
#define SOMA_FDIV(a, b) __fdiv_rn((a), (b))
#define SOMA_FSQRT(a) __fsqrt_rn(a)
#else
#define SOMA_FADD(a, b) ((a) + (b))
#define SOMA_FMUL(a, b) ((a) * (b))
#define SOMA_FDIV(a, b) ((a) / (b))
#define SOMA_FSQRT(a) sqrtf(a)
#endif

typedef struct soma_philox4 {
    uint32_t v[4];
} soma_philox4;

SOMA_HD soma_philox4 soma_philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3,
                                        uint32_t k0, uint32_t k1) {
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0;
        uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    soma_philox4 r = {{c0, c1, c2, c3}};
    return r;
}

/* The four words of block `block` (= element index / 4) of stream {seed, offset}. */
SOMA_HD soma_philox4 soma_philox_block(uint64_t seed, uint64_t offset, uint64_t block) {
    return soma_philox4x32_10((uint32_t)block, (uint32_t)(block >> 32), (uint32_t)offset,
                              (uint32_t)(offset >> 32), (uint32_t)seed, (uint32_t)(seed >> 32));
}

/* [0, 1): the top 24 bits of x times 2^-24, exact in float. */
SOMA_HD float soma_u32_to_unit(uint32_t x) { return (float)(x >> 8) * 5.9604644775390625e-8f; }

/* log(u) for u in (0, 1]: u = 2^e m with m in [sqrt(1/2), sqrt(2)), and
 * log m = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + s^7/7 + s^9/9), s = (m-1)/(m+1),
 * |s| <= 0.172, so the first omitted term is below 3e-10. */
SOMA_HD float soma_det_logf(float u) {
    union { float f; uint32_t i; } bits;
    bits.f = u;
    int e = (int)((bits.i >> 23) & 0xffu) - 127;
    bits.i = (bits.i & 0x007fffffu) | 0x3f800000u; /* m in [1, 2) */
    float m = bits.f;
    if (m > 1.41421356f) {
        m = SOMA_FMUL(m, 0.5f);
        e += 1;
    }
    float s = SOMA_FDIV(SOMA_FADD(m, -1.0f), SOMA_FADD(m, 1.0f));
    float s2 = SOMA_FMUL(s, s);
    float p = fmaf(s2, 0.11111111f, 0.14285714f);
    p = fmaf(s2, p, 0.2f);
    p = fmaf(s2, p, 0.33333333f);
    p = fmaf(s2, p, 1.0f);
    float log_m = SOMA_FMUL(SOMA_FMUL(2.0f, s), p);
    return fmaf((float)e, 0.69314718f, log_m);
}

/* sin and cos of 2 pi u for u in [0, 1) a multiple of 2^-24: u = k/4 + f with
 * |f| <= 1/8 exactly, Taylor series on theta = 2 pi f in [-pi/4, pi/4]
 * (truncation below 2e-9), then a rotation by k quarter turns. */
SOMA_HD void soma_det_sincos_2pi(float u, float *s_out, float *c_out) {
    float k = floorf(SOMA_FADD(SOMA_FMUL(u, 4.0f), 0.5f));
    float f = SOMA_FADD(u, SOMA_FMUL(k, -0.25f));
    float t = SOMA_FMUL(f, 6.28318531f);
    float t2 = SOMA_FMUL(t, t);
    float sp = fmaf(t2, 2.75573192e-6f, -1.98412698e-4f);
    sp = fmaf(t2, sp, 8.33333333e-3f);
    sp = fmaf(t2, sp, -0.166666667f);
    float s = fmaf(SOMA_FMUL(t, t2), sp, t);
    float cp = fmaf(t2, -2.75573192e-7f, 2.48015873e-5f);
    cp = fmaf(t2, cp, -1.38888889e-3f);
    cp = fmaf(t2, cp, 4.16666667e-2f);
    cp = fmaf(t2, cp, -0.5f);
    float c = fmaf(t2, cp, 1.0f);
    switch ((int)k & 3) {
    case 0: *s_out = s; *c_out = c; break;
    case 1: *s_out = c; *c_out = -s; break;
    case 2: *s_out = -s; *c_out = -c; break;
    default: *s_out = -c; *c_out = s; break;
    }
}

/* A uniform on [lo, hi) from one word: lo + (hi - lo) u, u the word's top 24
 * bits times 2^-24. */
SOMA_HD float soma_uniform_from_word(uint32_t word, float lo, float hi) {
    return fmaf(soma_u32_to_unit(word), SOMA_FADD(hi, -lo), lo);
}

/* Two normals from two words by Box-Muller: (z0, z1) = mean + stddev
 * sqrt(-2 log u1) (cos, sin)(2 pi u2), u1 in (0, 1] from x1, u2 in [0, 1)
 * from x2. Words (0, 1) and (2, 3) of a block make elements (4b, 4b+1) and
 * (4b+2, 4b+3) of a normal fill. */
SOMA_HD void soma_normal_pair_from_words(uint32_t x1, uint32_t x2, float mean, float stddev,
                                         float *z0, float *z1) {
    float u1 = SOMA_FMUL((float)((x1 >> 8) + 1u), 5.9604644775390625e-8f); /* (0, 1] */
    float u2 = soma_u32_to_unit(x2);
    float radius = SOMA_FSQRT(SOMA_FMUL(-2.0f, soma_det_logf(u1)));
    float s, c;
    soma_det_sincos_2pi(u2, &s, &c);
    *z0 = fmaf(SOMA_FMUL(radius, c), stddev, mean);
    *z1 = fmaf(SOMA_FMUL(radius, s), stddev, mean);
}

/* Dropout keeps element i when u_i >= p, u_i = (word >> 8) 2^-24 its uniform
 * in [0, 1): exactly when word >= ceil(p 2^24) 2^8, the threshold returned
 * (p in [0, 1) is a float, so p 2^24 <= 2^24 - 1 is exact and so is the
 * shifted integer). */
SOMA_HD uint32_t soma_dropout_threshold(float p) {
    return (uint32_t)ceil((double)p * 16777216.0) << 8;
}

/* Element i of a uniform fill on [lo, hi). */
SOMA_HD float soma_philox_uniform(uint64_t seed, uint64_t offset, uint64_t i, float lo, float hi) {
    soma_philox4 r = soma_philox_block(seed, offset, i >> 2);
    return soma_uniform_from_word(r.v[i & 3], lo, hi);
}

/* Element i of a normal fill (soma_normal_pair_from_words of its block's
 * pair). */
SOMA_HD float soma_philox_normal(uint64_t seed, uint64_t offset, uint64_t i, float mean,
                                 float stddev) {
    soma_philox4 r = soma_philox_block(seed, offset, i >> 2);
    unsigned pair = (unsigned)(i & 2);
    float z[2];
    soma_normal_pair_from_words(r.v[pair], r.v[pair + 1], mean, stddev, &z[0], &z[1]);
    return z[i & 1];
}

#endif
