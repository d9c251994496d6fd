/* csv.c: the CSV reader. Every cell is a number except, optionally, the
 * first line's column names. Lines are read whole with getline, so their
 * length has no limit; values are gathered in a growing array because the
 * row count is known only at the end. The file must be a regular file (a
 * FIFO is refused rather than waited on: io/files.h).
 *
 * Fields are split on the delimiter; a field in double quotes may contain
 * the delimiter, and "" inside it stands for one quote, so header names
 * written by spreadsheets ("price, USD") survive. Quoted fields spanning
 * lines are not supported. Messages point at file:line:column, 1-based,
 * counting every physical line (empty ones too) and columns as fields. */
#define _POSIX_C_SOURCE 200809L /* getline */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/host_memory.h"
#include "io/files.h"
#include "soma/data.h"

#define API "soma_dataset_load_csv"

/* How much of a bad cell or of the column list a message quotes. */
#define QUOTE_CHARS 40
#define COLUMN_LIST_CHARS 600

#define MAX_NAMES 4096 /* as many classes as soma_dataset_classes allows */

typedef struct csv_state {
    const char *path;
    char delim;
    FILE *f;
    char *line; /* getline's buffer */
    size_t line_cap;
    long long lineno;
    char **fields; /* pointers into line (or header_line) */
    int64_t n_fields, fields_cap;
    char *header_line; /* the first line's buffer, kept while its names are needed */
    char **names;      /* the header's fields */
    float *values;     /* rows x cols, row-major */
    int64_t n_values, values_cap;
    /* the label cells as text, while they may be class names: each distinct
     * cell once (names), and per row its index there (ids) */
    char **names_seen;
    int64_t n_seen, seen_cap;
    int32_t *ids;
    int64_t n_ids, ids_cap;
    int32_t slots[2 * MAX_NAMES]; /* a hash table of names_seen: index + 1, 0 empty */
    int interning;               /* still collecting (at most MAX_NAMES distinct cells so far) */
    long long first_text_line;   /* the first line whose label is not a number; 0: none */
} csv_state;



