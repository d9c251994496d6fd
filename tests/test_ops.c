/* test_ops.c: every op on the CPU against its float64 reference, for every
 * kernel variant, parameter set and shape of soma_check_shapes (1x1, 7x13,
 * 129x257, 1024x1024, and rows of 10^5 and 10^6 columns), through the same
 * engine as `soma check`; plus the behaviour the table cannot express
 * (stability at huge logits, in-place calls). */
#include <float.h>
#include <math.h>
#include <string.h>

#include "core/backend.h"
#include "core/op_check.h"
#include "core/precision.h"
#include "cpu/cpu_gemm.h"
#include "test_util.h"


/* Loop test: _i is the op id. */
START_TEST(op_matches_reference) {
    soma_device *cpu = test_open("cpu");
    const soma_op_desc *d = &soma_op_table[_i];
    const char *variants[8];
    int n_variants = test_variants(&soma_cpu_backend, (soma_op_id)_i, variants);
    int n_params = d->n_test_params ? d->n_test_params : 1;
    /* variants innermost: they share one expected result (op_check.c) */
    for (int p = 0; p < n_params; p++)
        for (int s = 0; s < SOMA_CHECK_SHAPE_COUNT; s++)
            for (int v = 0; v < n_variants; v++) {
                const soma_check_shape *sh = &soma_check_shapes[s];
                if (test_skip_shape(sh)) continue;
                soma_check_case c = {.op = (soma_op_id)_i, .param_index = p, .m = sh->m,
                                     .n = sh->n, .k = sh->k, .seed = TEST_SEED,
                                     .variant = variants[v]};
                soma_check_result r;
                char params[64];
                soma_check_describe_params(&c, params, sizeof params);
                ck_soma(soma_check_against_reference(cpu, &c, &r));
                ck_assert_msg(r.passed,
                              "%s [%s] %s %lldx%lld (k=%lld) seed %llu: NMSE %.3e > limit %.1e, "
                              "guards %s",
                              d->name, variants[v] ? variants[v] : "default", params,
                              (long long)c.m, (long long)c.n, (long long)c.k,
                              (unsigned long long)c.seed, r.nmse, r.limit,
                              r.guards_intact ? "intact" : "OVERWRITTEN");
            }
    soma_device_close(cpu);
}
END_TEST

/* Tall and wide products: every GEMM kernel splits C over threads along its
 * longer side, in blocks that these sizes do not fill. */
START_TEST(gemm_variants_on_tall_and_wide_shapes) {
    static const int64_t dims[][3] = {{1000, 130, 300}, {130, 1000, 300}, {777, 65, 1025}, {65, 777, 1025}};
    soma_device *cpu = test_open("cpu");
    const char *variants[8];
    int n_variants = test_variants(&soma_cpu_backend, SOMA_OP_GEMM, variants);
    for (int v = 0; v < n_variants; v++)
        for (int p = 0; p < soma_op_table[SOMA_OP_GEMM].n_test_params; p++)
            for (int d = 0; d < 4 && !soma_op_table[SOMA_OP_GEMM].test_params[p].precision; d++) {
                /* fp32 only: TF32/bf16 round before the same kernels, which
                 * op_matches_reference and gemm_precision_rounds_operands
                 * cover; here they would add 3/8 to the slowest test */
                soma_check_case c = {.op = SOMA_OP_GEMM, .param_index = p, .m = dims[d][0], .n = dims[d][1],
                                     .k = dims[d][2], .seed = TEST_SEED, .variant = variants[v]};
                soma_check_result r;
                char params[64];
                soma_check_describe_params(&c, params, sizeof params);
                ck_soma(soma_check_against_reference(cpu, &c, &r));
                ck_assert_msg(r.passed, "gemm [%s] %s %lldx%lldx%lld seed %llu: NMSE %.3e > %.1e, guards %s",
                              variants[v] ? variants[v] : "default", params, (long long)c.m, (long long)c.n,
                              (long long)c.k, (unsigned long long)c.seed, r.nmse, r.limit,
                              r.guards_intact ? "intact" : "OVERWRITTEN");
            }
    soma_device_close(cpu);
}
END_TEST

