/* test_util.h: what every soma test file needs besides Check. */
#ifndef SOMA_TEST_UTIL_H
#define SOMA_TEST_UTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

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

static inline soma_device *test_open(const char *spec) {
    soma_device *dev = NULL;
    ck_soma(soma_device_open(spec, &dev));
    return dev;
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
