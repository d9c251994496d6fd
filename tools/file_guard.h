/* file_guard.h: the files a command reads and writes, checked before any
 * work is done:
 *   - no output is an input, another output or the file standard output goes
 *     to, compared by file identity (device and inode: symbolic links, hard
 *     links and ./ spellings all count; a file still to be created by its
 *     directory and name): such a clash is bad usage, exit 2;
 *   - every output can be written (io/files.h: its kind, its permission, a
 *     temporary file beside it), or the command fails at once, exit 1,
 *     rather than after hours of training.
 * One exception is declared by the command: `soma train --resume F --save F`
 * continues a run in its own file, which the save replaces whole. */
#ifndef SOMA_TOOLS_FILE_GUARD_H
#define SOMA_TOOLS_FILE_GUARD_H

#define GUARD_MAX_FILES 16

typedef struct guarded_file {
    const char *option; /* "--save", "--data" */
    char *path;         /* allocated */
    int output;         /* 0 input; 1 replaced whole; 2 written in place (a log) */
} guarded_file;

typedef struct file_guard {
    guarded_file files[GUARD_MAX_FILES];
    int n;
    const char *same_input, *same_output; /* the pair of options that may name one file */
    int failed;                           /* out of memory or of slots */
} file_guard;

void guard_input(file_guard *g, const char *option, const char *path);  /* NULL path: ignored */
void guard_output(file_guard *g, const char *option, const char *path, int in_place);
/* input_option and output_option may name the same file. */
void guard_allow_same(file_guard *g, const char *input_option, const char *output_option);

/* Runs the checks above; prints "soma <command>: ..." and returns 2 or 1 on
 * failure, 0 when all is well. */
int guard_check(const file_guard *g, const char *command);
void guard_free(file_guard *g);

#endif
