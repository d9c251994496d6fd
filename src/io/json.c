/* json.c: a strict recursive-descent JSON reader and a string escaper. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/json.h"

/* ---- UTF-8 ------------------------------------------------------------------------ */

/* Length (1..4) of the well-formed UTF-8 sequence at s[0..avail), or 0. The
 * ranges are those of the Unicode standard's table 3-7, which leave out
 * overlong forms, surrogates and code points above U+10FFFF. */
static size_t utf8_sequence(const unsigned char *s, size_t avail) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c == 0xE0) n = 3, lo = 0xA0;
    else if (c == 0xED) n = 3, hi = 0x9F;
    else if (c >= 0xE1 && c <= 0xEF) n = 3;
    else if (c == 0xF0) n = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) n = 4;
    else if (c == 0xF4) n = 4, hi = 0x8F;
    else return 0;
    if (avail < n || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return n;
}

size_t soma_utf8_check(const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t n = utf8_sequence(u + i, len - i);
        if (n == 0) return i;
        i += n;
    }
    return len;
}

static size_t utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- the reader --------------------------------------------------------------------- */

typedef struct parser {
    const char *text;
    size_t len, pos;
    const char *what;
    uint64_t base;
} parser;

static soma_status fail_at(const parser *p, size_t at, const char *fmt, ...) SOMA_PRINTF(3, 4);

static soma_status fail_at(const parser *p, size_t at, const char *fmt, ...) {
    char reason[256];
    va_list args;
    va_start(args, fmt);
    vsnprintf(reason, sizeof reason, fmt, args);
    va_end(args);
    return soma_fail(SOMA_ERR_FORMAT, "%s at byte %llu: %s", p->what,
                     (unsigned long long)(p->base + at), reason);
}

static soma_status out_of_memory(const parser *p) {
    return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: out of host memory", p->what);
}

/* "'x'", "byte 0x07" or "the end of the text", for "found ..." in messages. */
static const char *describe(const parser *p, size_t at, char buf[16]) {
    if (at >= p->len) return "the end of the text";
    unsigned char c = (unsigned char)p->text[at];
    if (c >= 0x20 && c < 0x7F) snprintf(buf, 16, "'%c'", c);
    else snprintf(buf, 16, "byte 0x%02X", c);
    return buf;
}

