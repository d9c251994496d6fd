/* bench_gpu.c: soma's side of the GPU benchmark (bench/run_gpu.sh puts it
 * beside PyTorch's, bench/torch_mlp_gpu.py, which mirrors every case).
 *
 *   bench_gpu --case mnist-a|mnist-b|large [--device SPEC] [--precision P]
 *             [--epochs N] [--steps N] [--warmup W] [--quick] [--synthetic]
 *
 *   mnist-a  784-128-64-10, batch 128, Adam lr 1e-3, ReLU, 60000 MNIST
 *            training images (pixels / 255), shuffled each epoch, through
 *            soma_train() as `soma train` runs them; the epoch time is
 *            soma_train's own measurement; median over the epochs after
 *            the first (--epochs, 4; the first warms up, as torch.compile's
 *            first epoch compiles).
 *   mnist-b  the same with 784-256-128-10.
 *   large    8192-8192-8192-8192-8192-1024 ReLU (4 hidden layers 8192 wide),
 *            batch 8192, Adam lr 1e-4, softmax cross-entropy over 1024
 *            classes on a fixed synthetic batch (uniform [0, 1) inputs);
 *            median ms per step (forward, loss, backward, update) over
 *            --steps (10) after --warmup (3), and the median of the step's
 *            GEMMs alone (soma_gemm_ex at the same shapes and precision):
 *            step_over_gemm is the ratio the issue asks to be <= 1.1.
 * --precision fp32|tf32|bf16 sets the GEMMs' (default fp32). --device
 * defaults to cuda; --quick shrinks everything (MNIST to its first 6400
 * images, large to 512 wide, batch 512, 2 steps) so the program can be
 * checked on a CPU; --synthetic takes random data of MNIST's shape instead
 * of the files. MNIST comes from $SOMA_DATA/mnist or
 * ~/.cache/soma/mnist (scripts/fetch-mnist.sh).
 *
 * Device memory: with CUDA built in, `device_mem_mib` is the device memory
 * in use (cudaMemGetInfo: total - free) at the end of the case minus that
 * right after the device was opened: soma's cached blocks, the model, the
 * optimizer state and the work tensors. torch_mlp_gpu.py prints the same
 * figure measured the same way, beside torch's max_memory_allocated and
 * max_memory_reserved. Prints one `gpu ...` line of key=value pairs. */
#include <stdint.h>

#include "bench_util.h"
#ifdef SOMA_BENCH_CUDA
#include <cuda_runtime_api.h>
#endif

static double used_mib(void) {
#ifdef SOMA_BENCH_CUDA
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) == cudaSuccess) return (double)(total_b - free_b) / 1048576.0;
#endif
    return 0.0;
}

typedef struct args {
    const char *which, *device;
    soma_precision precision;
    int epochs, steps, warmup, quick, synthetic;
} args;

static soma_dataset *load(const char *prefix, int64_t keep, int synthetic) {
    char dir[900], images[1024], labels[1024];
    if (synthetic) {
        int64_t rows = keep > 0 ? keep : strcmp(prefix, "train") == 0 ? 60000 : 10000;
        soma_dataset *ds;
        BENCH_TRY(soma_dataset_create(rows, 784, 1, &ds));
        float *x = soma_dataset_feature_data(ds), *y = soma_dataset_target_data(ds);
        uint64_t state = 0x9e3779b97f4a7c15ull;
        for (int64_t i = 0; i < rows * 784; i++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            x[i] = (float)(state >> 40) / 16777216.0f;
        }
        for (int64_t i = 0; i < rows; i++) y[i] = (float)(i % 10);
        return ds;
    }
    const char *root = getenv("SOMA_DATA"), *home = getenv("HOME");
    if (root && *root)
        snprintf(dir, sizeof dir, "%s/mnist", root);
    else
        snprintf(dir, sizeof dir, "%s/.cache/soma/mnist", home ? home : ".");
    snprintf(images, sizeof images, "%s/%s-images-idx3-ubyte", dir, prefix);
    snprintf(labels, sizeof labels, "%s/%s-labels-idx1-ubyte", dir, prefix);
    soma_dataset *ds, *part;
    BENCH_TRY(soma_dataset_load_idx(images, labels, &ds));
    float *x = soma_dataset_feature_data(ds);
    int64_t n = soma_dataset_rows(ds) * soma_dataset_features(ds);
    for (int64_t i = 0; i < n; i++) x[i] /= 255.0f;
    if (keep <= 0 || keep >= soma_dataset_rows(ds)) return ds;
    int64_t features = soma_dataset_features(ds); /* --quick: the first `keep` rows */
    BENCH_TRY(soma_dataset_create(keep, features, 1, &part));
    memcpy(soma_dataset_feature_data(part), x, (size_t)(keep * features) * sizeof(float));
    memcpy(soma_dataset_target_data(part), soma_dataset_target_data(ds), (size_t)keep * sizeof(float));
    soma_dataset_free(ds);
    return part;
}

