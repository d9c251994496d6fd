/* cpu_gemm.c: the CPU backend's packed, cache-blocked, OpenMP-parallel SGEMM.
 *
 * Maths: C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C[m,n], row-major.
 * The k sum runs in KC-long steps: the first applies beta, later ones add.
 *
 * Scheme (Goto's algorithm, as in BLIS/OpenBLAS):
 *   for jc in n by NC:           B panel, KC x NC (L3)
 *     for pc in k by KC:         pack op(B) panel into KC x NR slivers
 *       for ic in m by MC:       pack op(A) block into MR x KC slivers (L2)
 *         for jr by NR:          one B sliver ...
 *           for ir by MR:        ... against every A sliver of the block
 *             micro-kernel: MR x NR tile of C, accumulators in registers
 * Packing absorbs the transpositions and zero-pads ragged edges, so the
 * micro-kernel always computes full tiles; partial tiles are stored through
 * bounds-checked loops and never touch C outside m x n. A slivers are packed
 * in the layout their source already has (row by row, or MR values per k
 * step), so only a transposed B needs a real transpose.
 *
 * Register tiles are picked per instruction set at run time, as the library
 * is not built with -march: AVX-512 8 x 32 (16 zmm accumulators; 2 B loads +
 * 8 broadcasts per 16 FMAs), AVX2 6 x 16 (12 of 16 ymm), baseline 6 x 8. On
 * the Xeon this was tuned on (48 KiB L1, 2 MiB L2) 8 x 32 matched 14 x 32 and
 * 6 x 64 on large shapes and beat them on batch-sized ones (m = 64, 128...).
 * AVX-512 blocking: KC = 1024 halves the C reloads and barriers of KC = 512
 * and measured best, though a B sliver (128 KiB) then streams from L2, not L1
 * (160 bytes per 8 cycles: well within L2 bandwidth); MC = 192 keeps the A
 * block (768 KiB) in L2; NC = 1024 makes a B panel 4 MiB. AVX2 and baseline
 * use KC = 256, MC = 96 to fit a 256 KiB L2. All blocks are balanced.
 *
 * Threads form a grid over C's row x column slivers, so 128 x 128 outputs
 * still keep every core busy. Each packs the A rows of its grid row and
 * 1/team of the B panel; a grid column shares its B panels (double-buffered,
 * one barrier per k step). Sharing costs cross-core traffic, so the grid
 * prefers a single row, which needs no barrier. Batch-sized products (one A
 * block, one k step, one B panel: most GEMMs of training at batch 64 or 128;
 * not a 256 x 784 x 64 weight gradient, whose 256 rows make two A blocks)
 * balance themselves instead: each thread owns a range of B slivers, and one
 * that finishes early takes the last unstarted slivers of the others. On a
 * shared 2-vCPU VM one thread often runs 10-25% slower than the other, and
 * a static split waits for it at every GEMM. Every thread flushes denormals
 * while it computes (cpu_parallel.h). */
#include "cpu_gemm.h"
#include "cpu_parallel.h" /* soma_cpu_isa_level, soma_cpu_fp_enter, soma_cpu_fp_leave */

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define MR_MAX 8
#define NR_MAX 32
#define KC_MAX 1024 /* largest KC of any instruction set */
#define A_RS (KC_MAX + 16) /* row stride of row-wise A slivers; the pad staggers cache sets */
#define NC_BLOCK 1024
/* A thread given fewer multiply-adds than this costs more to start than it saves. */
#define MACS_PER_THREAD (64.0 * 64.0 * 64.0)

#define ALWAYS_INLINE static inline __attribute__((always_inline))
#ifdef _OPENMP
#define OMP(directive) _Pragma(#directive)
#else
#define OMP(directive)
#endif
/* GCC needs the hint to keep some tiles in registers; clang vectorises these
 * loops unaided, and warns at -O1 when told to but not optimising enough. */
#ifdef __clang__
#define SIMD
#else
#define SIMD OMP(omp simd)
#endif

#define CLAIM_TEAM_MAX 64 /* larger teams split B slivers statically */

