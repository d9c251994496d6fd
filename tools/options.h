/* options.h: a table-driven command-line option parser shared by the
 * subcommands, so every command parses, validates and documents its options
 * the same way. */
#ifndef SOMA_TOOLS_OPTIONS_H
#define SOMA_TOOLS_OPTIONS_H

#include <stdint.h>

typedef enum option_type { OPT_STRING, OPT_INT, OPT_U64, OPT_FLOAT, OPT_FLAG } option_type;

typedef struct option {
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

/* Prints the synopsis and one line per option. */
void options_usage(const char *synopsis, const option *options, int n_options, int to_stdout);

#endif
