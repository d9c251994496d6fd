/* runtime.cpp: a stand-in for the CUDA runtime, for the emulation build.
 *
 * It implements the functions of <cuda_runtime_api.h> that soma calls, with
 * the real header's signatures (it includes that header), so the host code
 * of src/cuda compiles and links against it unchanged. What it models:
 *
 * - Device memory is host memory from the allocator, 256-byte aligned as
 *   cudaMalloc's, filled with 0xff bytes (NaN as floats) so reading memory
 *   nobody wrote shows up, between 256-byte guard zones. Without ASan the
 *   guards hold a pattern checked after every piece of device work; under
 *   ASan the guards are poisoned, and so is the whole allocation whenever
 *   the device is not running work, so a kernel overrun or host code that
 *   dereferences a device pointer is reported where it happens.
 * - Copies check their direction: a host pointer passed as device memory
 *   (or the reverse) is cudaErrorInvalidValue with a note saying which.
 *   Kernel pointer arguments must be device memory of the stream's device.
 * - Streams are queues: work runs when the host waits for it (or a stream
 *   that waits on an event needs it), never earlier, so results read before
 *   a synchronization, or a host buffer reused before its asynchronous copy
 *   ran, come out wrong here as they may on a GPU. Copies from pageable
 *   host memory take the data at the call (as the real staging does);
 *   copies to pageable memory wait for the stream (as they do for real).
 *   Events order streams; the legacy stream waits for blocking streams.
 * - Graphs: a capturing stream records its work, and a graph launch replays
 *   it with the arguments captured then, as the hardware does.
 * - Errors: launch configurations the hardware refuses, bad handles and
 *   bad copies return the real error codes through cudaGetLastError; an
 *   out-of-memory can be injected at the Nth allocation (emu.h).
 * - Counters of everything asked (emu.h). */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "emu_device.h"
#include "emu_internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define SOMA_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SOMA_EMU_ASAN 1
#endif
#endif
#ifdef SOMA_EMU_ASAN
#include <sanitizer/asan_interface.h>
#endif

/* The opaque handle types of the real headers, defined here. */
struct CUstream_st;
struct CUevent_st;
struct CUgraph_st;
struct CUgraphExec_st;

