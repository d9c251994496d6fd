/* dataset.c: datasets in host memory, their split into training and
 * validation parts, and feature normalization (see soma/data.h). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/host_memory.h"
#include "core/philox.h"
#include "soma/data.h"

struct soma_dataset {
    int64_t rows, features, targets;
    float *x; /* rows x features, row-major */
    float *y; /* rows x targets, row-major */
    int64_t *source; /* a split part's rows in the dataset it came from; NULL: itself */
    char **names;    /* class k's name when the labels were names; one block (pointers, then the text) */
    int64_t n_names;
};

/* Largest element count whose byte size fits in size_t and int64 indexing
 * (the same bound as tensors). */
#define MAX_ELEMENTS (INT64_MAX / (int64_t)sizeof(float) / 4)

/* Float32 holds every integer up to 2^24 and no longer every one above it, so
 * larger targets cannot be class indices (they are regression values). */
#define MAX_CLASS_INDEX 4095.0f /* more "classes" than this is regression (prices, years) */

/* The Philox stream (counter offset) of the split shuffle. The fills of a
 * soma_rng use offsets 0, 1, 2, ..., so this high constant keeps the shuffle
 * independent of the weights initialized from the same seed. */
#define SPLIT_STREAM UINT64_C(0x73706c6974000000) /* "split" */

soma_status soma_dataset_create(int64_t rows, int64_t features, int64_t targets, soma_dataset **out) {
    const char *api = "soma_dataset_create";
    if (!out) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 'out' is NULL", api);
    *out = NULL;
    if (rows < 1 || features < 1 || targets < 1)
        return soma_fail(SOMA_ERR_SHAPE,
                         "%s: %lld rows, %lld features, %lld targets: each must be >= 1", api,
                         (long long)rows, (long long)features, (long long)targets);
    if (rows > MAX_ELEMENTS / features || rows > MAX_ELEMENTS / targets)
        return soma_fail(SOMA_ERR_SHAPE, "%s: %lld rows of %lld features and %lld targets are too many elements",
                         api, (long long)rows, (long long)features, (long long)targets);
    char what[160];
    snprintf(what, sizeof what, "a dataset of %lld rows x (%lld + %lld) floats", (long long)rows,
             (long long)features, (long long)targets);
    SOMA_TRY(soma_host_memory_check(api, what, (uint64_t)(rows * (features + targets)) * sizeof(float)));
    soma_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
    ds->x = calloc((size_t)(rows * features), sizeof(float));
    ds->y = calloc((size_t)(rows * targets), sizeof(float));
    if (!ds->x || !ds->y) {
        double mib = (double)(rows * (features + targets)) * sizeof(float) / (1 << 20);
        soma_dataset_free(ds);
        return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: cannot allocate %lld rows x (%lld + %lld) floats (%.1f MiB)",
                         api, (long long)rows, (long long)features, (long long)targets, mib);
    }
    ds->rows = rows;
    ds->features = features;
    ds->targets = targets;
    *out = ds;
    return SOMA_OK;
}

void soma_dataset_free(soma_dataset *ds) {
    if (!ds) return;
    free(ds->x);
    free(ds->y);
    free(ds->source);
    free(ds->names);
    free(ds);
}

/* ---- class names ------------------------------------------------------------------ */

int64_t soma_dataset_class_name_count(const soma_dataset *ds) { return ds ? ds->n_names : 0; }

const char *soma_dataset_class_name(const soma_dataset *ds, int64_t k) {
    return ds && k >= 0 && k < ds->n_names ? ds->names[k] : NULL;
}

const char *const *soma_dataset_class_names(const soma_dataset *ds) {
    return ds && ds->n_names ? (const char *const *)ds->names : NULL;
}

