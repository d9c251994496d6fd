/* fuzz_train_args.c: `soma train`'s option parsing and checking
 * (tools/train_args.c over tools/options.c), --layers included, which
 * touches no file and no device. The input, split at NUL bytes, is argv[1..]; argv[0] is "train".
 * tests/corpus/train_args holds typical command lines in this form.
 *
 * The parser prints its errors on stderr and --help on stdout: both C
 * streams are pointed at /dev/null (glibc's stdout and stderr are plain
 * variables), while file descriptor 2, where libFuzzer and the sanitizers
 * report, stays open. */
#include "fuzz_util.h"

#include <math.h>

#include "train_args.h"

#define MAX_ARGS 128

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_init_verbose();
    if (fuzz_verbose) return 0; /* let the messages through */
    FILE *null = fopen("/dev/null", "w");
    FUZZ_CHECK(null != NULL);
    stdout = null;
    stderr = null;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* a copy with a NUL after the last argument */
    char *text = malloc(size + 1);
    FUZZ_CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = "train";
    for (size_t at = 0; at < size && argc <= MAX_ARGS; at += strlen(text + at) + 1) argv[argc++] = text + at;
    argv[argc] = NULL;

    train_args a;
    int code = train_args_parse(argc, argv, &a);
    if (fuzz_verbose) fprintf(stderr, "train_args_parse: %d\n", code);
    FUZZ_CHECK(code == 0 || code == -1 || code == 2);
    if (code == 0) {
        /* what train_args_parse promises when it accepts the options */
        FUZZ_CHECK(a.data != NULL);
        FUZZ_CHECK(a.batch >= 1 && a.epochs >= 1 && a.epochs <= 1000000);
        FUZZ_CHECK(a.val_split >= 0 && a.val_split < 1 && a.dropout >= 0 && a.dropout < 1);
        /* --lr: used only when given, and then > 0 (no in-band "default" value) */
        FUZZ_CHECK(!train_args_given(&a, "--lr") || a.lr > 0);
        /* an option of another optimizer or schedule is refused, not ignored */
        FUZZ_CHECK(a.resume || !train_args_given(&a, "--momentum") || a.optim_kind == SOMA_OPTIM_SGD);
        FUZZ_CHECK(a.resume || !train_args_given(&a, "--warmup") || a.schedule_kind == SOMA_SCHEDULE_COSINE);
        FUZZ_CHECK(isfinite(a.lr) && isfinite(a.min_lr) && isfinite(a.gamma) && isfinite(a.clip));
        /* every number becomes a float: none may overflow to inf there */
        FUZZ_CHECK(isfinite((float)a.lr) && isfinite((float)a.min_lr) && isfinite((float)a.gamma) &&
                   isfinite((float)a.clip) && isfinite((float)a.weight_decay));
        FUZZ_CHECK(a.min_lr >= 0 && a.gamma > 0);
        FUZZ_CHECK(a.weight_decay >= 0 && a.momentum >= 0 && a.momentum < 1 && a.clip >= 0);
        FUZZ_CHECK(a.patience >= 0 && a.warmup >= 0 && a.step_size >= 1 && a.save_every >= 0);
        /* train_cmd.c keeps patience in an int and multiplies step_size by the
         * steps per epoch: both must stay far from overflow */
        FUZZ_CHECK(a.patience <= 1000000 && a.step_size <= 1000000 && a.save_every <= 1000000);
        FUZZ_CHECK(a.patience == 0 || a.val_split > 0);
        FUZZ_CHECK(a.save_every == 0 || a.save != NULL);
        FUZZ_CHECK(a.act && a.optim && a.schedule && a.weight_init && a.device);
        /* --layers: "auto" (or absent), or 2 to SOMA_MAX_LAYERS + 1 sizes in [1, INT32_MAX] */
        FUZZ_CHECK(a.n_sizes == 0 || (a.n_sizes >= 2 && a.n_sizes <= SOMA_MAX_LAYERS + 1));
        FUZZ_CHECK(a.n_sizes > 0 || !a.layers || strcmp(a.layers, "auto") == 0);
        for (int i = 0; i < a.n_sizes; i++) FUZZ_CHECK(a.sizes[i] >= 1 && a.sizes[i] <= INT32_MAX);
        /* every string points into argv (or is a default) */
        const char *strings[] = {a.data, a.layers, a.loss, a.save, a.init, a.resume, a.log, a.normalize};
        for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
            FUZZ_CHECK(!strings[i] || ((uintptr_t)strings[i] >= (uintptr_t)text &&
                                       (uintptr_t)strings[i] <= (uintptr_t)(text + size)));
    }
    free(text);
    return 0;
}