static void state_free(csv_state *s) {
    if (s->f) fclose(s->f);
    free(s->line);
    free(s->fields);
    free(s->header_line);
    free(s->names);
    free(s->values);
    for (int64_t k = 0; k < s->n_seen; k++) free(s->names_seen[k]);
    free(s->names_seen);
    free(s->ids);
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* Reads the next line, without its "\n" or "\r\n". *got is 0 at the end. */
static soma_status next_line(csv_state *s, size_t *length, int *got) {
    errno = 0;
    ssize_t n = getline(&s->line, &s->line_cap, s->f);
    if (n < 0) {
        /* getline may fail for want of memory without setting the error flag */
        if (errno == ENOMEM)
            return soma_fail(SOMA_ERR_OUT_OF_MEMORY, API ": %s:%lld: out of host memory reading the line",
                             s->path, s->lineno + 1);
        if (ferror(s->f))
            return soma_fail(SOMA_ERR_IO, API ": %s:%lld: read error: %s", s->path, s->lineno + 1,
                             strerror(errno));
        *got = 0;
        return SOMA_OK;
    }
    s->lineno++;
    size_t len = (size_t)n;
    if (strlen(s->line) != len)
        return soma_fail(SOMA_ERR_FORMAT, API ": %s:%lld: the line contains a NUL byte (not a text file?)",
                         s->path, s->lineno);
    if (len > 0 && s->line[len - 1] == '\n') s->line[--len] = '\0';
    if (len > 0 && s->line[len - 1] == '\r') s->line[--len] = '\0';
    /* a UTF-8 byte order mark, as some spreadsheets write */
    if (s->lineno == 1 && len >= 3 && memcmp(s->line, "\xEF\xBB\xBF", 3) == 0) {
        len -= 3;
        memmove(s->line, s->line + 3, len + 1);
    }
    *length = len;
    *got = 1;
    return SOMA_OK;
}

static soma_status push_field(csv_state *s, char *field) {
    if (s->n_fields == s->fields_cap) {
        int64_t cap = s->fields_cap ? 2 * s->fields_cap : 64;
        char **grown = realloc(s->fields, (size_t)cap * sizeof *grown);
        if (!grown)
            return soma_fail(SOMA_ERR_OUT_OF_MEMORY, API ": %s:%lld: out of host memory", s->path, s->lineno);
        s->fields = grown;
        s->fields_cap = cap;
    }
    s->fields[s->n_fields++] = field;
    return SOMA_OK;
}

/* Splits s->line in place into s->fields: each field without the blanks
 * around it and, when quoted, without its quotes. */
static soma_status split_line(csv_state *s) {
    s->n_fields = 0;
    char *p = s->line;
    for (;;) {
        while (is_blank(*p) && *p != s->delim) p++;
        char *field = p, *end;
        if (*p == '"') {
            /* a quoted field: copy it down over its quotes, "" -> " */
            char *w = p;
            p++;
            for (;;) {
                if (*p == '\0')
                    return soma_fail(SOMA_ERR_FORMAT, API ": %s:%lld:%lld: unterminated quote", s->path,
                                     s->lineno, (long long)s->n_fields + 1);
                if (*p == '"' && p[1] == '"') {
                    *w++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *w++ = *p++;
                }
            }
            end = w;
            while (is_blank(*p) && *p != s->delim) p++;
            if (*p != s->delim && *p != '\0')
                return soma_fail(SOMA_ERR_FORMAT, API ": %s:%lld:%lld: text after a closing quote", s->path,
                                 s->lineno, (long long)s->n_fields + 1);
        } else {
            while (*p != s->delim && *p != '\0') p++;
            end = p;
            while (end > field && is_blank(end[-1]) && end[-1] != s->delim) end--;
        }
        char next = *p;
        *end = '\0';
        SOMA_TRY(push_field(s, field));
        if (next == '\0') return SOMA_OK;
        p++; /* past the delimiter, which `next` remembered in case `end` overwrote it */
    }
}

/* A cell's number: what strtod reads, with nothing but blanks after it
 * (split_line already removed them). 0 when the cell is not a number. */
static int parse_number(const char *cell, double *value) {
    if (*cell == '\0') return 0;
    char *end;
    *value = strtod(cell, &end); /* out of range: +-HUGE_VAL or 0, judged by the caller */
    return end != cell && *end == '\0';
}

/* For messages: the cell, cut to QUOTE_CHARS. */
static void quote_cell(const char *cell, char *buf, size_t size) {
    size_t n = strlen(cell);
    if (n <= QUOTE_CHARS)
        snprintf(buf, size, "%s", cell);
    else
        snprintf(buf, size, "%.*s...", QUOTE_CHARS, cell);
}

static soma_status push_value(csv_state *s, float v) {
    if (s->n_values == s->values_cap) {
        if (s->values_cap > INT64_MAX / 2 / (int64_t)sizeof(float))
            return soma_fail(SOMA_ERR_OUT_OF_MEMORY, API ": '%s' has too many values", s->path);
        int64_t cap = s->values_cap ? 2 * s->values_cap : 1024;
        if (cap >= (1 << 20)) { /* the values are written as read: beyond a cgroup's limit that kills */
            char what[96];
            snprintf(what, sizeof what, "line %lld: the %lld values read so far, grown to %lld,", s->lineno,
                     (long long)s->n_values, (long long)cap);
            SOMA_TRY(soma_host_memory_check(API, what, (uint64_t)cap * sizeof(float)));
        }
        float *grown = realloc(s->values, (size_t)cap * sizeof *grown);
        if (!grown)
            return soma_fail(SOMA_ERR_OUT_OF_MEMORY, API ": %s:%lld: out of host memory after %lld values",
                             s->path, s->lineno, (long long)s->n_values);
        s->values = grown;
        s->values_cap = cap;
    }
    s->values[s->n_values++] = v;
    return SOMA_OK;
}

/* grows *array of *cap elements of `size` bytes to hold one more */
static int grow(void **array, int64_t *cap, int64_t used, size_t size) {
    if (used < *cap) return 1;
    int64_t n = *cap ? 2 * *cap : 64;
    void *p = realloc(*array, (size_t)n * size);
    if (!p) return 0;
    *array = p;
    *cap = n;
    return 1;
}

/* Records a label cell's text (the index of its distinct value). After
 * MAX_NAMES distinct cells the column is no class column: collecting stops,
 * and a text label there is an error. */
static soma_status intern_label(csv_state *s, const char *cell, int is_number, int64_t col) {
    if (!is_number && !s->first_text_line) s->first_text_line = s->lineno;
    if (!s->interning) {
        if (is_number) return SOMA_OK;
        return soma_fail(SOMA_ERR_FORMAT, API ": %s:%lld:%lld: the label column holds text, so it would be class "
                         "names, but it has more than %d distinct values", s->path, s->lineno, (long long)col + 1,
                         MAX_NAMES);
    }
    /* FNV-1a into a table twice the most names, probed linearly: a row costs
     * one lookup however many distinct labels came before */
    uint32_t h = 2166136261u;
    for (const unsigned char *c = (const unsigned char *)cell; *c; c++) h = (h ^ *c) * 16777619u;
    uint32_t slot = h % (2 * MAX_NAMES);
    while (s->slots[slot] && strcmp(s->names_seen[s->slots[slot] - 1], cell) != 0) slot = (slot + 1) % (2 * MAX_NAMES);
    int64_t k = s->slots[slot] ? s->slots[slot] - 1 : s->n_seen;
    if (k == s->n_seen) {
        if (s->n_seen == MAX_NAMES) {
            if (s->first_text_line)
                return soma_fail(SOMA_ERR_FORMAT, API ": %s:%lld:%lld: the label column holds text (line %lld), so it "
                                 "would be class names, but it has more than %d distinct values", s->path, s->lineno,
                                 (long long)col + 1, s->first_text_line, MAX_NAMES);
            s->interning = 0; /* numbers of a regression target: no names */
            return SOMA_OK;
        }
        char *copy = strdup(cell);
        if (!copy || !grow((void **)&s->names_seen, &s->seen_cap, s->n_seen, sizeof *s->names_seen)) {
            free(copy);
            return soma_fail(SOMA_ERR_OUT_OF_MEMORY, API ": %s:%lld: out of host memory", s->path, s->lineno);
        }
        s->names_seen[s->n_seen++] = copy;
        s->slots[slot] = (int32_t)s->n_seen;
    }
    if (!grow((void **)&s->ids, &s->ids_cap, s->n_ids, sizeof *s->ids))
        return soma_fail(SOMA_ERR_OUT_OF_MEMORY, API ": %s:%lld: out of host memory", s->path, s->lineno);
    s->ids[s->n_ids++] = (int32_t)k;
    return SOMA_OK;
}

static soma_status parse_row(csv_state *s, int64_t label) {
    for (int64_t c = 0; c < s->n_fields; c++) {
        const char *cell = s->fields[c];
        double v;
        if (c == label) {
            int number = parse_number(cell, &v); /* NaN and Inf are numbers, refused below */
            SOMA_TRY(intern_label(s, cell, number, c));
            if (!number) {
                if (*cell == '\0')
                    return soma_fail(SOMA_ERR_FORMAT, API ": %s:%lld:%lld: the label is empty", s->path, s->lineno,
                                     (long long)c + 1);
                SOMA_TRY(push_value(s, 0.0f)); /* replaced by the name's class below */
                continue;
            }
        }
        if (!parse_number(cell, &v)) {
            char shown[QUOTE_CHARS + 4];
            quote_cell(cell, shown, sizeof shown);
            return soma_fail(SOMA_ERR_FORMAT, API ": %s:%lld:%lld: '%s' is not a number", s->path,
                             s->lineno, (long long)c + 1, shown);
        }
        /* strtod gives +-HUGE_VAL for 1e999; values beyond float's range
         * become Inf too: all are refused like NaN. */
        float f = (float)v;
        if (!isfinite(f)) {
            char shown[QUOTE_CHARS + 4];
            quote_cell(cell, shown, sizeof shown);
            return soma_fail(SOMA_ERR_FORMAT, API ": %s:%lld:%lld: '%s': NaN/Inf values are not allowed%s",
                             s->path, s->lineno, (long long)c + 1, shown,
                             isfinite(v) ? " (beyond float32's range)" : "");
        }
        SOMA_TRY(push_value(s, f));
    }
    return SOMA_OK;
}

/* The header's column names, for the message about an unknown label_name. */
static void list_columns(const csv_state *s, int64_t cols, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int64_t c = 0; c < cols; c++) {
        int n = snprintf(buf + used, size - used, "%s'%s'", c ? ", " : "", s->names[c]);
        if (n < 0 || (size_t)n >= size - used || used + (size_t)n > COLUMN_LIST_CHARS) {
            snprintf(buf + used, size - used, ", ... (%lld columns)", (long long)cols);
            return;
        }
        used += (size_t)n;
    }
}

