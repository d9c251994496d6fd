/* reference.h: plain float64 implementations of every op, written for
 * clarity, not speed. They are the ground truth the tests and `soma check`
 * measure the backends against; op_list.h names one per op. */
#ifndef SOMA_REF_REFERENCE_H
#define SOMA_REF_REFERENCE_H

#include "core/op_table.h"

/* Every op's reference, as op_list.h names it (a function serving several
 * ops is declared once per op: harmless). */
#define SOMA_OP(ID, CPU, CUDA, REF, ...) void REF(const soma_ref_call *c);
#include "core/op_list.h"
#undef SOMA_OP

/* reference_step.c: the elements of a shape */
#define NUMEL_OF(shape) ((shape).rows * (shape).cols)

#endif
