/* cpu_parallel.h: OpenMP loops that vanish cleanly without OpenMP.
 * Loops over fewer than SOMA_PARALLEL_MIN elements stay on one thread: below
 * that, waking the team costs more than the work. */
#ifndef SOMA_CPU_PARALLEL_H
#define SOMA_CPU_PARALLEL_H

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

#endif