namespace soma_emu {

std::recursive_mutex api_lock;
soma_emu_counters counters;

#define MAX_DEVICES 8
#define GUARD_BYTES 256
#define GUARD_FILL 0xa5
#define SHARED_DEFAULT_BYTES (48 << 10)  /* per block without opting in */
#define SHARED_OPTIN_BYTES (227 << 10)   /* with cudaFuncAttributeMaxDynamicSharedMemorySize (sm_90) */

/* ---- messages and settings ----------------------------------------------- */

void fatal(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("soma-emu: FATAL: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    abort();
}

void note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("soma-emu: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void report_at_exit();

const settings &config() {
    static settings s;
    static std::once_flag once;
    std::call_once(once, [] {
        s.devices = 1;
        s.memory_bytes = (uint64_t)16 << 30;
        s.schedule = 0;
        s.seed = 20261202;
        const char *v;
        if ((v = getenv("SOMA_EMU_DEVICES")) && atoi(v) > 0)
            s.devices = atoi(v) < MAX_DEVICES ? atoi(v) : MAX_DEVICES;
        if ((v = getenv("SOMA_EMU_MEMORY")) && strtoull(v, NULL, 10) > 0)
            s.memory_bytes = strtoull(v, NULL, 10);
        if ((v = getenv("SOMA_EMU_SCHEDULE"))) {
            if (strcmp(v, "forward") == 0) s.schedule = 1;
            else if (strcmp(v, "reverse") == 0) s.schedule = 2;
            else if (strncmp(v, "random:", 7) == 0) s.seed = strtoull(v + 7, NULL, 10);
            else if (strcmp(v, "random") != 0)
                fatal("SOMA_EMU_SCHEDULE=%s: expected random, random:SEED, forward or reverse", v);
        }
        if ((v = getenv("SOMA_EMU_FAIL_ALLOC"))) s.fail_alloc_at = atol(v);
        if ((v = getenv("SOMA_EMU_REPORT")) && *v && strcmp(v, "0") != 0) {
            s.report = 1;
            atexit(report_at_exit);
        }
    });
    return s;
}

/* ---- errors -------------------------------------------------------------- */

static thread_local cudaError_t last_error = cudaSuccess;
static cudaError_t sticky = cudaSuccess;

cudaError_t set_error(cudaError_t err) {
    if (err != cudaSuccess) last_error = err;
    return err;
}

cudaError_t sticky_error() { return sticky; }

static thread_local int current = 0;
int current_device() { return current; }

/* ---- device memory ------------------------------------------------------- */

struct live_allocation {
    allocation info;
    char *raw;        /* what the host allocator returned */
    size_t raw_bytes; /* guard + rounded size + guard */
};

static std::map<uintptr_t, live_allocation> device_memory; /* by base address */
static std::map<uintptr_t, size_t> pinned_memory;
static uint64_t device_used[MAX_DEVICES];
static uint64_t allocation_serial;
static uint64_t fail_from; /* soma_emu_fail_allocation_after: this serial on fails; 0 = off */
static int device_work_depth;

const allocation *find_allocation(const void *p, size_t bytes) {
    uintptr_t a = (uintptr_t)p;
    auto it = device_memory.upper_bound(a);
    if (it == device_memory.begin()) return NULL;
    --it;
    const allocation &al = it->second.info;
    uintptr_t base = (uintptr_t)al.base;
    /* a pointer may point one past the end when it covers no bytes */
    if (a >= base && a - base <= al.bytes && bytes <= al.bytes - (a - base)) return &al;
    return NULL;
}

static bool is_pinned(const void *p, size_t bytes) {
    uintptr_t a = (uintptr_t)p;
    auto it = pinned_memory.upper_bound(a);
    if (it == pinned_memory.begin()) return false;
    --it;
    return a >= it->first && a - it->first <= it->second && bytes <= it->second - (a - it->first);
}

static size_t rounded(size_t bytes) { return (bytes + GUARD_BYTES - 1) / GUARD_BYTES * GUARD_BYTES; }

/* Device memory is only touched while the device runs work (kernels,
 * library calls, copies); under ASan it is poisoned the rest of the time. */
static void device_memory_poison(bool poison) {
#ifdef SOMA_EMU_ASAN
    for (auto &kv : device_memory) {
        const allocation &al = kv.second.info;
        if (poison) ASAN_POISON_MEMORY_REGION(al.base, rounded(al.bytes));
        else ASAN_UNPOISON_MEMORY_REGION(al.base, al.bytes);
    }
#else
    (void)poison;
#endif
}

bool device_running() { return device_work_depth > 0; }

static void begin_device_work() {
    if (device_work_depth++ == 0) device_memory_poison(false);
}

/* Without ASan, the guards are compared with their pattern after each
 * piece of device work, which names the work that overran. */
static void check_guards(const char *after) {
#ifndef SOMA_EMU_ASAN
    for (auto &kv : device_memory) {
        const live_allocation &la = kv.second;
        const unsigned char *front = (const unsigned char *)la.raw;
        const unsigned char *back = (const unsigned char *)la.info.base + la.info.bytes;
        size_t back_bytes = la.raw + la.raw_bytes - (const char *)back;
        for (size_t i = 0; i < GUARD_BYTES; i++)
            if (front[i] != GUARD_FILL)
                fatal("after %s: the %zu bytes before device allocation #%llu (%zu bytes at %p) "
                      "were overwritten, %zu bytes before its start: an out-of-bounds write",
                      after, (size_t)GUARD_BYTES, (unsigned long long)la.info.serial,
                      la.info.bytes, (void *)la.info.base, GUARD_BYTES - i);
        for (size_t i = 0; i < back_bytes; i++)
            if (back[i] != GUARD_FILL)
                fatal("after %s: device allocation #%llu (%zu bytes at %p) was written %zu bytes "
                      "past its end: an out-of-bounds write",
                      after, (unsigned long long)la.info.serial, la.info.bytes,
                      (void *)la.info.base, i + 1);
    }
#else
    (void)after;
#endif
}

static void end_device_work(const char *what) {
    if (--device_work_depth == 0) {
        check_guards(what);
        device_memory_poison(true);
    }
}

/* ---- streams, events, graphs ---------------------------------------------- */

struct pending {
    std::function<void()> work;
    const char *what;
    uint64_t seq;
};

struct graph_node {
    std::function<void()> work;
    const char *what;
};

} // namespace soma_emu

struct CUstream_st {
    int device = 0;
    unsigned flags = 0;
    bool legacy = false;
    std::deque<soma_emu::pending> queue;
    uint64_t enqueued = 0, executed = 0;
    bool flushing = false;
    /* stream capture */
    bool capturing = false;
    bool capture_invalidated = false;
    cudaStreamCaptureMode capture_mode = cudaStreamCaptureModeGlobal;
    CUgraph_st *graph = NULL;
};

struct CUevent_st {
    int device = 0;
    CUstream_st *stream = NULL; /* of the latest record */
    uint64_t seq = 0;           /* the latest record is the stream's op seq */
    bool recorded = false, captured = false;
    double time = 0.0;          /* host seconds when the record ran */
};

struct CUgraph_st {
    std::vector<soma_emu::graph_node> nodes;
};

struct CUgraphExec_st {
    std::vector<soma_emu::graph_node> nodes;
};

namespace soma_emu {

static CUstream_st legacy_streams[MAX_DEVICES];
static std::set<CUstream_st *> live_streams;
static std::set<CUevent_st *> live_events;
static std::set<CUgraph_st *> live_graphs;
static std::set<CUgraphExec_st *> live_execs;

static double now_seconds() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The stream a handle names, NULL when it names none. */
static CUstream_st *resolve(cudaStream_t s) {
    if (s == NULL || s == cudaStreamLegacy || s == cudaStreamPerThread) {
        CUstream_st *l = &legacy_streams[current];
        l->device = current;
        l->legacy = true;
        return l;
    }
    return live_streams.count(s) ? s : NULL;
}

int stream_device(cudaStream_t stream, const char *caller) {
    CUstream_st *s = resolve(stream);
    if (!s) {
        note("%s: stream %p is not a live stream (destroyed, or never created)", caller,
             (void *)stream);
        set_error(cudaErrorInvalidResourceHandle);
        return -1;
    }
    if (s->device != current) {
        note("%s: the stream belongs to device %d but device %d is current (cudaSetDevice)",
             caller, s->device, current);
        set_error(cudaErrorInvalidResourceHandle);
        return -1;
    }
    return s->device;
}

/* Runs s's queued work up to and including op `until`. */
static void flush(CUstream_st *s, uint64_t until = UINT64_MAX) {
    if (s->flushing) {
        if (!s->queue.empty() && s->queue.front().seq <= until)
            fatal("streams wait for each other's events in a cycle: the GPU would hang");
        return;
    }
    s->flushing = true;
    while (!s->queue.empty() && s->queue.front().seq <= until) {
        pending op = std::move(s->queue.front());
        s->queue.pop_front();
        begin_device_work();
        op.work();
        end_device_work(op.what);
        s->executed = op.seq;
    }
    s->flushing = false;
}

static void flush_device(int device) {
    flush(&legacy_streams[device]);
    for (CUstream_st *s : live_streams)
        if (s->device == device) flush(s);
}

static bool device_busy(int device) {
    if (!legacy_streams[device].queue.empty()) return true;
    for (CUstream_st *s : live_streams)
        if (s->device == device && !s->queue.empty()) return true;
    return false;
}

/* The host blocks until queued work is done. Counted as a host wait only
 * when work is queued: a synchronization with nothing queued returns at
 * once on a GPU too (so a download followed by cudaStreamSynchronize is one
 * wait, not two). */
static void wait_stream(CUstream_st *s) {
    if (!s->queue.empty()) counters.host_waits++;
    flush(s);
}

static void wait_device(int device) {
    if (device_busy(device)) counters.host_waits++;
    flush_device(device);
}

static void wait_all() {
    bool busy = false;
    for (int d = 0; d < config().devices; d++) busy |= device_busy(d);
    if (busy) counters.host_waits++;
    for (int d = 0; d < config().devices; d++) flush_device(d);
}

/* A call that would make the host wait while a capture is under way: the
 * capture is invalidated, as the real runtime does. */
static bool refused_during_capture(const char *caller, CUstream_st *only) {
    bool refused = false;
    for (CUstream_st *s : live_streams)
        if (s->capturing && (s == only || (!only && s->capture_mode == cudaStreamCaptureModeGlobal))) {
            s->capture_invalidated = true;
            refused = true;
        }
    if (refused) {
        note("%s while a stream is being captured into a graph: not permitted (the capture is "
             "invalidated)",
             caller);
        set_error(cudaErrorStreamCaptureUnsupported);
    }
    return refused;
}

void enqueue(cudaStream_t stream, const char *what, std::function<void()> work, bool library_call) {
    CUstream_st *s = resolve(stream);
    if (s->capturing) {
        s->graph->nodes.push_back(graph_node{std::move(work), what});
        return;
    }
    if (library_call) counters.library_calls++;
    /* the legacy stream and blocking streams wait for each other */
    if (s->legacy) {
        for (CUstream_st *o : live_streams)
            if (o->device == s->device && !(o->flags & cudaStreamNonBlocking)) flush(o);
    } else if (!(s->flags & cudaStreamNonBlocking)) {
        flush(&legacy_streams[s->device]);
    }
    s->queue.push_back(pending{std::move(work), what, ++s->enqueued});
}

bool device_span_ok(const void *p, size_t extent, const char *caller, const char *operand) {
    if (find_allocation(p, extent)) return true;
    const allocation *start = find_allocation(p, 0);
    if (!start)
        note("%s: %s (%p) is not device memory", caller, operand, p);
    else
        note("%s: %s spans %zu bytes from %p, past the end of its %zu-byte device allocation "
             "(a wrong leading dimension or shape?)",
             caller, operand, extent, p, start->bytes);
    return false;
}

/* Runs f with the API lock held and the settings read; returns its error
 * through cudaGetLastError's state too, as the runtime does. */
#define API_ENTRY()                                                                        \
    std::lock_guard<std::recursive_mutex> api_guard_(api_lock);                            \
    (void)config();                                                                        \
    if (sticky != cudaSuccess) return set_error(sticky)

} // namespace soma_emu

using namespace soma_emu;

/* ---- kernel launches (emu_device.h) ---------------------------------------- */

void soma_emu::launch_grid(const char *name, const void *kernel, dim3 grid, dim3 block,
                           size_t shared_bytes, cudaStream_t stream, std::function<void()> body,
                           const void *const *pointers, const int *positions, int n_pointers);

static std::map<const void *, int> dynamic_shared_limit; /* cudaFuncSetAttribute */

void soma_emu::launch_grid(const char *name, const void *kernel, dim3 grid, dim3 block,
                           size_t shared_bytes, cudaStream_t stream, std::function<void()> body,
                           const void *const *pointers, const int *positions, int n_pointers) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    (void)config();
    if (sticky != cudaSuccess) {
        set_error(sticky);
        return;
    }
    const char *problem = NULL;
    char detail[160];
    unsigned long long threads = (unsigned long long)block.x * block.y * block.z;
    size_t shared_limit = SHARED_DEFAULT_BYTES;
    if (dynamic_shared_limit.count(kernel)) shared_limit = (size_t)dynamic_shared_limit[kernel];
    if (grid.x == 0 || grid.y == 0 || grid.z == 0 || block.x == 0 || block.y == 0 ||
        block.z == 0) {
        problem = "a zero grid or block dimension";
    } else if (grid.x > (unsigned)INT_MAX || grid.y > 65535 || grid.z > 65535) {
        snprintf(detail, sizeof detail, "grid (%u,%u,%u): x is at most 2^31-1, y and z at most 65535",
                 grid.x, grid.y, grid.z);
        problem = detail;
    } else if (block.x > 1024 || block.y > 1024 || block.z > 64 || threads > 1024) {
        snprintf(detail, sizeof detail,
                 "block (%u,%u,%u) of %llu threads: at most 1024 threads, x and y at most 1024, z "
                 "at most 64",
                 block.x, block.y, block.z, threads);
        problem = detail;
    } else if (shared_bytes > shared_limit) {
        snprintf(detail, sizeof detail,
                 "%zu bytes of dynamic shared memory, above the %zu allowed (cudaFuncSetAttribute "
                 "raises it up to %d)",
                 shared_bytes, shared_limit, SHARED_OPTIN_BYTES);
        problem = detail;
    }
    if (problem) {
        note("launch of %s refused: %s (cudaErrorInvalidConfiguration)", name, problem);
        set_error(cudaErrorInvalidConfiguration);
        return;
    }
    if (shared_bytes > 0)
        fatal("launch of %s: dynamic shared memory is not supported by the emulation yet", name);
    int device = stream_device(stream, name);
    if (device < 0) return;
    for (int i = 0; i < n_pointers; i++) {
        if (!pointers[i]) continue;
        const allocation *a = find_allocation(pointers[i], 0);
        if (!a)
            fatal("launch of %s: argument %d (%p) is not device memory (host memory, freed, or "
                  "never allocated): the kernel would fault",
                  name, positions[i], pointers[i]);
        if (a->device != device)
            fatal("launch of %s on device %d: argument %d (%p) is memory of device %d", name,
                  device, positions[i], pointers[i], a->device);
    }
    CUstream_st *s = resolve(stream);
    if (!s->capturing) counters.kernel_launches++;
    enqueue(stream, name,
            [name, kernel, grid, block, body = std::move(body)] {
                run_grid(name, kernel, grid, block, body);
            },
            false);
}

/* ---- devices --------------------------------------------------------------- */

extern "C" {

cudaError_t cudaGetDeviceCount(int *count) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    if (!count) return set_error(cudaErrorInvalidValue);
    *count = config().devices;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
    API_ENTRY();
    if (device < 0 || device >= config().devices) return set_error(cudaErrorInvalidDevice);
    current = device;
    return cudaSuccess;
}

cudaError_t cudaGetDevice(int *device) {
    API_ENTRY();
    if (!device) return set_error(cudaErrorInvalidValue);
    *device = current;
    return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int *version) {
    if (!version) return set_error(cudaErrorInvalidValue);
    *version = 13000;
    return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int *version) {
    if (!version) return set_error(cudaErrorInvalidValue);
    *version = 13000;
    return cudaSuccess;
}

/* The properties of an H100-class (sm_90) device, with the emulation's
 * memory size and a name that says what it is. */
cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *prop, int device) {
    API_ENTRY();
    if (!prop) return set_error(cudaErrorInvalidValue);
    if (device < 0 || device >= config().devices) return set_error(cudaErrorInvalidDevice);
    memset(prop, 0, sizeof *prop);
    snprintf(prop->name, sizeof prop->name, "soma-emu, CUDA emulated on the CPU");
    prop->totalGlobalMem = (size_t)config().memory_bytes;
    prop->sharedMemPerBlock = SHARED_DEFAULT_BYTES;
    prop->sharedMemPerBlockOptin = SHARED_OPTIN_BYTES;
    prop->regsPerBlock = 65536;
    prop->warpSize = 32;
    prop->maxThreadsPerBlock = 1024;
    prop->maxThreadsDim[0] = 1024, prop->maxThreadsDim[1] = 1024, prop->maxThreadsDim[2] = 64;
    prop->maxGridSize[0] = INT_MAX, prop->maxGridSize[1] = 65535, prop->maxGridSize[2] = 65535;
    prop->major = 9;
    prop->minor = 0;
    prop->multiProcessorCount = 132;
    prop->maxThreadsPerMultiProcessor = 2048;
    prop->unifiedAddressing = 1;
    prop->pciDeviceID = device;
    return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int *value, enum cudaDeviceAttr attr, int device) {
    API_ENTRY();
    if (!value) return set_error(cudaErrorInvalidValue);
    if (device < 0 || device >= config().devices) return set_error(cudaErrorInvalidDevice);
    switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = 1024; break;
    case cudaDevAttrWarpSize: *value = 32; break;
    case cudaDevAttrMultiProcessorCount: *value = 132; break;
    case cudaDevAttrComputeCapabilityMajor: *value = 9; break;
    case cudaDevAttrComputeCapabilityMinor: *value = 0; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = SHARED_DEFAULT_BYTES; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = SHARED_OPTIN_BYTES; break;
    case cudaDevAttrMaxGridDimX: *value = INT_MAX; break;
    case cudaDevAttrMaxGridDimY: case cudaDevAttrMaxGridDimZ: *value = 65535; break;
    default:
        note("cudaDeviceGetAttribute: attribute %d is not emulated", (int)attr);
        return set_error(cudaErrorInvalidValue);
    }
    return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void *func, enum cudaFuncAttribute attr, int value) {
    API_ENTRY();
    if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
        if (value < 0 || value > SHARED_OPTIN_BYTES) return set_error(cudaErrorInvalidValue);
        dynamic_shared_limit[func] = value;
        return cudaSuccess;
    }
    return cudaSuccess; /* carveout preferences and the like change no result */
}

