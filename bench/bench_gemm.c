/* bench_gemm.c: GFLOP/s of one GEMM implementation at given shapes.
 *
 *   bench_gemm IMPL [--seconds S] SHAPE...      SHAPE = MxNxK[:OP], OP = NN, NT or TN
 *
 * IMPL is one of
 *   soma           soma's own blocked kernel (the op's "blocked" variant)
 *   soma-openblas  OpenBLAS through soma's op layer (the "openblas" variant)
 *   soma-default   soma_gemm(): what training uses (the default kernel)
 *   openblas       cblas_sgemm called directly: the ceiling
 * One implementation per process, so that OpenBLAS's thread pool and
 * OpenMP's never meet (bench/run_cpu.py alternates the processes).
 *
 * C = op(A) op(B), row-major, op as in soma_gemm (TN: A stored k x m). Each
 * shape is timed for S seconds (1) in samples of about S/10 seconds; the
 * line per shape gives the median sample's GFLOP/s (2 m n k per call) and
 * the best sample's. */
#include <stdint.h>

#include "bench_util.h"
#include "core/backend.h"

#ifdef SOMA_BENCH_HAVE_CBLAS
#include <cblas.h>
#endif

typedef struct shape {
    int64_t m, n, k;
    int trans_a, trans_b;
} shape;

static int parse_shape(const char *spec, shape *s) {
    long long m, n, k;
    char op[3] = "NN";
    int got = sscanf(spec, "%lldx%lldx%lld:%2[NT]", &m, &n, &k, op);
    if (got < 3 || m < 1 || n < 1 || k < 1) return 0;
    *s = (shape){m, n, k, op[0] == 'T', op[1] == 'T'};
    return 1;
}

typedef struct operands {
    soma_tensor *a, *b, *c;
    const char *impl;
} operands;

static void run_once(const operands *o, const shape *s) {
    if (strcmp(o->impl, "openblas") == 0) {
#ifdef SOMA_BENCH_HAVE_CBLAS
        /* the tensors live in host memory on the CPU device */
        const soma_tensor *a = o->a, *b = o->b;
        cblas_sgemm(CblasRowMajor, s->trans_a ? CblasTrans : CblasNoTrans,
                    s->trans_b ? CblasTrans : CblasNoTrans, (int)s->m, (int)s->n, (int)s->k, 1.0f,
                    a->data, (int)a->cols, b->data, (int)b->cols, 0.0f, o->c->data, (int)o->c->cols);
        return;
#endif
    }
    if (strcmp(o->impl, "soma-default") == 0) {
        BENCH_TRY(soma_gemm(s->trans_a, s->trans_b, 1.0f, o->a, o->b, 0.0f, o->c));
        return;
    }
    soma_op_call call = {.op = SOMA_OP_GEMM, .in = {o->a, o->b}, .out = {o->c},
                         .p = {.trans_a = s->trans_a, .trans_b = s->trans_b, .alpha = 1.0f}};
    BENCH_TRY(soma_op_run(&call, strcmp(o->impl, "soma") == 0 ? "blocked" : "openblas"));
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_gemm soma|soma-openblas|soma-default|openblas [--seconds S] MxNxK[:OP]...\n");
        return 2;
    }
    const char *impl = argv[1];
    if (strcmp(impl, "soma") && strcmp(impl, "soma-openblas") && strcmp(impl, "soma-default") &&
        strcmp(impl, "openblas")) {
        fprintf(stderr, "bench_gemm: unknown implementation '%s'\n", impl);
        return 2;
    }
#ifndef SOMA_BENCH_HAVE_CBLAS
    if (strcmp(impl, "openblas") == 0) {
        fprintf(stderr, "bench_gemm: built without OpenBLAS\n");
        return 2;
    }
#endif
    double seconds = 1.0;
    soma_device *dev;
    BENCH_TRY(soma_device_open("cpu", &dev));
    bench_print_settings(dev);
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = atof(argv[++i]);
            continue;
        }
        shape s;
        if (!parse_shape(argv[i], &s)) {
            fprintf(stderr, "bench_gemm: bad shape '%s' (want MxNxK[:NN|NT|TN])\n", argv[i]);
            return 2;
        }
        operands o = {.impl = impl};
        soma_rng rng = soma_rng_make(7);
        BENCH_TRY(soma_tensor_create(dev, s.trans_a ? s.k : s.m, s.trans_a ? s.m : s.k, &o.a));
        BENCH_TRY(soma_tensor_create(dev, s.trans_b ? s.n : s.k, s.trans_b ? s.k : s.n, &o.b));
        BENCH_TRY(soma_tensor_create(dev, s.m, s.n, &o.c));
        BENCH_TRY(soma_tensor_fill_uniform(o.a, &rng, -1.0f, 1.0f));
        BENCH_TRY(soma_tensor_fill_uniform(o.b, &rng, -1.0f, 1.0f));
        run_once(&o, &s); /* first call: packing buffers, page faults */
        double t0 = bench_now();
        run_once(&o, &s);
        double one = bench_now() - t0;
        int reps = one > 0 ? (int)(seconds / 10.0 / one) : 1000;
        reps = reps < 1 ? 1 : reps;
        double samples[4096];
        int n = 0;
        double end = bench_now() + seconds;
        while (n < 4096 && (bench_now() < end || n < 5)) {
            t0 = bench_now();
            for (int r = 0; r < reps; r++) run_once(&o, &s);
            samples[n++] = (bench_now() - t0) / reps;
        }
        double flop = 2.0 * (double)s.m * (double)s.n * (double)s.k;
        double best = samples[0];
        for (int j = 1; j < n; j++) best = samples[j] < best ? samples[j] : best;
        printf("gemm op=%c%c m=%lld n=%lld k=%lld gflops=%.1f best_gflops=%.1f\n", s.trans_a ? 'T' : 'N',
               s.trans_b ? 'T' : 'N', (long long)s.m, (long long)s.n, (long long)s.k,
               flop / bench_median(samples, n) / 1e9, flop / best / 1e9);
        fflush(stdout);
        soma_tensor_free(o.a);
        soma_tensor_free(o.b);
        soma_tensor_free(o.c);
    }
    soma_device_close(dev);
    return 0;
}
