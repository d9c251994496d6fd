/* test_infer.c: soma_mlp_run (soma/infer.h). Its outputs against
 * soma_mlp_forward on rows normalized the same way, its probabilities
 * against a softmax/sigmoid in double, every refusal, and the same rows
 * from 4 threads at once on one model, compared bit for bit with a
 * single-threaded run. Models 7 -> 129 -> 3 (and 5 -> 1 for bce); rows 1, 7,
 * 129, 256 and 600 (two full pieces of SOMA_RUN_ROWS and a short one).
 * TEST_INFER_ROUNDS (default 20) sets how often each thread repeats the run;
 * the helgrind ctest lowers it. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "test_util.h"

#define INPUTS 7
#define HIDDEN 129
#define CLASSES 3
#define MANY 600
#define THREADS 4

static float *random_rows(int64_t rows, int64_t cols, uint64_t seed) {
    float *x = malloc((size_t)(rows * cols) * sizeof *x);
    ck_assert_ptr_nonnull(x);
    uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
    for (int64_t i = 0; i < rows * cols; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 20.0 - 5.0); /* [-5, 15) */
    }
    return x;
}

static soma_mlp *make_model(soma_device *dev, int64_t inputs, int64_t outputs) {
    soma_layer_spec layers[2] = {{HIDDEN, SOMA_ACT_TANH, 0, 0.0f}, {outputs, SOMA_ACT_IDENTITY, 0, 0.0f}};
    soma_mlp *m = NULL;
    ck_soma(soma_mlp_create(dev, inputs, layers, 2, &m));
    ck_soma(soma_mlp_init(m, SOMA_INIT_AUTO, TEST_SEED));
    return m;
}

/* offset 5, scale 1/(j+2): the raw rows are far from normalized */
static soma_normalizer make_norm(int64_t features) {
    soma_normalizer n = {SOMA_NORM_STANDARDIZE, features, malloc((size_t)features * sizeof(float)),
                         malloc((size_t)features * sizeof(float))};
    ck_assert_ptr_nonnull(n.offset);
    ck_assert_ptr_nonnull(n.scale);
    for (int64_t j = 0; j < features; j++) {
        n.offset[j] = 5.0f;
        n.scale[j] = 1.0f / (float)(j + 2);
    }
    return n;
}

START_TEST(outputs_equal_the_forward_pass_on_normalized_rows) {
    printf("test_infer: seed %llu\n", (unsigned long long)TEST_SEED);
    soma_device *dev = test_open("cpu");
    soma_mlp *m = make_model(dev, INPUTS, CLASSES);
    soma_normalizer norm = make_norm(INPUTS);
    const int64_t sizes[] = {1, 7, 129, 256};
    for (size_t c = 0; c < sizeof sizes / sizeof sizes[0]; c++) {
        int64_t rows = sizes[c];
        float *x = random_rows(rows, INPUTS, TEST_SEED + rows);
        float *xn = malloc((size_t)(rows * INPUTS) * sizeof *xn), *want = malloc((size_t)(rows * CLASSES) * sizeof *want);
        float *got = malloc((size_t)(rows * CLASSES) * sizeof *got), *p = malloc((size_t)(rows * CLASSES) * sizeof *p);
        ck_assert(xn && want && got && p);
        for (int64_t i = 0; i < rows * INPUTS; i++) xn[i] = (x[i] - norm.offset[i % INPUTS]) * norm.scale[i % INPUTS];
        soma_tensor *t = NULL;
        const soma_tensor *y = NULL;
        ck_soma(soma_tensor_create(dev, rows, INPUTS, &t));
        ck_soma(soma_tensor_upload(t, xn, (size_t)(rows * INPUTS)));
        ck_soma(soma_mlp_forward(m, t, 0, soma_rng_make(0), &y));
        ck_soma(soma_tensor_download(y, want, (size_t)(rows * CLASSES)));
        float *x_before = malloc((size_t)(rows * INPUTS) * sizeof *x_before);
        ck_assert_ptr_nonnull(x_before);
        memcpy(x_before, x, (size_t)(rows * INPUTS) * sizeof *x);
        ck_soma(soma_mlp_run(m, &norm, NULL, SOMA_LOSS_XENT, x, rows, got, p));
        ck_assert_msg(memcmp(x, x_before, (size_t)(rows * INPUTS) * sizeof *x) == 0, "rows %lld: x was changed",
                      (long long)rows);
        ck_assert_msg(memcmp(got, want, (size_t)(rows * CLASSES) * sizeof *got) == 0,
                      "rows %lld: soma_mlp_run differs from soma_mlp_forward", (long long)rows);
        for (int64_t i = 0; i < rows; i++) {
            const float *o = want + i * CLASSES;
            double most = fmax(fmax(o[0], o[1]), o[2]), sum = 0.0;
            for (int j = 0; j < CLASSES; j++) sum += exp(o[j] - most);
            for (int j = 0; j < CLASSES; j++)
                ck_assert_float_eq(p[i * CLASSES + j], (float)(exp(o[j] - most) / sum));
        }
        /* without a normalizer the raw rows go in as they are */
        ck_soma(soma_tensor_upload(t, x, (size_t)(rows * INPUTS)));
        ck_soma(soma_mlp_forward(m, t, 0, soma_rng_make(0), &y));
        ck_soma(soma_tensor_download(y, want, (size_t)(rows * CLASSES)));
        ck_soma(soma_mlp_run(m, NULL, NULL, SOMA_LOSS_MSE, x, rows, got, NULL));
        ck_assert_msg(memcmp(got, want, (size_t)(rows * CLASSES) * sizeof *got) == 0, "rows %lld, no normalizer",
                      (long long)rows);
        soma_tensor_free(t);
        free(x), free(xn), free(want), free(got), free(p), free(x_before);
    }
    soma_normalizer_free(&norm);
    soma_mlp_free(m);
    soma_device_close(dev);
}
END_TEST

