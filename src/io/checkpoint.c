/* checkpoint.c: models, optimizer state and training settings in safetensors
 * files (soma/checkpoint.h). Numbers in the metadata are written with enough
 * digits (%.9g for float, %.17g for double) to read back bit for bit, which
 * resuming needs. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/safetensors.h"
#include "soma/checkpoint.h"

#define FORMAT "soma.mlp.v1"
#define MAX_TENSORS (2 * SOMA_MAX_LAYERS * 3 + 2)
#define MAX_META 40
#define NAME_SIZE 64
#define VALUE_SIZE 32

/* ---- integrity -------------------------------------------------------------
 * A CRC-32 (IEEE 802.3, reflected, as zlib computes it) over every tensor's
 * name, shape and data, taken in name order so that the order of tensors in
 * a file does not matter, is stored in the metadata as "checksum" and checked
 * on load. The rename in soma_safetensors_write already makes a save atomic;
 * the checksum catches what happens to the file afterwards (a partial copy,
 * a flipped bit). Files from other tools carry none and load unchecked. */
static uint32_t crc32_update(uint32_t crc, const void *data, size_t n) {
    static uint32_t table[256];
    if (!table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    const unsigned char *p = data;
    crc = ~crc;
    while (n--) crc = table[(crc ^ *p++) & 0xffu] ^ (crc >> 8);
    return ~crc;
}

static int by_name(const void *a, const void *b) {
    return strcmp((*(const soma_st_tensor *const *)a)->name, (*(const soma_st_tensor *const *)b)->name);
}

/* The checksum of n tensors (sorted by name through an index array). */
static soma_status tensors_checksum(const soma_st_tensor *const *tensors, int n, uint32_t *out) {
    const soma_st_tensor **sorted = malloc((size_t)(n ? n : 1) * sizeof *sorted);
    if (!sorted) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "checkpoint checksum: out of host memory");
    memcpy(sorted, tensors, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, by_name);
    uint32_t crc = 0;
    for (int i = 0; i < n; i++) {
        const soma_st_tensor *t = sorted[i];
        int64_t shape[2] = {t->shape[0], t->rank == 2 ? t->shape[1] : 1};
        crc = crc32_update(crc, t->name, strlen(t->name) + 1);
        crc = crc32_update(crc, shape, sizeof shape);
        crc = crc32_update(crc, t->data, (size_t)(shape[0] * shape[1]) * sizeof(float));
    }
    free(sorted);
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

static soma_status describe(writer *w, soma_mlp *m, soma_optimizer *o, const soma_checkpoint_info *info) {
    add_meta(w, "format", FORMAT);
    add_meta(w, "inputs", "%lld", (long long)soma_mlp_inputs(m));
    int n_layers = soma_mlp_layer_count(m);
    size_t size = (size_t)n_layers * 64 + 1;
    w->layers_value = calloc(size, 1);
    if (!w->layers_value) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "soma_checkpoint_save: out of host memory");
    for (int l = 0; l < n_layers; l++) {
        soma_layer_spec s = soma_mlp_layer(m, l);
        size_t used = strlen(w->layers_value);
        snprintf(w->layers_value + used, size - used, "%s%lld:%s:%.9g:%.9g", l ? "," : "",
                 (long long)s.units, soma_activation_name(s.act), (double)s.act_param, (double)s.dropout);
    }
    w->meta[w->n_meta++] = (soma_st_meta){"layers", w->layers_value};
    add_meta(w, "loss", "%s", soma_loss_name(info->loss));
    const char *norm_names[] = {"none", "scale01", "standardize"};
    add_meta(w, "normalizer", "%s", norm_names[info->normalizer.kind]);
    const soma_train_config *t = &info->train;
    add_meta(w, "train.batch", "%lld", (long long)t->batch);
    add_meta(w, "train.epochs", "%d", t->epochs);
    add_meta(w, "train.seed", "%" PRIu64, t->seed);
    add_meta(w, "train.no_shuffle", "%d", t->no_shuffle);
    add_meta(w, "train.patience", "%d", t->patience);
    add_meta(w, "state.epochs_done", "%d", info->state.epochs_done);
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

soma_status soma_checkpoint_save(const char *path, soma_mlp *m, soma_optimizer *o,
                                 const soma_checkpoint_info *info) {
    if (!path || !m || !info)
        return soma_fail(SOMA_ERR_INVALID_ARG, "soma_checkpoint_save: argument '%s' is NULL",
                         !path ? "path" : !m ? "model" : "info");
    writer *w = calloc(1, sizeof *w);
    if (!w) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "soma_checkpoint_save: out of host memory");
    soma_status st = describe(w, m, o, info);
    char name[NAME_SIZE];
    for (int l = 0; l < soma_mlp_layer_count(m) && st == SOMA_OK; l++) {
        snprintf(name, sizeof name, "layers.%d.weight", l);
        st = add_tensor(w, name, soma_mlp_weight(m, l), 2);
        snprintf(name, sizeof name, "layers.%d.bias", l);
        if (st == SOMA_OK) st = add_tensor(w, name, soma_mlp_bias(m, l), 1);
    }
    const soma_normalizer *norm = &info->normalizer;
    if (st == SOMA_OK && norm->kind != SOMA_NORM_NONE) {
        st = add_host_vector(w, "normalizer.offset", norm->offset, norm->features);
        if (st == SOMA_OK) st = add_host_vector(w, "normalizer.scale", norm->scale, norm->features);
    }
    for (int p = 0; o && p < 2 * soma_mlp_layer_count(m) && st == SOMA_OK; p++)
        for (int s = 0; s < soma_optimizer_slots(o) && st == SOMA_OK; s++) {
            snprintf(name, sizeof name, "optimizer.layers.%d.%s.%s", p / 2, p % 2 ? "bias" : "weight",
                     slot_names[soma_optimizer_slots(o) - 1][s]);
            st = add_tensor(w, name, soma_optimizer_state(o, p, s), p % 2 ? 1 : 2);
        }
    if (st == SOMA_OK) {
        const soma_st_tensor *ptrs[MAX_TENSORS];
        uint32_t crc = 0;
        for (int i = 0; i < w->n_tensors; i++) ptrs[i] = &w->tensors[i];
        st = tensors_checksum(ptrs, w->n_tensors, &crc);
        if (st == SOMA_OK) add_meta(w, "checksum", "crc32:%08x", (unsigned)crc);
    }
    if (st == SOMA_OK) st = soma_safetensors_write(path, w->tensors, w->n_tensors, w->meta, w->n_meta);
    for (int i = 0; i < w->n_tensors; i++) free(w->tensors[i].data);
    free(w->layers_value);
    free(w);
    return st;
}

