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

/* Batch-sized products share their B slivers out dynamically: thread t
 * owns the range [lo, hi) of claims[t] and takes slivers from its front; a
 * thread whose own range is used up takes the last sliver of another's. Each
 * range is one word, so that one compare-and-swap moves either end, and
 * fills a cache line of its own. */
typedef struct soma_cpu_sliver_range {
    _Alignas(64) uint64_t lo_hi; /* lo | hi << 32 */
} soma_cpu_sliver_range;

/* Gives `team` threads near-equal ranges of slivers [0, slivers) (< 2^32). */
void soma_cpu_claims_init(soma_cpu_sliver_range *claims, int team, int64_t slivers);
/* The next sliver for thread tid, its own or another's; -1 when none is left.
 * Every sliver is handed out exactly once, whatever threads ask in any order. */
int64_t soma_cpu_claim_sliver(soma_cpu_sliver_range *claims, int tid, int team);

/* Frees the packing buffers of the calling thread's pool (for leak checkers). */
void soma_cpu_gemm_release(void);

#endif