/* TF32 and bf16 round each operand to nearest, ties to even
 * (core/precision.h), in every CPU GEMM kernel; unknown precisions are
 * refused. Values are chosen at and around the ties. */
START_TEST(gemm_precision_rounds_operands) {
    const float one = 1.0f;
    /* TF32: spacing 2^-10 at 1; bf16: 2^-7 */
    ck_assert_float_eq(soma_round_tf32(one + 0x1p-11f), one);                      /* tie to even */
    ck_assert_float_eq(soma_round_tf32(one + 0x1p-10f + 0x1p-11f), one + 0x1p-9f); /* tie up to even */
    ck_assert_float_eq(soma_round_tf32(one + 0x1p-11f + 0x1p-20f), one + 0x1p-10f);
    ck_assert_float_eq(soma_round_bf16(one + 0x1p-8f), one);
    ck_assert_float_eq(soma_round_bf16(one + 0x1p-7f + 0x1p-8f), one + 0x1p-6f);
    ck_assert_float_eq(soma_round_bf16(-(one + 0x1p-8f + 0x1p-20f)), -(one + 0x1p-7f));
    ck_assert(isinf(soma_round_bf16(FLT_MAX)));  /* beyond bf16's largest finite + half a step */
    ck_assert(isinf(soma_round_tf32(-INFINITY)) && soma_round_tf32(-INFINITY) < 0);
    ck_assert(signbit(soma_round_bf16(-0.0f)) && soma_round_bf16(-0.0f) == 0.0f);
    uint32_t low_nan_bits = 0x7f800001u; /* a NaN whose payload bf16 drops */
    float low_nan;
    memcpy(&low_nan, &low_nan_bits, sizeof low_nan);
    ck_assert(isnan(soma_round_bf16(low_nan)) && isnan(soma_round_tf32(low_nan)));
    ck_assert_uint_eq(soma_round_bf16_bits(one + 0x1p-7f + 0x1p-8f), 0x3f82u);

    soma_device *cpu = test_open("cpu");
    soma_tensor *a, *b, *c;
    ck_soma(soma_tensor_create(cpu, 1, 1, &a));
    ck_soma(soma_tensor_create(cpu, 1, 1, &b));
    ck_soma(soma_tensor_create(cpu, 1, 1, &c));
    const float av = one + 0x1p-8f + 0x1p-20f, bv = 3.0f, want[SOMA_PRECISION_COUNT] = {
        av * bv, (one + 0x1p-8f) * bv, (one + 0x1p-7f) * bv};
    ck_soma(soma_tensor_upload(a, &av, 1));
    ck_soma(soma_tensor_upload(b, &bv, 1));
    const char *variants[8];
    int n_variants = test_variants(&soma_cpu_backend, SOMA_OP_GEMM, variants);
    for (int v = 0; v < n_variants; v++)
        for (int p = 0; p < SOMA_PRECISION_COUNT; p++) {
            soma_op_call call = {.op = SOMA_OP_GEMM, .in = {a, b}, .out = {c},
                                 .p = {.alpha = 1.0f, .precision = p}};
            ck_soma(soma_op_run(&call, variants[v]));
            float got;
            ck_soma(soma_tensor_download(c, &got, 1));
            ck_assert_msg(got == want[p], "gemm [%s] %s: %a, expected %a",
                          variants[v] ? variants[v] : "default",
                          soma_precision_name((soma_precision)p), got, want[p]);
        }
    ck_assert_int_eq(soma_gemm_ex(0, 0, 1.0f, a, b, 0.0f, c, (soma_precision)3), SOMA_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(soma_last_error(), "precision 3"));
    soma_precision parsed;
    ck_assert_int_eq(soma_precision_parse("fp16", &parsed), SOMA_ERR_INVALID_ARG);
    ck_soma(soma_precision_parse("bf16", &parsed));
    ck_assert_int_eq(parsed, SOMA_PRECISION_BF16);
    soma_tensor_free(a), soma_tensor_free(b), soma_tensor_free(c);
    soma_device_close(cpu);
}
END_TEST

