/* checkpoint.c: models, optimizer state and training settings in safetensors
 * files (soma/checkpoint.h). Numbers in the metadata are written with enough
 * digits (%.9g for float, %.17g for double) to read back bit for bit, which
 * resuming needs.
 *
 * Loading treats the file as hostile: the checksum first, then every
 * metadata number against its range (before any conversion, so 1e12 never
 * becomes an int), then the architecture against the tensors' shapes (so a
 * 3 KB file cannot ask for a 2-billion-unit layer), then the tensors' values
 * (NaN and infinity refused), and only then allocation. */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/host_memory.h"
#include "io/crc32.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "model/model_internal.h"
#include "soma/checkpoint.h"

/* v2 (written): the checksum covers the metadata and the tensors. v1 (read):
 * the checksum covers the tensors only. */
#define FORMAT "soma.mlp.v2"
#define FORMAT_V1 "soma.mlp.v1"
#define MAX_PARAMS (8 * SOMA_MAX_LAYERS) /* named tensors of a model (soma_mlp_param) */
#define MAX_TENSORS (MAX_PARAMS * 3 + 4)  /* + the two normalizers */
#define MAX_META 48
#define NAME_SIZE 80
#define VALUE_SIZE 32
#define MAX_SIZE INT32_MAX     /* inputs and units: as the CLI's --layers */
#define MAX_STEPS (INT64_C(1) << 53) /* step counts: exact in the double the schedule uses */

/* ---- integrity -------------------------------------------------------------
 * A CRC-32 (io/crc32.h) stored in the metadata as "checksum" and checked on
 * load. v2: over every metadata entry but the checksum (key and value, each
 * with its NUL, in key order), then over every tensor's name, shape and data
 * (name order), so the order of entries in a file does not matter. v1: the
 * tensors alone, so a v1 file's metadata could change unnoticed; v1 files
 * still load, checked that far. The rename in soma_safetensors_write already
 * makes a save atomic; the checksum catches what happens to the file
 * afterwards (a partial copy, a flipped bit, an edited header). Files from
 * other tools carry none and load unchecked when they say format v1. */
static int by_name(const void *a, const void *b) {
    return strcmp((*(const soma_st_tensor *const *)a)->name, (*(const soma_st_tensor *const *)b)->name);
}

static int by_key(const void *a, const void *b) {
    return strcmp((*(const soma_st_meta *const *)a)->key, (*(const soma_st_meta *const *)b)->key);
}

/* The checksum of n tensors and, when meta is not NULL, of n_meta entries
 * (sorted through index arrays; the entry "checksum" is left out). */
static soma_status checksum(const soma_st_meta *const *meta, int n_meta, const soma_st_tensor *const *tensors,
                            int n, uint32_t *out) {
    const soma_st_tensor **sorted = malloc((size_t)(n ? n : 1) * sizeof *sorted);
    const soma_st_meta **keys = malloc((size_t)(n_meta ? n_meta : 1) * sizeof *keys);
    if (!sorted || !keys) {
        free(sorted);
        free(keys);
        return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "checkpoint checksum: out of host memory");
    }
    uint32_t crc = 0;
    if (meta) {
        memcpy(keys, meta, (size_t)n_meta * sizeof *keys);
        qsort(keys, (size_t)n_meta, sizeof *keys, by_key);
        for (int i = 0; i < n_meta; i++) {
            if (strcmp(keys[i]->key, "checksum") == 0) continue;
            crc = soma_crc32_update(crc, keys[i]->key, strlen(keys[i]->key) + 1);
            crc = soma_crc32_update(crc, keys[i]->value, strlen(keys[i]->value) + 1);
        }
    }
    memcpy(sorted, tensors, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, by_name);
    for (int i = 0; i < n; i++) {
        const soma_st_tensor *t = sorted[i];
        int64_t shape[2] = {t->rank == 0 ? 1 : t->shape[0], t->rank == 2 ? t->shape[1] : 1};
        crc = soma_crc32_update(crc, t->name, strlen(t->name) + 1);
        crc = soma_crc32_update(crc, shape, sizeof shape);
        if (t->ints) /* the counters, as stored on this (little-endian) host */
            crc = soma_crc32_update(crc, t->ints, (size_t)(shape[0] * shape[1]) * sizeof(int64_t));
        else
            crc = soma_crc32_update(crc, t->data, (size_t)(shape[0] * shape[1]) * sizeof(float));
    }
    free(sorted);
    free(keys);
    *out = crc;
    return SOMA_OK;
}

/* What a save writes, with the storage its names and values point into. */
typedef struct writer {
    soma_st_tensor tensors[MAX_TENSORS];
    char names[MAX_TENSORS][NAME_SIZE];
    int n_tensors;
    soma_st_meta meta[MAX_META];
    char values[MAX_META][VALUE_SIZE];
    char *layers_value;
    char arch_value[SOMA_ARCH_MAX];
    char *names_value; /* "class_names": a JSON array of strings */
    int n_meta;
} writer;

static void add_meta(writer *w, const char *key, const char *fmt, ...) SOMA_PRINTF(3, 4);
static void add_meta(writer *w, const char *key, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(w->values[w->n_meta], VALUE_SIZE, fmt, args);
    va_end(args);
    w->meta[w->n_meta] = (soma_st_meta){key, w->values[w->n_meta]};
    w->n_meta++;
}

/* Downloads t into a new host array registered under name. */
static soma_status add_tensor(writer *w, const char *name, const soma_tensor *t, int rank) {
    int64_t n = soma_tensor_numel(t);
    float *host = malloc((size_t)n * sizeof *host);
    if (!host) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "soma_checkpoint_save: out of host memory");
    soma_st_tensor *st = &w->tensors[w->n_tensors];
    snprintf(w->names[w->n_tensors], NAME_SIZE, "%s", name);
    *st = (soma_st_tensor){.name = w->names[w->n_tensors], .rank = rank, .data = host,
                           .shape = {rank == 1 ? n : soma_tensor_rows(t), soma_tensor_cols(t)}};
    w->n_tensors++;
    return soma_tensor_download(t, host, (size_t)n);
}

static soma_status add_counter(writer *w, const char *name, int64_t value) {
    int64_t *host = malloc(sizeof *host);
    if (!host) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "soma_checkpoint_save: out of host memory");
    *host = value;
    snprintf(w->names[w->n_tensors], NAME_SIZE, "%s", name);
    w->tensors[w->n_tensors] = (soma_st_tensor){.name = w->names[w->n_tensors], .rank = 0, .shape = {1, 0},
                                                .ints = host};
    w->n_tensors++;
    return SOMA_OK;
}

