/* main.c: a program that uses soma from its installed headers and library,
 * as another project would: a matrix product and a small trained model.
 * Prints what it computed; exits 1 if a result is wrong. */
#include <math.h>
#include <stdio.h>

#include <soma.h>

static int check(soma_status status, const char *what) {
    if (status == SOMA_OK) return 0;
    fprintf(stderr, "consumer: %s: %s\n", what, soma_last_error());
    return 1;
}

/* [1 2; 3 4] [5 6; 7 8] = [19 22; 43 50] on dev; 0 when right. */
static int check_gemm(soma_device *dev) {
    const float a_host[] = {1, 2, 3, 4}, b_host[] = {5, 6, 7, 8}, want[] = {19, 22, 43, 50};
    float c_host[4] = {0};
    soma_tensor *a = NULL, *b = NULL, *c = NULL;
    int bad = check(soma_tensor_create(dev, 2, 2, &a), "create a") ||
              check(soma_tensor_create(dev, 2, 2, &b), "create b") ||
              check(soma_tensor_create(dev, 2, 2, &c), "create c") ||
              check(soma_tensor_upload(a, a_host, 4), "upload a") ||
              check(soma_tensor_upload(b, b_host, 4), "upload b") ||
              check(soma_gemm(0, 0, 1.0f, a, b, 0.0f, c), "soma_gemm") ||
              check(soma_tensor_download(c, c_host, 4), "download c");
    for (int i = 0; !bad && i < 4; i++)
        if (c_host[i] != want[i]) {
            fprintf(stderr, "consumer: gemm on %s: element %d is %g, expected %g\n", soma_device_name(dev), i,
                    (double)c_host[i], (double)want[i]);
            bad = 1;
        }
    if (!bad)
        printf("gemm on %s: [%g %g; %g %g]\n", soma_device_name(dev), (double)c_host[0], (double)c_host[1],
               (double)c_host[2], (double)c_host[3]);
    soma_tensor_free(a);
    soma_tensor_free(b);
    soma_tensor_free(c);
    return bad;
}

int main(void) {
    soma_device *dev = NULL;
    if (check(soma_device_open("cpu", &dev), "soma_device_open")) return 1;
    printf("soma %s on %s\n", SOMA_VERSION_STRING, soma_device_description(dev));
    const char *reason = NULL;
    int gpus = soma_cuda_device_count(&reason);
    if (gpus)
        printf("CUDA devices: %d\n", gpus);
    else
        printf("CUDA devices: none: %s\n", reason);
    int bad = check_gemm(dev);
    if (gpus) { /* a CUDA build on a GPU machine: the GPU path links and runs too */
        soma_device *gpu = NULL;
        bad = bad || check(soma_device_open("cuda", &gpu), "soma_device_open(cuda)") || check_gemm(gpu);
        soma_device_close(gpu);
    }

    /* XOR with the training API: 2-8-2, Adam, 300 epochs of the 4 rows. */
    soma_dataset *xor_data = NULL;
    soma_mlp *model = NULL;
    soma_optimizer *opt = NULL;
    const int64_t sizes[] = {2, 8, 2};
    soma_optim_config oc = soma_optim_defaults(SOMA_OPTIM_ADAM);
    oc.lr = 0.05f;
    soma_train_config tc = {.loss = SOMA_LOSS_XENT, .batch = 4, .epochs = 300, .seed = 1};
    soma_train_state state = {0};
    double loss = NAN, accuracy = NAN;
    bad = bad || check(soma_dataset_create(4, 2, 1, &xor_data), "soma_dataset_create");
    if (!bad) {
        float *x = soma_dataset_feature_data(xor_data), *y = soma_dataset_target_data(xor_data);
        for (int i = 0; i < 4; i++) {
            x[2 * i] = (float)(i & 1);
            x[2 * i + 1] = (float)(i >> 1);
            y[i] = (float)((i & 1) ^ (i >> 1));
        }
    }
    bad = bad || check(soma_mlp_create_simple(dev, sizes, 3, SOMA_ACT_TANH, &model), "soma_mlp_create_simple") ||
          check(soma_optimizer_create(model, &oc, &opt), "soma_optimizer_create") ||
          check(soma_train(model, opt, xor_data, NULL, &tc, &state), "soma_train") ||
          check(soma_evaluate(model, xor_data, SOMA_LOSS_XENT, &loss, &accuracy), "soma_evaluate");
    if (!bad) printf("xor: loss %.4f accuracy %.2f after %d epochs\n", loss, accuracy, state.epochs_done);
    if (!bad && accuracy != 1.0) {
        fprintf(stderr, "consumer: xor accuracy %.2f, expected 1\n", accuracy);
        bad = 1;
    }
    soma_optimizer_free(opt);
    soma_mlp_free(model);
    soma_dataset_free(xor_data);
    soma_device_close(dev);
    soma_shutdown();
    return bad;
}
