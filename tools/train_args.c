/* train_args.c: see train_args.h. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "options.h"
#include "train_args.h"

const char *const train_synopsis = "soma train --data mnist|csv:PATH[,label=COL]|idx:IMAGES,LABELS [options]";

int train_layers_parse(const char *text, int64_t *sizes, int *n) {
    *n = 0;
    if (!text || strcmp(text, "auto") == 0) return 0;
    for (const char *p = text;; p++) {
        int64_t v = 0;
        const char *start = p;
        for (; *p >= '0' && *p <= '9' && v <= INT32_MAX; p++) v = v * 10 + (*p - '0');
        if (p == start || v < 1 || v > INT32_MAX || (*p && *p != ',')) {
            fprintf(stderr, "soma train: --layers '%s' is not a list of sizes from 1 to %d like 784,256,10\n",
                    text, INT32_MAX);
            return 2;
        }
        if (*n == SOMA_MAX_LAYERS + 1) {
            fprintf(stderr, "soma train: --layers has more than %d sizes (%d layers)\n", SOMA_MAX_LAYERS + 1,
                    SOMA_MAX_LAYERS);
            return 2;
        }
        sizes[(*n)++] = v;
        if (!*p) break;
    }
    if (*n < 2) {
        fprintf(stderr, "soma train: --layers needs 2 to %d sizes, inputs first, got '%s'\n", SOMA_MAX_LAYERS + 1,
                text);
        return 2;
    }
    return 0;
}

int train_args_given(const train_args *a, const char *name) {
    for (int i = 0; i < a->n_given; i++)
        if (strcmp(a->given[i], name) == 0) return 1;
    return 0;
}

static int check_args(train_args *a) {
    const char *bad = NULL;
    if (soma_activation_parse(a->act, &a->act_kind) != SOMA_OK) bad = "--act";
    else if (soma_optim_parse(a->optim, &a->optim_kind) != SOMA_OK) bad = "--optim";
    else if (soma_schedule_parse(a->schedule, &a->schedule_kind) != SOMA_OK) bad = "--schedule";
    else if (soma_init_parse(a->weight_init, &a->init_kind) != SOMA_OK) bad = "--weight-init";
    else if (a->loss && soma_loss_parse(a->loss, &a->loss_kind) != SOMA_OK) bad = "--loss";
    else if (soma_precision_parse(a->precision, &a->precision_kind) != SOMA_OK) bad = "--precision";
    if (bad) {
        fprintf(stderr, "soma train: %s: %s\n", bad, soma_last_error());
        return 2;
    }
    const char *range = a->batch < 1 ? "--batch must be >= 1"
                        : a->epochs < 1 || a->epochs > 1000000 ? "--epochs must be in [1, 1000000]"
                        : !(a->val_split >= 0 && a->val_split < 1) ? "--val-split must be in [0, 1)"
                        : !(a->dropout >= 0 && a->dropout < 1) ? "--dropout must be in [0, 1)"
                        : train_args_given(a, "--lr") && !(a->lr > 0) ? "--lr must be > 0"
                        : !(a->min_lr >= 0) ? "--min-lr must be >= 0"
                        : !(a->gamma > 0) ? "--gamma must be > 0"
                        : !(a->weight_decay >= 0) ? "--weight-decay must be >= 0"
                        : !(a->momentum >= 0 && a->momentum < 1) ? "--momentum must be in [0, 1)"
                        : !(a->clip >= 0) ? "--clip must be >= 0"
                        : a->patience < 0 || a->patience > 1000000 ? "--patience must be in [0, 1000000]"
                        : a->warmup < 0 ? "--warmup must be >= 0"
                        /* bounded like --epochs: the training code multiplies it by the
                         * steps per epoch (int64) and keeps patience in an int */
                        : a->step_size < 1 || a->step_size > 1000000 ? "--step-size must be in [1, 1000000]"
                        : a->save_every < 0 || a->save_every > 1000000 ? "--save-every must be in [0, 1000000]"
                        : a->log_every < 0 ? "--log-every must be >= 0"
                        : a->data_budget < -1 || a->data_budget > ((int64_t)1 << 40)
                            ? "--data-budget must be a size in MiB from 0 (never) to 2^40"
                        : NULL;
    if (range) {
        fprintf(stderr, "soma train: %s\n", range);
        return 2;
    }
    if (a->patience > 0 && a->val_split == 0) {
        fprintf(stderr, "soma train: --patience needs validation data (--val-split > 0)\n");
        return 2;
    }
    /* an option of another optimizer or schedule would be ignored without a word
     * (beside --resume the checkpoint's settings are weighed instead: train_resume.c) */
    static const struct {
        const char *option, *applies;
        int kind; /* of optim (sgd) or of schedule */
        int is_schedule;
    } only_for[] = {{"--momentum", "--optim sgd", SOMA_OPTIM_SGD, 0}, {"--nesterov", "--optim sgd", SOMA_OPTIM_SGD, 0},
                    {"--step-size", "--schedule step", SOMA_SCHEDULE_STEP, 1},
                    {"--gamma", "--schedule step", SOMA_SCHEDULE_STEP, 1},
                    {"--warmup", "--schedule cosine", SOMA_SCHEDULE_COSINE, 1},
                    {"--min-lr", "--schedule cosine", SOMA_SCHEDULE_COSINE, 1}};
    for (size_t i = 0; !a->resume && i < sizeof only_for / sizeof only_for[0]; i++) {
        int kind = only_for[i].is_schedule ? (int)a->schedule_kind : (int)a->optim_kind;
        if (train_args_given(a, only_for[i].option) && kind != only_for[i].kind) {
            fprintf(stderr, "soma train: %s applies only to %s\n", only_for[i].option, only_for[i].applies);
            return 2;
        }
    }
    if (a->quiet && a->json) {
        fprintf(stderr, "soma train: --quiet and --json contradict each other (--json alone keeps stdout machine-readable)\n");
        return 2;
    }
    if (a->threads < 0 || a->threads > 4096 || (train_args_given(a, "--threads") && a->threads == 0)) {
        fprintf(stderr, "soma train: --threads must be in [1, 4096]\n");
        return 2;
    }
    if (a->save_every > 0 && !a->save) {
        fprintf(stderr, "soma train: --save-every needs --save\n");
        return 2;
    }
    if (!a->data) {
        fprintf(stderr, "soma train: --data is required (%s)\n", train_synopsis);
        return 2;
    }
    if (a->arch) {
        /* one description of the model: --layers/--act/--dropout are the
         * shorthand for a plain MLP, and half of each would be ambiguous */
        const char *also = train_args_given(a, "--layers") ? "--layers"
                           : train_args_given(a, "--act")  ? "--act"
                           : train_args_given(a, "--dropout") ? "--dropout"
                                                              : NULL;
        if (also) {
            fprintf(stderr, "soma train: --arch describes the whole model (layers, activations, dropout): give it "
                            "without %s\n", also);
            return 2;
        }
        if (soma_arch_canonical(a->arch, a->arch_canonical, sizeof a->arch_canonical, &a->arch_inputs) != SOMA_OK) {
            fprintf(stderr, "soma train: --arch: %s\n", soma_last_error());
            return 2;
        }
    }
    return train_layers_parse(a->layers, a->sizes, &a->n_sizes);
}