typedef struct {
    int trans_a, trans_b;
    int64_t m, n, k, lda, ldb, ldc;
    float alpha, beta;
    const float *a, *b;
    float *c;
    int64_t kc, nc, mc_slivers;
    float *bpack, *apack;           /* two shared B panels; one A block per thread */
    soma_cpu_sliver_range *claims;  /* per thread, when threads claim B slivers; else NULL */
    int claim_team;                 /* the team claims was set up for */
    size_t b_floats, a_floats;      /* size of each B panel; of each thread's A block and B sliver */
} gemm_job;

static int64_t ceil_div(int64_t x, int64_t y) { return (x + y - 1) / y; }
static int64_t round_up(int64_t x, int64_t y) { return ceil_div(x, y) * y; }
static int64_t min64(int64_t x, int64_t y) { return x < y ? x : y; }

/* Splits len into ceil(len/target) near-equal blocks, each a multiple of unit. */
static int64_t balanced_block(int64_t len, int64_t target, int64_t unit)
{
    return len > 0 ? round_up(ceil_div(len, ceil_div(len, target)), unit) : unit;
}

/* Start of piece i when len is cut into parts near-equal pieces. */
static int64_t part(int64_t len, int parts, int i) { return len * i / parts; }

/* Rows of the thread grid (a divisor of team), minimising one thread's cost in
 * multiply-adds per k step: its tile, plus packing its A rows (repeated by every
 * thread of a grid row; charged as 32 columns), plus reading B slivers other
 * threads packed: cross-core traffic, and invalidations when they repack, that
 * measured about 3x a local packing (charged 96 per column). */
static int split_rows(int team, int64_t row_slivers, int64_t col_slivers, int MR, int NR)
{
    int best = 1;
    double best_cost = 0;
    const int64_t own_cols = ceil_div(col_slivers, team) * NR;
    for (int tm = 1; tm <= team; tm++) {
        const int64_t rows = ceil_div(row_slivers, tm) * MR, cols = ceil_div(col_slivers, team / tm) * NR;
        const double cost = (double)rows * (double)(cols + 32) + 96.0 * (double)(cols - own_cols);
        if (team % tm == 0 && (tm == 1 || cost < best_cost)) {
            best = tm;
            best_cost = cost;
        }
    }
    return best;
}

/* MR x NR tile: c[0:mr, 0:nr] = alpha * A * B + beta * c (beta == 0: c not read).
 * A sliver element (i, p) is a[i*RS + p*CS]; B sliver row p is b[p*NR ...].
 * MR/NR/RS/CS are compile-time constants at every call, so acc is unrolled
 * into registers. use_fma calls fmaf: GCC in ISO C mode never fuses a*b + c. */
ALWAYS_INLINE void ukernel(const int MR, const int NR, const int RS, const int CS, const int use_fma,
                           int64_t kc, const float *restrict a, const float *restrict b,
                           float *restrict c, int64_t ldc, float alpha, float beta, int mr, int nr)
{
    float acc[MR_MAX * NR_MAX];
    for (int i = 0; i < MR * NR; i++)
        acc[i] = 0.0f;
    /* C is touched only after the k loop; fetch it now so its misses overlap. */
    for (int i = 0; i < mr; i++) {
        __builtin_prefetch(c + i * ldc, 1, 3);
        __builtin_prefetch(c + i * ldc + nr - 1, 1, 3);
    }
#ifdef __clang__
    /* Unrolling k by 2 stops clang from shuffling acc through the stack. */
    _Pragma("clang loop unroll_count(2)")
#endif
    for (int64_t p = 0; p < kc; p++) {
        const float *bp = b + p * NR;
#ifdef __clang__
        _Pragma("clang loop unroll(full)")
#endif
        for (int i = 0; i < MR; i++) {
            const float ai = a[i * RS + p * CS];
            /* Clang vectorises the unrolled row best with its SLP pass; its
             * loop vectoriser would turn acc into gathers and scatters. */
#ifdef __clang__
            _Pragma("clang loop unroll(full) vectorize(disable)")
#endif
            SIMD
            for (int j = 0; j < NR; j++)
                acc[i * NR + j] = use_fma ? fmaf(ai, bp[j], acc[i * NR + j])
                                          : acc[i * NR + j] + ai * bp[j];
        }
    }
    const int full = mr == MR && nr == NR;
    for (int i = 0; i < (full ? MR : mr); i++) {
        float *ci = c + i * ldc;
        const float *ai = acc + i * NR;
        if (full && beta == 0.0f) {
            SIMD
            for (int j = 0; j < NR; j++) ci[j] = alpha * ai[j];
        } else if (full) {
            SIMD
            for (int j = 0; j < NR; j++) ci[j] = alpha * ai[j] + beta * ci[j];
        } else if (beta == 0.0f) {
            for (int j = 0; j < nr; j++) ci[j] = alpha * ai[j];
        } else {
            for (int j = 0; j < nr; j++) ci[j] = alpha * ai[j] + beta * ci[j];
        }
    }
}

