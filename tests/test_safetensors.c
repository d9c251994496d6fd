/* test_safetensors.c: the safetensors writer and reader, and the JSON reader
 * under them. Round trips (names and metadata that need escaping, special
 * floats), the exact bytes of a small file, one real malformed file per way a
 * file can be wrong (each error must name the file and the byte or tensor at
 * fault), and crash safety: no temporary file left behind, the old file kept
 * when a write fails; targets that are not plain files (symbolic links,
 * devices, FIFOs: io/files.h) and the CRC-32 the checkpoints use.
 *
 *   test_safetensors                 runs the tests
 *   test_safetensors --export FILE   writes the file tests/read_safetensors.py checks */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io/crc32.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "test_util.h"

/* ---- a scratch directory per test ---------------------------------------------------- */

static char dir[512];

static void make_dir(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/soma_st_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp %s: %s", dir, strerror(errno));
}

static void remove_dir(void) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* dir/name, in one of a few rotating buffers so a test can hold several. */
static const char *in_dir(const char *name) {
    static char bufs[4][1024];
    static int next;
    char *p = bufs[next++ % 4];
    snprintf(p, sizeof bufs[0], "%s/%s", dir, name);
    return p;
}

/* How many entries of dir contain `part` in their name (all of them for ""). */
static int count_entries(const char *part) {
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "opendir %s: %s", dir, strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strstr(e->d_name, part)) n++;
    closedir(d);
    return n;
}

static void write_bytes(const char *path, const void *bytes, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "fopen %s: %s", path, strerror(errno));
    ck_assert(fwrite(bytes, 1, n, f) == n);
    ck_assert(fclose(f) == 0);
}

/* The whole file; the caller frees. */
static unsigned char *read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "fopen %s: %s", path, strerror(errno));
    ck_assert(fseek(f, 0, SEEK_END) == 0);
    long size = ftell(f);
    ck_assert(size >= 0);
    rewind(f);
    unsigned char *bytes = malloc((size_t)size + 1);
    ck_assert(bytes != NULL);
    ck_assert(fread(bytes, 1, (size_t)size, f) == (size_t)size);
    fclose(f);
    *n = (size_t)size;
    return bytes;
}

/* A file: the 8-byte length `declared`, the header, then data_bytes bytes of
 * zeros (four zero bytes are the F32 0.0). */
static void write_file(const char *path, uint64_t declared, const char *header, size_t header_len,
                       size_t data_bytes) {
    size_t n = 8 + header_len + data_bytes;
    unsigned char *bytes = calloc(n, 1);
    ck_assert(bytes != NULL);
    for (int i = 0; i < 8; i++) bytes[i] = (unsigned char)(declared >> (8 * i));
    memcpy(bytes + 8, header, header_len);
    write_bytes(path, bytes, n);
    free(bytes);
}

/* ---- round trips ----------------------------------------------------------------------- */

/* Names and metadata with every kind of character JSON must escape, and UTF-8. */
static const char *const odd_name = "odd \"name\" \\ /\t\n\x01\x1f caf\xc3\xa9 \xf0\x9f\x98\x80";
static const char *const odd_value = "quote \" backslash \\ slash / newline \n tab \t cr \r "
                                     "bell \x07 escape \x1b del \x7f \xe2\x82\xac \xf0\x9f\x98\x80";

START_TEST(round_trip_keeps_everything) {
    float w[3 * 4], b[4], odd[1] = {-7.5f};
    for (int i = 0; i < 12; i++) w[i] = 0.25f * (float)i - 1.0f;
    w[0] = NAN;
    w[1] = INFINITY;
    w[2] = -INFINITY;
    w[3] = -0.0f;
    w[4] = 1e-45f; /* the smallest denormal */
    w[5] = 3.4028235e38f;
    for (int i = 0; i < 4; i++) b[i] = 1.0f / (float)(i + 3);
    soma_st_tensor ts[] = {
        {.name = "layers.0.weight", .rank = 2, .shape = {3, 4}, .data = w},
        {.name = "layers.0.bias", .rank = 1, .shape = {4}, .data = b},
        {.name = odd_name, .rank = 2, .shape = {1, 1}, .data = odd},
    };
    soma_st_meta meta[] = {{"format", "soma"}, {odd_name, odd_value}, {"", "empty key"}};
    const char *path = in_dir("model.safetensors");
    ck_soma(soma_safetensors_write(path, ts, 3, meta, 3));

    soma_st_file *f = NULL;
    ck_soma(soma_safetensors_read(path, &f));
    ck_assert_int_eq(soma_st_file_count(f), 3);
    for (int i = 0; i < 3; i++) {
        const soma_st_tensor *t = soma_st_file_tensor(f, i); /* in the order written */
        ck_assert_str_eq(t->name, ts[i].name);
        ck_assert_int_eq(t->rank, ts[i].rank);
        ck_assert_int_eq(t->shape[0], ts[i].shape[0]);
        if (t->rank == 2) ck_assert_int_eq(t->shape[1], ts[i].shape[1]);
        ck_assert_msg((uintptr_t)t->data % _Alignof(float) == 0, "tensor %d data misaligned", i);
        size_t n = (size_t)(t->shape[0] * (t->rank == 2 ? t->shape[1] : 1));
        ck_assert_msg(memcmp(t->data, ts[i].data, n * sizeof(float)) == 0, "tensor %d bits differ", i);
        ck_assert_ptr_eq(soma_st_file_find(f, ts[i].name), t);
    }
    ck_assert_ptr_null(soma_st_file_tensor(f, 3));
    ck_assert_ptr_null(soma_st_file_tensor(f, -1));
    ck_assert_ptr_null(soma_st_file_find(f, "layers.1.weight"));
    ck_assert_str_eq(soma_st_file_meta(f, "format"), "soma");
    ck_assert_str_eq(soma_st_file_meta(f, odd_name), odd_value);
    ck_assert_str_eq(soma_st_file_meta(f, ""), "empty key");
    ck_assert_ptr_null(soma_st_file_meta(f, "missing"));
    soma_st_file_free(f);
    ck_assert_int_eq(count_entries(".tmp."), 0);
    ck_assert_int_eq(count_entries(""), 1);
}
END_TEST

START_TEST(empty_file_round_trips) {
    const char *path = in_dir("empty.safetensors");
    ck_soma(soma_safetensors_write(path, NULL, 0, NULL, 0));
    size_t n;
    unsigned char *bytes = read_bytes(path, &n);
    /* As the reference implementation writes it: "{}" padded to 8. */
    ck_assert_int_eq(n, 16);
    ck_assert(memcmp(bytes, "\x08\0\0\0\0\0\0\0{}      ", 16) == 0);
    free(bytes);
    soma_st_file *f = NULL;
    ck_soma(soma_safetensors_read(path, &f));
    ck_assert_int_eq(soma_st_file_count(f), 0);
    ck_assert_ptr_null(soma_st_file_meta(f, "format"));
    soma_st_file_free(f);
}
END_TEST

