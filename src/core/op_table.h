/* op_table.h: the one declaration of every op.
 *
 * Each op is declared once, in op_list.h: its id, its kernel on each
 * backend, its float64 reference, and its soma_op_desc: name, arity, the
 * shapes of its arguments, the NMSE limit between backends, the forward op it
 * is the gradient of, and the parameters it is tested with. The enum below,
 * soma_op_table (op_table.c), every backend's kernel table, dispatch
 * (ops.c), the tests and `soma check` all come from or iterate that list. */
#ifndef SOMA_CORE_OP_TABLE_H
#define SOMA_CORE_OP_TABLE_H

#include <stdint.h>
#include "soma/ops.h"
#include "soma/profile.h"

#define SOMA_MAX_IN 5 /* batchnorm_forward_eval: x, gamma, beta, running mean and var */
#define SOMA_MAX_OUT 4
#define SOMA_MAX_TEST_PARAMS 12

/* One id per op of op_list.h, in its order. */
typedef enum soma_op_id {
#define SOMA_OP(ID, ...) SOMA_OP_##ID,
#include "core/op_list.h"
#undef SOMA_OP
    SOMA_OP_COUNT
} soma_op_id;

/* The forward op of activation act is SOMA_OP_IDENTITY + 2*act, its backward
 * the one after it. */
#define SOMA_ACT_FORWARD_OP(act) ((soma_op_id)(SOMA_OP_IDENTITY + 2 * (int)(act)))
#define SOMA_ACT_BACKWARD_OP(act) ((soma_op_id)(SOMA_OP_IDENTITY + 2 * (int)(act) + 1))

typedef struct soma_shape {
    int64_t rows, cols;
} soma_shape;

/* Every scalar an op may take; each op's comment in op_table.c says which it
 * reads. */
typedef struct soma_op_params {
    int trans_a, trans_b;      /* gemm */
    float alpha, beta;         /* gemm; scale, axpy: alpha; leaky_relu, bias_act: alpha = slope;
                                  fill: alpha; fill_uniform: [alpha, beta);
                                  fill_normal: mean alpha, stddev beta */
    uint64_t seed, offset;     /* fill_uniform, fill_normal, dropout, bias_act_dropout: Philox
                                  key and stream */
    float drop;                /* dropout, bias_act_dropout(_backward): the drop probability p */
    float lr, momentum, weight_decay; /* sgd_update, adam_update; batchnorm_forward_train: momentum */
    int nesterov;                     /* sgd_update */
    float beta1, beta2, eps;          /* adam_update; batchnorm, layernorm: eps */
    float bias_correction1;           /* adam_update: 1 / (1 - beta1^t) */
    float bias_correction2;           /* adam_update: 1 / (1 - beta2^t) */
    int decoupled;                    /* adam_update: AdamW's weight decay instead of L2 */
    int act;                          /* bias_act, bias_act_dropout(_backward): the soma_activation;
                                         alpha = leaky_relu's slope */
    int64_t step_stride;              /* gather_rows: rows per step (0: the batch's rows);
                                         bias_act_dropout_step: Philox offsets per step */
    int precision;                    /* gemm: the soma_precision its operands are rounded to */
} soma_op_params;

/* How the tests make an input. */
typedef enum soma_input_kind {
    SOMA_IN_NORMAL = 0, /* N(0,1) */
    SOMA_IN_POSITIVE,   /* uniform in [0.5, 1.5): sums and means stay far from 0 */
    SOMA_IN_PROB,       /* uniform in [0, 1): targets of binary cross-entropy */
    SOMA_IN_LABELS,     /* integers in [0, cols of input 0) */
    SOMA_IN_BITS,       /* raw 32-bit words (dropout masks), any bit pattern */
    SOMA_IN_ROW_INDEX,  /* integers in [0, rows of input 0): gather_rows' order */
    SOMA_IN_STEP_CTL,   /* a step control block at clock 1, step 3 (core/step_ctl.h) */
    SOMA_IN_SCHEDULE,   /* schedule rows: plausible lr and corrections, steps 1, 2, ... */
    SOMA_IN_SMALL_INT,  /* integers in [-3, 3]: GEMMs of them are exact in float32 */
    SOMA_IN_HALF_INT,   /* an integer in [-3, 3] plus 0.5: added to such a GEMM, never 0 */
} soma_input_kind;

/* Where the backward op's input i comes from, given the forward call. */
typedef enum soma_grad_source {
    SOMA_FROM_FWD_IN0 = 0,
    SOMA_FROM_FWD_IN1,
    SOMA_FROM_FWD_OUT,  /* the forward output y (output 0, the one differentiated) */
    SOMA_FROM_DOUT,     /* the upstream gradient dL/dy */
    SOMA_FROM_FWD_OUT1, /* the forward's other outputs, kept for its backward (z, mask) */
    SOMA_FROM_FWD_OUT2,
} soma_grad_source;