static soma_status add_host_vector(writer *w, const char *name, const float *v, int64_t n) {
    float *host = malloc((size_t)n * sizeof *host);
    if (!host) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "soma_checkpoint_save: out of host memory");
    memcpy(host, v, (size_t)n * sizeof *host);
    snprintf(w->names[w->n_tensors], NAME_SIZE, "%s", name);
    w->tensors[w->n_tensors] = (soma_st_tensor){.name = w->names[w->n_tensors], .rank = 1,
                                                .shape = {n, 0}, .data = host};
    w->n_tensors++;
    return SOMA_OK;
}

static const char *const slot_names[2][2] = {{"velocity", ""}, {"m", "v"}};
static const char *const norm_names[] = {"none", "scale01", "standardize"};

/* "class_names": ["setosa", "versicolor", ...]: the names of the first
 * classes (at most one a model output, or two for a single-output bce
 * model), valid UTF-8. */
static soma_status describe_class_names(writer *w, soma_mlp *m, const soma_checkpoint_info *info) {
    const char *api = "soma_checkpoint_save";
    int64_t n = info->n_class_names, outputs = soma_mlp_outputs(m);
    if (!info->class_names) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: info->class_names is NULL", api);
    if (n > SOMA_MAX_CLASS_NAMES || (n > outputs && !(outputs == 1 && n == 2)))
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: info has %lld class names for a model of %lld outputs", api,
                         (long long)n, (long long)outputs);
    soma_json_buf b = {0};
    soma_json_buf_append(&b, "[", 1);
    for (int64_t k = 0; k < n; k++) {
        const char *name = info->class_names[k];
        if (!name || soma_utf8_check(name, strlen(name)) != strlen(name)) {
            soma_json_buf_free(&b);
            return soma_fail(SOMA_ERR_INVALID_ARG, "%s: class name %lld is %s", api, (long long)k,
                             name ? "not valid UTF-8" : "NULL");
        }
        if (k) soma_json_buf_append(&b, ", ", 2);
        soma_json_buf_append_string(&b, name);
    }
    soma_json_buf_append(&b, "]", 1);
    if (b.failed) {
        soma_json_buf_free(&b);
        return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: out of host memory", api);
    }
    w->names_value = b.data;
    w->meta[w->n_meta++] = (soma_st_meta){"class_names", w->names_value};
    return SOMA_OK;
}

static soma_status describe(writer *w, soma_mlp *m, soma_optimizer *o, const soma_checkpoint_info *info) {
    add_meta(w, "format", FORMAT);
    add_meta(w, "inputs", "%lld", (long long)soma_mlp_inputs(m));
    /* the architecture in canonical form; and for a plain MLP of dense layers
     * also 'layers' as before (units:act:param:dropout), for readers that
     * know only that */
    SOMA_TRY(soma_mlp_arch(m, w->arch_value, sizeof w->arch_value));
    w->meta[w->n_meta++] = (soma_st_meta){"arch", w->arch_value};
    int n_layers = soma_mlp_layer_count(m), dense = 1;
    for (int l = 0; l < n_layers; l++) dense &= soma_mlp_weight(m, l) != NULL;
    size_t size = (size_t)n_layers * 64 + 1;
    w->layers_value = dense ? calloc(size, 1) : NULL;
    if (dense && !w->layers_value) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "soma_checkpoint_save: out of host memory");
    for (int l = 0; dense && l < n_layers; l++) {
        soma_layer_spec s = soma_mlp_layer(m, l);
        size_t used = strlen(w->layers_value);
        snprintf(w->layers_value + used, size - used, "%s%lld:%s:%.9g:%.9g", l ? "," : "",
                 (long long)s.units, soma_activation_name(s.act), (double)s.act_param, (double)s.dropout);
    }
    if (dense) w->meta[w->n_meta++] = (soma_st_meta){"layers", w->layers_value};
    add_meta(w, "loss", "%s", soma_loss_name(info->loss));
    add_meta(w, "normalizer", "%s", norm_names[info->normalizer.kind]);
    if (info->target_normalizer.kind != SOMA_NORM_NONE) /* files without it read as none */
        add_meta(w, "target_normalizer", "%s", norm_names[info->target_normalizer.kind]);
    if (info->n_class_names > 0) SOMA_TRY(describe_class_names(w, m, info));
    const soma_train_config *t = &info->train;
    add_meta(w, "train.batch", "%lld", (long long)t->batch);
    add_meta(w, "train.epochs", "%d", t->epochs);
    add_meta(w, "train.seed", "%" PRIu64, t->seed);
    add_meta(w, "train.no_shuffle", "%d", t->no_shuffle);
    add_meta(w, "train.patience", "%d", t->patience);
    add_meta(w, "train.precision", "%s", soma_precision_name(t->precision));
    if (info->has_val_split) add_meta(w, "train.val_split", "%.17g", info->val_split);
    add_meta(w, "state.epochs_done", "%d", info->state.epochs_done);
    add_meta(w, "state.steps_in_epoch", "%lld", (long long)info->state.steps_in_epoch);
    add_meta(w, "state.best_epoch", "%d", info->state.best_epoch);
    add_meta(w, "state.best_val_loss", "%.17g", info->state.best_val_loss);
    if (!o) return SOMA_OK;
    const soma_optim_config *c = soma_optimizer_config(o);
    add_meta(w, "optim.kind", "%s", soma_optim_name(c->kind));
    add_meta(w, "optim.lr", "%.9g", (double)c->lr);
    add_meta(w, "optim.momentum", "%.9g", (double)c->momentum);
    add_meta(w, "optim.nesterov", "%d", c->nesterov);
    add_meta(w, "optim.beta1", "%.9g", (double)c->beta1);
    add_meta(w, "optim.beta2", "%.9g", (double)c->beta2);
    add_meta(w, "optim.eps", "%.9g", (double)c->eps);
    add_meta(w, "optim.weight_decay", "%.9g", (double)c->weight_decay);
    add_meta(w, "optim.clip_norm", "%.9g", (double)c->clip_norm);
    add_meta(w, "optim.schedule", "%s", soma_schedule_name(c->schedule));
    add_meta(w, "optim.step_size", "%lld", (long long)c->step_size);
    add_meta(w, "optim.gamma", "%.9g", (double)c->gamma);
    add_meta(w, "optim.warmup_steps", "%lld", (long long)c->warmup_steps);
    add_meta(w, "optim.total_steps", "%lld", (long long)c->total_steps);
    add_meta(w, "optim.min_lr", "%.9g", (double)c->min_lr);
    add_meta(w, "optim.steps", "%lld", (long long)soma_optimizer_steps(o));
    /* the RNG state: shuffles derive from (seed, epoch), dropout masks from (seed, steps) */
    add_meta(w, "rng.seed", "%" PRIu64, t->seed);
    add_meta(w, "rng.offset", "%lld", (long long)soma_optimizer_steps(o));
    return SOMA_OK;
}