/* The exact bytes: length, JSON with __metadata__ first and keys in the given
 * order, spaces up to a multiple of 8, then little-endian floats. */
START_TEST(bytes_are_exact_and_data_is_aligned) {
    float w[] = {1.0f, -2.0f}, b[] = {0.5f};
    soma_st_tensor ts[] = {{.name = "w", .rank = 2, .shape = {1, 2}, .data = w},
                           {.name = "b", .rank = 1, .shape = {1}, .data = b}};
    soma_st_meta meta[] = {{"k", "v\""}};
    const char *path = in_dir("exact.safetensors");
    ck_soma(soma_safetensors_write(path, ts, 2, meta, 1));

    const char json[] = "{\"__metadata__\":{\"k\":\"v\\\"\"},"
                        "\"w\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]},"
                        "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
    size_t json_len = sizeof json - 1, header_len = (json_len + 7) / 8 * 8;
    unsigned char want[512] = {(unsigned char)header_len};
    memcpy(want + 8, json, json_len);
    memset(want + 8 + json_len, ' ', header_len - json_len);
    const unsigned char floats[] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x3f};
    memcpy(want + 8 + header_len, floats, sizeof floats);
    size_t want_len = 8 + header_len + sizeof floats;

    size_t n;
    unsigned char *bytes = read_bytes(path, &n);
    ck_assert_int_eq(header_len % 8, 0);
    ck_assert_int_gt(header_len, json_len); /* this case needs padding: 125 -> 128 */
    ck_assert_int_eq(n, want_len);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(bytes[i] == want[i], "byte %zu is 0x%02x, want 0x%02x", i, bytes[i], want[i]);
    free(bytes);
}
END_TEST

/* Overwriting replaces the content, keeps the file's mode and leaves no temporary file. */
START_TEST(overwrite_replaces_and_keeps_mode) {
    const char *path = in_dir("over.safetensors");
    float a[] = {1, 2, 3}, b[] = {4, 5};
    soma_st_tensor ta = {.name = "a", .rank = 1, .shape = {3}, .data = a};
    soma_st_tensor tb = {.name = "b", .rank = 2, .shape = {2, 1}, .data = b};
    ck_soma(soma_safetensors_write(path, &ta, 1, NULL, 0));
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0644); /* not mkstemp's 0600 */
    ck_assert_int_eq(chmod(path, 0640), 0);
    ck_soma(soma_safetensors_write(path, &tb, 1, NULL, 0));
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0640);
    soma_st_file *f = NULL;
    ck_soma(soma_safetensors_read(path, &f));
    ck_assert_int_eq(soma_st_file_count(f), 1);
    ck_assert_ptr_null(soma_st_file_find(f, "a"));
    ck_assert(soma_st_file_find(f, "b")->data[1] == 5.0f);
    soma_st_file_free(f);
    ck_assert_int_eq(count_entries(""), 1);
}
END_TEST

/* A path without a directory part: the directory synced is ".". */
START_TEST(relative_path_writes_in_the_current_directory) {
    char cwd[1024];
    ck_assert(getcwd(cwd, sizeof cwd) != NULL);
    ck_assert_int_eq(chdir(dir), 0);
    float x[] = {42};
    soma_st_tensor t = {.name = "x", .rank = 1, .shape = {1}, .data = x};
    soma_status s = soma_safetensors_write("rel.safetensors", &t, 1, NULL, 0);
    soma_st_file *f = NULL;
    soma_status r = soma_safetensors_read("rel.safetensors", &f);
    ck_assert_int_eq(chdir(cwd), 0);
    ck_soma(s);
    ck_soma(r);
    ck_assert(soma_st_file_tensor(f, 0)->data[0] == 42.0f);
    soma_st_file_free(f);
    ck_assert_int_eq(count_entries(""), 1);
}
END_TEST

/* A file another writer could produce: whitespace, \u escapes, tensors not in
 * offset order, no padding (so the data starts unaligned in the file). */
START_TEST(reads_files_from_other_writers) {
    const char header[] = " {\n  \"second\" : {\"shape\": [2], \"data_offsets\": [8, 16], "
                          "\"dtype\": \"F32\"},\n"
                          "  \"caf\\u00e9 \\ud83d\\ude00\\n\": {\"dtype\":\"F32\",\"shape\":[1,2],"
                          "\"data_offsets\":[0,8]},\r\n\t\"__metadata__\": "
                          "{\"\\u0041\\/\": \"\\\"\\\\\\b\\f\\r\\t\"}}";
    size_t header_len = sizeof header - 1;
    ck_assert_int_ne(header_len % 8, 0);
    const float values[] = {1.5f, -2.5f, 3.25f, 1e30f};
    unsigned char *bytes = malloc(8 + header_len + 16);
    ck_assert(bytes != NULL);
    for (int i = 0; i < 8; i++) bytes[i] = (unsigned char)((uint64_t)header_len >> (8 * i));
    memcpy(bytes + 8, header, header_len);
    for (int i = 0; i < 4; i++) {
        uint32_t u;
        memcpy(&u, &values[i], 4);
        for (int k = 0; k < 4; k++) bytes[8 + header_len + 4 * i + k] = (unsigned char)(u >> (8 * k));
    }
    const char *path = in_dir("other.safetensors");
    write_bytes(path, bytes, 8 + header_len + 16);
    free(bytes);

    soma_st_file *f = NULL;
    ck_soma(soma_safetensors_read(path, &f));
    ck_assert_int_eq(soma_st_file_count(f), 2);
    const soma_st_tensor *second = soma_st_file_tensor(f, 0), *first = soma_st_file_tensor(f, 1);
    ck_assert_str_eq(second->name, "second");
    ck_assert_str_eq(first->name, "caf\xc3\xa9 \xf0\x9f\x98\x80\n");
    ck_assert_int_eq(second->rank, 1);
    ck_assert_int_eq(second->shape[0], 2);
    ck_assert_int_eq(first->rank, 2);
    ck_assert_int_eq(first->shape[0], 1);
    ck_assert_int_eq(first->shape[1], 2);
    ck_assert(first->data[0] == 1.5f && first->data[1] == -2.5f);
    ck_assert(second->data[0] == 3.25f && second->data[1] == 1e30f);
    ck_assert_msg((uintptr_t)first->data % _Alignof(float) == 0, "data not aligned for float");
    ck_assert_msg((uintptr_t)second->data % _Alignof(float) == 0, "data not aligned for float");
    ck_assert_str_eq(soma_st_file_meta(f, "A/"), "\"\\\b\f\r\t");
    soma_st_file_free(f);
}
END_TEST

