/* options.h: a table-driven command-line option parser shared by the
 * subcommands, so every command parses, validates and documents its options
 * the same way. The table drives getopt_long: `--opt value` and
 * `--opt=value` both work, options and arguments may come in any order, and
 * `--` ends the options. The same table prints --help and, through it, the
 * man pages (tools/gen-man.sh) and the bash completion (tools/soma.bash). */
#ifndef SOMA_TOOLS_OPTIONS_H
#define SOMA_TOOLS_OPTIONS_H

#include <stdint.h>

typedef enum option_type { OPT_STRING, OPT_INT, OPT_U64, OPT_FLOAT, OPT_FLAG } option_type;

typedef struct cli_option { /* the tag is not "option": getopt.h has that one */
    const char *name;   /* "--lr" */
    option_type type;
    void *value;        /* const char **, int64_t *, uint64_t *, double *, int * */
    const char *help;   /* "learning rate (default 1e-3)" */
} option;

/* Parses argv[1..argc) against the table. Returns 0 on success, -1 after
 * printing help for --help, 2 after printing a one-line error naming the
 * option (unknown, missing value, not a number, given twice). When given is
 * not NULL, given[k] is set to 1 for each option k on the command line (a
 * default is then never mistaken for a choice). */
int options_parse(const char *command, const char *synopsis, int argc, char **argv,
                  const option *options, int n_options, unsigned char *given);

/* The same, for a command that takes up to max_args arguments besides its
 * options (`soma summary FILE`): they are stored in args, in order, and
 * counted in *n_args. One more is a usage error (2). */
int options_parse_args(const char *command, const char *synopsis, int argc, char **argv,
                       const option *options, int n_options, unsigned char *given,
                       const char **args, int max_args, int *n_args);

/* Prints the synopsis and one line per option. */
void options_usage(const char *synopsis, const option *options, int n_options, int to_stdout);

#endif
