/* test_data.c: datasets, the IDX and CSV readers, the split and the
 * normalizers. Every error a reader reports is provoked with a real
 * malformed file in a temporary directory (removed at the end, even when a
 * test fails), checking both the status and a piece of the message. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, opendir, unlink, rmdir */
#include <dirent.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "soma/data.h"
#include "test_util.h"

/* ---- temporary files ------------------------------------------------------------ */

static char tmp_dir[512];

/* An unchecked fixture: runs once in the parent process, so the directory
 * outlives the forked tests and is removed after them whatever they did. */
static void make_tmp_dir(void) {
    const char *base = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/soma_test_data_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp_dir)) {
        perror("test_data: mkdtemp");
        exit(EXIT_FAILURE);
    }
}

static void remove_tmp_dir(void) {
    DIR *dir = opendir(tmp_dir);
    if (!dir) return;
    struct dirent *e;
    char path[1024];
    while ((e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", tmp_dir, e->d_name);
        if (unlink(path) != 0) rmdir(path); /* the one test directory */
    }
    closedir(dir);
    rmdir(tmp_dir);
}

/* dir/name in one of a few rotating buffers, so that two paths can be used
 * in one call. */
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

static const char *write_text(const char *name, const char *text) {
    return write_bytes(name, text, strlen(text));
}

/* An IDX file: magic 00 00 type ndim, big-endian dims, then data_len bytes. */
static const char *write_idx(const char *name, unsigned type, int ndim, const uint32_t *dims,
                             const unsigned char *data, size_t data_len) {
    size_t n = 4 + 4 * (size_t)ndim + data_len;
    unsigned char *buf = malloc(n);
    ck_assert_ptr_nonnull(buf);
    buf[0] = 0;
    buf[1] = 0;
    buf[2] = (unsigned char)type;
    buf[3] = (unsigned char)ndim;
    for (int d = 0; d < ndim; d++)
        for (int b = 0; b < 4; b++) buf[4 + 4 * d + b] = (unsigned char)(dims[d] >> (24 - 8 * b));
    if (data_len) memcpy(buf + 4 + 4 * ndim, data, data_len);
    const char *path = write_bytes(name, buf, n);
    free(buf);
    return path;
}

/* A dataset whose row i has features i*features + j and target t[i]. */
static soma_dataset *counting_dataset(int64_t rows, int64_t features) {
    soma_dataset *ds = NULL;
    ck_soma(soma_dataset_create(rows, features, 1, &ds));
    float *x = soma_dataset_feature_data(ds), *y = soma_dataset_target_data(ds);
    for (int64_t i = 0; i < rows * features; i++) x[i] = (float)i;
    for (int64_t i = 0; i < rows; i++) y[i] = (float)(i % 3);
    return ds;
}

/* ---- datasets ------------------------------------------------------------------- */

START_TEST(create_checks_its_arguments) {
    soma_dataset *ds = (soma_dataset *)&ds; /* any non-NULL value: must be reset */
    ck_fails(soma_dataset_create(0, 3, 1, &ds), SOMA_ERR_SHAPE, "0 rows, 3 features, 1 targets");
    ck_assert_ptr_null(ds);
    ck_fails(soma_dataset_create(2, 0, 1, &ds), SOMA_ERR_SHAPE, "each must be >= 1");
    ck_fails(soma_dataset_create(2, 3, -1, &ds), SOMA_ERR_SHAPE, "-1 targets");
    ck_fails(soma_dataset_create(INT64_MAX / 2, 4, 1, &ds), SOMA_ERR_SHAPE, "too many");
    ck_fails(soma_dataset_create(2, 3, 1, NULL), SOMA_ERR_INVALID_ARG, "'out' is NULL");

    ck_soma(soma_dataset_create(4, 3, 2, &ds));
    ck_assert_int_eq(soma_dataset_rows(ds), 4);
    ck_assert_int_eq(soma_dataset_features(ds), 3);
    ck_assert_int_eq(soma_dataset_targets(ds), 2);
    for (int i = 0; i < 12; i++) ck_assert_float_eq(soma_dataset_feature_data_const(ds)[i], 0.0f);
    for (int i = 0; i < 8; i++) ck_assert_float_eq(soma_dataset_target_data_const(ds)[i], 0.0f);
    ck_assert_ptr_eq(soma_dataset_feature_data(ds), soma_dataset_feature_data_const(ds));
    soma_dataset_free(ds);

    soma_dataset_free(NULL);
    ck_assert_int_eq(soma_dataset_rows(NULL), 0);
    ck_assert_int_eq(soma_dataset_classes(NULL), 0);
    ck_assert_ptr_null(soma_dataset_feature_data(NULL));
    ck_assert_ptr_null(soma_dataset_target_data_const(NULL));
}
END_TEST

START_TEST(classes_follow_the_targets_as_written) {
    soma_dataset *ds = NULL;
    ck_soma(soma_dataset_create(4, 2, 1, &ds));
    float *y = soma_dataset_target_data(ds);
    ck_assert_int_eq(soma_dataset_classes(ds), 1); /* all zero: one class */
    y[0] = 3;
    y[1] = 1;
    y[2] = 0;
    y[3] = 2;
    ck_assert_int_eq(soma_dataset_classes(ds), 4); /* written after create */
    y[2] = 9;
    ck_assert_int_eq(soma_dataset_classes(ds), 10);
    y[2] = 0.5f;
    ck_assert_int_eq(soma_dataset_classes(ds), 0); /* not an integer: regression */
    y[2] = -1;
    ck_assert_int_eq(soma_dataset_classes(ds), 0);
    y[2] = NAN;
    ck_assert_int_eq(soma_dataset_classes(ds), 0);
    y[2] = 1e30f; /* an integer, but beyond what float indexes exactly */
    ck_assert_int_eq(soma_dataset_classes(ds), 0);
    y[2] = -0.0f;
    ck_assert_int_eq(soma_dataset_classes(ds), 4);
    soma_dataset_free(ds);

    ck_soma(soma_dataset_create(3, 2, 2, &ds)); /* two target columns: regression */
    ck_assert_int_eq(soma_dataset_classes(ds), 0);
    soma_dataset_free(ds);
}
END_TEST

/* ---- split ---------------------------------------------------------------------- */

START_TEST(split_sizes) {
    soma_dataset *ds = counting_dataset(10, 2), *tr = NULL, *va = NULL;
    static const struct { double fraction; int64_t validation; } cases[] = {
        {0.25, 3}, /* round(2.5) = 3: half away from zero */
        {0.2, 2},
        {0.5, 5},
        {0.01, 1}, /* at least one row each */
        {0.99, 9},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ck_soma(soma_dataset_split(ds, cases[c].fraction, 1, &tr, &va));
        ck_assert_msg(soma_dataset_rows(va) == cases[c].validation, "fraction %g: %lld validation rows, want %lld",
                      cases[c].fraction, (long long)soma_dataset_rows(va), (long long)cases[c].validation);
        ck_assert_int_eq(soma_dataset_rows(tr), 10 - cases[c].validation);
        ck_assert_int_eq(soma_dataset_features(tr), 2);
        ck_assert_int_eq(soma_dataset_targets(va), 1);
        soma_dataset_free(tr);
        soma_dataset_free(va);
    }
    soma_dataset_free(ds);

    ds = counting_dataset(2, 1);
    ck_soma(soma_dataset_split(ds, 0.5, 1, &tr, &va));
    ck_assert_int_eq(soma_dataset_rows(tr), 1);
    ck_assert_int_eq(soma_dataset_rows(va), 1);
    soma_dataset_free(tr);
    soma_dataset_free(va);
    soma_dataset_free(ds);
}
END_TEST

/* Row i of counting_dataset has first feature i*features: recover i. */
static void collect_rows(const soma_dataset *part, int64_t features, int *seen, int64_t *order) {
    const float *x = soma_dataset_feature_data_const(part), *y = soma_dataset_target_data_const(part);
    for (int64_t r = 0; r < soma_dataset_rows(part); r++) {
        int64_t i = (int64_t)x[r * features] / features;
        for (int64_t j = 0; j < features; j++)
            ck_assert_float_eq(x[r * features + j], (float)(i * features + j));
        ck_assert_float_eq(y[r], (float)(i % 3)); /* targets travel with their features */
        /* and the part knows where each row came from (error messages name it) */
        ck_assert_int_eq(soma_dataset_source_row(part, r), i);
        seen[i]++;
        if (order) order[r] = i;
    }
}

START_TEST(split_is_a_seeded_partition) {
    enum { N = 100, F = 3 };
    soma_dataset *ds = counting_dataset(N, F), *tr = NULL, *va = NULL, *tr2 = NULL, *va2 = NULL;
    ck_soma(soma_dataset_split(ds, 0.3, TEST_SEED, &tr, &va));
    ck_assert_int_eq(soma_dataset_rows(va), 30);
    int seen[N] = {0};
    int64_t order[N];
    collect_rows(tr, F, seen, order);
    collect_rows(va, F, seen, order + 70);
    for (int i = 0; i < N; i++) ck_assert_msg(seen[i] == 1, "row %d appears %d times", i, seen[i]);
    int fixed = 0;
    for (int i = 0; i < N; i++) fixed += order[i] == i;
    ck_assert_msg(fixed < 10, "%d of %d rows kept their place: not shuffled", fixed, N);
    /* the source is left as it is */
    for (int i = 0; i < N * F; i++) ck_assert_float_eq(soma_dataset_feature_data_const(ds)[i], (float)i);

    /* same seed, same split, bit for bit */
    ck_soma(soma_dataset_split(ds, 0.3, TEST_SEED, &tr2, &va2));
    ck_assert_mem_eq(soma_dataset_feature_data_const(tr), soma_dataset_feature_data_const(tr2), 70 * F * sizeof(float));
    ck_assert_mem_eq(soma_dataset_feature_data_const(va), soma_dataset_feature_data_const(va2), 30 * F * sizeof(float));
    soma_dataset_free(tr2);
    soma_dataset_free(va2);

    /* another seed, another order */
    ck_soma(soma_dataset_split(ds, 0.3, TEST_SEED + 1, &tr2, &va2));
    int64_t order2[N];
    memset(seen, 0, sizeof seen);
    collect_rows(tr2, F, seen, order2);
    collect_rows(va2, F, seen, order2 + 70);
    int same = 0;
    for (int i = 0; i < N; i++) same += order[i] == order2[i];
    ck_assert_msg(same < 10, "seeds %llu and %llu agree on %d of %d places", TEST_SEED, TEST_SEED + 1, same, N);
    soma_dataset_free(tr2);
    soma_dataset_free(va2);

    /* a split of a split still names rows of the original */
    ck_soma(soma_dataset_split(tr, 0.5, TEST_SEED, &tr2, &va2));
    memset(seen, 0, sizeof seen);
    collect_rows(tr2, F, seen, NULL);
    collect_rows(va2, F, seen, NULL);
    ck_assert_int_eq(soma_dataset_source_row(ds, 42), 42); /* no split part: itself */
    soma_dataset_free(tr2);
    soma_dataset_free(va2);
    soma_dataset_free(tr);
    soma_dataset_free(va);
    soma_dataset_free(ds);
}
END_TEST

/* The permutation is integer arithmetic on Philox words: pinned here, it
 * must come out the same on every machine and compiler. */
START_TEST(split_order_is_pinned) {
    enum { N = 10 };
    static const int64_t want[N] = {9, 3, 6, 4, 5, 0, 1, 8, 2, 7}; /* also from a Python Philox */
    soma_dataset *ds = counting_dataset(N, 1), *tr = NULL, *va = NULL;
    ck_soma(soma_dataset_split(ds, 0.2, 42, &tr, &va));
    int seen[N] = {0};
    int64_t order[N];
    collect_rows(tr, 1, seen, order);
    collect_rows(va, 1, seen, order + 8);
    for (int i = 0; i < N; i++)
        ck_assert_msg(order[i] == want[i], "seed 42: place %d holds row %lld, want %lld", i,
                      (long long)order[i], (long long)want[i]);
    soma_dataset_free(tr);
    soma_dataset_free(va);
    soma_dataset_free(ds);
}
END_TEST

START_TEST(split_checks_its_arguments) {
    soma_dataset *ds = counting_dataset(10, 2), *tr = NULL, *va = NULL;
    ck_fails(soma_dataset_split(ds, 0.0, 1, &tr, &va), SOMA_ERR_INVALID_ARG, "fraction 0 is not in (0, 1)");
    ck_fails(soma_dataset_split(ds, 1.0, 1, &tr, &va), SOMA_ERR_INVALID_ARG, "fraction 1 ");
    ck_fails(soma_dataset_split(ds, -0.5, 1, &tr, &va), SOMA_ERR_INVALID_ARG, "fraction -0.5");
    ck_fails(soma_dataset_split(ds, NAN, 1, &tr, &va), SOMA_ERR_INVALID_ARG, "fraction nan");
    ck_assert_ptr_null(tr);
    ck_assert_ptr_null(va);
    ck_fails(soma_dataset_split(NULL, 0.5, 1, &tr, &va), SOMA_ERR_INVALID_ARG, "'ds' is NULL");
    ck_fails(soma_dataset_split(ds, 0.5, 1, NULL, &va), SOMA_ERR_INVALID_ARG, "'train' is NULL");
    ck_fails(soma_dataset_split(ds, 0.5, 1, &tr, NULL), SOMA_ERR_INVALID_ARG, "'validation' is NULL");
    soma_dataset_free(ds);
    ds = counting_dataset(1, 2);
    ck_fails(soma_dataset_split(ds, 0.5, 1, &tr, &va), SOMA_ERR_SHAPE, "1 row(s) cannot be split");
    soma_dataset_free(ds);
}
END_TEST

/* The in-place split leaves in ds exactly the training part the copying
 * split makes (rows, order, targets, source rows), and a validation part
 * equal to its; also on a split part, whose source rows point further back. */
static void ck_same_dataset(const soma_dataset *a, const soma_dataset *b) {
    int64_t rows = soma_dataset_rows(a), f = soma_dataset_features(a);
    ck_assert_int_eq(soma_dataset_rows(b), rows);
    ck_assert_mem_eq(soma_dataset_feature_data_const(a), soma_dataset_feature_data_const(b),
                     (size_t)(rows * f) * sizeof(float));
    ck_assert_mem_eq(soma_dataset_target_data_const(a), soma_dataset_target_data_const(b),
                     (size_t)rows * sizeof(float));
    for (int64_t r = 0; r < rows; r++)
        ck_assert_int_eq(soma_dataset_source_row(a, r), soma_dataset_source_row(b, r));
}

START_TEST(split_in_place_equals_the_copying_split) {
    enum { F = 3 };
    static const int64_t sizes[] = {2, 7, 100, 1001};
    for (size_t c = 0; c < sizeof sizes / sizeof sizes[0]; c++) {
        soma_dataset *ds = counting_dataset(sizes[c], F), *tr = NULL, *va = NULL, *va2 = NULL;
        ck_soma(soma_dataset_split(ds, 0.3, TEST_SEED, &tr, &va));
        ck_soma(soma_dataset_split_in_place(ds, 0.3, TEST_SEED, &va2));
        ck_same_dataset(ds, tr);
        ck_same_dataset(va2, va);
        int seen[1001] = {0};
        collect_rows(ds, F, seen, NULL);
        collect_rows(va2, F, seen, NULL);
        for (int64_t i = 0; i < sizes[c]; i++) ck_assert_int_eq(seen[i], 1);
        /* a split of the (in-place) training part names rows of the original */
        soma_dataset *tr3 = NULL, *va3 = NULL, *va4 = NULL;
        if (soma_dataset_rows(ds) >= 2) {
            ck_soma(soma_dataset_split(ds, 0.5, TEST_SEED + 1, &tr3, &va3));
            ck_soma(soma_dataset_split_in_place(ds, 0.5, TEST_SEED + 1, &va4));
            ck_same_dataset(ds, tr3);
            ck_same_dataset(va4, va3);
        }
        soma_dataset *all[] = {ds, tr, va, va2, tr3, va3, va4};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) soma_dataset_free(all[i]);
    }
}
END_TEST