/* ---- malformed files --------------------------------------------------------------------- */

/* A tensor entry: T("a", "[4]", "0", "16"). */
#define T(name, shape, begin, end)                                                               \
    "\"" name "\":{\"dtype\":\"F32\",\"shape\":" shape ",\"data_offsets\":[" begin "," end "]}"
#define HDR(s) s, sizeof(s) - 1

typedef struct bad_header {
    const char *label;
    const char *header;
    size_t header_len;
    size_t data_bytes;
    soma_status status;
    const char *frag[2];
} bad_header;

/* Byte offsets count from the start of the file: the header's first byte is byte 8. */
static const bad_header bad_headers[] = {
    /* not JSON */
    {"empty header", HDR(""), 0, SOMA_ERR_FORMAT,
     {"not valid JSON at byte 8: expected a value, found the end"}},
    {"trailing comma", HDR("{\"a\":1,}"), 0, SOMA_ERR_FORMAT,
     {"not valid JSON at byte 15: expected a string key, found '}'"}},
    {"single quotes", HDR("{'a':1}"), 0, SOMA_ERR_FORMAT,
     {"at byte 9: expected a string key, found '''"}},
    {"comment", HDR("{/* x */}"), 0, SOMA_ERR_FORMAT, {"at byte 9: expected a string key, found '/'", ""}},
    {"missing colon", HDR("{\"a\" 1}"), 0, SOMA_ERR_FORMAT,
     {"at byte 13: expected ':' after an object key, found '1'"}},
    {"missing comma", HDR("{\"a\":1 \"b\":2}"), 0, SOMA_ERR_FORMAT,
     {"at byte 15: expected ',' or '}' after an object member, found '\"'"}},
    {"cut short", HDR("{\"a\":{\"dtype\":\"F32\""), 0, SOMA_ERR_FORMAT,
     {"at byte 27: expected ',' or '}' after an object member, found the end of the text"}},
    {"unterminated string", HDR("{\"abc"), 0, SOMA_ERR_FORMAT, {"at byte 9: string is not terminated", ""}},
    {"unclosed array", HDR("{\"a\":[1,2"), 0, SOMA_ERR_FORMAT,
     {"at byte 17: expected ',' or ']' after an array element, found the end"}},
    {"control character", HDR("{\"a\x01\":1}"), 0, SOMA_ERR_FORMAT,
     {"at byte 11: control character 0x01 in a string must be escaped"}},
    {"bad escape", HDR("{\"\\q\":1}"), 0, SOMA_ERR_FORMAT,
     {"at byte 10: invalid escape: backslash followed by 'q'"}},
    {"short \\u", HDR("{\"\\u12\":1}"), 0, SOMA_ERR_FORMAT,
     {"at byte 10: \\u escape needs 4 hex digits"}},
    {"lone high surrogate", HDR("{\"\\ud800x\":1}"), 0, SOMA_ERR_FORMAT,
     {"at byte 10: \\uD800 is a high surrogate without a low one"}},
    {"lone low surrogate", HDR("{\"\\udc00\":1}"), 0, SOMA_ERR_FORMAT,
     {"at byte 10: \\uDC00 is a low surrogate"}},
    {"invalid UTF-8", HDR("{\"\xff\":1}"), 0, SOMA_ERR_FORMAT,
     {"at byte 10: invalid UTF-8 byte 0xFF in a string"}},
    {"overlong UTF-8", HDR("{\"a\xc0\xaf\":1}"), 0, SOMA_ERR_FORMAT,
     {"at byte 11: invalid UTF-8 byte 0xC0"}},
    {"UTF-8 surrogate", HDR("{\"\xed\xa0\x80\":1}"), 0, SOMA_ERR_FORMAT,
     {"at byte 10: invalid UTF-8 byte 0xED"}},
    {"leading zero", HDR("{\"a\":01}"), 0, SOMA_ERR_FORMAT,
     {"at byte 13: numbers must not have leading zeros"}},
    {"bare minus", HDR("{\"a\":-}"), 0, SOMA_ERR_FORMAT, {"at byte 14: expected a digit, found '}'", ""}},
    {"NaN", HDR("{\"a\":NaN}"), 0, SOMA_ERR_FORMAT, {"at byte 13: expected a value, found 'N'", ""}},
    {"garbage after", HDR("{} x"), 0, SOMA_ERR_FORMAT,
     {"at byte 11: 'x' after the end of the JSON value"}},
    {"NUL padding", HDR("{}\0\0\0\0\0\0"), 0, SOMA_ERR_FORMAT,
     {"at byte 10: byte 0x00 after the end of the JSON value"}},
    {"two objects", HDR("{}{}"), 0, SOMA_ERR_FORMAT, {"at byte 10: '{' after the end", ""}},
    /* JSON, but not a safetensors header */
    {"root is an array", HDR("[]"), 0, SOMA_ERR_FORMAT,
     {"the header at byte 8 is an array, not a JSON object"}},
    {"tensor not an object", HDR("{\"a\":[1]}"), 0, SOMA_ERR_FORMAT,
     {"tensor 'a' at byte 13 is an array, not an object"}},
    {"missing data_offsets", HDR("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}"), 4, SOMA_ERR_FORMAT,
     {"tensor 'a' at byte 13 has no 'data_offsets'"}},
    {"unknown key", HDR("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"offsets\":[0,4]}}"), 4, SOMA_ERR_FORMAT,
     {"tensor 'a': unexpected key 'offsets' at byte 40"}},
    {"repeated key", HDR("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\"}}"), 4, SOMA_ERR_FORMAT,
     {"tensor 'a': key 'dtype' appears twice (byte 28)"}},
    {"NUL in a name", HDR("{" T("a\\u0000b", "[1]", "0", "4") "}"), 4, SOMA_ERR_FORMAT,
     {"the tensor name at byte 9 contains a NUL character"}},
    /* dtypes */
    {"BF16",
     HDR("{\"w\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}"),
     4, SOMA_ERR_UNSUPPORTED,
     {"tensor 'w': dtype BF16 is not supported (soma reads F32, and I64 counters)"}},
    {"F64", HDR("{\"w\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}"), 8, SOMA_ERR_UNSUPPORTED,
     {"tensor 'w': dtype F64 is not supported (soma reads F32, and I64 counters)"}},
    {"unknown dtype",
     HDR("{\"w\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}"),
     4, SOMA_ERR_FORMAT,
     {"tensor 'w': unknown dtype 'f32' at byte 22"}},
    {"dtype a number", HDR("{\"w\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}"), 4, SOMA_ERR_FORMAT,
     {"tensor 'w': dtype at byte 22 is a number, not a string"}},
    /* shapes */
    {"rank 3", HDR("{" T("a", "[2,2,2]", "0", "32") "}"), 32, SOMA_ERR_UNSUPPORTED,
     {"tensor 'a' has rank 3 (shape [2, 2, 2]): soma loads rank 1 and 2 only"}},
    {"rank 0", HDR("{" T("a", "[]", "0", "4") "}"), 4, SOMA_ERR_UNSUPPORTED,
     {"tensor 'a' has rank 0 (shape [])"}},
    {"zero dimension", HDR("{" T("a", "[0,3]", "0", "0") "}"), 0, SOMA_ERR_UNSUPPORTED,
     {"tensor 'a' has shape [0, 3]: soma tensors have no empty dimensions"}},
    {"negative dimension", HDR("{" T("a", "[-1]", "0", "4") "}"), 4, SOMA_ERR_FORMAT,
     {"tensor 'a': shape[0] at byte 37 is not a non-negative integer"}},
    {"fractional dimension", HDR("{" T("a", "[1,2.0]", "0", "8") "}"), 8, SOMA_ERR_FORMAT,
     {"tensor 'a': shape[1] at byte 39 is not a non-negative integer"}},
    {"shape a string", HDR("{" T("a", "\"4\"", "0", "16") "}"), 16, SOMA_ERR_FORMAT,
     {"tensor 'a': shape at byte 36 is a string, not an array"}},
    {"huge shape", HDR("{" T("a", "[4611686018427387904,4]", "0", "16") "}"), 16, SOMA_ERR_FORMAT,
     {"tensor 'a': shape [4611686018427387904, 4] is too large"}},
    /* offsets */
    {"shape/offset mismatch", HDR("{" T("a", "[2,3]", "0", "20") "}"), 20, SOMA_ERR_FORMAT,
     {"tensor 'a': its shape holds 6 F32 values (24 bytes) but data_offsets [0, 20] span 20 bytes"}},
    {"three offsets", HDR("{" T("a", "[1]", "0", "4,8") "}"), 8, SOMA_ERR_FORMAT,
     {"tensor 'a': data_offsets at byte 55 must be [begin, end]"}},
    {"negative offset", HDR("{" T("a", "[1]", "-4", "0") "}"), 4, SOMA_ERR_FORMAT,
     {"tensor 'a': data_offsets at byte 55 must be [begin, end]"}},
    {"offset beyond int64", HDR("{" T("a", "[1]", "0", "18446744073709551616") "}"), 4, SOMA_ERR_FORMAT,
     {"data_offsets at byte 55 must be [begin, end]"}},
    {"end before begin", HDR("{" T("a", "[4]", "16", "0") "}"), 16, SOMA_ERR_FORMAT,
     {"tensor 'a': data_offsets [16, 0] end before they begin"}},
    {"outside the data",
     HDR("{" T("a", "[4]", "0", "16") "," T("b", "[4]", "16", "32") "}"),
     16, SOMA_ERR_FORMAT,
     {"tensor 'b': data_offsets [16, 32] reach past the end of the 16-byte data section", "file bytes"}},
    {"overlap", HDR("{" T("a", "[4]", "0", "16") "," T("b", "[4]", "8", "24") "}"), 24, SOMA_ERR_FORMAT,
     {"tensors 'a' [0, 16) and 'b' [8, 24) overlap in the data section"}},
    {"same range twice",
     HDR("{" T("a", "[4]", "0", "16") "," T("b", "[4]", "0", "16") "}"),
     16, SOMA_ERR_FORMAT,
     {"tensors 'a' [0, 16) and 'b' [0, 16) overlap"}},
    {"gap", HDR("{" T("b", "[4]", "20", "36") "," T("a", "[4]", "0", "16") "}"), 36, SOMA_ERR_FORMAT,
     {"bytes [16, 20) of the data section, before tensor 'b', belong to no tensor"}},
    {"gap at the start", HDR("{" T("a", "[4]", "4", "20") "}"), 20, SOMA_ERR_FORMAT,
     {"bytes [0, 4) of the data section, before tensor 'a', belong to no tensor"}},
    {"bytes left over", HDR("{" T("a", "[4]", "0", "16") "}"), 20, SOMA_ERR_FORMAT,
     {"bytes [16, 20) at the end of the data section belong to no tensor"}},
    {"data but no tensors", HDR("{}"), 4, SOMA_ERR_FORMAT,
     {"bytes [0, 4) at the end of the data section belong to no tensor"}},
    {"duplicate name",
     HDR("{" T("a", "[4]", "0", "16") "," T("a", "[4]", "16", "32") "}"),
     32, SOMA_ERR_FORMAT,
     {"tensor name 'a' appears twice (bytes 9 and 63)"}},
    /* metadata */
    {"metadata value a number", HDR("{\"__metadata__\":{\"epoch\":3}}"), 0, SOMA_ERR_FORMAT,
     {"__metadata__ value of 'epoch' at byte 33 is a number, not a string"}},
    {"metadata value null", HDR("{\"__metadata__\":{\"k\":\"v\",\"x\":null}}"), 0, SOMA_ERR_FORMAT,
     {"__metadata__ value of 'x' at byte 37 is null, not a string"}},
    {"metadata an array", HDR("{\"__metadata__\":[\"x\"]}"), 0, SOMA_ERR_FORMAT,
     {"__metadata__ at byte 24 is an array, not an object of strings"}},
    {"metadata key twice", HDR("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}"), 0, SOMA_ERR_FORMAT,
     {"__metadata__ key 'k' appears twice (byte 33)"}},
    {"metadata twice", HDR("{\"__metadata__\":{},\"__metadata__\":{}}"), 0, SOMA_ERR_FORMAT,
     {"__metadata__ appears twice (bytes 9 and 27)"}},
};

