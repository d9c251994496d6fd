/* fuzz_checkpoint_meta.c: a checkpoint's metadata as hostile input. The
 * input is text: lines "key=value" become the __metadata__ entries (every
 * value a string, as the format has it); lines "@NAME=ROWSxCOLS" or
 * "@NAME=N" replace the default tensors by tensors of those shapes (at most
 * 4096 floats each); after a NUL byte, the rest of the input gives the
 * tensors' float bits (cycled; without it they hold small finite values).
 * The default tensors are those of a 3 -> 4 -> 2 model with a normalizer and
 * Adam's state. The harness writes the file (soma_safetensors_write) and,
 * when the metadata says format soma.mlp.v2 and brings no checksum, signs it
 * as the format says (CRC-32 over the sorted metadata, then the sorted
 * tensors), so the fuzzer's changes reach every check behind the checksum:
 * ranges, the architecture against the shapes (before any allocation),
 * non-finite values, the normalizer, the optimizer state.
 * tests/corpus/checkpoint_meta holds the metadata soma writes, in this form.
 *
 * A checkpoint that loads must be sound: no more parameters than the file has
 * floats (nothing allocated from the metadata's word alone), a model whose
 * forward pass runs, ranges that hold, optimizer settings that
 * soma_optimizer_create accepts, finite weights and normalizer. */
#include "fuzz_util.h"

#include <math.h>

#include "io/crc32.h"
#include "io/safetensors.h"
#include "soma.h"

#define MAX_ENTRIES 64
#define MAX_TENSOR_FLOATS 4096

static fuzz_file file;
static soma_device *cpu;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_init_verbose();
    fuzz_file_open(&file, "checkpoint-meta.safetensors");
    FUZZ_CHECK(soma_device_open("cpu", &cpu) == SOMA_OK);
    return 0;
}

static const struct {
    const char *name;
    int rank;
    int64_t rows, cols;
} defaults[] = {
    {"layers.0.weight", 2, 4, 3}, {"layers.0.bias", 1, 4, 0}, {"layers.1.weight", 2, 2, 4}, {"layers.1.bias", 1, 2, 0},
    {"normalizer.offset", 1, 3, 0}, {"normalizer.scale", 1, 3, 0},
    {"optimizer.layers.0.weight.m", 2, 4, 3}, {"optimizer.layers.0.weight.v", 2, 4, 3},
    {"optimizer.layers.0.bias.m", 1, 4, 0}, {"optimizer.layers.0.bias.v", 1, 4, 0},
    {"optimizer.layers.1.weight.m", 2, 2, 4}, {"optimizer.layers.1.weight.v", 2, 2, 4},
    {"optimizer.layers.1.bias.m", 1, 2, 0}, {"optimizer.layers.1.bias.v", 1, 2, 0},
};

typedef struct built {
    soma_st_meta meta[MAX_ENTRIES + 1];
    int n_meta;
    soma_st_tensor tensors[MAX_ENTRIES];
    int n_tensors;
    char checksum[32];
} built;

static int by_key(const void *a, const void *b) {
    return strcmp((*(const soma_st_meta *const *)a)->key, (*(const soma_st_meta *const *)b)->key);
}

static int by_name(const void *a, const void *b) {
    return strcmp((*(const soma_st_tensor *const *)a)->name, (*(const soma_st_tensor *const *)b)->name);
}

/* The v2 checksum, computed here from the format's description (docs/checkpoints.md). */
static uint32_t sign(const built *b) {
    const soma_st_meta *keys[MAX_ENTRIES + 1];
    const soma_st_tensor *ts[MAX_ENTRIES];
    for (int i = 0; i < b->n_meta; i++) keys[i] = &b->meta[i];
    for (int i = 0; i < b->n_tensors; i++) ts[i] = &b->tensors[i];
    qsort(keys, (size_t)b->n_meta, sizeof *keys, by_key);
    qsort(ts, (size_t)b->n_tensors, sizeof *ts, by_name);
    uint32_t crc = 0;
    for (int i = 0; i < b->n_meta; i++) {
        crc = soma_crc32_update(crc, keys[i]->key, strlen(keys[i]->key) + 1);
        crc = soma_crc32_update(crc, keys[i]->value, strlen(keys[i]->value) + 1);
    }
    for (int i = 0; i < b->n_tensors; i++) {
        int64_t shape[2] = {ts[i]->shape[0], ts[i]->rank == 2 ? ts[i]->shape[1] : 1};
        crc = soma_crc32_update(crc, ts[i]->name, strlen(ts[i]->name) + 1);
        crc = soma_crc32_update(crc, shape, sizeof shape);
        crc = soma_crc32_update(crc, ts[i]->data, (size_t)(shape[0] * shape[1]) * sizeof(float));
    }
    return crc;
}

/* "4x3" or "4" -> a shape; 0 when malformed or too large. */
static int parse_shape(const char *s, soma_st_tensor *t) {
    char *end;
    long long rows = strtoll(s, &end, 10), cols = 1;
    t->rank = 1;
    if (*end == 'x') {
        cols = strtoll(end + 1, &end, 10);
        t->rank = 2;
    }
    if (*end || rows < 1 || cols < 1 || rows > MAX_TENSOR_FLOATS || cols > MAX_TENSOR_FLOATS ||
        rows * cols > MAX_TENSOR_FLOATS)
        return 0;
    t->shape[0] = rows;
    t->shape[1] = t->rank == 2 ? cols : 0;
    return 1;
}

