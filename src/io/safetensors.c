/* safetensors.c: writing and reading F32 safetensors files.
 *
 * Layout: bytes 0-7 hold N, the header length (u64 little-endian); bytes
 * 8..8+N the JSON header; the rest is the data section, which the tensors'
 * data_offsets [begin, end) index and must tile exactly. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/files.h"
#include "io/json.h"
#include "io/safetensors.h"

/* The reference implementation refuses headers above 100 MB; so do we, so a
 * corrupt length cannot make us allocate gigabytes. */
#define MAX_HEADER_BYTES 100000000ull

/* Floats pass through a staging buffer of this many bytes when written. */
#define CHUNK_BYTES 65536

_Static_assert(sizeof(float) == 4, "safetensors F32 needs a 4-byte float");

struct soma_st_file {
    soma_st_tensor *tensors;
    int n_tensors;
    soma_st_meta *meta;
    int n_meta;
    float *data; /* every tensor's floats: one allocation, tensors point into it */
    int64_t *ints; /* the I64 tensors' values, one allocation */
};

/* Bytes per element, and the elements, of a tensor as the writer gets it. */
static int64_t elem_bytes(const soma_st_tensor *t) { return t->ints ? 8 : 4; }
static int64_t numel_of(const soma_st_tensor *t) { return t->rank == 0 ? 1 : t->shape[0] * (t->rank == 2 ? t->shape[1] : 1); }

/* ---- little-endian bytes ------------------------------------------------------------- */
/* Written byte by byte, so the files are the same on any host. */