soma_status soma_dataset_set_class_names(soma_dataset *ds, const char *const *names, int64_t count) {
    const char *api = "soma_dataset_set_class_names";
    if (!ds) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 'ds' is NULL", api);
    if (count < 0 || count > (int64_t)MAX_CLASS_INDEX + 1)
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: count = %lld is not in [0, %d]", api, (long long)count,
                         (int)MAX_CLASS_INDEX + 1);
    if (count > 0 && !names) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 'names' is NULL", api);
    size_t text = 0;
    for (int64_t k = 0; k < count; k++) {
        if (!names[k]) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: names[%lld] is NULL", api, (long long)k);
        text += strlen(names[k]) + 1;
    }
    char **block = NULL;
    if (count > 0) {
        block = malloc((size_t)count * sizeof *block + text);
        if (!block) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
        char *w = (char *)(block + count);
        for (int64_t k = 0; k < count; k++) {
            size_t n = strlen(names[k]) + 1;
            memcpy(w, names[k], n);
            block[k] = w;
            w += n;
        }
    }
    free(ds->names);
    ds->names = block;
    ds->n_names = count;
    return SOMA_OK;
}

int64_t soma_dataset_rows(const soma_dataset *ds) { return ds ? ds->rows : 0; }
int64_t soma_dataset_features(const soma_dataset *ds) { return ds ? ds->features : 0; }
int64_t soma_dataset_targets(const soma_dataset *ds) { return ds ? ds->targets : 0; }
float *soma_dataset_feature_data(soma_dataset *ds) { return ds ? ds->x : NULL; }
float *soma_dataset_target_data(soma_dataset *ds) { return ds ? ds->y : NULL; }
const float *soma_dataset_feature_data_const(const soma_dataset *ds) { return ds ? ds->x : NULL; }
const float *soma_dataset_target_data_const(const soma_dataset *ds) { return ds ? ds->y : NULL; }
int64_t soma_dataset_source_row(const soma_dataset *ds, int64_t row) {
    return ds && ds->source && row >= 0 && row < ds->rows ? ds->source[row] : row;
}

/* Computed on every call, not cached: callers write targets through
 * soma_dataset_target_data after create, and one pass is cheap next to an
 * epoch of training. */
int64_t soma_dataset_classes(const soma_dataset *ds) {
    if (!ds || ds->targets != 1) return 0;
    float largest = 0.0f;
    for (int64_t i = 0; i < ds->rows; i++) {
        float t = ds->y[i];
        /* !(t >= 0) also catches NaN */
        if (!(t >= 0.0f) || t > MAX_CLASS_INDEX || t != floorf(t)) return 0;
        if (t > largest) largest = t;
    }
    return (int64_t)largest + 1;
}

/* ---- split ------------------------------------------------------------------- */

/* A uniform integer in [0, bound] from 64 Philox bits: integer arithmetic
 * only, so the permutation is the same on every machine. The modulo bias is
 * below bound / 2^64, far below anything a dataset could show. */
static uint64_t draw_index(uint64_t seed, uint64_t step, uint64_t bound) {
    soma_philox4 r = soma_philox_block(seed, SPLIT_STREAM, step >> 1);
    unsigned lane = (unsigned)(step & 1) * 2;
    uint64_t bits = ((uint64_t)r.v[lane] << 32) | r.v[lane + 1];
    return bits % (bound + 1);
}

static void copy_rows(const soma_dataset *src, const int64_t *order, soma_dataset *dst) {
    size_t fbytes = (size_t)src->features * sizeof(float);
    size_t tbytes = (size_t)src->targets * sizeof(float);
    for (int64_t i = 0; i < dst->rows; i++) {
        memcpy(dst->x + i * dst->features, src->x + order[i] * src->features, fbytes);
        memcpy(dst->y + i * dst->targets, src->y + order[i] * src->targets, tbytes);
    }
}

/* Checks a split's arguments and sizes its validation part. */
static soma_status check_split(const char *api, const soma_dataset *ds, double fraction, int64_t *n_val) {
    if (!ds) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 'ds' is NULL", api);
    if (!(fraction > 0.0 && fraction < 1.0))
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: fraction %g is not in (0, 1)", api, fraction);
    if (ds->rows < 2)
        return soma_fail(SOMA_ERR_SHAPE, "%s: a dataset of %lld row(s) cannot be split (at least 1 row each)",
                         api, (long long)ds->rows);
    *n_val = (int64_t)llround(fraction * (double)ds->rows);
    if (*n_val < 1) *n_val = 1;
    if (*n_val > ds->rows - 1) *n_val = ds->rows - 1;
    return SOMA_OK;
}

