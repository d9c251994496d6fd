/* fuzz_util.h: what the fuzz targets share: putting the input in a file the
 * readers can open by path, and failing loudly when an invariant breaks.
 *
 * The readers take paths, so each input is written to a file: an anonymous
 * in-memory one (memfd_create, opened again as /proc/self/fd/N) when the
 * kernel has it, else a file in $TMPDIR removed at exit. Nothing is left on
 * disk and no two fuzzing processes share a file. */
#ifndef SOMA_FUZZ_UTIL_H
#define SOMA_FUZZ_UTIL_H

#define _GNU_SOURCE /* memfd_create */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "soma/status.h"

/* An invariant of the API broke: a crash libFuzzer records with its input.
 * Written to file descriptor 2 itself: fuzz_train_args points the C stream
 * stderr elsewhere. */
#define FUZZ_CHECK(cond)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            dprintf(STDERR_FILENO, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

typedef struct fuzz_file {
    int fd;
    char path[4096];
} fuzz_file;

static char fuzz_tmp_paths_[4][4096];
static int fuzz_tmp_count_;

static inline void fuzz_remove_tmp_files_(void) {
    for (int i = 0; i < fuzz_tmp_count_; i++) unlink(fuzz_tmp_paths_[i]);
}

/* Creates the file once. `name` labels the memfd (in /proc/PID/fd); the
 * path the readers see is /proc/self/fd/N or $TMPDIR/soma-fuzz-PID-XXXXXX,
 * neither ending in a suffix they look at (".gz" would change what they do). */
static inline void fuzz_file_open(fuzz_file *f, const char *name) {
    f->fd = memfd_create(name, 0);
    if (f->fd >= 0) {
        snprintf(f->path, sizeof f->path, "/proc/self/fd/%d", f->fd);
        if (access(f->path, R_OK) == 0) return;
        close(f->fd);
    }
    const char *dir = getenv("TMPDIR");
    snprintf(f->path, sizeof f->path, "%s/soma-fuzz-%ld-XXXXXX", dir && *dir ? dir : "/tmp", (long)getpid());
    f->fd = mkstemp(f->path);
    FUZZ_CHECK(f->fd >= 0 && fuzz_tmp_count_ < 4);
    snprintf(fuzz_tmp_paths_[fuzz_tmp_count_++], sizeof fuzz_tmp_paths_[0], "%s", f->path);
    if (fuzz_tmp_count_ == 1) atexit(fuzz_remove_tmp_files_);
}

/* Replaces the file's content with data[0..size). */
static inline void fuzz_file_write(fuzz_file *f, const uint8_t *data, size_t size) {
    FUZZ_CHECK(ftruncate(f->fd, 0) == 0);
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(f->fd, data + done, size - done, (off_t)done);
        FUZZ_CHECK(n > 0);
        done += (size_t)n;
    }
}

/* Reads every element of x[0..n), so ASan reports any outside its
 * allocation; the caller stores the result in a volatile so the loop stays. */
static inline uint32_t fuzz_touch_floats(const float *x, int64_t n) {
    uint32_t mix = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], sizeof bits);
        mix ^= bits;
    }
    return mix;
}

static volatile uint32_t fuzz_sink;

/* FUZZ_VERBOSE=1 in the environment: each input's verdict on stderr, to see
 * what the reader made of a crash file or a seed (build-fuzz/fuzz_csv FILE). */
static int fuzz_verbose;

static inline void fuzz_init_verbose(void) {
    const char *v = getenv("FUZZ_VERBOSE");
    fuzz_verbose = v && *v && strcmp(v, "0") != 0;
}

static inline void fuzz_report(const char *what, int ok) {
    if (fuzz_verbose) fprintf(stderr, "%s: %s\n", what, ok ? "accepted" : soma_last_error());
}

/* The promise every reader makes about its outcome: on failure the output
 * pointer (set to something else before the call) comes back NULL and an
 * error message is set; on success the pointer is set. Reports the verdict
 * (fuzz_report) and returns whether the call succeeded. */
static inline int fuzz_outcome(const char *what, soma_status status, const void *out) {
    fuzz_report(what, status == SOMA_OK);
    if (status != SOMA_OK) {
        FUZZ_CHECK(out == NULL);
        FUZZ_CHECK(soma_last_error()[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(out != NULL);
    return 1;
}

#endif