static soma_status find_label(const csv_state *s, const soma_csv_options *o, int64_t cols, int has_header,
                              int64_t *label) {
    if (o->label_name) {
        if (!has_header)
            return soma_fail(SOMA_ERR_INVALID_ARG,
                             API ": label_name '%s' needs a header, but %s has none%s", o->label_name, s->path,
                             o->header == -1 ? " (its first line is all numbers)" : " (header = 0)");
        int64_t found = -1;
        for (int64_t c = 0; c < cols; c++) {
            if (strcmp(s->names[c], o->label_name) != 0) continue;
            if (found >= 0)
                return soma_fail(SOMA_ERR_FORMAT, API ": %s: label_name '%s' names two columns, %lld and %lld",
                                 s->path, o->label_name, (long long)found + 1, (long long)c + 1);
            found = c;
        }
        if (found < 0) {
            char listed[COLUMN_LIST_CHARS + 64];
            list_columns(s, cols, listed, sizeof listed);
            return soma_fail(SOMA_ERR_INVALID_ARG, API ": %s: no column is named '%s'; the columns are %s",
                             s->path, o->label_name, listed);
        }
        *label = found;
        return SOMA_OK;
    }
    if (o->label_column >= cols)
        return soma_fail(SOMA_ERR_INVALID_ARG, API ": label_column %d is out of range: %s has %lld columns (0..%lld)",
                         o->label_column, s->path, (long long)cols, (long long)cols - 1);
    *label = o->label_column == -1 ? cols - 1 : o->label_column;
    return SOMA_OK;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The label column held text: class k is the k-th distinct cell in byte
 * order; every row's target becomes its class. */
static soma_status name_classes(csv_state *s, int64_t rows, soma_dataset *ds) {
    int64_t n = s->n_seen;
    char **sorted = malloc((size_t)n * sizeof *sorted);
    int32_t *rank = malloc((size_t)n * sizeof *rank);
    if (!sorted || !rank) {
        free(sorted), free(rank);
        return soma_fail(SOMA_ERR_OUT_OF_MEMORY, API ": %s: out of host memory", s->path);
    }
    memcpy(sorted, s->names_seen, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, by_name);
    for (int64_t k = 0; k < n; k++) {
        char **at = bsearch(&s->names_seen[k], sorted, (size_t)n, sizeof *sorted, by_name);
        rank[k] = (int32_t)(at - sorted);
    }
    float *y = soma_dataset_target_data(ds);
    for (int64_t r = 0; r < rows; r++) y[r] = (float)rank[s->ids[r]];
    soma_status st = soma_dataset_set_class_names(ds, (const char *const *)sorted, n);
    free(sorted), free(rank);
    return st;
}

static soma_status read_csv(csv_state *s, const soma_csv_options *o, soma_dataset **out) {
    int64_t cols = 0, label = -1;
    long long first_line = 0;
    int has_header = 0;
    for (;;) {
        size_t len = 0;
        int got = 0;
        SOMA_TRY(next_line(s, &len, &got));
        if (!got) break;
        size_t blank = 0;
        while (blank < len && is_blank(s->line[blank])) blank++;
        if (blank == len) continue; /* empty lines are skipped */
        SOMA_TRY(split_line(s));
        if (cols == 0) {
            cols = s->n_fields;
            first_line = s->lineno;
            if (cols < 2) {
                char shown[8];
                snprintf(shown, sizeof shown, isgraph((unsigned char)s->delim) ? "'%c'" : "0x%02X",
                         (unsigned char)s->delim);
                return soma_fail(SOMA_ERR_FORMAT, API ": %s:%lld: 1 column: a target and no features (wrong delimiter %s?)",
                                 s->path, s->lineno, shown);
            }
            has_header = o->header == 1;
            /* a label column of names says nothing: its first cell may be a name */
            int64_t skip = o->label_name ? -1 : o->label_column == -1 ? cols - 1 : o->label_column;
            for (int64_t c = 0; o->header == -1 && c < cols && !has_header; c++) {
                double v;
                has_header = c != skip && !parse_number(s->fields[c], &v);
            }
            if (has_header) {
                /* keep the line: the names point into it */
                s->names = s->fields;
                s->fields = NULL;
                s->fields_cap = 0;
                s->header_line = s->line;
                s->line = NULL;
                s->line_cap = 0;
            }
            SOMA_TRY(find_label(s, o, cols, has_header, &label));
            if (has_header) continue;
        } else if (s->n_fields != cols) {
            return soma_fail(SOMA_ERR_FORMAT, API ": %s:%lld: %lld columns, expected %lld as in line %lld",
                             s->path, s->lineno, (long long)s->n_fields, (long long)cols, first_line);
        }
        SOMA_TRY(parse_row(s, label));
    }
    if (cols == 0) return soma_fail(SOMA_ERR_FORMAT, API ": %s has no data rows (it is empty)", s->path);
    int64_t rows = s->n_values / cols;
    if (rows == 0)
        return soma_fail(SOMA_ERR_FORMAT, API ": %s has no data rows (only the header on line %lld)", s->path,
                         first_line);

    soma_dataset *ds = NULL;
    SOMA_TRY(soma_dataset_create(rows, cols - 1, 1, &ds));
    float *x = soma_dataset_feature_data(ds), *y = soma_dataset_target_data(ds);
    for (int64_t r = 0; r < rows; r++) {
        const float *row = s->values + r * cols;
        for (int64_t c = 0; c < cols; c++) {
            if (c == label)
                y[r] = row[c];
            else
                *x++ = row[c];
        }
    }
    if (s->first_text_line) {
        soma_status st = name_classes(s, rows, ds);
        if (st != SOMA_OK) {
            soma_dataset_free(ds);
            return st;
        }
    }
    *out = ds;
    return SOMA_OK;
}

soma_status soma_dataset_load_csv(const char *path, const soma_csv_options *options, soma_dataset **out) {
    if (!out) return soma_fail(SOMA_ERR_INVALID_ARG, API ": argument 'out' is NULL");
    *out = NULL;
    if (!path) return soma_fail(SOMA_ERR_INVALID_ARG, API ": argument 'path' is NULL");
    soma_csv_options o = {.header = -1, .label_column = -1, .label_name = NULL, .delimiter = ','};
    if (options) o = *options;
    if (o.delimiter == 0) o.delimiter = ',';
    if (o.header < -1 || o.header > 1)
        return soma_fail(SOMA_ERR_INVALID_ARG, API ": options->header is %d; it must be 1, 0 or -1 (guess)", o.header);
    if (o.label_column < -1)
        return soma_fail(SOMA_ERR_INVALID_ARG, API ": options->label_column is %d; it must be >= 0, or -1 for the last",
                         o.label_column);
    /* a delimiter that can be part of a number or a line would split cells apart */
    unsigned char d = (unsigned char)o.delimiter;
    if (isalnum(d) || strchr(".+-\"\r\n", o.delimiter))
        return soma_fail(SOMA_ERR_INVALID_ARG, API ": options->delimiter 0x%02X cannot separate numeric cells", d);

    csv_state s;
    memset(&s, 0, sizeof s);
    s.path = path;
    s.delim = o.delimiter;
    s.interning = 1;
    SOMA_TRY(soma_file_fopen_input(API, "", path, &s.f));
    soma_status status = read_csv(&s, &o, out);
    state_free(&s);
    return status;
}