int train_args_parse(int argc, char **argv, train_args *a) {
    /* Defaults chosen so that `soma train --data mnist` alone reaches 98% test
     * accuracy (98.2-98.4% over seeds 1-4 on the CPU, bench/RESULTS.md). */
    *a = (train_args){.act = "relu", .optim = "adam", .device = "auto", .schedule = "cosine",
                      .weight_init = "auto", .precision = "fp32", .val_split = 0.1, .dropout = 0.1,
                      .momentum = 0.9, .gamma = 0.1, .batch = 128, .epochs = 15, .step_size = 1,
                      .seed = 1, .data_budget = -1};
    const option opts[] = {
        {"--data", OPT_STRING, &a->data, "mnist, csv:PATH[,label=COL], idx:IMAGES,LABELS, npy:X,Y or npz:PATH"},
        {"--layers", OPT_STRING, &a->layers, "sizes, inputs first: 784,256,128,10 (default: features,256,128,outputs)"},
        {"--arch", OPT_STRING, &a->arch,
         "the model in one line, inputs first: 784,dense:256,batchnorm:relu,res:256:relu,dense:10 (docs/models.md)"},
        {"--act", OPT_STRING, &a->act, "hidden activation: relu, leaky_relu, sigmoid, tanh, gelu, gelu_tanh, silu (relu)"},
        {"--loss", OPT_STRING, &a->loss, "xent, mse or bce (xent for class targets, else mse)"},
        {"--optim", OPT_STRING, &a->optim, "sgd, adam or adamw (adam)"},
        {"--lr", OPT_FLOAT, &a->lr, "learning rate (1e-3 for adam/adamw, 0.01 for sgd)"},
        {"--momentum", OPT_FLOAT, &a->momentum, "SGD momentum (0.9)"},
        {"--nesterov", OPT_FLAG, &a->nesterov, "SGD with Nesterov momentum"},
        {"--weight-decay", OPT_FLOAT, &a->weight_decay, "L2 for sgd/adam, decoupled for adamw (0)"},
        {"--clip", OPT_FLOAT, &a->clip, "clip the global gradient norm to this (off)"},
        {"--schedule", OPT_STRING, &a->schedule, "constant, step or cosine (cosine: from --lr to --min-lr over all epochs)"},
        {"--warmup", OPT_INT, &a->warmup, "cosine: warm-up steps (0)"},
        {"--min-lr", OPT_FLOAT, &a->min_lr, "cosine: final learning rate (0)"},
        {"--step-size", OPT_INT, &a->step_size, "step: epochs between decays (1)"},
        {"--gamma", OPT_FLOAT, &a->gamma, "step: decay factor (0.1)"},
        {"--batch", OPT_INT, &a->batch, "rows per step (128)"},
        {"--epochs", OPT_INT, &a->epochs, "total epochs (15)"},
        {"--device", OPT_STRING, &a->device, "auto, cpu, cuda or cuda:N (auto)"},
        {"--precision", OPT_STRING, &a->precision, "GEMM operands: fp32, tf32 or bf16 (fp32)"},
        {"--seed", OPT_U64, &a->seed, "seed of weights, shuffling, dropout and the split (1)"},
        {"--no-shuffle", OPT_FLAG, &a->no_shuffle, "keep the data order"},
        {"--val-split", OPT_FLOAT, &a->val_split, "fraction held out for validation (0.1)"},
        {"--dropout", OPT_FLOAT, &a->dropout, "dropout after each hidden layer (0.1)"},
        {"--patience", OPT_INT, &a->patience, "stop after N epochs without a better val loss; keep the best (off)"},
        {"--normalize", OPT_STRING, &a->normalize, "auto, none, scale01 or standardize (auto)"},
        {"--normalize-target", OPT_STRING, &a->normalize_target,
         "regression targets: auto, none or standardize (auto: standardize for mse)"},
        {"--weight-init", OPT_STRING, &a->weight_init, "auto, xavier_uniform, xavier_normal, he_uniform, he_normal"},
        {"--init", OPT_STRING, &a->init, "start from this checkpoint's weights"},
        {"--resume", OPT_STRING, &a->resume, "continue the run saved in this checkpoint"},
        {"--save", OPT_STRING, &a->save, "write the trained model here (safetensors, crash-safe)"},
        {"--save-every", OPT_INT, &a->save_every, "also save to --save every N epochs during training (off)"},
        {"--log", OPT_STRING, &a->log, "write per-epoch metrics to this CSV file"},
        {"--plot", OPT_STRING, &a->plot, "draw loss and accuracy per epoch into this .svg, .png or .pdf"},
        {"--profile", OPT_FLAG, &a->profile, "print where each epoch's time went (GEMMs, dropout, data, ...)"},
        {"--log-every", OPT_INT, &a->log_every, "also print the loss every N steps (each read waits for the GPU) (off)"},
        {"--no-graph", OPT_FLAG, &a->no_graph, "cuda: queue each step's ops instead of replaying one recorded step"},
        {"--data-budget", OPT_INT, &a->data_budget,
         "cuda: MiB of device memory the training data may take to stay there; 0: never (half the free memory)"},
        {"--quiet", OPT_FLAG, &a->quiet, "print nothing but errors and warnings (no progress, no epochs)"},
        {"--json", OPT_FLAG, &a->json, "standard output as JSON lines: one per epoch, then the result"},
        {"--threads", OPT_INT, &a->threads, "CPU threads (default: OMP_NUM_THREADS, else one per core)"},
    };
    enum { N_OPTS = sizeof opts / sizeof opts[0] };
    _Static_assert(N_OPTS <= sizeof a->given / sizeof a->given[0], "train_args.given is too small");
    unsigned char given[N_OPTS];
    int code = options_parse("train", train_synopsis, argc, argv, opts, N_OPTS, given);
    if (code) return code;
    for (int k = 0; k < N_OPTS; k++)
        if (given[k]) a->given[a->n_given++] = opts[k].name;
    return check_args(a);
}