/* The split's order of the rows (training rows first), or NULL when out of
 * memory. Fisher-Yates: step k swaps position n-1-k with a uniform j in
 * [0, n-1-k]. */
static int64_t *split_order(int64_t rows, uint64_t seed) {
    int64_t *order = malloc((size_t)rows * sizeof *order);
    if (!order) return NULL;
    for (int64_t i = 0; i < rows; i++) order[i] = i;
    for (int64_t i = rows - 1, step = 0; i > 0; i--, step++) {
        int64_t j = (int64_t)draw_index(seed, (uint64_t)step, (uint64_t)i);
        int64_t tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    return order;
}

/* Each part's source rows, for the parts' rows order[0 ..) and order[n_train ..). */
static soma_status attach_sources(const soma_dataset *ds, const int64_t *order, soma_dataset *tr,
                                  soma_dataset *va) {
    int64_t *ts = malloc((size_t)tr->rows * sizeof *ts), *vs = malloc((size_t)va->rows * sizeof *vs);
    if (!ts || !vs) {
        free(ts);
        free(vs);
        return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    for (int64_t i = 0; i < tr->rows; i++) ts[i] = soma_dataset_source_row(ds, order[i]);
    for (int64_t i = 0; i < va->rows; i++) vs[i] = soma_dataset_source_row(ds, order[tr->rows + i]);
    free(tr->source);
    free(va->source);
    tr->source = ts;
    va->source = vs;
    return SOMA_OK;
}

soma_status soma_dataset_split(const soma_dataset *ds, double fraction, uint64_t seed,
                               soma_dataset **train, soma_dataset **validation) {
    const char *api = "soma_dataset_split";
    if (!train) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 'train' is NULL", api);
    *train = NULL;
    if (!validation) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 'validation' is NULL", api);
    *validation = NULL;
    int64_t n_val;
    SOMA_TRY(check_split(api, ds, fraction, &n_val));
    int64_t n_train = ds->rows - n_val;

    int64_t *order = split_order(ds->rows, seed);
    if (!order) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
    soma_dataset *tr = NULL, *va = NULL;
    soma_status status = soma_dataset_create(n_train, ds->features, ds->targets, &tr);
    if (status == SOMA_OK) status = soma_dataset_create(n_val, ds->features, ds->targets, &va);
    if (status == SOMA_OK) status = attach_sources(ds, order, tr, va);
    if (status == SOMA_OK) status = soma_dataset_set_class_names(tr, (const char *const *)ds->names, ds->n_names);
    if (status == SOMA_OK) status = soma_dataset_set_class_names(va, (const char *const *)ds->names, ds->n_names);
    if (status != SOMA_OK) {
        char why[512]; /* soma_fail must not format from its own buffer */
        snprintf(why, sizeof why, "%s", soma_last_error());
        free(order);
        soma_dataset_free(tr);
        soma_dataset_free(va);
        return soma_fail(status, "%s: %s", api, why);
    }
    copy_rows(ds, order, tr);
    copy_rows(ds, order + n_train, va);
    free(order);
    *train = tr;
    *validation = va;
    return SOMA_OK;
}

/* Row i of a (features and targets) into row j, or from/to a spare row. */
typedef struct row_mover {
    soma_dataset *ds;
    float *spare_x, *spare_y;
} row_mover;

static void move_row(const row_mover *m, int64_t from, int64_t to) {
    soma_dataset *ds = m->ds;
    float *fx = from < 0 ? m->spare_x : ds->x + from * ds->features;
    float *fy = from < 0 ? m->spare_y : ds->y + from * ds->targets;
    float *tx = to < 0 ? m->spare_x : ds->x + to * ds->features;
    float *ty = to < 0 ? m->spare_y : ds->y + to * ds->targets;
    memcpy(tx, fx, (size_t)ds->features * sizeof(float));
    memcpy(ty, fy, (size_t)ds->targets * sizeof(float));
}

/* Rows [0, rows) of ds become rows order[0 ..) of it: the permutation's
 * cycles, each through one spare row; done[] marks the rows placed. */
static void permute_rows(const row_mover *m, const int64_t *order, unsigned char *done) {
    for (int64_t start = 0; start < m->ds->rows; start++) {
        if (done[start]) continue;
        move_row(m, start, -1);
        int64_t at = start;
        while (order[at] != start) {
            move_row(m, order[at], at);
            done[at] = 1;
            at = order[at];
        }
        move_row(m, -1, at);
        done[at] = 1;
    }
}

/* Gives back the memory past a shrunk part; keeps the block when the
 * allocator cannot (the data is intact either way). */
static float *shrink(float *block, int64_t count) {
    float *smaller = realloc(block, (size_t)count * sizeof *block);
    return smaller ? smaller : block;
}

soma_status soma_dataset_split_in_place(soma_dataset *ds, double fraction, uint64_t seed,
                                        soma_dataset **validation) {
    const char *api = "soma_dataset_split_in_place";
    if (!validation) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 'validation' is NULL", api);
    *validation = NULL;
    int64_t n_val;
    SOMA_TRY(check_split(api, ds, fraction, &n_val));
    const int64_t n_train = ds->rows - n_val;

    /* Everything that can fail comes first, so that a failure leaves ds as it was. */
    int64_t *order = split_order(ds->rows, seed);
    unsigned char *done = calloc((size_t)ds->rows, 1);
    float *spare = malloc((size_t)(ds->features + ds->targets) * sizeof *spare);
    soma_dataset *va = NULL, train_view = {.rows = n_train};
    soma_status status = order && done && spare ? SOMA_OK : soma_fail(SOMA_ERR_OUT_OF_MEMORY, "out of host memory");
    if (status == SOMA_OK) status = soma_dataset_create(n_val, ds->features, ds->targets, &va);
    if (status == SOMA_OK) status = attach_sources(ds, order, &train_view, va);
    if (status == SOMA_OK) status = soma_dataset_set_class_names(va, (const char *const *)ds->names, ds->n_names);
    if (status != SOMA_OK) {
        char why[512]; /* soma_fail must not format from its own buffer */
        snprintf(why, sizeof why, "%s", soma_last_error());
        free(order), free(done), free(spare);
        soma_dataset_free(va);
        return soma_fail(status, "%s: %s", api, why);
    }
    row_mover mover = {.ds = ds, .spare_x = spare, .spare_y = spare + ds->features};
    permute_rows(&mover, order, done);
    memcpy(va->x, ds->x + n_train * ds->features, (size_t)(n_val * ds->features) * sizeof(float));
    memcpy(va->y, ds->y + n_train * ds->targets, (size_t)(n_val * ds->targets) * sizeof(float));
    ds->rows = n_train;
    ds->x = shrink(ds->x, n_train * ds->features);
    ds->y = shrink(ds->y, n_train * ds->targets);
    free(ds->source);
    ds->source = train_view.source;
    free(order), free(done), free(spare);
    *validation = va;
    return SOMA_OK;
}

/* ---- normalization ------------------------------------------------------------ */

/* scale = 1 / spread, or 1 when the spread is 0 (constant data stays as it
 * is, shifted to 0). A spread so small or large that its inverse is not a
 * normal float would turn every value into 0 or Inf: refused. */
static soma_status inverse_spread(const char *what, double spread, float *scale) {
    if (spread == 0.0) {
        *scale = 1.0f;
        return SOMA_OK;
    }
    float s = (float)(1.0 / spread);
    if (!isnormal(s))
        return soma_fail(SOMA_ERR_NUMERIC, "soma_normalizer_fit: %s spread over %g, whose inverse is not a normal float",
                         what, spread);
    *scale = s;
    return SOMA_OK;
}

static soma_status fit_scale01(const soma_dataset *ds, soma_normalizer *out) {
    int64_t n = ds->rows * ds->features;
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        if (ds->x[i] < lo) lo = ds->x[i];
        if (ds->x[i] > hi) hi = ds->x[i];
    }
    float scale = 1.0f;
    SOMA_TRY(inverse_spread("the features", hi - lo, &scale));
    for (int64_t j = 0; j < ds->features; j++) {
        out->offset[j] = (float)lo;
        out->scale[j] = scale;
    }
    return SOMA_OK;
}

/* Two passes in double: mean, then the population variance
 * sum((v - mean)^2) / rows, which stays accurate when |mean| >> std (house
 * prices: mean 3e5, std 8e4). v is rows x cols; what names a column in
 * errors ("feature", "target"). */
static soma_status fit_standardize_columns(const float *v, int64_t rows, int64_t cols, const char *what,
                                           soma_normalizer *out) {
    double *acc = calloc((size_t)cols * 2, sizeof *acc);
    if (!acc) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "soma_normalizer_fit: out of host memory");
    double *mean = acc, *var = acc + cols;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) mean[j] += v[i * cols + j];
    for (int64_t j = 0; j < cols; j++) mean[j] /= (double)rows;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) {
            double d = v[i * cols + j] - mean[j];
            var[j] += d * d;
        }
    soma_status status = SOMA_OK;
    for (int64_t j = 0; j < cols && status == SOMA_OK; j++) {
        char name[48];
        snprintf(name, sizeof name, "%s %lld", what, (long long)j);
        out->offset[j] = (float)mean[j];
        status = inverse_spread(name, sqrt(var[j] / (double)rows), &out->scale[j]);
    }
    free(acc);
    return status;
}

