/* device.c: opening devices by name, and their reference counts.
 *
 * Devices are process-wide: opening "cuda:0" twice gives the same handle.
 * Every tensor holds a reference to its device too, so a device's context
 * (streams, library handles) lives until the last close and the last tensor
 * free, whichever comes later. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "core/device_internal.h"
#include "core/error.h"
#include "soma.h"

#define MAX_CUDA_DEVICES 16

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static soma_device cpu_device = {.backend = &soma_cpu_backend, .name = "cpu"};
static soma_device cuda_devices[MAX_CUDA_DEVICES];

int soma_cuda_device_count(const char **reason) {
    const char *why = NULL;
    int n = soma_cuda_backend_get(1)->device_count(&why);
    if (reason) *reason = n > 0 ? "" : why;
    return n;
}

const char *soma_device_auto_fallback(void) {
    const char *reason = NULL;
    return soma_cuda_built && soma_cuda_device_count(&reason) == 0 ? reason : NULL;
}

/* Parses "cpu", "cuda", "cuda:N" and "auto" into a registry slot. */
static soma_status lookup(const char *spec, soma_device **out) {
    if (strcmp(spec, "cpu") == 0) {
        *out = &cpu_device;
        return SOMA_OK;
    }
    if (strcmp(spec, "auto") == 0) {
        const char *reason;
        return lookup(soma_cuda_device_count(&reason) > 0 ? "cuda:0" : "cpu", out);
    }
    long ordinal = 0;
    if (strcmp(spec, "cuda") != 0) {
        char *end = NULL;
        if (strncmp(spec, "cuda:", 5) != 0 || spec[5] < '0' || spec[5] > '9' ||
            (ordinal = strtol(spec + 5, &end, 10), *end != '\0'))
            return soma_fail(SOMA_ERR_DEVICE,
                             "soma_device_open: unknown device '%s' (expected cpu, cuda, cuda:N "
                             "or auto)",
                             spec);
    }
    const char *reason = NULL;
    int count = soma_cuda_device_count(&reason);
    if (count == 0)
        return soma_fail(SOMA_ERR_DEVICE, "soma_device_open: cannot open '%s': %s", spec, reason);
    if (ordinal >= count || ordinal >= MAX_CUDA_DEVICES)
        return soma_fail(SOMA_ERR_DEVICE, "soma_device_open: cannot open '%s': %d CUDA device%s",
                         spec, count, count == 1 ? "" : "s");
    soma_device *dev = &cuda_devices[ordinal];
    dev->backend = soma_cuda_backend_get(1);
    dev->ordinal = (int)ordinal;
    snprintf(dev->name, sizeof dev->name, "cuda:%ld", ordinal);
    *out = dev;
    return SOMA_OK;
}

soma_status soma_device_retain(soma_device *dev) {
    soma_status status = SOMA_OK;
    pthread_mutex_lock(&registry_lock);
    if (dev->refcount == 0) {
        dev->description[0] = '\0';
        status = dev->backend->init(dev->ordinal, &dev->ctx, dev->description,
                                    sizeof dev->description);
    }
    if (status == SOMA_OK) dev->refcount++;
    pthread_mutex_unlock(&registry_lock);
    return status;
}

void soma_device_release(soma_device *dev) {
    pthread_mutex_lock(&registry_lock);
    if (dev->refcount > 0 && --dev->refcount == 0) {
        dev->backend->shutdown(dev->ctx);
        dev->ctx = NULL;
    }
    pthread_mutex_unlock(&registry_lock);
}

soma_status soma_device_open(const char *spec, soma_device **out) {
    if (!out) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_device_open: argument 'out' is NULL");
    *out = NULL;
    if (!spec) return soma_fail(SOMA_ERR_INVALID_ARG, "soma_device_open: argument 'spec' is NULL");
    soma_device *dev;
    SOMA_TRY(lookup(spec, &dev));
    SOMA_TRY(soma_device_retain(dev));
    *out = dev;
    return SOMA_OK;
}

void soma_device_close(soma_device *dev) {
    if (dev) soma_device_release(dev);
}

const char *soma_device_name(const soma_device *dev) { return dev ? dev->name : "(null)"; }

soma_device_kind soma_device_kind_of(const soma_device *dev) {
    return dev ? dev->backend->kind : SOMA_DEVICE_CPU;
}

const char *soma_device_description(const soma_device *dev) {
    return dev ? dev->description : "(null)";
}

soma_status soma_device_check_memory(soma_device *dev, const char *api, const char *what, uint64_t bytes) {
    if (!dev || !dev->backend->check_memory) return SOMA_OK;
    return dev->backend->check_memory(dev->ctx, api, what, bytes);
}

