/* reference.c: the float64 reference of every op (see reference.h).
 * Each function is the textbook formula from soma/ops.h, computed in double
 * with libm, independent of the float code the backends share. */
#include <math.h>
#include <stdint.h>

#include "core/philox.h"
#include "ref/reference.h"

#define PI 3.14159265358979323846

#define ROWS(c, i) ((c)->in_shape[i].rows)
#define COLS(c, i) ((c)->in_shape[i].cols)
#define NUMEL(c, i) (ROWS(c, i) * COLS(c, i))

/* A float value rounded to `mantissa` stored bits, to nearest, ties to even
 * (nearbyint in the default rounding mode), by arithmetic rather than by
 * bits as core/precision.h does; exponents below float's smallest normal
 * (2^-126) keep its spacing, as float subnormals do. */
static double round_to_bits(double x, int mantissa) {
    if (!isfinite(x) || x == 0.0) return x;
    int e;
    (void)frexp(x, &e); /* x = f 2^e, 0.5 <= |f| < 1 */
    if (e < -125) e = -125;
    return ldexp(nearbyint(ldexp(x, mantissa + 1 - e)), e - mantissa - 1);
}

/* A GEMM operand at the call's precision: TF32 keeps 10 mantissa bits,
 * bf16 7. */
static double round_operand(double x, int precision) {
    return precision == SOMA_PRECISION_TF32   ? round_to_bits(x, 10)
           : precision == SOMA_PRECISION_BF16 ? round_to_bits(x, 7)
                                              : x;
}

/* C = alpha op(A) op(B) + beta C */
void soma_ref_gemm(const soma_ref_call *c) {
    const double *a = c->in[0], *b = c->in[1];
    double *out = c->out[0];
    int64_t m = c->out_shape[0].rows, n = c->out_shape[0].cols;
    int64_t k = c->p.trans_a ? ROWS(c, 0) : COLS(c, 0);
    int64_t lda = COLS(c, 0), ldb = COLS(c, 1);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double acc = 0.0;
            for (int64_t l = 0; l < k; l++) {
                double av = round_operand(c->p.trans_a ? a[l * lda + i] : a[i * lda + l],
                                          c->p.precision);
                double bv = round_operand(c->p.trans_b ? b[j * ldb + l] : b[l * ldb + j],
                                          c->p.precision);
                acc += av * bv;
            }
            double old = c->p.beta == 0.0f ? 0.0 : c->p.beta * out[i * n + j];
            out[i * n + j] = c->p.alpha * acc + old;
        }
}

void soma_ref_bias_add(const soma_ref_call *c) {
    int64_t m = ROWS(c, 0), n = COLS(c, 0);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) c->out[0][i * n + j] = c->in[0][i * n + j] + c->in[1][j];
}

void soma_ref_bias_grad(const soma_ref_call *c) {
    int64_t m = ROWS(c, 0), n = COLS(c, 0);
    for (int64_t j = 0; j < n; j++) {
        double s = 0.0;
        for (int64_t i = 0; i < m; i++) s += c->in[0][i * n + j];
        c->out[0][j] = s;
    }
}

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

static soma_activation act_of(int op) {
    return (soma_activation)((op - SOMA_OP_IDENTITY) / 2);
}

static double act_f(soma_activation act, double x, double slope) {
    const double k = sqrt(2.0 / PI);
    switch (act) {
    case SOMA_ACT_RELU: return x > 0 ? x : 0;
    case SOMA_ACT_LEAKY_RELU: return x > 0 ? x : slope * x;
    case SOMA_ACT_SIGMOID: return sigmoid(x);
    case SOMA_ACT_TANH: return tanh(x);
    case SOMA_ACT_GELU_ERF: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case SOMA_ACT_GELU_TANH: return 0.5 * x * (1.0 + tanh(k * (x + 0.044715 * x * x * x)));
    case SOMA_ACT_SILU: return x * sigmoid(x);
    default: return x;
    }
}