static soma_status fit_standardize(const soma_dataset *ds, soma_normalizer *out) {
    return fit_standardize_columns(ds->x, ds->rows, ds->features, "feature", out);
}

soma_status soma_normalizer_fit(const soma_dataset *ds, soma_norm_kind kind, soma_normalizer *out) {
    const char *api = "soma_normalizer_fit";
    if (!out) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 'out' is NULL", api);
    memset(out, 0, sizeof *out);
    if (!ds) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 'ds' is NULL", api);
    if (kind != SOMA_NORM_NONE && kind != SOMA_NORM_SCALE01 && kind != SOMA_NORM_STANDARDIZE)
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: 'kind' %d is not a soma_norm_kind", api, (int)kind);
    /* Inf or NaN would make every statistic meaningless; say where it is. */
    int64_t n = ds->rows * ds->features;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(ds->x[i]))
            return soma_fail(SOMA_ERR_NUMERIC, "%s: feature %lld of row %lld is %g", api,
                             (long long)(i % ds->features), (long long)(i / ds->features),
                             (double)ds->x[i]);
    float *offset = malloc((size_t)ds->features * sizeof *offset);
    float *scale = malloc((size_t)ds->features * sizeof *scale);
    if (!offset || !scale) {
        free(offset);
        free(scale);
        return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
    }
    soma_normalizer norm = {.kind = kind, .features = ds->features, .offset = offset, .scale = scale};
    soma_status status = SOMA_OK;
    if (kind == SOMA_NORM_SCALE01) {
        status = fit_scale01(ds, &norm);
    } else if (kind == SOMA_NORM_STANDARDIZE) {
        status = fit_standardize(ds, &norm);
    } else {
        for (int64_t j = 0; j < ds->features; j++) {
            offset[j] = 0.0f;
            scale[j] = 1.0f;
        }
    }
    if (status != SOMA_OK) {
        soma_normalizer_free(&norm);
        return status;
    }
    *out = norm;
    return SOMA_OK;
}

