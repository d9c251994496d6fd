/* bench_allreduce.c: what one training step's gradient all-reduce costs
 * between CPU ranks (mpirun -np N bench_allreduce [REPS]): for the gradient
 * sizes of soma's default MNIST model (784-256-128-10, 235,146 floats) and
 * of 784-1024-1024-10 (1,863,690), the median time of soma_dist_all_reduce_sum
 * over the flat buffer (plus the stop flag), and of the host copies around it
 * on the CPU (gradients out, scaled by the rank's share, and back: what
 * soma_dist_average_gradients adds). Rank 0 prints. */
#include "bench_util.h"

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 50;
    soma_dist *d;
    BENCH_TRY(soma_dist_open(&d));
    const size_t sizes[] = {235146, 1863690};
    double *t = malloc((size_t)reps * sizeof *t);
    for (size_t s = 0; s < 2; s++) {
        size_t n = sizes[s] + 1;
        float *grads = malloc(n * sizeof *grads), *flat = malloc(n * sizeof *flat);
        if (!grads || !flat || !t) return 1;
        for (size_t i = 0; i < n; i++) grads[i] = (float)(i % 97) * 0.01f;
        double reduce, copies;
        for (int r = 0; r < reps; r++) {
            double start = bench_now();
            BENCH_TRY(soma_dist_all_reduce_sum(d, flat, n));
            t[r] = bench_now() - start;
        }
        reduce = bench_median(t, reps);
        for (int r = 0; r < reps; r++) {
            double start = bench_now();
            memcpy(flat, grads, n * sizeof *flat);
            for (size_t i = 0; i < n; i++) flat[i] *= 0.5f;
            memcpy(grads, flat, n * sizeof *flat);
            t[r] = bench_now() - start;
        }
        copies = bench_median(t, reps);
        if (soma_dist_rank(d) == 0)
            printf("%d ranks, %zu floats (%.1f MB): all-reduce %.3f ms (%.2f GB/s of gradient), host copies %.3f ms "
                   "(median of %d)\n", soma_dist_size(d), n, 4e-6 * (double)n, 1e3 * reduce,
                   4e-9 * (double)n / reduce, 1e3 * copies, reps);
        free(grads);
        free(flat);
    }
    free(t);
    soma_dist_close(d);
    return 0;
}
