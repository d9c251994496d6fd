/* error.c: status names and the thread-local last-error message. */
#include <stdarg.h>
#include <stdio.h>

#include "core/error.h"

static _Thread_local char last_error[1024];

static const char *const status_names[SOMA_STATUS_COUNT] = {
    [SOMA_OK] = "SOMA_OK",
    [SOMA_ERR_INVALID_ARG] = "SOMA_ERR_INVALID_ARG",
    [SOMA_ERR_SHAPE] = "SOMA_ERR_SHAPE",
    [SOMA_ERR_DEVICE] = "SOMA_ERR_DEVICE",
    [SOMA_ERR_OUT_OF_MEMORY] = "SOMA_ERR_OUT_OF_MEMORY",
    [SOMA_ERR_IO] = "SOMA_ERR_IO",
    [SOMA_ERR_FORMAT] = "SOMA_ERR_FORMAT",
    [SOMA_ERR_UNSUPPORTED] = "SOMA_ERR_UNSUPPORTED",
    [SOMA_ERR_BACKEND] = "SOMA_ERR_BACKEND",
    [SOMA_ERR_NUMERIC] = "SOMA_ERR_NUMERIC",
};

const char *soma_status_name(soma_status status) {
    if ((int)status < 0 || status >= SOMA_STATUS_COUNT) return "unknown status";
    return status_names[status];
}

const char *soma_last_error(void) { return last_error; }

void soma_clear_error(void) { last_error[0] = '\0'; }

soma_status soma_vfail(soma_status status, const char *fmt, va_list args) {
    vsnprintf(last_error, sizeof last_error, fmt, args);
    return status;
}

soma_status soma_fail(soma_status status, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    soma_vfail(status, fmt, args);
    va_end(args);
    return status;
}
