/* train_args.h: the options of `soma train`, parsed and checked without
 * touching any file or device (so a fuzzer can drive the parser alone). */
#ifndef SOMA_TOOLS_TRAIN_ARGS_H
#define SOMA_TOOLS_TRAIN_ARGS_H

#include <stdint.h>

#include "soma.h"

typedef struct train_args {
    const char *data, *layers, *act, *loss, *optim, *device, *save, *init, *resume, *log, *plot;
    const char *normalize, *schedule, *weight_init, *precision;
    const char *arch;                  /* --arch, as given */
    char arch_canonical[SOMA_ARCH_MAX]; /* ... checked, in canonical form (soma_arch_canonical) */
    int64_t arch_inputs;
    const char *normalize_target; /* auto, none or standardize: regression targets */
    double lr; /* used only when given (the default depends on --optim) */
    double val_split, dropout, weight_decay, momentum, clip, min_lr, gamma;
    int64_t batch, epochs, patience, warmup, step_size, save_every;
    int64_t log_every;   /* --log-every: steps between loss reads (0: once per epoch) */
    int64_t data_budget; /* --data-budget in MiB; -1: the default (half the free device memory) */
    uint64_t seed;
    int no_shuffle, nesterov, profile, no_graph;
    int quiet, json;  /* --quiet: nothing on standard output; --json: JSON lines there */
    int64_t threads; /* --threads (0: the default) */
    /* the names above, parsed */
    soma_activation act_kind;
    soma_optim_kind optim_kind;
    soma_schedule schedule_kind;
    soma_init init_kind;
    soma_loss loss_kind; /* when --loss is given */
    soma_precision precision_kind;
    /* --layers as numbers, inputs first; n_sizes is 0 for "auto" (the data decides) */
    int64_t sizes[SOMA_MAX_LAYERS + 1];
    int n_sizes;
    /* the options on the command line (string literals of the table), so that
     * a default is never taken for a choice: --lr's default depends on --optim,
     * and beside --resume only what was given is weighed */
    const char *given[64];
    int n_given;
} train_args;

extern const char *const train_synopsis;

/* Fills a from argv[1..argc). Returns 0 when the options are usable, -1
 * after printing --help, 2 after printing a one-line error naming the
 * option at fault. */
int train_args_parse(int argc, char **argv, train_args *a);

/* Whether the option (e.g. "--lr") was on the command line. */
int train_args_given(const train_args *a, const char *name);

/* --layers "784,256,10" -> sizes: 2 to SOMA_MAX_LAYERS + 1 sizes, each plain
 * decimal digits (no sign, blank or empty item) and at most INT32_MAX; "auto"
 * or NULL gives *n 0. Returns 0, or 2 after printing a one-line error. */
int train_layers_parse(const char *text, int64_t *sizes, int *n);

#endif
