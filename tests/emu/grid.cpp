/* grid.cpp: runs a kernel's grid on the CPU, block after block, with the
 * synchronization semantics of the hardware, and stops with a message where
 * the hardware would hang or leave the result undefined.
 *
 * A block's threads start as fibers (fiber.cpp) and run until they wait:
 * at __syncthreads until every thread of the block has arrived at that same
 * barrier, at a warp exchange (__shfl_*_sync, __ballot_sync, __syncwarp)
 * until all 32 lanes of the warp have. Waiting threads resume in the order
 * SOMA_EMU_SCHEDULE asks (random by default), so a missing barrier lets one
 * thread read shared memory another has not written yet, as it may on a GPU.
 * When no thread can run and some have not finished, the block would hang:
 * the message says which barrier or exchange, and which threads are where.
 *
 * Most kernels never synchronize. To spare them a fiber per thread, the
 * first block of a kernel runs thread 0 alone on a fiber: if it finishes
 * without waiting, every other thread runs as a plain call. A thread that
 * then waits anyway breaks the rule that every thread of the block reach
 * each barrier (thread 0 returned without), and is reported. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include "emu_device.h"
#include "emu_internal.h"

namespace soma_emu {

const uint3 *current_thread_idx;
const block_coords *current_block_coords;

namespace {

enum thread_state { READY, AT_BARRIER, AT_WARP, DONE };

struct emu_thread {
    uint3 idx;
    int linear; /* x + y bx + z bx by */
    thread_state state;
    fiber *runs_on; /* NULL: not started, or run as a plain call */
};

struct exchange_point {
    int arrived = 0;
    uint64_t generation = 0;
    site where{NULL, 0};
    warp_op op = WARP_SYNC;
};

struct warp {
    exchange_point point;
    int width = 32;
    uint64_t slots[2][32];
};

struct block {
    const char *kernel;
    block_coords coords;
    const std::function<void()> *body;
    std::vector<emu_thread> threads;
    std::vector<warp> warps;
    exchange_point barrier;
    int n = 0, done = 0;
    bool as_fibers = false; /* false: threads after the first run as plain calls */
    emu_thread *running = NULL;
};

block *current_block; /* grids run one at a time (runtime.cpp's lock) */
/* Fibers are made once and reused by every block, for the life of the
 * process (never destroyed: they stay reachable for LeakSanitizer, which
 * runs after static destructors). Grids run under the runtime's lock, one
 * at a time; a parked fiber may be resumed from another OS thread. */
std::vector<fiber *> &fiber_pool = *new std::vector<fiber *>();
uint64_t schedule_state; /* splitmix64 */
bool schedule_seeded;