/* Derivatives from x alone (the float code uses y where cheaper). */
static double act_df(soma_activation act, double x, double slope) {
    const double k = sqrt(2.0 / PI);
    switch (act) {
    case SOMA_ACT_RELU: return x > 0 ? 1 : 0;
    case SOMA_ACT_LEAKY_RELU: return x > 0 ? 1 : slope;
    case SOMA_ACT_SIGMOID: return sigmoid(x) * (1.0 - sigmoid(x));
    case SOMA_ACT_TANH: return 1.0 - tanh(x) * tanh(x);
    case SOMA_ACT_GELU_ERF:
        return 0.5 * (1.0 + erf(x / sqrt(2.0))) + x * exp(-0.5 * x * x) / sqrt(2.0 * PI);
    case SOMA_ACT_GELU_TANH: {
        double t = tanh(k * (x + 0.044715 * x * x * x));
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * k * (1.0 + 3.0 * 0.044715 * x * x);
    }
    case SOMA_ACT_SILU: return sigmoid(x) * (1.0 + x * (1.0 - sigmoid(x)));
    default: return 1;
    }
}

void soma_ref_activation(const soma_ref_call *c) {
    for (int64_t i = 0; i < NUMEL(c, 0); i++)
        c->out[0][i] = act_f(act_of(c->op), c->in[0][i], c->p.alpha);
}

/* (x, bias) -> (z = x + bias, a = f(z)) */
void soma_ref_bias_act(const soma_ref_call *c) {
    int64_t m = ROWS(c, 0), n = COLS(c, 0);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double z = c->in[0][i * n + j] + c->in[1][j];
            c->out[0][i * n + j] = z;
            c->out[1][i * n + j] = act_f((soma_activation)c->p.act, z, c->p.alpha);
        }
}

/* inputs (x, y, dy): dx = dy f'(x) */
void soma_ref_activation_backward(const soma_ref_call *c) {
    for (int64_t i = 0; i < NUMEL(c, 0); i++)
        c->out[0][i] = c->in[2][i] * act_df(act_of(c->op), c->in[0][i], c->p.alpha);
}

static double row_max(const double *x, int64_t n) {
    double mx = x[0];
    for (int64_t j = 1; j < n; j++) mx = x[j] > mx ? x[j] : mx;
    return mx;
}

/* log sum_j exp(x_j), stable */
static double row_logsumexp(const double *x, int64_t n) {
    double mx = row_max(x, n), s = 0.0;
    for (int64_t j = 0; j < n; j++) s += exp(x[j] - mx);
    return mx + log(s);
}

void soma_ref_softmax(const soma_ref_call *c) {
    int64_t m = ROWS(c, 0), n = COLS(c, 0);
    for (int64_t i = 0; i < m; i++) {
        double lse = row_logsumexp(c->in[0] + i * n, n);
        for (int64_t j = 0; j < n; j++) c->out[0][i * n + j] = exp(c->in[0][i * n + j] - lse);
    }
}

void soma_ref_log_softmax(const soma_ref_call *c) {
    int64_t m = ROWS(c, 0), n = COLS(c, 0);
    for (int64_t i = 0; i < m; i++) {
        double lse = row_logsumexp(c->in[0] + i * n, n);
        for (int64_t j = 0; j < n; j++) c->out[0][i * n + j] = c->in[0][i * n + j] - lse;
    }
}

/* inputs (y, dy): dx = y (dy - sum_k dy_k y_k) */
void soma_ref_softmax_backward(const soma_ref_call *c) {
    int64_t m = ROWS(c, 0), n = COLS(c, 0);
    for (int64_t i = 0; i < m; i++) {
        const double *y = c->in[0] + i * n, *dy = c->in[1] + i * n;
        double dot = 0.0;
        for (int64_t j = 0; j < n; j++) dot += dy[j] * y[j];
        for (int64_t j = 0; j < n; j++) c->out[0][i * n + j] = y[j] * (dy[j] - dot);
    }
}

/* inputs (y, dy): dx = dy - exp(y) sum_k dy_k */
void soma_ref_log_softmax_backward(const soma_ref_call *c) {
    int64_t m = ROWS(c, 0), n = COLS(c, 0);
    for (int64_t i = 0; i < m; i++) {
        const double *y = c->in[0] + i * n, *dy = c->in[1] + i * n;
        double s = 0.0;
        for (int64_t j = 0; j < n; j++) s += dy[j];
        for (int64_t j = 0; j < n; j++) c->out[0][i * n + j] = dy[j] - exp(y[j]) * s;
    }
}

void soma_ref_mse_loss(const soma_ref_call *c) {
    double s = 0.0;
    for (int64_t i = 0; i < NUMEL(c, 0); i++) {
        double d = c->in[0][i] - c->in[1][i];
        s += d * d;
    }
    c->out[0][0] = s / (double)NUMEL(c, 0);
}