START_TEST(malformed_header_is_refused) {
    const bad_header *c = &bad_headers[_i];
    const char *path = in_dir("bad.safetensors");
    write_file(path, c->header_len, c->header, c->header_len, c->data_bytes);
    soma_st_file *f = (soma_st_file *)&f; /* must come back NULL */
    soma_clear_error();
    soma_status s = soma_safetensors_read(path, &f);
    ck_assert_msg(s == c->status, "%s: got %s, want %s (message: %s)", c->label, soma_status_name(s),
                  soma_status_name(c->status), soma_last_error());
    ck_assert_msg(f == NULL, "%s: *out not NULL after a failure", c->label);
    const char *msg = soma_last_error();
    ck_assert_msg(strstr(msg, "soma_safetensors_read: ") == msg, "%s: message '%s' lacks the function",
                  c->label, msg);
    ck_assert_msg(strstr(msg, path), "%s: message '%s' lacks the path", c->label, msg);
    for (int k = 0; k < 2 && c->frag[k]; k++)
        ck_assert_msg(strstr(msg, c->frag[k]), "%s: message '%s' lacks '%s'", c->label, msg, c->frag[k]);
}
END_TEST

START_TEST(deep_nesting_is_refused) {
    char header[256] = "{\"a\":";
    size_t n = strlen(header);
    for (int i = 0; i < 100; i++) header[n++] = '[';
    const char *path = in_dir("deep.safetensors");
    write_file(path, n, header, n, 0);
    soma_st_file *f = NULL;
    /* The 64th '[' is the 65th level (the object is the first): byte 8 + 5 + 63. */
    ck_fails(soma_safetensors_read(path, &f), SOMA_ERR_FORMAT, path,
             "at byte 76: arrays and objects nest deeper than 64 levels");
    ck_assert_ptr_null(f);
}
END_TEST

