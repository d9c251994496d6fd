/* test_cuda.c: every op on every CUDA variant against the CPU, by NMSE within
 * each op's limit (bit for bit for fills, argmax, counts and dropout masks),
 * with sentinel guards around every tensor; dropout masks and the fills bit
 * for bit at training shapes and awkward ones; plus copies across devices and
 * mixed-device errors. Without a usable GPU it exits 77, which ctest reports
 * as skipped.
 *
 * Runs without fork: a CUDA context does not survive fork(), and the probe
 * for a GPU already creates one. */
#include <string.h>

#include "core/backend.h"
#include "core/op_check.h"
#include "test_util.h"
#ifdef SOMA_CUDA_EMULATION
#include "emu.h"
#endif

static soma_device *cpu, *gpu;

START_TEST(op_matches_cpu) {
    const soma_op_desc *d = &soma_op_table[_i];
    const char *variants[8];
    int n_variants = test_variants(soma_cuda_backend_get(1), (soma_op_id)_i, variants);
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
                ck_soma(soma_check_against_device(gpu, cpu, &c, &r));
                ck_assert_msg(r.passed,
                              "%s [%s] %s %lldx%lld (k=%lld) seed %llu: NMSE %.3e (limit %.1e), "
                              "%lld values differ in bits, guards %s",
                              d->name, variants[v] ? variants[v] : "default", params,
                              (long long)c.m, (long long)c.n, (long long)c.k,
                              (unsigned long long)c.seed, r.nmse, r.limit,
                              (long long)r.bit_mismatches, r.guards_intact ? "intact" : "OVERWRITTEN");
            }
}
END_TEST

/* Runs bias_act_dropout (ReLU, whose float steps are exact on both
 * devices) and the fills on dev from the same inputs; the outputs' bits. */
typedef struct random_outputs {
    float *h, *z, *uniform, *normal, *dropped;
    uint32_t *mask;
} random_outputs;

static void random_outputs_on(soma_device *dev, int64_t m, int64_t n, float p, const float *x, const float *bias,
                              random_outputs *out) {
    const int64_t words = soma_dropout_mask_words(n);
    soma_rng rng = {TEST_SEED, 3}, fill = {TEST_SEED, 11};
    soma_tensor *tx = NULL, *tb = NULL, *h = NULL, *z = NULL, *mask = NULL, *alive = NULL, *u = NULL, *g = NULL;
    soma_tensor *d = NULL;
    ck_soma(soma_tensor_create(dev, m, n, &tx));
    ck_soma(soma_tensor_create(dev, 1, n, &tb));
    ck_soma(soma_tensor_create(dev, m, n, &h));
    ck_soma(soma_tensor_create(dev, m, n, &z));
    ck_soma(soma_tensor_create(dev, m, words, &mask));
    ck_soma(soma_tensor_create(dev, 1, n, &alive));
    ck_soma(soma_tensor_create(dev, m, n, &u));
    ck_soma(soma_tensor_create(dev, m, n, &g));
    ck_soma(soma_tensor_create(dev, m, n, &d));
    ck_soma(soma_tensor_upload(tx, x, (size_t)(m * n)));
    ck_soma(soma_tensor_upload(tb, bias, (size_t)n));
    ck_soma(soma_tensor_fill(alive, 0.0f));
    ck_soma(soma_bias_act_dropout(SOMA_ACT_RELU, 0.0f, p, rng, tx, tb, h, z, mask, alive));
    ck_soma(soma_dropout_forward(p, rng, tx, d));
    ck_soma(soma_tensor_fill_uniform(u, &fill, -1.0f, 2.0f));
    ck_soma(soma_tensor_fill_normal(g, &fill, 0.5f, 3.0f));
    out->h = malloc((size_t)(m * n) * sizeof(float));
    out->z = malloc((size_t)(m * n) * sizeof(float));
    out->uniform = malloc((size_t)(m * n) * sizeof(float));
    out->normal = malloc((size_t)(m * n) * sizeof(float));
    out->dropped = malloc((size_t)(m * n) * sizeof(float));
    out->mask = malloc((size_t)(m * words) * sizeof(uint32_t));
    ck_soma(soma_tensor_download(h, out->h, (size_t)(m * n)));
    ck_soma(soma_tensor_download(z, out->z, (size_t)(m * n)));
    ck_soma(soma_tensor_download(u, out->uniform, (size_t)(m * n)));
    ck_soma(soma_tensor_download(g, out->normal, (size_t)(m * n)));
    ck_soma(soma_tensor_download(d, out->dropped, (size_t)(m * n)));
    ck_soma(soma_tensor_download(mask, (float *)(void *)out->mask, (size_t)(m * words)));
    soma_tensor *all[] = {tx, tb, h, z, mask, alive, u, g, d};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) soma_tensor_free(all[i]);
}

