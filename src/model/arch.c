/* arch.c: architecture strings, one line, inputs first:
 *
 *   784,dense:256,batchnorm:relu,res:256:relu,res:256:relu,dense:10
 *
 *   dense:U[:ACT][:drop=P]     batchnorm[:ACT][:drop=P] (bn)
 *   layernorm[:ACT][:drop=P] (ln)     res:H[:ACT][:W]
 *
 * ACT is an activation name (soma_activation_parse), leaky_relu may carry
 * its slope as leaky_relu=0.2. The canonical form (what checkpoints store)
 * uses the long names and writes every field, numbers with the fewest
 * digits that read back as the same float: dense:256:relu:drop=0.1,
 * batchnorm:relu:drop=0, res:256:relu:256. Errors name the token, its
 * number and the character where it starts. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/layer.h"

#define MAX_SIZE 2147483647LL /* inputs and units: as checkpoints allow */
#define TOKEN_MAX 96

/* Where a token is, for the messages. */
typedef struct where {
    const char *arch;
    int number;  /* 0: the inputs, 1: the first layer */
    size_t at;   /* its first character, from 0 */
    char text[TOKEN_MAX];
} where;

static soma_status bad(const where *w, const char *fmt, const char *field) {
    char why[256];
    snprintf(why, sizeof why, fmt, field);
    return soma_fail(SOMA_ERR_INVALID_ARG, "architecture '%.200s': token %d '%s' (character %zu): %s", w->arch,
                     w->number + 1, w->text, w->at + 1, why);
}

static int parse_size(const char *s, int64_t *out) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!(*s >= '0' && *s <= '9') || *end || errno == ERANGE || v < 1 || v > MAX_SIZE) return 0;
    *out = v;
    return 1;
}

/* "relu", "leaky_relu=0.2": 1 when it is an activation */
static int parse_act(const char *s, soma_layer_desc *d) {
    char name[32];
    const char *eq = strchr(s, '=');
    size_t len = eq ? (size_t)(eq - s) : strlen(s);
    if (len == 0 || len >= sizeof name) return 0;
    memcpy(name, s, len);
    name[len] = '\0';
    soma_activation act;
    if (soma_activation_parse(name, &act) != SOMA_OK) {
        soma_clear_error();
        return 0;
    }
    float param = act == SOMA_ACT_LEAKY_RELU ? 0.01f : 0.0f;
    if (eq) {
        char *end = NULL;
        double v = strtod(eq + 1, &end);
        if (act != SOMA_ACT_LEAKY_RELU || end == eq + 1 || *end || !(fabs(v) <= FLT_MAX)) return 0;
        param = (float)v;
    }
    d->act = act;
    d->act_param = param;
    return 1;
}

/* One layer token, split at ':' into fields. */
static soma_status parse_layer(const where *w, soma_layer_desc *d) {
    char buf[TOKEN_MAX];
    snprintf(buf, sizeof buf, "%s", w->text);
    char *fields[8];
    int n = 0;
    for (char *p = buf; n < 8;) {
        fields[n++] = p;
        char *colon = strchr(p, ':');
        if (!colon) break;
        *colon = '\0';
        p = colon + 1;
    }
    memset(d, 0, sizeof *d);
    const char *kind = fields[0];
    int k = 0;
    while (k < SOMA_LAYER_KIND_COUNT && strcmp(kind, soma_layer_kind_of((soma_layer_kind_id)k)->name) != 0 &&
           strcmp(kind, soma_layer_kind_of((soma_layer_kind_id)k)->short_name) != 0)
        k++;
    if (k == SOMA_LAYER_KIND_COUNT)
        return bad(w, "unknown layer kind '%s' (expected dense, batchnorm (bn), layernorm (ln) or res)", kind);
    d->kind = (soma_layer_kind_id)k;
    int first = 1, has_units = d->kind == SOMA_LAYER_DENSE || d->kind == SOMA_LAYER_RESIDUAL;
    if (has_units) {
        if (n < 2) return bad(w, "%s needs its width: dense:UNITS or res:HIDDEN", kind);
        if (!parse_size(fields[1], &d->units)) return bad(w, "width '%s' is not an integer in [1, 2147483647]", fields[1]);
        first = 2;
    }
    int seen_act = 0, seen_drop = 0, seen_width = 0;
    for (int f = first; f < n; f++) {
        const char *s = fields[f];
        if (strncmp(s, "drop=", 5) == 0 && d->kind != SOMA_LAYER_RESIDUAL) {
            char *end = NULL;
            double p = strtod(s + 5, &end);
            if (seen_drop || end == s + 5 || *end || !(p >= 0.0 && p < 1.0))
                return bad(w, "'%s' is not one dropout probability in [0, 1)", s);
            d->dropout = (float)p;
            seen_drop = 1;
        } else if (!seen_act && !seen_width && parse_act(s, d)) {
            seen_act = 1;
        } else if (d->kind == SOMA_LAYER_RESIDUAL && !seen_width && parse_size(s, &d->width)) {
            seen_width = 1;
        } else {
            return bad(w, d->kind == SOMA_LAYER_RESIDUAL
                              ? "field '%s' is not an activation or an output width (res:HIDDEN[:ACT][:WIDTH])"
                              : "field '%s' is not an activation or drop=P", s);
        }
    }
    return SOMA_OK;
}

