/* fuzz_idx.c: soma_dataset_load_idx on arbitrary image and label files.
 *
 * Input: a 2-byte little-endian length n, then n bytes of the images file,
 * then the labels file (the rest). n beyond the input takes all of it (the
 * labels file is then empty). tests/corpus/idx holds valid pairs in this
 * form; tests/corpus/make_seeds.py writes them. */
#include "fuzz_util.h"

#include "soma/data.h"
#include "soma/status.h"

static fuzz_file images, labels;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_init_verbose();
    fuzz_file_open(&images, "images-idx3-ubyte");
    fuzz_file_open(&labels, "labels-idx1-ubyte");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t n = 0;
    if (size >= 2) {
        n = (size_t)data[0] | (size_t)data[1] << 8;
        data += 2;
        size -= 2;
    }
    if (n > size) n = size;
    fuzz_file_write(&images, data, n);
    fuzz_file_write(&labels, data + n, size - n);

    soma_dataset *ds = (soma_dataset *)&ds; /* must come back NULL on failure */
    soma_clear_error();
    soma_status status = soma_dataset_load_idx(images.path, labels.path, &ds);
    if (!fuzz_outcome("idx", status, ds)) return 0;
    /* What a good pair must look like: rows images of `features` bytes after
     * a header of 4 + 4 * ndim bytes, one label byte per row. */
    int64_t rows = soma_dataset_rows(ds), features = soma_dataset_features(ds);
    FUZZ_CHECK(rows >= 1 && features >= 1 && soma_dataset_targets(ds) == 1);
    FUZZ_CHECK((size_t)rows + 8 == size - n);
    FUZZ_CHECK((size_t)(rows * features) < n);
    int64_t classes = soma_dataset_classes(ds);
    FUZZ_CHECK(classes >= 1 && classes <= 256);
    const float *x = soma_dataset_feature_data_const(ds), *y = soma_dataset_target_data_const(ds);
    for (int64_t i = 0; i < rows * features; i++) FUZZ_CHECK(x[i] >= 0 && x[i] <= 255);
    for (int64_t r = 0; r < rows; r++) FUZZ_CHECK(y[r] >= 0 && y[r] < (float)classes);
    soma_dataset_free(ds);
    return 0;
}