static void random_outputs_free(random_outputs *o) {
    free(o->h), free(o->z), free(o->uniform), free(o->normal), free(o->dropped), free(o->mask);
}

/* The first index where two arrays of count 32-bit values differ, or -1. */
static int64_t first_difference(const void *a, const void *b, int64_t count) {
    for (int64_t i = 0; i < count; i++)
        if (memcmp((const char *)a + 4 * i, (const char *)b + 4 * i, 4) != 0) return i;
    return -1;
}

START_TEST(dropout_masks_and_fills_match_cpu_bit_for_bit) {
    static const int64_t dims[][2] = {{1, 1}, {7, 13}, {128, 256}, {128, 128}, {129, 257}, {3, 100000}, {1000, 33}};
    static const float ps[] = {0.1f, 0.5f, 0.0f, 0.99999994f};
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
        for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
            const int64_t m = dims[d][0], n = dims[d][1], words = soma_dropout_mask_words(n);
            float *x = malloc((size_t)(m * n) * sizeof *x), *bias = malloc((size_t)n * sizeof *bias);
            soma_check_make_input(SOMA_IN_NORMAL, TEST_SEED, 0, x, m * n, 0);
            soma_check_make_input(SOMA_IN_NORMAL, TEST_SEED, 1, bias, n, 0);
            random_outputs on_cpu, on_gpu;
            random_outputs_on(cpu, m, n, ps[k], x, bias, &on_cpu);
            random_outputs_on(gpu, m, n, ps[k], x, bias, &on_gpu);
            const struct {
                const char *what;
                const void *a, *b;
                int64_t count;
            } pairs[] = {{"mask word", on_cpu.mask, on_gpu.mask, m * words},
                         {"h", on_cpu.h, on_gpu.h, m * n},
                         {"z", on_cpu.z, on_gpu.z, m * n},
                         {"dropout output", on_cpu.dropped, on_gpu.dropped, m * n},
                         {"uniform fill", on_cpu.uniform, on_gpu.uniform, m * n},
                         {"normal fill", on_cpu.normal, on_gpu.normal, m * n}};
            for (size_t c = 0; c < sizeof pairs / sizeof pairs[0]; c++) {
                int64_t at = first_difference(pairs[c].a, pairs[c].b, pairs[c].count);
                ck_assert_msg(at < 0, "%lldx%lld p=%.9g seed %llu: %s %lld differs between cpu and %s",
                              (long long)m, (long long)n, (double)ps[k], TEST_SEED, pairs[c].what, (long long)at,
                              soma_device_name(gpu));
            }
            random_outputs_free(&on_cpu);
            random_outputs_free(&on_gpu);
            free(x), free(bias);
        }
}
END_TEST

START_TEST(copies_across_devices_round_trip) {
    enum { N = 129 * 257 };
    static float host[N], back[N];
    soma_check_make_input(SOMA_IN_NORMAL, TEST_SEED, 0, host, N, 0);
    soma_tensor *a = NULL, *g = NULL, *b = NULL;
    ck_soma(soma_tensor_create(cpu, 129, 257, &a));
    ck_soma(soma_tensor_create(gpu, 129, 257, &g));
    ck_soma(soma_tensor_create(cpu, 129, 257, &b));
    ck_soma(soma_tensor_upload(a, host, N));
    ck_soma(soma_tensor_copy(g, a));
    ck_soma(soma_tensor_copy(b, g));
    ck_soma(soma_tensor_download(b, back, N));
    ck_assert(memcmp(host, back, sizeof host) == 0);
    soma_tensor_free(a), soma_tensor_free(g), soma_tensor_free(b);
}
END_TEST

START_TEST(mixed_devices_are_refused) {
    soma_tensor *a = NULL, *g = NULL;
    ck_soma(soma_tensor_create(cpu, 4, 4, &a));
    ck_soma(soma_tensor_create(gpu, 4, 4, &g));
    soma_status s = soma_gemm(0, 0, 1.0f, a, g, 0.0f, a);
    ck_assert_int_eq(s, SOMA_ERR_DEVICE);
    ck_assert_msg(strstr(soma_last_error(), "'b' is on cuda:0 but 'a' is on cpu"), "%s", soma_last_error());
    soma_tensor_free(a), soma_tensor_free(g);
}
END_TEST