START_TEST(split_in_place_checks_its_arguments) {
    soma_dataset *ds = counting_dataset(10, 2), *va = NULL;
    ck_fails(soma_dataset_split_in_place(ds, 1.0, 1, &va), SOMA_ERR_INVALID_ARG, "fraction 1 ");
    ck_fails(soma_dataset_split_in_place(ds, NAN, 1, &va), SOMA_ERR_INVALID_ARG, "fraction nan");
    ck_fails(soma_dataset_split_in_place(NULL, 0.5, 1, &va), SOMA_ERR_INVALID_ARG, "'ds' is NULL");
    ck_fails(soma_dataset_split_in_place(ds, 0.5, 1, NULL), SOMA_ERR_INVALID_ARG, "'validation' is NULL");
    ck_assert_ptr_null(va);
    /* refused calls leave ds as it was */
    ck_assert_int_eq(soma_dataset_rows(ds), 10);
    for (int i = 0; i < 20; i++) ck_assert_float_eq(soma_dataset_feature_data_const(ds)[i], (float)i);
    soma_dataset_free(ds);
    ds = counting_dataset(1, 2);
    ck_fails(soma_dataset_split_in_place(ds, 0.5, 1, &va), SOMA_ERR_SHAPE, "1 row(s) cannot be split");
    soma_dataset_free(ds);
}
END_TEST