static void put_u64le(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64le(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void put_f32le(unsigned char *p, float f) {
    uint32_t v;
    memcpy(&v, &f, 4);
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static float get_f32le(const unsigned char *p) {
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &v, 4);
    return f;
}

/* For printf's %llu, which uint64_t need not be. */
static unsigned long long ull(uint64_t v) { return v; }

static int by_string(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts the n strings and returns one that occurs twice, or NULL (sorting:
 * a checkpoint may hold thousands of names). */
static const char *find_duplicate(const char **strings, int n) {
    qsort(strings, (size_t)n, sizeof *strings, by_string);
    for (int i = 1; i < n; i++)
        if (strcmp(strings[i - 1], strings[i]) == 0) return strings[i];
    return NULL;
}

/* ---- writing ------------------------------------------------------------------------- */

static const char *const write_api = "soma_safetensors_write";

/* Checks the tensors and adds up their bytes. */
static soma_status check_tensors(const char *path, const soma_st_tensor *tensors, int n,
                                 uint64_t *data_bytes) {
    /* Every byte count must fit the int64 data_offsets and a size_t. */
    const int64_t max_floats = (int64_t)((SIZE_MAX < INT64_MAX ? SIZE_MAX : INT64_MAX) / 4);
    *data_bytes = 0;
    for (int i = 0; i < n; i++) {
        const soma_st_tensor *t = &tensors[i];
        if (!t->name)
            return soma_fail(SOMA_ERR_INVALID_ARG, "%s: %s: tensors[%d].name is NULL", write_api, path, i);
        if (!t->name[0])
            return soma_fail(SOMA_ERR_INVALID_ARG, "%s: %s: tensors[%d] has an empty name", write_api, path,
                             i);
        if (strcmp(t->name, "__metadata__") == 0)
            return soma_fail(SOMA_ERR_INVALID_ARG,
                             "%s: %s: tensors[%d] is named '__metadata__', which safetensors reserves",
                             write_api, path, i);
        size_t name_len = strlen(t->name), bad = soma_utf8_check(t->name, name_len);
        if (bad != name_len)
            return soma_fail(SOMA_ERR_INVALID_ARG, "%s: %s: tensors[%d].name is not valid UTF-8 (byte %zu)",
                             write_api, path, i, bad);
        if (t->ints ? t->rank != 0 && t->rank != 1 : t->rank != 1 && t->rank != 2)
            return soma_fail(SOMA_ERR_SHAPE, "%s: %s: tensor '%s' has rank %d (soma writes rank 1 or 2, "
                             "or 0 or 1 for I64)", write_api, path, t->name, t->rank);
        int64_t rows = t->rank == 0 ? 1 : t->shape[0], cols = t->rank == 2 ? t->shape[1] : 1;
        if (rows < 1 || cols < 1) {
            char shape[48];
            if (t->rank == 2) snprintf(shape, sizeof shape, "[%lld, %lld]", (long long)rows, (long long)cols);
            else snprintf(shape, sizeof shape, "[%lld]", (long long)rows);
            return soma_fail(SOMA_ERR_SHAPE, "%s: %s: tensor '%s' has shape %s: dimensions must be >= 1",
                             write_api, path, t->name, shape);
        }
        if (rows > max_floats / cols || (uint64_t)(rows * cols) * 4 > (uint64_t)max_floats * 4 - *data_bytes)
            return soma_fail(SOMA_ERR_SHAPE, "%s: %s: tensor '%s' makes the file too large", write_api,
                             path, t->name);
        if (!t->data && !t->ints)
            return soma_fail(SOMA_ERR_INVALID_ARG, "%s: %s: tensor '%s' has NULL data", write_api, path,
                             t->name);
        *data_bytes += (uint64_t)(rows * cols * elem_bytes(t));
    }
    const char **names = malloc((size_t)(n ? n : 1) * sizeof *names);
    if (!names) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: %s: out of host memory", write_api, path);
    for (int i = 0; i < n; i++) names[i] = tensors[i].name;
    const char *dup = find_duplicate(names, n);
    soma_status status = dup ? soma_fail(SOMA_ERR_INVALID_ARG, "%s: %s: tensor name '%s' appears twice",
                                         write_api, path, dup)
                             : SOMA_OK;
    free(names);
    return status;
}

static soma_status check_meta(const char *path, const soma_st_meta *meta, int n) {
    for (int i = 0; i < n; i++) {
        const char *fields[2] = {meta[i].key, meta[i].value};
        for (int f = 0; f < 2; f++) {
            const char *what = f ? "value" : "key";
            if (!fields[f])
                return soma_fail(SOMA_ERR_INVALID_ARG, "%s: %s: meta[%d].%s is NULL", write_api, path, i,
                                 what);
            size_t len = strlen(fields[f]), bad = soma_utf8_check(fields[f], len);
            if (bad != len)
                return soma_fail(SOMA_ERR_INVALID_ARG, "%s: %s: meta[%d].%s is not valid UTF-8 (byte %zu)",
                                 write_api, path, i, what, bad);
        }
    }
    const char **keys = malloc((size_t)(n ? n : 1) * sizeof *keys);
    if (!keys) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: %s: out of host memory", write_api, path);
    for (int i = 0; i < n; i++) keys[i] = meta[i].key;
    const char *dup = find_duplicate(keys, n);
    soma_status status = dup ? soma_fail(SOMA_ERR_INVALID_ARG, "%s: %s: metadata key '%s' appears twice",
                                         write_api, path, dup)
                             : SOMA_OK;
    free(keys);
    return status;
}

/* The whole prefix of the file: length, JSON (metadata first, then tensors in
 * the caller's order, data packed in the same order), and spaces up to a
 * multiple of 8 so the data section starts 8-byte aligned. */
static void build_header(soma_json_buf *b, const soma_st_tensor *tensors, int n_tensors,
                         const soma_st_meta *meta, int n_meta) {
    soma_json_buf_append(b, "01234567", 8); /* the length, filled in below */
    soma_json_buf_append(b, "{", 1);
    if (n_meta > 0) {
        soma_json_buf_append(b, "\"__metadata__\":{", 16);
        for (int i = 0; i < n_meta; i++) {
            if (i) soma_json_buf_append(b, ",", 1);
            soma_json_buf_append_string(b, meta[i].key);
            soma_json_buf_append(b, ":", 1);
            soma_json_buf_append_string(b, meta[i].value);
        }
        soma_json_buf_append(b, "}", 1);
    }
    uint64_t offset = 0;
    for (int i = 0; i < n_tensors; i++) {
        const soma_st_tensor *t = &tensors[i];
        if (i || n_meta > 0) soma_json_buf_append(b, ",", 1);
        soma_json_buf_append_string(b, t->name);
        soma_json_buf_append(b, t->ints ? ":{\"dtype\":\"I64\",\"shape\":[" : ":{\"dtype\":\"F32\",\"shape\":[", 25);
        for (int d = 0; d < t->rank; d++) {
            if (d) soma_json_buf_append(b, ",", 1);
            soma_json_buf_append_int(b, t->shape[d]);
        }
        uint64_t bytes = (uint64_t)(numel_of(t) * elem_bytes(t));
        soma_json_buf_append(b, "],\"data_offsets\":[", 18);
        soma_json_buf_append_int(b, (int64_t)offset);
        soma_json_buf_append(b, ",", 1);
        soma_json_buf_append_int(b, (int64_t)(offset + bytes));
        soma_json_buf_append(b, "]}", 2);
        offset += bytes;
    }
    soma_json_buf_append(b, "}", 1);
    while (!b->failed && b->len % 8 != 0) soma_json_buf_append(b, " ", 1);
    if (!b->failed) put_u64le((unsigned char *)b->data, (uint64_t)(b->len - 8));
}

/* The floats, little-endian, through a staging chunk. */
static soma_status write_floats(soma_output *out, const soma_st_tensor *tensors, int n_tensors,
                                unsigned char *chunk) {
    for (int i = 0; i < n_tensors; i++) {
        const soma_st_tensor *t = &tensors[i];
        size_t count = (size_t)numel_of(t);
        if (t->ints) { /* a handful of counters: no staging */
            for (size_t j = 0; j < count; j++) {
                unsigned char le[8];
                put_u64le(le, (uint64_t)t->ints[j]);
                SOMA_TRY(soma_output_write(out, le, 8));
            }
            continue;
        }
        for (size_t first = 0; first < count; first += CHUNK_BYTES / 4) {
            size_t k = count - first < CHUNK_BYTES / 4 ? count - first : CHUNK_BYTES / 4;
            for (size_t j = 0; j < k; j++) put_f32le(chunk + 4 * j, t->data[first + j]);
            SOMA_TRY(soma_output_write(out, chunk, 4 * k));
        }
    }
    return SOMA_OK;
}

/* Crash-safe for a regular file; in place for a device or FIFO (io/files.h). */
static soma_status write_file(const char *path, const soma_json_buf *header, const soma_st_tensor *tensors,
                              int n_tensors) {
    unsigned char *chunk = malloc(CHUNK_BYTES);
    if (!chunk) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: %s: out of host memory", write_api, path);
    soma_output out;
    soma_status status = soma_output_open(write_api, path, &out);
    if (status == SOMA_OK) {
        status = soma_output_write(&out, header->data, header->len);
        if (status == SOMA_OK) status = write_floats(&out, tensors, n_tensors, chunk);
        if (status == SOMA_OK) status = soma_output_commit(&out);
        else soma_output_abort(&out);
    }
    free(chunk);
    return status;
}

soma_status soma_safetensors_write(const char *path, const soma_st_tensor *tensors, int n_tensors,
                                   const soma_st_meta *meta, int n_meta) {
    if (!path) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 'path' is NULL", write_api);
    if (!path[0]) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 'path' is empty", write_api);
    if (n_tensors < 0 || n_meta < 0)
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: %s: n_tensors (%d) and n_meta (%d) must be >= 0",
                         write_api, path, n_tensors, n_meta);
    if ((n_tensors > 0 && !tensors) || (n_meta > 0 && !meta))
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: %s: argument '%s' is NULL", write_api, path,
                         n_tensors > 0 && !tensors ? "tensors" : "meta");
    uint64_t data_bytes;
    SOMA_TRY(check_tensors(path, tensors, n_tensors, &data_bytes));
    SOMA_TRY(check_meta(path, meta, n_meta));

    soma_json_buf header = {0};
    build_header(&header, tensors, n_tensors, meta, n_meta);
    soma_status status = header.failed ? soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: %s: out of host memory "
                                                   "for the header", write_api, path)
                                       : write_file(path, &header, tensors, n_tensors);
    soma_json_buf_free(&header);
    return status;
}

