/* fuzz_checkpoint.c: soma_checkpoint_load (src/io/checkpoint.c over the
 * safetensors reader) on arbitrary files, onto the CPU. The input is the
 * file. A checkpoint that loads must be whole: its model runs a forward pass
 * on its own input width, its weights load again into the model
 * (soma_checkpoint_load_weights), and when it holds optimizer state, an
 * optimizer made from its settings takes that state
 * (soma_checkpoint_load_optimizer). tests/corpus/checkpoint holds real
 * checkpoints, with and without their checksum: without one (a file another
 * tool wrote) the fuzzer's changes reach the checks behind it. */
#include "fuzz_util.h"

#include <math.h>

#include "soma.h"

static fuzz_file file;
static soma_device *cpu;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_init_verbose();
    fuzz_file_open(&file, "checkpoint.safetensors");
    FUZZ_CHECK(soma_device_open("cpu", &cpu) == SOMA_OK);
    return 0;
}

/* One forward pass over a row of zeros: every layer's shape must chain. */
static void forward_once(soma_mlp *m) {
    soma_tensor *x = NULL;
    FUZZ_CHECK(soma_tensor_create(cpu, 1, soma_mlp_inputs(m), &x) == SOMA_OK);
    FUZZ_CHECK(soma_tensor_fill(x, 0.0f) == SOMA_OK);
    soma_rng none = {0, 0};
    const soma_tensor *y = NULL;
    FUZZ_CHECK(soma_mlp_forward(m, x, 0, none, &y) == SOMA_OK);
    FUZZ_CHECK(y != NULL && soma_tensor_rows(y) == 1 && soma_tensor_cols(y) == soma_mlp_outputs(m));
    soma_tensor_free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_file_write(&file, data, size);
    soma_mlp *model = (soma_mlp *)&model; /* must come back NULL on failure */
    soma_checkpoint_info info;
    soma_clear_error();
    soma_status status = soma_checkpoint_load(file.path, cpu, &model, &info);
    if (!fuzz_outcome("checkpoint", status, model)) return 0;
    FUZZ_CHECK(soma_mlp_inputs(model) >= 1 && soma_mlp_outputs(model) >= 1);
    forward_once(model);
    FUZZ_CHECK(soma_checkpoint_load_weights(file.path, model) == SOMA_OK);
    if (info.has_optimizer) {
        soma_optimizer *opt = NULL;
        /* settings the file holds may be ones soma_optimizer_create refuses;
         * then it must say so, and there is no state to load */
        if (soma_optimizer_create(model, &info.optim, &opt) == SOMA_OK) {
            soma_status st = soma_checkpoint_load_optimizer(file.path, opt);
            fuzz_report("optimizer state", st == SOMA_OK);
            if (st != SOMA_OK) FUZZ_CHECK(soma_last_error()[0] != '\0');
            soma_optimizer_free(opt);
        } else {
            FUZZ_CHECK(opt == NULL && soma_last_error()[0] != '\0');
        }
    }
    soma_checkpoint_info_free(&info); /* the normalizer and the class names */
    soma_mlp_free(model);
    return 0;
}
