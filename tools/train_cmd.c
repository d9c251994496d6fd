/* train_cmd.c: `soma train`: data in, a trained checkpoint out. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "data_spec.h"
#include "plot.h"
#include "train_args.h"
#include "soma/checkpoint.h"
#include "soma.h"

/* What the epoch callback needs: the log, and for --save-every what a
 * checkpoint holds. */
typedef struct progress {
    FILE *log;
    plot_metrics *curves; /* --plot: the epochs of this run, for the figure */
    int tty;
    double step_start;
    int n_layers;
    int64_t save_every;
    const char *save;
    soma_mlp *model;
    soma_optimizer *opt;
    soma_checkpoint_info info; /* epochs_done and the best epoch are filled per epoch */
    int failed;
    int profile; /* --profile: print each epoch's time by part */
} progress;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void on_batch(int64_t batch, int64_t batches, void *user) {
    progress *p = user;
    if (!p->tty) return;
    if (batch == 1) p->step_start = now();
    if (batch % 8 && batch != batches) return;
    double elapsed = now() - p->step_start, rate = elapsed > 0 ? (double)batch / elapsed : 0.0;
    double eta = rate > 0 ? (double)(batches - batch) / rate : 0.0;
    int width = 30, filled = (int)(width * batch / batches);
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < filled ? '=' : i == filled ? '>' : ' ';
    bar[width] = '\0';
    fprintf(stderr, "\r[%s] %lld/%lld batches  %.0f batches/s  ETA %.0fs ", bar, (long long)batch,
            (long long)batches, rate, eta);
    if (batch == batches) fprintf(stderr, "\r%*s\r", width + 60, "");
}