cudaError_t cudaDeviceSynchronize(void) {
    API_ENTRY();
    if (refused_during_capture("cudaDeviceSynchronize", NULL)) return cudaErrorStreamCaptureUnsupported;
    wait_device(current);
    return cudaSuccess;
}

cudaError_t cudaGetLastError(void) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    cudaError_t e = last_error;
    last_error = sticky;
    return e;
}

cudaError_t cudaPeekAtLastError(void) { return last_error; }

/* ---- memory ----------------------------------------------------------------- */

cudaError_t cudaMalloc(void **ptr, size_t bytes) {
    API_ENTRY();
    if (!ptr) return set_error(cudaErrorInvalidValue);
    *ptr = NULL;
    if (bytes == 0) return cudaSuccess;
    if (refused_during_capture("cudaMalloc", NULL)) return cudaErrorStreamCaptureUnsupported;
    uint64_t serial = ++allocation_serial;
    /* Out of memory persists: from the chosen allocation on, every one fails. */
    if ((fail_from > 0 && serial >= fail_from) ||
        (config().fail_alloc_at > 0 && (long)serial >= config().fail_alloc_at)) {
        note("cudaMalloc #%llu of %zu bytes fails (injected out-of-memory)",
             (unsigned long long)serial, bytes);
        return set_error(cudaErrorMemoryAllocation);
    }
    if (bytes > config().memory_bytes - device_used[current] || bytes > ((size_t)1 << 46))
        return set_error(cudaErrorMemoryAllocation);
    size_t raw_bytes = GUARD_BYTES + rounded(bytes) + GUARD_BYTES;
    char *raw = (char *)aligned_alloc(GUARD_BYTES, raw_bytes);
    if (!raw) return set_error(cudaErrorMemoryAllocation);
    char *base = raw + GUARD_BYTES;
    memset(raw, GUARD_FILL, raw_bytes);
    memset(base, 0xff, bytes); /* as floats NaN: reading what nobody wrote shows */
    live_allocation la;
    la.info = allocation{base, bytes, current, serial};
    la.raw = raw;
    la.raw_bytes = raw_bytes;
    device_memory[(uintptr_t)base] = la;
    device_used[current] += bytes;
    counters.device_allocs++;
#ifdef SOMA_EMU_ASAN
    ASAN_POISON_MEMORY_REGION(raw, GUARD_BYTES);
    ASAN_POISON_MEMORY_REGION(base + bytes, raw_bytes - GUARD_BYTES - bytes);
    if (!device_running()) ASAN_POISON_MEMORY_REGION(base, bytes);
#endif
    *ptr = base;
    return cudaSuccess;
}

