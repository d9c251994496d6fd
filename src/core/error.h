/* error.h: how library code reports failures.
 *
 *   return soma_fail(SOMA_ERR_SHAPE, "soma_gemm: 'b' is %lldx%lld ...", ...);
 *
 * soma_fail formats the thread-local message and returns the status, so a
 * failure is one statement. */
#ifndef SOMA_CORE_ERROR_H
#define SOMA_CORE_ERROR_H

#include <stdarg.h>

#include "soma/status.h"

#if defined(__GNUC__)
#define SOMA_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SOMA_PRINTF(f, a)
#endif

soma_status soma_fail(soma_status status, const char *fmt, ...) SOMA_PRINTF(2, 3);
/* The same with a va_list (what the CUDA module calls, core/cuda_module.h). */
soma_status soma_vfail(soma_status status, const char *fmt, va_list args) SOMA_PRINTF(2, 0);

/* Evaluates a soma_status expression and returns it from the caller if it is
 * not SOMA_OK. */
#define SOMA_TRY(expr)                                                                     \
    do {                                                                                   \
        soma_status soma_try_status_ = (expr);                                             \
        if (soma_try_status_ != SOMA_OK) return soma_try_status_;                          \
    } while (0)

#endif