/* ---- normalizers ---------------------------------------------------------------- */

static soma_dataset *dataset_of(int64_t rows, int64_t features, const float *x) {
    soma_dataset *ds = NULL;
    ck_soma(soma_dataset_create(rows, features, 1, &ds));
    memcpy(soma_dataset_feature_data(ds), x, (size_t)(rows * features) * sizeof(float));
    return ds;
}

START_TEST(scale01_uses_the_global_min_and_max) {
    static const float x[] = {1, 2, 3, -2, 5, 6};
    soma_dataset *ds = dataset_of(3, 2, x);
    soma_normalizer norm;
    ck_soma(soma_normalizer_fit(ds, SOMA_NORM_SCALE01, &norm));
    ck_assert_int_eq(norm.kind, SOMA_NORM_SCALE01);
    ck_assert_int_eq(norm.features, 2);
    for (int j = 0; j < 2; j++) {
        ck_assert_float_eq(norm.offset[j], -2.0f);
        ck_assert_float_eq(norm.scale[j], 0.125f);
    }
    ck_soma(soma_normalizer_apply(&norm, ds));
    static const float want[] = {0.375f, 0.5f, 0.625f, 0.0f, 0.875f, 1.0f};
    for (int i = 0; i < 6; i++) ck_assert_float_eq(soma_dataset_feature_data(ds)[i], want[i]);

    /* fitted on one set, applied to another: values outside [0, 1] stay so */
    static const float other[] = {-10, 14};
    soma_dataset *ds2 = dataset_of(1, 2, other);
    ck_soma(soma_normalizer_apply(&norm, ds2));
    ck_assert_float_eq(soma_dataset_feature_data(ds2)[0], -1.0f);
    ck_assert_float_eq(soma_dataset_feature_data(ds2)[1], 2.0f);
    soma_dataset_free(ds2);
    soma_normalizer_free(&norm);
    soma_normalizer_free(&norm); /* twice is harmless */
    ck_assert_ptr_null(norm.offset);
    soma_dataset_free(ds);

    static const float flat[] = {7, 7, 7, 7};
    ds = dataset_of(2, 2, flat);
    ck_soma(soma_normalizer_fit(ds, SOMA_NORM_SCALE01, &norm));
    ck_assert_float_eq(norm.offset[0], 7.0f);
    ck_assert_float_eq(norm.scale[0], 1.0f); /* constant data: scale 1 */
    ck_soma(soma_normalizer_apply(&norm, ds));
    for (int i = 0; i < 4; i++) ck_assert_float_eq(soma_dataset_feature_data(ds)[i], 0.0f);
    soma_normalizer_free(&norm);
    soma_dataset_free(ds);
}
END_TEST

START_TEST(standardize_per_feature) {
    /* columns: 1..4 (mean 2.5, population std sqrt(1.25)), constant 5,
     * +-1 (mean 0, std 1), and a large offset 1e6 + {0,1,2,1} */
    static const float x[] = {1, 5, -1, 1e6f, 2, 5, 1, 1e6f + 1, 3, 5, -1, 1e6f + 2, 4, 5, 1, 1e6f + 1};
    soma_dataset *ds = dataset_of(4, 4, x);
    soma_normalizer norm;
    ck_soma(soma_normalizer_fit(ds, SOMA_NORM_STANDARDIZE, &norm));
    ck_assert_float_eq_tol(norm.offset[0], 2.5f, 1e-7f);
    ck_assert_float_eq_tol(norm.scale[0], (float)(1.0 / sqrt(1.25)), 1e-7f);
    ck_assert_float_eq(norm.offset[1], 5.0f);
    ck_assert_float_eq(norm.scale[1], 1.0f); /* std 0: scale 1 */
    ck_assert_float_eq(norm.offset[2], 0.0f);
    ck_assert_float_eq(norm.scale[2], 1.0f);
    ck_assert_float_eq(norm.offset[3], 1e6f + 1);
    ck_assert_float_eq_tol(norm.scale[3], (float)(1.0 / sqrt(0.5)), 1e-6f);
    ck_soma(soma_normalizer_apply(&norm, ds));
    const float *z = soma_dataset_feature_data(ds);
    for (int j = 0; j < 4; j++) {
        double mean = 0, var = 0;
        for (int i = 0; i < 4; i++) mean += z[i * 4 + j] / 4.0;
        for (int i = 0; i < 4; i++) var += (z[i * 4 + j] - mean) * (z[i * 4 + j] - mean) / 4.0;
        ck_assert_msg(fabs(mean) < 1e-6, "feature %d: mean %g after standardizing", j, mean);
        ck_assert_msg(fabs(var - (j == 1 ? 0.0 : 1.0)) < 1e-6, "feature %d: variance %g", j, var);
    }
    soma_normalizer_free(&norm);
    soma_dataset_free(ds);
}
END_TEST

START_TEST(normalizer_none_and_errors) {
    static const float x[] = {1, 2, 3, 4, 5, 6};
    soma_dataset *ds = dataset_of(2, 3, x), *narrow = dataset_of(3, 2, x);
    soma_normalizer norm;
    ck_soma(soma_normalizer_fit(ds, SOMA_NORM_NONE, &norm));
    ck_soma(soma_normalizer_apply(&norm, ds));
    ck_assert_mem_eq(soma_dataset_feature_data(ds), x, sizeof x);
    ck_fails(soma_normalizer_apply(&norm, narrow), SOMA_ERR_SHAPE, "fitted on 3 features but 'ds' has 2");
    ck_fails(soma_normalizer_apply(NULL, ds), SOMA_ERR_INVALID_ARG, "'norm' is NULL");
    ck_fails(soma_normalizer_apply(&norm, NULL), SOMA_ERR_INVALID_ARG, "'ds' is NULL");
    soma_normalizer_free(&norm);
    ck_fails(soma_normalizer_apply(&norm, ds), SOMA_ERR_INVALID_ARG, "not fitted, or freed");

    ck_fails(soma_normalizer_fit(ds, (soma_norm_kind)7, &norm), SOMA_ERR_INVALID_ARG, "'kind' 7");
    ck_assert_ptr_null(norm.offset);
    ck_fails(soma_normalizer_fit(NULL, SOMA_NORM_SCALE01, &norm), SOMA_ERR_INVALID_ARG, "'ds' is NULL");
    ck_fails(soma_normalizer_fit(ds, SOMA_NORM_SCALE01, NULL), SOMA_ERR_INVALID_ARG, "'out' is NULL");
    soma_dataset_feature_data(narrow)[5] = NAN;
    ck_fails(soma_normalizer_fit(narrow, SOMA_NORM_STANDARDIZE, &norm), SOMA_ERR_NUMERIC, "feature 1 of row 2 is nan");
    soma_dataset_feature_data(narrow)[5] = INFINITY;
    ck_fails(soma_normalizer_fit(narrow, SOMA_NORM_SCALE01, &norm), SOMA_ERR_NUMERIC, "is inf");
    ck_assert_ptr_null(norm.scale);
    /* a spread whose inverse overflows float */
    soma_dataset_feature_data(narrow)[5] = 1e-45f;
    for (int i = 0; i < 5; i++) soma_dataset_feature_data(narrow)[i] = 0.0f;
    ck_fails(soma_normalizer_fit(narrow, SOMA_NORM_SCALE01, &norm), SOMA_ERR_NUMERIC, "not a normal float");
    soma_dataset_free(ds);
    soma_dataset_free(narrow);
}
END_TEST

