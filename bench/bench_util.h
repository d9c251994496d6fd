/* bench_util.h: what the CPU benchmark programs share: a clock, medians,
 * failing loudly, and the line that says how a run was set up. */
#ifndef SOMA_BENCH_UTIL_H
#define SOMA_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu/cpu_parallel.h" /* soma_cpu_team_late_regions: regions that fell back to one thread */
#include "soma.h"

static inline double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of n values (sorts them). */
static inline double bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Any failure ends the benchmark: a number measured after an error means nothing. */
#define BENCH_TRY(expr)                                                                         \
    do {                                                                                        \
        soma_status bench_s_ = (expr);                                                          \
        if (bench_s_ != SOMA_OK) {                                                              \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #expr, soma_last_error());   \
            exit(1);                                                                            \
        }                                                                                       \
    } while (0)

static inline const char *bench_env(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : "unset";
}

/* "settings ..." : threads and the environment variables that change them. */
static inline void bench_print_settings(soma_device *dev) {
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    printf("settings soma_threads=%d OMP_NUM_THREADS=%s OMP_WAIT_POLICY=%s OPENBLAS_NUM_THREADS=%s "
           "OPENBLAS_CORETYPE=%s SOMA_CPU_GEMM=%s device=\"%s\"\n",
           threads, bench_env("OMP_NUM_THREADS"), bench_env("OMP_WAIT_POLICY"),
           bench_env("OPENBLAS_NUM_THREADS"), bench_env("OPENBLAS_CORETYPE"), bench_env("SOMA_CPU_GEMM"),
           dev ? soma_device_description(dev) : "");
    fflush(stdout);
}

#endif
