/* idx.c: the IDX reader (MNIST's format, http://yann.lecun.com/exdb/mnist/).
 *
 * An IDX file is a 4-byte magic number 0x00 0x00 TYPE NDIM, NDIM big-endian
 * uint32 dimensions, then the product of the dimensions elements of TYPE,
 * row-major. soma reads TYPE 0x08 (unsigned byte), which is what MNIST and
 * its relatives (Fashion-MNIST, KMNIST) use. Both headers are checked
 * against the real file sizes before anything is allocated, so a corrupt
 * header cannot ask for gigabytes. */
#define _POSIX_C_SOURCE 200809L /* fileno, fstat */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "io/files.h"
#include "soma/data.h"

#define API "soma_dataset_load_idx"

typedef struct idx_file {
    const char *path;
    FILE *f;
    int64_t file_bytes;
    int64_t header_bytes; /* 4 + 4 * ndim */
    int ndim;
    int64_t count; /* the first dimension */
    int64_t inner; /* the product of the others (1 when ndim is 1) */
} idx_file;

static const char *type_name(unsigned type) {
    switch (type) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "short";
    case 0x0C: return "int";
    case 0x0D: return "float";
    case 0x0E: return "double";
    default: return NULL;
    }
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Reads exactly n bytes at the current position (which is `offset`). */
static soma_status read_exact(const idx_file *x, void *buf, size_t n, int64_t offset) {
    if (fread(buf, 1, n, x->f) == n) return SOMA_OK;
    if (ferror(x->f))
        return soma_fail(SOMA_ERR_IO, API ": '%s': read error at byte %lld: %s", x->path,
                         (long long)offset, strerror(errno));
    /* the size was checked against fstat: the file shrank while we read it */
    return soma_fail(SOMA_ERR_IO, API ": '%s': unexpected end of file at byte %lld (changed while reading?)",
                     x->path, (long long)offset);
}

/* Opens path and checks its header: unsigned bytes, min_ndim..max_ndim
 * dimensions, none zero, a product that fits int64, and a data section of
 * exactly that many bytes. `what` ("images", "labels") names it in messages. */
static soma_status idx_open(const char *path, const char *what, int min_ndim, int max_ndim, idx_file *x) {
    memset(x, 0, sizeof *x);
    x->path = path;
    if (ends_with(path, ".gz") || ends_with(path, ".GZ"))
        return soma_fail(SOMA_ERR_UNSUPPORTED, API ": %s file '%s' is gzip-compressed; gunzip it first",
                         what, path);
    char what_file[32];
    snprintf(what_file, sizeof what_file, "%s file ", what);
    SOMA_TRY(soma_file_fopen_input(API, what_file, path, &x->f));
    struct stat st;
    if (fstat(fileno(x->f), &st) != 0)
        return soma_fail(SOMA_ERR_IO, API ": cannot stat %s file '%s': %s", what, path, strerror(errno));
    x->file_bytes = (int64_t)st.st_size;

    unsigned char magic[4];
    if (x->file_bytes < 4)
        return soma_fail(SOMA_ERR_FORMAT, API ": '%s': truncated: %lld bytes, too short for the 4-byte IDX magic number",
                         path, (long long)x->file_bytes);
    SOMA_TRY(read_exact(x, magic, 4, 0));
    if (magic[0] == 0x1f && magic[1] == 0x8b)
        return soma_fail(SOMA_ERR_UNSUPPORTED, API ": '%s' is gzip-compressed (it starts with 1f 8b); gunzip it first",
                         path);
    if (magic[0] != 0 || magic[1] != 0)
        return soma_fail(SOMA_ERR_FORMAT, API ": '%s': byte 0: magic number %02x %02x %02x %02x does not start with 00 00; not an IDX file",
                         path, magic[0], magic[1], magic[2], magic[3]);
    const char *type = type_name(magic[2]);
    if (!type)
        return soma_fail(SOMA_ERR_FORMAT, API ": '%s': byte 2: unknown IDX type 0x%02X", path, magic[2]);
    if (magic[2] != 0x08)
        return soma_fail(SOMA_ERR_UNSUPPORTED, API ": '%s': byte 2: type 0x%02X (%s) is not supported; %s files must be 0x08 (unsigned byte)",
                         path, magic[2], type, what);
    x->ndim = magic[3];
    if (x->ndim < min_ndim || x->ndim > max_ndim)
        return soma_fail(SOMA_ERR_FORMAT, API ": '%s': byte 3: %s file has %d dimension%s; it must have %s%d",
                         path, what, x->ndim, x->ndim == 1 ? "" : "s", min_ndim == max_ndim ? "" : "at least ",
                         min_ndim);
    x->header_bytes = 4 + 4 * (int64_t)x->ndim;
    if (x->file_bytes < x->header_bytes)
        return soma_fail(SOMA_ERR_FORMAT, API ": '%s': truncated: %d dimensions need a %lld-byte header, but the file has %lld bytes",
                         path, x->ndim, (long long)x->header_bytes, (long long)x->file_bytes);

    int64_t product = 1;
    for (int d = 0; d < x->ndim; d++) {
        unsigned char word[4];
        int64_t offset = 4 + 4 * (int64_t)d;
        SOMA_TRY(read_exact(x, word, 4, offset));
        int64_t size = be32(word);
        if (size == 0) {
            if (d == 0 && x->ndim == 1)
                return soma_fail(SOMA_ERR_FORMAT, API ": '%s': byte %lld: the %s file holds 0 items", path,
                                 (long long)offset, what);
            return soma_fail(SOMA_ERR_FORMAT, API ": '%s': byte %lld: dimension %d is 0", path,
                             (long long)offset, d);
        }
        if (product > INT64_MAX / size)
            return soma_fail(SOMA_ERR_FORMAT, API ": '%s': byte %lld: the dimensions' product overflows int64 at dimension %d (%lld)",
                             path, (long long)offset, d, (long long)size);
        product *= size;
        if (d == 0) x->count = size;
    }
    x->inner = product / x->count;
    int64_t data_bytes = x->file_bytes - x->header_bytes;
    if (data_bytes < product)
        return soma_fail(SOMA_ERR_FORMAT, API ": '%s': byte %lld: truncated: expected %lld bytes of data after the %lld-byte header, found %lld",
                         path, (long long)x->file_bytes, (long long)product, (long long)x->header_bytes,
                         (long long)data_bytes);
    if (data_bytes > product)
        return soma_fail(SOMA_ERR_FORMAT, API ": '%s': byte %lld: %lld bytes of unexpected data after the %lld bytes the header declares",
                         path, (long long)(x->header_bytes + product), (long long)(data_bytes - product),
                         (long long)product);
    return SOMA_OK;
}