/* cudaFree waits for the device's queued work first (as the real one
 * synchronizes), then checks the guards and releases the memory. */
cudaError_t cudaFree(void *ptr) {
    API_ENTRY();
    if (!ptr) return cudaSuccess;
    auto it = device_memory.find((uintptr_t)ptr);
    if (it == device_memory.end()) {
        const allocation *inside = find_allocation(ptr, 0);
        if (inside)
            note("cudaFree(%p): a pointer into device allocation #%llu, not its start", ptr,
                 (unsigned long long)inside->serial);
        else
            note("cudaFree(%p): not memory that cudaMalloc returned (freed twice, or host memory)",
                 ptr);
        return set_error(cudaErrorInvalidValue);
    }
    if (refused_during_capture("cudaFree", NULL)) return cudaErrorStreamCaptureUnsupported;
    wait_all();
    check_guards("the work before cudaFree");
    live_allocation la = it->second;
#ifdef SOMA_EMU_ASAN
    ASAN_UNPOISON_MEMORY_REGION(la.raw, la.raw_bytes);
#endif
    device_memory.erase(it);
    device_used[la.info.device] -= la.info.bytes;
    counters.device_frees++;
    free(la.raw);
    return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total) {
    API_ENTRY();
    if (!free_bytes || !total) return set_error(cudaErrorInvalidValue);
    *total = (size_t)config().memory_bytes;
    *free_bytes = (size_t)(config().memory_bytes - device_used[current]);
    return cudaSuccess;
}