/* A reference computes in float64 on host arrays; outputs that the op reads
 * (gemm with beta, axpy) arrive holding their initial values. */
typedef struct soma_ref_call {
    int op; /* soma_op_id */
    const double *in[SOMA_MAX_IN];
    soma_shape in_shape[SOMA_MAX_IN];
    double *out[SOMA_MAX_OUT];
    soma_shape out_shape[SOMA_MAX_OUT];
    soma_op_params p;
} soma_ref_call;
typedef void (*soma_ref_fn)(const soma_ref_call *call);

typedef struct soma_op_desc {
    const char *name;      /* "relu_backward" */
    const char *api;       /* the public function, for error messages */
    int n_in, n_out;
    const char *arg[SOMA_MAX_IN + SOMA_MAX_OUT]; /* argument names: inputs then outputs */
    /* Argument shapes as two letters from {m, n, k, w, r, g, 1, 2, c, s}: "mn", "1n", "m1", "11";
     * w is ceil(n / 32), the 32-bit words of an m x n bit mask row ("mw");
     * r and g are cuBLASLt's epilogue aux rows: 4 ceil(n / 128) words of
     * ReLU mask bits, 8 ceil(n / 8) floats of GELU inputs;
     * c is SOMA_CTL_SIZE (a step control block, "1c"), s SOMA_SCHED_COLS;
     * 2 is two (a normalization's saved mean and 1/std: "2n", "m2").
     * The op layer checks every call against them (the letters are bound by
     * the first argument that uses them); the tests build arguments from them.
     * NULL for gemm, whose shapes depend on the transpositions. */
    const char *shape[SOMA_MAX_IN + SOMA_MAX_OUT];
    soma_input_kind kind[SOMA_MAX_IN];
    soma_input_kind out_kind[SOMA_MAX_OUT]; /* initial values of outputs that are read */
    /* Custom shape check and test shapes, for ops (gemm) that shape codes
     * cannot describe; NULL otherwise. */
    soma_status (*check)(const struct soma_op_desc *d, const soma_shape in[], const soma_shape out[],
                         const soma_op_params *p);
    void (*test_shapes)(const soma_op_params *p, int64_t m, int64_t n, int64_t k,
                        soma_shape in[], soma_shape out[]);
    /* Checks of the scalars in soma_op_params, run on every call before the
     * kernel (normalizations: eps >= 0, momentum in [0, 1]); NULL: none. */
    soma_status (*check_params)(const struct soma_op_desc *d, const soma_op_params *p);
    int reads_output;      /* the output's old value is an input (gemm beta, axpy) */
    int64_t min_rows;      /* the fewest rows input 0 may have (0: any); the tests use
                              max(m, min_rows) rows. batchnorm_forward_train: 2, since
                              the unbiased variance of one row is undefined */
    unsigned alias_mask;   /* bit i: the output may be the same tensor as input i */
    int bit_exact;         /* backends must agree bit for bit (fills, argmax, counts) */
    unsigned bits_out;     /* bit o: output o holds 32-bit words of mask bits in float storage,
                              compared bit for bit (the reference writes each word as an
                              integer in [0, 2^32)) */
    double nmse_limit;     /* backend vs backend and backend vs float64 reference */
    soma_profile_part part; /* where a profiled run counts its time (0: elementwise) */
    soma_ref_fn reference;
    /* backward ops: the forward op, which of its inputs this is the gradient
     * for, and where each input comes from. A backward op with several
     * outputs (batchnorm's dx, dgamma, dbeta) gives output o the gradient
     * with respect to the forward's input grad_wrt + o; test_grad checks
     * each against finite differences. */
    int grad_of;           /* -1 for forward ops (GEMM's gradients are GEMMs) */
    int grad_wrt;
    soma_grad_source grad_src[SOMA_MAX_IN];
    int n_test_params;     /* 0 means one all-zero parameter set */
    soma_op_params test_params[SOMA_MAX_TEST_PARAMS];
} soma_op_desc;

extern const soma_op_desc soma_op_table[SOMA_OP_COUNT];

/* The size a shape letter stands for when it is a constant (1, c, s), else 0. */
int64_t soma_shape_letter_fixed(char letter);
/* The columns that shape letter w, r or g stands for, given n; -1 for
 * other letters. */
static inline int64_t soma_op_derived_cols(char letter, int64_t n) {
    return letter == 'w' ? (n + 31) / 32 : letter == 'r' ? 4 * ((n + 127) / 128)
           : letter == 'g' ? 8 * ((n + 7) / 8) : -1;
}

/* Looks an op up by name; SOMA_OP_COUNT when there is none. */
soma_op_id soma_op_find(const char *name);

/* The test shapes of op's arguments for dimensions m, n, k. */
void soma_op_test_shapes(soma_op_id op, const soma_op_params *p, int64_t m, int64_t n, int64_t k,
                         soma_shape in[SOMA_MAX_IN], soma_shape out[SOMA_MAX_OUT]);

#endif
