/* host_memory.h: how much memory this process can still get, and the check
 * soma makes before it allocates a model, its workspace or a dataset.
 *
 * Linux lets a process allocate more than it will be given: malloc succeeds,
 * and the first touch of memory beyond a cgroup's limit gets the process
 * killed (SIGKILL, no message). So before a large allocation soma compares
 * what it needs with the smallest of
 *   - the cgroup memory limit (v2 memory.max, v1 memory.limit_in_bytes, of
 *     the process's cgroup and of each one above it) less what that cgroup
 *     uses;
 *   - the memory available on the machine (MemAvailable + SwapFree);
 *   - the address-space limit (ulimit -v) less the process's virtual size,
 *     and the data-segment limit (ulimit -d) less its data size;
 * and refuses, naming both figures, when the need is larger. */
#ifndef SOMA_CORE_HOST_MEMORY_H
#define SOMA_CORE_HOST_MEMORY_H

#include <stdint.h>

#include "soma/status.h"

typedef struct soma_host_memory {
    uint64_t available;  /* bytes; UINT64_MAX when no limit is known */
    const char *source;  /* the limit that binds: "the cgroup memory limit", ... (NULL: none) */
    uint64_t limit;      /* that limit (0 for the machine's available memory) */
    uint64_t used;       /* what is in use against it */
} soma_host_memory;

/* What the process can get now. Never fails: what cannot be read is not a limit. */
void soma_host_memory_query(soma_host_memory *out);

/* SOMA_ERR_OUT_OF_MEMORY when `bytes` exceed what the process can get:
 * "<api>: <what> needs 55.9 GiB but the process can get 1.8 GiB (the cgroup
 * memory limit, 2.0 GiB, less 0.2 GiB in use)". */
soma_status soma_host_memory_check(const char *api, const char *what, uint64_t bytes);

/* "1.8 GiB", "512.0 MiB", "900 bytes" into buf. */
void soma_format_bytes(uint64_t bytes, char *buf, int size);

#endif