cudaError_t cudaHostAlloc(void **ptr, size_t bytes, unsigned int flags) {
    API_ENTRY();
    (void)flags;
    if (!ptr) return set_error(cudaErrorInvalidValue);
    *ptr = NULL;
    if (bytes == 0) return cudaSuccess;
    void *p = aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
    if (!p) return set_error(cudaErrorMemoryAllocation);
    pinned_memory[(uintptr_t)p] = bytes;
    counters.pinned_allocs++;
    *ptr = p;
    return cudaSuccess;
}

cudaError_t cudaMallocHost(void **ptr, size_t bytes) { return cudaHostAlloc(ptr, bytes, 0); }

cudaError_t cudaFreeHost(void *ptr) {
    API_ENTRY();
    if (!ptr) return cudaSuccess;
    auto it = pinned_memory.find((uintptr_t)ptr);
    if (it == pinned_memory.end()) {
        note("cudaFreeHost(%p): not memory that cudaMallocHost/cudaHostAlloc returned", ptr);
        return set_error(cudaErrorInvalidValue);
    }
    wait_all(); /* pending copies may read it */
    pinned_memory.erase(it);
    counters.pinned_frees++;
    free(ptr);
    return cudaSuccess;
}

/* ---- copies -------------------------------------------------------------- */

static const char *kind_name(cudaMemcpyKind kind) {
    switch (kind) {
    case cudaMemcpyHostToHost: return "cudaMemcpyHostToHost";
    case cudaMemcpyHostToDevice: return "cudaMemcpyHostToDevice";
    case cudaMemcpyDeviceToHost: return "cudaMemcpyDeviceToHost";
    case cudaMemcpyDeviceToDevice: return "cudaMemcpyDeviceToDevice";
    default: return "cudaMemcpyDefault";
    }
}