/* ---- reading ------------------------------------------------------------------------- */

static const char *const read_api = "soma_safetensors_read";

static soma_status bad(const char *path, const char *fmt, ...) SOMA_PRINTF(2, 3);

/* A SOMA_ERR_FORMAT "soma_safetensors_read: <path>: <reason>". */
static soma_status bad(const char *path, const char *fmt, ...) {
    char reason[900];
    va_list args;
    va_start(args, fmt);
    vsnprintf(reason, sizeof reason, fmt, args);
    va_end(args);
    return soma_fail(SOMA_ERR_FORMAT, "%s: %s: %s", read_api, path, reason);
}

/* One tensor as the header describes it. */
typedef struct entry {
    soma_json_member *member; /* name: member->key */
    int rank, i64;
    int64_t shape[2];
    uint64_t begin, end;
} entry;

/* The safetensors dtypes; soma reads F32 and I64. */
static const char *const known_dtypes[] = {"BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F4",
                                           "F6_E2M3", "F6_E3M2", "I16", "U16", "F16", "BF16", "I32",
                                           "U32", "F32", "F64", "C64", "I64", "U64"};

static soma_status check_dtype(const char *path, const char *name, const soma_json *v, entry *e) {
    if (v->type != SOMA_JSON_STRING)
        return bad(path, "tensor '%s': dtype at byte %llu is %s, not a string", name,
                   ull(v->offset), soma_json_type_name(v->type));
    const char *dtype = v->as.string.chars;
    e->i64 = strcmp(dtype, "I64") == 0;
    if (strcmp(dtype, "F32") == 0 || e->i64) return SOMA_OK;
    for (size_t i = 0; i < sizeof known_dtypes / sizeof known_dtypes[0]; i++)
        if (strcmp(dtype, known_dtypes[i]) == 0)
            return soma_fail(SOMA_ERR_UNSUPPORTED,
                             "%s: %s: tensor '%s': dtype %s is not supported (soma reads F32, and I64 counters)", read_api,
                             path, name, dtype);
    return bad(path, "tensor '%s': unknown dtype '%s' at byte %llu", name, dtype, ull(v->offset));
}