/* Reads the data section (unsigned bytes) as floats into out, in chunks. */
static soma_status idx_read(const idx_file *x, float *out) {
    unsigned char chunk[1 << 14];
    int64_t total = x->count * x->inner;
    for (int64_t done = 0; done < total;) {
        size_t n = total - done < (int64_t)sizeof chunk ? (size_t)(total - done) : sizeof chunk;
        SOMA_TRY(read_exact(x, chunk, n, x->header_bytes + done));
        for (size_t i = 0; i < n; i++) out[done + (int64_t)i] = (float)chunk[i];
        done += (int64_t)n;
    }
    return SOMA_OK;
}

static soma_status load(const char *images_path, const char *labels_path, idx_file *images,
                        idx_file *labels, soma_dataset **out) {
    SOMA_TRY(idx_open(images_path, "images", 2, 255, images));
    SOMA_TRY(idx_open(labels_path, "labels", 1, 1, labels));
    if (images->count != labels->count)
        return soma_fail(SOMA_ERR_FORMAT, API ": '%s' holds %lld images but '%s' holds %lld labels",
                         images_path, (long long)images->count, labels_path, (long long)labels->count);
    soma_dataset *ds = NULL;
    SOMA_TRY(soma_dataset_create(images->count, images->inner, 1, &ds));
    soma_status status = idx_read(images, soma_dataset_feature_data(ds));
    if (status == SOMA_OK) status = idx_read(labels, soma_dataset_target_data(ds));
    if (status != SOMA_OK) {
        soma_dataset_free(ds);
        return status;
    }
    *out = ds;
    return SOMA_OK;
}

soma_status soma_dataset_load_idx(const char *images_path, const char *labels_path, soma_dataset **out) {
    if (!out) return soma_fail(SOMA_ERR_INVALID_ARG, API ": argument 'out' is NULL");
    *out = NULL;
    if (!images_path) return soma_fail(SOMA_ERR_INVALID_ARG, API ": argument 'images_path' is NULL");
    if (!labels_path) return soma_fail(SOMA_ERR_INVALID_ARG, API ": argument 'labels_path' is NULL");
    idx_file images, labels;
    memset(&labels, 0, sizeof labels); /* closed below even when images fails first */
    soma_status status = load(images_path, labels_path, &images, &labels, out);
    if (images.f) fclose(images.f);
    if (labels.f) fclose(labels.f);
    return status;
}