/* ---- loading ------------------------------------------------------------- */

static soma_status meta_string(const soma_st_file *f, const char *path, const char *key,
                               const char **out) {
    *out = soma_st_file_meta(f, key);
    if (!*out)
        return soma_fail(SOMA_ERR_FORMAT, "%s: the metadata has no '%s' (not a soma checkpoint?)", path, key);
    return SOMA_OK;
}

static soma_status meta_number(const soma_st_file *f, const char *path, const char *key, double *out) {
    const char *s;
    SOMA_TRY(meta_string(f, path, key, &s));
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    if (end == s || *end || errno == ERANGE)
        return soma_fail(SOMA_ERR_FORMAT, "%s: metadata '%s' = '%s' is not a number", path, key, s);
    return SOMA_OK;
}

#define META_NUMBER(f, path, key, dst, type)                                                   \
    do {                                                                                       \
        double meta_v_;                                                                        \
        SOMA_TRY(meta_number(f, path, key, &meta_v_));                                         \
        (dst) = (type)meta_v_;                                                                 \
    } while (0)

/* "units:act:param:dropout,..." */
static soma_status parse_layers(const char *path, const char *text, soma_layer_spec *specs, int *n) {
    *n = 0;
    const char *p = text;
    while (*p) {
        if (*n == SOMA_MAX_LAYERS)
            return soma_fail(SOMA_ERR_FORMAT, "%s: more than %d layers", path, SOMA_MAX_LAYERS);
        char act[32];
        long long units;
        float param, dropout;
        int used = 0;
        if (sscanf(p, "%lld:%31[a-z_]:%g:%g%n", &units, act, &param, &dropout, &used) != 4 || used == 0)
            return soma_fail(SOMA_ERR_FORMAT, "%s: metadata 'layers' is malformed at '%s'", path, p);
        soma_layer_spec *s = &specs[(*n)++];
        s->units = units;
        s->act_param = param;
        s->dropout = dropout;
        if (soma_activation_parse(act, &s->act) != SOMA_OK)
            return soma_fail(SOMA_ERR_FORMAT, "%s: layer %d: unknown activation '%s'", path, *n - 1, act);
        p += used;
        if (*p == ',') p++;
        else if (*p)
            return soma_fail(SOMA_ERR_FORMAT, "%s: metadata 'layers' is malformed at '%s'", path, p);
    }
    if (*n == 0) return soma_fail(SOMA_ERR_FORMAT, "%s: metadata 'layers' is empty", path);
    return SOMA_OK;
}

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