soma_status soma_arch_parse(const char *arch, int64_t *inputs, soma_layer_desc *descs, int *n) {
    if (!arch) return soma_fail(SOMA_ERR_INVALID_ARG, "architecture: the string is NULL");
    *n = 0;
    where w = {.arch = arch};
    const char *p = arch;
    for (;;) {
        size_t len = strcspn(p, ",");
        w.at = (size_t)(p - arch);
        if (len >= TOKEN_MAX) {
            snprintf(w.text, sizeof w.text, "%.40s...", p);
            return bad(&w, "%stoo long", "");
        }
        memcpy(w.text, p, len);
        w.text[len] = '\0';
        if (len == 0) return bad(&w, "%sempty (two commas, or a comma at an end?)", "");
        if (w.number == 0) {
            if (!parse_size(w.text, inputs))
                return bad(&w, "the first field is the number of inputs, an integer in [1, 2147483647], not '%s'",
                           w.text);
        } else {
            if (*n == SOMA_MAX_LAYERS) return bad(&w, "more than %s layers", "32");
            SOMA_TRY(parse_layer(&w, &descs[*n]));
            (*n)++;
        }
        w.number++;
        if (!p[len]) break;
        p += len + 1;
    }
    if (*n == 0)
        return soma_fail(SOMA_ERR_INVALID_ARG, "architecture '%.200s': no layers after the inputs (e.g. %s,dense:10)",
                         arch, arch);
    if (descs[*n - 1].dropout > 0.0f) {
        w.number--;
        return bad(&w, "%sthe output layer cannot have dropout", "");
    }
    return SOMA_OK;
}

/* v with the fewest significant digits that read back as the same float
 * (0.1f is "0.1", not "0.100000001"): readable, and exact. */
static void shortest(float v, char *buf, size_t size) {
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, size, "%.*g", digits, (double)v);
        if (strtof(buf, NULL) == v) return;
    }
}

soma_status soma_arch_format(int64_t inputs, const soma_layer_desc *descs, int n, char *buf, size_t size) {
    if (!buf || size == 0) return soma_fail(SOMA_ERR_INVALID_ARG, "architecture: no buffer to write into");
    size_t used = (size_t)snprintf(buf, size, "%lld", (long long)inputs);
    int64_t in = inputs;
    for (int l = 0; l < n && used < size; l++) {
        const soma_layer_desc *d = &descs[l];
        const soma_layer_kind *k = soma_layer_kind_of(d->kind);
        char act[48], slope[24], drop[24];
        shortest(d->act_param, slope, sizeof slope);
        shortest(d->dropout, drop, sizeof drop);
        if (d->act == SOMA_ACT_LEAKY_RELU)
            snprintf(act, sizeof act, "leaky_relu=%s", slope);
        else
            snprintf(act, sizeof act, "%s", soma_activation_name(d->act));
        int64_t out = k->out_width(d, in);
        if (d->kind == SOMA_LAYER_RESIDUAL)
            used += (size_t)snprintf(buf + used, size - used, ",res:%lld:%s:%lld", (long long)d->units, act,
                                     (long long)out);
        else if (d->kind == SOMA_LAYER_DENSE)
            used += (size_t)snprintf(buf + used, size - used, ",dense:%lld:%s:drop=%s", (long long)d->units, act, drop);
        else
            used += (size_t)snprintf(buf + used, size - used, ",%s:%s:drop=%s", k->name, act, drop);
        in = out;
    }
    if (used >= size)
        return soma_fail(SOMA_ERR_INVALID_ARG, "architecture: %zu characters do not fit the buffer of %zu", used, size);
    return SOMA_OK;
}

soma_status soma_arch_of_dense(int64_t inputs, const soma_layer_spec *specs, int n, char *buf, size_t size) {
    soma_layer_desc descs[SOMA_MAX_LAYERS];
    if (n < 0 || n > SOMA_MAX_LAYERS)
        return soma_fail(SOMA_ERR_INVALID_ARG, "architecture: %d layers (must be 0..%d)", n, SOMA_MAX_LAYERS);
    for (int l = 0; l < n; l++) descs[l] = soma_layer_desc_dense(&specs[l]);
    return soma_arch_format(inputs, descs, n, buf, size);
}

soma_status soma_arch_canonical(const char *arch, char *buf, size_t size, int64_t *inputs) {
    soma_layer_desc descs[SOMA_MAX_LAYERS];
    int n = 0;
    int64_t in = 0;
    SOMA_TRY(soma_arch_parse(arch, &in, descs, &n));
    if (inputs) *inputs = in;
    return soma_arch_format(in, descs, n, buf, size);
}