START_TEST(long_inputs_run_in_pieces_like_short_ones) {
    soma_device *dev = test_open("cpu");
    soma_mlp *m = make_model(dev, INPUTS, CLASSES);
    float *x = random_rows(MANY, INPUTS, TEST_SEED);
    float *all = malloc(MANY * CLASSES * sizeof *all), *one = malloc(SOMA_RUN_ROWS * CLASSES * sizeof *one);
    ck_assert(all && one);
    ck_soma(soma_mlp_run(m, NULL, NULL, SOMA_LOSS_XENT, x, MANY, all, NULL));
    for (int64_t first = 0; first < MANY; first += SOMA_RUN_ROWS) {
        int64_t n = MANY - first < SOMA_RUN_ROWS ? MANY - first : SOMA_RUN_ROWS;
        ck_soma(soma_mlp_run(m, NULL, NULL, SOMA_LOSS_XENT, x + first * INPUTS, n, one, NULL));
        ck_assert_msg(memcmp(one, all + first * CLASSES, (size_t)(n * CLASSES) * sizeof *one) == 0,
                      "rows %lld..%lld differ", (long long)first, (long long)(first + n));
    }
    free(x), free(all), free(one);
    soma_mlp_free(m);
    soma_device_close(dev);
}
END_TEST

START_TEST(bce_probabilities_are_sigmoids) {
    soma_device *dev = test_open("cpu");
    soma_mlp *m = make_model(dev, 5, 1);
    float *x = random_rows(7, 5, TEST_SEED + 1), o[7], p[7];
    ck_soma(soma_mlp_run(m, NULL, NULL, SOMA_LOSS_BCE, x, 7, o, p));
    for (int i = 0; i < 7; i++) ck_assert_float_eq(p[i], (float)(1.0 / (1.0 + exp(-(double)o[i]))));
    free(x);
    soma_mlp_free(m);
    soma_device_close(dev);
}
END_TEST

/* A regression model on standardized targets: outputs come back in the
 * targets' units, y = y' / scale + offset, in every piece (600 rows: two
 * full pieces and a short one), against the plain run undone by hand. */
START_TEST(target_standardization_is_undone) {
    soma_device *dev = test_open("cpu");
    soma_mlp *m = make_model(dev, INPUTS, CLASSES);
    soma_normalizer tn = make_norm(CLASSES);
    for (int64_t j = 0; j < CLASSES; j++) tn.offset[j] = 250000.0f + 1000.0f * (float)j; /* prices, dollars */
    const int64_t counts[] = {1, 7, 129, 600};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        int64_t rows = counts[c];
        float *x = random_rows(rows, INPUTS, TEST_SEED + (uint64_t)rows);
        float *plain = malloc((size_t)(rows * CLASSES) * sizeof *x), *got = malloc((size_t)(rows * CLASSES) * sizeof *x);
        ck_assert(plain && got);
        ck_soma(soma_mlp_run(m, NULL, NULL, SOMA_LOSS_MSE, x, rows, plain, NULL));
        ck_soma(soma_mlp_run(m, NULL, &tn, SOMA_LOSS_MSE, x, rows, got, NULL));
        for (int64_t i = 0; i < rows * CLASSES; i++) {
            int64_t j = i % CLASSES;
            float want = (float)((double)plain[i] / (double)tn.scale[j] + (double)tn.offset[j]);
            ck_assert_msg(got[i] == want, "rows %lld, output %lld: %.9g, expected %.9g", (long long)rows,
                          (long long)i, (double)got[i], (double)want);
        }
        free(x), free(plain), free(got);
    }
    float x[INPUTS] = {0}, o[CLASSES];
    ck_fails(soma_mlp_run(m, NULL, &tn, SOMA_LOSS_XENT, x, 1, o, NULL), SOMA_ERR_INVALID_ARG, "'target_norm'",
             "not xent");
    soma_normalizer wrong = make_norm(CLASSES + 1);
    ck_fails(soma_mlp_run(m, NULL, &wrong, SOMA_LOSS_MSE, x, 1, o, NULL), SOMA_ERR_SHAPE, "fitted on 4 targets",
             "3 outputs");
    soma_normalizer_free(&wrong);
    soma_normalizer_free(&tn);
    soma_mlp_free(m);
    soma_device_close(dev);
}
END_TEST