/* The GEMM's work sharing for batch-sized products: a thread takes its own
 * slivers in order, then the last ones of the others, and however threads
 * interleave their claims every sliver is handed out exactly once. */
START_TEST(gemm_sliver_claims_hand_out_each_sliver_once) {
    soma_cpu_sliver_range claims[3];
    soma_cpu_claims_init(claims, 3, 10); /* ranges [0,3) [3,6) [6,10) */
    const int64_t alone[10] = {3, 4, 5, 9, 8, 7, 6, 2, 1, 0};
    for (int i = 0; i < 10; i++) ck_assert_int_eq(soma_cpu_claim_sliver(claims, 1, 3), alone[i]);
    ck_assert_int_eq(soma_cpu_claim_sliver(claims, 0, 3), -1);

    uint64_t state = TEST_SEED;
    for (int round = 0; round < 200; round++) {
        const int team = 1 + round % 5;
        const int64_t slivers = round % 37;
        int seen[37] = {0}, done[5] = {0}, active = team;
        soma_cpu_sliver_range ranges[5];
        soma_cpu_claims_init(ranges, team, slivers);
        while (active > 0) { /* threads ask in a random order until each hears -1 */
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            const int t = (int)((state >> 33) % (uint64_t)team);
            if (done[t]) continue;
            const int64_t s = soma_cpu_claim_sliver(ranges, t, team);
            if (s < 0) {
                done[t] = 1, active--;
                continue;
            }
            ck_assert_msg(s < slivers && !seen[s], "team %d, %lld slivers: sliver %lld handed out twice or out of range",
                          team, (long long)slivers, (long long)s);
            seen[s] = 1;
        }
        for (int64_t i = 0; i < slivers; i++)
            ck_assert_msg(seen[i], "team %d, %lld slivers: sliver %lld never handed out", team, (long long)slivers,
                          (long long)i);
    }
}
END_TEST

/* Upload, run, download in one go for the small direct tests below. */
static soma_tensor *tensor_from(soma_device *dev, int64_t rows, int64_t cols, const float *values) {
    soma_tensor *t = NULL;
    ck_soma(soma_tensor_create(dev, rows, cols, &t));
    ck_soma(soma_tensor_upload(t, values, (size_t)(rows * cols)));
    return t;
}

START_TEST(softmax_is_stable_at_huge_logits) {
    soma_device *cpu = test_open("cpu");
    const float x[6] = {1000.0f, 1001.0f, 1002.0f, -1000.0f, -1001.0f, -1002.0f};
    const float labels[2] = {2.0f, 0.0f};
    soma_tensor *tx = tensor_from(cpu, 2, 3, x), *tl = tensor_from(cpu, 2, 1, labels);
    soma_tensor *y = NULL, *loss = NULL, *grad = NULL;
    ck_soma(soma_tensor_create(cpu, 2, 3, &y));
    ck_soma(soma_tensor_create(cpu, 1, 1, &loss));
    ck_soma(soma_tensor_create(cpu, 2, 3, &grad));
    float out[6], l;
    ck_soma(soma_softmax(tx, y));
    ck_soma(soma_tensor_download(y, out, 6));
    /* softmax(0,1,2) = (0.0900306, 0.2447285, 0.6652410), shift-invariant */
    ck_assert_float_eq_tol(out[2], 0.6652410f, 1e-6f);
    ck_assert_float_eq_tol(out[3], 0.6652410f, 1e-6f);
    ck_soma(soma_log_softmax(tx, y));
    ck_soma(soma_tensor_download(y, out, 6));
    ck_assert_float_eq_tol(out[0], -2.4076059f, 1e-5f);
    ck_soma(soma_softmax_xent_loss(tx, tl, loss));
    ck_soma(soma_tensor_download(loss, &l, 1));
    ck_assert_float_eq_tol(l, 0.4076059f, 1e-5f); /* both rows: -log 0.6652410 */
    ck_soma(soma_softmax_xent_backward(tx, tl, grad));
    ck_soma(soma_tensor_download(grad, out, 6));
    for (int i = 0; i < 6; i++) ck_assert_msg(isfinite(out[i]), "gradient %d is %g", i, out[i]);
    ck_assert_float_eq_tol(out[2], (0.6652410f - 1.0f) / 2.0f, 1e-6f);
    soma_tensor_free(tx), soma_tensor_free(tl), soma_tensor_free(y);
    soma_tensor_free(loss), soma_tensor_free(grad);
    soma_device_close(cpu);
}
END_TEST

