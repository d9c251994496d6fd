/* xor.c: the classic. A 2-8-1 network learns XOR with sigmoid cross-entropy
 * (one logit, binary cross-entropy) in a few calls of soma's training API. */
#include <stdio.h>

#include "soma.h"

#define CHECK(expr)                                                                            \
    if ((expr) != SOMA_OK) {                                                                   \
        fprintf(stderr, "xor: %s\n", soma_last_error());                                      \
        return 1;                                                                              \
    }

int main(int argc, char **argv) {
    const char *device_name = argc > 1 ? argv[1] : "auto";
    soma_dataset *data;
    CHECK(soma_dataset_create(4, 2, 1, &data));
    const float x[8] = {0, 0, 0, 1, 1, 0, 1, 1}, y[4] = {0, 1, 1, 0};
    for (int i = 0; i < 8; i++) soma_dataset_feature_data(data)[i] = x[i];
    for (int i = 0; i < 4; i++) soma_dataset_target_data(data)[i] = y[i];

    soma_device *dev;
    CHECK(soma_device_open(device_name, &dev));
    soma_mlp *model;
    const int64_t sizes[] = {2, 8, 1};
    CHECK(soma_mlp_create_simple(dev, sizes, 3, SOMA_ACT_TANH, &model));
    CHECK(soma_mlp_init(model, SOMA_INIT_XAVIER_UNIFORM, 3));
    soma_optim_config oc = soma_optim_defaults(SOMA_OPTIM_ADAM);
    oc.lr = 0.05f;
    soma_optimizer *opt;
    CHECK(soma_optimizer_create(model, &oc, &opt));
    soma_train_config tc = {.loss = SOMA_LOSS_BCE, .batch = 4, .epochs = 300, .seed = 1};
    soma_train_state state = {0};
    CHECK(soma_train(model, opt, data, NULL, &tc, &state));

    float logits[4];
    double loss, accuracy;
    CHECK(soma_predict(model, data, logits));
    CHECK(soma_evaluate(model, data, SOMA_LOSS_BCE, &loss, &accuracy));
    for (int i = 0; i < 4; i++)
        printf("%g xor %g = %d   (logit %+.2f)\n", x[2 * i], x[2 * i + 1], logits[i] > 0, logits[i]);
    printf("loss %.4f, accuracy %.2f\n", loss, accuracy);

    soma_optimizer_free(opt);
    soma_mlp_free(model);
    soma_device_close(dev);
    soma_dataset_free(data);
    soma_shutdown();
    return accuracy == 1.0 ? 0 : 1;
}