typedef struct epochs {
    double seconds[1000];
    int count;
} epochs;

static int on_epoch(const soma_epoch_report *r, void *user) {
    epochs *e = user;
    if (e->count < 1000) e->seconds[e->count++] = r->seconds;
    return 0;
}

static void mnist(const args *a, soma_device *dev, double base_mib) {
    const int64_t sizes_a[4] = {784, 128, 64, 10}, sizes_b[4] = {784, 256, 128, 10};
    const int64_t *sizes = strcmp(a->which, "mnist-a") == 0 ? sizes_a : sizes_b;
    soma_dataset *train = load("train", a->quick ? 6400 : 0, a->synthetic),
                 *test = load("t10k", a->quick ? 1000 : 0, a->synthetic);
    soma_mlp *model;
    BENCH_TRY(soma_mlp_create_simple(dev, sizes, 4, SOMA_ACT_RELU, &model));
    BENCH_TRY(soma_mlp_init(model, SOMA_INIT_AUTO, 1));
    soma_optim_config oc = soma_optim_defaults(SOMA_OPTIM_ADAM);
    oc.lr = 1e-3f;
    oc.schedule = SOMA_SCHEDULE_CONSTANT;
    soma_optimizer *opt;
    BENCH_TRY(soma_optimizer_create(model, &oc, &opt));
    epochs e = {.count = 0};
    soma_train_config tc = {.loss = SOMA_LOSS_XENT, .batch = 128, .epochs = a->epochs, .seed = 1,
                            .on_epoch = on_epoch, .user = &e, .precision = a->precision};
    soma_train_state state = {0};
    BENCH_TRY(soma_train(model, opt, train, NULL, &tc, &state));
    double loss, accuracy;
    BENCH_TRY(soma_evaluate(model, test, SOMA_LOSS_XENT, &loss, &accuracy));
    BENCH_TRY(soma_device_synchronize(dev));
    double median = e.count > 1 ? bench_median(e.seconds + 1, e.count - 1) : bench_median(e.seconds, e.count);
    printf("gpu case=%s framework=soma precision=%s epochs=%d median_epoch_s=%.4f samples_per_s=%.0f "
           "test_acc=%.4f device_mem_mib=%.0f\n",
           a->which, soma_precision_name(a->precision), e.count, median,
           (double)soma_dataset_rows(train) / median, accuracy, used_mib() - base_mib);
    soma_optimizer_free(opt);
    soma_mlp_free(model);
    soma_dataset_free(train);
    soma_dataset_free(test);
}

enum { LAYERS = 5 };

/* The step's GEMMs as soma_mlp issues them: z = x W^T (NT) per layer, then
 * dW = dz^T x (TN) per layer and dx = dz W (NN) for all but the first. */
typedef struct gemm_set {
    soma_tensor *x[LAYERS], *w[LAYERS], *z[LAYERS], *dw[LAYERS], *dx[LAYERS];
} gemm_set;

