/**
 * @file soma/status.h
 * @brief Status codes and the thread-local last-error message.
 *
 * Every soma function that can fail returns a ::soma_status. On failure it also
 * leaves a message, readable with soma_last_error(), that names the function,
 * the argument at fault and why (shapes included where shapes are the reason).
 * The library never aborts or exits on bad input.
 */
#ifndef SOMA_STATUS_H
#define SOMA_STATUS_H

#include "soma/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What a soma call returns: ::SOMA_OK, or the kind of failure. */
typedef enum soma_status {
    SOMA_OK = 0,            /**< success */
    SOMA_ERR_INVALID_ARG,   /**< NULL handle, bad enum value, bad number */
    SOMA_ERR_SHAPE,         /**< tensor shapes do not fit the operation */
    SOMA_ERR_DEVICE,        /**< unknown device, or tensors on different devices */
    SOMA_ERR_OUT_OF_MEMORY, /**< host or device allocation failed */
    SOMA_ERR_IO,            /**< a file could not be opened, read or written */
    SOMA_ERR_FORMAT,        /**< a file's contents are malformed */
    SOMA_ERR_UNSUPPORTED,   /**< not available in this build or on this device */
    SOMA_ERR_BACKEND,       /**< a CUDA, cuBLAS or cuDNN call failed */
    SOMA_ERR_NUMERIC,       /**< a non-finite value where a finite one is needed */
    SOMA_STATUS_COUNT       /**< the number of status codes (not a status) */
} soma_status;

/** The name of a status: "SOMA_OK", "SOMA_ERR_SHAPE", ...; "unknown status"
 *  for values out of range. */
SOMA_API const char *soma_status_name(soma_status status);

/** The message left by the last failing soma call on this thread, or "" when
 *  none failed since the last soma_clear_error(). The pointer stays valid
 *  until the next soma call on this thread. */
SOMA_API const char *soma_last_error(void);

/** Forgets this thread's last error: soma_last_error() returns "" until the
 *  next failure. */
SOMA_API void soma_clear_error(void);

#ifdef __cplusplus
}
#endif
#endif
