/* test_errors.c: bad input gives a status and a message naming the function,
 * the argument and the shapes; nothing aborts, nothing leaks (run under
 * valgrind/ASan in CI). */
#include <string.h>

#include "core/backend.h"
#include "test_util.h"

static soma_device *cpu;
static soma_tensor *a7x13, *b13x5, *c7x5, *c5x7, *bias1x5, *bias1x4, *labels7;

static void setup(void) {
    cpu = test_open("cpu");
    soma_tensor **ts[] = {&a7x13, &b13x5, &c7x5, &c5x7, &bias1x5, &bias1x4, &labels7};
    const int64_t dims[][2] = {{7, 13}, {13, 5}, {7, 5}, {5, 7}, {1, 5}, {1, 4}, {7, 1}};
    for (int i = 0; i < 7; i++) {
        ck_soma(soma_tensor_create(cpu, dims[i][0], dims[i][1], ts[i]));
        ck_soma(soma_tensor_fill(*ts[i], 0.5f));
    }
}

static void teardown(void) {
    soma_tensor *ts[] = {a7x13, b13x5, c7x5, c5x7, bias1x5, bias1x4, labels7};
    for (int i = 0; i < 7; i++) soma_tensor_free(ts[i]);
    soma_device_close(cpu);
    soma_shutdown();
}

START_TEST(null_handles) {
    ck_fails(soma_gemm(0, 0, 1.0f, NULL, b13x5, 0.0f, c7x5), SOMA_ERR_INVALID_ARG, "soma_gemm", "'a' is NULL");
    ck_fails(soma_gemm(0, 0, 1.0f, a7x13, b13x5, 0.0f, NULL), SOMA_ERR_INVALID_ARG, "'c' is NULL");
    ck_fails(soma_softmax_xent_loss(a7x13, NULL, c7x5), SOMA_ERR_INVALID_ARG, "'labels' is NULL");
    soma_tensor *t = NULL;
    ck_fails(soma_tensor_create(NULL, 2, 2, &t), SOMA_ERR_INVALID_ARG, "'device' is NULL");
    ck_fails(soma_tensor_create(cpu, 2, 2, NULL), SOMA_ERR_INVALID_ARG, "'out' is NULL");
    ck_fails(soma_tensor_upload(NULL, NULL, 0), SOMA_ERR_INVALID_ARG, "'t' is NULL");
    ck_fails(soma_tensor_download(a7x13, NULL, 91), SOMA_ERR_INVALID_ARG, "'host' is NULL");
    ck_fails(soma_tensor_copy(NULL, a7x13), SOMA_ERR_INVALID_ARG, "'dst' is NULL");
    ck_fails(soma_tensor_fill_uniform(a7x13, NULL, 0, 1), SOMA_ERR_INVALID_ARG, "'rng' is NULL");
    soma_device *dev = NULL;
    ck_fails(soma_device_open(NULL, &dev), SOMA_ERR_INVALID_ARG, "'spec' is NULL");
    ck_fails(soma_activation_parse(NULL, NULL), SOMA_ERR_INVALID_ARG, "NULL");
    soma_tensor_free(NULL); /* allowed */
}
END_TEST

START_TEST(mismatched_shapes) {
    ck_fails(soma_gemm(0, 0, 1.0f, a7x13, c7x5, 0.0f, c7x5), SOMA_ERR_SHAPE, "soma_gemm",
             "inner dimensions 13 and 7 differ");
    ck_fails(soma_gemm(0, 0, 1.0f, a7x13, b13x5, 0.0f, c5x7), SOMA_ERR_SHAPE, "'c' is 5x7",
             "7x5");
    ck_fails(soma_gemm(1, 0, 1.0f, a7x13, b13x5, 0.0f, c7x5), SOMA_ERR_SHAPE, "trans_a=1");
    ck_fails(soma_bias_add(c7x5, bias1x4, c7x5), SOMA_ERR_SHAPE, "soma_bias_add",
             "'bias' is 1x4 but must be 1x5", "'x' (7x5)");
    ck_fails(soma_bias_grad(c7x5, bias1x4), SOMA_ERR_SHAPE, "'dbias' is 1x4");
    ck_fails(soma_activation_forward(SOMA_ACT_RELU, 0, a7x13, c7x5), SOMA_ERR_SHAPE,
             "soma_activation_forward", "'y' is 7x5 but must be 7x13");
    ck_fails(soma_softmax_xent_loss(a7x13, bias1x5, bias1x5), SOMA_ERR_SHAPE,
             "'labels' is 1x5 but must be 7x1");
    ck_fails(soma_mse_loss(c7x5, c7x5, c7x5), SOMA_ERR_SHAPE, "'loss' is 7x5 but must be 1x1");
    ck_fails(soma_axpy(1.0f, c7x5, c5x7), SOMA_ERR_SHAPE, "soma_axpy");
    ck_fails(soma_tensor_copy(c7x5, c5x7), SOMA_ERR_SHAPE, "'dst' is 7x5 but 'src' is 5x7");
    float host[35];
    ck_fails(soma_tensor_upload(c7x5, host, 34), SOMA_ERR_SHAPE, "count is 34", "7x5 = 35");
    soma_tensor *view = NULL;
    ck_fails(soma_tensor_view_rows(c7x5, 5, 3, &view), SOMA_ERR_SHAPE, "rows [5, 8)");
    ck_assert_ptr_null(view);
}
END_TEST

