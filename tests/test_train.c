/* test_train.c: models and training on the CPU.
 *   - whole-model gradients (every activation, every loss) against central
 *     finite differences of the loss;
 *   - "2 epochs" and "1 epoch, save, load, 1 more epoch" give bit-identical
 *     weights (optimizer state, step and RNG state restored);
 *   - no allocation in the steady state of a training step (malloc, calloc,
 *     realloc and device allocations are counted through --wrap);
 *   - early stopping restores the best weights; every optimizer learns. */
#define _POSIX_C_SOURCE 200809L
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "soma/checkpoint.h"
#include "test_util.h"

/* ---- allocation counting (linked with -Wl,--wrap=malloc,...) -------------- */
void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__real_aligned_alloc(size_t alignment, size_t size);
static long allocations;
void *__wrap_malloc(size_t size) {
    allocations++;
    return __real_malloc(size);
}
void *__wrap_calloc(size_t n, size_t size) {
    allocations++;
    return __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t size) {
    allocations++;
    return __real_realloc(p, size);
}
void *__wrap_aligned_alloc(size_t alignment, size_t size) {
    allocations++;
    return __real_aligned_alloc(alignment, size);
}

/* A synthetic classification set: 3 Gaussian blobs in `features` dims. */
static soma_dataset *blobs(int64_t rows, int64_t features, uint64_t seed) {
    soma_dataset *ds = NULL;
    ck_soma(soma_dataset_create(rows, features, 1, &ds));
    float *x = soma_dataset_feature_data(ds), *y = soma_dataset_target_data(ds);
    soma_device *cpu = test_open("cpu");
    soma_tensor *noise = NULL;
    ck_soma(soma_tensor_create(cpu, rows, features, &noise));
    soma_rng rng = soma_rng_make(seed);
    ck_soma(soma_tensor_fill_normal(noise, &rng, 0.0f, 0.7f));
    ck_soma(soma_tensor_download(noise, x, (size_t)(rows * features)));
    for (int64_t i = 0; i < rows; i++) {
        y[i] = (float)(i % 3);
        for (int64_t j = 0; j < features; j++) x[i * features + j] += (j % 3 == i % 3) ? 2.0f : 0.0f;
    }
    soma_tensor_free(noise);
    soma_device_close(cpu);
    return ds;
}

/* ---- whole-model gradient check ----------------------------------------------- */

static double model_loss(soma_mlp *m, const soma_tensor *x, const soma_tensor *y, soma_loss loss,
                         soma_tensor *scalar) {
    const soma_tensor *out;
    soma_rng none = {0, 0};
    ck_soma(soma_mlp_forward(m, x, 0, none, &out));
    if (loss == SOMA_LOSS_XENT) ck_soma(soma_softmax_xent_loss(out, y, scalar));
    if (loss == SOMA_LOSS_MSE) ck_soma(soma_mse_loss(out, y, scalar));
    if (loss == SOMA_LOSS_BCE) ck_soma(soma_bce_logits_loss(out, y, scalar));
    float v;
    ck_soma(soma_tensor_download(scalar, &v, 1));
    return v;
}

/* Loop test over the losses. A chain of 7 hidden layers, one per
 * non-identity activation, then the loss on 3 outputs; every parameter's
 * gradient from soma_mlp_backward against (L(p+h) - L(p-h)) / 2h. */