/* The host copies a save makes: every parameter, the normalizer and the
 * optimizer state. */
static uint64_t save_bytes(soma_mlp *m, soma_optimizer *o, const soma_normalizer *norm,
                           const soma_normalizer *target_norm) {
    uint64_t floats = 0;
    for (int i = 0; i < soma_mlp_param_count(m); i++) {
        soma_param p = soma_mlp_param(m, i);
        floats += p.value ? (uint64_t)soma_tensor_numel(p.value) : 2;
    }
    uint64_t params = (uint64_t)soma_mlp_parameter_count(m);
    if (o) floats += params * (uint64_t)soma_optimizer_slots(o);
    if (norm->kind != SOMA_NORM_NONE) floats += 2 * (uint64_t)norm->features;
    if (target_norm->kind != SOMA_NORM_NONE) floats += 2 * (uint64_t)target_norm->features;
    return floats * sizeof(float);
}

soma_status soma_checkpoint_save(const char *path, soma_mlp *m, soma_optimizer *o,
                                 const soma_checkpoint_info *info) {
    if (!path || !m || !info)
        return soma_fail(SOMA_ERR_INVALID_ARG, "soma_checkpoint_save: argument '%s' is NULL",
                         !path ? "path" : !m ? "model" : "info");
    if (soma_loss_name(info->loss) == NULL || (unsigned)info->normalizer.kind > SOMA_NORM_STANDARDIZE)
        return soma_fail(SOMA_ERR_INVALID_ARG, "soma_checkpoint_save: info has loss %d, normalizer kind %d",
                         (int)info->loss, (int)info->normalizer.kind);
    const soma_normalizer *tn = &info->target_normalizer;
    if (tn->kind != SOMA_NORM_NONE &&
        (tn->kind != SOMA_NORM_STANDARDIZE || !tn->offset || !tn->scale || tn->features != soma_mlp_outputs(m)))
        return soma_fail(SOMA_ERR_INVALID_ARG, "soma_checkpoint_save: info's target_normalizer (kind %d, %lld "
                         "targets%s) does not standardize the model's %lld outputs", (int)tn->kind,
                         (long long)tn->features, tn->offset && tn->scale ? "" : ", no arrays",
                         (long long)soma_mlp_outputs(m));
    SOMA_TRY(soma_host_memory_check("soma_checkpoint_save", "the host copy of the checkpoint",
                                    save_bytes(m, o, &info->normalizer, tn)));
    writer *w = calloc(1, sizeof *w);
    if (!w) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "soma_checkpoint_save: out of host memory");
    soma_status st = describe(w, m, o, info);
    char name[NAME_SIZE];
    for (int i = 0; i < soma_mlp_param_count(m) && st == SOMA_OK; i++) {
        soma_param p = soma_mlp_param(m, i);
        st = p.count ? add_counter(w, p.name, *p.count) : add_tensor(w, p.name, p.value, p.rank);
    }
    const soma_normalizer *norm = &info->normalizer;
    if (st == SOMA_OK && norm->kind != SOMA_NORM_NONE) {
        st = add_host_vector(w, "normalizer.offset", norm->offset, norm->features);
        if (st == SOMA_OK) st = add_host_vector(w, "normalizer.scale", norm->scale, norm->features);
    }
    if (st == SOMA_OK && tn->kind != SOMA_NORM_NONE) {
        st = add_host_vector(w, "target_normalizer.offset", tn->offset, tn->features);
        if (st == SOMA_OK) st = add_host_vector(w, "target_normalizer.scale", tn->scale, tn->features);
    }
    /* optimizer.<parameter name>.<slot> */
    for (int p = 0; o && p < soma_optimizer_param_count(o) && st == SOMA_OK; p++)
        for (int s = 0; s < soma_optimizer_slots(o) && st == SOMA_OK; s++) {
            soma_param param = soma_optimizer_param(o, p);
            snprintf(name, sizeof name, "optimizer.%s.%s", param.name, slot_names[soma_optimizer_slots(o) - 1][s]);
            st = add_tensor(w, name, soma_optimizer_state(o, p, s), param.rank);
        }
    if (st == SOMA_OK) {
        const soma_st_tensor *ptrs[MAX_TENSORS];
        const soma_st_meta *keys[MAX_META];
        uint32_t crc = 0;
        for (int i = 0; i < w->n_tensors; i++) ptrs[i] = &w->tensors[i];
        for (int i = 0; i < w->n_meta; i++) keys[i] = &w->meta[i];
        st = checksum(keys, w->n_meta, ptrs, w->n_tensors, &crc);
        if (st == SOMA_OK) add_meta(w, "checksum", "crc32:%08x", (unsigned)crc);
    }
    if (st == SOMA_OK) st = soma_safetensors_write(path, w->tensors, w->n_tensors, w->meta, w->n_meta);
    for (int i = 0; i < w->n_tensors; i++) {
        free(w->tensors[i].data);
        free(w->tensors[i].ints);
    }
    free(w->layers_value);
    free(w->names_value);
    free(w);
    return st;
}

/* ---- the metadata, read as hostile input --------------------------------- */

static soma_status meta_string(const soma_st_file *f, const char *path, const char *key,
                               const char **out) {
    *out = soma_st_file_meta(f, key);
    if (!*out)
        return soma_fail(SOMA_ERR_FORMAT, "%s: the metadata has no '%s' (not a soma checkpoint?)", path, key);
    return SOMA_OK;
}

/* A decimal integer in [lo, hi]: digits with an optional minus sign, nothing
 * else (no blanks, no fraction, no exponent). */
static soma_status meta_int(const soma_st_file *f, const char *path, const char *key, int64_t lo, int64_t hi,
                            int64_t *out) {
    const char *s;
    SOMA_TRY(meta_string(f, path, key, &s));
    const char *digits = s[0] == '-' ? s + 1 : s;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!(*digits >= '0' && *digits <= '9') || *end || errno == ERANGE)
        return soma_fail(SOMA_ERR_FORMAT, "%s: metadata '%s' = '%.40s' is not an integer", path, key, s);
    if (v < lo || v > hi)
        return soma_fail(SOMA_ERR_FORMAT, "%s: metadata '%s' = %lld is out of range [%lld, %lld]", path, key, v,
                         (long long)lo, (long long)hi);
    *out = v;
    return SOMA_OK;
}

