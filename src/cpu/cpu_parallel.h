/* cpu_parallel.h: how CPU kernels use the cores and the floating-point unit.
 *
 * soma_cpu_parallel_for() splits a range of items (elements, rows or column
 * blocks) into one contiguous piece per OpenMP thread and runs a function on
 * each. Less work than SOMA_PARALLEL_MIN elements stays on the calling
 * thread: below that, waking the team costs more than the work. Every thread
 * that runs a piece flushes denormals (see soma_cpu_fp_enter) for the
 * duration of its piece and restores its previous mode afterwards, so kernels
 * neither run at denormal speed (Adam's moments decay into denormals for
 * inputs that are rarely active, and each denormal costs a microcode assist)
 * nor change the caller's floating-point environment.
 *
 * The older SOMA_PARALLEL_FOR / SOMA_PARALLEL_SUM pragmas remain for kernels
 * off the training path (softmax, losses, fills, sums); they neither flush
 * denormals nor change the mode. */
#ifndef SOMA_CPU_PARALLEL_H
#define SOMA_CPU_PARALLEL_H

#include <stdint.h>

#define SOMA_PARALLEL_MIN 32768
#define SOMA_PRAGMA_(x) _Pragma(#x)

/* SOMA_PARALLEL_SUM(work, s): the loop adds into s, each thread its own part */
#ifdef _OPENMP
#define SOMA_PARALLEL_FOR(work) SOMA_PRAGMA_(omp parallel for schedule(static) if ((work) >= SOMA_PARALLEL_MIN))
#define SOMA_PARALLEL_SUM(work, s) SOMA_PRAGMA_(omp parallel for reduction(+ : s) schedule(static) if ((work) >= SOMA_PARALLEL_MIN))
#else
#define SOMA_PARALLEL_FOR(work)
#define SOMA_PARALLEL_SUM(work, s)
#endif

/* Instruction sets. The library is not built with -march, so the loops of
 * the training path are compiled once per set and the best the CPU has is
 * picked at run time; SOMA_CPU_ISA=avx2 or =generic caps the choice (the
 * tests run every path that way, whatever the machine). */
typedef enum soma_cpu_isa {
    SOMA_CPU_ISA_GENERIC = 0, /* the baseline: SSE2 on x86-64 */
    SOMA_CPU_ISA_AVX2,        /* AVX2 and FMA */
    SOMA_CPU_ISA_AVX512,      /* AVX-512F */
} soma_cpu_isa;
soma_cpu_isa soma_cpu_isa_level(void);

typedef void (*soma_cpu_range_fn)(const void *args, int64_t begin, int64_t end);

/* SOMA_CPU_RANGE_VARIANTS(body) defines body_variant(), the version of the
 * range function `body` (static inline, with soma_cpu_range_fn's
 * parameters) compiled for the best instruction set allowed. Plain C loops
 * suffice: the compiler vectorises each copy for its set. */
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define SOMA_CPU_RANGE_VARIANTS(body)                                                            \
    __attribute__((target("avx512f"))) static void body##_avx512(const void *a, int64_t b,       \
                                                                  int64_t e) { body(a, b, e); }  \
    __attribute__((target("avx2,fma"))) static void body##_avx2(const void *a, int64_t b,        \
                                                                 int64_t e) { body(a, b, e); }   \
    static void body##_generic(const void *a, int64_t b, int64_t e) { body(a, b, e); }           \
    static soma_cpu_range_fn body##_variant(void) {                                              \
        soma_cpu_isa isa = soma_cpu_isa_level();                                                 \
        return isa == SOMA_CPU_ISA_AVX512 ? body##_avx512                                        \
               : isa == SOMA_CPU_ISA_AVX2 ? body##_avx2 : body##_generic;                        \
    }
#else
#define SOMA_CPU_RANGE_VARIANTS(body)                                                            \
    static void body##_generic(const void *a, int64_t b, int64_t e) { body(a, b, e); }           \
    static soma_cpu_range_fn body##_variant(void) { return body##_generic; }
#endif
/* The body of a range function: inlined into each variant. */
#define SOMA_CPU_RANGE_BODY static inline __attribute__((always_inline)) void

/* Sets flush-to-zero and denormals-are-zero on the calling thread (MXCSR on
 * x86; nothing elsewhere) and returns the previous mode for
 * soma_cpu_fp_leave(). Denormal results become 0 and denormal inputs read as
 * 0: values below 1.2e-38, far under anything a float32 model can resolve. */
unsigned soma_cpu_fp_enter(void);
void soma_cpu_fp_leave(unsigned saved);

/* Teams on a busy machine. A parallel region waits for its slowest thread;
 * when other programs hold the cores, a thread of ours may wait a whole
 * scheduler time slice (milliseconds) before it runs, and a training step of
 * a dozen short regions becomes many times slower than on one thread
 * (measured on 2 busy vCPUs: 6.1 s against 0.37 s per MNIST epoch). So every
 * region is timed: when a thread started, or the last one finished, more
 * than a millisecond behind the calling thread, the CPU backend runs on the
 * calling thread alone for a while (20 ms, doubling while it keeps happening,
 * up to 1 s) and then tries the team again. Around each region:
 *   team = soma_cpu_team_size(wanted);  soma_cpu_team_begin(&t);
 *   parallel: soma_cpu_team_started(&t) first; thread 0 calls
 *             soma_cpu_team_caller_done(&t) when its share is done;
 *   soma_cpu_team_end(&t) after the region. */
typedef struct soma_cpu_team {
    int64_t fork_ns, latest_start_ns, caller_done_ns;
} soma_cpu_team;
int soma_cpu_team_size(int wanted); /* wanted, or 1 while the machine is busy */
void soma_cpu_team_begin(soma_cpu_team *t);
void soma_cpu_team_started(soma_cpu_team *t);
void soma_cpu_team_caller_done(soma_cpu_team *t);
void soma_cpu_team_end(soma_cpu_team *t);
/* How many regions so far found a thread late (the benchmarks report it). */
int64_t soma_cpu_team_late_regions(void);

/* fn(args, begin, end) over [0, items), in at most one piece per thread;
 * piece boundaries are multiples of `align` items. work_per_item (elements,
 * or elements times a cost factor) decides how many threads are worth
 * waking: one per SOMA_PARALLEL_MIN of work. */
void soma_cpu_parallel_for(int64_t items, int64_t work_per_item, int64_t align, soma_cpu_range_fn fn,
                           const void *args);

#endif