START_TEST(bad_arguments_are_refused) {
    soma_device *dev = test_open("cpu");
    soma_mlp *m = make_model(dev, INPUTS, CLASSES);
    float x[INPUTS] = {0}, o[CLASSES], p[CLASSES];
    ck_fails(soma_mlp_run(NULL, NULL, NULL, SOMA_LOSS_XENT, x, 1, o, NULL), SOMA_ERR_INVALID_ARG, "'model' is NULL");
    ck_fails(soma_mlp_run(m, NULL, NULL, SOMA_LOSS_XENT, NULL, 1, o, NULL), SOMA_ERR_INVALID_ARG, "'x' is NULL");
    ck_fails(soma_mlp_run(m, NULL, NULL, SOMA_LOSS_XENT, x, 1, NULL, NULL), SOMA_ERR_INVALID_ARG, "'outputs' is NULL");
    ck_fails(soma_mlp_run(m, NULL, NULL, SOMA_LOSS_XENT, x, 0, o, NULL), SOMA_ERR_INVALID_ARG, "rows = 0");
    ck_fails(soma_mlp_run(m, NULL, NULL, SOMA_LOSS_MSE, x, 1, o, p), SOMA_ERR_INVALID_ARG, "'proba' needs", "mse");
    soma_normalizer wrong = make_norm(INPUTS + 1);
    ck_fails(soma_mlp_run(m, &wrong, NULL, SOMA_LOSS_XENT, x, 1, o, NULL), SOMA_ERR_SHAPE, "fitted on 8 features",
             "takes 7");
    soma_normalizer_free(&wrong);
    ck_fails(soma_mlp_run(m, &wrong, NULL, SOMA_LOSS_XENT, x, 1, o, NULL), SOMA_ERR_INVALID_ARG, "no offset/scale");
    soma_mlp_free(m);
    soma_device_close(dev);
}
END_TEST

typedef struct job {
    const soma_mlp *m;
    const soma_normalizer *norm;
    const float *x;
    const float *want_o, *want_p;
    int rounds;
    int mismatches;
    soma_status status;
    char error[256];
} job;

static void *worker(void *arg) {
    job *j = arg;
    float *o = malloc(MANY * CLASSES * sizeof *o), *p = malloc(MANY * CLASSES * sizeof *p);
    if (!o || !p) {
        j->status = SOMA_ERR_OUT_OF_MEMORY;
    } else {
        for (int r = 0; r < j->rounds && j->status == SOMA_OK; r++) {
            j->status = soma_mlp_run(j->m, j->norm, NULL, SOMA_LOSS_XENT, j->x, MANY, o, p);
            if (j->status != SOMA_OK) snprintf(j->error, sizeof j->error, "%s", soma_last_error());
            else if (memcmp(o, j->want_o, MANY * CLASSES * sizeof *o) || memcmp(p, j->want_p, MANY * CLASSES * sizeof *p))
                j->mismatches++;
        }
    }
    free(o);
    free(p);
    return NULL;
}