/* "[2, 3, 4]", cut short with "..." when it does not fit. */
static void format_shape(const soma_json *shape, char *buf, size_t size) {
    size_t used = (size_t)snprintf(buf, size, "[");
    for (size_t i = 0; i < shape->as.array.count && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "",
                                 (long long)shape->as.array.items[i].as.number.value);
    if (used < size) snprintf(buf + used, size - used, "]");
    if (used >= size && size > 4) strcpy(buf + size - 4, "...");
}

static soma_status check_shape(const char *path, const char *name, const soma_json *v, entry *e) {
    if (v->type != SOMA_JSON_ARRAY)
        return bad(path, "tensor '%s': shape at byte %llu is %s, not an array", name,
                   ull(v->offset), soma_json_type_name(v->type));
    for (size_t i = 0; i < v->as.array.count; i++) {
        const soma_json *d = &v->as.array.items[i];
        if (d->type != SOMA_JSON_NUMBER || !d->as.number.is_int || d->as.number.value < 0)
            return bad(path, "tensor '%s': shape[%zu] at byte %llu is not a non-negative integer", name, i,
                       ull(d->offset));
    }
    char shape[64];
    format_shape(v, shape, sizeof shape);
    if (e->i64 && v->as.array.count <= 1) { /* a counter, or a row of them */
        e->rank = (int)v->as.array.count;
        e->shape[0] = e->rank ? v->as.array.items[0].as.number.value : 1;
        e->shape[1] = 0;
        if (e->shape[0] == 0 || e->shape[0] > INT64_MAX / 8)
            return soma_fail(SOMA_ERR_UNSUPPORTED, "%s: %s: tensor '%s' has shape %s: soma reads I64 tensors "
                             "of 1 to 2^60 values", read_api, path, name, shape);
        return SOMA_OK;
    }
    if (v->as.array.count != 1 && v->as.array.count != 2)
        return soma_fail(SOMA_ERR_UNSUPPORTED,
                         "%s: %s: tensor '%s' has rank %zu (shape %s): soma loads rank 1 and 2 only", read_api,
                         path, name, v->as.array.count, shape);
    e->rank = (int)v->as.array.count;
    e->shape[0] = v->as.array.items[0].as.number.value;
    e->shape[1] = e->rank == 2 ? v->as.array.items[1].as.number.value : 1;
    if (e->shape[0] == 0 || e->shape[1] == 0)
        return soma_fail(SOMA_ERR_UNSUPPORTED, "%s: %s: tensor '%s' has shape %s: soma tensors have no empty "
                         "dimensions", read_api, path, name, shape);
    if (e->shape[0] > INT64_MAX / 4 / e->shape[1])
        return bad(path, "tensor '%s': shape %s is too large", name, shape);
    if (e->rank == 1) e->shape[1] = 0; /* as soma_st_tensor documents */
    return SOMA_OK;
}