/* Files cut short, and header lengths that cannot be right. */
START_TEST(truncated_files_are_refused) {
    const char *path = in_dir("cut.safetensors");
    soma_st_file *f = NULL;
    write_bytes(path, "", 0);
    ck_fails(soma_safetensors_read(path, &f), SOMA_ERR_FORMAT, path,
             "the file is 0 bytes, too short for the 8-byte header length");
    write_bytes(path, "\x10\0\0\0\0", 5);
    ck_fails(soma_safetensors_read(path, &f), SOMA_ERR_FORMAT, path, "the file is 5 bytes");

    /* The header cut: it says 100 bytes, 20 follow. */
    write_file(path, 100, "{\"a\":{\"dtype\":\"F32\",", 20, 0);
    ck_fails(soma_safetensors_read(path, &f), SOMA_ERR_FORMAT, path,
             "the header length at byte 0 is 100, but only 20 bytes follow it (is the file truncated?)");
    /* Lengths beyond the file, beyond the limit, beyond anything. */
    write_file(path, 1ull << 40, "{}", 2, 0);
    ck_fails(soma_safetensors_read(path, &f), SOMA_ERR_FORMAT, path,
             "the header length at byte 0 is 1099511627776, above the limit of 100000000 bytes");
    write_file(path, UINT64_MAX, "{}", 2, 0);
    ck_fails(soma_safetensors_read(path, &f), SOMA_ERR_FORMAT, path,
             "is 18446744073709551615, above the limit");
    write_file(path, 100000000, "{}", 2, 0);
    ck_fails(soma_safetensors_read(path, &f), SOMA_ERR_FORMAT, path, "is 100000000, but only 2 bytes follow");

    /* The data cut: a good file missing its last 4 bytes. */
    float w[6] = {1, 2, 3, 4, 5, 6};
    soma_st_tensor ts[] = {{.name = "w", .rank = 2, .shape = {2, 2}, .data = w},
                           {.name = "b", .rank = 1, .shape = {2}, .data = w + 4}};
    ck_soma(soma_safetensors_write(path, ts, 2, NULL, 0));
    ck_soma(soma_safetensors_read(path, &f));
    soma_st_file_free(f);
    f = NULL;
    size_t n;
    unsigned char *bytes = read_bytes(path, &n);
    write_bytes(path, bytes, n - 4);
    free(bytes);
    ck_fails(soma_safetensors_read(path, &f), SOMA_ERR_FORMAT, path,
             "tensor 'b': data_offsets [16, 24] reach past the end of the 20-byte data section",
             "is the file truncated?");
    ck_assert_ptr_null(f);
}
END_TEST

START_TEST(unreadable_paths_are_refused) {
    soma_st_file *f = NULL;
    const char *missing = in_dir("missing.safetensors");
    ck_fails(soma_safetensors_read(missing, &f), SOMA_ERR_IO, missing, "cannot open", strerror(ENOENT));
    ck_fails(soma_safetensors_read(dir, &f), SOMA_ERR_IO, dir, "not a regular file");
    ck_fails(soma_safetensors_read(NULL, &f), SOMA_ERR_INVALID_ARG, "argument 'path' is NULL");
    ck_fails(soma_safetensors_read(missing, NULL), SOMA_ERR_INVALID_ARG, "argument 'out' is NULL");
    ck_assert_ptr_null(f);
    soma_st_file_free(NULL);
    ck_assert_int_eq(soma_st_file_count(NULL), 0);
    ck_assert_ptr_null(soma_st_file_tensor(NULL, 0));
    ck_assert_ptr_null(soma_st_file_find(NULL, "a"));
    ck_assert_ptr_null(soma_st_file_meta(NULL, "a"));
}
END_TEST

/* ---- bad writes ------------------------------------------------------------------------- */

/* A good file at dir/keep.safetensors; checks it is unchanged and alone. */
static const char *write_keeper(void) {
    static float k[] = {7, 8};
    soma_st_tensor t = {.name = "keep", .rank = 1, .shape = {2}, .data = k};
    const char *path = in_dir("keep.safetensors");
    ck_soma(soma_safetensors_write(path, &t, 1, NULL, 0));
    return path;
}

static void ck_keeper_intact(const char *path) {
    soma_st_file *f = NULL;
    ck_soma(soma_safetensors_read(path, &f));
    ck_assert_int_eq(soma_st_file_count(f), 1);
    const soma_st_tensor *t = soma_st_file_find(f, "keep");
    ck_assert(t && t->rank == 1 && t->shape[0] == 2 && t->data[0] == 7 && t->data[1] == 8);
    soma_st_file_free(f);
    ck_assert_int_eq(count_entries(""), 1); /* no temporary file left */
}