/* dst[0:N] = src[0:w] followed by zeros (w <= N). Written as memcpy so that
 * the common w == N case expands inline; a plain loop gets turned into a
 * library call per sliver row. */
ALWAYS_INLINE void copy_pad(float *restrict dst, const float *restrict src, int w, const int N)
{
    if (w == N) {
        memcpy(dst, src, (size_t)N * sizeof(float));
    } else {
        memcpy(dst, src, (size_t)w * sizeof(float));
        memset(dst + w, 0, (size_t)(N - w) * sizeof(float));
    }
}

/* Packs row slivers [r0, r1) x columns [p0, p0+kc) of op(A) into slivers of
 * MR * A_RS floats, each in the layout its source already has: row by row
 * (stride A_RS) for A stored m x k; MR values per k step for A stored k x m,
 * filled source row by source row so that reads stay sequential. Rows past m
 * become zeros. */
ALWAYS_INLINE void pack_a(const gemm_job *g, const int MR, int64_t r0, int64_t r1, int64_t p0,
                          int64_t kc, float *restrict dst)
{
    const int64_t m = g->m, lda = g->lda;
    if (!g->trans_a) {
        for (int64_t i = r0 * MR; i < r1 * MR; i++, dst += A_RS) {
            if (i < m)
                memcpy(dst, g->a + i * lda + p0, (size_t)kc * sizeof(float));
            else
                memset(dst, 0, (size_t)kc * sizeof(float));
        }
        return;
    }
    for (int64_t p = 0; p < kc; p++) {
        const float *src = g->a + (p0 + p) * lda;
        for (int64_t r = r0; r < r1; r++)
            copy_pad(dst + (r - r0) * MR * A_RS + p * MR, src + r * MR, (int)min64(MR, m - r * MR), MR);
    }
}

/* Packs column slivers [s0, s1) of the panel starting at column jc, rows
 * [p0, p0+kc) of op(B), as kc x NR slivers; columns past n become zeros.
 * Sliver s starts at s * g->kc * NR whatever kc is, so that each thread's
 * slivers stay where they were in earlier k steps. */
ALWAYS_INLINE void pack_b(const gemm_job *g, const int NR, int64_t s0, int64_t s1, int64_t jc,
                          int64_t p0, int64_t kc, float *restrict dst)
{
    const int64_t n = g->n, ldb = g->ldb;
    if (!g->trans_b) { /* source row by source row: sequential reads, few pages */
        for (int64_t p = 0; p < kc; p++) {
            const float *src = g->b + (p0 + p) * ldb + jc;
            for (int64_t s = s0; s < s1; s++)
                copy_pad(dst + s * g->kc * NR + p * NR, src + s * NR, (int)min64(NR, n - jc - s * NR), NR);
        }
        return;
    }
    /* B stored n x k: transpose in 4 x 4 tiles, which compilers turn into
     * shuffles; element by element it runs several times slower. */
    for (int64_t s = s0; s < s1; s++) {
        const float *src = g->b + (jc + s * NR) * ldb + p0;
        float *d = dst + s * g->kc * NR;
        const int w = (int)min64(NR, n - jc - s * NR);
        int64_t p = 0;
        if (w == NR) {
            for (; p + 4 <= kc; p += 4)
                for (int jt = 0; jt < NR; jt += 4)
                    for (int q = 0; q < 4; q++)
                        for (int j = jt; j < jt + 4; j++) d[(p + q) * NR + j] = src[j * ldb + p + q];
            for (; p < kc; p++)
                for (int j = 0; j < NR; j++) d[p * NR + j] = src[j * ldb + p];
            continue;
        }
        /* a ragged last sliver (n = 10 outputs...): zeros, then each source
         * row once, read sequentially */
        for (p = 0; p < kc; p++) memset(d + p * NR + w, 0, (size_t)(NR - w) * sizeof(float));
        for (int j = 0; j < w; j++)
            for (p = 0; p < kc; p++) d[p * NR + j] = src[j * ldb + p];
    }
}