static soma_status check_offsets(const char *path, const char *name, const soma_json *v, uint64_t data_size,
                                 uint64_t data_start, entry *e) {
    int ok = v->type == SOMA_JSON_ARRAY && v->as.array.count == 2;
    const soma_json *items = ok ? v->as.array.items : NULL;
    for (size_t i = 0; ok && i < 2; i++)
        ok = items[i].type == SOMA_JSON_NUMBER && items[i].as.number.is_int && items[i].as.number.value >= 0;
    if (!ok)
        return bad(path, "tensor '%s': data_offsets at byte %llu must be [begin, end], two non-negative "
                   "integers", name, ull(v->offset));
    e->begin = (uint64_t)items[0].as.number.value;
    e->end = (uint64_t)items[1].as.number.value;
    if (e->begin > e->end)
        return bad(path, "tensor '%s': data_offsets [%llu, %llu] end before they begin", name,
                   ull(e->begin), ull(e->end));
    if (e->end > data_size)
        return bad(path, "tensor '%s': data_offsets [%llu, %llu] reach past the end of the %llu-byte data "
                   "section (file bytes %llu-%llu; is the file truncated?)", name, ull(e->begin), ull(e->end),
                   ull(data_size), ull(data_start + e->begin), ull(data_start + e->end));
    uint64_t numel = (uint64_t)e->shape[0] * (uint64_t)(e->rank == 2 ? e->shape[1] : 1), size = e->i64 ? 8 : 4;
    if (numel * size != e->end - e->begin)
        return bad(path, "tensor '%s': its shape holds %llu %s values (%llu bytes) but data_offsets "
                   "[%llu, %llu] span %llu bytes", name, ull(numel), e->i64 ? "I64" : "F32", ull(numel * size),
                   ull(e->begin), ull(e->end), ull(e->end - e->begin));
    return SOMA_OK;
}

static soma_status check_tensor(const char *path, soma_json_member *m, uint64_t data_size,
                                uint64_t data_start, entry *e) {
    const char *name = m->key;
    e->member = m;
    if (strlen(name) != m->key_len)
        return bad(path, "the tensor name at byte %llu contains a NUL character", ull(m->key_offset));
    const soma_json *v = &m->value;
    if (v->type != SOMA_JSON_OBJECT)
        return bad(path, "tensor '%s' at byte %llu is %s, not an object", name, ull(v->offset),
                   soma_json_type_name(v->type));
    static const char *const keys[3] = {"dtype", "shape", "data_offsets"};
    const soma_json *fields[3] = {NULL, NULL, NULL};
    for (size_t i = 0; i < v->as.object.count; i++) {
        const soma_json_member *f = &v->as.object.members[i];
        int k = 0;
        while (k < 3 && strcmp(f->key, keys[k]) != 0) k++;
        if (k == 3 || strlen(f->key) != f->key_len)
            return bad(path, "tensor '%s': unexpected key '%s' at byte %llu (expected dtype, shape, "
                       "data_offsets)", name, f->key, ull(f->key_offset));
        if (fields[k])
            return bad(path, "tensor '%s': key '%s' appears twice (byte %llu)", name, f->key,
                       ull(f->key_offset));
        fields[k] = &f->value;
    }
    for (int k = 0; k < 3; k++)
        if (!fields[k])
            return bad(path, "tensor '%s' at byte %llu has no '%s'", name, ull(v->offset), keys[k]);
    SOMA_TRY(check_dtype(path, name, fields[0], e));
    SOMA_TRY(check_shape(path, name, fields[1], e));
    return check_offsets(path, name, fields[2], data_size, data_start, e);
}

