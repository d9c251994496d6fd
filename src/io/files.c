/* files.c: see files.h. */
#define _XOPEN_SOURCE 700 /* realpath */

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/files.h"

#define MAX_LINKS 40 /* as the kernel's own limit on a path's symbolic links */

/* What a file is, for messages: "a directory", "a FIFO". */
static const char *kind_of(mode_t mode) {
    return S_ISDIR(mode) ? "a directory" : S_ISFIFO(mode) ? "a FIFO (named pipe)"
           : S_ISCHR(mode) ? "a character device" : S_ISBLK(mode) ? "a block device"
           : S_ISSOCK(mode) ? "a socket" : S_ISLNK(mode) ? "a symbolic link" : "not a regular file";
}

/* ---- inputs ------------------------------------------------------------------------------ */

soma_status soma_file_open_input(const char *api, const char *what, const char *path, int *fd) {
    *fd = -1;
    if (!what) what = "";
    struct stat st;
    /* stat before open: opening a FIFO would wait for a writer */
    if (stat(path, &st) != 0)
        return soma_fail(SOMA_ERR_IO, "%s: cannot open %s'%s': %s", api, what, path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return soma_fail(SOMA_ERR_IO, "%s: %s'%s' is %s, not a regular file (soma reads only regular files)",
                         api, what, path, kind_of(st.st_mode));
    /* O_NONBLOCK: should the path have become a FIFO since, the open still does not wait */
    int f = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (f < 0) return soma_fail(SOMA_ERR_IO, "%s: cannot open %s'%s': %s", api, what, path, strerror(errno));
    int flags = fcntl(f, F_GETFL);
    if (fstat(f, &st) != 0 || !S_ISREG(st.st_mode) || flags < 0 || fcntl(f, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        close(f);
        return soma_fail(SOMA_ERR_IO, "%s: %s'%s' is not a regular file (soma reads only regular files)", api,
                         what, path);
    }
    *fd = f;
    return SOMA_OK;
}

soma_status soma_file_fopen_input(const char *api, const char *what, const char *path, FILE **f) {
    *f = NULL;
    int fd;
    SOMA_TRY(soma_file_open_input(api, what, path, &fd));
    *f = fdopen(fd, "rb");
    if (!*f) {
        close(fd);
        return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: %s'%s': out of host memory", api, what ? what : "", path);
    }
    return SOMA_OK;
}

/* ---- where a write lands ------------------------------------------------------------------ */

/* dir_of("a/b") = "a/", dir_of("b") = "": the prefix a relative link is read against. */
static char *joined(const char *base, const char *link) {
    const char *slash = strrchr(base, '/');
    size_t dir = slash ? (size_t)(slash - base) + 1 : 0, len = strlen(link);
    char *out = malloc(dir + len + 1);
    if (!out) return NULL;
    memcpy(out, base, dir);
    memcpy(out + dir, link, len + 1);
    return out;
}

static char *read_link(const char *path, size_t size_hint) {
    for (size_t cap = size_hint + 2 > 256 ? size_hint + 2 : 256;; cap *= 2) {
        char *buf = malloc(cap);
        if (!buf) return NULL;
        ssize_t n = readlink(path, buf, cap);
        if (n < 0) {
            free(buf);
            return NULL;
        }
        if ((size_t)n < cap) {
            buf[n] = '\0';
            return buf;
        }
        free(buf);
    }
}

char *soma_file_resolve(const char *path) {
    struct stat st, at;
    /* an existing regular file: its canonical name (through /proc/self/fd/N
     * links too), when that name still leads to it: a deleted file or a memfd
     * behind /proc/self/fd/N has none ("/memfd:x (deleted)"), and is written
     * in place through the path given */
    if (stat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode)) return strdup(path); /* written in place, through the links */
        char *real = realpath(path, NULL);
        if (real && stat(real, &at) == 0 && at.st_dev == st.st_dev && at.st_ino == st.st_ino) return real;
        free(real);
        return strdup(path);
    }
    /* a name to be created, perhaps at the end of a dangling link */
    char *p = strdup(path);
    for (int hops = 0; p && hops < MAX_LINKS; hops++) {
        if (lstat(p, &st) != 0 || !S_ISLNK(st.st_mode)) return p;
        char *link = read_link(p, (size_t)st.st_size);
        if (!link) return p;
        char *next = link[0] == '/' ? link : joined(p, link);
        if (next != link) free(link);
        free(p);
        p = next;
    }
    return p;
}

/* ---- the temporary files being written ------------------------------------------------- */

#define MAX_TEMPORARIES 16
static _Atomic(char *) temporaries[MAX_TEMPORARIES];

static int list_temporary(char *tmp) {
    for (int i = 0; i < MAX_TEMPORARIES; i++) {
        char *expected = NULL;
        if (atomic_compare_exchange_strong(&temporaries[i], &expected, tmp)) return i;
    }
    return -1; /* more than 16 saves at once: written all the same, just not removed on a signal */
}

