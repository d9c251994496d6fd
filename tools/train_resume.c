/* train_resume.c: see train_resume.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "train_resume.h"

static const char *const norm_names[] = {"none", "scale01", "standardize"};

/* Prints the refusal of an option beside --resume when it is given and its
 * value is not the file's (saved: the file's value, printf-style). */
static int differs(const char *path, const train_args *a, const char *option, int same, const char *saved_fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int differs(const char *path, const train_args *a, const char *option, int same, const char *saved_fmt, ...) {
    if (same || !train_args_given(a, option)) return 0;
    char saved[128];
    va_list args;
    va_start(args, saved_fmt);
    vsnprintf(saved, sizeof saved, saved_fmt, args);
    va_end(args);
    fprintf(stderr, "soma train: %s differs from the resumed run's %s (%s): a resumed run keeps its settings; "
            "to train with new ones, start from its weights with --init\n", option, saved, path);
    return 2;
}

/* The run's batch: the file's (as the run used it, at most its rows). */
static int64_t steps_per_epoch(const soma_checkpoint_info *info, int64_t rows) {
    int64_t batch = info->train.batch < rows ? info->train.batch : rows;
    return (rows + batch - 1) / batch;
}

static int check_model(const char *path, const train_args *a, const soma_mlp *model) {
    if (a->arch) {
        char arch[SOMA_ARCH_MAX];
        if (soma_mlp_arch(model, arch, sizeof arch) != SOMA_OK) return 1;
        return differs(path, a, "--arch", strcmp(arch, a->arch_canonical) == 0, "%.120s", arch);
    }
    int n = soma_mlp_layer_count(model), same = a->n_sizes == n + 1 && a->sizes[0] == soma_mlp_inputs(model);
    for (int l = 0; same && l < n; l++) same = a->sizes[l + 1] == soma_mlp_layer(model, l).units;
    char layers[64 * 12] = "";
    size_t used = (size_t)snprintf(layers, sizeof layers, "%lld", (long long)soma_mlp_inputs(model));
    for (int l = 0; l < n && used < sizeof layers; l++)
        used += (size_t)snprintf(layers + used, sizeof layers - used, ",%lld", (long long)soma_mlp_layer(model, l).units);
    int code = differs(path, a, "--layers", same, "%s", layers);
    /* the hidden layers' activation and dropout (the output layer has neither) */
    soma_layer_spec hidden = n > 1 ? soma_mlp_layer(model, 0) : (soma_layer_spec){.act = a->act_kind};
    if (!code)
        code = differs(path, a, "--act", n == 1 || hidden.act == a->act_kind, "%s", soma_activation_name(hidden.act));
    if (!code)
        code = differs(path, a, "--dropout", n == 1 || hidden.dropout == (float)a->dropout, "%g", (double)hidden.dropout);
    return code;
}

static int check_optimizer(const char *path, const train_args *a, const soma_checkpoint_info *info) {
    if (!info->has_optimizer) return 0;
    const soma_optim_config *c = &info->optim;
    int code = differs(path, a, "--optim", a->optim_kind == c->kind, "%s", soma_optim_name(c->kind));
    if (!code) code = differs(path, a, "--lr", (float)a->lr == c->lr, "%g", (double)c->lr);
    if (!code) code = differs(path, a, "--momentum", (float)a->momentum == c->momentum, "%g", (double)c->momentum);
    if (!code) code = differs(path, a, "--nesterov", c->nesterov, "%s", "no Nesterov momentum");
    if (!code)
        code = differs(path, a, "--weight-decay", (float)a->weight_decay == c->weight_decay, "%g", (double)c->weight_decay);
    if (!code) code = differs(path, a, "--clip", (float)a->clip == c->clip_norm, "%g", (double)c->clip_norm);
    if (!code)
        code = differs(path, a, "--schedule", a->schedule_kind == c->schedule, "%s", soma_schedule_name(c->schedule));
    if (!code) code = differs(path, a, "--warmup", a->warmup == c->warmup_steps, "%lld", (long long)c->warmup_steps);
    if (!code) code = differs(path, a, "--min-lr", (float)a->min_lr == c->min_lr, "%g", (double)c->min_lr);
    if (!code) code = differs(path, a, "--gamma", (float)a->gamma == c->gamma, "%g", (double)c->gamma);
    return code;
}

int resume_check_options(const char *path, train_args *a, const soma_checkpoint_info *info, const soma_mlp *model) {
    if (info->train.batch < 1) {
        fprintf(stderr, "soma train: %s holds no training run to resume (saved by a program, without its batch): "
                "start from its weights with --init\n", path);
        return 2;
    }
    const char *never[] = {"--init", "--weight-init"};
    for (int i = 0; i < 2; i++)
        if (train_args_given(a, never[i])) {
            fprintf(stderr, "soma train: %s and --resume: a resumed run continues with the weights of %s\n",
                    never[i], path);
            return 2;
        }
    int code = check_model(path, a, model);
    soma_loss loss = a->loss ? a->loss_kind : info->loss;
    if (!code) code = differs(path, a, "--loss", loss == info->loss, "%s", soma_loss_name(info->loss));
    if (!code) code = check_optimizer(path, a, info);
    if (!code) code = differs(path, a, "--seed", a->seed == info->train.seed, "%llu", (unsigned long long)info->train.seed);
    if (!code)
        code = differs(path, a, "--no-shuffle", info->train.no_shuffle, "%s", "shuffled batches");
    if (!code && info->has_val_split) {
        code = differs(path, a, "--val-split", a->val_split == info->val_split, "%g", info->val_split);
        a->val_split = info->val_split;
    }
    if (code) return code;
    if (a->patience > 0 && a->val_split == 0) {
        fprintf(stderr, "soma train: --patience needs validation data, and the run of %s has none\n", path);
        return 2;
    }
    int done = info->state.epochs_done;
    if (!train_args_given(a, "--epochs")) a->epochs = info->train.epochs;
    if (a->epochs <= done) {
        if (train_args_given(a, "--epochs"))
            fprintf(stderr, "soma train: %s has already trained %d epochs: --epochs %lld leaves nothing to train\n",
                    path, done, (long long)a->epochs);
        else
            fprintf(stderr, "soma train: %s has trained all its %d epochs: give --epochs N (more than %d) to train "
                    "further\n", path, done, done);
        return 2;
    }
    return 0;
}

int resume_check_data(const char *path, const train_args *a, const soma_checkpoint_info *info, int64_t rows,
                      soma_norm_kind auto_norm) {
    int64_t batch = a->batch < rows ? a->batch : rows, spe = steps_per_epoch(info, rows);
    int code = differs(path, a, "--batch", batch == info->train.batch, "%lld", (long long)info->train.batch);
    soma_norm_kind norm = auto_norm;
    for (int k = 0; a->normalize && k < 3; k++)
        if (strcmp(a->normalize, norm_names[k]) == 0) norm = (soma_norm_kind)k;
    if (!code)
        code = differs(path, a, "--normalize", norm == info->normalizer.kind, "%s", norm_names[info->normalizer.kind]);
    /* --normalize-target: auto is what the file did; none or standardize must match it */
    int target_std = info->target_normalizer.kind == SOMA_NORM_STANDARDIZE;
    if (!code && a->normalize_target && strcmp(a->normalize_target, "auto") != 0)
        code = differs(path, a, "--normalize-target", (strcmp(a->normalize_target, "standardize") == 0) == target_std,
                       "%s", target_std ? "standardize" : "none");
    if (!code && info->has_optimizer)
        code = differs(path, a, "--step-size", a->step_size * spe == info->optim.step_size, "%lld epochs",
                       (long long)(info->optim.step_size / spe));
    if (code) return code;
    int64_t steps = (int64_t)info->state.epochs_done * spe + info->state.steps_in_epoch;
    if (info->has_optimizer && (info->steps != steps || info->state.steps_in_epoch >= spe)) {
        fprintf(stderr, "soma train: %s has done %lld steps in %d epochs and %lld steps, which does not fit this "
                "data's %lld steps per epoch (%lld training rows at batch %lld): resume with the data and "
                "--val-split of the saved run\n", path, (long long)info->steps, info->state.epochs_done,
                (long long)info->state.steps_in_epoch, (long long)spe, (long long)rows,
                (long long)(info->train.batch < rows ? info->train.batch : rows));
        return 2;
    }
    return 0;
}

soma_optim_config resume_optimizer(const train_args *a, const soma_checkpoint_info *info, int64_t rows) {
    soma_optim_config c = info->optim;
    if (c.schedule == SOMA_SCHEDULE_COSINE) c.total_steps = a->epochs * steps_per_epoch(info, rows);
    return c;
}

void resume_describe(const char *path, const train_args *a, const soma_checkpoint_info *info, int64_t rows) {
    printf("resuming %s: %d epoch%s", path, info->state.epochs_done, info->state.epochs_done == 1 ? "" : "s");
    if (info->state.steps_in_epoch)
        printf(" and %lld step%s", (long long)info->state.steps_in_epoch, info->state.steps_in_epoch == 1 ? "" : "s");
    printf(" done (step %lld); training to epoch %lld", (long long)info->steps, (long long)a->epochs);
    if (info->has_optimizer && info->optim.schedule == SOMA_SCHEDULE_COSINE &&
        resume_optimizer(a, info, rows).total_steps != info->optim.total_steps)
        printf("; the cosine schedule is re-planned over %lld epochs (it was planned for %lld)", (long long)a->epochs,
               (long long)(info->optim.total_steps / steps_per_epoch(info, rows)));
    printf("\n");
}
