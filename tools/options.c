/* options.c: see options.h. */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

#define MAX_OPTIONS 64

void options_usage(const char *synopsis, const option *options, int n, int to_stdout) {
    FILE *to = to_stdout ? stdout : stderr;
    fprintf(to, "usage: %s\n", synopsis);
    for (int i = 0; i < n; i++) {
        const char *arg = options[i].type == OPT_FLAG ? "" : options[i].type == OPT_STRING ? " S" : " N";
        char left[40];
        snprintf(left, sizeof left, "%s%s", options[i].name, arg);
        fprintf(to, "  %-22s %s\n", left, options[i].help);
    }
}

static int parse_value(const char *command, const option *o, const char *text) {
    if (o->type == OPT_STRING) {
        *(const char **)o->value = text;
        return 0;
    }
    /* strtoll and strtoull skip leading white space, and strtoull negates a
     * minus sign after it (" -5" would become 2^64 - 5): numbers start with
     * their first character */
    const char *digits = isspace((unsigned char)text[0]) ? "" : text;
    char *end = NULL;
    errno = 0;
    const char *want = "an integer";
    switch (o->type) {
    case OPT_INT: *(int64_t *)o->value = strtoll(digits, &end, 10); break;
    case OPT_U64:
        if (digits[0] == '-') end = (char *)digits;
        else *(uint64_t *)o->value = strtoull(digits, &end, 10);
        want = "a non-negative integer";
        break;
    case OPT_FLOAT: {
        double v = strtod(digits, &end);
        /* the values become floats: 1e39 would turn into inf */
        if (!(fabs(v) <= FLT_MAX)) end = (char *)digits;
        *(double *)o->value = v;
        want = "a finite number (|x| <= 3.4e38)";
        break;
    }
    default: return 0;
    }
    if (end == digits || *end || errno == ERANGE) {
        fprintf(stderr, "soma %s: %s needs %s, got '%s'\n", command, o->name, want, text);
        return 2;
    }
    return 0;
}

int options_parse(const char *command, const char *synopsis, int argc, char **argv,
                  const option *options, int n, unsigned char *given) {
    unsigned char seen[MAX_OPTIONS] = {0};
    if (n > MAX_OPTIONS) {
        fprintf(stderr, "soma %s: internal error: %d options, more than %d\n", command, n, MAX_OPTIONS);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            options_usage(synopsis, options, n, 1);
            return -1;
        }
        const option *o = NULL;
        for (int k = 0; k < n && !o; k++)
            if (strcmp(argv[i], options[k].name) == 0) o = &options[k];
        if (!o) {
            fprintf(stderr, "soma %s: unknown option '%s' (soma %s --help lists them)\n", command,
                    argv[i], command);
            return 2;
        }
        /* the same option twice (or an alias of it, which fills the same value):
         * one of the two would be dropped without a word */
        for (int k = 0; k < n; k++)
            if (seen[k] && options[k].value == o->value) {
                if (&options[k] == o)
                    fprintf(stderr, "soma %s: %s is given twice\n", command, o->name);
                else
                    fprintf(stderr, "soma %s: %s and %s are the same option, given twice\n", command,
                            options[k].name, o->name);
                return 2;
            }
        seen[o - options] = 1;
        if (o->type == OPT_FLAG) {
            *(int *)o->value = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "soma %s: %s needs a value\n", command, o->name);
            return 2;
        }
        int code = parse_value(command, o, argv[++i]);
        if (code) return code;
    }
    if (given) memcpy(given, seen, (size_t)n);
    return 0;
}
