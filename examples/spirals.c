/* spirals.c: a two-layer MLP learns the two-spirals problem, written
 * directly on soma's tensor API (forward, backward and SGD with momentum by
 * hand) so that every op call is visible. It runs on the best device unless
 * told otherwise and prints the loss falling.
 *
 *   spirals [--device auto|cpu|cuda[:N]] [--steps N] [--expect-accuracy A]
 *
 * Model: x (2) -> tanh(x W1 + b1) (64) -> tanh(. W2 + b2) (64) -> W3 + b3 (2),
 * softmax cross-entropy, full batch of 2 x 200 points. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soma.h"

#define POINTS_PER_ARM 200
#define N_POINTS (2 * POINTS_PER_ARM)
#define HIDDEN 64
#define N_LAYERS 3

#define CHECK(expr)                                                                            \
    do {                                                                                       \
        if ((expr) != SOMA_OK) {                                                               \
            fprintf(stderr, "spirals: %s\n", soma_last_error());                              \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

static soma_tensor *tensor(soma_device *dev, int64_t rows, int64_t cols) {
    soma_tensor *t = NULL;
    CHECK(soma_tensor_create(dev, rows, cols, &t));
    return t;
}

/* Arm c of the spirals: radius grows with the angle; arm 1 is arm 0 turned
 * by pi. A little noise from a fixed-seed LCG keeps the run reproducible. */
static void make_spirals(float *x, float *labels) {
    unsigned state = 12345;
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < POINTS_PER_ARM; i++) {
            float t = (float)i / POINTS_PER_ARM;
            float angle = 3.0f * 3.14159265f * t + (float)c * 3.14159265f;
            state = state * 1103515245u + 12345u;
            float noise = ((float)(state >> 16 & 0x7fff) / 32768.0f - 0.5f) * 0.04f;
            int row = c * POINTS_PER_ARM + i;
            x[2 * row] = (t + noise) * cosf(angle);
            x[2 * row + 1] = (t + noise) * sinf(angle);
            labels[row] = (float)c;
        }
}

typedef struct layer {
    soma_tensor *w, *b, *dw, *db, *vw, *vb; /* weights, gradients, momenta */
    soma_tensor *z, *a, *dz;                /* pre-activation, output, gradient */
} layer;