START_TEST(impossible_allocation_is_an_error) {
    soma_tensor *t = NULL;
    soma_status s = soma_tensor_create(gpu, 1000000, 1000000, &t);
    ck_assert_int_eq(s, SOMA_ERR_OUT_OF_MEMORY);
    ck_assert_ptr_null(t);
    ck_soma(soma_tensor_create(gpu, 2, 2, &t)); /* still usable */
    ck_soma(soma_tensor_fill(t, 1.0f));
    soma_tensor_free(t);
}
END_TEST

#ifdef SOMA_CUDA_EMULATION
/* A model, an optimizer and one epoch of training on the device: every
 * device allocation the library makes on the way. */
static soma_status train_briefly(soma_device *dev) {
    enum { ROWS = 40, FEATURES = 5, CLASSES = 3 };
    soma_dataset *ds = NULL;
    soma_mlp *m = NULL;
    soma_optimizer *o = NULL;
    soma_status st = soma_dataset_create(ROWS, FEATURES, 1, &ds);
    if (st == SOMA_OK) {
        float *x = soma_dataset_feature_data(ds), *y = soma_dataset_target_data(ds);
        for (int i = 0; i < ROWS * FEATURES; i++) x[i] = (float)(i % 7) * 0.1f;
        for (int i = 0; i < ROWS; i++) y[i] = (float)(i % CLASSES);
        st = soma_mlp_create_simple(dev, (int64_t[]){FEATURES, 8, CLASSES}, 3, SOMA_ACT_RELU, &m);
    }
    soma_optim_config oc = soma_optim_defaults(SOMA_OPTIM_ADAM);
    oc.clip_norm = 1.0f;
    if (st == SOMA_OK) st = soma_optimizer_create(m, &oc, &o);
    soma_train_config tc = {.loss = SOMA_LOSS_XENT, .batch = 16, .epochs = 1, .seed = TEST_SEED};
    soma_train_state state = {0};
    if (st == SOMA_OK) st = soma_train(m, o, ds, ds, &tc, &state);
    soma_optimizer_free(o);
    soma_mlp_free(m);
    soma_dataset_free(ds);
    return st;
}

/* The emulation runs out of device memory at the nth allocation (it and all
 * later ones fail), for n = 1, 2, ... until a run makes fewer: each time the
 * run must end in an out-of-memory status naming the device, and leave no
 * device memory behind once the cache of freed blocks is trimmed. */
START_TEST(every_failed_device_allocation_is_an_error_and_leaks_nothing) {
    soma_device_trim(gpu); /* freed blocks kept for reuse are not leaks: count without them */
    long baseline = soma_emu_live_allocations(NULL);
    long n;
    for (n = 1; n < 1000; n++) {
        soma_emu_fail_allocation_after(n);
        soma_clear_error();
        soma_status st = train_briefly(gpu);
        soma_emu_fail_allocation_after(0);
        soma_device_trim(gpu);
        long live = soma_emu_live_allocations(NULL);
        ck_assert_msg(live == baseline, "failing device allocation %ld: %ld allocations left, %ld before",
                      n, live, baseline);
        if (st == SOMA_OK) break; /* the run made fewer than n allocations */
        ck_assert_msg(st == SOMA_ERR_OUT_OF_MEMORY && strstr(soma_last_error(), "cuda:0"),
                      "failing device allocation %ld: %s: %s", n, soma_status_name(st),
                      soma_last_error());
    }
    printf("test_cuda: each of the %ld device allocations of a short training run failed in "
           "turn: an out-of-memory error every time, nothing leaked\n",
           n - 1);
    ck_assert_msg(n > 5, "only %ld allocations: the injection did not work", n - 1);
}
END_TEST
#endif

#ifdef SOMA_CUDA_EMULATION
/* Variant `variant` of op at m x n (k), on inputs made as soma check makes
 * them; what the op asked of the device. With `graph`, the op is recorded
 * into a CUDA graph (which must allocate nothing) and replayed twice, and
 * the replay's outputs must be the direct run's, bit for bit. */
