/* op_table.c: the declaration of every op (see op_table.h).
 *
 * NMSE limits, sum((a-b)^2)/sum(b^2), hold between any backend and the
 * float64 reference and between two backends. Float rounding alone gives
 * about 1e-14 for one operation per element; 1e-11 leaves room for libm and
 * CUDA's expf/erff/tanhf differing by a few ulps; GEMM and reductions add
 * k or numel roundings per output, hence their looser limits. */
#include <string.h>

#include "core/error.h"
#include "core/op_table.h"
#include "core/step_ctl.h"
#include "ref/reference.h"

#define LIMIT_ELEMENTWISE 1e-11
#define LIMIT_REDUCTION 1e-10
#define LIMIT_GEMM 1e-9

/* C = alpha op(A) op(B) + beta C; a is m x k (k x m transposed), b is k x n
 * (n x k transposed) */
static soma_status check_gemm(const soma_op_desc *d, const soma_shape in[], const soma_shape out[],
                              const soma_op_params *p);

static void gemm_test_shapes(const soma_op_params *p, int64_t m, int64_t n, int64_t k,
                             soma_shape in[], soma_shape out[]) {
    in[0] = p->trans_a ? (soma_shape){k, m} : (soma_shape){m, k};
    in[1] = p->trans_b ? (soma_shape){n, k} : (soma_shape){k, n};
    out[0] = (soma_shape){m, n};
}

#define GEMM_PARAMS(ta, tb)                                                                    \
    {.trans_a = ta, .trans_b = tb, .alpha = 1.0f, .beta = 0.0f},                               \
        {.trans_a = ta, .trans_b = tb, .alpha = 0.7f, .beta = -0.3f}

/* GEMMs on operands rounded to TF32 and bf16, in the three transpositions
 * a dense layer uses. Every backend and the reference round the operands
 * the same way (core/precision.h), so the GEMM's limit holds unchanged:
 * what remains is float32 accumulation, as at fp32. */
#define PRECISION_PARAMS                                                                       \
    {.trans_a = 0, .trans_b = 1, .alpha = 1.0f, .precision = SOMA_PRECISION_TF32},             \
        {.trans_a = 1, .trans_b = 0, .alpha = 1.0f, .precision = SOMA_PRECISION_BF16},         \
        {.trans_a = 0, .trans_b = 0, .alpha = 0.7f, .beta = -0.3f,                             \
         .precision = SOMA_PRECISION_BF16}

/* bias_act_dropout and its backward: every activation at p = 0.3, the
 * default 0.1 and no dropout at all with ReLU, each from its own stream. */
#define BIAS_ACT_DROPOUT_PARAMS                                                                \
    {.act = SOMA_ACT_TANH, .drop = 0.3f, .seed = 11, .offset = 1},                             \
        {.act = SOMA_ACT_RELU, .drop = 0.3f, .seed = 11, .offset = 2},                         \
        {.act = SOMA_ACT_LEAKY_RELU, .alpha = 0.1f, .drop = 0.3f, .seed = 11, .offset = 3},    \
        {.act = SOMA_ACT_SIGMOID, .drop = 0.3f, .seed = 11, .offset = 4},                      \
        {.act = SOMA_ACT_IDENTITY, .drop = 0.3f, .seed = 11, .offset = 5},                     \
        {.act = SOMA_ACT_GELU_ERF, .drop = 0.3f, .seed = 11, .offset = 6},                     \
        {.act = SOMA_ACT_GELU_TANH, .drop = 0.3f, .seed = 11, .offset = 7},                    \
        {.act = SOMA_ACT_SILU, .drop = 0.3f, .seed = 0x123456789abcdefull, .offset = 8,          \
         .step_stride = 1ull << 33},       \
        {.act = SOMA_ACT_RELU, .drop = 0.1f, .seed = 3, .offset = (1ull << 32) + 5,              \
         .step_stride = 32},           \
        {.act = SOMA_ACT_RELU, .drop = 0.0f, .seed = 3, .offset = 6, .step_stride = 32}

/* gather_rows: src holds 2m + k rows, so that the block's clock (1) times
 * the stride (m) plus m rows stay inside it. */
static void gather_test_shapes(const soma_op_params *p, int64_t m, int64_t n, int64_t k,
                               soma_shape in[], soma_shape out[]) {
    (void)p;
    in[0] = (soma_shape){2 * m + k, n};
    in[1] = (soma_shape){1, 2 * m + k};
    in[2] = (soma_shape){1, SOMA_CTL_SIZE};
    out[0] = (soma_shape){m, n};
}