START_TEST(bad_label_gives_nan_not_a_crash) {
    soma_device *cpu = test_open("cpu");
    const float x[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    const float labels[2] = {1.0f, 7.0f}; /* 7 is out of [0, 2) */
    soma_tensor *tx = tensor_from(cpu, 2, 2, x), *tl = tensor_from(cpu, 2, 1, labels);
    soma_tensor *loss = NULL, *count = NULL;
    ck_soma(soma_tensor_create(cpu, 1, 1, &loss));
    ck_soma(soma_tensor_create(cpu, 1, 1, &count));
    float l, n;
    ck_soma(soma_softmax_xent_loss(tx, tl, loss));
    ck_soma(soma_tensor_download(loss, &l, 1));
    ck_assert_msg(isnan(l), "loss with label 7 of 2 classes is %g, want NaN", l);
    ck_soma(soma_correct_count(tx, tl, count));
    ck_soma(soma_tensor_download(count, &n, 1));
    ck_assert_float_eq(n, 1.0f);
    soma_tensor_free(tx), soma_tensor_free(tl), soma_tensor_free(loss), soma_tensor_free(count);
    soma_device_close(cpu);
}
END_TEST

START_TEST(in_place_equals_out_of_place) {
    soma_device *cpu = test_open("cpu");
    float x[7 * 13], a[7 * 13], b[7 * 13];
    soma_check_make_input(SOMA_IN_NORMAL, TEST_SEED, 0, x, 7 * 13, 0);
    for (int act = 0; act < SOMA_ACT_COUNT; act++) {
        soma_tensor *t = tensor_from(cpu, 7, 13, x), *y = NULL;
        ck_soma(soma_tensor_create(cpu, 7, 13, &y));
        ck_soma(soma_activation_forward((soma_activation)act, 0.1f, t, y));
        ck_soma(soma_activation_forward((soma_activation)act, 0.1f, t, t));
        ck_soma(soma_tensor_download(y, a, 7 * 13));
        ck_soma(soma_tensor_download(t, b, 7 * 13));
        ck_assert_msg(memcmp(a, b, sizeof a) == 0, "%s in place differs", soma_activation_name(act));
        soma_tensor_free(t), soma_tensor_free(y);
    }
    soma_device_close(cpu);
}
END_TEST

/* The fused forward of a dense layer gives the very bits of its two steps,
 * in place too, for every activation, at a shape whose rows are split over
 * threads. */
START_TEST(bias_act_equals_bias_add_then_activation) {
    enum { M = 129, N = 257 };
    soma_device *cpu = test_open("cpu");
    static float x[M * N], bias[N], z1[M * N], a1[M * N], z2[M * N], a2[M * N];
    soma_check_make_input(SOMA_IN_NORMAL, TEST_SEED, 0, x, M * N, 0);
    soma_check_make_input(SOMA_IN_NORMAL, TEST_SEED, 1, bias, N, 0);
    for (int act = 0; act < SOMA_ACT_COUNT; act++) {
        soma_tensor *tx = tensor_from(cpu, M, N, x), *tb = tensor_from(cpu, 1, N, bias);
        soma_tensor *z = NULL, *a = NULL;
        ck_soma(soma_tensor_create(cpu, M, N, &z));
        ck_soma(soma_tensor_create(cpu, M, N, &a));
        ck_soma(soma_bias_add(tx, tb, z));
        ck_soma(soma_activation_forward((soma_activation)act, 0.1f, z, a));
        ck_soma(soma_tensor_download(z, z1, M * N));
        ck_soma(soma_tensor_download(a, a1, M * N));
        ck_soma(soma_bias_act((soma_activation)act, 0.1f, tx, tb, tx, a)); /* z in place on x */
        ck_soma(soma_tensor_download(tx, z2, M * N));
        ck_soma(soma_tensor_download(a, a2, M * N));
        ck_assert_msg(memcmp(z1, z2, sizeof z1) == 0, "bias_act %s: z differs", soma_activation_name(act));
        ck_assert_msg(memcmp(a1, a2, sizeof a1) == 0, "bias_act %s: a differs", soma_activation_name(act));
        soma_tensor_free(tx), soma_tensor_free(tb), soma_tensor_free(z), soma_tensor_free(a);
    }
    soma_device_close(cpu);
}
END_TEST

/* The fused hidden-layer pass gives the very bits of its steps done apart
 * (bias_act, then dropout; on the way back dropout_backward, then the
 * activation's backward), its mask is the standalone dropout's, and alive
 * is active_columns' verdict: every activation, p = 0.1 and 0.5, at shapes
 * whose rows are not whole mask words and which threads split, in place. */
static void check_fused_dropout(soma_device *cpu, int64_t m, int64_t n, soma_activation act, float p) {
    const int64_t words = soma_dropout_mask_words(n);
    float *x = malloc((size_t)(m * n) * sizeof *x), *bias = malloc((size_t)n * sizeof *bias);
    float *dh = malloc((size_t)(m * n) * sizeof *dh), *ones = malloc((size_t)(m * n) * sizeof *ones);
    float *h1 = malloc((size_t)(m * n) * sizeof *h1), *h2 = malloc((size_t)(m * n) * sizeof *h2);
    float *z1 = malloc((size_t)(m * n) * sizeof *z1), *z2 = malloc((size_t)(m * n) * sizeof *z2);
    float *d1 = malloc((size_t)(m * n) * sizeof *d1), *d2 = malloc((size_t)(m * n) * sizeof *d2);
    float *kept = malloc((size_t)(m * n) * sizeof *kept), *alive1 = malloc((size_t)n * sizeof *alive1);
    float *alive2 = malloc((size_t)n * sizeof *alive2);
    uint32_t *mask = malloc((size_t)(m * words) * sizeof *mask);
    soma_check_make_input(SOMA_IN_NORMAL, TEST_SEED, 0, x, m * n, 0);
    soma_check_make_input(SOMA_IN_NORMAL, TEST_SEED, 1, bias, n, 0);
    soma_check_make_input(SOMA_IN_NORMAL, TEST_SEED, 2, dh, m * n, 0);
    for (int64_t i = 0; i < m * n; i++) ones[i] = 1.0f;
    soma_rng rng = {TEST_SEED, 7};
    soma_tensor *tx = tensor_from(cpu, m, n, x), *tb = tensor_from(cpu, 1, n, bias), *tdh = tensor_from(cpu, m, n, dh);
    soma_tensor *tones = tensor_from(cpu, m, n, ones), *z = NULL, *a = NULL, *h = NULL, *g = NULL;
    soma_tensor *tmask = NULL, *alive = NULL, *flags = NULL;
    ck_soma(soma_tensor_create(cpu, m, n, &z));
    ck_soma(soma_tensor_create(cpu, m, n, &a));
    ck_soma(soma_tensor_create(cpu, m, n, &h));
    ck_soma(soma_tensor_create(cpu, m, n, &g));
    ck_soma(soma_tensor_create(cpu, m, words, &tmask));
    ck_soma(soma_tensor_create(cpu, 1, n, &alive));
    ck_soma(soma_tensor_create(cpu, 1, n, &flags));
    ck_soma(soma_tensor_fill(alive, 0.0f));
    ck_soma(soma_tensor_fill(flags, 0.0f));
    /* apart */
    ck_soma(soma_bias_act(act, 0.1f, tx, tb, z, a));
    ck_soma(soma_dropout_forward(p, rng, a, h));
    ck_soma(soma_active_columns(z, flags));
    ck_soma(soma_dropout_forward(p, rng, tones, g)); /* the mask, as values */
    ck_soma(soma_tensor_download(g, kept, (size_t)(m * n)));
    ck_soma(soma_dropout_backward(p, rng, tdh, g));
    ck_soma(soma_activation_backward(act, 0.1f, z, a, g, g));
    ck_soma(soma_tensor_download(h, h1, (size_t)(m * n)));
    ck_soma(soma_tensor_download(z, z1, (size_t)(m * n)));
    ck_soma(soma_tensor_download(g, d1, (size_t)(m * n)));
    ck_soma(soma_tensor_download(flags, alive1, (size_t)n));
    /* fused, z in place on x, the gradient in place on dh */
    ck_soma(soma_bias_act_dropout(act, 0.1f, p, rng, tx, tb, h, tx, tmask, alive));
    ck_soma(soma_bias_act_dropout_backward(act, 0.1f, p, tx, tmask, tdh, tdh));
    ck_soma(soma_tensor_download(h, h2, (size_t)(m * n)));
    ck_soma(soma_tensor_download(tx, z2, (size_t)(m * n)));
    ck_soma(soma_tensor_download(tdh, d2, (size_t)(m * n)));
    ck_soma(soma_tensor_download(alive, alive2, (size_t)n));
    ck_soma(soma_tensor_download(tmask, (float *)(void *)mask, (size_t)(m * words)));
    const char *name = soma_activation_name(act);
    ck_assert_msg(memcmp(z1, z2, (size_t)(m * n) * sizeof *z1) == 0, "%s p=%g %lldx%lld: z differs", name, p,
                  (long long)m, (long long)n);
    ck_assert_msg(memcmp(h1, h2, (size_t)(m * n) * sizeof *h1) == 0, "%s p=%g %lldx%lld: h differs", name, p,
                  (long long)m, (long long)n);
    ck_assert_msg(memcmp(d1, d2, (size_t)(m * n) * sizeof *d1) == 0, "%s p=%g %lldx%lld: the gradient differs",
                  name, p, (long long)m, (long long)n);
    ck_assert_msg(memcmp(alive1, alive2, (size_t)n * sizeof *alive1) == 0, "%s p=%g: alive differs", name, p);
    for (int64_t i = 0; i < m; i++)
        for (int64_t w = 0; w < words; w++)
            for (int b = 0; b < 32; b++) {
                int64_t j = 32 * w + b;
                int bit = (int)((mask[i * words + w] >> b) & 1u), want = j < n && kept[i * n + j] != 0.0f;
                ck_assert_msg(bit == want, "%s p=%g %lldx%lld: mask bit (%lld, %lld) is %d, dropout kept %d", name, p,
                              (long long)m, (long long)n, (long long)i, (long long)j, bit, want);
            }
    soma_tensor *all[] = {tx, tb, tdh, tones, z, a, h, g, tmask, alive, flags};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) soma_tensor_free(all[i]);
    float *bufs[] = {x, bias, dh, ones, h1, h2, z1, z2, d1, d2, kept, alive1, alive2};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(mask);
}

