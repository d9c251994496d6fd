/* train_cmd.c: `soma train`: data in, a trained checkpoint out.
 *
 * Everything that can be found out before training is, before training:
 * the options, the files (no output over an input or another output, every
 * output writable: file_guard.h), a resumed checkpoint against the options
 * (train_resume.h), the labels (labels.h), the memory the model needs (the
 * library refuses what the process cannot get). During training every write
 * is checked, and a first SIGINT or SIGTERM ends the run after the current
 * step with its checkpoint saved (interrupt.h). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_common.h"
#include "core/device_internal.h" /* soma_device_auto_fallback */
#include "data_spec.h"
#include "file_guard.h"
#include "interrupt.h"
#include "io/files.h"
#include "labels.h"
#include "plot.h"
#include "train_args.h"
#include "train_ranks.h"
#include "train_resume.h"
#include "soma/checkpoint.h"
#include "soma.h"

/* What the epoch callback needs: the log, and for --save-every what a
 * checkpoint holds. */
typedef struct progress {
    FILE *log;
    const char *log_path;
    plot_metrics *curves; /* --plot: the epochs of this run, for the figure */
    int tty, has_val;
    int said_batches;
    double step_start;
    int n_layers;
    int64_t save_every;
    const char *save;
    soma_mlp *model;
    soma_optimizer *opt;
    soma_checkpoint_info info; /* epochs_done and the best epoch are filled per epoch */
    int failed;
    int profile; /* --profile: print each epoch's time by part */
    int quiet, json; /* --quiet: no epoch lines; --json: JSON lines instead */
} progress;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
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

/* --log-every N: the epoch's running mean loss, read every N steps */
static void on_check(int64_t steps, double mean_loss, void *user) {
    const progress *p = user;
    if (p->json) {
        printf("{\"type\": \"step\", \"steps\": %lld, \"train_loss\": ", (long long)steps);
        cli_json_number(stdout, mean_loss);
        printf("}\n");
    } else if (!p->quiet) {
        printf("  step %lld  train_loss %.4f\n", (long long)steps, mean_loss);
    }
    fflush(stdout);
}

/* --json: the epoch as one line, {"type": "epoch", ...}; what cannot be
 * measured (no validation data) is null. */
static void print_epoch_json(const soma_epoch_report *r, const progress *p) {
    printf("{\"type\": \"epoch\", \"epoch\": %d, \"epochs\": %d, \"train_loss\": ", r->epoch, r->epochs);
    cli_json_number(stdout, r->train_loss);
    printf(", \"val_loss\": ");
    cli_json_number(stdout, p->has_val ? r->val_loss : NAN);
    printf(", \"val_accuracy\": ");
    cli_json_number(stdout, r->val_accuracy);
    printf(", \"lr\": ");
    cli_json_float(stdout, r->lr);
    printf(", \"seconds\": ");
    cli_json_number(stdout, r->seconds);
    printf(", \"samples_per_second\": ");
    cli_json_number(stdout, (double)r->samples / r->seconds);
    printf(", \"dead_relu\": [");
    for (int l = 0; l < r->n_layers; l++) {
        if (l) printf(", ");
        cli_json_number(stdout, r->dead_relu[l]);
    }
    printf("], \"best\": %s", r->best ? "true" : "false");
    if (p->profile) {
        printf(", \"profile\": {");
        for (int i = 0; i < SOMA_PROFILE_PARTS; i++) {
            printf("%s\"%s\": ", i ? ", " : "", soma_profile_part_name((soma_profile_part)i));
            cli_json_number(stdout, r->profile.seconds[i]);
        }
        printf("}");
    }
    printf("}\n");
}

static void print_epoch_text(const soma_epoch_report *r, const progress *p) {
    printf("epoch %d/%d  train_loss %.4f", r->epoch, r->epochs, r->train_loss);
    /* a validation loss that is not finite is shown as such, never left out */
    if (p->has_val && isnan(r->val_loss)) printf("  val_loss nan");
    else if (p->has_val) printf("  val_loss %.4f", r->val_loss);
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
}