static soma_status load_weights_from(const soma_st_file *f, const char *path, soma_mlp *m) {
    char name[NAME_SIZE];
    for (int l = 0; l < soma_mlp_layer_count(m); l++) {
        snprintf(name, sizeof name, "layers.%d.weight", l);
        SOMA_TRY(load_tensor(f, path, name, soma_mlp_weight(m, l), 2));
        snprintf(name, sizeof name, "layers.%d.bias", l);
        SOMA_TRY(load_tensor(f, path, name, soma_mlp_bias(m, l), 1));
    }
    return SOMA_OK;
}

static soma_status read_info(const soma_st_file *f, const char *path, soma_checkpoint_info *info) {
    const char *s;
    SOMA_TRY(meta_string(f, path, "loss", &s));
    SOMA_TRY(soma_loss_parse(s, &info->loss));
    META_NUMBER(f, path, "train.batch", info->train.batch, int64_t);
    META_NUMBER(f, path, "train.epochs", info->train.epochs, int);
    SOMA_TRY(meta_string(f, path, "train.seed", &s));
    info->train.seed = strtoull(s, NULL, 10);
    META_NUMBER(f, path, "train.no_shuffle", info->train.no_shuffle, int);
    META_NUMBER(f, path, "train.patience", info->train.patience, int);
    META_NUMBER(f, path, "state.epochs_done", info->state.epochs_done, int);
    META_NUMBER(f, path, "state.best_epoch", info->state.best_epoch, int);
    META_NUMBER(f, path, "state.best_val_loss", info->state.best_val_loss, double);
    info->has_optimizer = soma_st_file_meta(f, "optim.kind") != NULL;
    if (!info->has_optimizer) return SOMA_OK;
    soma_optim_config *c = &info->optim;
    SOMA_TRY(meta_string(f, path, "optim.kind", &s));
    SOMA_TRY(soma_optim_parse(s, &c->kind));
    META_NUMBER(f, path, "optim.lr", c->lr, float);
    META_NUMBER(f, path, "optim.momentum", c->momentum, float);
    META_NUMBER(f, path, "optim.nesterov", c->nesterov, int);
    META_NUMBER(f, path, "optim.beta1", c->beta1, float);
    META_NUMBER(f, path, "optim.beta2", c->beta2, float);
    META_NUMBER(f, path, "optim.eps", c->eps, float);
    META_NUMBER(f, path, "optim.weight_decay", c->weight_decay, float);
    META_NUMBER(f, path, "optim.clip_norm", c->clip_norm, float);
    SOMA_TRY(meta_string(f, path, "optim.schedule", &s));
    SOMA_TRY(soma_schedule_parse(s, &c->schedule));
    META_NUMBER(f, path, "optim.step_size", c->step_size, int64_t);
    META_NUMBER(f, path, "optim.gamma", c->gamma, float);
    META_NUMBER(f, path, "optim.warmup_steps", c->warmup_steps, int64_t);
    META_NUMBER(f, path, "optim.total_steps", c->total_steps, int64_t);
    META_NUMBER(f, path, "optim.min_lr", c->min_lr, float);
    META_NUMBER(f, path, "optim.steps", info->steps, int64_t);
    return SOMA_OK;
}