static soma_status check_metadata(const char *path, const soma_json_member *m) {
    const soma_json *v = &m->value;
    if (v->type != SOMA_JSON_OBJECT)
        return bad(path, "__metadata__ at byte %llu is %s, not an object of strings", ull(v->offset),
                   soma_json_type_name(v->type));
    for (size_t i = 0; i < v->as.object.count; i++) {
        const soma_json_member *f = &v->as.object.members[i];
        if (f->value.type != SOMA_JSON_STRING)
            return bad(path, "__metadata__ value of '%s' at byte %llu is %s, not a string", f->key,
                       ull(f->value.offset), soma_json_type_name(f->value.type));
        if (strlen(f->key) != f->key_len || strlen(f->value.as.string.chars) != f->value.as.string.len)
            return bad(path, "__metadata__ entry '%s' at byte %llu contains a NUL character", f->key,
                       ull(f->key_offset));
        for (size_t j = 0; j < i; j++) /* metadata is a handful of entries */
            if (strcmp(v->as.object.members[j].key, f->key) == 0)
                return bad(path, "__metadata__ key '%s' appears twice (byte %llu)", f->key,
                           ull(f->key_offset));
    }
    return SOMA_OK;
}

static int by_name(const void *a, const void *b) {
    return strcmp((*(const entry *const *)a)->member->key, (*(const entry *const *)b)->member->key);
}

static int by_range(const void *a, const void *b) {
    const entry *x = *(const entry *const *)a, *y = *(const entry *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Names unique; ranges tiling [0, data_size) with no gap or overlap. */
static soma_status check_layout(const char *path, entry *entries, int n, uint64_t data_size) {
    entry **order = malloc((size_t)(n ? n : 1) * sizeof *order);
    if (!order) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: %s: out of host memory", read_api, path);
    for (int i = 0; i < n; i++) order[i] = &entries[i];
    soma_status status = SOMA_OK;
    qsort(order, (size_t)n, sizeof *order, by_name);
    for (int i = 1; i < n && status == SOMA_OK; i++)
        if (by_name(&order[i - 1], &order[i]) == 0)
            status = bad(path, "tensor name '%s' appears twice (bytes %llu and %llu)", order[i]->member->key,
                         ull(order[i - 1]->member->key_offset),
                         ull(order[i]->member->key_offset));
    qsort(order, (size_t)n, sizeof *order, by_range);
    uint64_t covered = 0; /* [0, covered) belongs to the tensors so far */
    for (int i = 0; i < n && status == SOMA_OK; i++) {
        const entry *e = order[i];
        if (e->begin < covered)
            status = bad(path, "tensors '%s' [%llu, %llu) and '%s' [%llu, %llu) overlap in the data section",
                         order[i - 1]->member->key, ull(order[i - 1]->begin), ull(order[i - 1]->end),
                         e->member->key, ull(e->begin), ull(e->end));
        else if (e->begin > covered)
            status = bad(path, "bytes [%llu, %llu) of the data section, before tensor '%s', belong to no "
                         "tensor", ull(covered), ull(e->begin), e->member->key);
        covered = e->end;
    }
    if (status == SOMA_OK && covered != data_size)
        status = bad(path, "bytes [%llu, %llu) at the end of the data section belong to no tensor",
                     ull(covered), ull(data_size));
    free(order);
    return status;
}

/* read(2) exactly n bytes, or fail naming the offset where the file ended. */
static soma_status read_fully(const char *path, int fd, void *buf, size_t n, uint64_t offset) {
    char *p = buf;
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, p + got, n - got);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0)
            return soma_fail(SOMA_ERR_IO, "%s: %s: reading at byte %llu failed: %s", read_api, path,
                             ull(offset + got), strerror(errno));
        if (k == 0)
            return soma_fail(SOMA_ERR_IO, "%s: %s: the file ended at byte %llu while reading (did it "
                             "shrink?)", read_api, path, ull(offset + got));
        got += (size_t)k;
    }
    return SOMA_OK;
}