/* A number in [lo, hi] (lo itself excluded when lo_open); NaN never. */
static soma_status meta_real(const soma_st_file *f, const char *path, const char *key, double lo, double hi,
                             int lo_open, double *out) {
    const char *s;
    SOMA_TRY(meta_string(f, path, key, &s));
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || (errno == ERANGE && fabs(v) > 1.0) || s[0] == ' ' || s[0] == '\t')
        return soma_fail(SOMA_ERR_FORMAT, "%s: metadata '%s' = '%.40s' is not a number", path, key, s);
    if (!(v >= lo && v <= hi) || (lo_open && v == lo))
        return soma_fail(SOMA_ERR_FORMAT, "%s: metadata '%s' = %g is out of range %s%g, %g]", path, key, v,
                         lo_open ? "(" : "[", lo, hi);
    *out = v;
    return SOMA_OK;
}

/* The integer and real fields below, each with its range, read into info. */
#define INT_FIELD(key, lo, hi, dst)                                                            \
    do {                                                                                       \
        int64_t v_;                                                                            \
        SOMA_TRY(meta_int(f, path, key, lo, hi, &v_));                                         \
        (dst) = v_;                                                                            \
    } while (0)
#define REAL_FIELD(key, lo, hi, lo_open, dst)                                                  \
    do {                                                                                       \
        double v_;                                                                             \
        SOMA_TRY(meta_real(f, path, key, lo, hi, lo_open, &v_));                               \
        (dst) = v_;                                                                            \
    } while (0)

static soma_status meta_seed(const soma_st_file *f, const char *path, const char *key, uint64_t *out) {
    const char *s;
    SOMA_TRY(meta_string(f, path, key, &s));
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!(s[0] >= '0' && s[0] <= '9') || *end || errno == ERANGE)
        return soma_fail(SOMA_ERR_FORMAT, "%s: metadata '%s' = '%.40s' is not an integer in [0, 2^64)", path, key,
                         s);
    *out = v;
    return SOMA_OK;
}

/* One "units:activation:param:dropout" entry of 'layers', at *p; moves *p past it. */
static soma_status parse_layer(const char *path, int index, const char **p, soma_layer_spec *s) {
    const char *at = *p;
    char *end = NULL;
    errno = 0;
    long long units = strtoll(at, &end, 10);
    if (!(*at >= '0' && *at <= '9') || *end != ':' || errno == ERANGE || units < 1 || units > MAX_SIZE)
        return soma_fail(SOMA_ERR_FORMAT, "%s: metadata 'layers': layer %d: units at '%.40s' are not in [1, %d]",
                         path, index, at, MAX_SIZE);
    const char *name = end + 1;
    size_t len = strcspn(name, ":");
    char act[32];
    if (name[len] != ':' || len == 0 || len >= sizeof act)
        return soma_fail(SOMA_ERR_FORMAT, "%s: metadata 'layers': layer %d is malformed at '%.40s'", path, index,
                         name);
    memcpy(act, name, len);
    act[len] = '\0';
    if (soma_activation_parse(act, &s->act) != SOMA_OK)
        return soma_fail(SOMA_ERR_FORMAT, "%s: metadata 'layers': layer %d: unknown activation '%s'", path, index,
                         act);
    const char *num = name + len + 1;
    errno = 0;
    double param = strtod(num, &end);
    if (end == num || *end != ':' || !(fabs(param) <= FLT_MAX))
        return soma_fail(SOMA_ERR_FORMAT, "%s: metadata 'layers': layer %d: activation parameter at '%.40s' is "
                         "not a finite number", path, index, num);
    num = end + 1;
    double dropout = strtod(num, &end);
    if (end == num || (*end && *end != ',') || !(dropout >= 0.0 && dropout < 1.0))
        return soma_fail(SOMA_ERR_FORMAT, "%s: metadata 'layers': layer %d: dropout at '%.40s' is not in [0, 1)",
                         path, index, num);
    *s = (soma_layer_spec){.units = units, .act = s->act, .act_param = (float)param, .dropout = (float)dropout};
    *p = *end == ',' ? end + 1 : end;
    return SOMA_OK;
}

/* "units:act:param:dropout,..." */
static soma_status parse_layers(const soma_st_file *f, const char *path, soma_layer_spec *specs, int *n) {
    const char *p;
    SOMA_TRY(meta_string(f, path, "layers", &p));
    *n = 0;
    if (!*p) return soma_fail(SOMA_ERR_FORMAT, "%s: metadata 'layers' is empty", path);
    while (*p) {
        if (*n == SOMA_MAX_LAYERS)
            return soma_fail(SOMA_ERR_FORMAT, "%s: metadata 'layers' has more than %d layers", path, SOMA_MAX_LAYERS);
        SOMA_TRY(parse_layer(path, *n, &p, &specs[*n]));
        (*n)++;
    }
    if (specs[*n - 1].dropout != 0.0f)
        return soma_fail(SOMA_ERR_FORMAT, "%s: metadata 'layers': the output layer has dropout %g", path,
                         (double)specs[*n - 1].dropout);
    return SOMA_OK;
}

/* The architecture string of a file: metadata 'arch' (canonical form), or
 * 'layers' (dense layers only: files from before 'arch', and plain MLPs)
 * turned into one. */
static soma_status read_arch(const soma_st_file *f, const char *path, int64_t inputs, char *arch, size_t size) {
    const char *text = soma_st_file_meta(f, "arch");
    if (!text && !soma_st_file_meta(f, "layers"))
        return soma_fail(SOMA_ERR_FORMAT, "%s: the metadata has no 'arch' (nor 'layers', as older files) (not a "
                         "soma checkpoint?)", path);
    /* 'layers' first where a file has both (a plain MLP): what every soma
     * version reads; the checksum covers both */
    if (text && !soma_st_file_meta(f, "layers")) {
        int64_t in = 0;
        if (soma_arch_canonical(text, arch, size, &in) != SOMA_OK) {
            char why[512];
            snprintf(why, sizeof why, "%s", soma_last_error());
            return soma_fail(SOMA_ERR_FORMAT, "%s: metadata 'arch': %s", path, why);
        }
        if (in != inputs)
            return soma_fail(SOMA_ERR_FORMAT, "%s: metadata 'arch' starts with %lld inputs but 'inputs' is %lld",
                             path, (long long)in, (long long)inputs);
        return SOMA_OK;
    }
    soma_layer_spec specs[SOMA_MAX_LAYERS];
    int n = 0;
    SOMA_TRY(parse_layers(f, path, specs, &n));
    if (soma_arch_of_dense(inputs, specs, n, arch, size) != SOMA_OK)
        return soma_fail(SOMA_ERR_FORMAT, "%s: metadata 'layers' is too long", path);
    return SOMA_OK;
}