START_TEST(bias_act_dropout_equals_its_steps) {
    static const int64_t dims[][2] = {{1, 1}, {7, 13}, {129, 257}, {64, 1000}};
    soma_device *cpu = test_open("cpu");
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
        for (int act = 0; act < SOMA_ACT_COUNT; act++) {
            check_fused_dropout(cpu, dims[d][0], dims[d][1], (soma_activation)act, 0.1f);
            check_fused_dropout(cpu, dims[d][0], dims[d][1], (soma_activation)act, 0.5f);
        }
    soma_device_close(cpu);
}
END_TEST

/* CPU kernels flush denormals (FTZ/DAZ) while they run, and leave the
 * caller's floating-point mode as it was. */
START_TEST(denormals_are_flushed_and_the_mode_restored) {
    soma_device *cpu = test_open("cpu");
    const float x[2] = {1e-39f, 1.0f}; /* 1e-39 is denormal in float */
    float y[2];
    soma_tensor *tx = tensor_from(cpu, 1, 2, x), *ty = NULL;
    ck_soma(soma_tensor_create(cpu, 1, 2, &ty));
#if defined(__x86_64__) || defined(__i386__)
    unsigned before = __builtin_ia32_stmxcsr();
#endif
    ck_soma(soma_scale(1.0f, tx, ty));
    ck_soma(soma_tensor_download(ty, y, 2));
#if defined(__x86_64__) || defined(__i386__)
    ck_assert_uint_eq(__builtin_ia32_stmxcsr(), before);
    ck_assert_msg(y[0] == 0.0f, "scale(1, 1e-39) = %g, want 0 (flushed)", (double)y[0]);
#endif
    ck_assert_float_eq(y[1], 1.0f);
    volatile float tiny = 1e-39f; /* the caller still computes with denormals */
    ck_assert_msg(tiny * 1.0f != 0.0f, "the caller's mode was changed");
    soma_tensor_free(tx), soma_tensor_free(ty);
    soma_device_close(cpu);
}
END_TEST

