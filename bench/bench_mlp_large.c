/* bench_mlp_large.c: training steps of a 1024-4096-4096-4096-1024 ReLU MLP,
 * batch 512, Adam, on a fixed synthetic batch.
 *
 *   bench_mlp_large [--steps N] [--warmup W]
 *
 * A step is timed in two phases: forward + loss + backward (softmax
 * cross-entropy over 1024 classes), then the optimizer update. After W
 * untimed steps (2), the medians of N timed steps (5) are printed, with
 * GFLOP/s of the forward+backward phase as 6 * batch * parameters / time
 * (the usual count; the first layer's input gradient, which nobody needs,
 * is not computed, so the GEMMs do 124.6 of those 128.9 GFLOP).
 *
 * Then the step's 11 GEMMs alone, on tensors of the step's shapes, through
 * soma_gemm(): their time is the GEMM part of the forward+backward phase;
 * bench/run_cpu.py compares it with OpenBLAS's sgemm at the same shapes. */
#include <stdint.h>

#include "bench_util.h"

#define LAYERS 4
#define BATCH 512
static const int64_t sizes[LAYERS + 1] = {1024, 4096, 4096, 4096, 1024};

/* The GEMMs of one step, as the MLP issues them (soma/model.h):
 * forward z = x W^T (NT), weight gradient dW = dz^T x (TN), input gradient
 * dx = dz W (NN) for every layer but the first. */
typedef struct gemm_set {
    soma_tensor *x[LAYERS], *w[LAYERS], *z[LAYERS], *dw[LAYERS], *dx[LAYERS];
} gemm_set;

static double run_gemms(gemm_set *g) {
    double flop = 0.0;
    for (int l = 0; l < LAYERS; l++) {
        BENCH_TRY(soma_gemm(0, 1, 1.0f, g->x[l], g->w[l], 0.0f, g->z[l]));
        flop += 2.0 * BATCH * (double)sizes[l] * (double)sizes[l + 1];
    }
    for (int l = LAYERS - 1; l >= 0; l--) {
        BENCH_TRY(soma_gemm(1, 0, 1.0f, g->z[l], g->x[l], 0.0f, g->dw[l]));
        flop += 2.0 * BATCH * (double)sizes[l] * (double)sizes[l + 1];
        if (l > 0) {
            BENCH_TRY(soma_gemm(0, 0, 1.0f, g->z[l], g->w[l], 0.0f, g->dx[l]));
            flop += 2.0 * BATCH * (double)sizes[l] * (double)sizes[l + 1];
        }
    }
    return flop;
}