static void skip_whitespace(parser *p) {
    while (p->pos < p->len) {
        char c = p->text[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static int peek(const parser *p) { return p->pos < p->len ? (unsigned char)p->text[p->pos] : -1; }

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads the 4 hex digits of a \uXXXX escape whose backslash is at `at`. */
static soma_status read_hex4(const parser *p, size_t at, size_t end, uint32_t *cp) {
    if (end - at < 6)
        return fail_at(p, at, "\\u escape needs 4 hex digits before the closing quote");
    *cp = 0;
    for (size_t i = at + 2; i < at + 6; i++) {
        int d = hex_digit(p->text[i]);
        if (d < 0) return fail_at(p, at, "\\u escape needs 4 hex digits");
        *cp = *cp * 16 + (uint32_t)d;
    }
    return SOMA_OK;
}

/* Decodes the string whose opening quote is at p->pos into a new buffer. */
static soma_status parse_string(parser *p, char **out, size_t *out_len) {
    size_t open = p->pos, start = open + 1, end = start;
    while (end < p->len && p->text[end] != '"') end += p->text[end] == '\\' ? 2 : 1;
    if (end >= p->len) return fail_at(p, open, "string is not terminated");

    /* Escapes never decode to more bytes than they take, so end-start is enough. */
    char *s = malloc(end - start + 1);
    if (!s) return out_of_memory(p);
    size_t n = 0, i = start;
    soma_status status = SOMA_OK;
    while (i < end && status == SOMA_OK) {
        unsigned char c = (unsigned char)p->text[i];
        if (c < 0x20) {
            status = fail_at(p, i, "control character 0x%02X in a string must be escaped", c);
        } else if (c >= 0x80) {
            size_t k = utf8_sequence((const unsigned char *)p->text + i, end - i);
            if (k == 0) status = fail_at(p, i, "invalid UTF-8 byte 0x%02X in a string", c);
            memcpy(s + n, p->text + i, k);
            n += k;
            i += k;
        } else if (c != '\\') {
            s[n++] = (char)c;
            i++;
        } else {
            char e = p->text[i + 1]; /* i + 1 < end: a backslash never ends the scan */
            const char *simple = strchr("\"\\/bfnrt", e);
            if (e != '\0' && simple) {
                s[n++] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
                i += 2;
            } else if (e != 'u') {
                char buf[16];
                status = fail_at(p, i, "invalid escape: backslash followed by %s", describe(p, i + 1, buf));
            } else {
                uint32_t cp = 0, low = 0;
                status = read_hex4(p, i, end, &cp);
                if (status == SOMA_OK && cp >= 0xDC00 && cp <= 0xDFFF)
                    status = fail_at(p, i, "\\u%04X is a low surrogate without a high one", (unsigned)cp);
                if (status == SOMA_OK && cp >= 0xD800 && cp <= 0xDBFF) {
                    if (end - i < 12 || p->text[i + 6] != '\\' || p->text[i + 7] != 'u')
                        status = fail_at(p, i, "\\u%04X is a high surrogate without a low one", (unsigned)cp);
                    else status = read_hex4(p, i + 6, end, &low);
                    if (status == SOMA_OK && (low < 0xDC00 || low > 0xDFFF))
                        status = fail_at(p, i, "\\u%04X is a high surrogate without a low one", (unsigned)cp);
                    if (status == SOMA_OK) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                        i += 6;
                    }
                }
                if (status == SOMA_OK) {
                    n += utf8_encode(cp, s + n);
                    i += 6;
                }
            }
        }
    }
    if (status != SOMA_OK) {
        free(s);
        return status;
    }
    s[n] = '\0';
    *out = s;
    *out_len = n;
    p->pos = end + 1;
    return SOMA_OK;
}

static int is_digit(int c) { return c >= '0' && c <= '9'; }

/* -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)? */
static soma_status parse_number(parser *p, soma_json *v) {
    size_t start = p->pos;
    int negative = peek(p) == '-';
    if (negative) p->pos++;
    if (!is_digit(peek(p))) {
        char buf[16];
        return fail_at(p, p->pos, "expected a digit, found %s", describe(p, p->pos, buf));
    }
    uint64_t magnitude = 0;
    int overflow = 0;
    if (peek(p) == '0') {
        p->pos++;
        if (is_digit(peek(p))) return fail_at(p, start, "numbers must not have leading zeros");
    } else {
        while (is_digit(peek(p))) {
            unsigned d = (unsigned)(peek(p) - '0');
            if (magnitude > (UINT64_MAX - d) / 10) overflow = 1;
            else magnitude = magnitude * 10 + d;
            p->pos++;
        }
    }
    int is_int = 1;
    if (peek(p) == '.') {
        is_int = 0;
        p->pos++;
        if (!is_digit(peek(p))) return fail_at(p, start, "a '.' in a number must be followed by digits");
        while (is_digit(peek(p))) p->pos++;
    }
    if (peek(p) == 'e' || peek(p) == 'E') {
        is_int = 0;
        p->pos++;
        if (peek(p) == '+' || peek(p) == '-') p->pos++;
        if (!is_digit(peek(p))) return fail_at(p, start, "an exponent in a number needs digits");
        while (is_digit(peek(p))) p->pos++;
    }
    const uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    v->type = SOMA_JSON_NUMBER;
    v->as.number.is_int = is_int && !overflow && magnitude <= limit;
    if (v->as.number.is_int)
        v->as.number.value = negative ? (magnitude == limit ? INT64_MIN : -(int64_t)magnitude)
                                      : (int64_t)magnitude;
    return SOMA_OK;
}

static soma_status parse_literal(parser *p, soma_json *v) {
    static const struct {
        const char *word;
        soma_json_type type;
        int boolean;
    } literals[] = {{"true", SOMA_JSON_BOOL, 1}, {"false", SOMA_JSON_BOOL, 0}, {"null", SOMA_JSON_NULL, 0}};
    for (size_t i = 0; i < sizeof literals / sizeof literals[0]; i++) {
        size_t n = strlen(literals[i].word);
        if (p->len - p->pos >= n && memcmp(p->text + p->pos, literals[i].word, n) == 0) {
            v->type = literals[i].type;
            v->as.boolean = literals[i].boolean;
            p->pos += n;
            return SOMA_OK;
        }
    }
    char buf[16];
    return fail_at(p, p->pos, "expected a value, found %s", describe(p, p->pos, buf));
}

/* Returns items (count of *cap in use, `size` bytes each) with room for one
 * more, reallocated when full; NULL when out of memory (items is kept). */
static void *reserve(void *items, size_t count, size_t *cap, size_t size) {
    if (count < *cap) return items;
    size_t new_cap = *cap ? *cap * 2 : 4;
    if (new_cap > SIZE_MAX / size) return NULL;
    void *bigger = realloc(items, new_cap * size);
    if (bigger) *cap = new_cap;
    return bigger;
}

static soma_status parse_value(parser *p, soma_json *v, int depth);

/* Containers grow one zeroed slot at a time, counted before it is parsed, so
 * that soma_json_free can release a half-built tree after any error. */
static soma_status parse_array(parser *p, soma_json *v, int depth) {
    v->type = SOMA_JSON_ARRAY;
    size_t cap = 0;
    p->pos++; /* '[' */
    skip_whitespace(p);
    if (peek(p) == ']') {
        p->pos++;
        return SOMA_OK;
    }
    for (;;) {
        soma_json *items = reserve(v->as.array.items, v->as.array.count, &cap, sizeof *items);
        if (!items) return out_of_memory(p);
        v->as.array.items = items;
        soma_json *item = &v->as.array.items[v->as.array.count++];
        memset(item, 0, sizeof *item);
        SOMA_TRY(parse_value(p, item, depth + 1));
        skip_whitespace(p);
        int c = peek(p);
        p->pos++;
        if (c == ']') return SOMA_OK;
        if (c != ',') {
            char buf[16];
            return fail_at(p, p->pos - 1, "expected ',' or ']' after an array element, found %s",
                           describe(p, p->pos - 1, buf));
        }
    }
}

static soma_status parse_object(parser *p, soma_json *v, int depth) {
    v->type = SOMA_JSON_OBJECT;
    size_t cap = 0;
    p->pos++; /* '{' */
    skip_whitespace(p);
    if (peek(p) == '}') {
        p->pos++;
        return SOMA_OK;
    }
    for (;;) {
        skip_whitespace(p);
        char buf[16];
        if (peek(p) != '"')
            return fail_at(p, p->pos, "expected a string key, found %s", describe(p, p->pos, buf));
        soma_json_member *members =
            reserve(v->as.object.members, v->as.object.count, &cap, sizeof *members);
        if (!members) return out_of_memory(p);
        v->as.object.members = members;
        soma_json_member *m = &v->as.object.members[v->as.object.count++];
        memset(m, 0, sizeof *m);
        m->key_offset = p->base + p->pos;
        SOMA_TRY(parse_string(p, &m->key, &m->key_len));
        skip_whitespace(p);
        if (peek(p) != ':')
            return fail_at(p, p->pos, "expected ':' after an object key, found %s", describe(p, p->pos, buf));
        p->pos++;
        SOMA_TRY(parse_value(p, &m->value, depth + 1));
        skip_whitespace(p);
        int c = peek(p);
        p->pos++;
        if (c == '}') return SOMA_OK;
        if (c != ',')
            return fail_at(p, p->pos - 1, "expected ',' or '}' after an object member, found %s",
                           describe(p, p->pos - 1, buf));
    }
}

static soma_status parse_value(parser *p, soma_json *v, int depth) {
    skip_whitespace(p);
    v->offset = p->base + p->pos;
    int c = peek(p);
    if ((c == '{' || c == '[') && depth >= SOMA_JSON_MAX_DEPTH)
        return fail_at(p, p->pos, "arrays and objects nest deeper than %d levels", SOMA_JSON_MAX_DEPTH);
    if (c == '{') return parse_object(p, v, depth);
    if (c == '[') return parse_array(p, v, depth);
    if (c == '"') {
        v->type = SOMA_JSON_STRING;
        return parse_string(p, &v->as.string.chars, &v->as.string.len);
    }
    if (c == '-' || is_digit(c)) return parse_number(p, v);
    return parse_literal(p, v);
}

static void free_value(soma_json *v) {
    if (v->type == SOMA_JSON_STRING) {
        free(v->as.string.chars);
    } else if (v->type == SOMA_JSON_ARRAY) {
        for (size_t i = 0; i < v->as.array.count; i++) free_value(&v->as.array.items[i]);
        free(v->as.array.items);
    } else if (v->type == SOMA_JSON_OBJECT) {
        for (size_t i = 0; i < v->as.object.count; i++) {
            free(v->as.object.members[i].key);
            free_value(&v->as.object.members[i].value);
        }
        free(v->as.object.members);
    }
}

void soma_json_free(soma_json *root) {
    if (!root) return;
    free_value(root);
    free(root);
}

soma_status soma_json_parse(const char *text, size_t len, const char *what, uint64_t base_offset,
                            soma_json **out) {
    *out = NULL;
    parser p = {.text = text, .len = len, .pos = 0, .what = what, .base = base_offset};
    soma_json *root = calloc(1, sizeof *root); /* type NULL: nothing to free yet */
    if (!root) return out_of_memory(&p);
    soma_status status = parse_value(&p, root, 0);
    if (status == SOMA_OK) {
        skip_whitespace(&p);
        char buf[16];
        if (p.pos < p.len)
            status = fail_at(&p, p.pos, "%s after the end of the JSON value", describe(&p, p.pos, buf));
    }
    if (status != SOMA_OK) {
        soma_json_free(root);
        return status;
    }
    *out = root;
    return SOMA_OK;
}

const char *soma_json_type_name(soma_json_type type) {
    switch (type) {
    case SOMA_JSON_NULL: return "null";
    case SOMA_JSON_BOOL: return "a boolean";
    case SOMA_JSON_NUMBER: return "a number";
    case SOMA_JSON_STRING: return "a string";
    case SOMA_JSON_ARRAY: return "an array";
    case SOMA_JSON_OBJECT: return "an object";
    }
    return "an unknown value";
}

/* ---- the writer --------------------------------------------------------------------- */

void soma_json_buf_append(soma_json_buf *b, const char *bytes, size_t n) {
    if (b->failed) return;
    if (n >= SIZE_MAX - b->len) {
        b->failed = 1;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap = cap > SIZE_MAX / 2 ? b->len + n + 1 : cap * 2;
        char *bigger = realloc(b->data, cap);
        if (!bigger) {
            b->failed = 1;
            return;
        }
        b->data = bigger;
        b->cap = cap;
    }
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void soma_json_buf_append_int(soma_json_buf *b, int64_t v) {
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%lld", (long long)v);
    soma_json_buf_append(b, digits, (size_t)n);
}

void soma_json_buf_append_string(soma_json_buf *b, const char *s) {
    soma_json_buf_append(b, "\"", 1);
    const char *run = s; /* bytes copied as they are, up to the next escape */
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        soma_json_buf_append(b, run, (size_t)(s - run));
        char esc[8];
        const char *named = strchr("\"\\\b\f\n\r\t", c);
        if (named) {
            esc[0] = '\\';
            esc[1] = "\"\\bfnrt"[named - "\"\\\b\f\n\r\t"];
            soma_json_buf_append(b, esc, 2);
        } else {
            snprintf(esc, sizeof esc, "\\u%04X", c);
            soma_json_buf_append(b, esc, 6);
        }
        run = s + 1;
    }
    soma_json_buf_append(b, run, (size_t)(s - run));
    soma_json_buf_append(b, "\"", 1);
}

void soma_json_buf_free(soma_json_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}
