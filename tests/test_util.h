/* test_util.h: what every soma test file needs besides Check. */
#ifndef SOMA_TEST_UTIL_H
#define SOMA_TEST_UTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soma.h"

/* Every random input in the tests derives from this seed; failures print it. */
#define TEST_SEED 20261121ull

/* Asserts a soma call succeeded, printing the library's message if not. */
#define ck_soma(expr)                                                                          \
    do {                                                                                       \
        soma_status ck_soma_s_ = (expr);                                                       \
        ck_assert_msg(ck_soma_s_ == SOMA_OK, "%s failed: %s: %s", #expr,                      \
                      soma_status_name(ck_soma_s_), soma_last_error());                        \
    } while (0)

/* Asserts expr fails with status and leaves a message containing each of the
 * given fragments. */
#define ck_fails(expr, status, ...)                                                            \
    do {                                                                                       \
        soma_clear_error();                                                                    \
        soma_status ck_s_ = (expr);                                                            \
        ck_assert_msg(ck_s_ == (status), "%s gave %s, want %s (message: %s)", #expr,          \
                      soma_status_name(ck_s_), soma_status_name(status), soma_last_error());   \
        const char *ck_frags_[] = {__VA_ARGS__};                                               \
        for (size_t ck_f_ = 0; ck_f_ < sizeof ck_frags_ / sizeof ck_frags_[0]; ck_f_++)       \
            ck_assert_msg(strstr(soma_last_error(), ck_frags_[ck_f_]),                         \
                          "%s: message '%s' lacks '%s'", #expr, soma_last_error(),            \
                          ck_frags_[ck_f_]);                                                   \
    } while (0)

/* SOMA_TEST_SMALL_SHAPES=1 (set by tests/CMakeLists.txt for the sanitizer
 * build's repeat runs): the op tests skip the shapes `soma check --quick`
 * skips (1024x1024, 1x10^6), which cost minutes under AddressSanitizer and
 * the emulation; the awkward and wide ones (1, 7x13, 129x257, 3x10^5) stay. */
#include "core/op_check.h"
static inline int test_skip_shape(const soma_check_shape *sh) {
    const char *small = getenv("SOMA_TEST_SMALL_SHAPES");
    return sh->large && small && strcmp(small, "1") == 0;
}

/* Exits 77 (ctest: skipped) with the reason when no CUDA GPU is usable. A
 * CUDA context does not survive fork(), so GPU suites run without it. */
static inline void test_require_gpu(void) {
    const char *reason = NULL;
    if (soma_cuda_device_count(&reason) == 0) {
        printf("SKIP: %s\n", reason);
        exit(77);
    }
}

/* The names of every kernel of op on a backend: NULL (its default) first,
 * then each variant; returns how many. */
#include "core/backend.h"
static inline int test_variants(const soma_backend *be, soma_op_id op, const char *names[8]) {
    int n = 0;
    names[n++] = NULL;
    for (int v = 0; be->variants && be->variants[v].name && n < 8; v++)
        if (be->variants[v].op == op) names[n++] = be->variants[v].name;
    return n;
}

static inline soma_device *test_open(const char *spec) {
    soma_device *dev = NULL;
    ck_soma(soma_device_open(spec, &dev));
    return dev;
}

/* For code outside a running test (main(), set-up before srunner_run_all):
 * there Check 0.15's assertions abort even when they pass ("Unable to
 * report test progress"), so this prints the library's message and exits
 * 1 instead. */
#define test_require(expr)                                                                     \
    do {                                                                                       \
        soma_status test_require_s_ = (expr);                                                  \
        if (test_require_s_ != SOMA_OK) {                                                      \
            fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, __LINE__, #expr,           \
                    soma_status_name(test_require_s_), soma_last_error());                     \
            exit(EXIT_FAILURE);                                                                \
        }                                                                                      \
    } while (0)

/* Says whether the CUDA tests run on a GPU or on the CPU emulation. */
static inline void test_say_where_cuda_runs(const char *program, const soma_device *gpu) {
#ifdef SOMA_CUDA_EMULATION
    printf("%s: CUDA EMULATED on the CPU (tests/emu), not a GPU: %s\n", program,
           soma_device_description(gpu));
#else
    printf("%s: on a GPU: %s\n", program, soma_device_description(gpu));
#endif
}

/* Runs the suites and returns the exit code ctest expects. */
static inline int test_run(Suite *suites[], int n, enum fork_status fork) {
    SRunner *runner = srunner_create(suites[0]);
    for (int i = 1; i < n; i++) srunner_add_suite(runner, suites[i]);
    srunner_set_fork_status(runner, fork);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