START_TEST(bad_arguments_leave_the_file_alone) {
    const char *path = write_keeper();
    float x[4] = {0};
    soma_st_tensor good = {.name = "x", .rank = 1, .shape = {4}, .data = x};
    soma_st_tensor t[2] = {good, good};
    /* Each must fail with status, naming the function, the file and what is wrong. */
#define ck_write_fails(ts, n, meta, n_meta, status, what)                                             \
    ck_fails(soma_safetensors_write(path, ts, n, meta, n_meta), status, "soma_safetensors_write: ", path, \
             what)

    ck_fails(soma_safetensors_write(NULL, &good, 1, NULL, 0), SOMA_ERR_INVALID_ARG, "argument 'path' is NULL");
    ck_fails(soma_safetensors_write("", &good, 1, NULL, 0), SOMA_ERR_INVALID_ARG, "argument 'path' is empty");
    ck_write_fails(NULL, 1, NULL, 0, SOMA_ERR_INVALID_ARG, "'tensors' is NULL");
    ck_write_fails(&good, -1, NULL, 0, SOMA_ERR_INVALID_ARG, "n_tensors (-1)");
    ck_write_fails(&good, 1, NULL, 2, SOMA_ERR_INVALID_ARG, "'meta' is NULL");

    t[1].name = NULL;
    ck_write_fails(t, 2, NULL, 0, SOMA_ERR_INVALID_ARG, "tensors[1].name is NULL");
    t[1].name = "";
    ck_write_fails(t, 2, NULL, 0, SOMA_ERR_INVALID_ARG, "tensors[1] has an empty name");
    t[1].name = "x";
    ck_write_fails(t, 2, NULL, 0, SOMA_ERR_INVALID_ARG, "tensor name 'x' appears twice");
    t[1].name = "__metadata__";
    ck_write_fails(t, 2, NULL, 0, SOMA_ERR_INVALID_ARG, "tensors[1] is named '__metadata__'");
    t[1].name = "bad\xff";
    ck_write_fails(t, 2, NULL, 0, SOMA_ERR_INVALID_ARG, "tensors[1].name is not valid UTF-8 (byte 3)");
    t[1].name = "y";
    t[1].rank = 3;
    ck_write_fails(t, 2, NULL, 0, SOMA_ERR_SHAPE, "tensor 'y' has rank 3");
    t[1].rank = 0;
    ck_write_fails(t, 2, NULL, 0, SOMA_ERR_SHAPE, "tensor 'y' has rank 0");
    t[1].rank = 2;
    t[1].shape[0] = 2;
    t[1].shape[1] = 0;
    ck_write_fails(t, 2, NULL, 0, SOMA_ERR_SHAPE, "tensor 'y' has shape [2, 0]");
    t[1].rank = 1;
    t[1].shape[0] = -3;
    ck_write_fails(t, 2, NULL, 0, SOMA_ERR_SHAPE, "tensor 'y' has shape [-3]");
    t[1].rank = 2;
    t[1].shape[0] = INT64_MAX / 2;
    t[1].shape[1] = 2;
    ck_write_fails(t, 2, NULL, 0, SOMA_ERR_SHAPE, "tensor 'y' makes the file too large");
    t[1].shape[0] = 1;
    t[1].data = NULL;
    ck_write_fails(t, 2, NULL, 0, SOMA_ERR_INVALID_ARG, "tensor 'y' has NULL data");

    soma_st_meta meta[2] = {{"k", "v"}, {"k", "w"}};
    ck_write_fails(&good, 1, meta, 2, SOMA_ERR_INVALID_ARG, "metadata key 'k' appears twice");
    meta[1].key = NULL;
    ck_write_fails(&good, 1, meta, 2, SOMA_ERR_INVALID_ARG, "meta[1].key is NULL");
    meta[1].key = "j";
    meta[1].value = NULL;
    ck_write_fails(&good, 1, meta, 2, SOMA_ERR_INVALID_ARG, "meta[1].value is NULL");
    meta[1].value = "\xc3";
    ck_write_fails(&good, 1, meta, 2, SOMA_ERR_INVALID_ARG, "meta[1].value is not valid UTF-8 (byte 0)");
    ck_keeper_intact(path);
}
END_TEST
#undef ck_write_fails

START_TEST(missing_directory_fails_cleanly) {
    float x[] = {1};
    soma_st_tensor t = {.name = "x", .rank = 1, .shape = {1}, .data = x};
    const char *path = in_dir("no/such/dir/model.safetensors");
    ck_fails(soma_safetensors_write(path, &t, 1, NULL, 0), SOMA_ERR_IO, "soma_safetensors_write: ", path,
             "cannot create the temporary file", strerror(ENOENT));
    ck_assert_int_eq(count_entries(""), 0);
    /* A directory in the way of the target: refused before a temporary file is made. */
    ck_assert_int_eq(mkdir(in_dir("taken"), 0755), 0);
    ck_fails(soma_safetensors_write(in_dir("taken"), &t, 1, NULL, 0), SOMA_ERR_IO, in_dir("taken"),
             "is a directory");
    ck_assert_int_eq(count_entries(""), 1);
    rmdir(in_dir("taken"));
}
END_TEST

/* A write that fails half-way (here: a file size limit, as a full disk
 * would) reports the reason and leaves the old file as it was. It runs in a
 * child process because the limit is per process. */
START_TEST(failed_write_keeps_the_old_file) {
    const char *path = write_keeper();
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN); /* write then fails with EFBIG instead of killing us */
        struct rlimit limit = {.rlim_cur = 4096, .rlim_max = 4096};
        if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(3);
        static float big[64 * 64];
        soma_st_tensor t = {.name = "big", .rank = 2, .shape = {64, 64}, .data = big};
        soma_status s = soma_safetensors_write(path, &t, 1, NULL, 0);
        if (s != SOMA_ERR_IO) _exit(1);
        const char *msg = soma_last_error();
        if (!strstr(msg, path) || !strstr(msg, "writing the temporary file") || !strstr(msg, strerror(EFBIG)))
            _exit(2);
        _exit(0);
    }
    int wstatus;
    ck_assert_int_eq(waitpid(pid, &wstatus, 0), pid);
    ck_assert_msg(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0, "child failed: %d", wstatus);
    ck_keeper_intact(path);
}
END_TEST

/* ---- targets that are not plain files ------------------------------------------------------ */

static void ck_holds(const char *path, float first) {
    soma_st_file *f = NULL;
    ck_soma(soma_safetensors_read(path, &f));
    ck_assert_float_eq(soma_st_file_find(f, "x")->data[0], first);
    soma_st_file_free(f);
}

/* A symbolic link's target is replaced; the link stays a link (a chain and a
 * dangling link too). */
