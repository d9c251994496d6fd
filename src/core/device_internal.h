/* device_internal.h: device reference counting, shared with tensor.c. */
#ifndef SOMA_CORE_DEVICE_INTERNAL_H
#define SOMA_CORE_DEVICE_INTERNAL_H

#include <stdint.h>

#include "soma/device.h"
#include "soma/tensor.h"

/* Why "auto" opens the CPU in a soma that has a CUDA backend: its module is
 * missing or does not load (core/cuda_module.c), or no device is usable.
 * NULL when "auto" opens a GPU, or when soma was built without CUDA. */
const char *soma_device_auto_fallback(void);

/* +1 reference; the first one creates the backend context. */
soma_status soma_device_retain(soma_device *dev);
/* -1 reference; the last one destroys the backend context. */
void soma_device_release(soma_device *dev);

/* The device's check_memory (core/backend.h), or SOMA_OK when it has none:
 * what the callers that allocate much at once (a model, an optimizer, a
 * training run's workspace) ask first. */
soma_status soma_device_check_memory(soma_device *dev, const char *api, const char *what, uint64_t bytes);

/* The device's own memory, free and total bytes (core/backend.h
 * memory_info); SOMA_ERR_UNSUPPORTED where its memory is the host's. */
soma_status soma_device_memory_info(soma_device *dev, uint64_t *free_bytes, uint64_t *total_bytes);

/* Pinned double buffers for batches from the host (core/backend.h
 * staging_*): soma_device_has_staging says whether the device has them. */
int soma_device_has_staging(const soma_device *dev);
soma_status soma_device_staging_create(soma_device *dev, size_t bytes, int slots, void **staging);
void soma_device_staging_free(soma_device *dev, void *staging);
soma_status soma_device_staging_acquire(soma_device *dev, void *staging, int slot, void **host);
/* The slot's buffer holds the n tensors' new contents one after another. */
soma_status soma_device_staging_upload(soma_device *dev, void *staging, int slot, int n, soma_tensor *const *dst);
soma_status soma_device_staging_release(soma_device *dev, void *staging, int slot);

/* The backend's generation (core/backend.h): a graph recorded under another
 * one may point to replaced buffers. 0 for backends without one. */
unsigned long long soma_device_generation(const soma_device *dev);

/* Graphs (core/backend.h graph_*): soma_device_has_graphs says whether the
 * device can record; the others return SOMA_ERR_UNSUPPORTED where not. */
int soma_device_has_graphs(const soma_device *dev);
soma_status soma_device_graph_begin(soma_device *dev);
soma_status soma_device_graph_end(soma_device *dev, void **graph);
soma_status soma_device_graph_launch(soma_device *dev, void *graph);
void soma_device_graph_free(soma_device *dev, void *graph);

#endif
