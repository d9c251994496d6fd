/* house_prices.c: regression with mean squared error on house-price-like
 * data: area, rooms, age and distance to the centre determine the price
 * (in thousands) through a non-linear formula plus noise. The network must
 * beat the baseline of always predicting the mean price.
 *
 *   house_prices [--device D] [--houses N] [--epochs E] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soma.h"

#define CHECK(expr)                                                                            \
    if ((expr) != SOMA_OK) {                                                                   \
        fprintf(stderr, "house_prices: %s\n", soma_last_error());                             \
        return 1;                                                                              \
    }

static double uniform(unsigned long long *state) {
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*state >> 11) / 9007199254740992.0;
}

/* price = 2 area + 15 rooms - 1.5 age + 300 exp(-distance / 5) + noise,
 * scaled by 1/100 so targets are of order 1 */
static void make_houses(soma_dataset *ds, unsigned long long seed) {
    float *x = soma_dataset_feature_data(ds), *y = soma_dataset_target_data(ds);
    for (int64_t i = 0; i < soma_dataset_rows(ds); i++) {
        double area = 40 + 160 * uniform(&seed), rooms = floor(1 + 6 * uniform(&seed));
        double age = 80 * uniform(&seed), dist = 30 * uniform(&seed);
        double price = 2 * area + 15 * rooms - 1.5 * age + 300 * exp(-dist / 5) + 20 * (uniform(&seed) - 0.5);
        x[4 * i] = (float)area, x[4 * i + 1] = (float)rooms, x[4 * i + 2] = (float)age, x[4 * i + 3] = (float)dist;
        y[i] = (float)(price / 100);
    }
}

int main(int argc, char **argv) {
    const char *device_name = "auto";
    int64_t houses = 5000, epochs = 40;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--device")) device_name = argv[i + 1];
        else if (!strcmp(argv[i], "--houses")) houses = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--epochs")) epochs = atoll(argv[i + 1]);
    }
    soma_dataset *all, *train, *test;
    CHECK(soma_dataset_create(houses, 4, 1, &all));
    make_houses(all, 7);
    CHECK(soma_dataset_split(all, 0.2, 1, &train, &test));
    soma_normalizer norm;
    CHECK(soma_normalizer_fit(train, SOMA_NORM_STANDARDIZE, &norm));
    CHECK(soma_normalizer_apply(&norm, train));
    CHECK(soma_normalizer_apply(&norm, test));

    soma_device *dev;
    CHECK(soma_device_open(device_name, &dev));
    const int64_t sizes[] = {4, 32, 32, 1};
    soma_mlp *model;
    CHECK(soma_mlp_create_simple(dev, sizes, 4, SOMA_ACT_GELU_TANH, &model));
    soma_optim_config oc = soma_optim_defaults(SOMA_OPTIM_ADAMW);
    oc.lr = 3e-3f;
    oc.schedule = SOMA_SCHEDULE_COSINE;
    oc.total_steps = epochs * ((soma_dataset_rows(train) + 63) / 64);
    soma_optimizer *opt;
    CHECK(soma_optimizer_create(model, &oc, &opt));
    soma_train_config tc = {.loss = SOMA_LOSS_MSE, .batch = 64, .epochs = (int)epochs, .seed = 1};
    soma_train_state state = {0};
    CHECK(soma_train(model, opt, train, NULL, &tc, &state));

    double mse, unused, mean = 0, var = 0;
    CHECK(soma_evaluate(model, test, SOMA_LOSS_MSE, &mse, &unused));
    const float *y = soma_dataset_target_data_const(test);
    int64_t n = soma_dataset_rows(test);
    for (int64_t i = 0; i < n; i++) mean += y[i] / (double)n;
    for (int64_t i = 0; i < n; i++) var += (y[i] - mean) * (y[i] - mean) / (double)n;
    printf("house prices on %lld held-out houses: RMSE %.1fk (predicting the mean: %.1fk), R^2 %.3f\n",
           (long long)n, 100 * sqrt(mse), 100 * sqrt(var), 1 - mse / var);

    soma_optimizer_free(opt);
    soma_mlp_free(model);
    soma_device_close(dev);
    soma_normalizer_free(&norm);
    soma_dataset_free(all), soma_dataset_free(train), soma_dataset_free(test);
    soma_shutdown();
    return mse < 0.2 * var ? 0 : 1;
}
