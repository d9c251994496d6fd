/* activation.c: activation names, for the CLI, checkpoints and messages. */
#include <string.h>

#include "core/error.h"
#include "soma/ops.h"

static const char *const activation_names[SOMA_ACT_COUNT] = {
    [SOMA_ACT_IDENTITY] = "identity", [SOMA_ACT_RELU] = "relu",
    [SOMA_ACT_LEAKY_RELU] = "leaky_relu", [SOMA_ACT_SIGMOID] = "sigmoid",
    [SOMA_ACT_TANH] = "tanh", [SOMA_ACT_GELU_ERF] = "gelu_erf",
    [SOMA_ACT_GELU_TANH] = "gelu_tanh", [SOMA_ACT_SILU] = "silu",
};

const char *soma_activation_name(soma_activation act) {
    if ((int)act < 0 || act >= SOMA_ACT_COUNT) return NULL;
    return activation_names[act];
}

soma_status soma_activation_parse(const char *name, soma_activation *out) {
    if (!name || !out)
        return soma_fail(SOMA_ERR_INVALID_ARG, "soma_activation_parse: argument '%s' is NULL",
                         name ? "out" : "name");
    const char *canonical = strcmp(name, "gelu") == 0     ? "gelu_erf"
                            : strcmp(name, "linear") == 0 ? "identity"
                                                          : name;
    for (int a = 0; a < SOMA_ACT_COUNT; a++)
        if (strcmp(activation_names[a], canonical) == 0) {
            *out = (soma_activation)a;
            return SOMA_OK;
        }
    return soma_fail(SOMA_ERR_INVALID_ARG,
                     "soma_activation_parse: unknown activation '%s' (expected identity, relu, "
                     "leaky_relu, sigmoid, tanh, gelu_erf, gelu_tanh or silu)",
                     name);
}