START_TEST(four_threads_on_one_model_agree_bit_for_bit) {
    const char *env = getenv("TEST_INFER_ROUNDS");
    int rounds = env && atoi(env) > 0 ? atoi(env) : 20;
    soma_device *dev = test_open("cpu");
    soma_mlp *m = make_model(dev, INPUTS, CLASSES);
    soma_normalizer norm = make_norm(INPUTS);
    float *x = random_rows(MANY, INPUTS, TEST_SEED + 2);
    float *o = malloc(MANY * CLASSES * sizeof *o), *p = malloc(MANY * CLASSES * sizeof *p);
    ck_assert(o && p);
    ck_soma(soma_mlp_run(m, &norm, NULL, SOMA_LOSS_XENT, x, MANY, o, p)); /* single-threaded */
    job jobs[THREADS];
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) {
        jobs[t] = (job){m, &norm, x, o, p, rounds, 0, SOMA_OK, ""};
        ck_assert_int_eq(pthread_create(&threads[t], NULL, worker, &jobs[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) ck_assert_int_eq(pthread_join(threads[t], NULL), 0);
    for (int t = 0; t < THREADS; t++) {
        ck_assert_msg(jobs[t].status == SOMA_OK, "thread %d: %s: %s", t, soma_status_name(jobs[t].status),
                      jobs[t].error);
        ck_assert_msg(jobs[t].mismatches == 0, "thread %d: %d of %d runs differ from the single-threaded one", t,
                      jobs[t].mismatches, rounds);
    }
    printf("test_infer: %d threads x %d runs of %d rows agree bit for bit\n", THREADS, rounds, MANY);
    free(x), free(o), free(p);
    soma_normalizer_free(&norm);
    soma_mlp_free(m);
    soma_device_close(dev);
}
END_TEST

/* The same call on a CUDA device (a GPU, or the emulation in build-emu)
 * against the CPU, to float rounding; calls there are serialized by a lock,
 * so 4 threads must still agree bit for bit. Skipped, saying so, without one. */
START_TEST(cuda_device_agrees_with_the_cpu) {
    const char *why = NULL;
    if (soma_cuda_device_count(&why) == 0) {
        printf("test_infer: no CUDA device (%s): the CUDA case is skipped\n", why ? why : "none");
        return;
    }
    soma_device *cpu = test_open("cpu"), *gpu = test_open("cuda");
    soma_mlp *m = make_model(cpu, INPUTS, CLASSES), *g = NULL;
    soma_layer_spec layers[2] = {{HIDDEN, SOMA_ACT_TANH, 0, 0.0f}, {CLASSES, SOMA_ACT_IDENTITY, 0, 0.0f}};
    ck_soma(soma_mlp_create(gpu, INPUTS, layers, 2, &g));
    ck_soma(soma_mlp_copy_parameters(g, m));
    soma_normalizer norm = make_norm(INPUTS);
    float *x = random_rows(MANY, INPUTS, TEST_SEED + 3);
    float *oc = malloc(MANY * CLASSES * sizeof *oc), *og = malloc(MANY * CLASSES * sizeof *og);
    float *pg = malloc(MANY * CLASSES * sizeof *pg);
    ck_assert(oc && og && pg);
    ck_soma(soma_mlp_run(m, &norm, NULL, SOMA_LOSS_XENT, x, MANY, oc, NULL));
    ck_soma(soma_mlp_run(g, &norm, NULL, SOMA_LOSS_XENT, x, MANY, og, pg));
    for (int i = 0; i < MANY * CLASSES; i++)
        ck_assert_msg(fabsf(oc[i] - og[i]) <= 1e-4f * (1.0f + fabsf(oc[i])), "output %d: cpu %g, cuda %g", i,
                      (double)oc[i], (double)og[i]);
    job jobs[THREADS];
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) {
        jobs[t] = (job){g, &norm, x, og, pg, 2, 0, SOMA_OK, ""};
        ck_assert_int_eq(pthread_create(&threads[t], NULL, worker, &jobs[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) ck_assert_int_eq(pthread_join(threads[t], NULL), 0);
    for (int t = 0; t < THREADS; t++)
        ck_assert_msg(jobs[t].status == SOMA_OK && jobs[t].mismatches == 0, "cuda thread %d: %s, %d mismatches", t,
                      jobs[t].error, jobs[t].mismatches);
    printf("test_infer: %s agrees with the cpu; 4 threads on it agree bit for bit\n", soma_device_description(gpu));
    free(x), free(oc), free(og), free(pg);
    soma_normalizer_free(&norm);
    soma_mlp_free(g);
    soma_mlp_free(m);
    soma_device_close(gpu);
    soma_device_close(cpu);
}
END_TEST

int main(void) {
    Suite *s = suite_create("infer");
    TCase *tc = tcase_create("infer");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, outputs_equal_the_forward_pass_on_normalized_rows);
    tcase_add_test(tc, long_inputs_run_in_pieces_like_short_ones);
    tcase_add_test(tc, bce_probabilities_are_sigmoids);
    tcase_add_test(tc, bad_arguments_are_refused);
    tcase_add_test(tc, target_standardization_is_undone);
    tcase_add_test(tc, four_threads_on_one_model_agree_bit_for_bit);
    tcase_add_test(tc, cuda_device_agrees_with_the_cpu);
    suite_add_tcase(s, tc);
    Suite *suites[] = {s};
    const char *fork = getenv("CK_FORK"); /* the helgrind run sets "no": one process to watch */
    return test_run(suites, 1, fork && strcmp(fork, "no") == 0 ? CK_NOFORK : CK_FORK);
}