/* Validates the parsed header and moves its names and metadata into f. */
static soma_status load_header(const char *path, soma_json *root, uint64_t data_size, uint64_t data_start,
                               soma_st_file *f, entry **entries_out) {
    *entries_out = NULL;
    if (root->type != SOMA_JSON_OBJECT)
        return bad(path, "the header at byte %llu is %s, not a JSON object", ull(root->offset),
                   soma_json_type_name(root->type));
    size_t count = root->as.object.count;
    if (count > INT_MAX) return bad(path, "the header lists %zu tensors, too many", count);
    entry *entries = calloc(count ? count : 1, sizeof *entries);
    if (!entries) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: %s: out of host memory", read_api, path);
    *entries_out = entries;
    const soma_json_member *meta = NULL;
    int n = 0;
    for (size_t i = 0; i < count; i++) {
        soma_json_member *m = &root->as.object.members[i];
        if (strcmp(m->key, "__metadata__") == 0 && m->key_len == 12) {
            if (meta)
                return bad(path, "__metadata__ appears twice (bytes %llu and %llu)",
                           ull(meta->key_offset), ull(m->key_offset));
            SOMA_TRY(check_metadata(path, m));
            meta = m;
        } else {
            SOMA_TRY(check_tensor(path, m, data_size, data_start, &entries[n++]));
        }
    }
    SOMA_TRY(check_layout(path, entries, n, data_size));

    int n_meta = meta ? (int)meta->value.as.object.count : 0;
    f->tensors = calloc((size_t)(n ? n : 1), sizeof *f->tensors);
    f->meta = calloc((size_t)(n_meta ? n_meta : 1), sizeof *f->meta);
    if (!f->tensors || !f->meta)
        return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: %s: out of host memory", read_api, path);
    /* The strings move from the JSON tree into f, which frees them. */
    for (int i = 0; i < n; i++) {
        soma_st_tensor *t = &f->tensors[f->n_tensors++];
        t->name = entries[i].member->key;
        entries[i].member->key = NULL;
        t->rank = entries[i].rank;
        t->shape[0] = entries[i].shape[0];
        t->shape[1] = entries[i].shape[1];
    }
    for (int i = 0; i < n_meta; i++) {
        soma_json_member *m = &meta->value.as.object.members[i];
        soma_st_meta *out = &f->meta[f->n_meta++];
        out->key = m->key;
        out->value = m->value.as.string.chars;
        m->key = NULL;
        m->value.as.string.chars = NULL;
    }
    return SOMA_OK;
}

/* Reads the data section and points each tensor into it. */
static soma_status load_data(const char *path, int fd, uint64_t data_size, uint64_t data_start,
                             const entry *entries, soma_st_file *f) {
    if (data_size > SIZE_MAX)
        return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: %s: the %llu-byte data section does not fit in memory",
                         read_api, path, ull(data_size));
    f->data = malloc(data_size ? (size_t)data_size : 1); /* malloc aligns for float */
    if (!f->data)
        return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: %s: cannot allocate %llu bytes for the tensors",
                         read_api, path, ull(data_size));
    unsigned char *bytes = (unsigned char *)f->data;
    SOMA_TRY(read_fully(path, fd, bytes, (size_t)data_size, data_start));
    /* In place, from little-endian bytes to host floats (each begin is a
     * multiple of 4: the F32 and I64 ranges tile the section from 0); the
     * I64 values into an array of their own. */
    size_t n_ints = 0;
    for (int i = 0; i < f->n_tensors; i++)
        if (entries[i].i64) n_ints += (size_t)(entries[i].end - entries[i].begin) / 8;
    if (n_ints && !(f->ints = malloc(n_ints * sizeof *f->ints)))
        return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: %s: out of host memory", read_api, path);
    n_ints = 0;
    for (int i = 0; i < f->n_tensors; i++) {
        const entry *e = &entries[i];
        if (e->i64) {
            f->tensors[i].ints = f->ints + n_ints;
            for (uint64_t at = e->begin; at < e->end; at += 8) f->ints[n_ints++] = (int64_t)get_u64le(bytes + at);
            continue;
        }
        for (uint64_t at = e->begin; at < e->end; at += 4) f->data[at / 4] = get_f32le(bytes + at);
        f->tensors[i].data = f->data + e->begin / 4;
    }
    return SOMA_OK;
}