soma_status soma_normalizer_apply(const soma_normalizer *norm, soma_dataset *ds) {
    const char *api = "soma_normalizer_apply";
    if (!norm) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 'norm' is NULL", api);
    if (!ds) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 'ds' is NULL", api);
    if (!norm->offset || !norm->scale)
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: 'norm' has no offset/scale (not fitted, or freed)", api);
    if (norm->features != ds->features)
        return soma_fail(SOMA_ERR_SHAPE, "%s: 'norm' was fitted on %lld features but 'ds' has %lld", api,
                         (long long)norm->features, (long long)ds->features);
    int64_t f = ds->features;
    for (int64_t i = 0; i < ds->rows; i++)
        for (int64_t j = 0; j < f; j++)
            ds->x[i * f + j] = (ds->x[i * f + j] - norm->offset[j]) * norm->scale[j];
    return SOMA_OK;
}

void soma_normalizer_free(soma_normalizer *norm) {
    if (!norm) return;
    free(norm->offset);
    free(norm->scale);
    norm->offset = NULL;
    norm->scale = NULL;
    norm->features = 0;
}

/* ---- target standardization (regression) ------------------------------------ */

soma_status soma_target_normalizer_fit(const soma_dataset *ds, soma_norm_kind kind, soma_normalizer *out) {
    const char *api = "soma_target_normalizer_fit";
    if (!out) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 'out' is NULL", api);
    memset(out, 0, sizeof *out);
    if (!ds) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 'ds' is NULL", api);
    if (kind != SOMA_NORM_NONE && kind != SOMA_NORM_STANDARDIZE)
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: 'kind' %d: targets are standardized or left alone "
                         "(SOMA_NORM_STANDARDIZE or SOMA_NORM_NONE)", api, (int)kind);
    if (kind == SOMA_NORM_NONE) return SOMA_OK; /* nothing to store or undo */
    int64_t n = ds->rows * ds->targets;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(ds->y[i]))
            return soma_fail(SOMA_ERR_NUMERIC, "%s: target %lld of row %lld is %g", api, (long long)(i % ds->targets),
                             (long long)soma_dataset_source_row(ds, i / ds->targets), (double)ds->y[i]);
    soma_normalizer norm = {.kind = kind, .features = ds->targets};
    norm.offset = malloc((size_t)ds->targets * sizeof *norm.offset);
    norm.scale = malloc((size_t)ds->targets * sizeof *norm.scale);
    soma_status st = norm.offset && norm.scale ? fit_standardize_columns(ds->y, ds->rows, ds->targets, "target", &norm)
                                               : soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
    if (st != SOMA_OK) {
        soma_normalizer_free(&norm);
        return st;
    }
    *out = norm;
    return SOMA_OK;
}