/* ---- IDX ------------------------------------------------------------------------ */

START_TEST(idx_round_trip) {
    unsigned char pixels[3 * 2 * 2];
    for (int i = 0; i < 12; i++) pixels[i] = (unsigned char)(i * 23);
    pixels[11] = 255;
    static const unsigned char labels[3] = {2, 0, 1};
    const char *img = write_idx("rt-images-idx3-ubyte", 0x08, 3, (const uint32_t[]){3, 2, 2}, pixels, 12);
    const char *lbl = write_idx("rt-labels-idx1-ubyte", 0x08, 1, (const uint32_t[]){3}, labels, 3);
    soma_dataset *ds = NULL;
    ck_soma(soma_dataset_load_idx(img, lbl, &ds));
    ck_assert_int_eq(soma_dataset_rows(ds), 3);
    ck_assert_int_eq(soma_dataset_features(ds), 4);
    ck_assert_int_eq(soma_dataset_targets(ds), 1);
    ck_assert_int_eq(soma_dataset_classes(ds), 3);
    for (int i = 0; i < 12; i++) ck_assert_float_eq(soma_dataset_feature_data(ds)[i], (float)pixels[i]);
    for (int i = 0; i < 3; i++) ck_assert_float_eq(soma_dataset_target_data(ds)[i], (float)labels[i]);
    soma_dataset_free(ds);

    /* four dimensions flatten to one row per item; big dims use all 4 bytes
     * of the header words; more data than one read chunk */
    enum { COUNT = 2, H = 3, W = 0x1000 / 3 + 7, C = 5 };
    size_t n = (size_t)COUNT * H * W * C;
    unsigned char *big = malloc(n);
    for (size_t i = 0; i < n; i++) big[i] = (unsigned char)(i * 7 + i / 251);
    img = write_idx("4d-images", 0x08, 4, (const uint32_t[]){COUNT, H, W, C}, big, n);
    lbl = write_idx("4d-labels", 0x08, 1, (const uint32_t[]){COUNT}, (const unsigned char[]){9, 4}, 2);
    ck_soma(soma_dataset_load_idx(img, lbl, &ds));
    ck_assert_int_eq(soma_dataset_rows(ds), COUNT);
    ck_assert_int_eq(soma_dataset_features(ds), H * W * C);
    ck_assert_int_eq(soma_dataset_classes(ds), 10);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(soma_dataset_feature_data(ds)[i] == (float)big[i], "pixel %zu", i);
    soma_dataset_free(ds);
    free(big);
}
END_TEST

START_TEST(idx_refuses_what_it_cannot_read) {
    static const unsigned char px[2 * 2 * 2] = {0};
    char good_img[1024], good_lbl[1024]; /* kept: tmp_path reuses its buffers */
    snprintf(good_img, sizeof good_img, "%s", write_idx("good-images", 0x08, 3, (const uint32_t[]){2, 2, 2}, px, 8));
    snprintf(good_lbl, sizeof good_lbl, "%s", write_idx("good-labels", 0x08, 1, (const uint32_t[]){2}, px, 2));
    const char *path;
    soma_dataset *ds = (soma_dataset *)&ds;

    ck_fails(soma_dataset_load_idx(tmp_path("train-images-idx3-ubyte.gz"), good_lbl, &ds), SOMA_ERR_UNSUPPORTED,
             "train-images-idx3-ubyte.gz' is gzip-compressed; gunzip it first");
    ck_assert_ptr_null(ds);
    ck_fails(soma_dataset_load_idx(good_img, tmp_path("labels.gz"), &ds), SOMA_ERR_UNSUPPORTED, "gunzip it first");
    path = write_bytes("gzipped-images", "\x1f\x8b\x08\x00\x00\x00\x00\x00", 8);
    ck_fails(soma_dataset_load_idx(path, good_lbl, &ds), SOMA_ERR_UNSUPPORTED, "gzip-compressed (it starts with 1f 8b)");

    ck_fails(soma_dataset_load_idx(tmp_path("missing"), good_lbl, &ds), SOMA_ERR_IO, "cannot open images file");
    ck_fails(soma_dataset_load_idx(good_img, tmp_path("missing"), &ds), SOMA_ERR_IO, "missing': No such file");
    ck_assert_int_eq(mkdir(tmp_path("a-directory"), 0700), 0);
    ck_fails(soma_dataset_load_idx(tmp_path("a-directory"), good_lbl, &ds), SOMA_ERR_IO, "is a directory, not a regular file");

    path = write_bytes("short", "\x00\x00\x08", 3);
    ck_fails(soma_dataset_load_idx(path, good_lbl, &ds), SOMA_ERR_FORMAT,
             "short': truncated: 3 bytes, too short for the 4-byte IDX magic number");
    path = write_bytes("not-idx", "P5\n28 28\n255\n", 13);
    ck_fails(soma_dataset_load_idx(path, good_lbl, &ds), SOMA_ERR_FORMAT,
             "not-idx': byte 0: magic number 50 35 0a 32 does not start with 00 00; not an IDX file");
    path = write_idx("floats", 0x0D, 3, (const uint32_t[]){2, 1, 1}, px, 8);
    ck_fails(soma_dataset_load_idx(path, good_lbl, &ds), SOMA_ERR_UNSUPPORTED,
             "floats': byte 2: type 0x0D (float) is not supported");
    path = write_idx("float-labels", 0x0D, 1, (const uint32_t[]){2}, px, 8);
    ck_fails(soma_dataset_load_idx(good_img, path, &ds), SOMA_ERR_UNSUPPORTED, "type 0x0D (float) is not supported");
    path = write_idx("odd-type", 0x42, 3, (const uint32_t[]){2, 2, 2}, px, 8);
    ck_fails(soma_dataset_load_idx(path, good_lbl, &ds), SOMA_ERR_FORMAT, "byte 2: unknown IDX type 0x42");

    path = write_idx("ndim0", 0x08, 0, NULL, NULL, 0);
    ck_fails(soma_dataset_load_idx(path, good_lbl, &ds), SOMA_ERR_FORMAT, "byte 3: images file has 0 dimensions; it must have at least 2");
    ck_fails(soma_dataset_load_idx(good_img, path, &ds), SOMA_ERR_FORMAT, "byte 3: labels file has 0 dimensions; it must have 1");
    path = write_idx("ndim1", 0x08, 1, (const uint32_t[]){2}, px, 2);
    ck_fails(soma_dataset_load_idx(path, good_lbl, &ds), SOMA_ERR_FORMAT, "images file has 1 dimension; it must have at least 2");
    ck_fails(soma_dataset_load_idx(good_img, good_img, &ds), SOMA_ERR_FORMAT,
             "good-images': byte 3: labels file has 3 dimensions; it must have 1");

    /* ndim 3 but only two dimension words */
    path = write_bytes("short-header", "\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x02", 12);
    ck_fails(soma_dataset_load_idx(path, good_lbl, &ds), SOMA_ERR_FORMAT,
             "short-header': truncated: 3 dimensions need a 16-byte header, but the file has 12 bytes");
    path = write_idx("overflow", 0x08, 4, (const uint32_t[]){0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 2}, px, 8);
    ck_fails(soma_dataset_load_idx(path, good_lbl, &ds), SOMA_ERR_FORMAT,
             "overflow': byte 8: the dimensions' product overflows int64 at dimension 1 (4294967295)");
    path = write_idx("zero-dim", 0x08, 3, (const uint32_t[]){2, 0, 2}, px, 0);
    ck_fails(soma_dataset_load_idx(path, good_lbl, &ds), SOMA_ERR_FORMAT, "zero-dim': byte 8: dimension 1 is 0");

    /* MNIST's header on 10 bytes of data: refused before allocating 47 MB */
    path = write_idx("truncated", 0x08, 3, (const uint32_t[]){60000, 28, 28}, px, 8);
    ck_fails(soma_dataset_load_idx(path, good_lbl, &ds), SOMA_ERR_FORMAT,
             "truncated': byte 24: truncated: expected 47040000 bytes of data after the 16-byte header, found 8");
    path = write_idx("too-long", 0x08, 3, (const uint32_t[]){1, 2, 3}, px, 8);
    ck_fails(soma_dataset_load_idx(path, good_lbl, &ds), SOMA_ERR_FORMAT,
             "too-long': byte 22: 2 bytes of unexpected data after the 6 bytes the header declares");
    path = write_idx("too-long-labels", 0x08, 1, (const uint32_t[]){2}, px, 3);
    ck_fails(soma_dataset_load_idx(good_img, path, &ds), SOMA_ERR_FORMAT, "unexpected data");

    path = write_idx("no-labels", 0x08, 1, (const uint32_t[]){0}, NULL, 0);
    ck_fails(soma_dataset_load_idx(good_img, path, &ds), SOMA_ERR_FORMAT, "no-labels': byte 4: the labels file holds 0 items");
    path = write_idx("three-labels", 0x08, 1, (const uint32_t[]){3}, px, 3);
    ck_fails(soma_dataset_load_idx(good_img, path, &ds), SOMA_ERR_FORMAT, "good-images' holds 2 images but");
    ck_fails(soma_dataset_load_idx(good_img, path, &ds), SOMA_ERR_FORMAT, "three-labels' holds 3 labels");

    ck_fails(soma_dataset_load_idx(NULL, good_lbl, &ds), SOMA_ERR_INVALID_ARG, "'images_path' is NULL");
    ck_fails(soma_dataset_load_idx(good_img, NULL, &ds), SOMA_ERR_INVALID_ARG, "'labels_path' is NULL");
    ck_fails(soma_dataset_load_idx(good_img, good_lbl, NULL), SOMA_ERR_INVALID_ARG, "'out' is NULL");
    ck_assert_ptr_null(ds);

    ck_soma(soma_dataset_load_idx(good_img, good_lbl, &ds)); /* the good pair is good */
    soma_dataset_free(ds);
}
END_TEST

