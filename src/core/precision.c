/* precision.c: the names of the GEMM precisions (soma/ops.h). */
#include <string.h>

#include "core/error.h"
#include "soma/ops.h"

static const char *const precision_names[SOMA_PRECISION_COUNT] = {"fp32", "tf32", "bf16"};

const char *soma_precision_name(soma_precision precision) {
    if ((int)precision < 0 || precision >= SOMA_PRECISION_COUNT) return NULL;
    return precision_names[precision];
}

soma_status soma_precision_parse(const char *name, soma_precision *out) {
    if (!name || !out)
        return soma_fail(SOMA_ERR_INVALID_ARG, "soma_precision_parse: argument '%s' is NULL",
                         name ? "out" : "name");
    for (int p = 0; p < SOMA_PRECISION_COUNT; p++)
        if (strcmp(precision_names[p], name) == 0) {
            *out = (soma_precision)p;
            return SOMA_OK;
        }
    return soma_fail(SOMA_ERR_INVALID_ARG,
                     "soma_precision_parse: unknown precision '%s' (expected fp32, tf32 or bf16)",
                     name);
}