static soma_status read_normalizer(const soma_st_file *f, const char *path, int64_t inputs,
                                   soma_normalizer *norm) {
    const char *kind;
    SOMA_TRY(meta_string(f, path, "normalizer", &kind));
    memset(norm, 0, sizeof *norm);
    if (strcmp(kind, "none") == 0) return SOMA_OK;
    norm->kind = strcmp(kind, "scale01") == 0 ? SOMA_NORM_SCALE01
                 : strcmp(kind, "standardize") == 0 ? SOMA_NORM_STANDARDIZE : SOMA_NORM_NONE;
    if (norm->kind == SOMA_NORM_NONE)
        return soma_fail(SOMA_ERR_FORMAT, "%s: unknown normalizer '%s'", path, kind);
    const soma_st_tensor *off = soma_st_file_find(f, "normalizer.offset");
    const soma_st_tensor *scale = soma_st_file_find(f, "normalizer.scale");
    if (!off || !scale || off->rank != 1 || scale->rank != 1 || off->shape[0] != inputs ||
        scale->shape[0] != inputs)
        return soma_fail(SOMA_ERR_FORMAT, "%s: normalizer.offset and normalizer.scale must be [%lld] tensors",
                         path, (long long)inputs);
    norm->features = inputs;
    norm->offset = malloc((size_t)inputs * sizeof(float));
    norm->scale = malloc((size_t)inputs * sizeof(float));
    if (!norm->offset || !norm->scale) {
        soma_normalizer_free(norm);
        return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: out of host memory", path);
    }
    memcpy(norm->offset, off->data, (size_t)inputs * sizeof(float));
    memcpy(norm->scale, scale->data, (size_t)inputs * sizeof(float));
    return SOMA_OK;
}

static soma_status verify_checksum(const soma_st_file *f, const char *path) {
    const char *stored = soma_st_file_meta(f, "checksum");
    if (!stored) return SOMA_OK; /* written by another tool */
    int n = soma_st_file_count(f);
    const soma_st_tensor **ptrs = malloc((size_t)(n ? n : 1) * sizeof *ptrs);
    if (!ptrs) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: out of host memory", path);
    for (int i = 0; i < n; i++) ptrs[i] = soma_st_file_tensor(f, i);
    uint32_t crc = 0;
    soma_status st = tensors_checksum(ptrs, n, &crc);
    free(ptrs);
    char actual[32];
    snprintf(actual, sizeof actual, "crc32:%08x", (unsigned)crc);
    if (st == SOMA_OK && strcmp(actual, stored) != 0)
        st = soma_fail(SOMA_ERR_FORMAT, "%s: checksum mismatch (the metadata says %s, the tensors give %s): the file is corrupted",
                       path, stored, actual);
    return st;
}