/* Checks a copy and queues it; `synchronous` for cudaMemcpy. */
static cudaError_t queue_copy(const char *caller, void *dst, const void *src, size_t bytes,
                              cudaMemcpyKind kind, cudaStream_t stream, bool synchronous) {
    if (stream_device(stream, caller) < 0) return cudaErrorInvalidResourceHandle;
    if (bytes == 0) return cudaSuccess;
    if (!dst || !src) {
        note("%s: a NULL %s", caller, dst ? "source" : "destination");
        return set_error(cudaErrorInvalidValue);
    }
    bool dst_dev = find_allocation(dst, 0) != NULL, src_dev = find_allocation(src, 0) != NULL;
    if (kind == cudaMemcpyDefault)
        kind = src_dev ? (dst_dev ? cudaMemcpyDeviceToDevice : cudaMemcpyDeviceToHost)
                       : (dst_dev ? cudaMemcpyHostToDevice : cudaMemcpyHostToHost);
    bool want_dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    bool want_src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    if (kind < cudaMemcpyHostToHost || kind > cudaMemcpyDefault) {
        note("%s: kind %d is not a cudaMemcpyKind", caller, (int)kind);
        return set_error(cudaErrorInvalidMemcpyDirection);
    }
    if (want_dst_dev != dst_dev || want_src_dev != src_dev) {
        note("%s(%s): the %s %p is %s memory", caller, kind_name(kind),
             want_dst_dev != dst_dev ? "destination" : "source",
             want_dst_dev != dst_dev ? dst : src,
             (want_dst_dev != dst_dev ? dst_dev : src_dev) ? "device" : "host");
        return set_error(cudaErrorInvalidValue);
    }
    if ((dst_dev && !device_span_ok(dst, bytes, caller, "the destination")) ||
        (src_dev && !device_span_ok(src, bytes, caller, "the source")))
        return set_error(cudaErrorInvalidValue);
    CUstream_st *s = resolve(stream);
    bool host_src = !src_dev, host_dst = !dst_dev;
    bool pageable_src = host_src && !is_pinned(src, bytes);
    bool pageable_dst = host_dst && !is_pinned(dst, bytes);
    if (s->capturing && (pageable_src || pageable_dst || synchronous)) {
        s->capture_invalidated = true;
        note("%s from or to pageable host memory while capturing a graph: not permitted", caller);
        return set_error(cudaErrorStreamCaptureUnsupported);
    }
    if (!s->capturing) {
        if (kind == cudaMemcpyHostToDevice) counters.h2d_copies++, counters.h2d_bytes += bytes;
        if (kind == cudaMemcpyDeviceToHost) counters.d2h_copies++, counters.d2h_bytes += bytes;
        if (kind == cudaMemcpyDeviceToDevice) counters.d2d_copies++, counters.d2d_bytes += bytes;
    }
    if (pageable_src) {
        /* staged at the call: the caller may reuse its buffer at once */
        auto staged = std::make_shared<std::vector<char>>((const char *)src, (const char *)src + bytes);
        enqueue(stream, caller, [dst, staged] { memcpy(dst, staged->data(), staged->size()); }, false);
    } else {
        enqueue(stream, caller, [dst, src, bytes] { memmove(dst, src, bytes); }, false);
    }
    if (pageable_dst || synchronous) wait_stream(s); /* returns when the copy is done */
    return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind,
                            cudaStream_t stream) {
    API_ENTRY();
    return set_error(queue_copy("cudaMemcpyAsync", dst, src, bytes, kind, stream, false));
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind) {
    API_ENTRY();
    if (refused_during_capture("cudaMemcpy", NULL)) return cudaErrorStreamCaptureUnsupported;
    return set_error(queue_copy("cudaMemcpy", dst, src, bytes, kind, NULL, true));
}

cudaError_t cudaMemsetAsync(void *ptr, int value, size_t bytes, cudaStream_t stream) {
    API_ENTRY();
    if (stream_device(stream, "cudaMemsetAsync") < 0) return cudaErrorInvalidResourceHandle;
    if (bytes == 0) return cudaSuccess;
    if (!device_span_ok(ptr, bytes, "cudaMemsetAsync", "the destination"))
        return set_error(cudaErrorInvalidValue);
    if (!resolve(stream)->capturing) counters.memsets++;
    enqueue(stream, "cudaMemsetAsync", [ptr, value, bytes] { memset(ptr, value, bytes); }, false);
    return cudaSuccess;
}

cudaError_t cudaMemset(void *ptr, int value, size_t bytes) {
    API_ENTRY();
    cudaError_t e = cudaMemsetAsync(ptr, value, bytes, NULL);
    if (e != cudaSuccess) return e;
    wait_stream(resolve(NULL));
    return cudaSuccess;
}

/* ---- streams ------------------------------------------------------------- */

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned int flags) {
    API_ENTRY();
    if (!stream) return set_error(cudaErrorInvalidValue);
    CUstream_st *s = new CUstream_st();
    s->device = current;
    s->flags = flags;
    live_streams.insert(s);
    *stream = s;
    return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t *stream) { return cudaStreamCreateWithFlags(stream, 0); }

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
    API_ENTRY();
    if (!live_streams.count(stream)) {
        note("cudaStreamDestroy(%p): not a live stream", (void *)stream);
        return set_error(cudaErrorInvalidResourceHandle);
    }
    if (stream->capturing) {
        note("cudaStreamDestroy of a stream that is capturing a graph");
        return set_error(cudaErrorStreamCaptureUnsupported);
    }
    flush(stream); /* queued work still completes */
    for (CUevent_st *e : live_events)
        if (e->stream == stream) e->stream = NULL;
    live_streams.erase(stream);
    delete stream;
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
    API_ENTRY();
    if (stream_device(stream, "cudaStreamSynchronize") < 0) return cudaErrorInvalidResourceHandle;
    CUstream_st *s = resolve(stream);
    if (refused_during_capture("cudaStreamSynchronize", s)) return cudaErrorStreamCaptureUnsupported;
    wait_stream(s);
    return cudaSuccess;
}

/* Nothing has run until someone waits; a query lets the work run (time
 * passing) and then says it is done, so polling loops end. */