static soma_emu_counters run_variant(soma_op_id op, const char *variant, int64_t m, int64_t n,
                                     int64_t k, int graph) {
    const soma_op_desc *d = &soma_op_table[op];
    soma_op_params p = d->n_test_params ? d->test_params[0] : (soma_op_params){0};
    soma_shape in[SOMA_MAX_IN], out[SOMA_MAX_OUT];
    soma_op_test_shapes(op, &p, m, n, k, in, out);
    soma_op_call call = {.op = op, .p = p};
    soma_tensor *t[SOMA_MAX_IN + SOMA_MAX_OUT] = {NULL};
    for (int a = 0; a < d->n_in + d->n_out; a++) {
        soma_shape sh = a < d->n_in ? in[a] : out[a - d->n_in];
        ck_soma(soma_tensor_create(gpu, sh.rows, sh.cols, &t[a]));
        float values[1024];
        ck_assert(sh.rows * sh.cols <= 1024);
        soma_check_make_input(a < d->n_in ? d->kind[a] : SOMA_IN_NORMAL, TEST_SEED, a, values,
                              sh.rows * sh.cols, sh.cols);
        ck_soma(soma_tensor_upload(t[a], values, (size_t)(sh.rows * sh.cols)));
        if (a < d->n_in)
            call.in[a] = t[a];
        else
            call.out[a - d->n_in] = t[a];
    }
    ck_soma(soma_device_synchronize(gpu));
    soma_emu_counters before, after;
    soma_emu_counters_read(&before);
    ck_soma(soma_op_run(&call, variant));
    ck_soma(soma_device_synchronize(gpu));
    soma_emu_counters_read(&after);
    if (graph) {
        const soma_backend *be = gpu->backend;
        float direct[SOMA_MAX_OUT][1024], replayed[1024];
        for (int o = 0; o < d->n_out; o++)
            ck_soma(soma_tensor_download(call.out[o], direct[o], (size_t)(out[o].rows * out[o].cols)));
        soma_emu_counters r0, r1;
        soma_emu_counters_read(&r0);
        void *g = NULL;
        ck_soma(be->graph_begin(gpu->ctx));
        ck_soma(soma_op_run(&call, variant));
        ck_soma(be->graph_end(gpu->ctx, &g));
        soma_emu_counters_read(&r1);
        soma_emu_counters rec = soma_emu_counters_diff(&r1, &r0);
        ck_assert_msg(rec.device_allocs == 0, "%s [%s]: %llu allocations while recording", d->name,
                      variant, (unsigned long long)rec.device_allocs);
        for (int o = 0; o < d->n_out; o++) ck_soma(soma_tensor_fill(call.out[o], -7.0f));
        ck_soma(be->graph_launch(gpu->ctx, g));
        ck_soma(be->graph_launch(gpu->ctx, g));
        ck_soma(soma_device_synchronize(gpu));
        soma_emu_counters r2;
        soma_emu_counters_read(&r2);
        ck_assert_msg(r2.graph_nodes_run - r1.graph_nodes_run >= 2, "%s [%s]: the graph ran nothing",
                      d->name, variant);
        for (int o = 0; o < d->n_out; o++) {
            const int64_t count = out[o].rows * out[o].cols;
            ck_soma(soma_tensor_download(call.out[o], replayed, (size_t)count));
            ck_assert_msg(memcmp(direct[o], replayed, (size_t)count * sizeof(float)) == 0,
                          "%s [%s]: output %d replayed from the graph differs", d->name, variant, o);
        }
        be->graph_free(gpu->ctx, g);
    }
    for (int a = 0; a < d->n_in + d->n_out; a++) soma_tensor_free(t[a]);
    return soma_emu_counters_diff(&after, &before);
}

/* Each epilogue op's "cublaslt" variant is one library call and no kernel
 * of soma's (the epilogue is fused); where the heuristic offers no fused
 * algorithm it falls back to cublasSgemm and soma's passes, with the CPU's
 * results still. */
START_TEST(epilogue_variants_fuse_or_fall_back) {
    const soma_op_id ops[] = {SOMA_OP_GEMM_BIAS_RELU, SOMA_OP_GEMM_DRELU_BGRAD, SOMA_OP_GEMM_BIAS_GELU,
                              SOMA_OP_GEMM_DGELU_BGRAD};
    for (int fallback = 0; fallback < 2; fallback++) {
        soma_emu_lt_offer_no_epilogue(fallback);
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
            const char *name = soma_op_table[ops[i]].name;
            soma_emu_counters c = run_variant(ops[i], "cublaslt", 7, 13, 5, 0);
            printf("%s [cublaslt]%s: %llu library calls, %llu kernel launches\n", name,
                   fallback ? " with no fused algorithm offered" : "",
                   (unsigned long long)c.library_calls, (unsigned long long)c.kernel_launches);
            if (!fallback)
                ck_assert_msg(c.library_calls == 1 && c.kernel_launches == 0,
                              "%s: %llu library calls and %llu kernels, expected one fused call", name,
                              (unsigned long long)c.library_calls, (unsigned long long)c.kernel_launches);
            else
                ck_assert_msg(c.library_calls == 1 && c.kernel_launches >= 1,
                              "%s: %llu library calls and %llu kernels, expected cublasSgemm and a "
                              "pass",
                              name, (unsigned long long)c.library_calls,
                              (unsigned long long)c.kernel_launches);
            soma_check_case cc = {.op = ops[i], .m = 129, .n = 257, .k = 65, .seed = TEST_SEED,
                                  .variant = "cublaslt"};
            soma_check_result r;
            ck_soma(soma_check_against_device(gpu, cpu, &cc, &r));
            ck_assert_msg(r.passed, "%s [cublaslt]%s 129x257 (k 65): NMSE %.3e, %lld words differ",
                          name, fallback ? " (fallback)" : "", r.nmse, (long long)r.bit_mismatches);
        }
    }
    soma_emu_lt_offer_no_epilogue(0);
}
END_TEST