/* ---- CSV ------------------------------------------------------------------------ */

static soma_csv_options csv_options(int header, int label_column, const char *label_name, char delimiter) {
    soma_csv_options o = {.header = header, .label_column = label_column, .label_name = label_name,
                          .delimiter = delimiter};
    return o;
}

static void check_values(const float *got, const float *want, int n, const char *what) {
    for (int i = 0; i < n; i++)
        ck_assert_msg(got[i] == want[i] && signbit(got[i]) == signbit(want[i]), "%s[%d] = %g, want %g", what, i,
                      (double)got[i], (double)want[i]);
}

START_TEST(csv_reads_headers_crlf_and_odd_numbers) {
    /* a UTF-8 byte order mark, quoted names (one holding the delimiter),
     * CRLF, blank lines, blanks around cells, exponents, -0, no final newline */
    const char *path = write_text("houses.csv",
                                  "\xEF\xBB\xBF\"rooms\", \"area, m2\" ,price,\"say \"\"hi\"\"\"\r\n"
                                  "3, 1e-3 ,250000,1\r\n"
                                  "\r\n"
                                  "   \r\n"
                                  "-0,  2.5e2,  199999.5   ,+4\r\n"
                                  "\n"
                                  "0x10,.5,1E+2,-1");
    soma_csv_options o = csv_options(1, -1, "price", 0);
    soma_dataset *ds = NULL;
    ck_soma(soma_dataset_load_csv(path, &o, &ds));
    ck_assert_int_eq(soma_dataset_rows(ds), 3);
    ck_assert_int_eq(soma_dataset_features(ds), 3);
    ck_assert_int_eq(soma_dataset_targets(ds), 1);
    check_values(soma_dataset_feature_data(ds), (const float[]){3, 1e-3f, 1, -0.0f, 250, 4, 16, 0.5f, -1}, 9, "x");
    check_values(soma_dataset_target_data(ds), (const float[]){250000, 199999.5f, 100}, 3, "y");
    ck_assert_int_eq(soma_dataset_classes(ds), 0); /* 199999.5 */
    soma_dataset_free(ds);

    o = csv_options(-1, -1, "area, m2", 0); /* the header is guessed */
    ck_soma(soma_dataset_load_csv(path, &o, &ds));
    check_values(soma_dataset_target_data(ds), (const float[]){1e-3f, 250, 0.5f}, 3, "y");
    soma_dataset_free(ds);
    o = csv_options(-1, -1, "say \"hi\"", 0);
    ck_soma(soma_dataset_load_csv(path, &o, &ds));
    check_values(soma_dataset_target_data(ds), (const float[]){1, 4, -1}, 3, "y");
    soma_dataset_free(ds);
}
END_TEST

START_TEST(csv_label_by_index_and_delimiters) {
    const char *path = write_text("iris.csv", "0;5.1;3.5\n1;4.9;3.0\n2;4.7;3.2\n1;4.6;3.1\n");
    soma_csv_options o = csv_options(-1, 0, NULL, ';'); /* all numbers: no header */
    soma_dataset *ds = NULL;
    ck_soma(soma_dataset_load_csv(path, &o, &ds));
    ck_assert_int_eq(soma_dataset_rows(ds), 4);
    ck_assert_int_eq(soma_dataset_features(ds), 2);
    ck_assert_int_eq(soma_dataset_classes(ds), 3);
    check_values(soma_dataset_feature_data(ds), (const float[]){5.1f, 3.5f, 4.9f, 3.0f, 4.7f, 3.2f, 4.6f, 3.1f}, 8, "x");
    soma_dataset_free(ds);

    o = csv_options(0, 1, NULL, ';'); /* a middle column */
    ck_soma(soma_dataset_load_csv(path, &o, &ds));
    check_values(soma_dataset_target_data(ds), (const float[]){5.1f, 4.9f, 4.7f, 4.6f}, 4, "y");
    check_values(soma_dataset_feature_data(ds), (const float[]){0, 3.5f, 1, 3.0f}, 4, "x");
    soma_dataset_free(ds);

    path = write_text("tabs.tsv", "a\tb\tc\n1\t2\t3\n");
    o = csv_options(1, -1, NULL, 0);
    ck_fails(soma_dataset_load_csv(path, &o, &ds), SOMA_ERR_FORMAT, "(wrong delimiter ','?)");
    o = csv_options(1, -1, NULL, '\t');
    ck_soma(soma_dataset_load_csv(path, &o, &ds));
    check_values(soma_dataset_target_data(ds), (const float[]){3}, 1, "y");
    soma_dataset_free(ds);

    /* NULL options: guess the header, last column, commas */
    path = write_text("defaults.csv", "x,y\n1,0\n2,1\n");
    ck_soma(soma_dataset_load_csv(path, NULL, &ds));
    ck_assert_int_eq(soma_dataset_rows(ds), 2);
    ck_assert_int_eq(soma_dataset_classes(ds), 2);
    soma_dataset_free(ds);

    /* header = 1 takes a numeric first line as names */
    path = write_text("numeric-names.csv", "1,2\n3,4\n");
    o = csv_options(1, -1, "2", 0);
    ck_soma(soma_dataset_load_csv(path, &o, &ds));
    ck_assert_int_eq(soma_dataset_rows(ds), 1);
    check_values(soma_dataset_target_data(ds), (const float[]){4}, 1, "y");
    soma_dataset_free(ds);
}
END_TEST