soma_status soma_device_synchronize(soma_device *dev) {
    if (!dev)
        return soma_fail(SOMA_ERR_INVALID_ARG, "soma_device_synchronize: argument 'device' is NULL");
    return dev->backend->synchronize(dev->ctx);
}

void soma_device_trim(soma_device *dev) {
    if (!dev) return;
    pthread_mutex_lock(&registry_lock);
    if (dev->refcount > 0 && dev->backend->trim) dev->backend->trim(dev->ctx);
    pthread_mutex_unlock(&registry_lock);
}

void soma_shutdown(void) {
    const soma_backend *backends[] = {&soma_cpu_backend, soma_cuda_backend_get(0)}; /* NULL unless loaded: no loading to shut down */
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (backends[i] && backends[i]->release_caches) backends[i]->release_caches();
}

soma_status soma_device_memory_info(soma_device *dev, uint64_t *free_bytes, uint64_t *total_bytes) {
    if (!dev || !dev->backend->memory_info)
        return soma_fail(SOMA_ERR_UNSUPPORTED, "memory_info: %s has no memory of its own",
                         dev ? dev->name : "(null)");
    return dev->backend->memory_info(dev->ctx, free_bytes, total_bytes);
}

int soma_device_has_graphs(const soma_device *dev) { return dev && dev->backend->graph_begin != NULL; }

static soma_status no_graphs(const soma_device *dev) {
    return soma_fail(SOMA_ERR_UNSUPPORTED, "%s cannot record graphs", dev ? dev->name : "(null)");
}

soma_status soma_device_graph_begin(soma_device *dev) {
    return soma_device_has_graphs(dev) ? dev->backend->graph_begin(dev->ctx) : no_graphs(dev);
}

soma_status soma_device_graph_end(soma_device *dev, void **graph) {
    return soma_device_has_graphs(dev) ? dev->backend->graph_end(dev->ctx, graph) : no_graphs(dev);
}

soma_status soma_device_graph_launch(soma_device *dev, void *graph) {
    return soma_device_has_graphs(dev) ? dev->backend->graph_launch(dev->ctx, graph) : no_graphs(dev);
}

void soma_device_graph_free(soma_device *dev, void *graph) {
    if (graph && soma_device_has_graphs(dev)) dev->backend->graph_free(dev->ctx, graph);
}

int soma_device_has_staging(const soma_device *dev) { return dev && dev->backend->staging_create != NULL; }

static soma_status no_staging(const soma_device *dev) {
    return soma_fail(SOMA_ERR_UNSUPPORTED, "%s has no staging buffers", dev ? dev->name : "(null)");
}

soma_status soma_device_staging_create(soma_device *dev, size_t bytes, int slots, void **staging) {
    return soma_device_has_staging(dev) ? dev->backend->staging_create(dev->ctx, bytes, slots, staging)
                                        : no_staging(dev);
}

void soma_device_staging_free(soma_device *dev, void *staging) {
    if (staging && soma_device_has_staging(dev)) dev->backend->staging_free(dev->ctx, staging);
}

soma_status soma_device_staging_acquire(soma_device *dev, void *staging, int slot, void **host) {
    return soma_device_has_staging(dev) ? dev->backend->staging_acquire(dev->ctx, staging, slot, host)
                                        : no_staging(dev);
}

soma_status soma_device_staging_upload(soma_device *dev, void *staging, int slot, int n, soma_tensor *const *dst) {
    enum { MAX_PIECES = 4 };
    void *where[MAX_PIECES];
    size_t pieces[MAX_PIECES];
    if (!soma_device_has_staging(dev)) return no_staging(dev);
    if (n < 1 || n > MAX_PIECES) return soma_fail(SOMA_ERR_INVALID_ARG, "staging: %d tensors (1 to %d)", n, MAX_PIECES);
    for (int i = 0; i < n; i++) {
        if (dst[i]->device != dev)
            return soma_fail(SOMA_ERR_DEVICE, "staging: a tensor on %s, the staging on %s", dst[i]->device->name, dev->name);
        where[i] = dst[i]->data;
        pieces[i] = (size_t)(dst[i]->rows * dst[i]->cols) * sizeof(float);
    }
    return dev->backend->staging_upload(dev->ctx, staging, slot, n, where, pieces);
}

soma_status soma_device_staging_release(soma_device *dev, void *staging, int slot) {
    return soma_device_has_staging(dev) ? dev->backend->staging_release(dev->ctx, staging, slot)
                                        : no_staging(dev);
}

unsigned long long soma_device_generation(const soma_device *dev) {
    return dev && dev->backend->generation ? dev->backend->generation(dev->ctx) : 0;
}