START_TEST(model_gradients_match_differences) {
    soma_loss loss = (soma_loss)_i;
    soma_device *cpu = test_open("cpu");
    soma_layer_spec specs[8];
    for (int l = 0; l < 7; l++) specs[l] = (soma_layer_spec){.units = 4, .act = (soma_activation)(l + 1), .act_param = 0.2f};
    specs[7] = (soma_layer_spec){.units = 3, .act = SOMA_ACT_IDENTITY};
    soma_mlp *m = NULL;
    ck_soma(soma_mlp_create(cpu, 5, specs, 8, &m));
    ck_soma(soma_mlp_init(m, SOMA_INIT_XAVIER_NORMAL, TEST_SEED));
    enum { ROWS = 6 };
    float xs[ROWS * 5], ys[ROWS * 3];
    soma_tensor *x, *y, *scalar, *dout;
    ck_soma(soma_tensor_create(cpu, ROWS, 5, &x));
    ck_soma(soma_tensor_create(cpu, ROWS, loss == SOMA_LOSS_XENT ? 1 : 3, &y));
    ck_soma(soma_tensor_create(cpu, 1, 1, &scalar));
    ck_soma(soma_tensor_create(cpu, ROWS, 3, &dout));
    soma_rng rng = soma_rng_make(TEST_SEED + 1);
    ck_soma(soma_tensor_fill_normal(x, &rng, 0.0f, 1.0f));
    ck_soma(soma_tensor_fill_uniform(y, &rng, 0.0f, 1.0f));
    ck_soma(soma_tensor_download(y, ys, (size_t)soma_tensor_numel(y)));
    if (loss == SOMA_LOSS_XENT)
        for (int i = 0; i < ROWS; i++) ys[i] = (float)(i % 3);
    ck_soma(soma_tensor_upload(y, ys, (size_t)soma_tensor_numel(y)));
    (void)xs;

    /* analytic */
    const soma_tensor *out;
    soma_rng none = {0, 0};
    ck_soma(soma_mlp_forward(m, x, 1, none, &out));
    if (loss == SOMA_LOSS_XENT) ck_soma(soma_softmax_xent_backward(out, y, dout));
    if (loss == SOMA_LOSS_MSE) ck_soma(soma_mse_backward(out, y, dout));
    if (loss == SOMA_LOSS_BCE) ck_soma(soma_bce_logits_backward(out, y, dout));
    ck_soma(soma_mlp_backward(m, x, dout));

    double err = 0, norm = 0;
    const float h = 5e-3f;
    for (int p = 0; p < 2 * soma_mlp_layer_count(m); p++) {
        soma_tensor *param = p % 2 ? soma_mlp_bias(m, p / 2) : soma_mlp_weight(m, p / 2);
        soma_tensor *grad = p % 2 ? soma_mlp_bias_grad(m, p / 2) : soma_mlp_weight_grad(m, p / 2);
        int64_t n = soma_tensor_numel(param);
        float values[64], analytic[64];
        ck_soma(soma_tensor_download(param, values, (size_t)n));
        ck_soma(soma_tensor_download(grad, analytic, (size_t)n));
        for (int64_t j = 0; j < n; j++) {
            float keep = values[j];
            values[j] = keep + h;
            ck_soma(soma_tensor_upload(param, values, (size_t)n));
            double up = model_loss(m, x, y, loss, scalar);
            values[j] = keep - h;
            ck_soma(soma_tensor_upload(param, values, (size_t)n));
            double down = model_loss(m, x, y, loss, scalar);
            values[j] = keep;
            ck_soma(soma_tensor_upload(param, values, (size_t)n));
            double fd = (up - down) / (2.0 * h);
            /* The loss is a float: differences resolve only steps of about
             * 2 ulp(L) / 2h, so that much disagreement is not an error. */
            double resolution = 2.0 * fabs(up) * FLT_EPSILON / (2.0 * h);
            double miss = fmax(0.0, fabs(analytic[j] - fd) - resolution);
            err += miss * miss;
            norm += fd * fd;
        }
    }
    printf("gradient check %s: NMSE %.3e\n", soma_loss_name(loss), err / norm);
    ck_assert_msg(norm > 0 && err / norm < 1e-3, "loss %s, seed %llu: gradient NMSE %.3e against differences",
                  soma_loss_name(loss), TEST_SEED, err / norm);
    soma_tensor_free(x), soma_tensor_free(y), soma_tensor_free(scalar), soma_tensor_free(dout);
    soma_mlp_free(m);
    soma_device_close(cpu);
}
END_TEST

/* ---- training runs ------------------------------------------------------------ */

typedef struct run_result {
    float weights[8 * 16 + 16 * 3];
    soma_train_state state;
    long steady_allocations;
    double final_loss;
} run_result;

static void count_steady(int64_t batch, int64_t batches, void *user) {
    run_result *r = user;
    if (batch == 3) r->steady_allocations = -allocations;
    if (batch == batches - 1) r->steady_allocations += allocations;
}

