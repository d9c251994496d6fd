/* cpu_round.h: GEMM operands rounded to the call's precision (cpu_round.c). */
#ifndef SOMA_CPU_ROUND_H
#define SOMA_CPU_ROUND_H

#include "core/backend.h"

/* *out = *call, with in[0] and in[1] replaced (for TF32 and bf16) by
 * rounded copies described by rounded[0..1], which must outlive *out. */
soma_status soma_cpu_round_operands(const soma_op_call *call, soma_tensor rounded[2],
                                    soma_op_call *out);
/* Frees the calling thread's rounded copies. */
void soma_cpu_round_release(void);

#endif
