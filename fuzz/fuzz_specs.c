/* fuzz_specs.c: the CLI's spec parsers, which touch no file: --data
 * (tools/data_spec.c: mnist, csv:PATH[,label=COL][,sep=C], idx:IMAGES,LABELS,
 * npy:X,Y, npz:PATH) and
 * --layers (tools/train_args.c: sizes, inputs first). The input's first byte
 * picks the parser (even: --data, odd: --layers); the rest, up to a NUL, is
 * the argument. tests/corpus/specs holds typical ones in this form.
 *
 * Promises checked: the only outcomes are accepted (0) or bad usage (2), with
 * a message; an accepted --data keeps every path whole (no length limit: the
 * pieces put together again give the argument back) and lists its files; an
 * accepted --layers has 2 to 33 sizes in [1, INT32_MAX] that, written out
 * again, give the argument back. Messages go to /dev/null (as in
 * fuzz_train_args.c). */
#include "fuzz_util.h"

#include "data_spec.h"
#include "train_args.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fuzz_init_verbose();
    if (fuzz_verbose) return 0;
    FILE *null = fopen("/dev/null", "w");
    FUZZ_CHECK(null != NULL);
    stdout = null;
    stderr = null;
    return 0;
}

static void check_data(const char *text) {
    data_spec s;
    int code = data_spec_parse("fuzz", text, &s);
    if (fuzz_verbose) fprintf(stderr, "data_spec_parse: %d\n", code);
    FUZZ_CHECK(code == 0 || code == 2);
    if (code) return;
    size_t len = strlen(text);
    char *again = malloc(len + 1), *other = malloc(len + 1);
    FUZZ_CHECK(again != NULL && other != NULL);
    other[0] = '\0'; /* csv with both options: either order gives the argument back */
    switch (s.kind) {
    case DATA_MNIST: snprintf(again, len + 1, "mnist"); break;
    case DATA_CSV:
        FUZZ_CHECK(s.path && s.path[0] && !s.labels);
        FUZZ_CHECK(s.csv.label_column >= -1 && (!s.csv.label_name || s.csv.label_column == -1));
        if (s.csv.delimiter) { /* tab is "tab" or the character itself */
            char sep[4];
            int matched = 0;
            for (int v = 0; v < (s.csv.delimiter == '\t' ? 2 : 1) && !matched; v++) {
                snprintf(sep, sizeof sep, "%s", v == 0 && s.csv.delimiter == '\t' ? "tab" : (char[]){s.csv.delimiter, 0});
                if (s.label) {
                    snprintf(again, len + 1, "csv:%s,label=%s,sep=%s", s.path, s.label, sep);
                    snprintf(other, len + 1, "csv:%s,sep=%s,label=%s", s.path, sep, s.label);
                } else {
                    snprintf(again, len + 1, "csv:%s,sep=%s", s.path, sep);
                }
                matched = strcmp(again, text) == 0 || strcmp(other, text) == 0;
            }
        } else if (s.label) {
            snprintf(again, len + 1, "csv:%s,label=%s", s.path, s.label);
        } else {
            snprintf(again, len + 1, "csv:%s", s.path);
        }
        break;
    case DATA_IDX:
    case DATA_NPY:
        FUZZ_CHECK(s.path && s.path[0] && s.labels && s.labels[0]);
        snprintf(again, len + 1, "%s:%s,%s", s.kind == DATA_IDX ? "idx" : "npy", s.path, s.labels);
        break;
    case DATA_NPZ:
        FUZZ_CHECK(s.path && s.path[0] && !s.labels);
        snprintf(again, len + 1, "npz:%s", s.path);
        break;
    default: FUZZ_CHECK(!"a data kind");
    }
    FUZZ_CHECK(strcmp(again, text) == 0 || strcmp(other, text) == 0);
    char *files[2];
    int n = data_spec_files(&s, DATA_TRAIN, files);
    FUZZ_CHECK(n == (s.kind == DATA_CSV || s.kind == DATA_NPZ ? 1 : 2));
    for (int i = 0; i < n; i++) {
        FUZZ_CHECK(files[i][0] != '\0');
        free(files[i]);
    }
    free(again);
    free(other);
    data_spec_free(&s);
}

static void check_layers(const char *text) {
    int64_t sizes[SOMA_MAX_LAYERS + 1];
    int n = -1;
    int code = train_layers_parse(text, sizes, &n);
    if (fuzz_verbose) fprintf(stderr, "train_layers_parse: %d\n", code);
    FUZZ_CHECK(code == 0 || code == 2);
    if (code) return;
    if (strcmp(text, "auto") == 0) {
        FUZZ_CHECK(n == 0);
        return;
    }
    FUZZ_CHECK(n >= 2 && n <= SOMA_MAX_LAYERS + 1);
    char again[(SOMA_MAX_LAYERS + 1) * 12];
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        FUZZ_CHECK(sizes[i] >= 1 && sizes[i] <= INT32_MAX);
        used += (size_t)snprintf(again + used, sizeof again - used, "%s%lld", i ? "," : "", (long long)sizes[i]);
    }
    /* plain decimal digits only: leading zeros are the one spelling that does not come back */
    if (!strstr(text, ",0") && text[0] != '0') FUZZ_CHECK(strcmp(again, text) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char *text = malloc(size);
    FUZZ_CHECK(text != NULL);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0'; /* up to the first NUL */
    if (data[0] % 2 == 0) check_data(text);
    else check_layers(text);
    free(text);
    return 0;
}
