/* spam.c: binary classification, the tutorials' spam filter. Three features
 * per e-mail (links, share of capital letters, suspicious words), a label
 * 1 = spam drawn from a logistic ground truth, a 3-16-1 ReLU network with a
 * sigmoid output trained by binary cross-entropy on the logit.
 *
 *   spam [--device D] [--emails N] [--epochs E] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soma.h"

#define CHECK(expr)                                                                            \
    if ((expr) != SOMA_OK) {                                                                   \
        fprintf(stderr, "spam: %s\n", soma_last_error());                                     \
        return 1;                                                                              \
    }

/* A deterministic stream of uniforms in [0, 1) (an LCG; fine for examples). */
static double uniform(unsigned long long *state) {
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*state >> 11) / 9007199254740992.0;
}

static void make_emails(soma_dataset *ds, unsigned long long seed) {
    float *x = soma_dataset_feature_data(ds), *y = soma_dataset_target_data(ds);
    for (int64_t i = 0; i < soma_dataset_rows(ds); i++) {
        double links = floor(uniform(&seed) * 10), caps = uniform(&seed), words = floor(uniform(&seed) * 6);
        double logit = 0.6 * links + 4.0 * caps + 0.9 * words - 6.0;
        x[3 * i] = (float)links, x[3 * i + 1] = (float)caps, x[3 * i + 2] = (float)words;
        y[i] = uniform(&seed) < 1.0 / (1.0 + exp(-logit)) ? 1.0f : 0.0f;
    }
}

int main(int argc, char **argv) {
    const char *device_name = "auto";
    int64_t emails = 4000, epochs = 20;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--device")) device_name = argv[i + 1];
        else if (!strcmp(argv[i], "--emails")) emails = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--epochs")) epochs = atoll(argv[i + 1]);
    }
    soma_dataset *all, *train, *test;
    CHECK(soma_dataset_create(emails, 3, 1, &all));
    make_emails(all, 42);
    CHECK(soma_dataset_split(all, 0.25, 1, &train, &test));
    soma_normalizer norm;
    CHECK(soma_normalizer_fit(train, SOMA_NORM_STANDARDIZE, &norm)); /* fitted on training data only */
    CHECK(soma_normalizer_apply(&norm, train));
    CHECK(soma_normalizer_apply(&norm, test));

    soma_device *dev;
    CHECK(soma_device_open(device_name, &dev));
    const int64_t sizes[] = {3, 16, 1};
    soma_mlp *model;
    CHECK(soma_mlp_create_simple(dev, sizes, 3, SOMA_ACT_RELU, &model));
    soma_optim_config oc = soma_optim_defaults(SOMA_OPTIM_ADAM);
    oc.lr = 0.01f;
    soma_optimizer *opt;
    CHECK(soma_optimizer_create(model, &oc, &opt));
    soma_train_config tc = {.loss = SOMA_LOSS_BCE, .batch = 32, .epochs = (int)epochs, .seed = 1};
    soma_train_state state = {0};
    CHECK(soma_train(model, opt, train, test, &tc, &state));
    double loss, accuracy;
    CHECK(soma_evaluate(model, test, SOMA_LOSS_BCE, &loss, &accuracy));
    /* the best any classifier can do here is limited by the labels' noise */
    printf("spam filter on %lld held-out e-mails: loss %.4f, accuracy %.3f\n",
           (long long)soma_dataset_rows(test), loss, accuracy);

    soma_optimizer_free(opt);
    soma_mlp_free(model);
    soma_device_close(dev);
    soma_normalizer_free(&norm);
    soma_dataset_free(all), soma_dataset_free(train), soma_dataset_free(test);
    soma_shutdown();
    return accuracy > 0.8 ? 0 : 1;
}
