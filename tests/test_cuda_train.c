/* test_cuda_train.c: the same small model trained for 60 steps on the CPU
 * and on CUDA, from the same initial weights and the same batches (dropout
 * masks included), must follow the same loss curve: at fp32 every step's
 * loss within 1e-3 relative, and the final weights within NMSE 1e-6; at TF32
 * and bf16 within the limits of `tolerances` below (and why). Exits 77
 * (skipped) without a usable GPU.
 *
 * On the emulation build it also counts what one steady-state step of
 * soma_train asks of the device (launches, library calls, host waits,
 * allocations, copies), prints the figures, and checks that the step
 * allocates nothing. */
#include <math.h>
#include <string.h>

#include "test_util.h"
#ifdef SOMA_CUDA_EMULATION
#include "emu.h"
#endif

#define STEPS 60
#define BATCH 32
#define FEATURES 12
#define CLASSES 4

/* Per GEMM precision: the largest relative loss difference at any step and
 * the largest weight NMSE after STEPS steps. Both backends round the same
 * float32 operands the same way, so a single GEMM agrees as at fp32 (the op
 * table's 1e-9). But rounding is a step function: where accumulation order
 * has moved a value by an ulp of float32 across a rounding boundary, the
 * operand lands on the neighbouring TF32 (2^-10 apart) or bf16 (2^-7) value,
 * and 60 steps of training carry such jumps on. Measured (seed 20261121,
 * emulated CUDA): tf32 3.6e-4 loss, 1.6e-9 NMSE; bf16 1.3e-7 and 9e-17 (no
 * jump happened). The limits leave 5x (tf32 loss) to 600x (NMSE) over what
 * was measured, bf16 allowing its 8x wider spacing on the loss, and stay
 * below what a GPU that multiplied unrounded operands would give against the
 * rounding CPU (measured the same way: tf32 5.4e-3 loss and 7.1e-6 NMSE,
 * bf16 7.7e-3 and 5.5e-5), so that bug fails on the NMSE in both modes. */
static const struct {
    soma_precision precision;
    double loss_rel, weight_nmse;
} tolerances[] = {
    {SOMA_PRECISION_FP32, 1e-3, 1e-6},
    {SOMA_PRECISION_TF32, 2e-3, 1e-6},
    {SOMA_PRECISION_BF16, 5e-3, 1e-5},
};

typedef struct device_run {
    soma_device *dev;
    soma_mlp *model;
    soma_optimizer *opt;
    soma_tensor *x, *y, *loss, *dout;
    float losses[STEPS];
} device_run;

/* Called from main(), outside a running test: test_require, not ck_soma. */
static void setup(device_run *r, const char *spec) {
    test_require(soma_device_open(spec, &r->dev));
    soma_layer_spec specs[3] = {{.units = 32, .act = SOMA_ACT_RELU, .dropout = 0.1f},
                                {.units = 32, .act = SOMA_ACT_GELU_TANH},
                                {.units = CLASSES, .act = SOMA_ACT_IDENTITY}};
    test_require(soma_mlp_create(r->dev, FEATURES, specs, 3, &r->model));
    test_require(soma_mlp_init(r->model, SOMA_INIT_AUTO, TEST_SEED));
    soma_optim_config oc = soma_optim_defaults(SOMA_OPTIM_ADAMW);
    oc.lr = 1e-2f; /* at the default 1e-3, 60 steps take the loss to 0.73 of its start */
    oc.clip_norm = 5.0f;
    test_require(soma_optimizer_create(r->model, &oc, &r->opt));
    test_require(soma_tensor_create(r->dev, BATCH, FEATURES, &r->x));
    test_require(soma_tensor_create(r->dev, BATCH, 1, &r->y));
    test_require(soma_tensor_create(r->dev, 1, 1, &r->loss));
    test_require(soma_tensor_create(r->dev, BATCH, CLASSES, &r->dout));
}

/* The model back to its initial weights and a fresh optimizer, at the
 * given precision (inside a test: ck_soma). */
static void restart(device_run *r, soma_precision precision) {
    soma_optimizer_free(r->opt);
    r->opt = NULL;
    ck_soma(soma_mlp_init(r->model, SOMA_INIT_AUTO, TEST_SEED));
    ck_soma(soma_mlp_set_precision(r->model, precision));
    soma_optim_config oc = soma_optim_defaults(SOMA_OPTIM_ADAMW);
    oc.lr = 1e-2f;
    oc.clip_norm = 5.0f;
    ck_soma(soma_optimizer_create(r->model, &oc, &r->opt));
}

