/* fuzz_npy.c: soma_dataset_load_npy and soma_dataset_load_npz on arbitrary
 * files.
 *
 * Input: a byte; even: an .npy pair (a 2-byte little-endian length n, then n
 * bytes of the features file, then the targets file; n beyond the input
 * takes all of it), odd: the rest is an .npz archive (keys x/y, else
 * arr_0/arr_1). tests/corpus/npy holds seeds in this form;
 * tests/corpus/make_seeds.py writes them. */
#include "fuzz_util.h"

#include <math.h>

#include "soma/data.h"
#include "soma/status.h"

static fuzz_file features, targets;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_init_verbose();
    fuzz_file_open(&features, "features-npy");
    fuzz_file_open(&targets, "targets-npy");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int archive = data[0] & 1;
    data++;
    size--;
    soma_dataset *ds = (soma_dataset *)&ds; /* must come back NULL on failure */
    soma_clear_error();
    soma_status status;
    size_t n = size;
    if (archive) {
        fuzz_file_write(&features, data, size);
        status = soma_dataset_load_npz(features.path, NULL, NULL, &ds);
    } else {
        n = 0;
        if (size >= 2) {
            n = (size_t)data[0] | (size_t)data[1] << 8;
            data += 2;
            size -= 2;
        }
        if (n > size) n = size;
        fuzz_file_write(&features, data, n);
        fuzz_file_write(&targets, data + n, size - n);
        status = soma_dataset_load_npy(features.path, targets.path, &ds);
    }
    if (!fuzz_outcome("npy", status, ds)) return 0;
    /* a dataset read: rows of features and targets, every value finite, and
     * no more elements than the input has bytes (1 byte a bool or uint8) */
    int64_t rows = soma_dataset_rows(ds), nx = soma_dataset_features(ds), ny = soma_dataset_targets(ds);
    FUZZ_CHECK(rows >= 1 && nx >= 1 && ny >= 1);
    FUZZ_CHECK((size_t)(rows * (nx + ny)) <= size);
    const float *x = soma_dataset_feature_data_const(ds), *y = soma_dataset_target_data_const(ds);
    for (int64_t i = 0; i < rows * nx; i++) FUZZ_CHECK(isfinite(x[i]));
    for (int64_t i = 0; i < rows * ny; i++) FUZZ_CHECK(isfinite(y[i]));
    soma_dataset_free(ds);
    return 0;
}