/* "[d0, d1]", "[d0]" or "[]" by rank: a shape as safetensors stores it */
static void dims_text(int rank, int64_t d0, int64_t d1, char *buf, size_t size) {
    if (rank == 2)
        snprintf(buf, size, "[%lld, %lld]", (long long)d0, (long long)d1);
    else if (rank == 1)
        snprintf(buf, size, "[%lld]", (long long)d0);
    else
        snprintf(buf, size, "[]");
}

static void shape_text(const soma_st_tensor *t, char *buf, size_t size) {
    dims_text(t->rank, t->shape[0], t->shape[1], buf, size);
}

/* Whether tensor t of the file is what p describes: its rank, shape and
 * dtype (I64 for a counter). */
static int fits(const soma_st_tensor *t, const soma_param_shape *p) {
    if (p->rank == 0) return t->ints && t->rank == 0;
    if (!t->data || t->rank != p->rank) return 0;
    return p->rank == 1 ? t->shape[0] == p->cols : t->shape[0] == p->rows && t->shape[1] == p->cols;
}

/* Every tensor the architecture needs, of the shape it needs: checked before
 * anything is allocated for the model (the shapes come from the
 * architecture alone: soma_arch_param_shapes). */
static soma_status check_architecture(const soma_st_file *f, const char *path, const char *arch) {
    soma_param_shape *shapes = malloc(MAX_PARAMS * sizeof *shapes);
    if (!shapes) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: out of host memory", path);
    int n = 0;
    soma_status st = soma_arch_param_shapes(arch, shapes, MAX_PARAMS, &n);
    if (st != SOMA_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", soma_last_error());
        st = soma_fail(SOMA_ERR_FORMAT, "%s: %s", path, why);
    }
    for (int i = 0; i < n && st == SOMA_OK; i++) {
        const soma_param_shape *p = &shapes[i];
        const soma_st_tensor *t = soma_st_file_find(f, p->name);
        char have[64];
        if (!t) {
            st = soma_fail(SOMA_ERR_FORMAT, "%s: tensor '%s' is missing", path, p->name);
        } else if (!fits(t, p)) {
            shape_text(t, have, sizeof have);
            st = soma_fail(SOMA_ERR_SHAPE, "%s: the metadata describes layer %d as %lld inputs -> %lld units, but "
                           "tensor '%s' has shape %s%s", path, p->layer, (long long)p->in, (long long)p->out,
                           p->name, have, t->ints && p->rank ? " (I64)" : "");
        }
    }
    free(shapes);
    return st;
}

/* NaN or infinity anywhere (weights, normalizer, optimizer state) makes a
 * checkpoint unusable: say where, rather than train or predict on it. */
static soma_status check_finite(const soma_st_file *f, const char *path) {
    for (int i = 0; i < soma_st_file_count(f); i++) {
        const soma_st_tensor *t = soma_st_file_tensor(f, i);
        int64_t n = t->data ? t->shape[0] * (t->rank == 2 ? t->shape[1] : 1) : 0; /* counters are integers */
        for (int64_t k = 0; k < n; k++)
            if (!isfinite(t->data[k]))
                return soma_fail(SOMA_ERR_NUMERIC, "%s: tensor '%s' holds %g at index %lld (saved from a run that "
                                 "diverged, or damaged)", path, t->name, (double)t->data[k], (long long)k);
    }
    return SOMA_OK;
}

static soma_status read_optim(const soma_st_file *f, const char *path, soma_checkpoint_info *info) {
    const char *s;
    soma_optim_config *c = &info->optim;
    SOMA_TRY(meta_string(f, path, "optim.kind", &s));
    if (soma_optim_parse(s, &c->kind) != SOMA_OK)
        return soma_fail(SOMA_ERR_FORMAT, "%s: metadata 'optim.kind' = '%.40s' is not sgd, adam or adamw", path, s);
    SOMA_TRY(meta_string(f, path, "optim.schedule", &s));
    if (soma_schedule_parse(s, &c->schedule) != SOMA_OK)
        return soma_fail(SOMA_ERR_FORMAT, "%s: metadata 'optim.schedule' = '%.40s' is not constant, step or cosine",
                         path, s);
    /* the ranges soma_optimizer_create accepts */
    REAL_FIELD("optim.lr", FLT_TRUE_MIN, FLT_MAX, 0, c->lr);
    REAL_FIELD("optim.momentum", 0.0, 1.0 - 0x1p-24, 0, c->momentum);
    INT_FIELD("optim.nesterov", 0, 1, c->nesterov);
    REAL_FIELD("optim.beta1", 0.0, 1.0 - 0x1p-24, 0, c->beta1);
    REAL_FIELD("optim.beta2", 0.0, 1.0 - 0x1p-24, 0, c->beta2);
    REAL_FIELD("optim.eps", 0.0, FLT_MAX, 0, c->eps);
    REAL_FIELD("optim.weight_decay", 0.0, FLT_MAX, 0, c->weight_decay);
    REAL_FIELD("optim.clip_norm", 0.0, FLT_MAX, 0, c->clip_norm);
    INT_FIELD("optim.step_size", 1, MAX_STEPS, c->step_size);
    REAL_FIELD("optim.gamma", FLT_TRUE_MIN, FLT_MAX, 0, c->gamma);
    INT_FIELD("optim.warmup_steps", 0, MAX_STEPS, c->warmup_steps);
    INT_FIELD("optim.total_steps", 0, MAX_STEPS, c->total_steps);
    REAL_FIELD("optim.min_lr", 0.0, FLT_MAX, 0, c->min_lr);
    INT_FIELD("optim.steps", 0, MAX_STEPS, info->steps);
    if (c->schedule == SOMA_SCHEDULE_COSINE && c->total_steps < 1)
        return soma_fail(SOMA_ERR_FORMAT, "%s: metadata 'optim.total_steps' is 0 but a cosine schedule needs >= 1",
                         path);
    return SOMA_OK;
}