START_TEST(row_views_share_memory) {
    soma_device *cpu = test_open("cpu");
    float x[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, out[12];
    soma_tensor *t = tensor_from(cpu, 4, 3, x), *v = NULL;
    ck_soma(soma_tensor_view_rows(t, 1, 2, &v));
    ck_assert_int_eq(soma_tensor_rows(v), 2);
    ck_soma(soma_tensor_fill(v, -1.0f));
    ck_soma(soma_tensor_download(t, out, 12));
    for (int i = 0; i < 12; i++) ck_assert_float_eq(out[i], i >= 3 && i < 9 ? -1.0f : x[i]);
    soma_tensor_free(v), soma_tensor_free(t);
    soma_device_close(cpu);
}
END_TEST

/* Batch statistics of one row are refused (PyTorch raises too: the unbiased
 * running variance would divide by m - 1 = 0), as are a negative eps and a
 * momentum outside [0, 1]; nothing is written. */
START_TEST(batchnorm_refuses_one_row_and_bad_scalars) {
    soma_device *cpu = test_open("cpu");
    soma_tensor *x, *g, *b, *y, *saved, *rm, *rv;
    ck_soma(soma_tensor_create(cpu, 1, 3, &x));
    ck_soma(soma_tensor_create(cpu, 1, 3, &g));
    ck_soma(soma_tensor_create(cpu, 1, 3, &b));
    ck_soma(soma_tensor_create(cpu, 1, 3, &y));
    ck_soma(soma_tensor_create(cpu, 2, 3, &saved));
    ck_soma(soma_tensor_create(cpu, 1, 3, &rm));
    ck_soma(soma_tensor_create(cpu, 1, 3, &rv));
    ck_assert_int_eq(soma_batchnorm_forward_train(0.1f, 1e-5f, x, g, b, y, saved, rm, rv), SOMA_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(soma_last_error(), "'x' has 1 row but needs at least 2"));
    ck_assert_int_eq(soma_batchnorm_forward_train(0.1f, -1.0f, x, g, b, y, saved, rm, rv), SOMA_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(soma_last_error(), "eps"));
    ck_assert_int_eq(soma_batchnorm_forward_train(1.5f, 1e-5f, x, g, b, y, saved, rm, rv), SOMA_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(soma_last_error(), "momentum"));
    ck_assert_int_eq(soma_layernorm_forward(NAN, x, g, b, y, rm), SOMA_ERR_INVALID_ARG);
    ck_assert_int_eq(soma_layernorm_forward(1e-5f, x, g, b, y, rm), SOMA_ERR_SHAPE); /* saved is 1x2 */
    ck_assert_ptr_nonnull(strstr(soma_last_error(), "'saved'"));
    soma_tensor *all[] = {x, g, b, y, saved, rm, rv};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) soma_tensor_free(all[i]);
    soma_device_close(cpu);
}
END_TEST

