/* npy.c: NumPy's .npy files and .npz archives of them
 * (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html).
 *
 * An .npy file is the magic "\x93NUMPY", a version (1.0: a 2-byte header
 * length; 2.0 and 3.0: 4 bytes), a header that is a Python dict literal
 * {'descr': '<f4', 'fortran_order': False, 'shape': (150, 4), }, then the
 * elements, row-major. soma reads float32/64, signed and unsigned integers of
 * 1 to 8 bytes and bools, either byte order, as float32. An .npz is a ZIP
 * archive of .npy members; np.savez stores them as they are, which is what
 * soma reads (np.savez_compressed deflates them: refused, naming np.savez).
 * Every size in a header is checked against the file before anything is
 * allocated, and a NaN or infinity is refused naming its row. */
#define _POSIX_C_SOURCE 200809L /* fileno, fstat, fseeko */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "io/files.h"
#include "soma/data.h"

#define MAX_DIMS 32
#define MAX_HEADER (1 << 20) /* NumPy writes a few hundred bytes */

/* One array: where its elements are and what they are. */
typedef struct npy_array {
    const char *api;  /* the public function, for messages */
    char name[512];   /* "x.npy" or "data.npz:x.npy" */
    FILE *f;
    int64_t data_offset; /* of the first element, in the file */
    char kind;           /* 'f', 'i', 'u' or 'b' */
    int size;            /* bytes per element */
    int swap;            /* big-endian */
    int ndim;
    int64_t shape[MAX_DIMS];
    int64_t count; /* shape[0] (1 for a scalar, refused) */
    int64_t inner; /* the product of the other dimensions */
} npy_array;