static int on_epoch(const soma_epoch_report *r, void *user) {
    progress *p = user;
    if (!p->said_batches && r->data_resident && !p->json && !p->quiet) { /* once, after the first epoch */
        printf("batches: the training data is on the device, each batch gathered there; %lld of the "
               "epoch's steps replayed from one recorded step (CUDA graph)\n", (long long)r->graph_steps);
        p->said_batches = 1;
    }
    if (p->json) print_epoch_json(r, p);
    else if (!p->quiet) print_epoch_text(r, p);
    fflush(stdout); /* a failure here stays in stdout's error flag: main reports it */
    if (p->has_val && !isfinite(r->val_loss))
        fprintf(stderr, "soma train: epoch %d: the validation loss is %s: some validation rows give outputs that are "
                "not finite\n", r->epoch, isnan(r->val_loss) ? "nan" : "infinite");
    if (p->log) {
        fprintf(p->log, "%d,%.9g,%.9g,%.9g,%.9g,%.6f\n", r->epoch, r->train_loss, r->val_loss,
                r->val_accuracy, (double)r->lr, r->seconds);
        if (fflush(p->log) != 0 || ferror(p->log)) {
            fprintf(stderr, "soma train: --log %s: writing epoch %d failed: %s\n", p->log_path, r->epoch,
                    strerror(errno));
            p->failed = 1;
            return 1;
        }
    }
    if (p->curves && plot_metrics_append(p->curves, r->epoch, r->train_loss, r->val_loss, r->val_accuracy)) {
        fprintf(stderr, "soma train: out of memory keeping the curves for --plot\n");
        p->failed = 1;
        return 1;
    }
    p->info.state.epochs_done = r->epoch;
    p->info.state.steps_in_epoch = 0;
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

/* --normalize-target: auto standardizes a regression's targets (loss mse
 * with one output per target column: prices in dollars would otherwise give
 * losses near 1e10). Class labels are indices and are never standardized,
 * nor are those `--loss mse` turns into one-hot rows (outputs != targets). */
static int parse_target_norm(const char *name, soma_loss loss, int64_t outputs, int64_t targets,
                             soma_norm_kind *out) {
    int regression = loss == SOMA_LOSS_MSE && outputs == targets;
    if (!name || strcmp(name, "auto") == 0) {
        *out = regression ? SOMA_NORM_STANDARDIZE : SOMA_NORM_NONE;
    } else if (strcmp(name, "none") == 0) {
        *out = SOMA_NORM_NONE;
    } else if (strcmp(name, "standardize") == 0 && regression) {
        *out = SOMA_NORM_STANDARDIZE;
    } else {
        if (strcmp(name, "standardize") != 0)
            fprintf(stderr, "soma train: unknown --normalize-target '%s' (expected auto, none or standardize)\n",
                    name);
        else if (loss != SOMA_LOSS_MSE)
            fprintf(stderr, "soma train: --normalize-target standardize is for regression (loss mse), not %s\n",
                    soma_loss_name(loss));
        else
            fprintf(stderr, "soma train: --normalize-target standardize needs one output per target column, but "
                    "the model has %lld outputs for %lld (class labels, trained one-hot)\n", (long long)outputs,
                    (long long)targets);
        return 2;
    }
    return 0;
}

/* The optimizer of a new run, from the options (defaults per --optim). */
static soma_optim_config fresh_optimizer(const train_args *a, int64_t steps_per_epoch) {
    soma_optim_config oc = soma_optim_defaults(a->optim_kind);
    if (train_args_given(a, "--lr")) oc.lr = (float)a->lr;
    oc.momentum = a->optim_kind == SOMA_OPTIM_SGD ? (float)a->momentum : 0.0f;
    oc.nesterov = a->nesterov;
    if (train_args_given(a, "--weight-decay") || a->optim_kind != SOMA_OPTIM_ADAMW)
        oc.weight_decay = (float)a->weight_decay;
    oc.clip_norm = (float)a->clip;
    oc.schedule = a->schedule_kind;
    oc.step_size = a->step_size * steps_per_epoch;
    oc.gamma = (float)a->gamma;
    oc.warmup_steps = a->warmup;
    oc.total_steps = a->epochs * steps_per_epoch;
    oc.min_lr = (float)a->min_lr;
    return oc;
}

/* Everything a run owns, freed in one place. */
typedef struct session {
    data_spec spec;
    data_source train_src, test_src;
    soma_dataset *train, *val;
    soma_normalizer norm;
    soma_normalizer target_norm; /* regression: standardized targets (kind NONE otherwise) */
    soma_device *dev;
    soma_mlp *model;
    soma_optimizer *opt;
    soma_checkpoint_info resumed; /* --resume: what the file says */
    FILE *log;
    file_guard guard;
    plot_metrics curves;
    soma_train_config tc;
    soma_train_state state;
    soma_loss loss;
} session;

static void session_free(session *s) {
    if (s->log) fclose(s->log);
    soma_optimizer_free(s->opt);
    soma_mlp_free(s->model);
    soma_device_close(s->dev);
    soma_normalizer_free(&s->norm);
    soma_normalizer_free(&s->target_norm);
    soma_checkpoint_info_free(&s->resumed);
    if (s->train != s->train_src.data) soma_dataset_free(s->train);
    soma_dataset_free(s->val);
    data_source_free(&s->train_src);
    data_source_free(&s->test_src);
    data_spec_free(&s->spec);
    guard_free(&s->guard);
    plot_metrics_free(&s->curves);
}

static soma_dist *ranks; /* mpirun -np N: this process's place among them (train_ranks.h) */

static int error(const char *what) {
    if (!ranks_quiet_failure(ranks)) fprintf(stderr, "soma train: %s\n", what);
    return 1;
}

/* No output over an input or another output, and every output writable,
 * before anything is loaded. */
static int check_files(const train_args *a, session *s) {
    file_guard *g = &s->guard;
    for (int part = 0; part < (s->spec.kind == DATA_MNIST ? 2 : 1); part++) {
        char *files[2];
        int n = data_spec_files(&s->spec, (data_part)part, files);
        for (int i = 0; i < n; i++) {
            guard_input(g, "--data", files[i]);
            free(files[i]);
        }
    }
    guard_input(g, "--init", a->init);
    guard_input(g, "--resume", a->resume);
    guard_output(g, "--save", a->save, 0);
    guard_output(g, "--log", a->log, 1);
    guard_output(g, "--plot", a->plot, 0);
    guard_allow_same(g, "--resume", "--save"); /* a run continued in its own file */
    return guard_check(g, "train");
}

/* The checkpoint of the run as it stands. */
static soma_checkpoint_info checkpoint_info(const train_args *a, const session *s) {
    soma_checkpoint_info info = {.loss = s->loss, .normalizer = s->norm, .has_optimizer = 1, .state = s->state,
                                 .train = s->tc, .has_val_split = 1, .val_split = a->val_split,
                                 .target_normalizer = s->target_norm};
    info.train.epochs = (int)a->epochs;
    info.train.on_epoch = NULL;
    info.train.on_batch = NULL;
    info.train.user = NULL;
    info.train.stop = NULL;
    info.train.dist = NULL;
    info.n_class_names = soma_dataset_class_name_count(s->train); /* named labels (labels.h) */
    info.class_names = soma_dataset_class_names(s->train);
    return info;
}

/* The data, the model, the optimizer and the log: everything up to the
 * first step. */
static int prepare(train_args *a, session *s) {
    int code;
    if ((code = data_spec_parse("train", a->data, &s->spec)) || (code = check_files(a, s))) return code;
    char plot_error[256];
    if (a->plot && (code = plot_check_output(a->plot, plot_error, sizeof plot_error))) {
        fprintf(stderr, "soma train: --plot: %s\n", plot_error); /* before the training, not after */
        return code;
    }
    if (soma_device_open(a->device, &s->dev) != SOMA_OK) return error(soma_last_error());
    if (a->resume) {
        if (soma_checkpoint_load(a->resume, s->dev, &s->model, &s->resumed) != SOMA_OK) return error(soma_last_error());
        if ((code = resume_check_options(a->resume, a, &s->resumed, s->model))) return code;
    }
    if (data_spec_load("train", &s->spec, DATA_TRAIN, &s->train_src)) return 1;
    if (s->spec.kind == DATA_MNIST && data_spec_load("train", &s->spec, DATA_TEST, &s->test_src)) return 1;
    if (a->resume && labels_to_model("train", s->train_src.data, a->resume, s->resumed.class_names,
                                     s->resumed.n_class_names))
        return 1;
    int64_t classes;
    if (labels_examine("train", s->train_src.data, a->resume ? soma_loss_name(s->resumed.loss) : a->loss,
                       !a->resume && a->n_sizes == 0 && !a->arch, &classes))
        return 1;
    s->loss = a->resume ? s->resumed.loss : a->loss ? a->loss_kind : classes > 0 ? SOMA_LOSS_XENT : SOMA_LOSS_MSE;
    int64_t features = soma_dataset_features(s->train_src.data), targets = soma_dataset_targets(s->train_src.data);
    int64_t outputs = s->loss == SOMA_LOSS_XENT || (targets == 1 && classes > 2) ? classes : targets;
    int64_t sizes[SOMA_MAX_LAYERS + 1];
    int n_sizes = 0;
    if (a->resume && features != soma_mlp_inputs(s->model)) {
        fprintf(stderr, "soma train: the data has %lld features but the model of %s takes %lld inputs\n",
                (long long)features, a->resume, (long long)soma_mlp_inputs(s->model));
        return 2;
    }
    if (!a->resume && !a->arch && (code = model_sizes(a, features, outputs, sizes, &n_sizes))) return code;
    if (!a->resume && a->arch && a->arch_inputs != features) {
        fprintf(stderr, "soma train: --arch starts with %lld inputs but the data has %lld features\n",
                (long long)a->arch_inputs, (long long)features);
        return 2;
    }

    /* validation split (in place: the data is not held twice), then
     * normalization fitted on the training part only */
    s->train = s->train_src.data;
    if (a->val_split > 0 &&
        soma_dataset_split_in_place(s->train, a->val_split, a->resume ? s->resumed.train.seed : a->seed,
                                    &s->val) != SOMA_OK)
        return error(soma_last_error());
    int64_t rows = soma_dataset_rows(s->train);
    if (a->resume) {
        soma_norm_kind target_kind; /* a bad name is refused beside --resume too */
        if ((code = parse_target_norm(a->normalize_target, s->loss, soma_mlp_outputs(s->model), targets,
                                      &target_kind)) ||
            (code = resume_check_data(a->resume, a, &s->resumed, rows, s->train_src.default_norm)))
            return code;
        s->norm = s->resumed.normalizer;
        memset(&s->resumed.normalizer, 0, sizeof s->resumed.normalizer);
        s->target_norm = s->resumed.target_normalizer;
        memset(&s->resumed.target_normalizer, 0, sizeof s->resumed.target_normalizer);
    } else {
        soma_norm_kind kind, target_kind;
        if ((code = parse_norm(a->normalize, s->train_src.default_norm, &kind)))
            return code;
        /* the model first: with --arch its outputs are known from it alone */
        soma_layer_spec specs[SOMA_MAX_LAYERS];
        for (int l = 0; l + 1 < n_sizes; l++)
            specs[l] = (soma_layer_spec){.units = sizes[l + 1], .act = l + 2 < n_sizes ? a->act_kind : SOMA_ACT_IDENTITY,
                                         .dropout = l + 2 < n_sizes ? (float)a->dropout : 0.0f};
        soma_status made = a->arch ? soma_mlp_create_arch(s->dev, a->arch_canonical, &s->model)
                                   : soma_mlp_create(s->dev, sizes[0], specs, n_sizes - 1, &s->model);
        if (made != SOMA_OK) return error(soma_last_error());
        if ((code = parse_target_norm(a->normalize_target, s->loss, soma_mlp_outputs(s->model), targets,
                                      &target_kind)))
            return code;
        if (soma_normalizer_fit(s->train, kind, &s->norm) != SOMA_OK ||
            soma_target_normalizer_fit(s->train, target_kind, &s->target_norm) != SOMA_OK ||
            soma_mlp_init(s->model, a->init_kind, a->seed) != SOMA_OK ||
            (a->init && soma_checkpoint_load_weights(a->init, s->model) != SOMA_OK))
            return error(soma_last_error());
    }
    soma_dataset *sets[] = {s->train, s->val, s->test_src.data};
    for (int i = 0; i < 3; i++)
        /* "none" from a checkpoint has no arrays (resuming one used to fail here) */
        if (sets[i] && ((s->norm.kind != SOMA_NORM_NONE && soma_normalizer_apply(&s->norm, sets[i]) != SOMA_OK) ||
                        soma_target_normalizer_apply(&s->target_norm, sets[i]) != SOMA_OK))
            return error(soma_last_error());

    int64_t batch = a->resume ? s->resumed.train.batch : a->batch;
    batch = batch < rows ? batch : rows;
    if (batch % soma_dist_size(ranks)) {
        fprintf(stderr, "soma train: --batch %lld is the global batch: it must split over the %d ranks\n",
                (long long)batch, soma_dist_size(ranks));
        return 2;
    }
    soma_optim_config oc = a->resume && s->resumed.has_optimizer ? resume_optimizer(a, &s->resumed, rows)
                                                                  : fresh_optimizer(a, (rows + batch - 1) / batch);
    if (soma_optimizer_create(s->model, &oc, &s->opt) != SOMA_OK ||
        (a->resume && s->resumed.has_optimizer && soma_checkpoint_load_optimizer(a->resume, s->opt) != SOMA_OK))
        return error(soma_last_error());
    if (a->log) {
        int fd;
        if (soma_output_open_in_place("--log", a->log, a->resume != NULL, &fd) != SOMA_OK) return error(soma_last_error());
        if (!(s->log = fdopen(fd, a->resume ? "a" : "w"))) {
            close(fd);
            return error("out of memory opening --log");
        }
        if (!a->resume) fprintf(s->log, "epoch,train_loss,val_loss,val_accuracy,lr,seconds\n");
    }
    s->tc = (soma_train_config){.loss = s->loss, .batch = batch, .epochs = (int)a->epochs, .seed = a->seed,
                                .no_shuffle = a->no_shuffle, .patience = (int)a->patience, .on_epoch = on_epoch,
                                .on_batch = on_batch, .stop = &interrupt_signal, .profile = a->profile,
                                .check_every = a->log_every, .on_check = a->log_every ? on_check : NULL,
                                .no_graph = a->no_graph,
                                .data_budget = a->data_budget < 0 ? 0
                                               : a->data_budget == 0 ? -1 : a->data_budget << 20,
                                .precision = a->precision_kind, .dist = ranks};
    if (a->resume) {
        if (!train_args_given(a, "--precision")) s->tc.precision = s->resumed.train.precision;
        s->tc.seed = s->resumed.train.seed;
        s->tc.no_shuffle = s->resumed.train.no_shuffle;
        s->state = s->resumed.state;
    }
    return 0;
}

static void print_header(const train_args *a, const session *s) {
    printf("data: %s, %lld rows (%lld for training, %lld for validation), %lld features\n", s->train_src.name,
           (long long)(soma_dataset_rows(s->train) + (s->val ? soma_dataset_rows(s->val) : 0)),
           (long long)soma_dataset_rows(s->train),
           s->val ? (long long)soma_dataset_rows(s->val) : 0LL, (long long)soma_dataset_features(s->train));
    printf("device: %s\n", soma_device_description(s->dev));
    /* a CUDA build on the CPU: why (no module, it does not load, no GPU) */
    const char *why = strcmp(a->device, "auto") == 0 && soma_device_kind_of(s->dev) == SOMA_DEVICE_CPU
                          ? soma_device_auto_fallback()
                          : NULL;
    if (why) printf("--device auto: using the CPU: %s\n", why);
    ranks_describe(ranks, (long long)s->tc.batch);
    soma_mlp_print_summary(s->model, stdout);
    if (a->resume) resume_describe(a->resume, a, &s->resumed, soma_dataset_rows(s->train));
    const soma_optim_config *oc = soma_optimizer_config(s->opt);
    printf("loss %s, optimizer %s lr %g (%s schedule), batch %lld, epochs %lld, seed %llu\n", soma_loss_name(s->loss),
           soma_optim_name(oc->kind), (double)oc->lr, soma_schedule_name(oc->schedule), (long long)s->tc.batch,
           (long long)a->epochs, (unsigned long long)s->tc.seed);
    if (s->target_norm.kind != SOMA_NORM_NONE) {
        printf("targets standardized (");
        for (int64_t j = 0; j < s->target_norm.features && j < 4; j++)
            printf("%smean %.6g, std %.6g", j ? "; " : "", (double)s->target_norm.offset[j],
                   1.0 / (double)s->target_norm.scale[j]);
        printf("%s): the losses below are in standard deviations squared; eval and predict give the "
               "targets' units\n", s->target_norm.features > 4 ? "; ..." : "");
    }
    if (s->tc.precision != SOMA_PRECISION_FP32)
        printf("precision %s: GEMM operands rounded to it; accumulation, weights and gradients float32\n",
               soma_precision_name(s->tc.precision));
    fflush(stdout);
}

/* After a SIGINT or SIGTERM: the run as it stands is saved, when --save is given. */
static int interrupted(const train_args *a, session *s) {
    if (soma_dist_rank(ranks) != 0) return interrupt_exit_code(); /* rank 0 saves and says so */
    char where[96];
    if (s->state.steps_in_epoch)
        snprintf(where, sizeof where, "after step %lld of epoch %d", (long long)s->state.steps_in_epoch,
                 s->state.epochs_done + 1);
    else
        snprintf(where, sizeof where, "after epoch %d", s->state.epochs_done);
    if (!a->save) {
        fprintf(stderr, "soma train: interrupted by %s %s; nothing saved (no --save)\n", interrupt_name(), where);
        return interrupt_exit_code();
    }
    soma_checkpoint_info info = checkpoint_info(a, s);
    if (soma_checkpoint_save(a->save, s->model, s->opt, &info) != SOMA_OK) {
        fprintf(stderr, "soma train: interrupted by %s %s; saving failed: %s\n", interrupt_name(), where,
                soma_last_error());
        return 1;
    }
    fprintf(stderr, "soma train: interrupted by %s %s; saved %s (continue with --resume %s)\n", interrupt_name(),
            where, a->save, a->save);
    return interrupt_exit_code();
}

/* --json: the last line, {"type": "result", ...}. */
static void print_result_json(const train_args *a, const session *s, double seconds, double test_loss,
                              double test_acc) {
    printf("{\"type\": \"result\", \"epochs_trained\": %d, \"seconds\": ", s->state.epochs_done);
    cli_json_number(stdout, seconds);
    printf(", \"stopped_early\": %s, \"test_loss\": ", s->state.stopped_early ? "true" : "false");
    cli_json_number(stdout, test_loss);
    printf(", \"test_accuracy\": ");
    cli_json_number(stdout, test_acc);
    printf(", \"saved\": ");
    if (a->save) cli_json_string(stdout, a->save);
    else printf("null");
    printf("}\n");
}

static int train_and_save(const train_args *a, session *s) {
    progress prog = {.log = s->log, .log_path = a->log, .tty = isatty(2) && !a->quiet, .has_val = s->val != NULL,
                     .n_layers = soma_mlp_layer_count(s->model), .save_every = a->save_every, .save = a->save,
                     .model = s->model, .opt = s->opt, .curves = a->plot ? &s->curves : NULL,
                     .profile = a->profile, .quiet = a->quiet, .json = a->json};
    s->tc.user = &prog;
    prog.info = checkpoint_info(a, s);
    if (interrupt_signal) {
        fprintf(stderr, "soma train: interrupted by %s before training started; nothing saved\n", interrupt_name());
        return interrupt_exit_code();
    }
    double start = now();
    soma_status st = soma_train(s->model, s->opt, s->train, s->val, &s->tc, &s->state);
    if (st == SOMA_OK) ranks_agree_interrupt(ranks); /* a signal to one rank stopped them all */
    if (st != SOMA_OK && !soma_dist_failure_agreed(ranks) && soma_dist_size(ranks) > 1) {
        /* this rank's own failure, in a step: the others wait for it in an all-reduce */
        fprintf(stderr, "soma train: rank %d of %d: %s\n", soma_dist_rank(ranks), soma_dist_size(ranks),
                soma_last_error());
        soma_dist_fail(ranks, 1);
    }
    if (st != SOMA_OK || prog.failed) {
        if (!prog.failed && a->save_every && s->state.epochs_done >= a->save_every)
            fprintf(stderr, "soma train: %s (%s keeps the checkpoint of epoch %lld)\n", soma_last_error(), a->save,
                    (long long)(s->state.epochs_done / a->save_every * a->save_every));
        else if (!prog.failed)
            error(soma_last_error());
        return 1;
    }
    ranks_report_check(ranks);
    if (interrupt_signal) return interrupted(a, s);
    double seconds = now() - start, test_loss = NAN, test_acc = NAN;
    int text = !a->quiet && !a->json;
    if (text)
        printf("trained %d epochs in %.1fs%s\n", s->state.epochs_done, seconds,
               s->state.stopped_early ? " (stopped early; best weights restored)" : "");
    if (s->test_src.data) {
        if (soma_evaluate(s->model, s->test_src.data, s->loss, &test_loss, &test_acc) != SOMA_OK)
            return error(soma_last_error());
        if (text)
            printf("test: loss %.4f  accuracy %.4f (%s, %lld rows)\n", test_loss, test_acc, s->test_src.name,
                   (long long)soma_dataset_rows(s->test_src.data));
    }
    if (a->save) {
        soma_checkpoint_info out = checkpoint_info(a, s);
        if (soma_checkpoint_save(a->save, s->model, s->opt, &out) != SOMA_OK) return error(soma_last_error());
        if (text) printf("saved %s\n", a->save);
    }
    if (interrupt_signal) return interrupt_exit_code(); /* the run was complete and is saved */
    if (a->plot) { /* a resumed run's --log holds the earlier epochs too */
        char plot_error[256];
        if (s->log && fflush(s->log) != 0) return error("--log: writing failed");
        if (a->log && a->resume) {
            if (plot_metrics_file("train", a->log, a->plot, NULL)) return 1;
        } else if (plot_metrics_draw(&s->curves, "training curves", a->plot, plot_error, sizeof plot_error)) {
            fprintf(stderr, "soma train: --plot: %s\n", plot_error);
            return 1;
        }
        if (text) printf("plotted %s\n", a->plot);
    }
    if (s->log && fclose(s->log) != 0) {
        s->log = NULL;
        fprintf(stderr, "soma train: --log %s: closing failed: %s\n", a->log, strerror(errno));
        return 1;
    }
    s->log = NULL;
    if (a->json) print_result_json(a, s, seconds, test_loss, test_acc);
    return 0;
}

int soma_cmd_train(int argc, char **argv) {
    train_args a;
    int code = train_args_parse(argc, argv, &a);
    if (code) return code < 0 ? 0 : code;
    if ((code = cli_set_threads("train", a.threads))) return code;
    if ((code = ranks_open(&ranks)) || (code = ranks_quiet(&a, ranks)) || (code = ranks_device(&a, ranks))) {
        soma_dist_close(ranks);
        return code;
    }
    interrupt_install(1);
    session s;
    memset(&s, 0, sizeof s);
    soma_clear_error();
    code = ranks_agree(ranks, prepare(&a, &s));
    if (!code) {
        if (!a.quiet && !a.json) print_header(&a, &s);
        code = train_and_save(&a, &s);
        ranks_finish(ranks); /* the other ranks wait for rank 0's last writes */
    }
    session_free(&s);
    soma_dist_close(ranks);
    ranks = NULL;
    return code;
}