static void unlist_temporary(int slot) {
    if (slot >= 0) atomic_store(&temporaries[slot], NULL);
}

void soma_output_remove_temporaries(void) {
    for (int i = 0; i < MAX_TEMPORARIES; i++) {
        char *tmp = atomic_load(&temporaries[i]);
        if (tmp) unlink(tmp);
    }
}

/* ---- outputs ------------------------------------------------------------------------------ */

static void output_free(soma_output *o) {
    unlist_temporary(o->slot);
    free(o->tmp);
    free(o->target);
    free(o->path);
    *o = (soma_output){.fd = -1, .slot = -1};
}

/* A device or FIFO opened for writing without waiting for a reader. */
static soma_status open_device(const char *api, const char *path, int flags, int *fd) {
    *fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | flags);
    if (*fd < 0 && errno == ENXIO)
        return soma_fail(SOMA_ERR_IO, "%s: %s: is a FIFO that no process is reading (soma does not wait for one)",
                         api, path);
    if (*fd < 0) return soma_fail(SOMA_ERR_IO, "%s: %s: cannot open for writing: %s", api, path, strerror(errno));
    int fl = fcntl(*fd, F_GETFL);
    if (fl >= 0) (void)fcntl(*fd, F_SETFL, fl & ~O_NONBLOCK);
    return SOMA_OK;
}

/* The checks shared by open and probe: what the resolved target is, and
 * whether this process may write it. *exists and *st describe it. */
static soma_status check_target(const char *api, const char *path, const char *target, int *exists,
                                struct stat *st) {
    *exists = stat(target, st) == 0;
    if (!*exists && errno != ENOENT)
        return soma_fail(SOMA_ERR_IO, "%s: %s: %s", api, path, strerror(errno));
    if (*exists && !S_ISREG(st->st_mode) && !S_ISCHR(st->st_mode) && !S_ISFIFO(st->st_mode))
        return soma_fail(SOMA_ERR_IO, "%s: %s: is %s; soma writes regular files (replacing them whole), "
                         "character devices and FIFOs", api, path, kind_of(st->st_mode));
    if (*exists && access(target, W_OK) != 0)
        return soma_fail(SOMA_ERR_IO, "%s: %s: is not writable: %s", api, path, strerror(errno));
    return SOMA_OK;
}

/* Creates the temporary file beside o->target: TARGET.tmp.XXXXXX, or for a
 * probe TARGET.probe.XXXXXX (so that nobody watching for a save in progress
 * mistakes the probe for one). */
static soma_status create_temporary(const char *api, const char *path, soma_output *o, int probe) {
    const char *suffix = probe ? ".probe.XXXXXX" : ".tmp.XXXXXX";
    size_t len = strlen(o->target), suffix_len = strlen(suffix) + 1;
    o->tmp = malloc(len + suffix_len);
    if (!o->tmp) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: %s: out of host memory", api, path);
    memcpy(o->tmp, o->target, len);
    memcpy(o->tmp + len, suffix, suffix_len);
    o->slot = list_temporary(o->tmp); /* before it exists: a signal in between leaves nothing */
    o->fd = mkstemp(o->tmp);
    if (o->fd < 0)
        return soma_fail(SOMA_ERR_IO, "%s: %s: cannot create the temporary file %s: %s", api, path, o->tmp,
                         strerror(errno));
    return SOMA_OK;
}

/* Whether the regular file at target can be replaced by renaming over that
 * name: the name leads to the file path names (not so for a deleted file or a
 * memfd reached through /proc/self/fd/N). */
static int replaceable(const char *path, const char *target) {
    struct stat a, b;
    if (stat(path, &a) != 0 || stat(target, &b) != 0) return 1;
    if (a.st_dev != b.st_dev || a.st_ino != b.st_ino) return 0;
    return strncmp(target, "/proc/", 6) != 0; /* a magic link: renaming over it fails */
}