int main(int argc, char **argv) {
    int steps = 5, warmup = 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc)
            steps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--warmup") == 0 && i + 1 < argc)
            warmup = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_mlp_large [--steps N] [--warmup W]\n");
            return 2;
        }
    }
    if (steps < 1 || steps > 1000 || warmup < 0) {
        fprintf(stderr, "bench_mlp_large: steps must be 1..1000, warmup >= 0\n");
        return 2;
    }
    soma_device *dev;
    BENCH_TRY(soma_device_open("cpu", &dev));
    bench_print_settings(dev);
    soma_mlp *model;
    BENCH_TRY(soma_mlp_create_simple(dev, sizes, LAYERS + 1, SOMA_ACT_RELU, &model));
    soma_optim_config oc = soma_optim_defaults(SOMA_OPTIM_ADAM);
    oc.lr = 1e-4f;
    soma_optimizer *opt;
    BENCH_TRY(soma_optimizer_create(model, &oc, &opt));
    int64_t params = soma_mlp_parameter_count(model);

    /* inputs uniform in [0, 1), labels uniform over the 1024 classes */
    soma_tensor *x, *labels, *loss, *grad;
    soma_rng rng = soma_rng_make(3);
    BENCH_TRY(soma_tensor_create(dev, BATCH, sizes[0], &x));
    BENCH_TRY(soma_tensor_create(dev, BATCH, 1, &labels));
    BENCH_TRY(soma_tensor_create(dev, 1, 1, &loss));
    BENCH_TRY(soma_tensor_create(dev, BATCH, sizes[LAYERS], &grad));
    BENCH_TRY(soma_tensor_fill_uniform(x, &rng, 0.0f, 1.0f));
    float host_labels[BATCH];
    for (int i = 0; i < BATCH; i++) host_labels[i] = (float)((i * 7919) % sizes[LAYERS]);
    BENCH_TRY(soma_tensor_upload(labels, host_labels, BATCH));

    double fb[1000], up[1000], total[1000];
    float last_loss = 0.0f;
    for (int s = 0; s < warmup + steps; s++) {
        double t0 = bench_now();
        const soma_tensor *out;
        soma_rng none = {0, 0};
        BENCH_TRY(soma_mlp_forward(model, x, 1, none, &out));
        BENCH_TRY(soma_softmax_xent_loss(out, labels, loss));
        BENCH_TRY(soma_softmax_xent_backward(out, labels, grad));
        BENCH_TRY(soma_mlp_backward(model, x, grad));
        BENCH_TRY(soma_device_synchronize(dev));
        double t1 = bench_now();
        BENCH_TRY(soma_optimizer_step(opt));
        BENCH_TRY(soma_device_synchronize(dev));
        double t2 = bench_now();
        BENCH_TRY(soma_tensor_download(loss, &last_loss, 1));
        if (s >= warmup) {
            fb[s - warmup] = t1 - t0;
            up[s - warmup] = t2 - t1;
            total[s - warmup] = t2 - t0;
        }
    }
    double f = bench_median(fb, steps), u = bench_median(up, steps), t = bench_median(total, steps);

    gemm_set g;
    for (int l = 0; l < LAYERS; l++) {
        BENCH_TRY(soma_tensor_create(dev, BATCH, sizes[l], &g.x[l]));
        BENCH_TRY(soma_tensor_create(dev, sizes[l + 1], sizes[l], &g.w[l]));
        BENCH_TRY(soma_tensor_create(dev, BATCH, sizes[l + 1], &g.z[l]));
        BENCH_TRY(soma_tensor_create(dev, sizes[l + 1], sizes[l], &g.dw[l]));
        BENCH_TRY(soma_tensor_create(dev, BATCH, sizes[l], &g.dx[l]));
        BENCH_TRY(soma_tensor_fill_uniform(g.x[l], &rng, 0.0f, 1.0f));
        BENCH_TRY(soma_tensor_fill_uniform(g.w[l], &rng, -0.03f, 0.03f));
    }
    double gemm_flop = run_gemms(&g), gemm_t[1000];
    for (int s = 0; s < steps; s++) {
        double t0 = bench_now();
        run_gemms(&g);
        gemm_t[s] = bench_now() - t0;
    }
    double gt = bench_median(gemm_t, steps);
    printf("large params=%lld batch=%d step_ms=%.1f fwdbwd_ms=%.1f optim_ms=%.1f fwdbwd_gflops=%.1f "
           "gemm_only_ms=%.1f gemm_gflop=%.2f gemm_only_gflops=%.1f loss=%.4f late_regions=%lld\n",
           (long long)params, BATCH, 1e3 * t, 1e3 * f, 1e3 * u, 6.0 * BATCH * (double)params / f / 1e9,
           1e3 * gt, gemm_flop / 1e9, gemm_flop / gt / 1e9, last_loss, (long long)soma_cpu_team_late_regions());
    for (int l = 0; l < LAYERS; l++) {
        soma_tensor *ts[] = {g.x[l], g.w[l], g.z[l], g.dw[l], g.dx[l]};
        for (int i = 0; i < 5; i++) soma_tensor_free(ts[i]);
    }
    soma_tensor_free(x), soma_tensor_free(labels), soma_tensor_free(loss), soma_tensor_free(grad);
    soma_optimizer_free(opt);
    soma_mlp_free(model);
    soma_device_close(dev);
    return 0;
}