#define UK_PARAMS int64_t kc, const float *restrict a, const float *restrict b, float *restrict c, \
                  int64_t ldc, float alpha, float beta, int mr, int nr
#define UK_ARGS kc, a, b, c, ldc, alpha, beta, mr, nr
typedef void (*ukernel_fn)(UK_PARAMS);

/* The tiles of C's columns [j, j+NR) x row slivers [rb, re): B sliver bs
 * against the A block apack (packed from row sliver rb on). */
ALWAYS_INLINE void sliver_tiles(const gemm_job *g, const int MR, const int NR, ukernel_fn uk, int64_t j,
                                const float *bs, const float *apack, int64_t rb, int64_t re, int64_t kcur,
                                float beta)
{
    const int nr = (int)min64(NR, g->n - j);
    for (int64_t r = rb; r < re; r++) {
        const int mr = (int)min64(MR, g->m - r * MR);
        uk(kcur, apack + (r - rb) * MR * A_RS, bs, g->c + r * MR * g->ldc + j, g->ldc, g->alpha, beta, mr, nr);
    }
}

void soma_cpu_claims_init(soma_cpu_sliver_range *claims, int team, int64_t slivers)
{
    for (int t = 0; t < team; t++)
        claims[t].lo_hi = (uint64_t)part(slivers, team, t) | (uint64_t)part(slivers, team, t + 1) << 32;
}

