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
    suite_add_tcase(s, direct);
    Suite *suites[] = {s};
    int code = test_run(suites, 1, CK_NOFORK);
    soma_device_close(gpu);
    soma_device_close(cpu);
    soma_shutdown();
    return code;
}
