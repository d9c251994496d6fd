/* bench_mnist.c: MNIST epochs through soma_train(), as `soma train` runs them.
 *
 *   bench_mnist --config a|b [--epochs N] [--seed S] [--profile]
 *
 *   (a) 784-128-64-10, Adam lr 1e-3, batch 128
 *   (b) 784-256-128-10, SGD lr 0.05 momentum 0.9, batch 64
 * ReLU hidden layers, He-uniform weights (Xavier-uniform on the output
 * layer), zero biases; pixels / 255; all 60000 training images, shuffled each
 * epoch; no dropout, no validation split, constant learning rate. An epoch's
 * time is soma_train's own measurement of the epoch (training steps and the
 * end-of-epoch bookkeeping; there is no validation). Test accuracy is
 * measured after the last epoch, outside the timed epochs. Prints one line
 * per epoch (with --profile, and the epoch's time by part: soma_train's
 * profile) and a summary line that bench/run_cpu.py reads; PyTorch's side
 * is bench/torch_mlp_cpu.py. MNIST comes from ~/.cache/soma/mnist (SOMA_DATA
 * moves it; scripts/fetch-mnist.sh fetches it). */
#include <stdint.h>

#include "bench_util.h"

typedef struct config {
    int64_t sizes[4];
    soma_optim_kind optim;
    float lr, momentum;
    int64_t batch;
} config;

static const config configs[2] = {
    {{784, 128, 64, 10}, SOMA_OPTIM_ADAM, 1e-3f, 0.0f, 128},
    {{784, 256, 128, 10}, SOMA_OPTIM_SGD, 0.05f, 0.9f, 64},
};

typedef struct epochs {
    double seconds[1000], train_loss;
    int count;
} epochs;

static int on_epoch(const soma_epoch_report *r, void *user) {
    epochs *e = user;
    if (e->count < 1000) e->seconds[e->count++] = r->seconds;
    e->train_loss = r->train_loss;
    printf("epoch %d seconds=%.4f train_loss=%.4f", r->epoch, r->seconds, r->train_loss);
    double profiled = 0.0;
    for (int part = 0; part < SOMA_PROFILE_PARTS; part++) profiled += r->profile.seconds[part];
    for (int part = 0; profiled > 0 && part < SOMA_PROFILE_PARTS; part++)
        printf(" %s=%.4f", soma_profile_part_name((soma_profile_part)part), r->profile.seconds[part]);
    printf("\n");
    fflush(stdout);
    return 0;
}

static soma_dataset *load(const char *dir, const char *prefix) {
    char images[1024], labels[1024];
    snprintf(images, sizeof images, "%s/%s-images-idx3-ubyte", dir, prefix);
    snprintf(labels, sizeof labels, "%s/%s-labels-idx1-ubyte", dir, prefix);
    soma_dataset *ds;
    BENCH_TRY(soma_dataset_load_idx(images, labels, &ds));
    float *x = soma_dataset_feature_data(ds);
    int64_t n = soma_dataset_rows(ds) * soma_dataset_features(ds);
    for (int64_t i = 0; i < n; i++) x[i] /= 255.0f; /* as PyTorch's side: uint8 -> float / 255 */
    return ds;
}

int main(int argc, char **argv) {
    int which = 0, epochs_wanted = 5, profile = 0;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc && (argv[i + 1][0] == 'a' || argv[i + 1][0] == 'b'))
            which = argv[++i][0] - 'a';
        else if (strcmp(argv[i], "--epochs") == 0 && i + 1 < argc)
            epochs_wanted = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--profile") == 0)
            profile = 1;
        else {
            fprintf(stderr, "usage: bench_mnist --config a|b [--epochs N] [--seed S] [--profile]\n");
            return 2;
        }
    }
    const config *c = &configs[which];
    char dir[900];
    const char *root = getenv("SOMA_DATA"), *home = getenv("HOME");
    if (root && *root)
        snprintf(dir, sizeof dir, "%s/mnist", root);
    else
        snprintf(dir, sizeof dir, "%s/.cache/soma/mnist", home ? home : ".");
    soma_dataset *train = load(dir, "train"), *test = load(dir, "t10k");

    soma_device *dev;
    BENCH_TRY(soma_device_open("cpu", &dev));
    bench_print_settings(dev);
    soma_mlp *model;
    BENCH_TRY(soma_mlp_create_simple(dev, c->sizes, 4, SOMA_ACT_RELU, &model));
    BENCH_TRY(soma_mlp_init(model, SOMA_INIT_AUTO, seed));
    soma_optim_config oc = soma_optim_defaults(c->optim);
    oc.lr = c->lr;
    oc.momentum = c->momentum;
    oc.schedule = SOMA_SCHEDULE_CONSTANT;
    soma_optimizer *opt;
    BENCH_TRY(soma_optimizer_create(model, &oc, &opt));

    epochs e = {.count = 0};
    soma_train_config tc = {.loss = SOMA_LOSS_XENT, .batch = c->batch, .epochs = epochs_wanted,
                            .seed = seed, .on_epoch = on_epoch, .user = &e, .profile = profile};
    soma_train_state state = {0};
    BENCH_TRY(soma_train(model, opt, train, NULL, &tc, &state));
    double loss, accuracy;
    BENCH_TRY(soma_evaluate(model, test, SOMA_LOSS_XENT, &loss, &accuracy));
    double median = bench_median(e.seconds, e.count);
    printf("mnist config=%c epochs=%d median_epoch_s=%.4f samples_per_s=%.0f test_acc=%.4f train_loss=%.4f "
           "late_regions=%lld\n",
           'a' + which, e.count, median, (double)soma_dataset_rows(train) / median, accuracy, e.train_loss,
           (long long)soma_cpu_team_late_regions());
    soma_optimizer_free(opt);
    soma_mlp_free(model);
    soma_device_close(dev);
    soma_dataset_free(train);
    soma_dataset_free(test);
    return 0;
}
