/**
 * @file soma/device.h
 * @brief Where tensors live and ops run.
 *
 * A device is an opaque handle named by a string:
 * | spec     | device                                   |
 * |----------|------------------------------------------|
 * | "cpu"    | the CPU backend (always available)       |
 * | "cuda"   | the first CUDA GPU ("cuda:0")            |
 * | "cuda:N" | CUDA GPU number N                        |
 * | "auto"   | the first usable CUDA GPU, else the CPU  |
 *
 * Opening the same device twice returns the same handle with its reference
 * count raised; each successful soma_device_open() needs one
 * soma_device_close().
 */
#ifndef SOMA_DEVICE_H
#define SOMA_DEVICE_H

#include "soma/export.h"

#include "soma/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An opened device (opaque). */
typedef struct soma_device soma_device;

/** The backend behind a device. */
typedef enum soma_device_kind {
    SOMA_DEVICE_CPU = 0, /**< the CPU backend */
    SOMA_DEVICE_CUDA = 1 /**< a CUDA GPU */
} soma_device_kind;

/** Opens the device named by spec ("cpu", "cuda", "cuda:N" or "auto"). On
 *  failure *out is NULL and the error says why (unknown name, CUDA not built
 *  in, no driver, no such GPU, ...). */
SOMA_API soma_status soma_device_open(const char *spec, soma_device **out);

/** Releases one reference taken by soma_device_open(); the device closes with
 *  the last one. NULL is allowed. */
SOMA_API void soma_device_close(soma_device *device);

/** The device's name: "cpu", "cuda:0", ... */
SOMA_API const char *soma_device_name(const soma_device *device);

/** Whether the device is the CPU or a CUDA GPU. */
SOMA_API soma_device_kind soma_device_kind_of(const soma_device *device);

/** A line for humans: "cpu (2 OpenMP threads, OpenBLAS 0.3.21)",
 *  "cuda:0 (NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB)". */
SOMA_API const char *soma_device_description(const soma_device *device);

/** Waits until all work queued on the device has finished. */
SOMA_API soma_status soma_device_synchronize(soma_device *device);

/** Returns the memory the device keeps for reuse (a CUDA device caches the
 *  blocks of freed tensors, so that training allocates nothing once warmed
 *  up) to the system, for other programs or libraries on the same GPU.
 *  Tensors still alive are not touched. NULL is allowed. */
SOMA_API void soma_device_trim(soma_device *device);

/** The number of usable CUDA GPUs (0 when CUDA is not built in or no driver
 *  is present). When 0, *reason (if reason is not NULL) says why, for messages
 *  such as "skipped: no usable CUDA device (CUDA driver version is
 *  insufficient ...)". */
SOMA_API int soma_cuda_device_count(const char **reason);

#ifdef __cplusplus
}
#endif
#endif