static float value_of(const uint8_t *bits, size_t n_bits, size_t *at, int64_t k) {
    if (n_bits < 4) return 0.25f * (float)((k % 7) - 3);
    uint8_t b[4];
    for (int i = 0; i < 4; i++) b[i] = bits[(*at)++ % n_bits];
    float f;
    memcpy(&f, b, 4);
    return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t text_len = nul ? (size_t)(nul - data) : size;
    const uint8_t *bits = nul ? nul + 1 : NULL;
    size_t n_bits = nul ? size - text_len - 1 : 0, at = 0;
    char *text = malloc(text_len + 1);
    FUZZ_CHECK(text != NULL);
    memcpy(text, data, text_len);
    text[text_len] = '\0';

    built *b = calloc(1, sizeof *b);
    FUZZ_CHECK(b != NULL);
    int custom_tensors = 0, has_checksum = 0, v2 = 0;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = '\0';
        if (line[0] == '@' && b->n_tensors < MAX_ENTRIES) {
            soma_st_tensor t = {.name = line + 1};
            if (line[1] && parse_shape(eq + 1, &t)) {
                if (!custom_tensors) b->n_tensors = 0;
                custom_tensors = 1;
                b->tensors[b->n_tensors++] = t;
            }
        } else if (line[0] != '@' && b->n_meta < MAX_ENTRIES) {
            b->meta[b->n_meta++] = (soma_st_meta){line, eq + 1};
            has_checksum |= strcmp(line, "checksum") == 0;
            v2 |= strcmp(line, "format") == 0 && strcmp(eq + 1, "soma.mlp.v2") == 0;
        }
    }
    if (!custom_tensors)
        for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
            b->tensors[b->n_tensors++] = (soma_st_tensor){.name = defaults[i].name, .rank = defaults[i].rank,
                                                          .shape = {defaults[i].rows, defaults[i].cols}};
    int64_t file_floats = 0;
    for (int i = 0; i < b->n_tensors; i++) {
        soma_st_tensor *t = &b->tensors[i];
        int64_t n = t->shape[0] * (t->rank == 2 ? t->shape[1] : 1);
        t->data = malloc((size_t)n * sizeof(float));
        FUZZ_CHECK(t->data != NULL);
        for (int64_t k = 0; k < n; k++) t->data[k] = value_of(bits, n_bits, &at, k);
        file_floats += n;
    }
    if (v2 && !has_checksum) {
        snprintf(b->checksum, sizeof b->checksum, "crc32:%08x", (unsigned)sign(b));
        b->meta[b->n_meta++] = (soma_st_meta){"checksum", b->checksum};
    }
    soma_clear_error();
    soma_status written = soma_safetensors_write(file.path, b->tensors, b->n_tensors, b->meta, b->n_meta);
    if (written == SOMA_OK) {
        soma_mlp *model = (soma_mlp *)&model; /* must come back NULL on failure */
        soma_checkpoint_info info;
        soma_clear_error();
        soma_status status = soma_checkpoint_load(file.path, cpu, &model, &info);
        if (fuzz_outcome("checkpoint", status, model)) {
            /* nothing allocated on the metadata's word alone */
            FUZZ_CHECK(soma_mlp_parameter_count(model) <= file_floats);
            FUZZ_CHECK(soma_mlp_inputs(model) >= 1 && soma_mlp_outputs(model) >= 1);
            FUZZ_CHECK(info.state.epochs_done >= 0 && info.state.best_epoch >= 0 &&
                       info.state.best_epoch <= info.state.epochs_done && info.state.steps_in_epoch >= 0);
            FUZZ_CHECK(info.train.batch >= 0 && info.train.epochs >= 0 && info.train.patience >= 0);
            FUZZ_CHECK(soma_precision_name(info.train.precision) != NULL);
            FUZZ_CHECK(!(info.state.best_val_loss < 0) && !isnan(info.state.best_val_loss));
            FUZZ_CHECK(!info.has_val_split || (info.val_split >= 0 && info.val_split < 1));
            for (int64_t j = 0; j < info.normalizer.features; j++)
                FUZZ_CHECK(isfinite(info.normalizer.offset[j]) && isfinite(info.normalizer.scale[j]));
            soma_tensor *x = NULL;
            const soma_tensor *y = NULL;
            FUZZ_CHECK(soma_tensor_create(cpu, 1, soma_mlp_inputs(model), &x) == SOMA_OK);
            FUZZ_CHECK(soma_tensor_fill(x, 0.5f) == SOMA_OK);
            FUZZ_CHECK(soma_mlp_forward(model, x, 0, (soma_rng){0, 0}, &y) == SOMA_OK);
            soma_tensor_free(x);
            if (info.has_optimizer) {
                soma_optimizer *opt = NULL;
                /* the loader accepts only settings the optimizer accepts */
                FUZZ_CHECK(soma_optimizer_create(model, &info.optim, &opt) == SOMA_OK);
                soma_status st = soma_checkpoint_load_optimizer(file.path, opt);
                fuzz_report("optimizer state", st == SOMA_OK);
                if (st != SOMA_OK) FUZZ_CHECK(soma_last_error()[0] != '\0');
                soma_optimizer_free(opt);
            }
            soma_normalizer_free(&info.normalizer);
            soma_mlp_free(model);
        }
    } else {
        fuzz_report("write", 0); /* metadata the writer refuses (not UTF-8, a repeated key) */
    }
    for (int i = 0; i < b->n_tensors; i++) free(b->tensors[i].data);
    free(b);
    free(text);
    return 0;
}