static void run_gemms(gemm_set *g, soma_precision p) {
    for (int l = 0; l < LAYERS; l++) BENCH_TRY(soma_gemm_ex(0, 1, 1.0f, g->x[l], g->w[l], 0.0f, g->z[l], p));
    for (int l = LAYERS - 1; l >= 0; l--) {
        BENCH_TRY(soma_gemm_ex(1, 0, 1.0f, g->z[l], g->x[l], 0.0f, g->dw[l], p));
        if (l > 0) BENCH_TRY(soma_gemm_ex(0, 0, 1.0f, g->z[l], g->w[l], 0.0f, g->dx[l], p));
    }
}

static void large(const args *a, soma_device *dev, double base_mib) {
    const int64_t wide = a->quick ? 512 : 8192, batch = a->quick ? 512 : 8192, classes = a->quick ? 64 : 1024;
    const int64_t sizes[LAYERS + 1] = {wide, wide, wide, wide, wide, classes};
    soma_mlp *model;
    BENCH_TRY(soma_mlp_create_simple(dev, sizes, LAYERS + 1, SOMA_ACT_RELU, &model));
    BENCH_TRY(soma_mlp_set_precision(model, a->precision));
    soma_optim_config oc = soma_optim_defaults(SOMA_OPTIM_ADAM);
    oc.lr = 1e-4f;
    soma_optimizer *opt;
    BENCH_TRY(soma_optimizer_create(model, &oc, &opt));
    soma_tensor *x, *labels, *loss, *grad;
    soma_rng rng = soma_rng_make(3);
    BENCH_TRY(soma_tensor_create(dev, batch, wide, &x));
    BENCH_TRY(soma_tensor_create(dev, batch, 1, &labels));
    BENCH_TRY(soma_tensor_create(dev, 1, 1, &loss));
    BENCH_TRY(soma_tensor_create(dev, batch, classes, &grad));
    BENCH_TRY(soma_tensor_fill_uniform(x, &rng, 0.0f, 1.0f));
    float *host_labels = malloc((size_t)batch * sizeof *host_labels);
    if (!host_labels) BENCH_TRY(SOMA_ERR_OUT_OF_MEMORY);
    for (int64_t i = 0; i < batch; i++) host_labels[i] = (float)((i * 7919) % classes);
    BENCH_TRY(soma_tensor_upload(labels, host_labels, (size_t)batch));
    free(host_labels);
    double step_t[1000], gemm_t[1000];
    float last_loss = 0.0f;
    for (int s = 0; s < a->warmup + a->steps; s++) {
        double t0 = bench_now();
        const soma_tensor *out;
        soma_rng none = {0, 0};
        BENCH_TRY(soma_mlp_forward(model, x, 1, none, &out));
        BENCH_TRY(soma_softmax_xent_loss(out, labels, loss));
        BENCH_TRY(soma_softmax_xent_backward(out, labels, grad));
        BENCH_TRY(soma_mlp_backward(model, x, grad));
        BENCH_TRY(soma_optimizer_step(opt));
        BENCH_TRY(soma_device_synchronize(dev));
        if (s >= a->warmup) step_t[s - a->warmup] = bench_now() - t0;
    }
    BENCH_TRY(soma_tensor_download(loss, &last_loss, 1));
    double mem = used_mib() - base_mib;
    gemm_set g;
    for (int l = 0; l < LAYERS; l++) {
        BENCH_TRY(soma_tensor_create(dev, batch, sizes[l], &g.x[l]));
        BENCH_TRY(soma_tensor_create(dev, sizes[l + 1], sizes[l], &g.w[l]));
        BENCH_TRY(soma_tensor_create(dev, batch, sizes[l + 1], &g.z[l]));
        BENCH_TRY(soma_tensor_create(dev, sizes[l + 1], sizes[l], &g.dw[l]));
        BENCH_TRY(soma_tensor_create(dev, batch, sizes[l], &g.dx[l]));
        BENCH_TRY(soma_tensor_fill_uniform(g.x[l], &rng, 0.0f, 1.0f));
        BENCH_TRY(soma_tensor_fill_uniform(g.w[l], &rng, -0.01f, 0.01f));
        BENCH_TRY(soma_tensor_fill_uniform(g.z[l], &rng, -0.01f, 0.01f));
    }
    for (int s = 0; s < a->warmup + a->steps; s++) {
        double t0 = bench_now();
        run_gemms(&g, a->precision);
        BENCH_TRY(soma_device_synchronize(dev));
        if (s >= a->warmup) gemm_t[s - a->warmup] = bench_now() - t0;
    }
    double st = bench_median(step_t, a->steps), gt = bench_median(gemm_t, a->steps);
    double flop = 0.0;
    for (int l = 0; l < LAYERS; l++) flop += (l > 0 ? 6.0 : 4.0) * (double)batch * (double)sizes[l] * (double)sizes[l + 1];
    printf("gpu case=large framework=soma precision=%s width=%lld batch=%lld steps=%d step_ms=%.3f "
           "gemm_only_ms=%.3f step_over_gemm=%.3f gemm_tflops=%.1f loss=%.4f device_mem_mib=%.0f\n",
           soma_precision_name(a->precision), (long long)wide, (long long)batch, a->steps, 1e3 * st,
           1e3 * gt, st / gt, flop / gt / 1e12, last_loss, mem);
    for (int l = 0; l < LAYERS; l++) {
        soma_tensor *ts[] = {g.x[l], g.w[l], g.z[l], g.dw[l], g.dx[l]};
        for (int i = 0; i < 5; i++) soma_tensor_free(ts[i]);
    }
    soma_tensor_free(x), soma_tensor_free(labels), soma_tensor_free(loss), soma_tensor_free(grad);
    soma_optimizer_free(opt);
    soma_mlp_free(model);
}

