/* test_npy.c: the .npy and .npz readers (src/data/npy.c) on files written
 * byte by byte here, as NumPy lays them out: dtypes, byte orders, versions,
 * shapes of 1 to 3 dimensions, 7 and 129 rows; and every refusal, with a
 * piece of its message. (tests/npy_numpy_test.py reads files NumPy itself
 * wrote.) */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "soma/data.h"
#include "test_util.h"

static char tmp_dir[512];

static void make_tmp_dir(void) {
    const char *base = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/soma_test_npy_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp_dir)) {
        perror("test_npy: mkdtemp");
        exit(EXIT_FAILURE);
    }
}

static void remove_tmp_dir(void) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    if (system(cmd) != 0) fprintf(stderr, "test_npy: could not remove %s\n", tmp_dir);
}

static const char *tmp_path(const char *name) {
    static char paths[4][1024];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, sizeof paths[0], "%s/%s", tmp_dir, name);
    return p;
}

static const char *write_bytes(const char *name, const void *data, size_t n) {
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

/* An .npy image: magic, version, header (dict, padded with blanks and a
 * newline to a multiple of 64 bytes as NumPy does), then data. */
typedef struct bytes {
    unsigned char *data;
    size_t len;
} bytes;

static bytes npy(int major, const char *descr, const char *fortran, const char *shape, const void *data,
                 size_t data_len) {
    char dict[256];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr, fortran, shape);
    size_t prefix = major == 1 ? 10 : 12, header = (size_t)n + 1;
    header += (64 - (prefix + header) % 64) % 64;
    bytes b = {malloc(prefix + header + data_len), prefix + header + data_len};
    ck_assert_ptr_nonnull(b.data);
    memcpy(b.data, "\x93NUMPY", 6);
    b.data[6] = (unsigned char)major;
    b.data[7] = 0;
    for (size_t i = 0; i < (major == 1 ? 2u : 4u); i++) b.data[8 + i] = (unsigned char)(header >> (8 * i));
    memset(b.data + prefix, ' ', header);
    memcpy(b.data + prefix, dict, (size_t)n);
    b.data[prefix + header - 1] = '\n';
    if (data_len) memcpy(b.data + prefix + header, data, data_len);
    return b;
}

static const char *write_npy(const char *name, bytes b) {
    const char *path = write_bytes(name, b.data, b.len);
    free(b.data);
    return path;
}

