/* cpu_parallel.c: range splitting over OpenMP threads, the denormal mode
 * every piece runs in, the instruction set, and the fallback to one thread
 * when the machine is busy (cpu_parallel.h). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "cpu/cpu_parallel.h"

#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h> /* _mm_getcsr, _mm_setcsr */
#define SOMA_MXCSR_FTZ_DAZ 0x8040u /* bit 15 flush to zero, bit 6 denormals are zero */
#endif
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* The best instruction set the CPU supports, capped by SOMA_CPU_ISA. */
static soma_cpu_isa detect_isa(void) {
    soma_cpu_isa best = SOMA_CPU_ISA_GENERIC;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        best = SOMA_CPU_ISA_AVX512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        best = SOMA_CPU_ISA_AVX2;
#endif
    const char *cap = getenv("SOMA_CPU_ISA");
    if (cap && strcmp(cap, "generic") == 0) return SOMA_CPU_ISA_GENERIC;
    if (cap && strcmp(cap, "avx2") == 0 && best > SOMA_CPU_ISA_AVX2) return SOMA_CPU_ISA_AVX2;
    return best;
}

soma_cpu_isa soma_cpu_isa_level(void) {
    static int level = -1; /* detected once; threads that race store the same value */
    int isa = __atomic_load_n(&level, __ATOMIC_RELAXED);
    if (isa < 0) {
        isa = (int)detect_isa();
        __atomic_store_n(&level, isa, __ATOMIC_RELAXED);
    }
    return (soma_cpu_isa)isa;
}

unsigned soma_cpu_fp_enter(void) {
#ifdef SOMA_MXCSR_FTZ_DAZ
    unsigned saved = _mm_getcsr();
    if ((saved & SOMA_MXCSR_FTZ_DAZ) != SOMA_MXCSR_FTZ_DAZ) _mm_setcsr(saved | SOMA_MXCSR_FTZ_DAZ);
    return saved;
#else
    return 0;
#endif
}

void soma_cpu_fp_leave(unsigned saved) {
#ifdef SOMA_MXCSR_FTZ_DAZ
    if ((saved & SOMA_MXCSR_FTZ_DAZ) != SOMA_MXCSR_FTZ_DAZ) _mm_setcsr(saved);
#else
    (void)saved;
#endif
}

/* ---- teams on a busy machine ----------------------------------------------- */

#define LATE_NS 1000000LL        /* a thread this far behind the caller was not running */
#define SOLO_FIRST_NS 20000000LL /* 20 ms on one thread after the first late region */
#define SOLO_MAX_NS 1000000000LL /* ... doubling up to 1 s while regions stay late */

static int64_t solo_until_ns, solo_backoff_ns = SOLO_FIRST_NS; /* shared; accessed atomically */
static int64_t late_regions;

int64_t soma_cpu_team_late_regions(void) { return __atomic_load_n(&late_regions, __ATOMIC_RELAXED); }

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int soma_cpu_team_size(int wanted) {
    if (wanted <= 1) return 1;
    return now_ns() < __atomic_load_n(&solo_until_ns, __ATOMIC_RELAXED) ? 1 : wanted;
}

void soma_cpu_team_begin(soma_cpu_team *t) {
    t->fork_ns = now_ns();
    t->latest_start_ns = t->fork_ns;
    t->caller_done_ns = 0;
}

void soma_cpu_team_started(soma_cpu_team *t) {
    int64_t now = now_ns(), seen = __atomic_load_n(&t->latest_start_ns, __ATOMIC_RELAXED);
    while (now > seen &&
           !__atomic_compare_exchange_n(&t->latest_start_ns, &seen, now, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

void soma_cpu_team_caller_done(soma_cpu_team *t) { t->caller_done_ns = now_ns(); }

void soma_cpu_team_end(soma_cpu_team *t) {
    int64_t end = now_ns(), done = t->caller_done_ns ? t->caller_done_ns : end;
    int late = t->latest_start_ns - t->fork_ns > LATE_NS ||
               (end - done > LATE_NS && end - done > done - t->fork_ns);
    int64_t backoff = __atomic_load_n(&solo_backoff_ns, __ATOMIC_RELAXED);
    if (late) {
        __atomic_add_fetch(&late_regions, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&solo_until_ns, end + backoff, __ATOMIC_RELAXED);
        __atomic_store_n(&solo_backoff_ns, backoff < SOLO_MAX_NS / 2 ? 2 * backoff : SOLO_MAX_NS,
                         __ATOMIC_RELAXED);
    } else if (backoff != SOLO_FIRST_NS) {
        __atomic_store_n(&solo_backoff_ns, SOLO_FIRST_NS, __ATOMIC_RELAXED);
    }
}

/* ---- ranges over threads ------------------------------------------------------ */

#ifdef _OPENMP
/* Start of piece i of `parts` over [0, items), rounded down to `align`. */
static int64_t piece_start(int64_t items, int parts, int i, int64_t align) {
    if (i >= parts) return items;
    int64_t start = items * i / parts;
    return start / align * align;
}
#endif

void soma_cpu_parallel_for(int64_t items, int64_t work_per_item, int64_t align, soma_cpu_range_fn fn,
                           const void *args) {
    if (items <= 0) return;
    if (align < 1) align = 1;
#ifdef _OPENMP
    int team = 1;
    double work = (double)items * (double)(work_per_item > 0 ? work_per_item : 1);
    int most = omp_get_max_threads();
    if (work >= 2.0 * SOMA_PARALLEL_MIN && most > 1 && !omp_in_parallel()) {
        double fits = work / SOMA_PARALLEL_MIN;
        team = fits < (double)most ? (int)fits : most;
        int64_t pieces = (items + align - 1) / align;
        if (team > pieces) team = (int)pieces;
    }
    team = soma_cpu_team_size(team);
    if (team > 1) {
        soma_cpu_team clock;
        soma_cpu_team_begin(&clock);
#pragma omp parallel num_threads(team)
        {
            soma_cpu_team_started(&clock);
            int parts = omp_get_num_threads(), t = omp_get_thread_num();
            int64_t begin = piece_start(items, parts, t, align), end = piece_start(items, parts, t + 1, align);
            unsigned saved = soma_cpu_fp_enter();
            if (begin < end) fn(args, begin, end);
            soma_cpu_fp_leave(saved);
            if (t == 0) soma_cpu_team_caller_done(&clock);
        }
        soma_cpu_team_end(&clock);
        return;
    }
#else
    (void)work_per_item, (void)align;
#endif
    unsigned saved = soma_cpu_fp_enter();
    fn(args, 0, items);
    soma_cpu_fp_leave(saved);
}