static void step(device_run *r, int s, const float *x, const float *y) {
    const soma_tensor *out;
    soma_rng dropout_rng = {TEST_SEED, (uint64_t)s * SOMA_MAX_LAYERS};
    ck_soma(soma_tensor_upload(r->x, x, BATCH * FEATURES));
    ck_soma(soma_tensor_upload(r->y, y, BATCH));
    ck_soma(soma_mlp_forward(r->model, r->x, 1, dropout_rng, &out));
    ck_soma(soma_softmax_xent_loss(out, r->y, r->loss));
    ck_soma(soma_softmax_xent_backward(out, r->y, r->dout));
    ck_soma(soma_mlp_backward(r->model, r->x, r->dout));
    ck_soma(soma_optimizer_step(r->opt));
    ck_soma(soma_tensor_download(r->loss, &r->losses[s], 1));
}

static void teardown(device_run *r) {
    soma_tensor_free(r->x), soma_tensor_free(r->y), soma_tensor_free(r->loss), soma_tensor_free(r->dout);
    soma_optimizer_free(r->opt);
    soma_mlp_free(r->model);
    soma_device_close(r->dev);
}

static device_run cpu_run, gpu_run;

START_TEST(loss_curves_agree) {
    const soma_precision precision = tolerances[_i].precision;
    const double loss_tolerance = tolerances[_i].loss_rel, weight_tolerance = tolerances[_i].weight_nmse;
    restart(&cpu_run, precision);
    restart(&gpu_run, precision);
    double worst_rel = 0.0, worst_nmse = 0.0;
    static float x[BATCH * FEATURES], y[BATCH];
    soma_tensor *scratch = NULL;
    ck_soma(soma_tensor_create(cpu_run.dev, BATCH, FEATURES, &scratch));
    soma_rng data_rng = soma_rng_make(TEST_SEED + 99);
    for (int s = 0; s < STEPS; s++) {
        /* a batch of a learnable problem: the class is the argmax of the
         * first CLASSES features */
        ck_soma(soma_tensor_fill_normal(scratch, &data_rng, 0.0f, 1.0f));
        ck_soma(soma_tensor_download(scratch, x, BATCH * FEATURES));
        for (int i = 0; i < BATCH; i++) {
            int best = 0;
            for (int c = 1; c < CLASSES; c++)
                if (x[i * FEATURES + c] > x[i * FEATURES + best]) best = c;
            y[i] = (float)best;
        }
        step(&cpu_run, s, x, y);
        step(&gpu_run, s, x, y);
        double rel = fabs(cpu_run.losses[s] - gpu_run.losses[s]) / fmax(1e-6, fabs(cpu_run.losses[s]));
        ck_assert_msg(rel <= loss_tolerance,
                      "%s, step %d, seed %llu: cpu loss %.7f, cuda loss %.7f (relative %.2e > %.0e)",
                      soma_precision_name(precision), s, TEST_SEED, cpu_run.losses[s],
                      gpu_run.losses[s], rel, loss_tolerance);
        worst_rel = fmax(worst_rel, rel);
    }
    printf("%s loss: step 0 cpu %.5f cuda %.5f; step %d cpu %.5f cuda %.5f\n",
           soma_precision_name(precision), cpu_run.losses[0], gpu_run.losses[0], STEPS - 1,
           cpu_run.losses[STEPS - 1], gpu_run.losses[STEPS - 1]);
    ck_assert_msg(cpu_run.losses[STEPS - 1] < 0.5 * cpu_run.losses[0], "the model did not learn");
    for (int l = 0; l < 3; l++) {
        soma_tensor *wc = soma_mlp_weight(cpu_run.model, l), *wg = soma_mlp_weight(gpu_run.model, l);
        int64_t n = soma_tensor_numel(wc);
        float *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
        ck_soma(soma_tensor_download(wc, a, (size_t)n));
        ck_soma(soma_tensor_download(wg, b, (size_t)n));
        double err = 0, norm = 0;
        for (int64_t i = 0; i < n; i++) {
            err += (double)(a[i] - b[i]) * (a[i] - b[i]);
            norm += (double)a[i] * a[i];
        }
        ck_assert_msg(err / norm <= weight_tolerance, "%s, layer %d weights: NMSE %.3e after %d steps",
                      soma_precision_name(precision), l, err / norm, STEPS);
        worst_nmse = fmax(worst_nmse, err / norm);
        free(a), free(b);
    }
    printf("%s: largest relative loss difference %.2e (limit %.0e), largest weight NMSE %.2e "
           "(limit %.0e)\n",
           soma_precision_name(precision), worst_rel, loss_tolerance, worst_nmse, weight_tolerance);
    soma_tensor_free(scratch);
}
END_TEST

#ifdef SOMA_CUDA_EMULATION
/* ---- what a steady-state step asks of the device ------------------------ */

typedef struct step_count {
    soma_emu_counters before, step;
} step_count;

/* The counters between the end of step 3 and the end of step 4. */
static void count_step(int64_t batch, int64_t batches, void *user) {
    (void)batches;
    step_count *sc = user;
    soma_emu_counters now;
    soma_emu_counters_read(&now);
    if (batch == 3) sc->before = now;
    if (batch == 4) sc->step = soma_emu_counters_diff(&now, &sc->before);
}