static int remember_loss(const soma_epoch_report *rep, void *user) {
    ((run_result *)user)->final_loss = rep->train_loss;
    return 0;
}

static soma_mlp *small_model(soma_device *dev) {
    soma_layer_spec specs[2] = {{.units = 16, .act = SOMA_ACT_RELU, .dropout = 0.2f},
                                {.units = 3, .act = SOMA_ACT_IDENTITY}};
    soma_mlp *m = NULL;
    ck_soma(soma_mlp_create(dev, 8, specs, 2, &m));
    ck_soma(soma_mlp_init(m, SOMA_INIT_AUTO, 7));
    return m;
}

static void grab_weights(soma_mlp *m, run_result *r) {
    ck_soma(soma_tensor_download(soma_mlp_weight(m, 0), r->weights, 16 * 8));
    ck_soma(soma_tensor_download(soma_mlp_weight(m, 1), r->weights + 128, 3 * 16));
}

static soma_train_config config_for(run_result *r, int epochs) {
    return (soma_train_config){.loss = SOMA_LOSS_XENT, .batch = 32, .epochs = epochs, .seed = 11,
                               .on_batch = count_steady, .on_epoch = remember_loss, .user = r};
}

static void train_straight(soma_dataset *ds, int epochs, soma_optim_config oc, run_result *r) {
    soma_device *cpu = test_open("cpu");
    soma_mlp *m = small_model(cpu);
    soma_optimizer *o = NULL;
    ck_soma(soma_optimizer_create(m, &oc, &o));
    soma_train_config tc = config_for(r, epochs);
    ck_soma(soma_train(m, o, ds, NULL, &tc, &r->state));
    grab_weights(m, r);
    soma_optimizer_free(o);
    soma_mlp_free(m);
    soma_device_close(cpu);
}

/* Loads the checkpoint at path (model, optimizer state, training state) and
 * trains on up to `epochs`: the weights end in r. */
static void resume_and_finish(const char *path, soma_dataset *ds, int epochs, run_result *r) {
    soma_device *cpu = test_open("cpu");
    soma_mlp *m = NULL;
    soma_checkpoint_info info;
    ck_soma(soma_checkpoint_load(path, cpu, &m, &info));
    ck_assert(info.has_optimizer);
    soma_optimizer *o = NULL;
    ck_soma(soma_optimizer_create(m, &info.optim, &o));
    ck_soma(soma_checkpoint_load_optimizer(path, o));
    ck_assert_int_eq(soma_optimizer_steps(o), info.steps);
    soma_train_config tc = config_for(r, epochs);
    tc.seed = info.train.seed;
    r->state = info.state;
    ck_soma(soma_train(m, o, ds, NULL, &tc, &r->state));
    grab_weights(m, r);
    ck_assert_int_eq(r->state.epochs_done, epochs);
    ck_assert_int_eq(r->state.steps_in_epoch, 0);
    soma_optimizer_free(o);
    soma_mlp_free(m);
    soma_device_close(cpu);
}

static void ck_same_weights(const run_result *straight, const run_result *resumed) {
    ck_assert_msg(memcmp(straight->weights, resumed->weights, sizeof straight->weights) == 0,
                  "resumed weights differ from the straight run (first %g vs %g)", straight->weights[0],
                  resumed->weights[0]);
}

START_TEST(resume_is_bit_identical) {
    soma_dataset *ds = blobs(250, 8, TEST_SEED); /* 8 batches, the last partial */
    soma_optim_config oc = soma_optim_defaults(SOMA_OPTIM_ADAMW);
    oc.schedule = SOMA_SCHEDULE_COSINE;
    oc.warmup_steps = 3;
    oc.total_steps = 16;
    run_result straight = {0}, resumed = {0};
    train_straight(ds, 2, oc, &straight);

    char dir[] = "/tmp/soma_resume_XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/one_epoch.safetensors", dir);
    {
        run_result first = {0};
        train_straight(ds, 0, oc, &first); /* 0 epochs: nothing happens */
        soma_device *cpu = test_open("cpu");
        soma_mlp *m = small_model(cpu);
        soma_optimizer *o = NULL;
        ck_soma(soma_optimizer_create(m, &oc, &o));
        soma_train_config tc = config_for(&first, 1);
        ck_soma(soma_train(m, o, ds, NULL, &tc, &first.state));
        soma_checkpoint_info info = {.loss = SOMA_LOSS_XENT, .has_optimizer = 1, .state = first.state, .train = tc};
        ck_soma(soma_checkpoint_save(path, m, o, &info));
        soma_optimizer_free(o);
        soma_mlp_free(m);
        soma_device_close(cpu);
    }
    resume_and_finish(path, ds, 2, &resumed);
    ck_same_weights(&straight, &resumed);
    unlink(path);
    rmdir(dir);
    soma_dataset_free(ds);
}
END_TEST

