/**
 * @file soma/profile.h
 * @brief Where a training epoch's time goes: soma_train() fills a
 * soma_profile per epoch when soma_train_config::profile is set (the CLI's
 * `soma train --profile`).
 */
#ifndef SOMA_PROFILE_H
#define SOMA_PROFILE_H

#include "soma/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The parts of a training epoch that soma_train_config::profile times apart. */
typedef enum soma_profile_part {
    SOMA_PROFILE_ELEMENTWISE = 0, /**< bias, activations and their gradients, bias gradients,
                                       the dead-unit statistics: the ops of the model that are
                                       not below */
    SOMA_PROFILE_GEMM,        /**< matrix products, forward and backward */
    SOMA_PROFILE_DROPOUT,     /**< layers with dropout: their bias, activation and dropout
                                   (one fused pass), forward and backward */
    SOMA_PROFILE_LOSS,        /**< the loss, its gradient, and reading the loss back */
    SOMA_PROFILE_OPTIMIZER,   /**< the parameter update, gradient clipping included */
    SOMA_PROFILE_DATA,        /**< gathering the shuffled batch and moving it to the device */
    SOMA_PROFILE_VALIDATION,  /**< the validation pass after the epoch */
    SOMA_PROFILE_OTHER,       /**< the rest: host code between the ops, the epoch's bookkeeping */
    SOMA_PROFILE_PARTS        /**< the number of parts (not a part) */
} soma_profile_part;

/** Seconds per part of an epoch. The device waits for each op when profiled,
 *  so on a GPU a profiled run is slower than one that is not. */
typedef struct soma_profile {
    double seconds[SOMA_PROFILE_PARTS]; /**< indexed by soma_profile_part */
} soma_profile;

/** The part's name: "elementwise", "gemm", "dropout", "loss", "optimizer",
 *  "data", "validation", "other"; NULL when out of range. */
SOMA_API const char *soma_profile_part_name(soma_profile_part part);

#ifdef __cplusplus
}
#endif
#endif