/* layernorm's "cudnn" variant runs one cuDNN graph (one library call, no
 * kernel of soma's) from a plan built on the first call at a shape, which a
 * CUDA graph can record (the plan and the workspace exist already: nothing
 * is allocated); where cuDNN offers no engine it runs soma's kernel, with
 * the CPU's results still. The shapes differ between the two halves, since
 * plans (and the lack of one) are kept per shape. */
#ifdef SOMA_EMU_CUDNN
START_TEST(layernorm_cudnn_runs_a_plan_or_falls_back) {
    const soma_op_id ops[] = {SOMA_OP_LAYERNORM_FORWARD, SOMA_OP_LAYERNORM_BACKWARD};
    for (int fallback = 0; fallback < 2; fallback++) {
        soma_emu_cudnn_offer_no_engine(fallback);
        const int64_t m = fallback ? 5 : 7, n = fallback ? 11 : 13;
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
            const char *name = soma_op_table[ops[i]].name;
            for (int call = 0; call < 2; call++) { /* the second from the cached plan */
                soma_emu_counters c = run_variant(ops[i], "cudnn", m, n, 1, call == 1);
                printf("%s [cudnn]%s call %d: %llu library calls, %llu kernel launches\n", name,
                       fallback ? " with no engine offered" : "", call + 1,
                       (unsigned long long)c.library_calls, (unsigned long long)c.kernel_launches);
                ck_assert_msg(fallback ? c.library_calls == 0 && c.kernel_launches >= 1
                                       : c.library_calls == 1 && c.kernel_launches == 0,
                              "%s: %llu library calls and %llu kernels, expected %s", name,
                              (unsigned long long)c.library_calls, (unsigned long long)c.kernel_launches,
                              fallback ? "soma's kernels" : "one cuDNN graph");
            }
            soma_check_case cc = {.op = ops[i], .m = m, .n = n, .seed = TEST_SEED, .variant = "cudnn"};
            soma_check_result r;
            ck_soma(soma_check_against_device(gpu, cpu, &cc, &r));
            ck_assert_msg(r.passed, "%s [cudnn]%s %lldx%lld: NMSE %.3e (limit %.1e)", name,
                          fallback ? " (fallback)" : "", (long long)m, (long long)n, r.nmse, r.limit);
        }
    }
    soma_emu_cudnn_offer_no_engine(0);
}
END_TEST
#endif
#endif

int main(void) {
    test_require_gpu();
    printf("test_cuda: seed %llu\n", TEST_SEED);
    test_require(soma_device_open("cpu", &cpu));
    test_require(soma_device_open("cuda:0", &gpu));
    test_say_where_cuda_runs("test_cuda", gpu);
    Suite *s = suite_create("cuda_ops");
    TCase *table = tcase_create("op_table");
    tcase_add_loop_test(table, op_matches_cpu, 0, SOMA_OP_COUNT);
    suite_add_tcase(s, table);
    TCase *direct = tcase_create("direct");
    tcase_add_test(direct, dropout_masks_and_fills_match_cpu_bit_for_bit);
    tcase_add_test(direct, copies_across_devices_round_trip);
    tcase_add_test(direct, mixed_devices_are_refused);
    tcase_add_test(direct, impossible_allocation_is_an_error);
#ifdef SOMA_CUDA_EMULATION
    tcase_add_test(direct, every_failed_device_allocation_is_an_error_and_leaks_nothing);
    tcase_add_test(direct, epilogue_variants_fuse_or_fall_back);
#ifdef SOMA_EMU_CUDNN
    tcase_add_test(direct, layernorm_cudnn_runs_a_plan_or_falls_back);
#endif
#endif
    suite_add_tcase(s, direct);
    Suite *suites[] = {s};
    int code = test_run(suites, 1, CK_NOFORK);
    soma_device_close(gpu);
    soma_device_close(cpu);
    soma_shutdown();
    return code;
}