void soma_ref_mse_backward(const soma_ref_call *c) {
    for (int64_t i = 0; i < NUMEL(c, 0); i++)
        c->out[0][i] = 2.0 * (c->in[0][i] - c->in[1][i]) / (double)NUMEL(c, 0);
}

/* -t log s(x) - (1-t) log(1 - s(x)), computed directly from the definition */
void soma_ref_bce_logits_loss(const soma_ref_call *c) {
    double s = 0.0;
    for (int64_t i = 0; i < NUMEL(c, 0); i++) {
        double x = c->in[0][i], t = c->in[1][i];
        s += -t * log(sigmoid(x)) - (1.0 - t) * log(sigmoid(-x));
    }
    c->out[0][0] = s / (double)NUMEL(c, 0);
}

void soma_ref_bce_logits_backward(const soma_ref_call *c) {
    for (int64_t i = 0; i < NUMEL(c, 0); i++)
        c->out[0][i] = (sigmoid(c->in[0][i]) - c->in[1][i]) / (double)NUMEL(c, 0);
}

static int valid_label(double label, int64_t n) {
    return label >= 0 && label < (double)n && label == floor(label);
}

void soma_ref_softmax_xent_loss(const soma_ref_call *c) {
    int64_t m = ROWS(c, 0), n = COLS(c, 0);
    double s = 0.0;
    for (int64_t i = 0; i < m; i++) {
        double label = c->in[1][i];
        if (!valid_label(label, n)) {
            s = NAN;
            continue;
        }
        s += row_logsumexp(c->in[0] + i * n, n) - c->in[0][i * n + (int64_t)label];
    }
    c->out[0][0] = s / (double)m;
}

void soma_ref_softmax_xent_backward(const soma_ref_call *c) {
    int64_t m = ROWS(c, 0), n = COLS(c, 0);
    for (int64_t i = 0; i < m; i++) {
        double label = c->in[1][i];
        double lse = row_logsumexp(c->in[0] + i * n, n);
        for (int64_t j = 0; j < n; j++) {
            double onehot = (double)j == label ? 1.0 : 0.0;
            double g = (exp(c->in[0][i * n + j] - lse) - onehot) / (double)m;
            c->out[0][i * n + j] = valid_label(label, n) ? g : NAN;
        }
    }
}

void soma_ref_scale(const soma_ref_call *c) {
    for (int64_t i = 0; i < NUMEL(c, 0); i++) c->out[0][i] = c->p.alpha * c->in[0][i];
}

void soma_ref_axpy(const soma_ref_call *c) {
    for (int64_t i = 0; i < NUMEL(c, 0); i++) c->out[0][i] += c->p.alpha * c->in[0][i];
}

void soma_ref_sum(const soma_ref_call *c) {
    double s = 0.0;
    for (int64_t i = 0; i < NUMEL(c, 0); i++) s += c->in[0][i];
    c->out[0][0] = s;
}

void soma_ref_mean(const soma_ref_call *c) {
    soma_ref_sum(c);
    c->out[0][0] /= (double)NUMEL(c, 0);
}

static int64_t argmax(const double *x, int64_t n) {
    int64_t best = 0;
    for (int64_t j = 1; j < n; j++)
        if (x[j] > x[best]) best = j;
    return best;
}

void soma_ref_row_argmax(const soma_ref_call *c) {
    int64_t m = ROWS(c, 0), n = COLS(c, 0);
    for (int64_t i = 0; i < m; i++) c->out[0][i] = (double)argmax(c->in[0] + i * n, n);
}

void soma_ref_correct_count(const soma_ref_call *c) {
    int64_t m = ROWS(c, 0), n = COLS(c, 0), count = 0;
    for (int64_t i = 0; i < m; i++) count += (double)argmax(c->in[0] + i * n, n) == c->in[1][i];
    c->out[0][0] = (double)count;
}

void soma_ref_fill(const soma_ref_call *c) {
    for (int64_t i = 0; i < c->out_shape[0].rows * c->out_shape[0].cols; i++)
        c->out[0][i] = c->p.alpha;
}

/* The reference draws the same Philox words (integer arithmetic is exact
 * everywhere) and maps them to numbers in double with libm. */