START_TEST(steady_state_step_counts) {
    static const struct {
        const char *what;
        float dropout, clip;
        soma_precision precision;
    } cases[] = {{"plain", 0.0f, 0.0f, SOMA_PRECISION_FP32},
                 {"dropout 0.1", 0.1f, 0.0f, SOMA_PRECISION_FP32},
                 {"clip 1.0", 0.0f, 1.0f, SOMA_PRECISION_FP32},
                 {"bf16", 0.0f, 0.0f, SOMA_PRECISION_BF16},
                 {"tf32", 0.0f, 0.0f, SOMA_PRECISION_TF32}};
    enum { ROWS = 320, BATCH_ROWS = 32 };
    soma_dataset *ds = NULL;
    ck_soma(soma_dataset_create(ROWS, FEATURES, 1, &ds));
    float *x = soma_dataset_feature_data(ds), *y = soma_dataset_target_data(ds);
    for (int i = 0; i < ROWS; i++) {
        y[i] = (float)(i % CLASSES);
        for (int j = 0; j < FEATURES; j++) x[i * FEATURES + j] = (j == i % CLASSES) + 0.01f * (float)j;
    }
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        soma_layer_spec specs[3] = {{.units = 32, .act = SOMA_ACT_RELU, .dropout = cases[k].dropout},
                                    {.units = 32, .act = SOMA_ACT_RELU, .dropout = cases[k].dropout},
                                    {.units = CLASSES, .act = SOMA_ACT_IDENTITY}};
        soma_mlp *m = NULL;
        soma_optimizer *o = NULL;
        ck_soma(soma_mlp_create(gpu_run.dev, FEATURES, specs, 3, &m));
        ck_soma(soma_mlp_init(m, SOMA_INIT_AUTO, TEST_SEED));
        soma_optim_config oc = soma_optim_defaults(SOMA_OPTIM_ADAM);
        oc.clip_norm = cases[k].clip;
        ck_soma(soma_optimizer_create(m, &oc, &o));
        step_count sc;
        memset(&sc, 0, sizeof sc);
        soma_train_config tc = {.loss = SOMA_LOSS_XENT, .batch = BATCH_ROWS, .epochs = 1,
                                .seed = TEST_SEED, .on_batch = count_step, .user = &sc,
                                .precision = cases[k].precision};
        soma_train_state state = {0};
        ck_soma(soma_train(m, o, ds, NULL, &tc, &state));
        const soma_emu_counters *c = &sc.step;
        printf("steady-state step on cuda (emulated), %d-32-32-%d relu, batch %d, adam, %s: "
               "%llu kernel launches, %llu library calls, %llu host waits, %llu device "
               "allocations, %llu frees, %llu host-to-device copies (%llu bytes), %llu "
               "device-to-host copies (%llu bytes), %llu device-to-device copies\n",
               FEATURES, CLASSES, BATCH_ROWS, cases[k].what,
               (unsigned long long)c->kernel_launches, (unsigned long long)c->library_calls,
               (unsigned long long)c->host_waits, (unsigned long long)c->device_allocs,
               (unsigned long long)c->device_frees, (unsigned long long)c->h2d_copies,
               (unsigned long long)c->h2d_bytes, (unsigned long long)c->d2h_copies,
               (unsigned long long)c->d2h_bytes, (unsigned long long)c->d2d_copies);
        ck_assert_msg(c->kernel_launches > 0, "%s: the counters saw no step", cases[k].what);
        ck_assert_msg(c->device_allocs == 0 && c->device_frees == 0,
                      "%s: a steady-state step made %llu device allocations and %llu frees",
                      cases[k].what, (unsigned long long)c->device_allocs,
                      (unsigned long long)c->device_frees);
        soma_optimizer_free(o);
        soma_mlp_free(m);
    }
    soma_dataset_free(ds);
}
END_TEST
#endif

int main(void) {
    test_require_gpu();
    printf("test_cuda_train: seed %llu\n", TEST_SEED);
    setup(&cpu_run, "cpu");
    setup(&gpu_run, "cuda:0");
    test_say_where_cuda_runs("test_cuda_train", gpu_run.dev);
    Suite *s = suite_create("cuda_train");
    TCase *tc = tcase_create("curves");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, loss_curves_agree, 0, (int)(sizeof tolerances / sizeof tolerances[0]));
#ifdef SOMA_CUDA_EMULATION
    tcase_add_test(tc, steady_state_step_counts);
#endif
    suite_add_tcase(s, tc);
    Suite *suites[] = {s};
    int code = test_run(suites, 1, CK_NOFORK);
    teardown(&gpu_run);
    teardown(&cpu_run);
    soma_shutdown();
    return code;
}