static uint32_t le16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const unsigned char *p) { return le16(p) | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static soma_status read_at(const npy_array *a, void *buf, size_t n, int64_t offset) {
    if (fseeko(a->f, (off_t)offset, SEEK_SET) != 0 || fread(buf, 1, n, a->f) != n)
        return soma_fail(SOMA_ERR_IO, "%s: '%s': cannot read %zu bytes at byte %lld%s%s", a->api, a->name, n,
                         (long long)offset, ferror(a->f) ? ": " : " (truncated?)", ferror(a->f) ? strerror(errno) : "");
    return SOMA_OK;
}

/* The value of 'key' in the header dict: a pointer just after "'key':" and
 * blanks, or NULL. */
static const char *dict_value(const char *header, const char *key) {
    char quoted[32];
    snprintf(quoted, sizeof quoted, "'%s'", key);
    const char *p = strstr(header, quoted);
    if (!p) return NULL;
    p += strlen(quoted);
    while (*p == ' ') p++;
    if (*p++ != ':') return NULL;
    while (*p == ' ') p++;
    return p;
}

static soma_status parse_header(npy_array *a, const char *h) {
    const char *descr = dict_value(h, "descr"), *order = dict_value(h, "fortran_order"),
               *shape = dict_value(h, "shape");
    if (!descr || !order || !shape)
        return soma_fail(SOMA_ERR_FORMAT, "%s: '%s': the header lacks '%s': %.200s", a->api, a->name,
                         !descr ? "descr" : !order ? "fortran_order" : "shape", h);
    /* descr: '<f4': byte order, kind, size */
    char order_char, kind;
    int size = 0, used = 0;
    if (sscanf(descr, "'%c%c%d'%n", &order_char, &kind, &size, &used) != 3 || used == 0 ||
        !strchr("<>|=", order_char))
        return soma_fail(SOMA_ERR_UNSUPPORTED, "%s: '%s': dtype %.40s is not a plain number type (float, int, uint "
                         "or bool)", a->api, a->name, descr);
    int ok = (kind == 'f' && (size == 4 || size == 8)) || ((kind == 'i' || kind == 'u') &&
             (size == 1 || size == 2 || size == 4 || size == 8)) || (kind == 'b' && size == 1);
    if (!ok)
        return soma_fail(SOMA_ERR_UNSUPPORTED, "%s: '%s': dtype '%c%c%d' is not supported (float32/64, int8-64, "
                         "uint8-64 or bool)", a->api, a->name, order_char, kind, size);
    a->kind = kind;
    a->size = size;
    a->swap = order_char == '>' && size > 1;
    /* shape: (d0, d1, ...) */
    if (*shape != '(') return soma_fail(SOMA_ERR_FORMAT, "%s: '%s': shape %.40s is not a tuple", a->api, a->name, shape);
    const char *p = shape + 1;
    a->ndim = 0;
    for (;;) {
        while (*p == ' ' || *p == ',') p++;
        if (*p == ')') break;
        char *end;
        errno = 0;
        long long d = strtoll(p, &end, 10);
        if (end == p || errno == ERANGE || d < 0)
            return soma_fail(SOMA_ERR_FORMAT, "%s: '%s': bad shape %.60s", a->api, a->name, shape);
        if (a->ndim == MAX_DIMS)
            return soma_fail(SOMA_ERR_UNSUPPORTED, "%s: '%s': more than %d dimensions", a->api, a->name, MAX_DIMS);
        a->shape[a->ndim++] = d;
        p = end;
    }
    if (a->ndim == 0)
        return soma_fail(SOMA_ERR_FORMAT, "%s: '%s': a scalar (shape ()); rows are needed", a->api, a->name);
    if (strncmp(order, "True", 4) == 0 && a->ndim > 1)
        return soma_fail(SOMA_ERR_UNSUPPORTED, "%s: '%s': Fortran (column-major) order; save "
                         "np.ascontiguousarray(a) instead", a->api, a->name);
    if (strncmp(order, "True", 4) != 0 && strncmp(order, "False", 5) != 0)
        return soma_fail(SOMA_ERR_FORMAT, "%s: '%s': fortran_order is %.10s", a->api, a->name, order);
    a->count = a->shape[0];
    a->inner = 1;
    for (int d = 1; d < a->ndim; d++) {
        if (a->shape[d] != 0 && a->inner > INT64_MAX / 8 / a->shape[d])
            return soma_fail(SOMA_ERR_FORMAT, "%s: '%s': the shape's product overflows", a->api, a->name);
        a->inner *= a->shape[d];
    }
    if (a->count == 0 || a->inner == 0)
        return soma_fail(SOMA_ERR_FORMAT, "%s: '%s': shape %.60s holds no elements", a->api, a->name, shape);
    if (a->count > INT64_MAX / 8 / a->inner)
        return soma_fail(SOMA_ERR_FORMAT, "%s: '%s': the shape's product overflows", a->api, a->name);
    return SOMA_OK;
}

/* Reads the .npy header at offset of f; bytes: the array's whole size (file
 * or archive member), which the shape must fill exactly. */
static soma_status npy_open(npy_array *a, int64_t offset, int64_t bytes) {
    unsigned char pre[12];
    if (bytes < 10) return soma_fail(SOMA_ERR_FORMAT, "%s: '%s': %lld bytes, too short for an .npy header", a->api,
                                     a->name, (long long)bytes);
    SOMA_TRY(read_at(a, pre, 10, offset));
    if (memcmp(pre, "\x93NUMPY", 6) != 0)
        return soma_fail(SOMA_ERR_FORMAT, "%s: '%s': no \\x93NUMPY magic at its start: not an .npy file", a->api,
                         a->name);
    int major = pre[6];
    if (major < 1 || major > 3)
        return soma_fail(SOMA_ERR_UNSUPPORTED, "%s: '%s': .npy version %d.%d is not supported (1.0 to 3.0)", a->api,
                         a->name, pre[6], pre[7]);
    int64_t prefix = major == 1 ? 10 : 12, header_len;
    if (major == 1) {
        header_len = le16(pre + 8);
    } else {
        if (bytes < 12) return soma_fail(SOMA_ERR_FORMAT, "%s: '%s': truncated header", a->api, a->name);
        SOMA_TRY(read_at(a, pre, 12, offset));
        header_len = le32(pre + 8);
    }
    if (header_len > MAX_HEADER || prefix + header_len > bytes)
        return soma_fail(SOMA_ERR_FORMAT, "%s: '%s': a header of %lld bytes in %lld bytes: truncated or corrupt",
                         a->api, a->name, (long long)header_len, (long long)bytes);
    char *header = malloc((size_t)header_len + 1);
    if (!header) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: out of memory", a->api);
    soma_status st = read_at(a, header, (size_t)header_len, offset + prefix);
    header[header_len] = '\0';
    if (st == SOMA_OK && strlen(header) != (size_t)header_len)
        st = soma_fail(SOMA_ERR_FORMAT, "%s: '%s': a NUL byte in the header", a->api, a->name);
    if (st == SOMA_OK) st = parse_header(a, header);
    free(header);
    if (st != SOMA_OK) return st;
    a->data_offset = offset + prefix + header_len;
    int64_t data = bytes - prefix - header_len, want = a->count * a->inner * a->size;
    if (data != want)
        return soma_fail(SOMA_ERR_FORMAT, "%s: '%s': the shape needs %lld bytes of data, the file has %lld%s", a->api,
                         a->name, (long long)want, (long long)data, data < want ? " (truncated?)" : "");
    return SOMA_OK;
}

/* One element as a double. */
static double element(const npy_array *a, const unsigned char *src) {
    unsigned char b[8];
    for (int i = 0; i < a->size; i++) b[i] = a->swap ? src[a->size - 1 - i] : src[i];
    /* the bytes are little-endian now; assemble them so the host order does not matter */
    uint64_t u = 0;
    for (int i = a->size - 1; i >= 0; i--) u = u << 8 | b[i];
    switch (a->kind) {
    case 'f':
        if (a->size == 4) {
            uint32_t w = (uint32_t)u;
            float f;
            memcpy(&f, &w, 4);
            return f;
        } else {
            double d;
            memcpy(&d, &u, 8);
            return d;
        }
    case 'i': {
        int shift = 64 - 8 * a->size; /* sign-extend (gcc and clang shift signed values arithmetically) */
        return (double)((int64_t)(u << shift) >> shift);
    }
    default: return (double)u; /* 'u', 'b' */
    }
}

/* The elements as float32 into out (count x inner), in chunks; what: "features"
 * or "targets" for messages about non-finite values. */
static soma_status npy_read(const npy_array *a, float *out, const char *what) {
    unsigned char chunk[1 << 15];
    int64_t total = a->count * a->inner, per = (int64_t)sizeof chunk / a->size;
    if (fseeko(a->f, (off_t)a->data_offset, SEEK_SET) != 0)
        return soma_fail(SOMA_ERR_IO, "%s: '%s': seek failed: %s", a->api, a->name, strerror(errno));
    for (int64_t done = 0; done < total;) {
        int64_t n = total - done < per ? total - done : per;
        if (fread(chunk, (size_t)a->size, (size_t)n, a->f) != (size_t)n)
            return soma_fail(SOMA_ERR_IO, "%s: '%s': read error or end of file at element %lld", a->api, a->name,
                             (long long)done);
        for (int64_t i = 0; i < n; i++) {
            double v = element(a, chunk + i * a->size);
            float f = (float)v;
            if (!isfinite(f))
                return soma_fail(SOMA_ERR_NUMERIC, "%s: '%s': row %lld, column %lld of the %s is %g: not a finite "
                                 "float32", a->api, a->name, (long long)((done + i) / a->inner),
                                 (long long)((done + i) % a->inner), what, v);
            out[done + i] = f;
        }
        done += n;
    }
    return SOMA_OK;
}

/* features and targets, opened, into a new dataset. */
static soma_status to_dataset(const npy_array *x, const npy_array *y, soma_dataset **out) {
    if (y->ndim > 2)
        return soma_fail(SOMA_ERR_SHAPE, "%s: '%s': targets of %d dimensions; one label per row (1-D) or a row of "
                         "values (2-D)", x->api, y->name, y->ndim);
    if (x->count != y->count)
        return soma_fail(SOMA_ERR_SHAPE, "%s: '%s' has %lld rows but '%s' has %lld", x->api, x->name,
                         (long long)x->count, y->name, (long long)y->count);
    soma_dataset *ds = NULL;
    SOMA_TRY(soma_dataset_create(x->count, x->inner, y->inner, &ds));
    soma_status st = npy_read(x, soma_dataset_feature_data(ds), "features");
    if (st == SOMA_OK) st = npy_read(y, soma_dataset_target_data(ds), "targets");
    if (st != SOMA_OK) {
        soma_dataset_free(ds);
        return st;
    }
    *out = ds;
    return SOMA_OK;
}

static soma_status open_file(const char *api, const char *what, const char *path, npy_array *a, int64_t *bytes) {
    snprintf(a->name, sizeof a->name, "%s", path);
    a->api = api;
    SOMA_TRY(soma_file_fopen_input(api, what, path, &a->f));
    struct stat st;
    if (fstat(fileno(a->f), &st) != 0)
        return soma_fail(SOMA_ERR_IO, "%s: cannot stat '%s': %s", api, path, strerror(errno));
    *bytes = (int64_t)st.st_size;
    return SOMA_OK;
}

soma_status soma_dataset_load_npy(const char *features_path, const char *targets_path, soma_dataset **out) {
    const char *api = "soma_dataset_load_npy";
    if (!out) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 'out' is NULL", api);
    *out = NULL;
    if (!features_path) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 'features_path' is NULL", api);
    if (!targets_path) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 'targets_path' is NULL", api);
    npy_array x, y;
    memset(&x, 0, sizeof x);
    memset(&y, 0, sizeof y);
    int64_t xb = 0, yb = 0;
    soma_status st = open_file(api, "features file ", features_path, &x, &xb);
    if (st == SOMA_OK) st = npy_open(&x, 0, xb);
    if (st == SOMA_OK) st = open_file(api, "targets file ", targets_path, &y, &yb);
    if (st == SOMA_OK) st = npy_open(&y, 0, yb);
    if (st == SOMA_OK) st = to_dataset(&x, &y, out);
    if (x.f) fclose(x.f);
    if (y.f) fclose(y.f);
    return st;
}

/* ---- .npz: a ZIP archive of stored .npy members ---- */

/* Finds member key.npy in the archive a->f (bytes long) and opens it as an
 * .npy array; *found 0 when there is none. */
static soma_status npz_member(npy_array *a, const char *path, int64_t bytes, const char *key, int *found) {
    *found = 0;
    /* the end of central directory record: 22 bytes + a comment of up to 65535 */
    int64_t tail = bytes < 22 + 65535 ? bytes : 22 + 65535;
    if (tail < 22) return soma_fail(SOMA_ERR_FORMAT, "%s: '%s': %lld bytes: not a ZIP archive", a->api, path,
                                    (long long)bytes);
    unsigned char *t = malloc((size_t)tail);
    if (!t) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: out of memory", a->api);
    soma_status st = read_at(a, t, (size_t)tail, bytes - tail);
    int64_t eocd = -1;
    for (int64_t i = tail - 22; st == SOMA_OK && i >= 0 && eocd < 0; i--)
        if (le32(t + i) == 0x06054b50) eocd = i;
    int64_t entries = 0, cd_size = 0, cd_offset = 0;
    if (st == SOMA_OK && eocd >= 0) {
        entries = le16(t + eocd + 10);
        cd_size = le32(t + eocd + 12);
        cd_offset = le32(t + eocd + 16);
    }
    free(t);
    if (st != SOMA_OK) return st;
    if (eocd < 0) return soma_fail(SOMA_ERR_FORMAT, "%s: '%s': no ZIP end record: not an .npz archive", a->api, path);
    if (cd_offset == 0xFFFFFFFF || cd_size == 0xFFFFFFFF || entries == 0xFFFF)
        return soma_fail(SOMA_ERR_UNSUPPORTED, "%s: '%s': a ZIP64 archive (over 4 GiB) is not supported; save the "
                         "arrays as .npy files", a->api, path);
    if (cd_offset + cd_size > bytes)
        return soma_fail(SOMA_ERR_FORMAT, "%s: '%s': the central directory lies beyond the file", a->api, path);
    unsigned char *cd = malloc((size_t)cd_size + 1);
    if (!cd) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: out of memory", a->api);
    st = read_at(a, cd, (size_t)cd_size, cd_offset);
    char want[300];
    snprintf(want, sizeof want, "%s.npy", key);
    int64_t at = 0;
    for (int64_t e = 0; st == SOMA_OK && e < entries && !*found; e++) {
        if (at + 46 > cd_size || le32(cd + at) != 0x02014b50) {
            st = soma_fail(SOMA_ERR_FORMAT, "%s: '%s': central directory entry %lld is corrupt", a->api, path,
                           (long long)e);
            break;
        }
        uint32_t method = le16(cd + at + 10), csize = le32(cd + at + 20), usize = le32(cd + at + 24);
        uint32_t name_len = le16(cd + at + 28), extra = le16(cd + at + 30), comment = le16(cd + at + 32);
        uint32_t local = le32(cd + at + 42);
        if (at + 46 + name_len > cd_size) {
            st = soma_fail(SOMA_ERR_FORMAT, "%s: '%s': central directory entry %lld is corrupt", a->api, path,
                           (long long)e);
            break;
        }
        const char *name = (const char *)cd + at + 46;
        if (name_len == strlen(want) && memcmp(name, want, name_len) == 0) {
            *found = 1;
            snprintf(a->name, sizeof a->name, "%s:%s", path, want);
            if (method != 0) {
                st = soma_fail(SOMA_ERR_UNSUPPORTED, "%s: '%s' is compressed (method %u: np.savez_compressed); soma "
                               "reads archives written by np.savez", a->api, a->name, method);
                break;
            }
            if (csize == 0xFFFFFFFF || usize != csize) {
                st = soma_fail(SOMA_ERR_UNSUPPORTED, "%s: '%s': ZIP64 or inconsistent sizes; save the arrays as .npy "
                               "files", a->api, a->name);
                break;
            }
            unsigned char lh[30];
            st = (int64_t)local + 30 <= bytes ? read_at(a, lh, 30, local)
                                               : soma_fail(SOMA_ERR_FORMAT, "%s: '%s': its local header lies beyond "
                                                           "the file", a->api, a->name);
            if (st != SOMA_OK) break;
            if (le32(lh) != 0x04034b50) {
                st = soma_fail(SOMA_ERR_FORMAT, "%s: '%s': bad local header signature", a->api, a->name);
                break;
            }
            int64_t start = (int64_t)local + 30 + le16(lh + 26) + le16(lh + 28);
            if (start + (int64_t)csize > bytes) {
                st = soma_fail(SOMA_ERR_FORMAT, "%s: '%s': its data lies beyond the file", a->api, a->name);
                break;
            }
            st = npy_open(a, start, csize);
        }
        at += 46 + (int64_t)name_len + extra + comment;
    }
    free(cd);
    return st;
}

soma_status soma_dataset_load_npz(const char *path, const char *features_key, const char *targets_key,
                                  soma_dataset **out) {
    const char *api = "soma_dataset_load_npz";
    if (!out) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 'out' is NULL", api);
    *out = NULL;
    if (!path) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: argument 'path' is NULL", api);
    npy_array x, y;
    memset(&x, 0, sizeof x);
    memset(&y, 0, sizeof y);
    int64_t bytes = 0;
    soma_status st = open_file(api, "archive ", path, &x, &bytes);
    if (st == SOMA_OK) {
        y.f = x.f;
        y.api = api;
    }
    /* keys: as given, else x and y, else np.savez's names for positional arrays */
    const char *keys[2][2] = {{features_key ? features_key : "x", features_key ? NULL : "arr_0"},
                              {targets_key ? targets_key : "y", targets_key ? NULL : "arr_1"}};
    npy_array *arrays[2] = {&x, &y};
    for (int k = 0; k < 2 && st == SOMA_OK; k++) {
        int found = 0;
        for (int alt = 0; alt < 2 && !found && st == SOMA_OK && keys[k][alt]; alt++)
            st = npz_member(arrays[k], path, bytes, keys[k][alt], &found);
        if (st == SOMA_OK && !found)
            st = soma_fail(SOMA_ERR_FORMAT, "%s: '%s' has no member %s.npy%s%s%s", api, path, keys[k][0],
                           keys[k][1] ? " (nor " : "", keys[k][1] ? keys[k][1] : "", keys[k][1] ? ".npy)" : "");
    }
    if (st == SOMA_OK) st = to_dataset(&x, &y, out);
    if (x.f) fclose(x.f);
    return st;
}