cudaError_t cudaStreamQuery(cudaStream_t stream) {
    API_ENTRY();
    if (stream_device(stream, "cudaStreamQuery") < 0) return cudaErrorInvalidResourceHandle;
    CUstream_st *s = resolve(stream);
    if (refused_during_capture("cudaStreamQuery", s)) return cudaErrorStreamCaptureUnsupported;
    flush(s);
    return cudaSuccess;
}

/* ---- events -------------------------------------------------------------- */

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned int flags) {
    API_ENTRY();
    (void)flags;
    if (!event) return set_error(cudaErrorInvalidValue);
    CUevent_st *e = new CUevent_st();
    e->device = current;
    live_events.insert(e);
    *event = e;
    return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t *event) { return cudaEventCreateWithFlags(event, 0); }

cudaError_t cudaEventDestroy(cudaEvent_t event) {
    API_ENTRY();
    if (!live_events.count(event)) return set_error(cudaErrorInvalidResourceHandle);
    live_events.erase(event);
    delete event;
    return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
    API_ENTRY();
    if (!live_events.count(event)) return set_error(cudaErrorInvalidResourceHandle);
    if (stream_device(stream, "cudaEventRecord") < 0) return cudaErrorInvalidResourceHandle;
    CUstream_st *s = resolve(stream);
    if (s->capturing) { /* only meaningful to streams joining the capture */
        event->captured = true;
        event->stream = s;
        return cudaSuccess;
    }
    event->captured = false;
    event->recorded = true;
    event->stream = s;
    event->seq = s->enqueued + 1;
    CUevent_st *e = event;
    enqueue(stream, "cudaEventRecord", [e] { e->time = now_seconds(); }, false);
    return cudaSuccess;
}

/* Runs the event's stream until the event's record has run. */
static void complete_event(CUevent_st *e) {
    if (e->recorded && e->stream && e->stream->executed < e->seq) flush(e->stream, e->seq);
}

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int flags) {
    API_ENTRY();
    (void)flags;
    if (!live_events.count(event)) return set_error(cudaErrorInvalidResourceHandle);
    if (stream_device(stream, "cudaStreamWaitEvent") < 0) return cudaErrorInvalidResourceHandle;
    CUstream_st *s = resolve(stream);
    if (event->captured && event->stream != s)
        fatal("cudaStreamWaitEvent on an event recorded while capturing a graph: streams joining "
              "a capture (fork/join) are not emulated");
    if (!event->recorded || event->captured) return cudaSuccess; /* nothing to wait for */
    CUstream_st *on = event->stream;
    uint64_t seq = event->seq;
    CUevent_st *e = event;
    enqueue(stream, "cudaStreamWaitEvent",
            [e, on, seq] {
                if (live_events.count(e) && on && on->executed < seq) flush(on, seq);
            },
            false);
    return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
    API_ENTRY();
    if (!live_events.count(event)) return set_error(cudaErrorInvalidResourceHandle);
    if (event->recorded && event->stream && event->stream->executed < event->seq)
        counters.host_waits++;
    complete_event(event);
    return cudaSuccess;
}

cudaError_t cudaEventQuery(cudaEvent_t event) {
    API_ENTRY();
    if (!live_events.count(event)) return set_error(cudaErrorInvalidResourceHandle);
    complete_event(event);
    return cudaSuccess;
}

/* Host time between the two records' execution: what the emulation took,
 * not what a GPU would. */
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end) {
    API_ENTRY();
    if (!ms) return set_error(cudaErrorInvalidValue);
    if (!live_events.count(start) || !live_events.count(end))
        return set_error(cudaErrorInvalidResourceHandle);
    if (!start->recorded || !end->recorded) return set_error(cudaErrorInvalidResourceHandle);
    complete_event(start);
    complete_event(end);
    *ms = (float)((end->time - start->time) * 1e3);
    return cudaSuccess;
}

/* ---- graphs ----------------------------------------------------------------- */

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, enum cudaStreamCaptureMode mode) {
    API_ENTRY();
    CUstream_st *s = resolve(stream);
    if (!s || s->legacy) {
        note("cudaStreamBeginCapture: the legacy stream cannot be captured");
        return set_error(cudaErrorStreamCaptureUnsupported);
    }
    if (s->capturing) return set_error(cudaErrorIllegalState);
    s->capturing = true;
    s->capture_invalidated = false;
    s->capture_mode = mode;
    s->graph = new CUgraph_st();
    return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t *graph) {
    API_ENTRY();
    CUstream_st *s = resolve(stream);
    if (!graph) return set_error(cudaErrorInvalidValue);
    *graph = NULL;
    if (!s || !s->capturing) return set_error(cudaErrorIllegalState);
    s->capturing = false;
    CUgraph_st *g = s->graph;
    s->graph = NULL;
    if (s->capture_invalidated) {
        delete g;
        return set_error(cudaErrorStreamCaptureInvalidated);
    }
    live_graphs.insert(g);
    *graph = g;
    return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, enum cudaStreamCaptureStatus *status) {
    API_ENTRY();
    CUstream_st *s = resolve(stream);
    if (!s || !status) return set_error(cudaErrorInvalidValue);
    *status = !s->capturing ? cudaStreamCaptureStatusNone
              : s->capture_invalidated ? cudaStreamCaptureStatusInvalidated
                                       : cudaStreamCaptureStatusActive;
    return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long flags) {
    API_ENTRY();
    (void)flags;
    if (!exec || !live_graphs.count(graph)) return set_error(cudaErrorInvalidValue);
    CUgraphExec_st *x = new CUgraphExec_st();
    x->nodes = graph->nodes;
    live_execs.insert(x);
    *exec = x;
    return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
    API_ENTRY();
    if (!live_execs.count(exec)) return set_error(cudaErrorInvalidResourceHandle);
    if (stream_device(stream, "cudaGraphLaunch") < 0) return cudaErrorInvalidResourceHandle;
    if (resolve(stream)->capturing) {
        note("cudaGraphLaunch into a capturing stream is not emulated");
        return set_error(cudaErrorStreamCaptureUnsupported);
    }
    counters.graph_launches++;
    CUgraphExec_st *x = exec;
    enqueue(stream, "cudaGraphLaunch",
            [x] {
                for (graph_node &n : x->nodes) {
                    counters.graph_nodes_run++;
                    n.work();
                }
            },
            false);
    return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
    API_ENTRY();
    if (!live_execs.count(exec)) return set_error(cudaErrorInvalidResourceHandle);
    wait_all(); /* a queued launch may still replay it */
    live_execs.erase(exec);
    delete exec;
    return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
    API_ENTRY();
    if (!live_graphs.count(graph)) return set_error(cudaErrorInvalidResourceHandle);
    live_graphs.erase(graph);
    delete graph;
    return cudaSuccess;
}