/* --profile: one line per epoch, the parts in seconds and shares, largest first. */
static void print_profile(const soma_profile *prof, double seconds) {
    int order[SOMA_PROFILE_PARTS];
    for (int i = 0; i < SOMA_PROFILE_PARTS; i++) order[i] = i;
    for (int i = 1; i < SOMA_PROFILE_PARTS; i++) /* insertion sort, largest first */
        for (int j = i; j > 0 && prof->seconds[order[j]] > prof->seconds[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    printf("  profile:");
    for (int i = 0; i < SOMA_PROFILE_PARTS; i++)
        printf(" %s %.3fs (%.0f%%)", soma_profile_part_name((soma_profile_part)order[i]),
               prof->seconds[order[i]], seconds > 0 ? 100.0 * prof->seconds[order[i]] / seconds : 0.0);
    printf("\n");
}

static int on_epoch(const soma_epoch_report *r, void *user) {
    progress *p = user;
    printf("epoch %d/%d  train_loss %.4f", r->epoch, r->epochs, r->train_loss);
    if (!isnan(r->val_loss)) printf("  val_loss %.4f", r->val_loss);
    if (!isnan(r->val_accuracy)) printf("  val_acc %.4f", r->val_accuracy);
    printf("  lr %.2e  %.1fs  %.0f samples/s", (double)r->lr, r->seconds, (double)r->samples / r->seconds);
    int any_relu = 0;
    for (int l = 0; l < r->n_layers; l++) any_relu |= !isnan(r->dead_relu[l]);
    if (any_relu) {
        printf("  dead_relu");
        for (int l = 0; l < r->n_layers; l++)
            if (!isnan(r->dead_relu[l])) printf(" %.2f", r->dead_relu[l]);
    }
    printf("%s\n", r->best ? "  *" : "");
    if (p->profile) print_profile(&r->profile, r->seconds);
    fflush(stdout);
    if (p->log) {
        fprintf(p->log, "%d,%.9g,%.9g,%.9g,%.9g,%.6f\n", r->epoch, r->train_loss, r->val_loss,
                r->val_accuracy, (double)r->lr, r->seconds);
        fflush(p->log);
    }
    if (p->curves && plot_metrics_append(p->curves, r->epoch, r->train_loss, r->val_loss, r->val_accuracy)) {
        fprintf(stderr, "soma train: out of memory keeping the curves for --plot\n");
        p->failed = 1;
        return 1;
    }
    p->info.state.epochs_done = r->epoch;
    if (r->best) {
        p->info.state.best_epoch = r->epoch;
        p->info.state.best_val_loss = r->val_loss;
    }
    if (p->save_every > 0 && r->epoch % p->save_every == 0) {
        /* crash-safe: the file is replaced whole, or not at all */
        if (soma_checkpoint_save(p->save, p->model, p->opt, &p->info) != SOMA_OK) {
            fprintf(stderr, "soma train: --save-every: %s\n", soma_last_error());
            p->failed = 1;
            return 1;
        }
    }
    return 0;
}

/* The model's sizes: --layers as given (its first size must be the data's
 * features), or "auto": two hidden layers of 256 and 128 around the data. */
static int model_sizes(const train_args *a, int64_t features, int64_t outputs, int64_t *sizes, int *n) {
    if (a->n_sizes == 0) {
        int64_t def[] = {features, 256, 128, outputs};
        memcpy(sizes, def, sizeof def);
        *n = 4;
        return 0;
    }
    if (a->sizes[0] != features) {
        fprintf(stderr, "soma train: --layers starts with %lld inputs but the data has %lld features\n",
                (long long)a->sizes[0], (long long)features);
        return 2;
    }
    memcpy(sizes, a->sizes, (size_t)a->n_sizes * sizeof *sizes);
    *n = a->n_sizes;
    return 0;
}

static int parse_norm(const char *name, soma_norm_kind fallback, soma_norm_kind *out) {
    if (!name || strcmp(name, "auto") == 0) *out = fallback;
    else if (strcmp(name, "none") == 0) *out = SOMA_NORM_NONE;
    else if (strcmp(name, "scale01") == 0) *out = SOMA_NORM_SCALE01;
    else if (strcmp(name, "standardize") == 0) *out = SOMA_NORM_STANDARDIZE;
    else {
        fprintf(stderr, "soma train: unknown --normalize '%s' (expected auto, none, scale01 or standardize)\n", name);
        return 2;
    }
    return 0;
}

/* Everything a run owns, freed in one place. */
typedef struct session {
    data_source train_src, test_src;
    soma_dataset *train, *val;
    soma_normalizer norm;
    soma_device *dev;
    soma_mlp *model;
    soma_optimizer *opt;
    FILE *log;
} session;

static void session_free(session *s) {
    if (s->log) fclose(s->log);
    soma_optimizer_free(s->opt);
    soma_mlp_free(s->model);
    soma_device_close(s->dev);
    soma_normalizer_free(&s->norm);
    if (s->train != s->train_src.data) soma_dataset_free(s->train);
    soma_dataset_free(s->val);
    soma_dataset_free(s->train_src.data);
    soma_dataset_free(s->test_src.data);
}

static int error(const char *what) {
    fprintf(stderr, "soma train: %s\n", what);
    return 1;
}

int soma_cmd_train(int argc, char **argv) {
    train_args a;
    int code = train_args_parse(argc, argv, &a);
    if (code) return code < 0 ? 0 : code;
    char plot_error[256];
    if (a.plot && (code = plot_check_output(a.plot, plot_error, sizeof plot_error))) {
        fprintf(stderr, "soma train: --plot: %s\n", plot_error); /* before the training, not after */
        return code;
    }
    soma_activation act = a.act_kind;
    soma_optim_kind optim = a.optim_kind;
    soma_schedule schedule = a.schedule_kind;
    soma_init init = a.init_kind;

    session s = {0};
    plot_metrics curves = {0};
    int rc = 1;
    soma_checkpoint_info info = {0};
    if (data_spec_load("train", a.data, DATA_TRAIN, &s.train_src)) goto done;
    if (strcmp(a.data, "mnist") == 0 && data_spec_load("train", a.data, DATA_TEST, &s.test_src)) goto done;
    int64_t classes = soma_dataset_classes(s.train_src.data);
    soma_loss loss = classes > 0 ? SOMA_LOSS_XENT : SOMA_LOSS_MSE;
    if (a.loss && soma_loss_parse(a.loss, &loss) != SOMA_OK) {
        fprintf(stderr, "soma train: --loss: %s\n", soma_last_error());
        rc = 2;
        goto done;
    }
    int64_t features = soma_dataset_features(s.train_src.data);
    int64_t outputs = loss == SOMA_LOSS_XENT || (soma_dataset_targets(s.train_src.data) == 1 && classes > 2)
                          ? classes : soma_dataset_targets(s.train_src.data);
    int64_t sizes[SOMA_MAX_LAYERS + 1];
    int n_sizes;
    if ((rc = model_sizes(&a, features, outputs, sizes, &n_sizes))) goto done;
    rc = 1;

    /* validation split (in place: the data is not held twice), then
     * normalization fitted on the training part only */
    const int64_t all_rows = soma_dataset_rows(s.train_src.data);
    s.train = s.train_src.data;
    if (a.val_split > 0 && soma_dataset_split_in_place(s.train, a.val_split, a.seed, &s.val) != SOMA_OK) {
        error(soma_last_error());
        goto done;
    }
    if (soma_device_open(a.device, &s.dev) != SOMA_OK) {
        error(soma_last_error());
        goto done;
    }
    if (a.resume) {
        if (soma_checkpoint_load(a.resume, s.dev, &s.model, &info) != SOMA_OK) {
            error(soma_last_error());
            goto done;
        }
        s.norm = info.normalizer;
        memset(&info.normalizer, 0, sizeof info.normalizer);
        loss = info.loss;
    } else {
        soma_norm_kind kind;
        if ((rc = parse_norm(a.normalize, s.train_src.default_norm, &kind))) goto done;
        rc = 1;
        if (soma_normalizer_fit(s.train, kind, &s.norm) != SOMA_OK) {
            error(soma_last_error());
            goto done;
        }
        soma_layer_spec specs[SOMA_MAX_LAYERS];
        for (int l = 0; l + 1 < n_sizes; l++)
            specs[l] = (soma_layer_spec){.units = sizes[l + 1], .act = l + 2 < n_sizes ? act : SOMA_ACT_IDENTITY,
                                         .dropout = l + 2 < n_sizes ? (float)a.dropout : 0.0f};
        if (soma_mlp_create(s.dev, sizes[0], specs, n_sizes - 1, &s.model) != SOMA_OK ||
            soma_mlp_init(s.model, init, a.seed) != SOMA_OK ||
            (a.init && soma_checkpoint_load_weights(a.init, s.model) != SOMA_OK)) {
            error(soma_last_error());
            goto done;
        }
    }
    soma_dataset *sets[] = {s.train, s.val, s.test_src.data};
    for (int i = 0; i < 3; i++)
        if (sets[i] && soma_normalizer_apply(&s.norm, sets[i]) != SOMA_OK) {
            error(soma_last_error());
            goto done;
        }

    int64_t batch = a.batch < soma_dataset_rows(s.train) ? a.batch : soma_dataset_rows(s.train);
    int64_t steps_per_epoch = (soma_dataset_rows(s.train) + batch - 1) / batch;
    soma_optim_config oc = soma_optim_defaults(optim);
    if (a.resume && info.has_optimizer) {
        oc = info.optim;
    } else {
        if (a.lr > 0) oc.lr = (float)a.lr;
        oc.momentum = optim == SOMA_OPTIM_SGD ? (float)a.momentum : 0.0f;
        oc.nesterov = a.nesterov;
        if (a.weight_decay > 0 || optim != SOMA_OPTIM_ADAMW) oc.weight_decay = (float)a.weight_decay;
        oc.clip_norm = (float)a.clip;
        oc.schedule = schedule;
        oc.step_size = a.step_size * steps_per_epoch;
        oc.gamma = (float)a.gamma;
        oc.warmup_steps = a.warmup;
        oc.total_steps = a.epochs * steps_per_epoch;
        oc.min_lr = (float)a.min_lr;
    }
    if (soma_optimizer_create(s.model, &oc, &s.opt) != SOMA_OK ||
        (a.resume && info.has_optimizer && soma_checkpoint_load_optimizer(a.resume, s.opt) != SOMA_OK)) {
        error(soma_last_error());
        goto done;
    }
    if (a.log && !(s.log = fopen(a.log, a.resume ? "a" : "w"))) {
        fprintf(stderr, "soma train: cannot write --log %s\n", a.log);
        goto done;
    }
    if (s.log && !a.resume) fprintf(s.log, "epoch,train_loss,val_loss,val_accuracy,lr,seconds\n");

    printf("data: %s, %lld rows (%lld for training, %lld for validation), %lld features\n",
           s.train_src.name, (long long)all_rows, (long long)soma_dataset_rows(s.train),
           s.val ? (long long)soma_dataset_rows(s.val) : 0LL, (long long)features);
    printf("device: %s\n", soma_device_description(s.dev));
    soma_mlp_print_summary(s.model, stdout);
    printf("loss %s, optimizer %s lr %g, batch %lld, epochs %lld, seed %llu\n", soma_loss_name(loss),
           soma_optim_name(oc.kind), (double)oc.lr, (long long)batch, (long long)a.epochs,
           (unsigned long long)a.seed);

    progress prog = {.log = s.log, .tty = isatty(2), .n_layers = soma_mlp_layer_count(s.model),
                     .save_every = a.save_every, .save = a.save, .model = s.model, .opt = s.opt,
                     .curves = a.plot ? &curves : NULL, .profile = a.profile};
    soma_train_config tc = {.loss = loss, .batch = batch, .epochs = (int)a.epochs, .seed = a.seed,
                            .no_shuffle = a.no_shuffle, .patience = (int)a.patience,
                            .on_epoch = on_epoch, .on_batch = on_batch, .user = &prog,
                            .profile = a.profile};
    soma_train_state state = info.state;
    if (a.resume) {
        tc.seed = info.train.seed;
        tc.no_shuffle = info.train.no_shuffle;
        tc.batch = info.train.batch;
    }
    prog.info = (soma_checkpoint_info){.loss = loss, .normalizer = s.norm, .has_optimizer = 1,
                                       .state = state, .train = tc};
    prog.info.train.on_epoch = NULL, prog.info.train.on_batch = NULL, prog.info.train.user = NULL;
    double start = now();
    if (soma_train(s.model, s.opt, s.train, s.val, &tc, &state) != SOMA_OK || prog.failed) {
        if (!prog.failed && a.save_every && state.epochs_done >= a.save_every)
            fprintf(stderr, "soma train: %s (%s keeps the checkpoint of epoch %lld)\n", soma_last_error(), a.save,
                    (long long)(state.epochs_done / a.save_every * a.save_every));
        else if (!prog.failed)
            error(soma_last_error());
        goto done;
    }
    printf("trained %d epochs in %.1fs%s\n", state.epochs_done, now() - start,
           state.stopped_early ? " (stopped early; best weights restored)" : "");
    if (s.test_src.data) {
        double test_loss, test_acc;
        if (soma_evaluate(s.model, s.test_src.data, loss, &test_loss, &test_acc) != SOMA_OK) {
            error(soma_last_error());
            goto done;
        }
        printf("test: loss %.4f  accuracy %.4f (%s, %lld rows)\n", test_loss, test_acc, s.test_src.name,
               (long long)soma_dataset_rows(s.test_src.data));
    }
    if (a.save) {
        soma_checkpoint_info out = {.loss = loss, .normalizer = s.norm, .has_optimizer = 1,
                                    .state = state, .train = tc};
        out.train.epochs = (int)a.epochs;
        if (soma_checkpoint_save(a.save, s.model, s.opt, &out) != SOMA_OK) {
            error(soma_last_error());
            goto done;
        }
        printf("saved %s\n", a.save);
    }
    if (a.plot) { /* a resumed run's --log holds the earlier epochs too */
        if (s.log) fflush(s.log);
        if (a.log && a.resume) {
            if (plot_metrics_file("train", a.log, a.plot, NULL)) goto done;
        } else if (plot_metrics_draw(&curves, "training curves", a.plot, plot_error, sizeof plot_error)) {
            fprintf(stderr, "soma train: --plot: %s\n", plot_error);
            goto done;
        }
        printf("plotted %s\n", a.plot);
    }
    rc = 0;
done:
    plot_metrics_free(&curves);
    soma_normalizer_free(&info.normalizer);
    session_free(&s);
    return rc;
}