int main(int argc, char **argv) {
    const char *device_name = "auto";
    int steps = 2000;
    double expect = -1.0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--device") == 0) device_name = argv[i + 1];
        else if (strcmp(argv[i], "--steps") == 0) steps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--expect-accuracy") == 0) expect = atof(argv[i + 1]);
        else {
            fprintf(stderr, "usage: spirals [--device SPEC] [--steps N] [--expect-accuracy A]\n");
            return 2;
        }
    }
    soma_device *dev = NULL;
    CHECK(soma_device_open(device_name, &dev));
    printf("device: %s\n", soma_device_description(dev));

    static float x_host[2 * N_POINTS], labels_host[N_POINTS];
    make_spirals(x_host, labels_host);
    soma_tensor *x = tensor(dev, N_POINTS, 2), *labels = tensor(dev, N_POINTS, 1);
    CHECK(soma_tensor_upload(x, x_host, 2 * N_POINTS));
    CHECK(soma_tensor_upload(labels, labels_host, N_POINTS));

    const int width[N_LAYERS + 1] = {2, HIDDEN, HIDDEN, 2};
    layer L[N_LAYERS];
    soma_rng rng = soma_rng_make(1);
    for (int l = 0; l < N_LAYERS; l++) {
        int in = width[l], out = width[l + 1];
        L[l] = (layer){tensor(dev, in, out), tensor(dev, 1, out), tensor(dev, in, out),
                       tensor(dev, 1, out), tensor(dev, in, out), tensor(dev, 1, out),
                       tensor(dev, N_POINTS, out), tensor(dev, N_POINTS, out),
                       tensor(dev, N_POINTS, out)};
        float limit = sqrtf(6.0f / (float)(in + out)); /* Xavier/Glorot uniform */
        CHECK(soma_tensor_fill_uniform(L[l].w, &rng, -limit, limit));
        CHECK(soma_tensor_fill(L[l].b, 0.0f));
        CHECK(soma_tensor_fill(L[l].vw, 0.0f));
        CHECK(soma_tensor_fill(L[l].vb, 0.0f));
    }
    soma_tensor *loss = tensor(dev, 1, 1), *correct = tensor(dev, 1, 1);
    const float lr = 0.1f, momentum = 0.9f;

    for (int step = 0; step <= steps; step++) {
        /* forward: z = a_prev W + b, a = tanh(z); the last layer stays linear */
        const soma_tensor *a_prev = x;
        for (int l = 0; l < N_LAYERS; l++) {
            CHECK(soma_gemm(0, 0, 1.0f, a_prev, L[l].w, 0.0f, L[l].z));
            CHECK(soma_bias_add(L[l].z, L[l].b, L[l].z));
            if (l < N_LAYERS - 1) CHECK(soma_activation_forward(SOMA_ACT_TANH, 0.0f, L[l].z, L[l].a));
            a_prev = l < N_LAYERS - 1 ? L[l].a : L[l].z;
        }
        soma_tensor *logits = L[N_LAYERS - 1].z;
        if (step % (steps / 10 > 0 ? steps / 10 : 1) == 0 || step == steps) {
            float loss_host, correct_host;
            CHECK(soma_softmax_xent_loss(logits, labels, loss));
            CHECK(soma_correct_count(logits, labels, correct));
            CHECK(soma_tensor_download(loss, &loss_host, 1));
            CHECK(soma_tensor_download(correct, &correct_host, 1));
            printf("step %5d  loss %.4f  accuracy %.3f\n", step, loss_host, correct_host / N_POINTS);
            if (step == steps && expect >= 0 && correct_host / N_POINTS < expect) {
                fprintf(stderr, "spirals: accuracy %.3f is below %.3f\n", correct_host / N_POINTS, expect);
                return 1;
            }
        }
        if (step == steps) break;
        /* backward: dz of the logits, then dW = a_prev^T dz, db = colsum dz,
         * d a_prev = dz W^T, dz_prev = d a_prev * tanh'(z_prev) */
        CHECK(soma_softmax_xent_backward(logits, labels, L[N_LAYERS - 1].dz));
        for (int l = N_LAYERS - 1; l >= 0; l--) {
            const soma_tensor *input = l > 0 ? L[l - 1].a : x;
            CHECK(soma_gemm(1, 0, 1.0f, input, L[l].dz, 0.0f, L[l].dw));
            CHECK(soma_bias_grad(L[l].dz, L[l].db));
            if (l > 0) {
                CHECK(soma_gemm(0, 1, 1.0f, L[l].dz, L[l].w, 0.0f, L[l - 1].dz));
                CHECK(soma_activation_backward(SOMA_ACT_TANH, 0.0f, L[l - 1].z, L[l - 1].a,
                                               L[l - 1].dz, L[l - 1].dz));
            }
        }
        /* SGD with momentum: v = momentum v + g; w -= lr v */
        for (int l = 0; l < N_LAYERS; l++) {
            CHECK(soma_scale(momentum, L[l].vw, L[l].vw));
            CHECK(soma_axpy(1.0f, L[l].dw, L[l].vw));
            CHECK(soma_axpy(-lr, L[l].vw, L[l].w));
            CHECK(soma_scale(momentum, L[l].vb, L[l].vb));
            CHECK(soma_axpy(1.0f, L[l].db, L[l].vb));
            CHECK(soma_axpy(-lr, L[l].vb, L[l].b));
        }
    }

    for (int l = 0; l < N_LAYERS; l++) {
        soma_tensor *ts[] = {L[l].w, L[l].b, L[l].dw, L[l].db, L[l].vw, L[l].vb, L[l].z, L[l].a, L[l].dz};
        for (int i = 0; i < 9; i++) soma_tensor_free(ts[i]);
    }
    soma_tensor_free(x), soma_tensor_free(labels), soma_tensor_free(loss), soma_tensor_free(correct);
    soma_device_close(dev);
    soma_shutdown();
    return 0;
}
