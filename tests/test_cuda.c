/* test_cuda.c: every op on every CUDA variant against the CPU, by NMSE within
 * each op's limit (bit for bit for fills, argmax and counts), with sentinel
 * guards around every tensor; plus copies across devices and mixed-device
 * errors. Without a usable GPU it exits 77, which ctest reports as skipped.
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
    int n_variants = test_variants(&soma_cuda_backend, (soma_op_id)_i, variants);
    int n_params = d->n_test_params ? d->n_test_params : 1;
    /* variants innermost: they share one expected result (op_check.c) */
    for (int p = 0; p < n_params; p++)
        for (int s = 0; s < SOMA_CHECK_SHAPE_COUNT; s++)
            for (int v = 0; v < n_variants; v++) {
                const soma_check_shape *sh = &soma_check_shapes[s];
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
    tcase_add_test(direct, copies_across_devices_round_trip);
    tcase_add_test(direct, mixed_devices_are_refused);
    tcase_add_test(direct, impossible_allocation_is_an_error);
#ifdef SOMA_CUDA_EMULATION
    tcase_add_test(direct, every_failed_device_allocation_is_an_error_and_leaks_nothing);
#endif
    suite_add_tcase(s, direct);
    Suite *suites[] = {s};
    int code = test_run(suites, 1, CK_NOFORK);
    soma_device_close(gpu);
    soma_device_close(cpu);
    soma_shutdown();
    return code;
}
