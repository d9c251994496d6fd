/* test_rng.c: the counter-based generator. Known-answer vectors of
 * Philox4x32-10 (from the Random123 distribution), reproducibility and stream
 * independence, the accuracy of the deterministic log and sine/cosine, and
 * the moments of the uniform and normal fills; the CPU's SIMD Philox against
 * the scalar one (every instruction set this CPU has, counters that cross
 * 2^32 blocks included), and dropout's integer threshold against u >= p. */
#include <math.h>
#include <string.h>

#include "core/philox.h"
#include "cpu/cpu_philox.h"
#include "test_util.h"

START_TEST(philox_known_answers) {
    static const uint32_t kat[][10] = {
        /* counter[4], key[2], expected[4] */
        {0, 0, 0, 0, 0, 0, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u},
        {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu,
         0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu},
        {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u,
         0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u},
    };
    for (size_t t = 0; t < sizeof kat / sizeof kat[0]; t++) {
        soma_philox4 r = soma_philox4x32_10(kat[t][0], kat[t][1], kat[t][2], kat[t][3], kat[t][4], kat[t][5]);
        for (int i = 0; i < 4; i++)
            ck_assert_msg(r.v[i] == kat[t][6 + i], "vector %zu word %d: %08x, want %08x", t, i,
                          r.v[i], kat[t][6 + i]);
    }
}
END_TEST

START_TEST(deterministic_log_and_sincos_are_accurate) {
    double worst_log = 0, worst_trig = 0;
    for (uint32_t x = 0; x < (1u << 24); x += 97) {
        float u = ((float)x + 1.0f) * 5.9604644775390625e-8f; /* (0, 1] */
        double err = fabs(soma_det_logf(u) - log((double)u));
        worst_log = fmax(worst_log, err / fmax(1.0, fabs(log((double)u))));
        float v = (float)x * 5.9604644775390625e-8f, s, c;
        soma_det_sincos_2pi(v, &s, &c);
        double angle = 2.0 * 3.14159265358979323846 * (double)v;
        worst_trig = fmax(worst_trig, fmax(fabs(s - sin(angle)), fabs(c - cos(angle))));
    }
    ck_assert_msg(worst_log < 4e-7, "log error %g", worst_log);
    ck_assert_msg(worst_trig < 4e-7, "sin/cos error %g", worst_trig);
}
END_TEST

static void draw(soma_device *dev, soma_rng *rng, int normal, float *out, int64_t n) {
    soma_tensor *t = NULL;
    ck_soma(soma_tensor_create(dev, 1, n, &t));
    if (normal)
        ck_soma(soma_tensor_fill_normal(t, rng, 0.0f, 1.0f));
    else
        ck_soma(soma_tensor_fill_uniform(t, rng, 0.0f, 1.0f));
    ck_soma(soma_tensor_download(t, out, (size_t)n));
    soma_tensor_free(t);
}

START_TEST(same_state_same_numbers_new_offset_new_numbers) {
    soma_device *cpu = test_open("cpu");
    enum { N = 1001 };
    static float a[N], b[N], c[N];
    soma_rng r1 = soma_rng_make(TEST_SEED), r2 = soma_rng_make(TEST_SEED);
    draw(cpu, &r1, 1, a, N);
    draw(cpu, &r2, 1, b, N);
    ck_assert_int_eq(r1.offset, 1);
    ck_assert_msg(memcmp(a, b, sizeof a) == 0, "same seed and offset gave different numbers");
    draw(cpu, &r1, 1, c, N);
    int same = 0;
    for (int i = 0; i < N; i++) same += a[i] == c[i];
    ck_assert_msg(same < 3, "the next offset repeated %d of %d numbers", same, N);
    /* a prefix of a longer fill is the shorter fill: element i depends on i only */
    soma_rng r3 = soma_rng_make(TEST_SEED);
    draw(cpu, &r3, 1, c, 10);
    ck_assert_msg(memcmp(a, c, 10 * sizeof(float)) == 0, "element values depend on the fill size");
    soma_device_close(cpu);
}
END_TEST

START_TEST(fills_have_the_right_moments) {
    soma_device *cpu = test_open("cpu");
    enum { N = 1 << 20 };
    float *x = malloc(N * sizeof *x);
    soma_rng rng = soma_rng_make(TEST_SEED);
    for (int normal = 0; normal < 2; normal++) {
        draw(cpu, &rng, normal, x, N);
        double mean = 0, var = 0, within_one = 0, lo = 1e9, hi = -1e9;
        for (int i = 0; i < N; i++) {
            mean += x[i];
            lo = fmin(lo, x[i]);
            hi = fmax(hi, x[i]);
            within_one += fabs(x[i]) < 1.0;
        }
        mean /= N;
        for (int i = 0; i < N; i++) var += (x[i] - mean) * (x[i] - mean);
        var /= N - 1;
        double want_mean = normal ? 0.0 : 0.5, want_var = normal ? 1.0 : 1.0 / 12.0;
        /* 5 standard errors */
        ck_assert_msg(fabs(mean - want_mean) < 5 * sqrt(want_var / N), "%s mean %g",
                      normal ? "normal" : "uniform", mean);
        ck_assert_msg(fabs(var / want_var - 1.0) < 5 * sqrt(2.0 / N) * (normal ? 1.0 : 0.6),
                      "%s variance %g", normal ? "normal" : "uniform", var);
        if (normal) {
            ck_assert_msg(fabs(within_one / N - 0.682689) < 0.003, "P(|z|<1) = %g", within_one / N);
        } else {
            ck_assert_msg(lo >= 0.0 && hi < 1.0, "uniform outside [0,1): %g %g", lo, hi);
        }
    }
    free(x);
    soma_device_close(cpu);
}
END_TEST