static soma_status read_open(const char *path, int fd, soma_st_file *f) {
    struct stat st;
    if (fstat(fd, &st) != 0)
        return soma_fail(SOMA_ERR_IO, "%s: %s: cannot stat: %s", read_api, path, strerror(errno));
    uint64_t size = (uint64_t)st.st_size;
    if (size < 8)
        return bad(path, "the file is %llu bytes, too short for the 8-byte header length", ull(size));
    unsigned char prefix[8];
    SOMA_TRY(read_fully(path, fd, prefix, 8, 0));
    uint64_t header_len = get_u64le(prefix);
    if (header_len > MAX_HEADER_BYTES)
        return bad(path, "the header length at byte 0 is %llu, above the limit of %llu bytes",
                   ull(header_len), MAX_HEADER_BYTES);
    if (header_len > size - 8)
        return bad(path, "the header length at byte 0 is %llu, but only %llu bytes follow it (is the file "
                   "truncated?)", ull(header_len), ull(size - 8));
    char *text = malloc((size_t)header_len + 1);
    if (!text) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: %s: out of host memory", read_api, path);
    soma_status status = read_fully(path, fd, text, (size_t)header_len, 8);
    soma_json *root = NULL;
    if (status == SOMA_OK) {
        char what[1024];
        snprintf(what, sizeof what, "%s: %s: the header is not valid JSON", read_api, path);
        status = soma_json_parse(text, (size_t)header_len, what, 8, &root);
    }
    free(text);
    uint64_t data_start = 8 + header_len, data_size = size - data_start;
    entry *entries = NULL;
    if (status == SOMA_OK) status = load_header(path, root, data_size, data_start, f, &entries);
    if (status == SOMA_OK) status = load_data(path, fd, data_size, data_start, entries, f);
    free(entries);
    soma_json_free(root);
    return status;
}

soma_status soma_safetensors_read(const char *path, soma_st_file **out) {
    if (!out) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 'out' is NULL", read_api);
    *out = NULL;
    if (!path) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 'path' is NULL", read_api);
    int fd;
    SOMA_TRY(soma_file_open_input(read_api, "", path, &fd));
    soma_st_file *f = calloc(1, sizeof *f);
    soma_status status = f ? read_open(path, fd, f)
                           : soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: %s: out of host memory", read_api, path);
    close(fd);
    if (status != SOMA_OK) {
        soma_st_file_free(f);
        return status;
    }
    *out = f;
    return SOMA_OK;
}

void soma_st_file_free(soma_st_file *f) {
    if (!f) return;
    for (int i = 0; i < f->n_tensors; i++) free((char *)f->tensors[i].name);
    for (int i = 0; i < f->n_meta; i++) {
        free((char *)f->meta[i].key);
        free((char *)f->meta[i].value);
    }
    free(f->tensors);
    free(f->meta);
    free(f->data);
    free(f->ints);
    free(f);
}

int soma_st_file_count(const soma_st_file *f) { return f ? f->n_tensors : 0; }

const soma_st_tensor *soma_st_file_tensor(const soma_st_file *f, int index) {
    return f && index >= 0 && index < f->n_tensors ? &f->tensors[index] : NULL;
}

const soma_st_tensor *soma_st_file_find(const soma_st_file *f, const char *name) {
    for (int i = 0; f && name && i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *soma_st_file_meta(const soma_st_file *f, const char *key) {
    for (int i = 0; f && key && i < f->n_meta; i++)
        if (strcmp(f->meta[i].key, key) == 0) return f->meta[i].value;
    return NULL;
}

int soma_st_file_meta_count(const soma_st_file *f) { return f ? f->n_meta : 0; }

const soma_st_meta *soma_st_file_meta_entry(const soma_st_file *f, int index) {
    return f && index >= 0 && index < f->n_meta ? &f->meta[index] : NULL;
}
