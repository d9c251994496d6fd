/* files.h: opening the files a user names, so that none of them is waited
 * on, destroyed or left half-written.
 *
 * Inputs (data, checkpoints) must be regular files: a FIFO would block the
 * open until some writer came, a device would never end; both are refused at
 * once (the open does not wait: O_NONBLOCK).
 *
 * Outputs are replaced whole, or written in place when they cannot be
 * replaced:
 *   - a regular file (or a name that does not exist yet) is written into a
 *     temporary file beside it, synced and renamed over it: the path holds
 *     the old content or the complete new one, never a mix. The new file
 *     keeps the old one's mode (and, for root, its owner);
 *   - a symbolic link is followed (to the end of a chain, even a dangling
 *     one): its target is replaced and the link stays a link;
 *   - a character device or a FIFO (/dev/null, /dev/stdout on a pipe, a
 *     named pipe) is written in place, never replaced (and not crash-safe:
 *     it has no old content to keep); a FIFO nobody reads is refused rather
 *     than waited on; so is a regular file that no name leads to (a deleted
 *     file or a memfd behind /proc/self/fd/N);
 *   - anything else (a directory, a block device, a socket) is refused, as is
 *     a file the process may not write (a read-only file is not replaced
 *     behind its owner's back).
 * The temporary files being written are listed where a signal handler can
 * remove them (soma_output_remove_temporaries). */
#ifndef SOMA_IO_FILES_H
#define SOMA_IO_FILES_H

#include <stddef.h>
#include <stdio.h>

#include "soma/status.h"

/* Opens path for reading when it is a regular file. `api` and `what`
 * ("images file") start the message: "<api>: <what> '<path>' is a FIFO, not
 * a regular file". */
soma_status soma_file_open_input(const char *api, const char *what, const char *path, int *fd);
soma_status soma_file_fopen_input(const char *api, const char *what, const char *path, FILE **f);

/* The file a write to path ends in: path itself, or the end of its chain of
 * symbolic links (relative links resolved against their own directory). The
 * result is allocated (free it); NULL when out of memory. A chain longer
 * than 40 links is returned as it stands (the open then fails with ELOOP). */
char *soma_file_resolve(const char *path);

/* An output being written. */
typedef struct soma_output {
    const char *api; /* the function that writes, for messages */
    char *path;   /* as given, for messages */
    char *target; /* the resolved path that is replaced or written */
    char *tmp;    /* the temporary file beside it; NULL when written in place */
    int fd;       /* -1 when closed */
    int slot;     /* its entry in the list of temporaries, -1 for none */
} soma_output;

/* Starts writing path (see above). On failure o holds nothing to free. */
soma_status soma_output_open(const char *api, const char *path, soma_output *o);
/* Writes all n bytes (retrying short writes). */
soma_status soma_output_write(soma_output *o, const void *bytes, size_t n);
/* Syncs, renames the temporary file over the target and syncs the directory
 * (a regular target), or closes the device or FIFO; frees o in any case,
 * removing the temporary file when a step failed. */
soma_status soma_output_commit(soma_output *o);
/* Abandons the output: closes it, removes the temporary file, frees o. */
void soma_output_abort(soma_output *o);

/* Whether path could be written as above (in_place 0) or in place as a log
 * (in_place 1), found without writing anything there: the kind of file, the
 * permission, and for a file to be replaced or created whether a temporary
 * file can be created beside it (one is created and removed). For a command
 * to ask before hours of work rather than after. */
soma_status soma_output_probe(const char *api, const char *path, int in_place);

/* Opens path to be written in place, as a log is: appended to (append 1) or
 * truncated (append 0); a device or FIFO as above (a FIFO without a reader
 * is refused, not waited on); a directory or block device refused. */
soma_status soma_output_open_in_place(const char *api, const char *path, int append, int *fd);

/* Removes every temporary file an output is writing at this moment. Safe in
 * a signal handler (it only reads atomics and calls unlink), for a process
 * that exits on a signal in the middle of a save. */
void soma_output_remove_temporaries(void);

#endif