/* A label column of text is a column of class names, numbered in byte order. */
START_TEST(csv_class_names) {
    /* no header: the names do not make the first line one */
    const char *path = write_text("species.csv", "5.1,3.5,setosa\n7.0,3.2,versicolor\n6.3,3.3,virginica\n"
                                                 "4.9,3.0,setosa\n5.9,3.0,\"virginica\"\n6.0,2.2,10\n");
    soma_dataset *ds = NULL;
    ck_soma(soma_dataset_load_csv(path, NULL, &ds));
    ck_assert_int_eq(soma_dataset_rows(ds), 6);
    ck_assert_int_eq(soma_dataset_features(ds), 2);
    ck_assert_int_eq(soma_dataset_class_name_count(ds), 4);
    const char *want[] = {"10", "setosa", "versicolor", "virginica"}; /* "10" is a name among names */
    for (int k = 0; k < 4; k++) ck_assert_str_eq(soma_dataset_class_name(ds, k), want[k]);
    ck_assert_ptr_null(soma_dataset_class_name(ds, 4));
    ck_assert_ptr_null(soma_dataset_class_name(ds, -1));
    ck_assert_str_eq(soma_dataset_class_names(ds)[2], "versicolor");
    check_values(soma_dataset_target_data(ds), (const float[]){1, 2, 3, 1, 3, 0}, 6, "y");
    check_values(soma_dataset_feature_data(ds), (const float[]){5.1f, 3.5f, 7.0f, 3.2f}, 4, "x");
    ck_assert_int_eq(soma_dataset_classes(ds), 4);

    /* splits carry the names */
    soma_dataset *tr = NULL, *va = NULL;
    ck_soma(soma_dataset_split(ds, 0.5, TEST_SEED, &tr, &va));
    ck_assert_int_eq(soma_dataset_class_name_count(tr), 4);
    ck_assert_str_eq(soma_dataset_class_name(va, 3), "virginica");
    soma_dataset_free(tr);
    soma_dataset_free(va);
    ck_soma(soma_dataset_split_in_place(ds, 0.5, TEST_SEED, &va));
    ck_assert_str_eq(soma_dataset_class_name(ds, 0), "10");
    ck_assert_str_eq(soma_dataset_class_name(va, 1), "setosa");
    soma_dataset_free(va);

    /* set_class_names copies; 0 removes; its arguments are checked */
    const char *mine[] = {"a", "b"};
    ck_soma(soma_dataset_set_class_names(ds, mine, 2));
    ck_assert_ptr_ne(soma_dataset_class_name(ds, 0), mine[0]);
    ck_assert_str_eq(soma_dataset_class_name(ds, 1), "b");
    ck_soma(soma_dataset_set_class_names(ds, NULL, 0));
    ck_assert_int_eq(soma_dataset_class_name_count(ds), 0);
    ck_assert_ptr_null(soma_dataset_class_names(ds));
    ck_fails(soma_dataset_set_class_names(NULL, mine, 2), SOMA_ERR_INVALID_ARG, "'ds' is NULL");
    ck_fails(soma_dataset_set_class_names(ds, NULL, 2), SOMA_ERR_INVALID_ARG, "'names' is NULL");
    ck_fails(soma_dataset_set_class_names(ds, mine, 4097), SOMA_ERR_INVALID_ARG, "count = 4097");
    ck_fails(soma_dataset_set_class_names(ds, (const char *[]){"a", NULL}, 2), SOMA_ERR_INVALID_ARG,
             "names[1] is NULL");
    soma_dataset_free(ds);

    /* a header, the names' column by name; an empty name is refused */
    path = write_text("named.csv", "species;x\nb;1\na;2\nb;3\n");
    soma_csv_options o = csv_options(-1, -1, "species", ';');
    ck_soma(soma_dataset_load_csv(path, &o, &ds));
    check_values(soma_dataset_target_data(ds), (const float[]){1, 0, 1}, 3, "y");
    soma_dataset_free(ds);
    path = write_text("empty-name.csv", "1,a\n2,\n");
    ck_fails(soma_dataset_load_csv(path, NULL, &ds), SOMA_ERR_FORMAT, "empty-name.csv:2:2: the label is empty");
    path = write_text("nan-label.csv", "1,a\n2,nan\n");
    ck_fails(soma_dataset_load_csv(path, NULL, &ds), SOMA_ERR_FORMAT, "nan-label.csv:2:2: 'nan': NaN/Inf");

    /* more than 4096 distinct cells: a text label there is refused, numbers are a regression */
    enum { MANY = 4097 };
    char *text = malloc(MANY * 24), *w = text;
    ck_assert_ptr_nonnull(text);
    for (int i = 0; i < MANY; i++) w += sprintf(w, "%d,n%d\n", i, i);
    path = write_text("many-names.csv", text);
    ck_fails(soma_dataset_load_csv(path, NULL, &ds), SOMA_ERR_FORMAT, "many-names.csv:4097:2",
             "more than 4096 distinct values");
    w = text;
    for (int i = 0; i < MANY; i++) w += sprintf(w, "%d,%d.5\n", i, i);
    w += sprintf(w, "1,x\n");
    path = write_text("numbers-then-text.csv", text);
    ck_fails(soma_dataset_load_csv(path, NULL, &ds), SOMA_ERR_FORMAT, "numbers-then-text.csv:4098:2",
             "more than 4096 distinct values");
    w = text;
    for (int i = 0; i < MANY; i++) w += sprintf(w, "%d,%d.5\n", i, i);
    path = write_text("prices.csv", text);
    ck_soma(soma_dataset_load_csv(path, NULL, &ds));
    ck_assert_int_eq(soma_dataset_class_name_count(ds), 0);
    ck_assert_float_eq(soma_dataset_target_data(ds)[MANY - 1], 4096.5f);
    soma_dataset_free(ds);
    free(text);
}
END_TEST

/* Class names go into the checkpoint's metadata and come back. */
/* Target standardization: 7 rows of 3 target columns (prices near 3e5, a
 * constant column, values near 0): per column mean -> 0 and std -> 1, undo
 * gives back the targets; through a checkpoint the arrays come back bit for
 * bit; kinds, shapes and non-finite targets are refused naming them. */
START_TEST(target_standardization_fits_undoes_and_round_trips) {
    const int64_t rows = 7, cols = 3;
    soma_dataset *ds = NULL;
    ck_soma(soma_dataset_create(rows, 2, cols, &ds));
    float *y = soma_dataset_target_data(ds), before[21];
    for (int64_t i = 0; i < rows; i++) { /* no two rows alike, no draw needed */
        y[i * cols] = 250000.0f + 100000.0f * (float)(i * 37 % 11) / 11.0f; /* dollars */
        y[i * cols + 1] = 42.0f;                                             /* constant: scale 1 */
        y[i * cols + 2] = (float)(i * 5 % 7) / 7.0f - 0.5f;
    }
    memcpy(before, y, sizeof before);
    soma_normalizer tn;
    ck_soma(soma_target_normalizer_fit(ds, SOMA_NORM_STANDARDIZE, &tn));
    ck_assert_int_eq(tn.features, cols);
    ck_assert_float_eq(tn.scale[1], 1.0f);
    ck_soma(soma_target_normalizer_apply(&tn, ds));
    for (int64_t j = 0; j < cols; j++) {
        double mean = 0, sq = 0;
        for (int64_t i = 0; i < rows; i++) mean += y[i * cols + j] / (double)rows;
        for (int64_t i = 0; i < rows; i++) sq += (y[i * cols + j] - mean) * (y[i * cols + j] - mean) / (double)rows;
        ck_assert_msg(fabs(mean) < 1e-5, "column %lld: mean %g after standardizing", (long long)j, mean);
        ck_assert_msg(j == 1 ? sq == 0 : fabs(sqrt(sq) - 1) < 1e-5, "column %lld: std %g", (long long)j, sqrt(sq));
    }
    ck_soma(soma_target_normalizer_undo(&tn, y, rows));
    for (int i = 0; i < 21; i++)
        ck_assert_msg(fabs(y[i] - before[i]) <= 1e-6 * fabs(before[i]) + 1e-6, "target %d: %.9g back as %.9g", i,
                      (double)before[i], (double)y[i]);

    /* through a checkpoint of a regression model with 3 outputs */
    soma_device *cpu = test_open("cpu");
    soma_mlp *m = NULL, *back = NULL;
    ck_soma(soma_mlp_create_simple(cpu, (const int64_t[]){2, 7, 3}, 3, SOMA_ACT_RELU, &m));
    const char *path = tmp_path("targets.safetensors");
    soma_checkpoint_info info = {.loss = SOMA_LOSS_MSE, .target_normalizer = tn}, got;
    ck_soma(soma_checkpoint_save(path, m, NULL, &info));
    ck_soma(soma_checkpoint_load(path, cpu, &back, &got));
    ck_assert_int_eq(got.target_normalizer.kind, SOMA_NORM_STANDARDIZE);
    ck_assert_int_eq(got.target_normalizer.features, cols);
    ck_assert(memcmp(got.target_normalizer.offset, tn.offset, (size_t)cols * sizeof(float)) == 0);
    ck_assert(memcmp(got.target_normalizer.scale, tn.scale, (size_t)cols * sizeof(float)) == 0);
    soma_checkpoint_info_free(&got);
    ck_assert_ptr_null(got.target_normalizer.offset);
    soma_mlp_free(back);
    /* a classifier's checkpoint cannot carry one; nor one of another width */
    info.loss = SOMA_LOSS_XENT;
    ck_soma(soma_checkpoint_save(path, m, NULL, &info));
    ck_fails(soma_checkpoint_load(path, cpu, &back, &got), SOMA_ERR_FORMAT, "'target_normalizer' is for loss mse",
             "not xent");
    info.loss = SOMA_LOSS_MSE;
    info.target_normalizer.features = 2;
    ck_fails(soma_checkpoint_save(path, m, NULL, &info), SOMA_ERR_INVALID_ARG, "2 targets", "3 outputs");
    /* none: no key, no tensors, and nothing is undone */
    info.target_normalizer = (soma_normalizer){.kind = SOMA_NORM_NONE};
    ck_soma(soma_checkpoint_save(path, m, NULL, &info));
    ck_soma(soma_checkpoint_load(path, cpu, &back, &got));
    ck_assert_int_eq(got.target_normalizer.kind, SOMA_NORM_NONE);
    ck_assert_ptr_null(got.target_normalizer.offset);
    float kept[21];
    memcpy(kept, y, sizeof kept);
    ck_soma(soma_target_normalizer_undo(&got.target_normalizer, y, rows));
    ck_assert(memcmp(y, kept, sizeof kept) == 0);
    soma_checkpoint_info_free(&got);
    soma_mlp_free(back);
    soma_mlp_free(m);
    soma_device_close(cpu);

    /* refusals */
    soma_normalizer bad;
    ck_fails(soma_target_normalizer_fit(ds, SOMA_NORM_SCALE01, &bad), SOMA_ERR_INVALID_ARG, "'kind' 1");
    ck_fails(soma_target_normalizer_fit(NULL, SOMA_NORM_STANDARDIZE, &bad), SOMA_ERR_INVALID_ARG, "'ds' is NULL");
    y[4 * cols + 2] = NAN;
    ck_fails(soma_target_normalizer_fit(ds, SOMA_NORM_STANDARDIZE, &bad), SOMA_ERR_NUMERIC, "target 2 of row 4");
    soma_dataset *two = NULL;
    ck_soma(soma_dataset_create(rows, 2, 2, &two));
    ck_fails(soma_target_normalizer_apply(&tn, two), SOMA_ERR_SHAPE, "fitted on 3 targets but 'ds' has 2");
    ck_fails(soma_target_normalizer_undo(&tn, NULL, 1), SOMA_ERR_INVALID_ARG, "'y' is NULL");
    soma_normalizer_free(&tn);
    ck_fails(soma_target_normalizer_undo(&tn, y, 1), SOMA_ERR_INVALID_ARG, "no offset/scale");
    soma_dataset_free(two);
    soma_dataset_free(ds);
}
END_TEST

