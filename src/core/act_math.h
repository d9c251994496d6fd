/* act_math.h: the activation functions and their derivatives, in float, shared
 * by the CPU backend and the CUDA kernels (one switch, two compilers).
 * The float64 references in src/ref are written separately on purpose. */
#ifndef SOMA_CORE_ACT_MATH_H
#define SOMA_CORE_ACT_MATH_H

#include <math.h>
#include "core/philox.h" /* SOMA_HD */
#include "soma/ops.h"    /* soma_activation */

#define SOMA_SQRT_HALF 0.70710678118654752f     /* 1/sqrt(2) */
#define SOMA_INV_SQRT_2PI 0.39894228040143268f  /* 1/sqrt(2 pi) */
#define SOMA_GELU_TANH_K 0.79788456080286536f   /* sqrt(2/pi) */
#define SOMA_GELU_TANH_C 0.044715f

SOMA_HD float soma_sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

/* f(x); param is leaky_relu's slope. */
SOMA_HD float soma_act_f(soma_activation act, float x, float param) {
    switch (act) {
    case SOMA_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case SOMA_ACT_LEAKY_RELU: return x > 0.0f ? x : param * x;
    case SOMA_ACT_SIGMOID: return soma_sigmoidf(x);
    case SOMA_ACT_TANH: return tanhf(x);
    case SOMA_ACT_GELU_ERF: return 0.5f * x * (1.0f + erff(x * SOMA_SQRT_HALF));
    case SOMA_ACT_GELU_TANH: {
        float u = SOMA_GELU_TANH_K * (x + SOMA_GELU_TANH_C * x * x * x);
        return 0.5f * x * (1.0f + tanhf(u));
    }
    case SOMA_ACT_SILU: return x * soma_sigmoidf(x);
    default: return x; /* identity */
    }
}

/* Whether soma_act_df reads y (else a caller without y may pass anything). */
SOMA_HD int soma_act_df_reads_y(soma_activation act) {
    return act == SOMA_ACT_SIGMOID || act == SOMA_ACT_TANH;
}

/* f'(x), given x and y = f(x). */
SOMA_HD float soma_act_df(soma_activation act, float x, float y, float param) {
    switch (act) {
    case SOMA_ACT_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case SOMA_ACT_LEAKY_RELU: return x > 0.0f ? 1.0f : param;
    case SOMA_ACT_SIGMOID: return y * (1.0f - y);
    case SOMA_ACT_TANH: return 1.0f - y * y;
    case SOMA_ACT_GELU_ERF: /* Phi(x) + x phi(x) */
        return 0.5f * (1.0f + erff(x * SOMA_SQRT_HALF)) +
               x * SOMA_INV_SQRT_2PI * expf(-0.5f * x * x);
    case SOMA_ACT_GELU_TANH: {
        float u = SOMA_GELU_TANH_K * (x + SOMA_GELU_TANH_C * x * x * x);
        float t = tanhf(u);
        float du = SOMA_GELU_TANH_K * (1.0f + 3.0f * SOMA_GELU_TANH_C * x * x);
        return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
    }
    case SOMA_ACT_SILU: { /* s + x s (1 - s) */
        float s = soma_sigmoidf(x);
        return s * (1.0f + x * (1.0f - s));
    }
    default: return 1.0f; /* identity */
    }
}

#endif
