/* fuzz_csv.c: soma_dataset_load_csv on arbitrary text, with options taken
 * from the first bytes of the input:
 *
 *   byte 0  header: 0, 1 or -1 (guess), as byte % 3 - 1
 *   byte 1  label_column: byte % 9 - 1 (-1 = the last, up to 7)
 *   byte 2  delimiter: below 0x80 one of 0 (','), ',', ';', tab, '|', ' ';
 *           0x80-0xBF the raw byte - 0x80 (controls, digits, quotes: most
 *           are refused); 0xC0 and up that byte itself
 *   byte 3  below 0x80: no label_name; else a label_name of (byte & 31)
 *           bytes, which follow
 *   rest    the file
 *
 * tests/corpus/csv's seeds start with such a 4-byte prefix. */
#include "fuzz_util.h"

#include <math.h>

#include "soma/data.h"
#include "soma/status.h"

static fuzz_file csv;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_init_verbose();
    fuzz_file_open(&csv, "data.csv");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return -1; /* not added to the corpus */
    static const char delimiters[6] = {0, ',', ';', '\t', '|', ' '};
    soma_csv_options o = {.header = data[0] % 3 - 1, .label_column = data[1] % 9 - 1};
    o.delimiter = data[2] < 0x80 ? delimiters[data[2] % 6] : data[2] < 0xC0 ? (char)(data[2] - 0x80) : (char)data[2];
    char name[32];
    int has_name = data[3] >= 0x80;
    size_t name_len = data[3] & 31u;
    data += 4;
    size -= 4;
    if (has_name) {
        if (name_len > size) name_len = size;
        memcpy(name, data, name_len);
        name[name_len] = '\0';
        o.label_name = name;
        data += name_len;
        size -= name_len;
    }
    fuzz_file_write(&csv, data, size);

    soma_dataset *ds = (soma_dataset *)&ds; /* must come back NULL on failure */
    soma_clear_error();
    soma_status status = soma_dataset_load_csv(csv.path, &o, &ds);
    if (!fuzz_outcome("csv", status, ds)) return 0;
    int64_t rows = soma_dataset_rows(ds), features = soma_dataset_features(ds);
    FUZZ_CHECK(rows >= 1 && features >= 1 && soma_dataset_targets(ds) == 1);
    FUZZ_CHECK((size_t)rows <= size && (size_t)features < size);
    const float *x = soma_dataset_feature_data_const(ds), *y = soma_dataset_target_data_const(ds);
    for (int64_t i = 0; i < rows * features; i++) FUZZ_CHECK(isfinite(x[i]));
    for (int64_t r = 0; r < rows; r++) FUZZ_CHECK(isfinite(y[r]));
    int64_t classes = soma_dataset_classes(ds);
    FUZZ_CHECK(classes >= 0 && classes <= 4096);
    soma_dataset_free(ds);
    return 0;
}