START_TEST(class_names_round_trip_through_a_checkpoint) {
    soma_device *cpu = test_open("cpu");
    soma_mlp *m = NULL;
    ck_soma(soma_mlp_create_simple(cpu, (const int64_t[]){2, 7, 3}, 3, SOMA_ACT_RELU, &m));
    const char *names[] = {"setosa", "vers\"i\\color \xC3\xA9", "virginica", "extra"};
    const char *path = tmp_path("named.safetensors");
    soma_checkpoint_info info = {.loss = SOMA_LOSS_XENT, .n_class_names = 3, .class_names = names};
    ck_soma(soma_checkpoint_save(path, m, NULL, &info));
    soma_mlp *back = NULL;
    soma_checkpoint_info got;
    ck_soma(soma_checkpoint_load(path, cpu, &back, &got));
    ck_assert_int_eq(got.n_class_names, 3);
    for (int k = 0; k < 3; k++) ck_assert_str_eq(got.class_names[k], names[k]);
    soma_checkpoint_info_free(&got);
    ck_assert_ptr_null(got.class_names);
    soma_checkpoint_info_free(&got); /* twice is harmless */
    soma_checkpoint_info_free(NULL);
    soma_mlp_free(back);

    /* fewer names than outputs is allowed; more, a NULL or invalid UTF-8 is not */
    info.n_class_names = 2;
    ck_soma(soma_checkpoint_save(path, m, NULL, &info));
    ck_soma(soma_checkpoint_load(path, cpu, &back, &got));
    ck_assert_int_eq(got.n_class_names, 2);
    soma_checkpoint_info_free(&got);
    soma_mlp_free(back);
    info.n_class_names = 4;
    ck_fails(soma_checkpoint_save(path, m, NULL, &info), SOMA_ERR_INVALID_ARG, "4 class names for a model of 3 outputs");
    info.n_class_names = 2;
    info.class_names = (const char *[]){"ok", "\xFF"};
    ck_fails(soma_checkpoint_save(path, m, NULL, &info), SOMA_ERR_INVALID_ARG, "class name 1 is not valid UTF-8");
    info.class_names = NULL;
    ck_fails(soma_checkpoint_save(path, m, NULL, &info), SOMA_ERR_INVALID_ARG, "info->class_names is NULL");
    /* without names: none come back */
    info.n_class_names = 0;
    ck_soma(soma_checkpoint_save(path, m, NULL, &info));
    ck_soma(soma_checkpoint_load(path, cpu, &back, &got));
    ck_assert_int_eq(got.n_class_names, 0);
    ck_assert_ptr_null(got.class_names);
    soma_checkpoint_info_free(&got);
    soma_mlp_free(back);
    soma_mlp_free(m);
    soma_device_close(cpu);
}
END_TEST

START_TEST(csv_lines_of_any_length) {
    enum { COLS = 5000, ROWS = 3 };
    size_t cap = (size_t)COLS * ROWS * 16 + 1, used = 0;
    char *text = malloc(cap);
    for (int r = 0; r < ROWS; r++)
        for (int c = 0; c < COLS; c++)
            used += (size_t)snprintf(text + used, cap - used, "%d.25%c", r * COLS + c, c == COLS - 1 ? '\n' : ',');
    const char *path = write_text("wide.csv", text);
    free(text);
    soma_dataset *ds = NULL;
    ck_soma(soma_dataset_load_csv(path, NULL, &ds));
    ck_assert_int_eq(soma_dataset_rows(ds), ROWS);
    ck_assert_int_eq(soma_dataset_features(ds), COLS - 1);
    const float *x = soma_dataset_feature_data(ds), *y = soma_dataset_target_data(ds);
    for (int r = 0; r < ROWS; r++) {
        for (int c = 0; c < COLS - 1; c++) ck_assert_float_eq(x[r * (COLS - 1) + c], (float)(r * COLS + c) + 0.25f);
        ck_assert_float_eq(y[r], (float)(r * COLS + COLS - 1) + 0.25f);
    }
    soma_dataset_free(ds);
}
END_TEST