static void put16(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
static void put32(unsigned char *p, uint32_t v) {
    put16(p, v & 0xFFFF);
    put16(p + 2, v >> 16);
}

/* A ZIP archive of stored members (method 0 unless given), as np.savez writes. */
static const char *write_zip(const char *name, int n, const char *const *names, const bytes *members, int method) {
    size_t cap = 22;
    for (int i = 0; i < n; i++) cap += 30 + 46 + 2 * strlen(names[i]) + members[i].len;
    unsigned char *z = calloc(1, cap), *p = z;
    uint32_t offsets[8];
    for (int i = 0; i < n; i++) {
        size_t nl = strlen(names[i]);
        offsets[i] = (uint32_t)(p - z);
        put32(p, 0x04034b50);
        put16(p + 8, (uint32_t)method);
        put32(p + 18, (uint32_t)members[i].len);
        put32(p + 22, (uint32_t)members[i].len);
        put16(p + 26, (uint32_t)nl);
        memcpy(p + 30, names[i], nl);
        memcpy(p + 30 + nl, members[i].data, members[i].len);
        p += 30 + nl + members[i].len;
    }
    unsigned char *cd = p;
    for (int i = 0; i < n; i++) {
        size_t nl = strlen(names[i]);
        put32(p, 0x02014b50);
        put16(p + 10, (uint32_t)method);
        put32(p + 20, (uint32_t)members[i].len);
        put32(p + 24, (uint32_t)members[i].len);
        put16(p + 28, (uint32_t)nl);
        put32(p + 42, offsets[i]);
        memcpy(p + 46, names[i], nl);
        p += 46 + nl;
    }
    put32(p, 0x06054b50);
    put16(p + 8, (uint32_t)n);
    put16(p + 10, (uint32_t)n);
    put32(p + 12, (uint32_t)(p - cd));
    put32(p + 16, (uint32_t)(cd - z));
    p += 22;
    const char *path = write_bytes(name, z, (size_t)(p - z));
    free(z);
    return path;
}

/* 7 rows of 3 float32 features x[i][j] = i - j / 4, labels i % 3 as int64 */
static float feature(int i, int j) { return (float)i - (float)j / 4.0f; }

START_TEST(npy_round_trip) {
    float x[7][3];
    int64_t y[7];
    for (int i = 0; i < 7; i++) {
        for (int j = 0; j < 3; j++) x[i][j] = feature(i, j);
        y[i] = i % 3;
    }
    const char *xp = write_npy("x.npy", npy(1, "<f4", "False", "(7, 3)", x, sizeof x));
    char xpath[1024];
    snprintf(xpath, sizeof xpath, "%s", xp);
    const char *yp = write_npy("y.npy", npy(1, "<i8", "False", "(7,)", y, sizeof y));
    soma_dataset *ds = NULL;
    ck_soma(soma_dataset_load_npy(xpath, yp, &ds));
    ck_assert_int_eq(soma_dataset_rows(ds), 7);
    ck_assert_int_eq(soma_dataset_features(ds), 3);
    ck_assert_int_eq(soma_dataset_targets(ds), 1);
    ck_assert_int_eq(soma_dataset_classes(ds), 3);
    for (int i = 0; i < 21; i++) ck_assert_float_eq(soma_dataset_feature_data(ds)[i], feature(i / 3, i % 3));
    for (int i = 0; i < 7; i++) ck_assert_float_eq(soma_dataset_target_data(ds)[i], (float)(i % 3));
    soma_dataset_free(ds);

    /* big-endian float64, version 2.0; uint8 images of 129 x 2 x 5 flatten to
     * 10 features; bool labels; (rows, 2) float targets: two target columns */
    unsigned char be[7 * 2][8], img[129 * 10], flags[129];
    for (int i = 0; i < 14; i++) {
        double v = -1.5 * i + 0.125;
        uint64_t u;
        memcpy(&u, &v, 8);
        for (int b = 0; b < 8; b++) be[i][b] = (unsigned char)(u >> (56 - 8 * b));
    }
    for (int i = 0; i < 129 * 10; i++) img[i] = (unsigned char)(i * 37);
    for (int i = 0; i < 129; i++) flags[i] = (unsigned char)(i % 2);
    snprintf(xpath, sizeof xpath, "%s", write_npy("img.npy", npy(1, "|u1", "False", "(129, 2, 5)", img, sizeof img)));
    ck_soma(soma_dataset_load_npy(xpath, write_npy("flags.npy", npy(1, "|b1", "False", "(129,)", flags, 129)), &ds));
    ck_assert_int_eq(soma_dataset_rows(ds), 129);
    ck_assert_int_eq(soma_dataset_features(ds), 10);
    for (int i = 0; i < 129 * 10; i++) ck_assert_float_eq(soma_dataset_feature_data(ds)[i], (float)img[i]);
    for (int i = 0; i < 129; i++) ck_assert_float_eq(soma_dataset_target_data(ds)[i], (float)(i % 2));
    soma_dataset_free(ds);

    int16_t small[7];
    for (int i = 0; i < 7; i++) small[i] = (int16_t)(-300 * i);
    snprintf(xpath, sizeof xpath, "%s", write_npy("s.npy", npy(2, "<i2", "False", "(7,)", small, sizeof small)));
    ck_soma(soma_dataset_load_npy(xpath, write_npy("be.npy", npy(2, ">f8", "False", "(7, 2)", be, sizeof be)), &ds));
    ck_assert_int_eq(soma_dataset_features(ds), 1); /* 1-D features: one a row */
    ck_assert_int_eq(soma_dataset_targets(ds), 2);
    for (int i = 0; i < 7; i++) ck_assert_float_eq(soma_dataset_feature_data(ds)[i], (float)(-300 * i));
    for (int i = 0; i < 14; i++) ck_assert_float_eq(soma_dataset_target_data(ds)[i], (float)(-1.5 * i + 0.125));
    soma_dataset_free(ds);
}
END_TEST

START_TEST(npy_refuses_what_it_cannot_read) {
    float x[7][3] = {{0}};
    int64_t y[7] = {0};
    char good_x[1024], good_y[1024];
    snprintf(good_x, sizeof good_x, "%s", write_npy("gx.npy", npy(1, "<f4", "False", "(7, 3)", x, sizeof x)));
    snprintf(good_y, sizeof good_y, "%s", write_npy("gy.npy", npy(1, "<i8", "False", "(7,)", y, sizeof y)));
    soma_dataset *ds = (soma_dataset *)&ds;
#define REFUSED_X(file, status, ...)                                                                            \
    do {                                                                                                        \
        ck_fails(soma_dataset_load_npy(file, good_y, &ds), status, __VA_ARGS__);                                \
        ck_assert_ptr_null(ds);                                                                                 \
    } while (0)
    REFUSED_X(write_bytes("magic.npy", "\x93NUMPX\x01\x00\x10\x00{}", 12), SOMA_ERR_FORMAT, "magic");
    REFUSED_X(write_bytes("short.npy", "\x93NUM", 5), SOMA_ERR_FORMAT, "too short");
    bytes v4 = npy(1, "<f4", "False", "(7, 3)", x, sizeof x);
    v4.data[6] = 4;
    REFUSED_X(write_npy("v4b.npy", v4), SOMA_ERR_UNSUPPORTED, "version 4.0");
    REFUSED_X(write_npy("trunc.npy", npy(1, "<f4", "False", "(7, 3)", x, sizeof x - 4)), SOMA_ERR_FORMAT,
              "needs 84 bytes of data, the file has 80 (truncated?)");
    REFUSED_X(write_npy("extra.npy", npy(1, "<f4", "False", "(6, 3)", x, sizeof x)), SOMA_ERR_FORMAT,
              "needs 72 bytes of data, the file has 84");
    REFUSED_X(write_npy("fortran.npy", npy(1, "<f4", "True", "(7, 3)", x, sizeof x)), SOMA_ERR_UNSUPPORTED,
              "Fortran", "np.ascontiguousarray");
    REFUSED_X(write_npy("str.npy", npy(1, "<U3", "False", "(7,)", x, 84)), SOMA_ERR_UNSUPPORTED, "dtype");
    REFUSED_X(write_npy("cplx.npy", npy(1, "<c8", "False", "(7,)", x, 56)), SOMA_ERR_UNSUPPORTED, "'<c8'");
    REFUSED_X(write_npy("scalar.npy", npy(1, "<f4", "False", "()", x, 4)), SOMA_ERR_FORMAT, "scalar");
    REFUSED_X(write_npy("empty.npy", npy(1, "<f4", "False", "(0, 3)", x, 0)), SOMA_ERR_FORMAT, "no elements");
    REFUSED_X(write_npy("huge.npy", npy(1, "<f4", "False", "(4294967296, 4294967296)", x, 4)), SOMA_ERR_FORMAT,
              "overflows");
    REFUSED_X(write_npy("rows.npy", npy(1, "<f4", "False", "(6, 3)", x, 72)), SOMA_ERR_SHAPE, "has 6 rows",
              "has 7");
    bytes noshape = npy(1, "<f4", "False", "(7, 3)", x, sizeof x);
    memcpy(strstr((char *)noshape.data + 10, "'shape'"), "'shapx'", 7);
    REFUSED_X(write_npy("noshape.npy", noshape), SOMA_ERR_FORMAT, "lacks 'shape'");
    bytes longhdr = npy(1, "<f4", "False", "(7, 3)", x, sizeof x);
    longhdr.data[8] = 0xFF;
    longhdr.data[9] = 0xFF;
    REFUSED_X(write_npy("longhdr.npy", longhdr), SOMA_ERR_FORMAT, "truncated or corrupt");
    x[5][2] = NAN;
    REFUSED_X(write_npy("nan.npy", npy(1, "<f4", "False", "(7, 3)", x, sizeof x)), SOMA_ERR_NUMERIC,
              "row 5, column 2 of the features");
    double big[7] = {0, 0, 0, 1e39};
    REFUSED_X(write_npy("big.npy", npy(1, "<f8", "False", "(7,)", big, sizeof big)), SOMA_ERR_NUMERIC, "row 3");
    REFUSED_X(tmp_path("missing.npy"), SOMA_ERR_IO, "missing.npy");
    ck_fails(soma_dataset_load_npy(good_x, write_npy("y3.npy", npy(1, "<f4", "False", "(7, 1, 1)", x, 28)), &ds),
             SOMA_ERR_SHAPE, "targets of 3 dimensions");
    ck_fails(soma_dataset_load_npy(NULL, good_y, &ds), SOMA_ERR_INVALID_ARG, "'features_path' is NULL");
    ck_fails(soma_dataset_load_npy(good_x, NULL, &ds), SOMA_ERR_INVALID_ARG, "'targets_path' is NULL");
    ck_fails(soma_dataset_load_npy(good_x, good_y, NULL), SOMA_ERR_INVALID_ARG, "'out' is NULL");
#undef REFUSED_X
}
END_TEST

START_TEST(npz_members) {
    float x[7][3];
    int64_t y[7];
    for (int i = 0; i < 7; i++) {
        for (int j = 0; j < 3; j++) x[i][j] = feature(i, j);
        y[i] = 6 - i;
    }
    bytes m[3] = {npy(1, "<f4", "False", "(7, 3)", x, sizeof x), npy(1, "<i8", "False", "(7,)", y, sizeof y),
                  npy(1, "<f4", "False", "(7,)", x, 28)};
    soma_dataset *ds = NULL;
    /* np.savez(f, x=..., y=...) with another member in front */
    ck_soma(soma_dataset_load_npz(write_zip("xy.npz", 3, (const char *const[]){"other.npy", "x.npy", "y.npy"},
                                            (const bytes[]){m[2], m[0], m[1]}, 0),
                                  NULL, NULL, &ds));
    ck_assert_int_eq(soma_dataset_rows(ds), 7);
    ck_assert_int_eq(soma_dataset_features(ds), 3);
    for (int i = 0; i < 21; i++) ck_assert_float_eq(soma_dataset_feature_data(ds)[i], feature(i / 3, i % 3));
    for (int i = 0; i < 7; i++) ck_assert_float_eq(soma_dataset_target_data(ds)[i], (float)(6 - i));
    soma_dataset_free(ds);
    /* np.savez(f, X, Y): arr_0 and arr_1; and keys by name */
    const char *pos = write_zip("pos.npz", 2, (const char *const[]){"arr_0.npy", "arr_1.npy"},
                                (const bytes[]){m[0], m[1]}, 0);
    char pos_path[1024];
    snprintf(pos_path, sizeof pos_path, "%s", pos);
    ck_soma(soma_dataset_load_npz(pos_path, NULL, NULL, &ds));
    ck_assert_int_eq(soma_dataset_features(ds), 3);
    soma_dataset_free(ds);
    ck_soma(soma_dataset_load_npz(pos_path, "arr_1", "arr_0", &ds)); /* labels as the one feature */
    ck_assert_int_eq(soma_dataset_features(ds), 1);
    ck_assert_int_eq(soma_dataset_targets(ds), 3);
    soma_dataset_free(ds);

    ds = (soma_dataset *)&ds;
    ck_fails(soma_dataset_load_npz(pos_path, "features", NULL, &ds), SOMA_ERR_FORMAT, "no member features.npy");
    ck_assert_ptr_null(ds);
    ck_fails(soma_dataset_load_npz(write_zip("only_x.npz", 1, (const char *const[]){"x.npy"}, m, 0), NULL, NULL, &ds),
             SOMA_ERR_FORMAT, "no member y.npy (nor arr_1.npy)");
    ck_fails(soma_dataset_load_npz(write_zip("deflated.npz", 2, (const char *const[]){"x.npy", "y.npy"}, m, 8), NULL,
                                   NULL, &ds),
             SOMA_ERR_UNSUPPORTED, "np.savez_compressed", "np.savez");
    ck_fails(soma_dataset_load_npz(write_bytes("plain.npz", "not a zip file at all, just text here", 37), NULL, NULL,
                                   &ds),
             SOMA_ERR_FORMAT, "not an .npz archive");
    ck_fails(soma_dataset_load_npz(NULL, NULL, NULL, &ds), SOMA_ERR_INVALID_ARG, "'path' is NULL");
    for (int i = 0; i < 3; i++) free(m[i].data);
}
END_TEST

/* test_npy --npy X.npy Y.npy | --npz FILE [XKEY YKEY]: prints the dataset
 * (rows features targets, then each row's features and targets as %.9g) for
 * tests/npy_numpy_test.py, which compares it with what NumPy wrote. */
static int dump(int argc, char **argv) {
    soma_dataset *ds = NULL;
    soma_status st = strcmp(argv[1], "--npy") == 0 && argc == 4 ? soma_dataset_load_npy(argv[2], argv[3], &ds)
                     : strcmp(argv[1], "--npz") == 0 && (argc == 3 || argc == 5)
                         ? soma_dataset_load_npz(argv[2], argc == 5 ? argv[3] : NULL, argc == 5 ? argv[4] : NULL, &ds)
                         : SOMA_ERR_INVALID_ARG;
    if (st != SOMA_OK) {
        printf("error %s: %s\n", soma_status_name(st), soma_last_error());
        return 1;
    }
    int64_t rows = soma_dataset_rows(ds), nx = soma_dataset_features(ds), ny = soma_dataset_targets(ds);
    printf("%lld %lld %lld\n", (long long)rows, (long long)nx, (long long)ny);
    for (int64_t i = 0; i < rows; i++) {
        for (int64_t j = 0; j < nx; j++) printf("%s%.9g", j ? " " : "", (double)soma_dataset_feature_data(ds)[i * nx + j]);
        printf(" |");
        for (int64_t j = 0; j < ny; j++) printf(" %.9g", (double)soma_dataset_target_data(ds)[i * ny + j]);
        printf("\n");
    }
    soma_dataset_free(ds);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1) return dump(argc, argv);
    printf("test_npy: seed %llu (the data is fixed)\n", TEST_SEED);
    Suite *s = suite_create("npy");
    TCase *readers = tcase_create("readers");
    tcase_add_unchecked_fixture(readers, make_tmp_dir, remove_tmp_dir);
    tcase_set_timeout(readers, 30);
    tcase_add_test(readers, npy_round_trip);
    tcase_add_test(readers, npy_refuses_what_it_cannot_read);
    tcase_add_test(readers, npz_members);
    suite_add_tcase(s, readers);
    Suite *suites[] = {s};
    return test_run(suites, 1, CK_FORK);
}
