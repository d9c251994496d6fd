/* options.c: see options.h. */
#define _GNU_SOURCE /* getopt_long */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <getopt.h>
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

/* The text that named option k on the command line, without "=value". */
static void option_text(char **argv, int index, char *text, size_t size) {
    const char *arg = argv[index];
    size_t len = strcspn(arg, "=");
    snprintf(text, size, "%.*s", (int)(len < size ? len : size - 1), arg);
}

int options_parse_args(const char *command, const char *synopsis, int argc, char **argv,
                       const option *options, int n, unsigned char *given,
                       const char **args, int max_args, int *n_args) {
    unsigned char seen[MAX_OPTIONS] = {0};
    if (n_args) *n_args = 0;
    if (n > MAX_OPTIONS) {
        fprintf(stderr, "soma %s: internal error: %d options, more than %d\n", command, n, MAX_OPTIONS);
        return 2;
    }
    /* The table as getopt_long sees it: "--name" a long option, "-x" a short
     * one; an option's index k comes back as 256 + k. The optstring starts
     * with '-' (arguments come back in order, as code 1) and ':' (a missing
     * value is ':', not '?'); getopt's own messages are off (opterr). */
    struct option longs[MAX_OPTIONS + 2];
    char shorts[2 * MAX_OPTIONS + 8] = "-:h";
    int n_longs = 0, n_shorts = 3;
    for (int k = 0; k < n; k++) {
        const char *name = options[k].name;
        int has_arg = options[k].type == OPT_FLAG ? no_argument : required_argument;
        if (name[0] == '-' && name[1] == '-') {
            longs[n_longs++] = (struct option){name + 2, has_arg, NULL, 256 + k};
        } else if (name[0] == '-' && name[1] && !name[2]) {
            shorts[n_shorts++] = name[1];
            if (has_arg == required_argument) shorts[n_shorts++] = ':';
        }
    }
    shorts[n_shorts] = '\0';
    longs[n_longs++] = (struct option){"help", no_argument, NULL, 'h'};
    longs[n_longs] = (struct option){NULL, 0, NULL, 0};

    optind = 0; /* GNU: start afresh (the fuzzer parses many command lines) */
    opterr = 0;
    char text[128];
    for (;;) {
        int before = optind ? optind : 1;
        int c = getopt_long(argc, argv, shorts, longs, NULL);
        if (c == -1) break;
        if (c == 'h') {
            options_usage(synopsis, options, n, 1);
            return -1;
        }
        if (c == 1) { /* an argument */
            if (!n_args || *n_args >= max_args) {
                if (max_args == 0)
                    fprintf(stderr, "soma %s: unexpected argument '%s' (%s)\n", command, optarg, synopsis);
                else
                    fprintf(stderr, "soma %s: too many arguments: '%s' (%s)\n", command, optarg, synopsis);
                return 2;
            }
            args[(*n_args)++] = optarg;
            continue;
        }
        if (c == '?' || c == ':') {
            /* optopt: 0 for an unknown long option, 256 + k for a known one
             * (given a value it takes none, or missing its value), the letter
             * of a short one */
            const option *o = optopt >= 256 && optopt < 256 + n ? &options[optopt - 256] : NULL;
            for (int k = 0; !o && optopt > 0 && optopt < 256 && k < n; k++)
                if (options[k].name[0] == '-' && options[k].name[1] == optopt && !options[k].name[2]) o = &options[k];
            if (o && c == ':')
                fprintf(stderr, "soma %s: %s needs a value\n", command, o->name);
            else if (o && o->type == OPT_FLAG)
                fprintf(stderr, "soma %s: %s takes no value, got '%s'\n", command, o->name, argv[optind - 1]);
            else if (optopt > 0 && optopt < 256)
                fprintf(stderr, "soma %s: unknown option '-%c' (soma %s --help lists them)\n", command, optopt,
                        command);
            else {
                option_text(argv, optind - 1, text, sizeof text);
                fprintf(stderr, "soma %s: unknown option '%s' (soma %s --help lists them)\n", command, text,
                        command);
            }
            return 2;
        }
        const option *o = NULL;
        if (c >= 256 && c < 256 + n) o = &options[c - 256];
        for (int k = 0; !o && k < n; k++)
            if (options[k].name[0] == '-' && options[k].name[1] == c && !options[k].name[2]) o = &options[k];
        if (!o) {
            fprintf(stderr, "soma %s: internal error: getopt_long returned %d\n", command, c);
            return 2;
        }
        /* getopt_long takes any unambiguous prefix (--ep for --epochs): a
         * script would change meaning when an option is added, so the full
         * name is required. The option's text is at `before` (a value given
         * apart follows it). */
        if (o->name[1] == '-') {
            option_text(argv, before, text, sizeof text);
            if (strcmp(text, o->name) != 0) {
                fprintf(stderr, "soma %s: unknown option '%s' (did you mean %s? soma %s --help lists them)\n",
                        command, text, o->name, command);
                return 2;
            }
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
        int code = parse_value(command, o, optarg);
        if (code) return code;
    }
    /* after "--": arguments, even those starting with '-' */
    for (int i = optind; i < argc; i++) {
        if (!n_args || *n_args >= max_args) {
            fprintf(stderr, "soma %s: unexpected argument '%s' (%s)\n", command, argv[i], synopsis);
            return 2;
        }
        args[(*n_args)++] = argv[i];
    }
    if (given) memcpy(given, seen, (size_t)n);
    return 0;
}

int options_parse(const char *command, const char *synopsis, int argc, char **argv,
                  const option *options, int n, unsigned char *given) {
    return options_parse_args(command, synopsis, argc, argv, options, n, given, NULL, 0, NULL);
}