void soma_ref_fill_uniform(const soma_ref_call *c) {
    for (int64_t i = 0; i < c->out_shape[0].rows * c->out_shape[0].cols; i++) {
        soma_philox4 r = soma_philox_block(c->p.seed, c->p.offset, (uint64_t)i / 4);
        double u = (double)(r.v[i % 4] >> 8) / 16777216.0;
        c->out[0][i] = c->p.alpha + (c->p.beta - c->p.alpha) * u;
    }
}

void soma_ref_fill_normal(const soma_ref_call *c) {
    for (int64_t i = 0; i < c->out_shape[0].rows * c->out_shape[0].cols; i++) {
        soma_philox4 r = soma_philox_block(c->p.seed, c->p.offset, (uint64_t)i / 4);
        int pair = (int)(i % 4) & 2;
        double u1 = ((double)(r.v[pair] >> 8) + 1.0) / 16777216.0;
        double u2 = (double)(r.v[pair + 1] >> 8) / 16777216.0;
        double radius = sqrt(-2.0 * log(u1)), angle = 2.0 * PI * u2;
        double z = (i % 2) ? radius * sin(angle) : radius * cos(angle);
        c->out[0][i] = c->p.alpha + c->p.beta * z;
    }
}

/* y = x / (1 - p) where the uniform u_i >= p, else 0 (u_i exact in double) */
/* Whether dropout keeps element i of stream {seed, offset}: its uniform
 * u_i = (word >> 8) / 2^24 (word i % 4 of Philox block i / 4) is >= p. */
static int dropout_keeps(const soma_op_params *p, int64_t i) {
    soma_philox4 r = soma_philox_block(p->seed, p->offset, (uint64_t)i / 4);
    return (double)(r.v[i % 4] >> 8) / 16777216.0 >= p->drop;
}

/* x -> x mask / (1 - p); the same map for forward and backward */
void soma_ref_dropout(const soma_ref_call *c) {
    for (int64_t i = 0; i < NUMEL(c, 0); i++)
        c->out[0][i] = dropout_keeps(&c->p, i) ? c->in[0][i] / (1.0 - c->p.drop) : 0.0;
}

/* Bit j % 32 of word j / 32 of row i of a dropout mask (m x ceil(n/32) words
 * held as integers). */
static int mask_bit(const double *mask, int64_t n, int64_t i, int64_t j) {
    int64_t words = (n + 31) / 32;
    return (int)(((uint32_t)mask[i * words + j / 32] >> (j % 32)) & 1u);
}

/* (x, bias) -> (h, z, mask, alive): z = x + bias, h = f(z) mask / (1 - p),
 * mask bits as above (padding bits 0), alive[j] = 1 if alive[j] != 0 or
 * some z[i,j] > 0, else 0 */
void soma_ref_bias_act_dropout(const soma_ref_call *c) {
    int64_t m = ROWS(c, 0), n = COLS(c, 0), words = (n + 31) / 32;
    double *h = c->out[0], *z = c->out[1], *mask = c->out[2], *alive = c->out[3];
    for (int64_t k = 0; k < m * words; k++) mask[k] = 0.0;
    for (int64_t j = 0; j < n; j++) alive[j] = alive[j] != 0.0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double zij = c->in[0][i * n + j] + c->in[1][j];
            int keep = dropout_keeps(&c->p, i * n + j);
            z[i * n + j] = zij;
            h[i * n + j] = keep ? act_f((soma_activation)c->p.act, zij, c->p.alpha) / (1.0 - c->p.drop) : 0.0;
            mask[i * words + j / 32] += keep ? ldexp(1.0, (int)(j % 32)) : 0.0;
            if (zij > 0) alive[j] = 1.0;
        }
}

/* (z, mask, dh) -> dx = dh mask / (1 - p) f'(z) */
void soma_ref_bias_act_dropout_backward(const soma_ref_call *c) {
    int64_t m = ROWS(c, 0), n = COLS(c, 0);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double g = mask_bit(c->in[1], n, i, j) ? c->in[2][i * n + j] / (1.0 - c->p.drop) : 0.0;
            c->out[0][i * n + j] = g * act_df((soma_activation)c->p.act, c->in[0][i * n + j], c->p.alpha);
        }
}

void soma_ref_sum_squares(const soma_ref_call *c) {
    double s = 0.0;
    for (int64_t i = 0; i < NUMEL(c, 0); i++) s += c->in[0][i] * c->in[0][i];
    c->out[0][0] = s;
}

