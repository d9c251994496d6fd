/* bench_dropout.c: dropout on the CPU in GB/s, beside plain copies of the
 * same tensor.
 *
 *   bench_dropout [--seconds S] [--p P] [ROWSxCOLS ...]
 *
 * For each shape (default: 128x256, MNIST's first hidden layer at batch 128
 * and in L2; 1024x1024, 4 MiB; 4096x4096, 64 MiB, from memory) it times, as
 * the median over S seconds of calls:
 *   copy         soma_tensor_copy: one memmove on the calling thread
 *   scale        soma_scale(1, x, y): the same traffic through soma's
 *                threaded elementwise loop (a copy at the speed of all cores)
 *   dropout      soma_dropout_forward(p): draws the mask (Philox) and applies it
 *   fused        soma_bias_act_dropout(relu, p): bias, ReLU and dropout, z and
 *                the 1-bit mask kept, the dead-unit statistics updated
 *   fused_bwd    soma_bias_act_dropout_backward: applies the kept mask
 *   uniform      soma_tensor_fill_uniform, the same Philox words as dropout's
 *   normal       soma_tensor_fill_normal (Box-Muller on pairs of words)
 * GB/s counts the bytes each op must move once: 8 per element for copy,
 * scale and dropout (read x, write y), 12 + 1/8 for the fused forward (read
 * x, write z and h, the mask bits) and for its backward (read z and dh,
 * write dx, read the mask bits), 4 for the fills (write). "x copy" is the op's time over the faster
 * copy's. One line per op, `dropout shape=... op=... gbps=... ns_per_elem=...`,
 * for bench/run_cpu.py. */
#include <stdint.h>

#include "bench_util.h"

typedef struct op_case {
    const char *name;
    double bytes_per_elem;
} op_case;

enum { COPY, SCALE, DROPOUT, FUSED, FUSED_BWD, UNIFORM, NORMAL, N_OPS };
static const op_case ops[N_OPS] = {
    {"copy", 8.0},         {"scale", 8.0},  {"dropout", 8.0}, {"fused", 12.125},
    {"fused_bwd", 12.125}, {"uniform", 4.0}, {"normal", 4.0},
};

typedef struct tensors {
    soma_tensor *x, *y, *z, *bias, *mask, *alive;
} tensors;

static void run_op(int op, tensors *t, float p, uint64_t call) {
    soma_rng rng = {7, call};
    switch (op) {
    case COPY: BENCH_TRY(soma_tensor_copy(t->y, t->x)); break;
    case SCALE: BENCH_TRY(soma_scale(1.0f, t->x, t->y)); break;
    case DROPOUT: BENCH_TRY(soma_dropout_forward(p, rng, t->x, t->y)); break;
    case FUSED:
        BENCH_TRY(soma_bias_act_dropout(SOMA_ACT_RELU, 0.0f, p, rng, t->x, t->bias, t->y, t->z, t->mask, t->alive));
        break;
    case FUSED_BWD:
        BENCH_TRY(soma_bias_act_dropout_backward(SOMA_ACT_RELU, 0.0f, p, t->z, t->mask, t->x, t->y));
        break;
    case UNIFORM: BENCH_TRY(soma_tensor_fill_uniform(t->y, &rng, -1.0f, 1.0f)); break;
    default: BENCH_TRY(soma_tensor_fill_normal(t->y, &rng, 0.0f, 1.0f));
    }
}

/* Median seconds per call over about `seconds` of calls, in samples of
 * several calls each. */
static double time_op(int op, tensors *t, float p, double seconds) {
    uint64_t call = 0;
    run_op(op, t, p, call++);
    double start = bench_now();
    run_op(op, t, p, call++);
    double one = bench_now() - start;
    int reps = one > 0 ? (int)(seconds / 20 / one) : 1000;
    if (reps < 1) reps = 1;
    double samples[4096];
    int n = 0;
    double end = bench_now() + seconds;
    while ((bench_now() < end || n < 5) && n < 4096) {
        double t0 = bench_now();
        for (int r = 0; r < reps; r++) run_op(op, t, p, call++);
        samples[n++] = (bench_now() - t0) / reps;
    }
    return bench_median(samples, n);
}

int main(int argc, char **argv) {
    double seconds = 1.0;
    float p = 0.1f;
    const char *default_shapes[] = {"128x256", "1024x1024", "4096x4096"};
    const char *shapes[64];
    int n_shapes = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--p") == 0 && i + 1 < argc)
            p = (float)atof(argv[++i]);
        else if (n_shapes < 64 && strchr(argv[i], 'x'))
            shapes[n_shapes++] = argv[i];
        else {
            fprintf(stderr, "usage: bench_dropout [--seconds S] [--p P] [ROWSxCOLS ...]\n");
            return 2;
        }
    }
    if (n_shapes == 0)
        for (n_shapes = 0; n_shapes < 3; n_shapes++) shapes[n_shapes] = default_shapes[n_shapes];
    soma_device *dev;
    BENCH_TRY(soma_device_open("cpu", &dev));
    bench_print_settings(dev);
    printf("%-12s %-10s %9s %11s %8s\n", "shape", "op", "GB/s", "ns/element", "x copy");
    for (int s = 0; s < n_shapes; s++) {
        long long rows = 0, cols = 0;
        if (sscanf(shapes[s], "%lldx%lld", &rows, &cols) != 2 || rows < 1 || cols < 1) {
            fprintf(stderr, "bench_dropout: bad shape '%s'\n", shapes[s]);
            return 2;
        }
        tensors t;
        BENCH_TRY(soma_tensor_create(dev, rows, cols, &t.x));
        BENCH_TRY(soma_tensor_create(dev, rows, cols, &t.y));
        BENCH_TRY(soma_tensor_create(dev, rows, cols, &t.z));
        BENCH_TRY(soma_tensor_create(dev, 1, cols, &t.bias));
        BENCH_TRY(soma_tensor_create(dev, rows, soma_dropout_mask_words(cols), &t.mask));
        BENCH_TRY(soma_tensor_create(dev, 1, cols, &t.alive));
        soma_rng init = soma_rng_make(1);
        BENCH_TRY(soma_tensor_fill_normal(t.x, &init, 0.0f, 1.0f));
        BENCH_TRY(soma_tensor_fill_normal(t.bias, &init, 0.0f, 0.1f));
        BENCH_TRY(soma_tensor_fill(t.alive, 0.0f));
        double sec[N_OPS];
        for (int op = 0; op < N_OPS; op++) sec[op] = time_op(op, &t, p, seconds);
        const double copy = sec[COPY] < sec[SCALE] ? sec[COPY] : sec[SCALE];
        const double elems = (double)rows * (double)cols;
        for (int op = 0; op < N_OPS; op++) {
            double gbps = ops[op].bytes_per_elem * elems / sec[op] / 1e9;
            printf("%-12s %-10s %9.1f %11.3f %8.2f\n", shapes[s], ops[op].name, gbps, 1e9 * sec[op] / elems,
                   sec[op] / copy);
        }
        for (int op = 0; op < N_OPS; op++)
            printf("dropout shape=%s op=%s p=%g gbps=%.2f ns_per_elem=%.4f vs_copy=%.3f\n", shapes[s], ops[op].name,
                   (double)p, ops[op].bytes_per_elem * elems / sec[op] / 1e9, 1e9 * sec[op] / elems, sec[op] / copy);
        fflush(stdout);
        soma_tensor *all[] = {t.x, t.y, t.z, t.bias, t.mask, t.alive};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) soma_tensor_free(all[i]);
    }
    soma_device_close(dev);
    return 0;
}