/* philox_words_<isa> gives, for blocks [first, first + 32), exactly the
 * words of soma_philox_block in element order, and keep_bits the bits of
 * word >= threshold; at block counters that wrap the low counter word inside
 * the group (the SIMD paths hand those to the scalar one) and past 2^32. */
static void check_words(const char *isa, philox_words_fn words, keep_bits_fn keep_bits) {
    static const uint64_t firsts[] = {0, 1, 77, 0xFFFFFFFFull - 40, 0xFFFFFFFFull - 20, 0xFFFFFFFFull - 31,
                                      0xFFFFFFFFull, 1ull << 32, (1ull << 40) + 3};
    static const uint64_t seeds[][2] = {{0, 0}, {TEST_SEED, 5}, {0xFFFFFFFFFFFFFFFFull, 0x123456789abcdefull}};
    for (size_t f = 0; f < sizeof firsts / sizeof firsts[0]; f++)
        for (size_t k = 0; k < sizeof seeds / sizeof seeds[0]; k++) {
            uint32_t got[4 * PHILOX_GROUP];
            words(seeds[k][0], seeds[k][1], firsts[f], got);
            for (int b = 0; b < PHILOX_GROUP; b++) {
                soma_philox4 want = soma_philox_block(seeds[k][0], seeds[k][1], firsts[f] + (uint64_t)b);
                for (int q = 0; q < 4; q++)
                    ck_assert_msg(got[4 * b + q] == want.v[q], "%s: block %llu + %d word %d: %08x, want %08x",
                                  isa, (unsigned long long)firsts[f], b, q, got[4 * b + q], want.v[q]);
            }
            static const uint32_t thresholds[] = {0, 1, 0x19999A00u, 0x80000000u, 0xFFFFFF00u};
            for (size_t t = 0; t < sizeof thresholds / sizeof thresholds[0]; t++)
                for (int w = 0; w < 4 * PHILOX_GROUP; w += 32) {
                    uint32_t want = 0;
                    for (int b = 0; b < 32; b++) want |= (uint32_t)(got[w + b] >= thresholds[t]) << b;
                    ck_assert_msg(keep_bits(got + w, thresholds[t]) == want, "%s: keep bits at threshold %08x",
                                  isa, thresholds[t]);
                }
        }
}

START_TEST(simd_philox_equals_scalar) {
    check_words("generic", philox_words_generic, keep_bits_generic);
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        check_words("avx2", philox_words_avx2, keep_bits_avx2);
    else
        printf("simd_philox_equals_scalar: no AVX2 on this CPU, its path not run\n");
    if (__builtin_cpu_supports("avx512f"))
        check_words("avx512", philox_words_avx512, keep_bits_avx512);
    else
        printf("simd_philox_equals_scalar: no AVX-512 on this CPU, its path not run\n");
#endif
}
END_TEST

/* word >= soma_dropout_threshold(p) exactly when the word's uniform
 * (word >> 8) 2^-24 is >= p, around each threshold and at the extremes of p. */
START_TEST(dropout_threshold_is_u_at_least_p) {
    const float ps[] = {0.0f, 5.9604645e-8f /* 2^-24 */, 1e-7f, 0.1f, 0.3f, 0.5f, 0.9f, 0.99999994f /* 1 - 2^-24 */};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        uint32_t t = soma_dropout_threshold(ps[i]);
        for (int64_t d = -1024; d <= 1024; d++) {
            int64_t w64 = (int64_t)t + d;
            if (w64 < 0 || w64 > 0xFFFFFFFFll) continue;
            uint32_t w = (uint32_t)w64;
            int keeps = (double)(w >> 8) / 16777216.0 >= (double)ps[i];
            ck_assert_msg((w >= t) == keeps, "p = %.9g: word %08x against threshold %08x", (double)ps[i], w, t);
        }
        ck_assert_msg(((double)(0xFFFFFFFFu >> 8) / 16777216.0 >= (double)ps[i]) == (0xFFFFFFFFu >= t),
                      "p = %.9g: the largest word", (double)ps[i]);
    }
    ck_assert_uint_eq(soma_dropout_threshold(0.0f), 0u); /* p = 0 keeps everything */
}
END_TEST

int main(void) {
    printf("test_rng: seed %llu\n", TEST_SEED);
    Suite *s = suite_create("rng");
    TCase *tc = tcase_create("rng");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, philox_known_answers);
    tcase_add_test(tc, deterministic_log_and_sincos_are_accurate);
    tcase_add_test(tc, same_state_same_numbers_new_offset_new_numbers);
    tcase_add_test(tc, fills_have_the_right_moments);
    tcase_add_test(tc, simd_philox_equals_scalar);
    tcase_add_test(tc, dropout_threshold_is_u_at_least_p);
    suite_add_tcase(s, tc);
    Suite *suites[] = {s};
    return test_run(suites, 1, CK_FORK);
}