soma_status soma_output_open(const char *api, const char *path, soma_output *o) {
    *o = (soma_output){.api = api, .fd = -1, .slot = -1};
    o->path = strdup(path);
    o->target = o->path ? soma_file_resolve(path) : NULL;
    if (!o->target) {
        output_free(o);
        return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: %s: out of host memory", api, path);
    }
    int exists;
    struct stat old;
    soma_status st = check_target(api, path, o->target, &exists, &old);
    if (st == SOMA_OK && exists && !S_ISREG(old.st_mode)) {
        st = open_device(api, path, 0, &o->fd);
        if (st == SOMA_OK) return SOMA_OK;
    }
    if (st == SOMA_OK && exists && !replaceable(path, o->target)) { /* no name to rename over: in place */
        o->fd = open(o->target, O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (o->fd >= 0) return SOMA_OK;
        st = soma_fail(SOMA_ERR_IO, "%s: %s: cannot open for writing: %s", api, path, strerror(errno));
    }
    if (st == SOMA_OK) st = create_temporary(api, path, o, 0);
    if (st != SOMA_OK) {
        soma_output_abort(o);
        return st;
    }
    /* mkstemp makes the file 0600: give it the mode (and for root the owner)
     * of the file it replaces, or the usual 0644. Failing to is harmless
     * (some file systems have no modes). */
    (void)fchmod(o->fd, exists ? old.st_mode & 07777 : 0644);
    if (exists && geteuid() == 0) (void)fchown(o->fd, old.st_uid, old.st_gid);
    return SOMA_OK;
}

soma_status soma_output_write(soma_output *o, const void *bytes, size_t n) {
    const char *p = bytes;
    while (n > 0) {
        ssize_t done = write(o->fd, p, n);
        if (done < 0 && errno == EINTR) continue;
        if (done <= 0) {
            if (done == 0) errno = EIO; /* no progress and no reason: do not spin */
            return soma_fail(SOMA_ERR_IO, "%s: %s: writing %s failed: %s", o->api, o->path,
                             o->tmp ? "the temporary file" : "in place", strerror(errno));
        }
        p += done;
        n -= (size_t)done;
    }
    return SOMA_OK;
}

/* fsync the directory holding path, so that the rename itself is durable. */
static soma_status sync_directory(const char *api, const char *path, const char *target) {
    const char *slash = strrchr(target, '/');
    char *dir = slash == target ? strdup("/") : slash ? strndup(target, (size_t)(slash - target)) : strdup(".");
    if (!dir) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: %s: out of host memory", api, path);
    soma_status status = SOMA_OK;
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    /* Some file systems cannot fsync a directory (EINVAL); nothing more can be done there. */
    if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP))
        status = soma_fail(SOMA_ERR_IO, "%s: %s: the file was replaced, but syncing its directory %s failed: %s",
                           api, path, dir, strerror(errno));
    if (fd >= 0) close(fd);
    free(dir);
    return status;
}

soma_status soma_output_commit(soma_output *o) {
    const char *api = o->api, *path = o->path;
    soma_status status = SOMA_OK;
    if (!o->tmp) { /* a device or FIFO: nothing to sync or rename */
        if (close(o->fd) != 0) status = soma_fail(SOMA_ERR_IO, "%s: %s: closing failed: %s", api, path, strerror(errno));
        o->fd = -1;
        output_free(o);
        return status;
    }
    if (fsync(o->fd) != 0)
        status = soma_fail(SOMA_ERR_IO, "%s: %s: syncing the temporary file %s failed: %s", api, path, o->tmp,
                           strerror(errno));
    if (close(o->fd) != 0 && status == SOMA_OK)
        status = soma_fail(SOMA_ERR_IO, "%s: %s: closing the temporary file %s failed: %s", api, path, o->tmp,
                           strerror(errno));
    o->fd = -1;
    if (status == SOMA_OK && rename(o->tmp, o->target) != 0)
        status = soma_fail(SOMA_ERR_IO, "%s: %s: renaming the temporary file %s over it failed: %s", api, path,
                           o->tmp, strerror(errno));
    if (status != SOMA_OK) {
        soma_output_abort(o);
        return status;
    }
    unlist_temporary(o->slot);
    o->slot = -1;
    status = sync_directory(api, path, o->target);
    output_free(o);
    return status;
}

void soma_output_abort(soma_output *o) {
    if (o->fd >= 0) close(o->fd);
    o->fd = -1;
    if (o->tmp) unlink(o->tmp);
    output_free(o);
}

soma_status soma_output_probe(const char *api, const char *path, int in_place) {
    char *target = soma_file_resolve(path);
    if (!target) return soma_fail(SOMA_ERR_OUT_OF_MEMORY, "%s: %s: out of host memory", api, path);
    int exists;
    struct stat st;
    soma_status status = check_target(api, path, target, &exists, &st);
    /* a device or FIFO is not opened: closing a FIFO would end its reader's input;
     * an existing file written in place needs only its permission */
    if (status == SOMA_OK && (!exists || (!in_place && S_ISREG(st.st_mode) && replaceable(path, target)))) {
        soma_output o = {.api = api, .target = target, .fd = -1, .slot = -1};
        status = create_temporary(api, path, &o, 1);
        target = NULL; /* o owns it now */
        soma_output_abort(&o);
    }
    free(target);
    return status;
}

soma_status soma_output_open_in_place(const char *api, const char *path, int append, int *fd) {
    *fd = -1;
    int exists;
    struct stat st;
    SOMA_TRY(check_target(api, path, path, &exists, &st));
    if (exists && !S_ISREG(st.st_mode)) return open_device(api, path, append ? O_APPEND : 0, fd);
    *fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
    if (*fd < 0) return soma_fail(SOMA_ERR_IO, "%s: %s: cannot open for writing: %s", api, path, strerror(errno));
    return SOMA_OK;
}