/* Reads path and checks that it is an intact soma checkpoint. */
static soma_status open_checkpoint(const char *path, soma_st_file **f) {
    if (!path) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_checkpoint_load: argument 'path' is NULL");
    SOMA_TRY(soma_safetensors_read(path, f));
    const char *format = soma_st_file_meta(*f, "format");
    soma_status st = SOMA_OK;
    if (!format || strcmp(format, FORMAT) != 0)
        st = soma_fail(SOMA_ERR_FORMAT, "%s: not a soma checkpoint (metadata format is '%s', expected '%s')",
                       path, format ? format : "(none)", FORMAT);
    if (st == SOMA_OK) st = verify_checksum(*f, path);
    if (st != SOMA_OK) {
        soma_st_file_free(*f);
        *f = NULL;
    }
    return st;
}

soma_status soma_checkpoint_load(const char *path, soma_device *dev, soma_mlp **model,
                                 soma_checkpoint_info *info) {
    if (!model || !info || !dev)
        return soma_fail(SOMA_ERR_INVALID_ARG, "soma_checkpoint_load: argument '%s' is NULL",
                         !model ? "model" : !info ? "info" : "device");
    *model = NULL;
    memset(info, 0, sizeof *info);
    soma_st_file *f;
    SOMA_TRY(open_checkpoint(path, &f));
    soma_layer_spec specs[SOMA_MAX_LAYERS];
    int n_layers = 0;
    double inputs = 0;
    const char *layers;
    soma_status st = meta_number(f, path, "inputs", &inputs);
    if (st == SOMA_OK) st = meta_string(f, path, "layers", &layers);
    if (st == SOMA_OK) st = parse_layers(path, layers, specs, &n_layers);
    if (st == SOMA_OK) st = read_info(f, path, info);
    if (st == SOMA_OK) st = soma_mlp_create(dev, (int64_t)inputs, specs, n_layers, model);
    if (st == SOMA_OK) st = load_weights_from(f, path, *model);
    if (st == SOMA_OK) st = read_normalizer(f, path, (int64_t)inputs, &info->normalizer);
    if (st != SOMA_OK) {
        soma_mlp_free(*model);
        *model = NULL;
    }
    soma_st_file_free(f);
    return st;
}

soma_status soma_checkpoint_load_weights(const char *path, soma_mlp *model) {
    if (!model) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_checkpoint_load_weights: argument 'model' is NULL");
    soma_st_file *f;
    SOMA_TRY(open_checkpoint(path, &f));
    soma_status st = load_weights_from(f, path, model);
    soma_st_file_free(f);
    return st;
}

soma_status soma_checkpoint_load_optimizer(const char *path, soma_optimizer *o) {
    if (!o) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_checkpoint_load_optimizer: argument 'optimizer' is NULL");
    soma_st_file *f;
    SOMA_TRY(open_checkpoint(path, &f));
    double steps = 0;
    soma_status st = meta_number(f, path, "optim.steps", &steps);
    const char *kind = soma_st_file_meta(f, "optim.kind");
    soma_optim_kind k;
    if (st == SOMA_OK && (soma_optim_parse(kind, &k) != SOMA_OK ||
                          (k == SOMA_OPTIM_SGD) != (soma_optimizer_config(o)->kind == SOMA_OPTIM_SGD)))
        st = soma_fail(SOMA_ERR_FORMAT, "%s: optimizer '%s' in the file does not match '%s'", path,
                       kind ? kind : "(none)", soma_optim_name(soma_optimizer_config(o)->kind));
    char name[NAME_SIZE];
    int slots = soma_optimizer_slots(o);
    for (int p = 0; st == SOMA_OK && soma_optimizer_state(o, p, 0); p++)
        for (int s = 0; s < slots && st == SOMA_OK; s++) {
            snprintf(name, sizeof name, "optimizer.layers.%d.%s.%s", p / 2, p % 2 ? "bias" : "weight",
                     slot_names[slots - 1][s]);
            st = load_tensor(f, path, name, soma_optimizer_state(o, p, s), p % 2 ? 1 : 2);
        }
    if (st == SOMA_OK) st = soma_optimizer_set_steps(o, (int64_t)steps);
    soma_st_file_free(f);
    return st;
}
