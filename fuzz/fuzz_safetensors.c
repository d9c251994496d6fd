/* fuzz_safetensors.c: soma_safetensors_read (src/io/safetensors.c, with the
 * JSON reader of src/io/json.c under it) on arbitrary files. The input is
 * the file. On success every tensor is walked (name, rank, shape, every
 * float) and looked up by name, and the metadata keys a soma checkpoint
 * holds are looked up (safetensors.h has no way to list the keys). */
#include "fuzz_util.h"

#include "io/safetensors.h"
#include "soma/status.h"

static fuzz_file file;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_init_verbose();
    fuzz_file_open(&file, "model.safetensors");
    return 0;
}

/* Those src/io/checkpoint.c writes, and one no file has. */
static const char *const meta_keys[] = {"format", "inputs", "layers", "arch", "loss", "normalizer", "optim.kind",
                                        "train.epochs", "state.epochs_done", "", "no such key"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_file_write(&file, data, size);
    soma_st_file *f = (soma_st_file *)&f; /* must come back NULL on failure */
    soma_clear_error();
    soma_status status = soma_safetensors_read(file.path, &f);
    if (!fuzz_outcome("safetensors", status, f)) return 0;
    int n = soma_st_file_count(f);
    FUZZ_CHECK(n >= 0);
    uint64_t floats = 0;
    for (int i = 0; i < n; i++) {
        const soma_st_tensor *t = soma_st_file_tensor(f, i);
        FUZZ_CHECK(t != NULL && t->name != NULL);
        /* F32 of rank 1 or 2 (data), or I64 of rank 0 or 1 (ints: counters) */
        FUZZ_CHECK((t->data != NULL) != (t->ints != NULL));
        FUZZ_CHECK(t->data ? t->rank == 1 || t->rank == 2 : t->rank == 0 || t->rank == 1);
        FUZZ_CHECK(t->shape[0] >= 1 && (t->rank <= 1 ? t->shape[1] == 0 : t->shape[1] >= 1));
        int64_t count = t->shape[0] * (t->rank == 2 ? t->shape[1] : 1);
        FUZZ_CHECK(count <= (int64_t)(size / (t->ints ? 8 : 4)));
        if (t->data) fuzz_sink = fuzz_touch_floats(t->data, count);
        for (int64_t k = 0; t->ints && k < count; k++) fuzz_sink += (uint32_t)t->ints[k];
        floats += (uint64_t)count * (t->ints ? 2 : 1); /* in 4-byte words */
        /* names are unique, so the lookup finds this very tensor */
        FUZZ_CHECK(soma_st_file_find(f, t->name) == t);
        const char *value = soma_st_file_meta(f, t->name); /* a tensor name may be a metadata key too */
        if (value) fuzz_sink = (uint32_t)strlen(value);
    }
    FUZZ_CHECK(soma_st_file_tensor(f, n) == NULL && soma_st_file_tensor(f, -1) == NULL);
    FUZZ_CHECK(floats * 4 + 8 <= size); /* the tensors tile the data section */
    for (size_t k = 0; k < sizeof meta_keys / sizeof meta_keys[0]; k++) {
        const char *value = soma_st_file_meta(f, meta_keys[k]);
        if (value) fuzz_sink = (uint32_t)strlen(value);
    }
    soma_st_file_free(f);
    return 0;
}