/* Asks soma_train to stop once `after` steps are done (a signal handler
 * would set the flag the same way). */
typedef struct stopper {
    volatile sig_atomic_t flag;
    int64_t steps, after;
} stopper;

static void stop_after(int64_t batch, int64_t batches, void *user) {
    (void)batch, (void)batches;
    stopper *s = user;
    if (++s->steps == s->after) s->flag = 1;
}

/* A run stopped in the middle of an epoch, saved, loaded and continued ends
 * with the weights of the run that was never stopped (a cosine schedule
 * planned over both epochs, dropout on); a state beyond an epoch is refused. */
START_TEST(interrupted_run_resumes_bit_for_bit) {
    soma_dataset *ds = blobs(250, 8, TEST_SEED); /* 8 batches, the last partial */
    soma_optim_config oc = soma_optim_defaults(SOMA_OPTIM_ADAM);
    oc.schedule = SOMA_SCHEDULE_COSINE;
    oc.total_steps = 16;
    run_result straight = {0}, resumed = {0};
    train_straight(ds, 2, oc, &straight);

    char dir[] = "/tmp/soma_stop_XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/stopped.safetensors", dir);
    soma_device *cpu = test_open("cpu");
    soma_mlp *m = small_model(cpu);
    soma_optimizer *o = NULL;
    ck_soma(soma_optimizer_create(m, &oc, &o));
    stopper stop = {.after = 11}; /* step 3 of epoch 2 */
    soma_train_config tc = {.loss = SOMA_LOSS_XENT, .batch = 32, .epochs = 2, .seed = 11, .on_batch = stop_after,
                            .user = &stop, .stop = &stop.flag};
    soma_train_state state = {0};
    ck_soma(soma_train(m, o, ds, NULL, &tc, &state));
    ck_assert_int_eq(state.epochs_done, 1);
    ck_assert_int_eq(state.steps_in_epoch, 3);
    ck_assert_int_eq(soma_optimizer_steps(o), 11);
    tc.on_batch = NULL, tc.user = NULL, tc.stop = NULL;
    soma_checkpoint_info info = {.loss = SOMA_LOSS_XENT, .has_optimizer = 1, .state = state, .train = tc};
    ck_soma(soma_checkpoint_save(path, m, o, &info));
    /* a state beyond the epoch (another data set, another batch) is refused */
    state = (soma_train_state){.epochs_done = 1, .steps_in_epoch = 8};
    ck_fails(soma_train(m, o, ds, NULL, &tc, &state), SOMA_ERR_INVALID_ARG, "8 steps done", "has 8 steps");
    soma_optimizer_free(o);
    soma_mlp_free(m);
    soma_device_close(cpu);

    resume_and_finish(path, ds, 2, &resumed);
    ck_same_weights(&straight, &resumed);
    unlink(path);
    rmdir(dir);
    soma_dataset_free(ds);
}
END_TEST

START_TEST(steady_state_steps_allocate_nothing) {
    soma_dataset *ds = blobs(250, 8, TEST_SEED);
    soma_optim_kind kinds[] = {SOMA_OPTIM_SGD, SOMA_OPTIM_ADAM};
    for (int k = 0; k < 2; k++) {
        run_result r = {0};
        soma_optim_config oc = soma_optim_defaults(kinds[k]);
        oc.clip_norm = 1.0f; /* clipping too */
        train_straight(ds, 1, oc, &r);
        ck_assert_msg(r.steady_allocations == 0, "%s: %ld allocations in steps 4..7",
                      soma_optim_name(kinds[k]), r.steady_allocations);
    }
    soma_dataset_free(ds);
}
END_TEST

