/* device_internal.h: device reference counting, shared with tensor.c. */
#ifndef SOMA_CORE_DEVICE_INTERNAL_H
#define SOMA_CORE_DEVICE_INTERNAL_H

#include "soma/device.h"

/* +1 reference; the first one creates the backend context. */
soma_status soma_device_retain(soma_device *dev);
/* -1 reference; the last one destroys the backend context. */
void soma_device_release(soma_device *dev);

#endif