static soma_status read_info(const soma_st_file *f, const char *path, soma_checkpoint_info *info) {
    const char *s;
    SOMA_TRY(meta_string(f, path, "loss", &s));
    if (soma_loss_parse(s, &info->loss) != SOMA_OK)
        return soma_fail(SOMA_ERR_FORMAT, "%s: metadata 'loss' = '%.40s' is not xent, mse or bce", path, s);
    INT_FIELD("train.batch", 0, MAX_STEPS, info->train.batch); /* 0: saved without a training run */
    INT_FIELD("train.epochs", 0, INT_MAX, info->train.epochs);
    SOMA_TRY(meta_seed(f, path, "train.seed", &info->train.seed));
    INT_FIELD("train.no_shuffle", 0, 1, info->train.no_shuffle);
    INT_FIELD("train.patience", 0, INT_MAX, info->train.patience);
    INT_FIELD("state.epochs_done", 0, INT_MAX, info->state.epochs_done);
    INT_FIELD("state.best_epoch", 0, info->state.epochs_done, info->state.best_epoch);
    REAL_FIELD("state.best_val_loss", 0.0, INFINITY, 0, info->state.best_val_loss);
    /* v2 keys; a v1 file has neither */
    info->state.steps_in_epoch = 0;
    if (soma_st_file_meta(f, "state.steps_in_epoch"))
        INT_FIELD("state.steps_in_epoch", 0, MAX_STEPS, info->state.steps_in_epoch);
    info->train.precision = SOMA_PRECISION_FP32; /* files from before --precision */
    if (soma_st_file_meta(f, "train.precision")) {
        SOMA_TRY(meta_string(f, path, "train.precision", &s));
        if (soma_precision_parse(s, &info->train.precision) != SOMA_OK)
            return soma_fail(SOMA_ERR_FORMAT,
                             "%s: metadata 'train.precision' = '%.40s' is not fp32, tf32 or bf16",
                             path, s);
    }
    info->has_val_split = soma_st_file_meta(f, "train.val_split") != NULL;
    if (info->has_val_split) REAL_FIELD("train.val_split", 0.0, 1.0 - 0x1p-53, 0, info->val_split);
    info->has_optimizer = soma_st_file_meta(f, "optim.kind") != NULL;
    return info->has_optimizer ? read_optim(f, path, info) : SOMA_OK;
}

#undef INT_FIELD
#undef REAL_FIELD

/* ---- tensors ----------------------------------------------------------------- */

/* Uploads the tensor `name` of f into t after checking its shape. */
static soma_status load_tensor(const soma_st_file *f, const char *path, const char *name, soma_tensor *t,
                               int rank) {
    const soma_st_tensor *st = soma_st_file_find(f, name);
    if (!st) return soma_fail(SOMA_ERR_FORMAT, "%s: tensor '%s' is missing", path, name);
    int64_t rows = rank == 1 ? 1 : st->shape[0], cols = rank == 1 ? st->shape[0] : st->shape[1];
    if (st->rank != rank || rows != soma_tensor_rows(t) || cols != soma_tensor_cols(t)) {
        char have[64], want[64];
        if (st->rank == 2)
            snprintf(have, sizeof have, "[%lld, %lld]", (long long)st->shape[0], (long long)st->shape[1]);
        else
            snprintf(have, sizeof have, "[%lld]", (long long)st->shape[0]);
        if (rank == 2)
            snprintf(want, sizeof want, "[%lld, %lld]", (long long)soma_tensor_rows(t), (long long)soma_tensor_cols(t));
        else
            snprintf(want, sizeof want, "[%lld]", (long long)soma_tensor_cols(t));
        return soma_fail(SOMA_ERR_SHAPE, "%s: tensor '%s' has shape %s but the model needs %s", path, name,
                         have, want);
    }
    return soma_tensor_upload(t, st->data, (size_t)(rows * cols));
}

/* Parameter p of the model from the file: a counter from an I64 scalar,
 * the others through load_tensor. */
static soma_status load_param(const soma_st_file *f, const char *path, const soma_param *p) {
    if (!p->count) return load_tensor(f, path, p->name, p->value, p->rank);
    const soma_st_tensor *t = soma_st_file_find(f, p->name);
    if (!t) return soma_fail(SOMA_ERR_FORMAT, "%s: tensor '%s' is missing", path, p->name);
    if (!t->ints || t->rank != 0 || t->ints[0] < 0)
        return soma_fail(SOMA_ERR_SHAPE, "%s: tensor '%s' must be an I64 scalar >= 0 (a counter), as PyTorch "
                         "saves it", path, p->name);
    *p->count = t->ints[0];
    return SOMA_OK;
}

static soma_status load_weights_from(const soma_st_file *f, const char *path, soma_mlp *m) {
    for (int i = 0; i < soma_mlp_param_count(m); i++) {
        soma_param p = soma_mlp_param(m, i);
        SOMA_TRY(load_param(f, path, &p));
    }
    return SOMA_OK;
}

/* A plain state dict (no soma metadata: what safetensors.torch.save_file
 * writes for a PyTorch module's state_dict()) must hold exactly the
 * model's tensors: the first missing or mis-shaped one (in the model's
 * order), else the first extra one (in the file's), is the error. */
static soma_status load_state_dict(const soma_st_file *f, const char *path, soma_mlp *m) {
    char arch[SOMA_ARCH_MAX], have[64], want[64];
    SOMA_TRY(soma_mlp_arch(m, arch, sizeof arch));
    for (int i = 0; i < soma_mlp_param_count(m); i++) {
        soma_param p = soma_mlp_param(m, i);
        const soma_st_tensor *t = soma_st_file_find(f, p.name);
        soma_param_shape ps = {.rank = p.rank, .rows = p.value ? soma_tensor_rows(p.value) : 1,
                               .cols = p.value ? soma_tensor_cols(p.value) : 1};
        /* a rank-1 parameter is 1 x cols on the device, [cols] in the file */
        dims_text(ps.rank, ps.rank == 1 ? ps.cols : ps.rows, ps.cols, want, sizeof want);
        if (ps.rank == 0) strcat(want, " (I64)");
        if (!t)
            return soma_fail(SOMA_ERR_FORMAT, "%s: the state dict has no tensor '%s' %s, which the architecture "
                             "%s needs (missing key)", path, p.name, want, arch);
        if (!fits(t, &ps)) {
            shape_text(t, have, sizeof have);
            return soma_fail(SOMA_ERR_SHAPE, "%s: tensor '%s' has shape %s%s but the architecture %s needs %s "
                             "(mis-shaped key)", path, p.name, have, t->ints ? " (I64)" : "", arch, want);
        }
    }
    for (int i = 0; i < soma_st_file_count(f); i++) {
        const soma_st_tensor *t = soma_st_file_tensor(f, i);
        int known = 0;
        for (int k = 0; k < soma_mlp_param_count(m) && !known; k++) known = strcmp(soma_mlp_param(m, k).name, t->name) == 0;
        if (!known)
            return soma_fail(SOMA_ERR_FORMAT, "%s: tensor '%s' of the state dict is not in the architecture %s "
                             "(extra key)", path, t->name, arch);
    }
    return load_weights_from(f, path, m);
}