/* ---- error names ---------------------------------------------------------- */

struct error_text {
    cudaError_t code;
    const char *name, *text;
};

static const error_text error_texts[] = {
    {cudaSuccess, "cudaSuccess", "no error"},
    {cudaErrorInvalidValue, "cudaErrorInvalidValue", "invalid argument"},
    {cudaErrorMemoryAllocation, "cudaErrorMemoryAllocation", "out of memory"},
    {cudaErrorInvalidConfiguration, "cudaErrorInvalidConfiguration", "invalid configuration argument"},
    {cudaErrorInvalidMemcpyDirection, "cudaErrorInvalidMemcpyDirection", "invalid copy direction for memcpy"},
    {cudaErrorInvalidDevice, "cudaErrorInvalidDevice", "invalid device ordinal"},
    {cudaErrorInvalidResourceHandle, "cudaErrorInvalidResourceHandle", "invalid resource handle"},
    {cudaErrorNotReady, "cudaErrorNotReady", "device not ready"},
    {cudaErrorIllegalAddress, "cudaErrorIllegalAddress", "an illegal memory access was encountered"},
    {cudaErrorIllegalState, "cudaErrorIllegalState", "the operation cannot be performed in the present state"},
    {cudaErrorStreamCaptureUnsupported, "cudaErrorStreamCaptureUnsupported", "operation not permitted when stream is capturing"},
    {cudaErrorStreamCaptureInvalidated, "cudaErrorStreamCaptureInvalidated", "operation failed due to a previous error during capture"},
    {cudaErrorNoDevice, "cudaErrorNoDevice", "no CUDA-capable device is detected"},
    {cudaErrorNotSupported, "cudaErrorNotSupported", "operation not supported"},
};

static const error_text *text_of(cudaError_t e) {
    for (const error_text &t : error_texts)
        if (t.code == e) return &t;
    return NULL;
}

const char *cudaGetErrorName(cudaError_t error) {
    const error_text *t = text_of(error);
    return t ? t->name : "cudaErrorUnknown";
}

const char *cudaGetErrorString(cudaError_t error) {
    const error_text *t = text_of(error);
    return t ? t->text : "unknown error";
}

/* ---- emu.h ----------------------------------------------------------------- */

void soma_emu_counters_read(soma_emu_counters *out) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    *out = counters;
}

void soma_emu_counters_reset(void) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    counters = soma_emu_counters{};
}

#define COUNTER_FIELDS(X)                                                                  \
    X(kernel_launches) X(library_calls) X(graph_launches) X(graph_nodes_run) X(host_waits) \
    X(device_allocs) X(device_frees) X(pinned_allocs) X(pinned_frees) X(h2d_copies)        \
    X(h2d_bytes) X(d2h_copies) X(d2h_bytes) X(d2d_copies) X(d2d_bytes) X(memsets)          \
    X(fibers_switched)

soma_emu_counters soma_emu_counters_diff(const soma_emu_counters *after,
                                         const soma_emu_counters *before) {
    soma_emu_counters d;
#define DIFF(f) d.f = after->f - before->f;
    COUNTER_FIELDS(DIFF)
#undef DIFF
    return d;
}

void soma_emu_counters_print(FILE *to, const char *label, const soma_emu_counters *c) {
#define PRINT(f) fprintf(to, "%s%-16s %llu\n", label, #f, (unsigned long long)c->f);
    COUNTER_FIELDS(PRINT)
#undef PRINT
}

void soma_emu_fail_allocation_after(long n) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    fail_from = n > 0 ? allocation_serial + (uint64_t)n : 0;
}

long soma_emu_live_allocations(uint64_t *bytes) {
    std::lock_guard<std::recursive_mutex> guard(api_lock);
    uint64_t total = 0;
    for (auto &kv : device_memory) total += kv.second.info.bytes;
    if (bytes) *bytes = total;
    return (long)device_memory.size();
}

} /* extern "C" */

static void soma_emu::report_at_exit() {
    soma_emu_counters c;
    soma_emu_counters_read(&c);
    fprintf(stderr, "soma-emu: schedule %s, seed %llu; counters of the whole run:\n",
            config().schedule == 1 ? "forward" : config().schedule == 2 ? "reverse" : "random",
            (unsigned long long)config().seed);
    soma_emu_counters_print(stderr, "soma-emu:   ", &c);
    uint64_t bytes;
    long live = soma_emu_live_allocations(&bytes);
    if (live) fprintf(stderr, "soma-emu: %ld device allocations (%llu bytes) never freed\n", live,
                      (unsigned long long)bytes);
}
