/* json.h: a small, strict JSON reader (RFC 8259) and a string escaper.
 *
 * Just big enough for safetensors headers: soma_json_parse builds a tree of
 * values from a complete text, rejecting anything that is not JSON (trailing
 * commas, comments, single quotes, invalid UTF-8, lone surrogates, control
 * characters in strings, leading zeros, nesting deeper than
 * SOMA_JSON_MAX_DEPTH). Every value remembers the byte offset where it starts,
 * so callers can say where a well-formed but wrong value is. Object members
 * keep their order, and duplicate keys are kept: the caller decides whether
 * they are an error. */
#ifndef SOMA_IO_JSON_H
#define SOMA_IO_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "soma/status.h"

#define SOMA_JSON_MAX_DEPTH 64

typedef enum soma_json_type {
    SOMA_JSON_NULL,
    SOMA_JSON_BOOL,
    SOMA_JSON_NUMBER,
    SOMA_JSON_STRING,
    SOMA_JSON_ARRAY,
    SOMA_JSON_OBJECT,
} soma_json_type;

typedef struct soma_json soma_json;
typedef struct soma_json_member soma_json_member;

struct soma_json {
    soma_json_type type;
    uint64_t offset; /* where the value starts: base_offset + index in the text */
    union {
        int boolean;
        struct {
            int is_int;    /* no fraction or exponent, and within int64_t */
            int64_t value; /* valid when is_int */
        } number;
        struct {
            char *chars; /* decoded UTF-8, NUL-terminated; may contain NULs (\u0000) */
            size_t len;
        } string;
        struct {
            soma_json *items;
            size_t count;
        } array;
        struct {
            soma_json_member *members;
            size_t count;
        } object;
    } as;
};

struct soma_json_member {
    char *key; /* decoded, NUL-terminated */
    size_t key_len;
    uint64_t key_offset;
    soma_json value;
};

/* Parses text[0..len) as one JSON value surrounded by optional whitespace.
 * On failure returns SOMA_ERR_FORMAT (or SOMA_ERR_OUT_OF_MEMORY) with a
 * message "<what>: byte <offset>: <reason>", offsets counted from
 * base_offset, and sets *out to NULL. */
soma_status soma_json_parse(const char *text, size_t len, const char *what, uint64_t base_offset,
                            soma_json **out);
void soma_json_free(soma_json *root); /* NULL is allowed */

/* "null", "a boolean", "a number", "a string", "an array", "an object". */
const char *soma_json_type_name(soma_json_type type);

/* Index of the first byte of s[0..len) that is not part of well-formed UTF-8
 * (overlong forms, surrogates and code points above U+10FFFF are not), or len
 * when all of it is. */
size_t soma_utf8_check(const char *s, size_t len);

/* A growing byte buffer for building JSON text. Appends after an allocation
 * failure do nothing and leave failed set, so a writer checks once at the end. */
typedef struct soma_json_buf {
    char *data; /* NUL-terminated while !failed */
    size_t len, cap;
    int failed;
} soma_json_buf;

void soma_json_buf_append(soma_json_buf *b, const char *bytes, size_t n);
void soma_json_buf_append_int(soma_json_buf *b, int64_t v);
/* Appends s as a quoted JSON string: '"' and '\\' are escaped, control
 * characters become \n, \t, ... or \u00XX; other bytes are copied, so s must
 * be valid UTF-8 (check with soma_utf8_check) for the text to be JSON. */
void soma_json_buf_append_string(soma_json_buf *b, const char *s);
void soma_json_buf_free(soma_json_buf *b);

#endif
