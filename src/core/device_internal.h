/* device_internal.h: device reference counting, shared with tensor.c. */
#ifndef SOMA_CORE_DEVICE_INTERNAL_H
#define SOMA_CORE_DEVICE_INTERNAL_H

#include <stdint.h>

#include "soma/device.h"

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

/* Graphs (core/backend.h graph_*): soma_device_has_graphs says whether the
 * device can record; the others return SOMA_ERR_UNSUPPORTED where not. */
int soma_device_has_graphs(const soma_device *dev);
soma_status soma_device_graph_begin(soma_device *dev);
soma_status soma_device_graph_end(soma_device *dev, void **graph);
soma_status soma_device_graph_launch(soma_device *dev, void *graph);
void soma_device_graph_free(soma_device *dev, void *graph);

#endif