/* Batchnorm's training forward on a 4x1 column against values worked by
 * hand: x = 1, 2, 3, 6: mean 3, biased var 3.5, unbiased 14/3. */
START_TEST(batchnorm_forward_train_by_hand) {
    soma_device *cpu = test_open("cpu");
    const float xs[4] = {1, 2, 3, 6}, gamma = 2.0f, beta = 0.5f, rm0 = 1.0f, rv0 = 1.0f;
    soma_tensor *x = tensor_from(cpu, 4, 1, xs), *g = tensor_from(cpu, 1, 1, &gamma);
    soma_tensor *b = tensor_from(cpu, 1, 1, &beta), *rm = tensor_from(cpu, 1, 1, &rm0);
    soma_tensor *rv = tensor_from(cpu, 1, 1, &rv0), *y, *saved;
    ck_soma(soma_tensor_create(cpu, 4, 1, &y));
    ck_soma(soma_tensor_create(cpu, 2, 1, &saved));
    ck_soma(soma_batchnorm_forward_train(0.1f, 0.0f, x, g, b, y, saved, rm, rv));
    float out[4], st[2], m, v;
    ck_soma(soma_tensor_download(y, out, 4));
    ck_soma(soma_tensor_download(saved, st, 2));
    ck_soma(soma_tensor_download(rm, &m, 1));
    ck_soma(soma_tensor_download(rv, &v, 1));
    const double rstd = 1.0 / sqrt(3.5);
    for (int i = 0; i < 4; i++) ck_assert_double_eq_tol(out[i], 2.0 * (xs[i] - 3.0) * rstd + 0.5, 1e-6);
    ck_assert_double_eq_tol(st[0], 3.0, 1e-7);
    ck_assert_double_eq_tol(st[1], rstd, 1e-7);
    ck_assert_double_eq_tol(m, 0.9 + 0.1 * 3.0, 1e-6);
    ck_assert_double_eq_tol(v, 0.9 + 0.1 * 14.0 / 3.0, 1e-6);
    soma_tensor *all[] = {x, g, b, rm, rv, y, saved};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) soma_tensor_free(all[i]);
    soma_device_close(cpu);
}
END_TEST

