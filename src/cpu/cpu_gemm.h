/* cpu_gemm.h: the CPU backend's own single-precision GEMM.
 *
 *   C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C[m,n]
 *
 * Row-major storage: element (i,j) of a matrix with row stride ld lives at
 * [i*ld + j]. op(X) = X, or X transposed when trans_x is non-zero (then A is
 * stored k x m with lda >= m, and B is stored n x k with ldb >= k).
 * beta == 0 means C is written without being read (NaN in C does not leak). */
#ifndef SOMA_CPU_GEMM_H
#define SOMA_CPU_GEMM_H

#include <stdint.h>
#include "soma/status.h"

/* Cache-blocked, packed, OpenMP-parallel kernel. Returns SOMA_ERR_OUT_OF_MEMORY
 * if its packing buffers cannot be allocated (they are allocated once per
 * thread and reused, so a steady training loop allocates nothing). */
soma_status soma_cpu_gemm_blocked(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                                  float alpha, const float *a, int64_t lda,
                                  const float *b, int64_t ldb,
                                  float beta, float *c, int64_t ldc);

/* Frees the packing buffers of the calling thread's pool (for leak checkers). */
void soma_cpu_gemm_release(void);

#endif
