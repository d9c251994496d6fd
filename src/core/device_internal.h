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

#endif
