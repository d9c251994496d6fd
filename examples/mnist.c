/* mnist.c: handwritten digits, the whole path a user takes: read the IDX
 * files, scale pixels to [0, 1] (fitted on the training images), train
 * 784-256-128-10 with ReLU, Adam and cross-entropy, report test accuracy and
 * save a checkpoint PyTorch can read.
 *
 *   mnist DIR [--device D] [--epochs E] [--limit N] [--save FILE]
 * DIR holds the files scripts/fetch-mnist.sh fetches; --limit trains on the
 * first N images only (for a quick run). Exits 77 when DIR lacks the files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soma.h"

#define CHECK(expr)                                                                            \
    if ((expr) != SOMA_OK) {                                                                   \
        fprintf(stderr, "mnist: %s\n", soma_last_error());                                    \
        return 1;                                                                              \
    }

static int print_epoch(const soma_epoch_report *r, void *user) {
    (void)user;
    printf("epoch %d/%d  train loss %.4f  %.1fs\n", r->epoch, r->epochs, r->train_loss, r->seconds);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: mnist DIR [--device D] [--epochs E] [--limit N] [--save FILE]\n");
        return 2;
    }
    const char *device_name = "auto", *save = NULL;
    int64_t epochs = 5, limit = 0;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--device")) device_name = argv[i + 1];
        else if (!strcmp(argv[i], "--epochs")) epochs = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--limit")) limit = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--save")) save = argv[i + 1];
    }
    char images[1024], labels[1024];
    soma_dataset *train, *test;
    snprintf(images, sizeof images, "%s/train-images-idx3-ubyte", argv[1]);
    snprintf(labels, sizeof labels, "%s/train-labels-idx1-ubyte", argv[1]);
    if (soma_dataset_load_idx(images, labels, &train) != SOMA_OK) {
        printf("SKIP: %s (fetch MNIST with scripts/fetch-mnist.sh)\n", soma_last_error());
        return 77;
    }
    snprintf(images, sizeof images, "%s/t10k-images-idx3-ubyte", argv[1]);
    snprintf(labels, sizeof labels, "%s/t10k-labels-idx1-ubyte", argv[1]);
    CHECK(soma_dataset_load_idx(images, labels, &test));
    if (limit > 0 && limit < soma_dataset_rows(train)) { /* keep the first `limit` rows */
        soma_dataset *small;
        CHECK(soma_dataset_create(limit, 784, 1, &small));
        memcpy(soma_dataset_feature_data(small), soma_dataset_feature_data(train), (size_t)limit * 784 * sizeof(float));
        memcpy(soma_dataset_target_data(small), soma_dataset_target_data(train), (size_t)limit * sizeof(float));
        soma_dataset_free(train);
        train = small;
    }
    soma_normalizer norm;
    CHECK(soma_normalizer_fit(train, SOMA_NORM_SCALE01, &norm));
    CHECK(soma_normalizer_apply(&norm, train));
    CHECK(soma_normalizer_apply(&norm, test));

    soma_device *dev;
    CHECK(soma_device_open(device_name, &dev));
    printf("device: %s\n", soma_device_description(dev));
    const int64_t sizes[] = {784, 256, 128, 10};
    soma_mlp *model;
    CHECK(soma_mlp_create_simple(dev, sizes, 4, SOMA_ACT_RELU, &model));
    soma_optim_config oc = soma_optim_defaults(SOMA_OPTIM_ADAM);
    soma_optimizer *opt;
    CHECK(soma_optimizer_create(model, &oc, &opt));
    soma_train_config tc = {.loss = SOMA_LOSS_XENT, .batch = 128, .epochs = (int)epochs, .seed = 1,
                            .on_epoch = print_epoch};
    soma_train_state state = {0};
    CHECK(soma_train(model, opt, train, NULL, &tc, &state));
    double loss, accuracy;
    CHECK(soma_evaluate(model, test, SOMA_LOSS_XENT, &loss, &accuracy));
    printf("test: loss %.4f, accuracy %.4f on %lld images\n", loss, accuracy, (long long)soma_dataset_rows(test));
    if (save) {
        soma_checkpoint_info info = {.loss = SOMA_LOSS_XENT, .normalizer = norm, .has_optimizer = 1,
                                     .state = state, .train = tc};
        CHECK(soma_checkpoint_save(save, model, opt, &info));
        printf("saved %s\n", save);
    }
    soma_optimizer_free(opt);
    soma_mlp_free(model);
    soma_device_close(dev);
    soma_normalizer_free(&norm);
    soma_dataset_free(train), soma_dataset_free(test);
    soma_shutdown();
    return 0;
}