START_TEST(zero_size_tensors) {
    soma_tensor *t = (soma_tensor *)1;
    ck_fails(soma_tensor_create(cpu, 0, 5, &t), SOMA_ERR_SHAPE, "shape 0x5 is empty");
    ck_assert_ptr_null(t);
    ck_fails(soma_tensor_create(cpu, 3, -1, &t), SOMA_ERR_SHAPE, "3x-1");
    ck_fails(soma_tensor_create(cpu, INT64_MAX, INT64_MAX, &t), SOMA_ERR_SHAPE, "too many elements");
    ck_fails(soma_tensor_view_rows(c7x5, 0, 0, &t), SOMA_ERR_SHAPE, "rows [0, 0)");
}
END_TEST

/* Two devices are needed to mix them; a second handle on the CPU backend
 * stands in for a GPU here (the CUDA suite mixes real ones). */
START_TEST(mixed_devices) {
    soma_device other = {.backend = &soma_cpu_backend, .name = "other:1"};
    soma_tensor *t = NULL;
    ck_soma(soma_tensor_create(&other, 13, 5, &t));
    ck_fails(soma_gemm(0, 0, 1.0f, a7x13, t, 0.0f, c7x5), SOMA_ERR_DEVICE,
             "'b' is on other:1 but 'a' is on cpu");
    ck_fails(soma_softmax(c7x5, t), SOMA_ERR_DEVICE, "'y' is on other:1");
    soma_tensor_free(t);
    ck_assert_int_eq(other.refcount, 0);
}
END_TEST

START_TEST(aliasing_that_is_not_allowed) {
    soma_tensor *sq = NULL;
    ck_soma(soma_tensor_create(cpu, 5, 5, &sq));
    ck_fails(soma_gemm(0, 0, 1.0f, sq, sq, 0.0f, sq), SOMA_ERR_INVALID_ARG,
             "output 'c' shares memory with input 'a'");
    ck_fails(soma_axpy(1.0f, c7x5, c7x5), SOMA_ERR_INVALID_ARG, "'y' shares memory with input 'x'");
    soma_tensor *view = NULL;
    ck_soma(soma_tensor_view_rows(a7x13, 1, 3, &view));
    /* a view overlapping part of its input: not the same elements */
    soma_tensor *other_rows = NULL;
    ck_soma(soma_tensor_view_rows(a7x13, 2, 3, &other_rows));
    ck_fails(soma_activation_forward(SOMA_ACT_RELU, 0, view, other_rows), SOMA_ERR_INVALID_ARG,
             "shares memory");
    ck_soma(soma_activation_forward(SOMA_ACT_RELU, 0, view, view)); /* exactly in place: fine */
    soma_tensor_free(other_rows);
    soma_tensor_free(view);
    soma_tensor_free(sq);
}
END_TEST

START_TEST(bad_values) {
    ck_fails(soma_activation_forward((soma_activation)99, 0, a7x13, a7x13), SOMA_ERR_INVALID_ARG,
             "activation 99");
    soma_activation act;
    ck_fails(soma_activation_parse("swish", &act), SOMA_ERR_INVALID_ARG, "unknown activation 'swish'");
    soma_rng rng = soma_rng_make(1);
    ck_fails(soma_tensor_fill_uniform(a7x13, &rng, 2.0f, 1.0f), SOMA_ERR_INVALID_ARG, "lo 2 > hi 1");
    ck_fails(soma_tensor_fill_normal(a7x13, &rng, 0.0f, -1.0f), SOMA_ERR_INVALID_ARG, "stddev -1");
    ck_assert_int_eq(rng.offset, 0); /* failed fills draw nothing */
    ck_assert_str_eq(soma_status_name((soma_status)1234), "unknown status");
}
END_TEST

START_TEST(device_names) {
    soma_device *dev = (soma_device *)1;
    ck_fails(soma_device_open("gpu", &dev), SOMA_ERR_DEVICE, "unknown device 'gpu'");
    ck_assert_ptr_null(dev);
    ck_fails(soma_device_open("cuda:x", &dev), SOMA_ERR_DEVICE, "unknown device 'cuda:x'");
    ck_fails(soma_device_open("cuda:1junk", &dev), SOMA_ERR_DEVICE, "unknown device");
    const char *reason = NULL;
    if (soma_cuda_device_count(&reason) == 0) {
        ck_fails(soma_device_open("cuda", &dev), SOMA_ERR_DEVICE, "cannot open 'cuda'", reason);
        ck_soma(soma_device_open("auto", &dev)); /* falls back to the CPU */
        ck_assert_str_eq(soma_device_name(dev), "cpu");
        soma_device_close(dev);
    }
    ck_fails(soma_device_open("cuda:99", &dev), SOMA_ERR_DEVICE, "cuda:99");
}
END_TEST

START_TEST(errors_are_clearable) {
    soma_device *dev = NULL;
    ck_fails(soma_device_open("gpu", &dev), SOMA_ERR_DEVICE, "gpu");
    soma_clear_error();
    ck_assert_str_eq(soma_last_error(), "");
}
END_TEST

int main(void) {
    Suite *s = suite_create("errors");
    TCase *tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, null_handles);
    tcase_add_test(tc, mismatched_shapes);
    tcase_add_test(tc, zero_size_tensors);
    tcase_add_test(tc, mixed_devices);
    tcase_add_test(tc, aliasing_that_is_not_allowed);
    tcase_add_test(tc, bad_values);
    tcase_add_test(tc, device_names);
    tcase_add_test(tc, errors_are_clearable);
    suite_add_tcase(s, tc);
    Suite *suites[] = {s};
    return test_run(suites, 1, CK_FORK);
}
