/* precision.h: rounding float32 GEMM operands to TF32 or bfloat16, shared by
 * the CPU backend, the float64 reference and the CUDA kernels (one function,
 * two compilers), so that every backend multiplies the same operands.
 *
 * Both keep the sign, the 8 exponent bits and the top 10 (TF32) or 7 (bf16)
 * mantissa bits, rounding to nearest, ties to even, on the bit pattern:
 * adding 0x7ff..f plus the lowest kept bit, then clearing the dropped bits.
 * A carry out of the mantissa bumps the exponent, which is the right answer
 * (1.11..1 rounds up to 2.0, the largest finite values round up to infinity,
 * as IEEE rounding to a narrower format does). Subnormals round the same way
 * (their spacing is fixed). Infinity passes unchanged; a NaN gets its quiet
 * bit set, so one whose payload sat only in the dropped bits stays a NaN. */
#ifndef SOMA_CORE_PRECISION_H
#define SOMA_CORE_PRECISION_H

#include <stdint.h>
#include "core/philox.h" /* SOMA_HD */
#include "soma/ops.h"    /* soma_precision */

/* The float32 bit pattern rounded to `drop` fewer mantissa bits (drop 13:
 * TF32, 16: bf16); the dropped bits are zero in the result. */
SOMA_HD uint32_t soma_round_bits(uint32_t u, unsigned drop) {
    if ((u & 0x7f800000u) == 0x7f800000u) /* inf unchanged; NaN made quiet, so it stays one */
        return (u & 0x007fffffu) ? (u | 0x00400000u) : u;
    uint32_t lsb = (u >> drop) & 1u;
    return (u + ((1u << (drop - 1)) - 1u) + lsb) & ~((1u << drop) - 1u);
}

SOMA_HD uint32_t soma_float_bits(float x) {
    union { float f; uint32_t u; } v;
    v.f = x;
    return v.u;
}

SOMA_HD float soma_bits_float(uint32_t u) {
    union { float f; uint32_t u; } v;
    v.u = u;
    return v.f;
}

/* x rounded to TF32, still a float. */
SOMA_HD float soma_round_tf32(float x) { return soma_bits_float(soma_round_bits(soma_float_bits(x), 13)); }

/* x rounded to bfloat16: the upper half of the rounded float32's bits. */
SOMA_HD uint16_t soma_round_bf16_bits(float x) {
    return (uint16_t)(soma_round_bits(soma_float_bits(x), 16) >> 16);
}

/* x rounded to bfloat16, as a float. */
SOMA_HD float soma_round_bf16(float x) { return soma_bits_float(soma_round_bits(soma_float_bits(x), 16)); }

/* x as a GEMM operand of the given precision (a soma_precision). */
SOMA_HD float soma_round_operand(float x, int precision) {
    return precision == SOMA_PRECISION_TF32   ? soma_round_tf32(x)
           : precision == SOMA_PRECISION_BF16 ? soma_round_bf16(x)
                                              : x;
}

#endif