/* The normalizer `key` (metadata key and tensor prefix: "normalizer" over
 * the inputs, "target_normalizer" over the outputs). optional: a file
 * without the key has none (checkpoints from before target standardization). */
static soma_status read_normalizer(const soma_st_file *f, const char *path, const char *key, int optional,
                                   int64_t size, soma_normalizer *norm) {
    const char *kind = soma_st_file_meta(f, key);
    memset(norm, 0, sizeof *norm);
    if (!kind && optional) return SOMA_OK;
    SOMA_TRY(meta_string(f, path, key, &kind));
    int k = 0;
    while (k < 3 && strcmp(kind, norm_names[k]) != 0) k++;
    if (k == 3 || (optional && k == SOMA_NORM_SCALE01))
        return soma_fail(SOMA_ERR_FORMAT, "%s: unknown %s '%.40s'", path, key, kind);
    norm->kind = (soma_norm_kind)k;
    if (norm->kind == SOMA_NORM_NONE) return SOMA_OK; /* no arrays: nothing to apply */
    char off_name[NAME_SIZE], scale_name[NAME_SIZE];
    snprintf(off_name, sizeof off_name, "%s.offset", key);
    snprintf(scale_name, sizeof scale_name, "%s.scale", key);
    const soma_st_tensor *off = soma_st_file_find(f, off_name);
    const soma_st_tensor *scale = soma_st_file_find(f, scale_name);
    if (!off || !scale || off->rank != 1 || scale->rank != 1 || off->shape[0] != size || scale->shape[0] != size)
        return soma_fail(SOMA_ERR_FORMAT, "%s: %s and %s must be [%lld] tensors", path, off_name, scale_name,
                         (long long)size);
    norm->features = size;
    norm->offset = malloc((size_t)size * sizeof(float));
    norm->scale = malloc((size_t)size * sizeof(float));
    if (!norm->offset || !norm->scale) {
        soma_normalizer_free(norm);
        return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: out of host memory", path);
    }
    memcpy(norm->offset, off->data, (size_t)size * sizeof(float));
    memcpy(norm->scale, scale->data, (size_t)size * sizeof(float));
    /* undo divides by scale: a 0 (or a denormal whose inverse overflows) would give Inf */
    for (int64_t j = 0; optional && j < size; j++)
        if (!isnormal(norm->scale[j])) {
            soma_normalizer_free(norm);
            return soma_fail(SOMA_ERR_FORMAT, "%s: %s[%lld] = %g cannot be undone (not a normal float)", path,
                             scale_name, (long long)j, (double)scale->data[j]);
        }
    return SOMA_OK;
}

/* v1: tensors only; v2: metadata and tensors, and a checksum is required. */
static soma_status verify_checksum(const soma_st_file *f, const char *path, int v1) {
    const char *stored = soma_st_file_meta(f, "checksum");
    if (!stored && v1) return SOMA_OK; /* v1 as another tool writes it */
    if (!stored)
        return soma_fail(SOMA_ERR_FORMAT, "%s: a %s checkpoint must carry a checksum, and this one has none", path,
                         FORMAT);
    int n = soma_st_file_count(f), n_meta = v1 ? 0 : soma_st_file_meta_count(f);
    const soma_st_tensor **ptrs = malloc((size_t)(n ? n : 1) * sizeof *ptrs);
    const soma_st_meta **keys = malloc((size_t)(n_meta ? n_meta : 1) * sizeof *keys);
    soma_status st = SOMA_OK;
    uint32_t crc = 0;
    if (!ptrs || !keys) {
        st = soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: out of host memory", path);
    } else {
        for (int i = 0; i < n; i++) ptrs[i] = soma_st_file_tensor(f, i);
        for (int i = 0; i < n_meta; i++) keys[i] = soma_st_file_meta_entry(f, i);
        st = checksum(v1 ? NULL : keys, n_meta, ptrs, n, &crc);
    }
    free(ptrs);
    free(keys);
    char actual[32];
    snprintf(actual, sizeof actual, "crc32:%08x", (unsigned)crc);
    if (st == SOMA_OK && strcmp(actual, stored) != 0)
        st = soma_fail(SOMA_ERR_FORMAT, "%s: checksum mismatch (the metadata says %.40s, the %s give %s): the file "
                       "is corrupted", path, stored, v1 ? "tensors" : "metadata and tensors", actual);
    return st;
}

/* Reads path and checks that it is an intact soma checkpoint: format,
 * checksum, finite values. With plain not NULL a file without a 'format'
 * (a plain state dict) is accepted too, and *plain says which it was. */
static soma_status open_file(const char *path, soma_st_file **f, int *plain) {
    if (!path) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_checkpoint_load: argument 'path' is NULL");
    SOMA_TRY(soma_safetensors_read(path, f));
    const char *format = soma_st_file_meta(*f, "format");
    int v1 = format && strcmp(format, FORMAT_V1) == 0;
    soma_status st = SOMA_OK;
    if (plain) *plain = !format;
    if (!(plain && !format) && (!format || (!v1 && strcmp(format, FORMAT) != 0)))
        st = soma_fail(SOMA_ERR_FORMAT, "%s: not a soma checkpoint (metadata format is '%.40s', expected '%s' or '%s'%s)",
                       path, format ? format : "(none)", FORMAT, FORMAT_V1,
                       format ? "" : "; a plain state dict loads into a model of its architecture: soma train --arch "
                                     "... --init FILE");
    if (st == SOMA_OK && format) st = verify_checksum(*f, path, v1);
    if (st == SOMA_OK) st = check_finite(*f, path);
    if (st != SOMA_OK) {
        soma_st_file_free(*f);
        *f = NULL;
    }
    return st;
}