int64_t soma_cpu_claim_sliver(soma_cpu_sliver_range *claims, int tid, int team)
{
    for (int i = 0; i < team; i++) {
        uint64_t *w = &claims[(tid + i) % team].lo_hi, cur = __atomic_load_n(w, __ATOMIC_RELAXED);
        while ((cur & 0xffffffffu) < cur >> 32) {
            const uint64_t next = i == 0 ? cur + 1 : cur - ((uint64_t)1 << 32);
            if (__atomic_compare_exchange_n(w, &cur, next, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
                return i == 0 ? (int64_t)(cur & 0xffffffffu) : (int64_t)(cur >> 32) - 1;
        }
    }
    return -1;
}

/* One thread's share of the product; called by every thread of the team.
 * uk_rows/uk_cols take A slivers packed row by row / MR values per k step. */
ALWAYS_INLINE void gemm_thread(const gemm_job *g, const int MR, const int NR, ukernel_fn uk_rows,
                               ukernel_fn uk_cols)
{
    int tid = 0, team = 1;
#ifdef _OPENMP
    tid = omp_get_thread_num();
    team = omp_get_num_threads();
#endif
    const int64_t m = g->m, n = g->n, k = g->k, kc = g->kc, nc = g->nc;
    float *const apack = g->apack + (size_t)tid * g->a_floats;
    const int64_t row_slivers = ceil_div(m, MR);
    const int tm = split_rows(team, row_slivers, ceil_div(nc, NR), MR, NR), tn = team / tm;
    /* This thread's row slivers, cut into L2-sized A blocks. */
    const int64_t r0 = part(row_slivers, tm, tid / tn), r1 = part(row_slivers, tm, tid / tn + 1);
    const int64_t blk = balanced_block(r1 - r0, g->mc_slivers, 1);
    const ukernel_fn uk = g->trans_a ? uk_cols : uk_rows;
    unsigned step = 0;

    /* One A block, one k step and one B panel (batch-sized products): every
     * thread packs all of A, then works through its share of B slivers and
     * takes the unstarted ones of slower threads (a core busy with something
     * else, or simply slower), packing each into a sliver of its own. */
    if (g->claims && g->claim_team == team && tm == 1 && r1 - r0 <= blk && k <= kc && n <= nc) {
        float *const bsliver = apack + g->a_floats - (size_t)kc * NR;
        pack_a(g, MR, r0, r1, 0, k, apack);
        for (int64_t s; (s = soma_cpu_claim_sliver(g->claims, tid, team)) >= 0;) {
            pack_b(g, NR, 0, 1, s * NR, 0, k, bsliver);
            sliver_tiles(g, MR, NR, uk, s * NR, bsliver, apack, r0, r1, k, g->beta);
        }
        return;
    }

    for (int64_t jc = 0; jc < n; jc += nc) {
        const int64_t ncur = min64(nc, n - jc), slivers = ceil_div(ncur, NR);
        const int64_t s0 = part(slivers, tn, tid % tn), s1 = part(slivers, tn, tid % tn + 1);
        if (tm == 1 && jc > 0 && jc + nc >= n) { /* a narrower last panel moves the split */
            OMP(omp barrier)
        }
        for (int64_t pc = 0; pc < k; pc += kc) {
            const int64_t kcur = min64(kc, k - pc);
            const float beta = pc == 0 ? g->beta : 1.0f;
            /* Alternate B panels: while anyone may still read the previous
             * one, packing goes to the other, so one barrier per step does. */
            float *const bpack = g->bpack + (size_t)(++step & 1) * g->b_floats;

            pack_b(g, NR, part(slivers, team, tid), part(slivers, team, tid + 1), jc, pc, kcur, bpack);
            if (tm > 1) { /* otherwise each thread reads only the B slivers it packed */
                OMP(omp barrier)
            }
            for (int64_t rb = r0; rb < r1 && s0 < s1; rb += blk) {
                const int64_t re = min64(r1, rb + blk);
                pack_a(g, MR, rb, re, pc, kcur, apack);
                for (int64_t s = s0; s < s1; s++)
                    sliver_tiles(g, MR, NR, uk, jc + s * NR, bpack + s * kc * NR, apack, rb, re, kcur, beta);
            }
        }
    }
}

/* Per instruction set: the micro-kernels (kept out of line so that their
 * register allocation sees nothing but the k loop) and the thread body. */
#define DEFINE_ISA(name, target, MR, NR, use_fma)                                                 \
    target __attribute__((noinline)) static void name##_rows(UK_PARAMS)                           \
    { ukernel(MR, NR, A_RS, 1, use_fma, UK_ARGS); }                                               \
    target __attribute__((noinline)) static void name##_cols(UK_PARAMS)                           \
    { ukernel(MR, NR, 1, MR, use_fma, UK_ARGS); }                                                 \
    target static void name##_thread(const gemm_job *g)                                           \
    { gemm_thread(g, MR, NR, name##_rows, name##_cols); }

DEFINE_ISA(generic, , 6, 8, 0)
#if defined(__x86_64__) || defined(__i386__)
DEFINE_ISA(avx2, __attribute__((target("avx2,fma"))), 6, 16, 1)
DEFINE_ISA(avx512, __attribute__((target("avx512f,avx2,fma"))), 8, 32, 1)
#endif

typedef struct {
    int mr, nr, kc, mc; /* register tile; k and m block sizes */
    void (*run)(const gemm_job *);
} gemm_arch;

static gemm_arch select_arch(void)
{
#if defined(__x86_64__) || defined(__i386__)
    switch (soma_cpu_isa_level()) { /* the CPU's best, or SOMA_CPU_ISA's cap */
    case SOMA_CPU_ISA_AVX512:
        return (gemm_arch){8, 32, 1024, 192, avx512_thread};
    case SOMA_CPU_ISA_AVX2:
        return (gemm_arch){6, 16, 256, 96, avx2_thread};
    default:
        break;
    }
#endif
    return (gemm_arch){6, 8, 256, 96, generic_thread};
}

/* Grow-only packing memory of the calling thread, shared out to its team.
 * A thread that ends frees it (the key's destructor): a program whose
 * threads come and go, calling soma_mlp_run, must not leak one buffer each. */
static _Thread_local struct { float *buf; size_t cap; /* floats */ } tl_ws;
static pthread_key_t ws_key;
static pthread_once_t ws_key_once = PTHREAD_ONCE_INIT;
static int ws_key_ok;

static void ws_key_create(void) { ws_key_ok = pthread_key_create(&ws_key, free) == 0; }

void soma_cpu_gemm_release(void)
{
    free(tl_ws.buf);
    tl_ws.buf = NULL;
    tl_ws.cap = 0;
    pthread_once(&ws_key_once, ws_key_create);
    if (ws_key_ok) pthread_setspecific(ws_key, NULL);
}

static soma_status ws_reserve(size_t floats)
{
    if (floats <= tl_ws.cap)
        return SOMA_OK;
    size_t bytes = (floats * sizeof(float) + 63) & ~(size_t)63; /* aligned_alloc needs a multiple */
    float *p = aligned_alloc(64, bytes);
    if (!p)
        return SOMA_ERR_OUT_OF_MEMORY;
    free(tl_ws.buf);
    tl_ws.buf = p;
    tl_ws.cap = bytes / sizeof(float);
    pthread_once(&ws_key_once, ws_key_create);
    if (ws_key_ok) pthread_setspecific(ws_key, p);
    return SOMA_OK;
}

static void scale_c(int64_t m, int64_t n, float beta, float *c, int64_t ldc)
{
    for (int64_t i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        if (beta == 0.0f)
            memset(ci, 0, (size_t)n * sizeof(float));
        else if (beta != 1.0f)
            for (int64_t j = 0; j < n; j++) ci[j] *= beta;
    }
}

soma_status soma_cpu_gemm_blocked(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                                  float alpha, const float *a, int64_t lda, const float *b,
                                  int64_t ldb, float beta, float *c, int64_t ldc)
{
    if (m <= 0 || n <= 0)
        return SOMA_OK;
    if (k <= 0 || alpha == 0.0f) {
        scale_c(m, n, beta, c, ldc);
        return SOMA_OK;
    }
    const gemm_arch arch = select_arch();
    gemm_job g = {trans_a, trans_b, m, n, k, lda, ldb, ldc, alpha, beta, a, b, c,
                  .kc = balanced_block(k, arch.kc, 1),
                  .nc = balanced_block(n, NC_BLOCK, arch.nr),
                  .mc_slivers = min64(ceil_div(m, arch.mr), arch.mc / arch.mr)};

    int nt = 1;
#ifdef _OPENMP
    const double macs = (double)m * (double)n * (double)k;
    if (macs >= 2 * MACS_PER_THREAD)
        nt = macs >= omp_get_max_threads() * MACS_PER_THREAD ? omp_get_max_threads()
                                                             : (int)(macs / MACS_PER_THREAD);
    nt = soma_cpu_team_size(nt);
#endif
    g.b_floats = (size_t)round_up(g.kc * g.nc, 16); /* 16 floats: keeps blocks 64-byte aligned */
    g.a_floats = (size_t)round_up(g.mc_slivers * arch.mr * A_RS + g.kc * arch.nr, 16);
    if (ws_reserve(2 * g.b_floats + (size_t)nt * g.a_floats) != SOMA_OK)
        return SOMA_ERR_OUT_OF_MEMORY;
    soma_cpu_sliver_range claims[CLAIM_TEAM_MAX];
    if (nt <= CLAIM_TEAM_MAX && g.nc >= n) {
        soma_cpu_claims_init(claims, nt, ceil_div(n, arch.nr));
        g.claims = claims;
        g.claim_team = nt;
    }
    g.bpack = tl_ws.buf;
    g.apack = tl_ws.buf + 2 * g.b_floats;

    soma_cpu_team clock; /* falls back to one thread while the machine is busy */
    soma_cpu_team_begin(&clock);
    OMP(omp parallel num_threads(nt) if (nt > 1))
    {
        soma_cpu_team_started(&clock);
        const unsigned fp_mode = soma_cpu_fp_enter(); /* denormals flushed, per thread */
        arch.run(&g);
        soma_cpu_fp_leave(fp_mode);
#ifdef _OPENMP
        if (omp_get_thread_num() == 0)
#endif
            soma_cpu_team_caller_done(&clock);
    }
    if (nt > 1)
        soma_cpu_team_end(&clock);
    return SOMA_OK;
}
