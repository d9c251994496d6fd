/* op_check.h: run one op on a device and measure it, against the float64
 * reference or against another device. The tests and `soma check` share this
 * engine, so what a user runs is exactly what CI runs.
 *
 * Inputs come from a fixed seed; every tensor sits between sentinel guards
 * (quiet NaNs) so an out-of-bounds write shows up as a changed guard and an
 * out-of-bounds read as a NaN in the output. The error measure is the
 * normalized mean squared error sum((a-b)^2) / sum(b^2). */
#ifndef SOMA_CORE_OP_CHECK_H
#define SOMA_CORE_OP_CHECK_H

#include <stdint.h>
#include "core/op_table.h"

/* The shapes every op is checked at, by test_ops, test_cuda and `soma
 * check`: awkward sizes (1, 7, 129), a large product, and wide rows, where
 * a running float sum over 10^5 or 10^6 columns drifts past the limits (the
 * CPU softmax's once did). GEMM reads them as m x n results of inner
 * dimension k; the other ops as m x n tensors. */
typedef struct soma_check_shape {
    int64_t m, n, k;
    int large; /* skipped by `soma check --quick` */
} soma_check_shape;

enum { SOMA_CHECK_SHAPE_COUNT = 6 };
extern const soma_check_shape soma_check_shapes[SOMA_CHECK_SHAPE_COUNT];

typedef struct soma_check_case {
    soma_op_id op;
    int param_index;     /* into the op's test_params */
    int64_t m, n, k;     /* dimensions bound to the shape letters */
    uint64_t seed;       /* inputs */
    const char *variant; /* NULL: the device's default kernel */
} soma_check_case;

typedef struct soma_check_result {
    double nmse;      /* NaN-aware: matching NaNs count as equal */
    double limit;     /* the op's limit; 0 for bit-exact comparisons */
    int64_t bit_mismatches; /* values that differ in bits: every output of bit-exact ops,
                               the mask words of the others */
    int guards_intact;
    int passed;
} soma_check_result;

/* Runs the case on dev and compares with the float64 reference. */
soma_status soma_check_against_reference(soma_device *dev, const soma_check_case *c,
                                         soma_check_result *r);
/* Runs the case on dev and on base (its default kernel) from the same inputs. */
soma_status soma_check_against_device(soma_device *dev, soma_device *base,
                                      const soma_check_case *c, soma_check_result *r);

/* The op's parameters as text ("NT alpha=0.7 beta=-0.3"), "" when it has none. */
void soma_check_describe_params(const soma_check_case *c, char *buf, size_t size);

/* Host-side inputs for op: fills in[i] (numel of in_shape[i]) with the kind
 * of values the op's declaration asks for, from seed. */
void soma_check_make_input(soma_input_kind kind, uint64_t seed, int index, float *values,
                           int64_t count, int64_t label_classes);

/* sum((a-b)^2)/sum(b^2) over count values (sum((a-b)^2) when b is all zero);
 * a NaN in both at the same place counts as equal, in one only as +inf. */
double soma_nmse(const float *a, const double *b, int64_t count);

#endif
