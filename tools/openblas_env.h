/* openblas_env.h: see openblas_env.c. */
#ifndef SOMA_TOOLS_OPENBLAS_ENV_H
#define SOMA_TOOLS_OPENBLAS_ENV_H

/* Starts soma again with OPENBLAS_NUM_THREADS=1 unless it is set so (and
 * soma has OpenBLAS); returns only when it does not. */
void openblas_keep_pool_empty(char **argv);

#endif