/* step_begin: m + 1 schedule rows, so that the clock (1) is one of them */
static void step_begin_test_shapes(const soma_op_params *p, int64_t m, int64_t n, int64_t k,
                                   soma_shape in[], soma_shape out[]) {
    (void)p, (void)n, (void)k;
    in[0] = (soma_shape){m + 1, SOMA_SCHED_COLS};
    out[0] = (soma_shape){1, SOMA_CTL_SIZE};
}

/* batchnorm, layernorm: eps >= 0 (NaN refused: it would spread silently),
 * momentum in [0, 1] (the evaluation and layernorm ops leave it 0) */
static soma_status check_norm_params(const soma_op_desc *d, const soma_op_params *p) {
    if (!(p->eps >= 0.0f)) return soma_fail(SOMA_ERR_INVALID_ARG, "%s: eps = %g is not >= 0", d->api, p->eps);
    if (!(p->momentum >= 0.0f && p->momentum <= 1.0f))
        return soma_fail(SOMA_ERR_INVALID_ARG, "%s: momentum = %g is not in [0, 1]", d->api, p->momentum);
    return SOMA_OK;
}

/* The declarations of op_list.h, each with its reference. */
const soma_op_desc soma_op_table[SOMA_OP_COUNT] = {
#define SOMA_OP(ID, CPU, CUDA, REF, ...) [SOMA_OP_##ID] = {.reference = REF, __VA_ARGS__},
#include "core/op_list.h"
#undef SOMA_OP
};

soma_op_id soma_op_find(const char *name) {
    for (int op = 0; op < SOMA_OP_COUNT; op++)
        if (name && strcmp(soma_op_table[op].name, name) == 0) return (soma_op_id)op;
    return SOMA_OP_COUNT;
}

int64_t soma_shape_letter_fixed(char letter) {
    return letter == '1' ? 1 : letter == '2' ? 2 : letter == 'c' ? SOMA_CTL_SIZE
           : letter == 's' ? SOMA_SCHED_COLS : 0;
}

static int64_t dim_of(char letter, int64_t m, int64_t n, int64_t k) {
    if (soma_shape_letter_fixed(letter)) return soma_shape_letter_fixed(letter);
    int64_t derived = soma_op_derived_cols(letter, n);
    return letter == 'm' ? m : letter == 'n' ? n : letter == 'k' ? k : derived >= 0 ? derived : 1;
}

void soma_op_test_shapes(soma_op_id op, const soma_op_params *p, int64_t m, int64_t n, int64_t k,
                         soma_shape in[SOMA_MAX_IN], soma_shape out[SOMA_MAX_OUT]) {
    const soma_op_desc *d = &soma_op_table[op];
    if (m < d->min_rows) m = d->min_rows;
    if (d->test_shapes) {
        d->test_shapes(p, m, n, k, in, out);
        return;
    }
    for (int a = 0; a < d->n_in + d->n_out; a++) {
        soma_shape s = {dim_of(d->shape[a][0], m, n, k), dim_of(d->shape[a][1], m, n, k)};
        if (a < d->n_in)
            in[a] = s;
        else
            out[a - d->n_in] = s;
    }
}

static soma_status check_gemm(const soma_op_desc *d, const soma_shape in[], const soma_shape out[],
                              const soma_op_params *p) {
    int64_t am = p->trans_a ? in[0].cols : in[0].rows, ak = p->trans_a ? in[0].rows : in[0].cols;
    int64_t bk = p->trans_b ? in[1].cols : in[1].rows, bn = p->trans_b ? in[1].rows : in[1].cols;
    if (p->precision < 0 || p->precision >= SOMA_PRECISION_COUNT)
        return soma_fail(SOMA_ERR_INVALID_ARG,
                         "%s: precision %d is not a soma_precision (fp32 0, tf32 1, bf16 2)",
                         d->api, p->precision);
    if (ak != bk)
        return soma_fail(SOMA_ERR_SHAPE,
                         "%s: op(a) is %lldx%lld (a %lldx%lld, trans_a=%d) but op(b) is "
                         "%lldx%lld (b %lldx%lld, trans_b=%d): inner dimensions %lld and %lld differ",
                         d->api, (long long)am, (long long)ak, (long long)in[0].rows,
                         (long long)in[0].cols, p->trans_a, (long long)bk, (long long)bn,
                         (long long)in[1].rows, (long long)in[1].cols, p->trans_b, (long long)ak,
                         (long long)bk);
    if (out[0].rows != am || out[0].cols != bn)
        return soma_fail(SOMA_ERR_SHAPE, "%s: 'c' is %lldx%lld but op(a) op(b) is %lldx%lld",
                         d->api, (long long)out[0].rows, (long long)out[0].cols, (long long)am,
                         (long long)bn);
    return SOMA_OK;
}