START_TEST(symbolic_links_keep_their_link) {
    float x[] = {1, 2};
    soma_st_tensor t = {.name = "x", .rank = 1, .shape = {2}, .data = x};
    ck_soma(soma_safetensors_write(in_dir("target.st"), &t, 1, NULL, 0));
    ck_assert_int_eq(symlink("target.st", in_dir("link.st")), 0);
    ck_assert_int_eq(symlink(in_dir("link.st"), in_dir("chain.st")), 0);
    ck_assert_int_eq(symlink("made.st", in_dir("dangling.st")), 0);
    x[0] = 5;
    ck_soma(soma_safetensors_write(in_dir("link.st"), &t, 1, NULL, 0));
    ck_holds(in_dir("target.st"), 5);
    x[0] = 6;
    ck_soma(soma_safetensors_write(in_dir("chain.st"), &t, 1, NULL, 0));
    ck_holds(in_dir("target.st"), 6);
    x[0] = 7;
    ck_soma(soma_safetensors_write(in_dir("dangling.st"), &t, 1, NULL, 0));
    ck_holds(in_dir("made.st"), 7);
    const char *links[] = {"link.st", "chain.st", "dangling.st"};
    for (int i = 0; i < 3; i++) {
        struct stat st;
        ck_assert_int_eq(lstat(in_dir(links[i]), &st), 0);
        ck_assert_msg(S_ISLNK(st.st_mode), "%s is no longer a symbolic link", links[i]);
    }
    ck_assert_int_eq(count_entries(".tmp."), 0);
}
END_TEST

/* A character device is written in place, never replaced: as root, the
 * rename of old would have put a regular file where /dev/null was. */
START_TEST(devices_are_written_in_place) {
    float x[] = {1};
    soma_st_tensor t = {.name = "x", .rank = 1, .shape = {1}, .data = x};
    struct stat st;
    ck_soma(soma_safetensors_write("/dev/null", &t, 1, NULL, 0));
    ck_assert(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));
    ck_fails(soma_safetensors_write("/dev/full", &t, 1, NULL, 0), SOMA_ERR_IO, "/dev/full",
             "writing in place failed", strerror(ENOSPC));
    ck_assert(stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode));
}
END_TEST

/* A FIFO is never waited on: as an input it is refused at once (by every
 * reader), as an output without a reader too; with a reader it is written in
 * place. A hang fails the test (SIGALRM). */