static int usage(void) {
    fprintf(stderr, "usage: bench_gpu --case mnist-a|mnist-b|large [--device SPEC] [--precision fp32|tf32|bf16] "
                    "[--epochs N] [--steps N] [--warmup W] [--quick] [--synthetic]\n");
    return 2;
}

int main(int argc, char **argv) {
    args a = {.which = NULL, .device = "cuda", .precision = SOMA_PRECISION_FP32, .epochs = 4, .steps = 10,
              .warmup = 3};
    for (int i = 1; i < argc; i++) {
        int more = i + 1 < argc;
        if (strcmp(argv[i], "--case") == 0 && more)
            a.which = argv[++i];
        else if (strcmp(argv[i], "--device") == 0 && more)
            a.device = argv[++i];
        else if (strcmp(argv[i], "--precision") == 0 && more) {
            if (soma_precision_parse(argv[++i], &a.precision) != SOMA_OK) return usage();
        } else if (strcmp(argv[i], "--epochs") == 0 && more)
            a.epochs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--steps") == 0 && more)
            a.steps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--warmup") == 0 && more)
            a.warmup = atoi(argv[++i]);
        else if (strcmp(argv[i], "--quick") == 0)
            a.quick = 1;
        else if (strcmp(argv[i], "--synthetic") == 0)
            a.synthetic = 1;
        else
            return usage();
    }
    int known = a.which && (strcmp(a.which, "mnist-a") == 0 || strcmp(a.which, "mnist-b") == 0 ||
                            strcmp(a.which, "large") == 0);
    if (!known || a.epochs < 1 || a.epochs > 1000 || a.steps < 1 || a.steps > 1000 || a.warmup < 0)
        return usage();
    if (a.quick) /* as torch_mlp_gpu.py --quick */
        a.epochs = a.epochs > 2 ? 2 : a.epochs, a.steps = a.steps > 2 ? 2 : a.steps, a.warmup = a.warmup > 1 ? 1 : a.warmup;
    soma_device *dev;
    BENCH_TRY(soma_device_open(a.device, &dev));
    bench_print_settings(dev);
    double base = used_mib();
    if (strcmp(a.which, "large") == 0)
        large(&a, dev, base);
    else
        mnist(&a, dev, base);
    soma_device_close(dev);
    return 0;
}