uint64_t schedule_next() {
    uint64_t z = (schedule_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

bool same_site(site a, site b) {
    return a.line == b.line && (a.file == b.file || strcmp(a.file, b.file) == 0);
}

/* Kernels seen to synchronize run every block on fibers straight away. */
std::map<const void *, bool> synchronizing_kernels;

const char *op_name(warp_op op) {
    switch (op) {
    case WARP_SHFL_IDX: return "__shfl_sync";
    case WARP_SHFL_UP: return "__shfl_up_sync";
    case WARP_SHFL_DOWN: return "__shfl_down_sync";
    case WARP_SHFL_XOR: return "__shfl_xor_sync";
    case WARP_BALLOT: return "__ballot_sync";
    default: return "__syncwarp";
    }
}

std::string describe_thread(const block &b, const emu_thread &t) {
    char buf[96];
    const uint3 &bi = b.coords.block_idx;
    snprintf(buf, sizeof buf, "thread (%u,%u,%u) of block (%u,%u,%u)", t.idx.x, t.idx.y, t.idx.z,
             bi.x, bi.y, bi.z);
    return buf;
}

/* The fiber's loop: run the thread the scheduler assigned, then hand the
 * fiber back. */
void thread_fiber_body(void *) {
    for (;;) {
        block *b = current_block;
        emu_thread *t = b->running;
        (*b->body)();
        t->state = DONE;
        b->done++;
        fiber_yield();
    }
}

/* Switches to thread t until it waits or finishes. */
void run_on_fiber(block *b, emu_thread *t, int fiber_index) {
    if (!t->runs_on) {
        while ((int)fiber_pool.size() <= fiber_index)
            fiber_pool.push_back(fiber_create(thread_fiber_body, NULL));
        t->runs_on = fiber_pool[fiber_index];
    }
    b->running = t;
    current_thread_idx = &t->idx;
    fiber_resume(t->runs_on);
    b->running = NULL;
}

/* Nothing can run, and not every thread has returned: say where each is. */
[[noreturn]] void report_hang(const block &b) {
    std::string msg;
    char line[256];
    snprintf(line, sizeof line,
             "kernel %s would hang: block (%u,%u,%u) has %d threads, %d returned, none can go on",
             b.kernel, b.coords.block_idx.x, b.coords.block_idx.y, b.coords.block_idx.z, b.n,
             b.done);
    msg += line;
    if (b.barrier.arrived > 0) {
        snprintf(line, sizeof line,
                 "\n  __syncthreads at %s:%d reached by %d of %d threads (a barrier every "
                 "thread of the block must reach)",
                 b.barrier.where.file, b.barrier.where.line, b.barrier.arrived, b.n);
        msg += line;
    }
    for (size_t w = 0; w < b.warps.size(); w++) {
        const exchange_point &p = b.warps[w].point;
        if (p.arrived == 0) continue;
        snprintf(line, sizeof line, "\n  warp %zu: %s at %s:%d reached by %d of 32 lanes", w,
                 op_name(p.op), p.where.file, p.where.line, p.arrived);
        msg += line;
    }
    for (const emu_thread &t : b.threads)
        if (t.state == DONE) {
            msg += "\n  first returned: " + describe_thread(b, t);
            break;
        }
    fatal("%s", msg.c_str());
}

/* Resumes the waiting threads of a released barrier or exchange. */
void release(block *b, thread_state waiting, int first, int count) {
    for (int i = first; i < first + count; i++)
        if (b->threads[i].state == waiting) b->threads[i].state = READY;
}

/* The running thread of the current block, which must be on a fiber. */
emu_thread *waiting_thread(const char *what, site where) {
    block *b = current_block;
    if (!b || !b->running) fatal("%s at %s:%d outside a kernel", what, where.file, where.line);
    emu_thread *t = b->running;
    if (!t->runs_on) /* a plain call: thread 0 returned without waiting */
        fatal("kernel %s: %s reached %s at %s:%d, but thread (0,0,0) of its block had returned "
              "without reaching any barrier or warp exchange: not every thread reaches it (on "
              "a GPU a hang or undefined behaviour)",
              b->kernel, describe_thread(*b, *t).c_str(), what, where.file, where.line);
    return t;
}

void order_ready(std::vector<emu_thread *> &ready) {
    const settings &s = config();
    if (s.schedule == 2) {
        std::reverse(ready.begin(), ready.end());
    } else if (s.schedule == 0) {
        if (!schedule_seeded) {
            schedule_state = s.seed;
            schedule_seeded = true;
        }
        for (size_t i = ready.size(); i > 1; i--) /* Fisher-Yates */
            std::swap(ready[i - 1], ready[schedule_next() % i]);
    }
}

void run_block(block *b) {
    if (!b->as_fibers) {
        /* probe: thread 0 alone, on a fiber */
        emu_thread *t0 = &b->threads[0];
        run_on_fiber(b, t0, 0);
        if (t0->state == DONE) {
            for (int i = 1; i < b->n; i++) { /* plain calls */
                emu_thread *t = &b->threads[i];
                b->running = t;
                current_thread_idx = &t->idx;
                (*b->body)();
                t->state = DONE;
                b->done++;
            }
            b->running = NULL;
            return;
        }
        b->as_fibers = true; /* thread 0 waits: every thread needs a fiber */
    }
    std::vector<emu_thread *> ready;
    while (b->done < b->n) {
        ready.clear();
        for (emu_thread &t : b->threads)
            if (t.state == READY) ready.push_back(&t);
        if (ready.empty()) report_hang(*b);
        order_ready(ready);
        for (emu_thread *t : ready)
            if (t->state == READY) run_on_fiber(b, t, t->linear);
    }
}

} // namespace

void run_grid(const char *name, const void *kernel, dim3 grid, dim3 block_dim,
              const std::function<void()> &body) {
#if defined(__x86_64__)
    /* CUDA keeps subnormal floats (no --use_fast_math); the host may not */
    unsigned saved_csr = _mm_getcsr();
    _mm_setcsr(0x1F80);
#endif
    block b;
    b.kernel = name;
    b.body = &body;
    b.n = (int)(block_dim.x * block_dim.y * block_dim.z);
    b.threads.resize((size_t)b.n);
    b.warps.resize((size_t)(b.n + 31) / 32);
    bool &synchronizes = synchronizing_kernels[kernel];
    int i = 0;
    for (unsigned z = 0; z < block_dim.z; z++)
        for (unsigned y = 0; y < block_dim.y; y++)
            for (unsigned x = 0; x < block_dim.x; x++, i++) {
                b.threads[(size_t)i].idx = uint3{x, y, z};
                b.threads[(size_t)i].linear = i;
            }
    b.coords.block_dim = block_dim;
    b.coords.grid_dim = grid;
    block *outer = current_block;
    const block_coords *outer_coords = current_block_coords;
    current_block = &b;
    current_block_coords = &b.coords;
    for (unsigned bz = 0; bz < grid.z; bz++)
        for (unsigned by = 0; by < grid.y; by++)
            for (unsigned bx = 0; bx < grid.x; bx++) {
                b.coords.block_idx = uint3{bx, by, bz};
                for (emu_thread &t : b.threads) {
                    t.state = READY;
                    t.runs_on = NULL;
                }
                b.done = 0;
                b.barrier = exchange_point();
                for (warp &w : b.warps) w.point = exchange_point();
                b.as_fibers = synchronizes;
                run_block(&b);
                if (b.as_fibers) synchronizes = true;
            }
    current_block = outer;
    current_block_coords = outer_coords;
    current_thread_idx = NULL;
#if defined(__x86_64__)
    _mm_setcsr(saved_csr);
#endif
}

void syncthreads(site where) {
    emu_thread *t = waiting_thread("__syncthreads", where);
    block *b = current_block;
    exchange_point &p = b->barrier;
    if (p.arrived > 0 && !same_site(p.where, where))
        fatal("kernel %s: threads wait at two different __syncthreads, %s:%d (%d threads) and "
              "%s:%d (%s): barriers in divergent code (undefined on a GPU)",
              b->kernel, p.where.file, p.where.line, p.arrived, where.file, where.line,
              describe_thread(*b, *t).c_str());
    p.where = where;
    t->state = AT_BARRIER;
    if (++p.arrived == b->n) {
        p.arrived = 0;
        p.generation++;
        release(b, AT_BARRIER, 0, b->n);
    }
    fiber_yield();
}

unsigned lane_id() {
    block *b = current_block;
    return (unsigned)(b->running->linear & 31);
}

const uint64_t *warp_exchange(warp_op op, unsigned mask, uint64_t value, int width, site where) {
    emu_thread *t = waiting_thread(op_name(op), where);
    block *b = current_block;
    if (mask != 0xffffffffu)
        fatal("kernel %s: %s at %s:%d with mask 0x%08x: the emulation supports full-warp masks "
              "only (every lane named must reach the same call)",
              b->kernel, op_name(op), where.file, where.line, mask);
    if (b->n % 32 != 0)
        fatal("kernel %s: %s at %s:%d in a block of %d threads, which is not whole warps: lanes "
              "%d-31 of the last warp do not exist, so a full-mask exchange cannot complete",
              b->kernel, op_name(op), where.file, where.line, b->n, b->n % 32);
    if (width < 1 || width > 32 || (width & (width - 1)) != 0)
        fatal("kernel %s: %s at %s:%d with width %d (must be a power of two up to 32)", b->kernel,
              op_name(op), where.file, where.line, width);
    warp &w = b->warps[(size_t)(t->linear / 32)];
    exchange_point &p = w.point;
    if (p.arrived > 0 && (p.op != op || !same_site(p.where, where)))
        fatal("kernel %s: lanes of warp %d wait at two different exchanges, %s at %s:%d and %s "
              "at %s:%d (%s): divergent warp code (undefined on a GPU)",
              b->kernel, t->linear / 32, op_name(p.op), p.where.file, p.where.line, op_name(op),
              where.file, where.line, describe_thread(*b, *t).c_str());
    p.op = op;
    p.where = where;
    uint64_t generation = p.generation;
    w.slots[generation & 1][t->linear & 31] = value;
    t->state = AT_WARP;
    if (++p.arrived == 32) {
        p.arrived = 0;
        p.generation++;
        release(b, AT_WARP, t->linear & ~31, 32);
    }
    fiber_yield();
    /* Generation g+1 writes the other half, and cannot complete before
     * every lane (this one included) has read generation g. */
    return w.slots[generation & 1];
}

unsigned ballot(site where, unsigned mask, int predicate) {
    const uint64_t *lanes = warp_exchange(WARP_BALLOT, mask, predicate != 0, 32, where);
    unsigned bits = 0;
    for (int i = 0; i < 32; i++)
        if (lanes[i]) bits |= 1u << i;
    return bits;
}

} // namespace soma_emu