/* Loop test over the optimizers: 20 epochs on the blobs must cut the loss by 4. */
START_TEST(every_optimizer_learns) {
    soma_dataset *ds = blobs(300, 8, TEST_SEED);
    soma_optim_config oc = soma_optim_defaults((soma_optim_kind)_i);
    if (_i == SOMA_OPTIM_SGD) {
        oc.lr = 0.05f;
        oc.momentum = 0.9f;
        oc.nesterov = 1;
    }
    run_result first = {0}, last = {0};
    train_straight(ds, 1, oc, &first);
    train_straight(ds, 20, oc, &last);
    ck_assert_msg(last.final_loss < first.final_loss / 4, "%s: loss %g after 1 epoch, %g after 20",
                  soma_optim_name((soma_optim_kind)_i), first.final_loss, last.final_loss);
    soma_dataset_free(ds);
}
END_TEST

START_TEST(early_stopping_restores_the_best_weights) {
    soma_dataset *ds = blobs(300, 8, TEST_SEED), *train = NULL, *val = NULL;
    ck_soma(soma_dataset_split(ds, 0.3, 5, &train, &val));
    soma_device *cpu = test_open("cpu");
    soma_mlp *m = small_model(cpu);
    soma_optimizer *o = NULL;
    soma_optim_config oc = soma_optim_defaults(SOMA_OPTIM_SGD);
    oc.lr = 0.5f; /* large enough that validation loss wanders */
    ck_soma(soma_optimizer_create(m, &oc, &o));
    soma_train_config tc = {.loss = SOMA_LOSS_XENT, .batch = 16, .epochs = 30, .seed = 3, .patience = 2};
    soma_train_state state = {0};
    ck_soma(soma_train(m, o, train, val, &tc, &state));
    ck_assert_int_gt(state.best_epoch, 0);
    double loss, acc;
    ck_soma(soma_evaluate(m, val, SOMA_LOSS_XENT, &loss, &acc));
    ck_assert_msg(loss == state.best_val_loss, "validation loss now %.9g, best was %.9g (epoch %d)",
                  loss, state.best_val_loss, state.best_epoch);
    soma_optimizer_free(o);
    soma_mlp_free(m);
    soma_device_close(cpu);
    soma_dataset_free(train), soma_dataset_free(val), soma_dataset_free(ds);
}
END_TEST

START_TEST(summary_counts_parameters) {
    soma_device *cpu = test_open("cpu");
    const int64_t sizes[] = {784, 256, 128, 10};
    soma_mlp *m = NULL;
    ck_soma(soma_mlp_create_simple(cpu, sizes, 4, SOMA_ACT_RELU, &m));
    ck_assert_int_eq(soma_mlp_parameter_count(m), 235146);
    soma_mlp_free(m);
    soma_device_close(cpu);
}
END_TEST

START_TEST(bad_targets_are_refused) {
    soma_dataset *ds = blobs(30, 8, TEST_SEED);
    soma_dataset_target_data(ds)[7] = 5.0f; /* 3 outputs */
    soma_device *cpu = test_open("cpu");
    soma_mlp *m = small_model(cpu);
    soma_optim_config oc = soma_optim_defaults(SOMA_OPTIM_SGD);
    soma_optimizer *o = NULL;
    ck_soma(soma_optimizer_create(m, &oc, &o));
    soma_train_config tc = {.loss = SOMA_LOSS_XENT, .batch = 8, .epochs = 1};
    soma_train_state state = {0};
    ck_assert_int_eq(soma_train(m, o, ds, NULL, &tc, &state), SOMA_ERR_INVALID_ARG);
    ck_assert_msg(strstr(soma_last_error(), "row 7 is 5, not a class index in [0, 3)"), "%s", soma_last_error());
    soma_optimizer_free(o);
    soma_mlp_free(m);
    soma_device_close(cpu);
    soma_dataset_free(ds);
}
END_TEST