START_TEST(csv_refuses_bad_files) {
    soma_dataset *ds = (soma_dataset *)&ds;
    soma_csv_options o = csv_options(-1, -1, NULL, 0);
    const char *path;

    path = write_text("abc.csv", "a,b,c\n1,2,3\n4,abc,6\n");
    ck_fails(soma_dataset_load_csv(path, &o, &ds), SOMA_ERR_FORMAT, "abc.csv:3:2: 'abc' is not a number");
    ck_assert_ptr_null(ds);
    path = write_text("empty-cell.csv", "x,y,z\n1,,3\n");
    ck_fails(soma_dataset_load_csv(path, &o, &ds), SOMA_ERR_FORMAT, "empty-cell.csv:2:2: '' is not a number");
    path = write_text("comma-decimal.csv", "1;2,5;3\n");
    o = csv_options(0, -1, NULL, ';'); /* no header: line 1 is data */
    ck_fails(soma_dataset_load_csv(path, &o, &ds), SOMA_ERR_FORMAT, "comma-decimal.csv:1:2: '2,5' is not a number");
    o = csv_options(-1, -1, NULL, 0);
    path = write_text("long-cell.csv", "x,y\n0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ,1\n");
    ck_fails(soma_dataset_load_csv(path, &o, &ds), SOMA_ERR_FORMAT, ":2:1: '0123456789abcdefghijklmnopqrstuvwxyzABCD...' is not");

    path = write_text("ragged.csv", "1,2,3,4,5\n1,2,3,4,5\n\n1,2,3,4,5\n1,2,3,4,5\n1,2,3,4,5\n1,2,3,4\n");
    ck_fails(soma_dataset_load_csv(path, &o, &ds), SOMA_ERR_FORMAT, "ragged.csv:7: 4 columns, expected 5 as in line 1");
    path = write_text("ragged-header.csv", "\n\na,b\n1,2,3\n");
    ck_fails(soma_dataset_load_csv(path, &o, &ds), SOMA_ERR_FORMAT, "ragged-header.csv:4: 3 columns, expected 2 as in line 3");

    static const char *const non_finite[] = {"nan", "NaN", "inf", "-Infinity", "1e999"};
    for (size_t i = 0; i < sizeof non_finite / sizeof non_finite[0]; i++) {
        char text[64];
        snprintf(text, sizeof text, "x,y\n1,2\n%s,3\n", non_finite[i]);
        path = write_text("nonfinite.csv", text);
        char want[64];
        snprintf(want, sizeof want, "nonfinite.csv:3:1: '%s': NaN/Inf values are not allowed", non_finite[i]);
        ck_fails(soma_dataset_load_csv(path, &o, &ds), SOMA_ERR_FORMAT, want);
    }
    path = write_text("huge.csv", "1,1e39\n");
    ck_fails(soma_dataset_load_csv(path, &o, &ds), SOMA_ERR_FORMAT, "NaN/Inf values are not allowed (beyond float32's range)");

    path = write_text("empty.csv", "");
    ck_fails(soma_dataset_load_csv(path, &o, &ds), SOMA_ERR_FORMAT, "empty.csv has no data rows (it is empty)");
    path = write_text("blank.csv", "\n  \r\n\n");
    ck_fails(soma_dataset_load_csv(path, &o, &ds), SOMA_ERR_FORMAT, "blank.csv has no data rows");
    path = write_text("header-only.csv", "x,y,label\r\n\r\n");
    ck_fails(soma_dataset_load_csv(path, &o, &ds), SOMA_ERR_FORMAT, "header-only.csv has no data rows (only the header on line 1)");

    path = write_text("one-column.csv", "1\n2\n");
    ck_fails(soma_dataset_load_csv(path, &o, &ds), SOMA_ERR_FORMAT, "one-column.csv:1: 1 column: a target and no features");
    path = write_text("tab-separated.csv", "1,2\n3,4\n");
    o.delimiter = '\t';
    ck_fails(soma_dataset_load_csv(path, &o, &ds), SOMA_ERR_FORMAT, "(wrong delimiter 0x09?)");
    o.delimiter = 0;
    path = write_text("semicolons.csv", "a;b\n1;2\n"); /* read with ',' */
    ck_fails(soma_dataset_load_csv(path, &o, &ds), SOMA_ERR_FORMAT, "(wrong delimiter ','?)");

    path = write_text("three.csv", "x1,x2,price\n1,2,3\n");
    o = csv_options(-1, 3, NULL, 0);
    ck_fails(soma_dataset_load_csv(path, &o, &ds), SOMA_ERR_INVALID_ARG,
             "label_column 3 is out of range: ");
    ck_fails(soma_dataset_load_csv(path, &o, &ds), SOMA_ERR_INVALID_ARG, "three.csv has 3 columns (0..2)");
    o = csv_options(-1, -1, "cost", 0);
    ck_fails(soma_dataset_load_csv(path, &o, &ds), SOMA_ERR_INVALID_ARG,
             "three.csv: no column is named 'cost'; the columns are 'x1', 'x2', 'price'");
    o = csv_options(0, -1, "price", 0);
    ck_fails(soma_dataset_load_csv(path, &o, &ds), SOMA_ERR_INVALID_ARG, "label_name 'price' needs a header");
    path = write_text("numbers.csv", "1,2,3\n4,5,6\n");
    o = csv_options(-1, -1, "price", 0);
    ck_fails(soma_dataset_load_csv(path, &o, &ds), SOMA_ERR_INVALID_ARG, "(its first line is all numbers)");
    path = write_text("twice.csv", "a,b,a\n1,2,3\n");
    o = csv_options(1, -1, "a", 0);
    ck_fails(soma_dataset_load_csv(path, &o, &ds), SOMA_ERR_FORMAT, "label_name 'a' names two columns, 1 and 3");

    /* a header of many long names: the list is cut short, not overflowed */
    char header[4096] = "";
    for (int c = 0; c < 100; c++) {
        char name[40];
        snprintf(name, sizeof name, "%sa_rather_long_column_name_%d", c ? "," : "", c);
        strcat(header, name);
    }
    strcat(header, "\n");
    for (int c = 0; c < 100; c++) strcat(header, c ? ",1" : "1");
    strcat(header, "\n");
    path = write_text("many-names.csv", header);
    o = csv_options(1, -1, "nope", 0);
    ck_fails(soma_dataset_load_csv(path, &o, &ds), SOMA_ERR_INVALID_ARG, ", ... (100 columns)");

    o = csv_options(-1, -1, NULL, 0);
    path = write_text("quote.csv", "\"a,b\n1,2\n");
    ck_fails(soma_dataset_load_csv(path, &o, &ds), SOMA_ERR_FORMAT, "quote.csv:1:1: unterminated quote");
    path = write_text("after-quote.csv", "a,\"b\"c\n1,2\n");
    ck_fails(soma_dataset_load_csv(path, &o, &ds), SOMA_ERR_FORMAT, "after-quote.csv:1:2: text after a closing quote");
    path = write_bytes("binary.csv", "1,2\n3,\0\n", 8);
    ck_fails(soma_dataset_load_csv(path, &o, &ds), SOMA_ERR_FORMAT, "binary.csv:2: the line contains a NUL byte");
    ck_fails(soma_dataset_load_csv(tmp_path("missing.csv"), &o, &ds), SOMA_ERR_IO, "cannot open '");
    ck_fails(soma_dataset_load_csv(tmp_path("missing.csv"), &o, &ds), SOMA_ERR_IO, "missing.csv': No such file");

    path = write_text("fine.csv", "1,2\n");
    o = csv_options(2, -1, NULL, 0);
    ck_fails(soma_dataset_load_csv(path, &o, &ds), SOMA_ERR_INVALID_ARG, "options->header is 2");
    o = csv_options(-1, -2, NULL, 0);
    ck_fails(soma_dataset_load_csv(path, &o, &ds), SOMA_ERR_INVALID_ARG, "options->label_column is -2");
    o = csv_options(-1, -1, NULL, '.');
    ck_fails(soma_dataset_load_csv(path, &o, &ds), SOMA_ERR_INVALID_ARG, "options->delimiter 0x2E");
    ck_fails(soma_dataset_load_csv(NULL, NULL, &ds), SOMA_ERR_INVALID_ARG, "'path' is NULL");
    ck_fails(soma_dataset_load_csv(path, NULL, NULL), SOMA_ERR_INVALID_ARG, "'out' is NULL");
    ck_assert_ptr_null(ds);
}
END_TEST

int main(void) {
    printf("test_data: seed %llu\n", TEST_SEED);
    Suite *s = suite_create("data");
    TCase *datasets = tcase_create("datasets");
    tcase_add_test(datasets, create_checks_its_arguments);
    tcase_add_test(datasets, classes_follow_the_targets_as_written);
    tcase_add_test(datasets, split_sizes);
    tcase_add_test(datasets, split_is_a_seeded_partition);
    tcase_add_test(datasets, split_order_is_pinned);
    tcase_add_test(datasets, split_checks_its_arguments);
    tcase_add_test(datasets, split_in_place_equals_the_copying_split);
    tcase_add_test(datasets, split_in_place_checks_its_arguments);
    tcase_add_test(datasets, scale01_uses_the_global_min_and_max);
    tcase_add_test(datasets, standardize_per_feature);
    tcase_add_test(datasets, normalizer_none_and_errors);
    suite_add_tcase(s, datasets);
    TCase *readers = tcase_create("readers");
    tcase_add_unchecked_fixture(readers, make_tmp_dir, remove_tmp_dir);
    tcase_set_timeout(readers, 30);
    tcase_add_test(readers, idx_round_trip);
    tcase_add_test(readers, idx_refuses_what_it_cannot_read);
    tcase_add_test(readers, csv_reads_headers_crlf_and_odd_numbers);
    tcase_add_test(readers, csv_label_by_index_and_delimiters);
    tcase_add_test(readers, csv_lines_of_any_length);
    tcase_add_test(readers, csv_class_names);
    tcase_add_test(readers, class_names_round_trip_through_a_checkpoint);
    tcase_add_test(readers, target_standardization_fits_undoes_and_round_trips);
    tcase_add_test(readers, csv_refuses_bad_files);
    suite_add_tcase(s, readers);
    Suite *suites[] = {s};
    return test_run(suites, 1, CK_FORK);
}