/* "class_names" (optional) into one block: the pointers, then the text. */
static soma_status read_class_names(const soma_st_file *f, const char *path, int64_t outputs,
                                    soma_checkpoint_info *info) {
    const char *text = soma_st_file_meta(f, "class_names");
    if (!text) return SOMA_OK;
    char what[600];
    snprintf(what, sizeof what, "%s: metadata 'class_names'", path);
    soma_json *root = NULL;
    SOMA_TRY(soma_json_parse(text, strlen(text), what, 0, &root));
    soma_status st = SOMA_OK;
    size_t n = root->type == SOMA_JSON_ARRAY ? root->as.array.count : 0, bytes = 0;
    if (root->type != SOMA_JSON_ARRAY || n > SOMA_MAX_CLASS_NAMES ||
        ((int64_t)n > outputs && !(outputs == 1 && n == 2)))
        st = soma_fail(SOMA_ERR_FORMAT, "%s is not an array of at most %lld names (the model's outputs)", what,
                       (long long)(outputs == 1 ? 2 : outputs));
    for (size_t k = 0; k < n && st == SOMA_OK; k++) {
        const soma_json *v = &root->as.array.items[k];
        if (v->type != SOMA_JSON_STRING || strlen(v->as.string.chars) != v->as.string.len)
            st = soma_fail(SOMA_ERR_FORMAT, "%s: item %zu is not a string without NUL characters", what, k);
        else
            bytes += v->as.string.len + 1;
    }
    char **block = st == SOMA_OK ? malloc(n * sizeof *block + bytes) : NULL;
    if (st == SOMA_OK && !block) st = soma_fail(SOMA_ERR_OUT_OF_MEMORY, "soma_checkpoint_load: out of host memory");
    if (st == SOMA_OK) {
        char *w = (char *)(block + n);
        for (size_t k = 0; k < n; k++) {
            memcpy(w, root->as.array.items[k].as.string.chars, root->as.array.items[k].as.string.len + 1);
            block[k] = w;
            w += root->as.array.items[k].as.string.len + 1;
        }
        info->class_names = (const char *const *)block;
        info->n_class_names = (int64_t)n;
    }
    soma_json_free(root);
    return st;
}

void soma_checkpoint_info_free(soma_checkpoint_info *info) {
    if (!info) return;
    soma_normalizer_free(&info->normalizer);
    soma_normalizer_free(&info->target_normalizer);
    info->target_normalizer.kind = SOMA_NORM_NONE;
    free((void *)info->class_names);
    info->class_names = NULL;
    info->n_class_names = 0;
}

soma_status soma_checkpoint_load(const char *path, soma_device *dev, soma_mlp **model,
                                 soma_checkpoint_info *info) {
    if (!model || !info || !dev)
        return soma_fail(SOMA_ERR_INVALID_ARG, "soma_checkpoint_load: argument '%s' is NULL",
                         !model ? "model" : !info ? "info" : "device");
    *model = NULL;
    memset(info, 0, sizeof *info);
    soma_st_file *f;
    SOMA_TRY(open_file(path, &f, NULL));
    char arch[SOMA_ARCH_MAX];
    int64_t inputs = 0;
    soma_status st = meta_int(f, path, "inputs", 1, MAX_SIZE, &inputs);
    if (st == SOMA_OK) st = read_arch(f, path, inputs, arch, sizeof arch);
    if (st == SOMA_OK) st = read_info(f, path, info);
    if (st == SOMA_OK) st = check_architecture(f, path, arch);
    if (st == SOMA_OK) st = soma_mlp_create_arch(dev, arch, model);
    if (st == SOMA_OK) st = load_weights_from(f, path, *model);
    if (st == SOMA_OK) st = read_normalizer(f, path, "normalizer", 0, inputs, &info->normalizer);
    if (st == SOMA_OK)
        st = read_normalizer(f, path, "target_normalizer", 1, soma_mlp_outputs(*model), &info->target_normalizer);
    /* undone on the outputs before an argmax it would change: regression only */
    if (st == SOMA_OK && info->target_normalizer.kind != SOMA_NORM_NONE && info->loss != SOMA_LOSS_MSE)
        st = soma_fail(SOMA_ERR_FORMAT, "%s: metadata 'target_normalizer' is for loss mse, not %s", path,
                       soma_loss_name(info->loss));
    if (st == SOMA_OK) st = read_class_names(f, path, soma_mlp_outputs(*model), info);
    if (st != SOMA_OK) {
        soma_mlp_free(*model);
        *model = NULL;
        soma_checkpoint_info_free(info);
    }
    soma_st_file_free(f);
    return st;
}

soma_status soma_checkpoint_load_weights(const char *path, soma_mlp *model) {
    if (!model) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_checkpoint_load_weights: argument 'model' is NULL");
    soma_st_file *f;
    int plain = 0;
    SOMA_TRY(open_file(path, &f, &plain));
    soma_status st = plain ? load_state_dict(f, path, model) : load_weights_from(f, path, model);
    soma_st_file_free(f);
    return st;
}

soma_status soma_checkpoint_load_optimizer(const char *path, soma_optimizer *o) {
    if (!o) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_checkpoint_load_optimizer: argument 'optimizer' is NULL");
    soma_st_file *f;
    SOMA_TRY(open_file(path, &f, NULL));
    int64_t steps = 0;
    soma_status st = meta_int(f, path, "optim.steps", 0, MAX_STEPS, &steps);
    const char *kind = soma_st_file_meta(f, "optim.kind");
    soma_optim_kind k;
    if (st == SOMA_OK && (soma_optim_parse(kind, &k) != SOMA_OK ||
                          (k == SOMA_OPTIM_SGD) != (soma_optimizer_config(o)->kind == SOMA_OPTIM_SGD)))
        st = soma_fail(SOMA_ERR_FORMAT, "%s: optimizer '%.40s' in the file does not match '%s'", path,
                       kind ? kind : "(none)", soma_optim_name(soma_optimizer_config(o)->kind));
    char name[NAME_SIZE];
    int slots = soma_optimizer_slots(o);
    for (int p = 0; st == SOMA_OK && p < soma_optimizer_param_count(o); p++)
        for (int s = 0; s < slots && st == SOMA_OK; s++) {
            soma_param param = soma_optimizer_param(o, p);
            snprintf(name, sizeof name, "optimizer.%s.%s", param.name, slot_names[slots - 1][s]);
            st = load_tensor(f, path, name, soma_optimizer_state(o, p, s), param.rank);
        }
    if (st == SOMA_OK) st = soma_optimizer_set_steps(o, steps);
    soma_st_file_free(f);
    return st;
}