/* soma_train_config.profile: every part of an epoch is counted (a model with
 * dropout and validation data uses them all), the parts add up to the
 * epoch's seconds, the numbers of the run are those of an unprofiled run,
 * and without it the profile stays zero. */
typedef struct profile_log {
    soma_profile profile[2];
    double seconds[2];
    int epochs;
} profile_log;

static int keep_profile(const soma_epoch_report *rep, void *user) {
    profile_log *log = user;
    if (log->epochs < 2) {
        log->profile[log->epochs] = rep->profile;
        log->seconds[log->epochs] = rep->seconds;
    }
    log->epochs++;
    return 0;
}

START_TEST(profile_accounts_for_every_epoch) {
    soma_dataset *ds = blobs(250, 8, TEST_SEED), *val = blobs(40, 8, TEST_SEED + 1);
    soma_device *cpu = test_open("cpu");
    float weights[2][16 * 8];
    for (int profiled = 0; profiled < 2; profiled++) {
        soma_mlp *m = small_model(cpu); /* a hidden ReLU layer with dropout 0.2 */
        soma_optim_config oc = soma_optim_defaults(SOMA_OPTIM_ADAM);
        soma_optimizer *o = NULL;
        ck_soma(soma_optimizer_create(m, &oc, &o));
        profile_log log = {.epochs = 0};
        soma_train_config tc = {.loss = SOMA_LOSS_XENT, .batch = 32, .epochs = 2, .seed = 5,
                                .on_epoch = keep_profile, .user = &log, .profile = profiled};
        soma_train_state state = {0};
        ck_soma(soma_train(m, o, ds, val, &tc, &state));
        ck_assert_int_eq(log.epochs, 2);
        for (int e = 0; e < 2; e++) {
            double sum = 0.0;
            for (int part = 0; part < SOMA_PROFILE_PARTS; part++) {
                double t = log.profile[e].seconds[part];
                const char *name = soma_profile_part_name((soma_profile_part)part);
                if (!profiled) {
                    ck_assert_msg(t == 0.0, "not profiled, yet epoch %d has %g s of %s", e + 1, t, name);
                    continue;
                }
                ck_assert_msg(t > 0.0 || part == SOMA_PROFILE_OTHER, "epoch %d: %s took %g s", e + 1, name, t);
                sum += t;
            }
            if (profiled)
                ck_assert_msg(fabs(sum - log.seconds[e]) <= 1e-9 + 1e-9 * log.seconds[e],
                              "epoch %d: the parts add up to %.9f s, the epoch took %.9f s", e + 1, sum,
                              log.seconds[e]);
        }
        ck_soma(soma_tensor_download(soma_mlp_weight(m, 0), weights[profiled], 16 * 8));
        soma_optimizer_free(o);
        soma_mlp_free(m);
    }
    ck_assert_msg(memcmp(weights[0], weights[1], sizeof weights[0]) == 0, "profiling changed the weights");
    ck_assert_ptr_null(soma_profile_part_name(SOMA_PROFILE_PARTS));
    soma_device_close(cpu);
    soma_dataset_free(ds);
    soma_dataset_free(val);
}
END_TEST

int main(void) {
    printf("test_train: seed %llu\n", TEST_SEED);
    Suite *s = suite_create("train");
    TCase *grad = tcase_create("gradients");
    tcase_add_loop_test(grad, model_gradients_match_differences, 0, SOMA_LOSS_COUNT);
    suite_add_tcase(s, grad);
    TCase *runs = tcase_create("runs");
    tcase_set_timeout(runs, 120);
    tcase_add_test(runs, resume_is_bit_identical);
    tcase_add_test(runs, interrupted_run_resumes_bit_for_bit);
    tcase_add_test(runs, steady_state_steps_allocate_nothing);
    tcase_add_loop_test(runs, every_optimizer_learns, 0, SOMA_OPTIM_COUNT);
    tcase_add_test(runs, early_stopping_restores_the_best_weights);
    tcase_add_test(runs, summary_counts_parameters);
    tcase_add_test(runs, bad_targets_are_refused);
    tcase_add_test(runs, profile_accounts_for_every_epoch);
    suite_add_tcase(s, runs);
    Suite *suites[] = {s};
    return test_run(suites, 1, CK_FORK);
}