START_TEST(fifos_are_never_waited_on) {
    alarm(20);
    const char *fifo = in_dir("pipe");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    float x[] = {1, 2, 3};
    soma_st_tensor t = {.name = "x", .rank = 1, .shape = {3}, .data = x};
    ck_fails(soma_safetensors_write(fifo, &t, 1, NULL, 0), SOMA_ERR_IO, "a FIFO that no process is reading");
    soma_st_file *f = (soma_st_file *)1;
    ck_fails(soma_safetensors_read(fifo, &f), SOMA_ERR_IO, "is a FIFO (named pipe), not a regular file");
    ck_assert_ptr_null(f);
    soma_dataset *ds = NULL;
    ck_fails(soma_dataset_load_csv(fifo, NULL, &ds), SOMA_ERR_IO, "is a FIFO (named pipe), not a regular file");
    ck_fails(soma_dataset_load_idx(fifo, fifo, &ds), SOMA_ERR_IO, "images file", "is a FIFO");
    pid_t reader = fork();
    ck_assert(reader >= 0);
    if (reader == 0) { /* reads the stream and exits 0 when it was the whole file */
        FILE *in = fopen(fifo, "rb");
        size_t n = 0;
        while (in && fgetc(in) != EOF) n++;
        _exit(n > 8 ? 0 : 1);
    }
    soma_status st = SOMA_ERR_IO;
    for (int tries = 0; st != SOMA_OK && tries < 500; tries++) { /* until the reader has opened it */
        st = soma_safetensors_write(fifo, &t, 1, NULL, 0);
        if (st != SOMA_OK) nanosleep(&(struct timespec){0, 10000000L}, NULL);
    }
    ck_assert_msg(st == SOMA_OK, "%s", soma_last_error());
    int wstatus;
    ck_assert_int_eq(waitpid(reader, &wstatus, 0), reader);
    ck_assert(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
    struct stat s;
    ck_assert(stat(fifo, &s) == 0 && S_ISFIFO(s.st_mode));
    alarm(0);
}
END_TEST

/* The CRC-32 table is a constant (no lazy fill to race on): its results
 * against the bit-by-bit definition, on the standard check value and on
 * random buffers (seed TEST_SEED). */
static uint32_t crc32_bitwise(const unsigned char *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return ~c;
}

START_TEST(crc32_matches_its_definition) {
    ck_assert_uint_eq(soma_crc32_update(0, "123456789", 9), 0xCBF43926u);
    unsigned long long state = TEST_SEED;
    unsigned char buf[300];
    for (int round = 0; round < 200; round++) {
        size_t n = (size_t)(round * 7 % 300);
        for (size_t i = 0; i < n; i++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            buf[i] = (unsigned char)(state >> 56);
        }
        /* in two pieces, as the checksum chains its buffers */
        uint32_t chained = soma_crc32_update(soma_crc32_update(0, buf, n / 3), buf + n / 3, n - n / 3);
        ck_assert_msg(chained == crc32_bitwise(buf, n), "round %d (seed %llu)", round, TEST_SEED);
    }
}
END_TEST

/* ---- the JSON reader and escaper ------------------------------------------------------------ */

static soma_json *parse_ok(const char *text) {
    soma_json *root = NULL;
    ck_soma(soma_json_parse(text, strlen(text), "test", 0, &root));
    return root;
}

START_TEST(json_numbers) {
    soma_json *root = parse_ok("[0, -0, 9223372036854775807, -9223372036854775808, 9223372036854775808,"
                               " 1.5, 1e3, 2E-2, -12]");
    ck_assert_int_eq(root->type, SOMA_JSON_ARRAY);
    ck_assert_int_eq(root->as.array.count, 9);
    const soma_json *v = root->as.array.items;
    const int is_int[] = {1, 1, 1, 1, 0, 0, 0, 0, 1};
    for (int i = 0; i < 9; i++) {
        ck_assert_int_eq(v[i].type, SOMA_JSON_NUMBER);
        ck_assert_msg(v[i].as.number.is_int == is_int[i], "item %d", i);
    }
    ck_assert(v[2].as.number.value == INT64_MAX);
    ck_assert(v[3].as.number.value == INT64_MIN);
    ck_assert(v[8].as.number.value == -12);
    ck_assert_int_eq(v[8].offset, 88);
    soma_json_free(root);
    const char *bad[] = {"1.", ".5", "1e", "+1", "0x10", "1 2", "tru", "nul", "[1,]", "{\"a\"}", "\"\\u00G0\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        soma_json *r = (soma_json *)&r;
        soma_status st = soma_json_parse(bad[i], strlen(bad[i]), "test", 0, &r);
        ck_assert_msg(st == SOMA_ERR_FORMAT, "'%s' gave %s", bad[i], soma_status_name(st));
        ck_assert_ptr_null(r);
    }
}
END_TEST

START_TEST(json_strings_and_literals) {
    soma_json *root = parse_ok(" {\"s\": \"a\\u00e9\\u20ac\\ud83d\\ude00\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000z\", "
                               "\"t\": true, \"f\": false, \"n\": null, \"e\": {}, \"l\": []} \t\r\n");
    ck_assert_int_eq(root->type, SOMA_JSON_OBJECT);
    ck_assert_int_eq(root->as.object.count, 6);
    const soma_json_member *m = root->as.object.members;
    const char want[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"\\/\b\f\n\r\t\0z";
    ck_assert_str_eq(m[0].key, "s");
    ck_assert_int_eq(m[0].key_offset, 2);
    ck_assert_int_eq(m[0].value.as.string.len, sizeof want - 1);
    ck_assert(memcmp(m[0].value.as.string.chars, want, sizeof want) == 0);
    ck_assert(m[1].value.type == SOMA_JSON_BOOL && m[1].value.as.boolean == 1);
    ck_assert(m[2].value.type == SOMA_JSON_BOOL && m[2].value.as.boolean == 0);
    ck_assert(m[3].value.type == SOMA_JSON_NULL);
    ck_assert(m[4].value.type == SOMA_JSON_OBJECT && m[4].value.as.object.count == 0);
    ck_assert(m[5].value.type == SOMA_JSON_ARRAY && m[5].value.as.array.count == 0);
    soma_json_free(root);
    soma_json_free(NULL);
    ck_assert_str_eq(soma_json_type_name(SOMA_JSON_OBJECT), "an object");
}
END_TEST

START_TEST(json_utf8_check) {
    const struct {
        const char *s;
        size_t bad;
    } cases[] = {
        {"plain", 5},          {"caf\xc3\xa9", 5},      {"\xf4\x8f\xbf\xbf", 4}, /* U+10FFFF */
        {"\xf4\x90\x80\x80", 0}, /* above U+10FFFF */      {"\xc0\x80", 0},  /* overlong NUL */
        {"\xe0\x80\xaf", 0},   {"\xed\xbf\xbf", 0},     /* a surrogate */
        {"ab\x80", 2},         {"\xe2\x82", 0},         /* cut short */
        {"\xf8\x88\x80\x80\x80", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg(soma_utf8_check(cases[i].s, strlen(cases[i].s)) == cases[i].bad, "case %zu", i);
}
END_TEST

START_TEST(json_escaper_round_trips) {
    soma_json_buf b = {0};
    soma_json_buf_append(&b, "[", 1);
    soma_json_buf_append_string(&b, odd_value);
    soma_json_buf_append(&b, ",", 1);
    soma_json_buf_append_int(&b, INT64_MIN);
    soma_json_buf_append(&b, ",", 1);
    soma_json_buf_append_string(&b, "");
    soma_json_buf_append(&b, "]", 1);
    ck_assert(!b.failed);
    ck_assert(strstr(b.data, "bell \\u0007 escape \\u001B del \x7f") != NULL);
    ck_assert(strstr(b.data, "quote \\\" backslash \\\\ slash / newline \\n tab \\t cr \\r") != NULL);
    soma_json *root = parse_ok(b.data);
    ck_assert_str_eq(root->as.array.items[0].as.string.chars, odd_value);
    ck_assert(root->as.array.items[1].as.number.value == INT64_MIN);
    ck_assert_str_eq(root->as.array.items[2].as.string.chars, "");
    soma_json_free(root);
    soma_json_buf_free(&b);
}
END_TEST

/* ---- the file for the Python reader ------------------------------------------------------- */

/* Keep in step with the safetensors_python test in tests/CMakeLists.txt. */
static int export_file(const char *path) {
    float w[] = {0.5f, -1.25f, 3.0f, 0.001f, -0.0f, 65504.0f}, b[] = {0.1f, 0.2f, 0.3f}, q[] = {-7.0f};
    soma_st_tensor ts[] = {{.name = "layers.0.weight", .rank = 2, .shape = {2, 3}, .data = w},
                           {.name = "layers.0.bias", .rank = 1, .shape = {3}, .data = b},
                           {.name = "odd \"name\" \\", .rank = 2, .shape = {1, 1}, .data = q}};
    soma_st_meta meta[] = {{"format", "soma"}, {"note", "say \"hi\" \\ and\ttab\nnewline"}};
    soma_status s = soma_safetensors_write(path, ts, 3, meta, 2);
    if (s != SOMA_OK) fprintf(stderr, "%s\n", soma_last_error());
    return s == SOMA_OK ? EXIT_SUCCESS : EXIT_FAILURE;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--export") == 0) return export_file(argv[2]);

    Suite *s = suite_create("safetensors");
    TCase *files = tcase_create("files");
    tcase_add_checked_fixture(files, make_dir, remove_dir);
    tcase_add_test(files, round_trip_keeps_everything);
    tcase_add_test(files, empty_file_round_trips);
    tcase_add_test(files, bytes_are_exact_and_data_is_aligned);
    tcase_add_test(files, overwrite_replaces_and_keeps_mode);
    tcase_add_test(files, relative_path_writes_in_the_current_directory);
    tcase_add_test(files, reads_files_from_other_writers);
    int n_bad = (int)(sizeof bad_headers / sizeof bad_headers[0]);
    tcase_add_loop_test(files, malformed_header_is_refused, 0, n_bad);
    tcase_add_test(files, deep_nesting_is_refused);
    tcase_add_test(files, truncated_files_are_refused);
    tcase_add_test(files, unreadable_paths_are_refused);
    tcase_add_test(files, bad_arguments_leave_the_file_alone);
    tcase_add_test(files, missing_directory_fails_cleanly);
    tcase_add_test(files, failed_write_keeps_the_old_file);
    tcase_add_test(files, symbolic_links_keep_their_link);
    tcase_add_test(files, devices_are_written_in_place);
    tcase_add_test(files, fifos_are_never_waited_on);
    tcase_add_test(files, crc32_matches_its_definition);
    suite_add_tcase(s, files);

    TCase *json = tcase_create("json");
    tcase_add_test(json, json_numbers);
    tcase_add_test(json, json_strings_and_literals);
    tcase_add_test(json, json_utf8_check);
    tcase_add_test(json, json_escaper_round_trips);
    suite_add_tcase(s, json);

    Suite *suites[] = {s};
    return test_run(suites, 1, CK_FORK_GETENV); /* CK_FORK=no for valgrind and gdb */
}