void soma_ref_active_columns(const soma_ref_call *c) {
    int64_t m = ROWS(c, 0), n = COLS(c, 0);
    for (int64_t j = 0; j < n; j++) {
        int active = c->out[0][j] != 0.0;
        for (int64_t i = 0; i < m; i++) active |= c->in[0][i * n + j] > 0.0;
        c->out[0][j] = active;
    }
}

/* outputs (w, v) */
void soma_ref_sgd_update(const soma_ref_call *c) {
    const soma_op_params *p = &c->p;
    double *w = c->out[0], *v = c->out[1];
    for (int64_t i = 0; i < NUMEL(c, 0); i++) {
        double g = c->in[0][i] + (double)p->weight_decay * w[i];
        v[i] = (double)p->momentum * v[i] + g;
        double step = p->nesterov ? g + (double)p->momentum * v[i] : v[i];
        w[i] -= (double)p->lr * step;
    }
}

/* outputs (w, m, v) */
void soma_ref_adam_update(const soma_ref_call *c) {
    const soma_op_params *p = &c->p;
    double *w = c->out[0], *m = c->out[1], *v = c->out[2];
    for (int64_t i = 0; i < NUMEL(c, 0); i++) {
        double g = c->in[0][i];
        if (p->decoupled)
            w[i] -= (double)p->lr * (double)p->weight_decay * w[i];
        else
            g += (double)p->weight_decay * w[i];
        m[i] = (double)p->beta1 * m[i] + (1.0 - (double)p->beta1) * g;
        v[i] = (double)p->beta2 * v[i] + (1.0 - (double)p->beta2) * g * g;
        double m_hat = m[i] * (double)p->bias_correction1;
        double v_hat = v[i] * (double)p->bias_correction2;
        w[i] -= (double)p->lr * m_hat / (sqrt(v_hat) + (double)p->eps);
    }
}

/* ---- GEMMs with cuBLASLt's epilogues (op_list.h) ------------------------ */

static int is_relu_epilogue(int op) { return op == SOMA_OP_GEMM_BIAS_RELU || op == SOMA_OP_GEMM_DRELU_BGRAD; }

/* h = f(x w^T + bias); aux: the mask words (relu) or z (gelu), padding 0 */
void soma_ref_gemm_bias_act(const soma_ref_call *c) {
    const double *x = c->in[0], *w = c->in[1], *bias = c->in[2];
    int64_t m = ROWS(c, 0), k = COLS(c, 0), n = ROWS(c, 1), aux_cols = c->out_shape[1].cols;
    const int relu = is_relu_epilogue(c->op);
    for (int64_t j = 0; j < m * aux_cols; j++) c->out[1][j] = 0.0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double z = bias[j];
            for (int64_t l = 0; l < k; l++) z += x[i * k + l] * w[j * k + l];
            c->out[0][i * n + j] = act_f(relu ? SOMA_ACT_RELU : SOMA_ACT_GELU_TANH, z, 0.0);
            if (!relu)
                c->out[1][i * aux_cols + j] = z;
            else if (z > 0.0)
                c->out[1][i * aux_cols + j / 32] += ldexp(1.0, (int)(j % 32)); /* words as integers */
        }
}

/* dz = (g w2) f'(z), db = sum over rows of dz */
void soma_ref_gemm_act_backward(const soma_ref_call *c) {
    const double *g = c->in[0], *w2 = c->in[1], *aux = c->in[2];
    int64_t m = ROWS(c, 0), k = COLS(c, 0), n = COLS(c, 1), aux_cols = c->in_shape[2].cols;
    const int relu = is_relu_epilogue(c->op);
    for (int64_t j = 0; j < n; j++) c->out[1][j] = 0.0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double acc = 0.0;
            for (int64_t l = 0; l < k; l++) acc += g[i * k + l] * w2[l * n + j];
            double d;
            if (relu) {
                uint32_t word = (uint32_t)aux[i * aux_cols + j / 32];
                d = (word >> (j % 32)) & 1u ? acc : 0.0;
            } else {
                d = acc * act_df(SOMA_ACT_GELU_TANH, aux[i * aux_cols + j], 0.0);
            }
            c->out[0][i * n + j] = d;
            c->out[1][j] += d;
        }
}