soma_status soma_target_normalizer_apply(const soma_normalizer *norm, soma_dataset *ds) {
    const char *api = "soma_target_normalizer_apply";
    if (!norm || !ds)
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument '%s' is NULL", api, !norm ? "norm" : "ds");
    if (norm->kind == SOMA_NORM_NONE) return SOMA_OK;
    if (!norm->offset || !norm->scale)
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: 'norm' has no offset/scale (not fitted, or freed)", api);
    if (norm->features != ds->targets)
        return soma_fail(SOMA_ERR_SHAPE, "%s: 'norm' was fitted on %lld targets but 'ds' has %lld", api,
                         (long long)norm->features, (long long)ds->targets);
    int64_t t = ds->targets;
    for (int64_t i = 0; i < ds->rows; i++)
        for (int64_t j = 0; j < t; j++) ds->y[i * t + j] = (ds->y[i * t + j] - norm->offset[j]) * norm->scale[j];
    return SOMA_OK;
}

/* y = y' / scale + offset: the inverse of apply, in double so that a price
 * of 1e6 comes back to the float nearest the exact value */
soma_status soma_target_normalizer_undo(const soma_normalizer *norm, float *y, int64_t rows) {
    const char *api = "soma_target_normalizer_undo";
    if (!norm || (!y && rows > 0))
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument '%s' is NULL", api, !norm ? "norm" : "y");
    if (rows < 0) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: rows = %lld is negative", api, (long long)rows);
    if (norm->kind == SOMA_NORM_NONE) return SOMA_OK;
    if (!norm->offset || !norm->scale)
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: 'norm' has no offset/scale (not fitted, or freed)", api);
    int64_t t = norm->features;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < t; j++)
            y[i * t + j] = (float)((double)y[i * t + j] / (double)norm->scale[j] + (double)norm->offset[j]);
    return SOMA_OK;
}