static Suite *ops_suite(void) {
    Suite *s = suite_create("cpu_ops");
    TCase *table = tcase_create("op_table");
    tcase_set_timeout(table, 120);
    tcase_add_loop_test(table, op_matches_reference, 0, SOMA_OP_COUNT);
    suite_add_tcase(s, table);
    TCase *direct = tcase_create("direct");
    tcase_set_timeout(direct, 120);
    tcase_add_test(direct, softmax_is_stable_at_huge_logits);
    tcase_add_test(direct, bad_label_gives_nan_not_a_crash);
    tcase_add_test(direct, in_place_equals_out_of_place);
    tcase_add_test(direct, row_views_share_memory);
    tcase_add_test(direct, bias_act_equals_bias_add_then_activation);
    tcase_add_test(direct, bias_act_dropout_equals_its_steps);
    tcase_add_test(direct, gemm_variants_on_tall_and_wide_shapes);
    tcase_add_test(direct, gemm_precision_rounds_operands);
    tcase_add_test(direct, gemm_sliver_claims_hand_out_each_sliver_once);
    tcase_add_test(direct, denormals_are_flushed_and_the_mode_restored);
    tcase_add_test(direct, batchnorm_refuses_one_row_and_bad_scalars);
    tcase_add_test(direct, batchnorm_forward_train_by_hand);
    suite_add_tcase(s, direct);
    return s;
}

int main(void) {
    printf("test_ops: seed %llu\n", TEST_SEED);
    Suite *suites[] = {ops_suite()};
    return test_run(suites, 1, CK_FORK);
}
