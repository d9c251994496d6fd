/* fiber.cpp: cooperative fibers for the threads of an emulated block.
 *
 * Each emulated thread that may wait at a barrier runs on a fiber: a stack
 * of its own and a saved register context. A block of 256 threads passing
 * five barriers switches context a few thousand times, so switching must be
 * cheap: on x86-64 it saves and restores the callee-saved registers, the
 * stack pointer and the floating-point control words in a dozen
 * instructions (glibc's swapcontext makes a system call each time, about
 * 30x slower). Other machines use ucontext.
 *
 * Under AddressSanitizer every switch is announced with
 * __sanitizer_start/finish_switch_fiber, so ASan keeps tracking the right
 * stack. Fibers are made once per OS thread and reused for every block. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vector>

#include "emu_internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define SOMA_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SOMA_EMU_ASAN 1
#endif
#endif

#ifdef SOMA_EMU_ASAN
#include <sanitizer/common_interface_defs.h>
#define FIBER_STACK_BYTES ((size_t)1 << 20) /* ASan's redzones make frames larger */
#else
#define FIBER_STACK_BYTES ((size_t)256 << 10)
#endif

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

namespace soma_emu {

struct fiber {
#if defined(__x86_64__)
    void *sp; /* saved stack pointer while the fiber is suspended */
#else
    ucontext_t context;
#endif
    char *stack;
    size_t stack_bytes;
    fiber_body body;
    void *arg;
    void *asan_fake_stack;
};

/* The scheduler's side: the OS thread's own stack. */
static thread_local fiber *running;
#if defined(__x86_64__)
static thread_local void *scheduler_sp;
#else
static thread_local ucontext_t scheduler_context;
#endif
#ifdef SOMA_EMU_ASAN
static thread_local const void *scheduler_stack_bottom;
static thread_local size_t scheduler_stack_bytes;
static thread_local void *scheduler_fake_stack;
#endif

[[noreturn]] static void fiber_main(fiber *f) {
#ifdef SOMA_EMU_ASAN
    __sanitizer_finish_switch_fiber(NULL, &scheduler_stack_bottom, &scheduler_stack_bytes);
#endif
    f->body(f->arg); /* never returns: the body loops, yielding between jobs */
    fatal("a fiber's body returned");
}

} // namespace soma_emu

#if defined(__x86_64__)
/* soma_emu_switch(save, to): pushes the callee-saved registers, stores the
 * stack pointer in *save, switches to `to` and pops the same from there. A
 * new fiber's stack is laid out as if it had switched away just before
 * entering soma_emu_fiber_start, which passes r12 (the fiber) to
 * fiber_entry. The MXCSR and x87 control words, callee-saved in the ABI,
 * are shared by all fibers instead: run_grid sets them for the whole grid
 * and kernels do not change them (saving them doubled the switch's cost). */
extern "C" void soma_emu_switch(void **save, void *to);
extern "C" void soma_emu_fiber_start(void);
extern "C" [[noreturn]] void soma_emu_fiber_entry(soma_emu::fiber *f) { soma_emu::fiber_main(f); }
__asm__(".text\n"
        ".globl soma_emu_switch\n"
        ".hidden soma_emu_switch\n"
        ".type soma_emu_switch,@function\n"
        "soma_emu_switch:\n"
        "  pushq %rbp\n"
        "  pushq %rbx\n"
        "  pushq %r12\n"
        "  pushq %r13\n"
        "  pushq %r14\n"
        "  pushq %r15\n"
        "  movq %rsp, (%rdi)\n"
        "  movq %rsi, %rsp\n"
        "  popq %r15\n"
        "  popq %r14\n"
        "  popq %r13\n"
        "  popq %r12\n"
        "  popq %rbx\n"
        "  popq %rbp\n"
        "  ret\n"
        ".size soma_emu_switch, .-soma_emu_switch\n"
        ".globl soma_emu_fiber_start\n"
        ".hidden soma_emu_fiber_start\n"
        ".type soma_emu_fiber_start,@function\n"
        "soma_emu_fiber_start:\n"
        "  movq %r12, %rdi\n"
        "  call soma_emu_fiber_entry@PLT\n"
        "  ud2\n"
        ".size soma_emu_fiber_start, .-soma_emu_fiber_start\n"
        ".section .note.GNU-stack,\"\",@progbits\n"
        ".text\n");
#else
static void ucontext_entry(unsigned hi, unsigned lo) {
    soma_emu::fiber_main((soma_emu::fiber *)(((uintptr_t)hi << 32) | lo));
}
#endif

namespace soma_emu {

fiber *fiber_create(fiber_body body, void *arg) {
    fiber *f = new fiber();
    f->body = body;
    f->arg = arg;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    f->stack_bytes = FIBER_STACK_BYTES;
    /* one inaccessible page below the stack turns an overflow into a fault */
    void *mem = mmap(NULL, f->stack_bytes + page, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) fatal("cannot map a %zu-byte fiber stack", f->stack_bytes);
    mprotect(mem, page, PROT_NONE);
    f->stack = (char *)mem + page;
#if defined(__x86_64__)
    /* The frame soma_emu_switch pops: r15..r12, rbx, rbp, then the return
     * address soma_emu_fiber_start, placed so that the stack is 16-byte
     * aligned at its `call` as the ABI wants. */
    uintptr_t top = ((uintptr_t)(f->stack + f->stack_bytes)) & ~(uintptr_t)15;
    void **ret = (void **)(top - 24);
    *ret = (void *)soma_emu_fiber_start;
    void **regs = ret - 6; /* r15 r14 r13 r12 rbx rbp, lowest first */
    for (int i = 0; i < 6; i++) regs[i] = NULL;
    regs[3] = f; /* r12 */
    f->sp = (void *)regs;
#else
    if (getcontext(&f->context) != 0) fatal("getcontext failed");
    f->context.uc_stack.ss_sp = f->stack;
    f->context.uc_stack.ss_size = f->stack_bytes;
    f->context.uc_link = NULL;
    uintptr_t p = (uintptr_t)f;
    makecontext(&f->context, (void (*)(void))ucontext_entry, 2, (unsigned)(p >> 32),
                (unsigned)(p & 0xffffffffu));
#endif
    return f;
}

void fiber_resume(fiber *f) {
    running = f;
#ifdef SOMA_EMU_ASAN
    __sanitizer_start_switch_fiber(&scheduler_fake_stack, f->stack, f->stack_bytes);
#endif
#if defined(__x86_64__)
    soma_emu_switch(&scheduler_sp, f->sp);
#else
    swapcontext(&scheduler_context, &f->context);
#endif
#ifdef SOMA_EMU_ASAN
    __sanitizer_finish_switch_fiber(scheduler_fake_stack, NULL, NULL);
#endif
    running = NULL;
    counters.fibers_switched++;
}

void fiber_yield() {
    fiber *f = running;
    if (!f) fatal("fiber_yield outside a fiber");
#ifdef SOMA_EMU_ASAN
    __sanitizer_start_switch_fiber(&f->asan_fake_stack, scheduler_stack_bottom,
                                   scheduler_stack_bytes);
#endif
#if defined(__x86_64__)
    soma_emu_switch(&f->sp, scheduler_sp);
#else
    swapcontext(&f->context, &scheduler_context);
#endif
#ifdef SOMA_EMU_ASAN
    __sanitizer_finish_switch_fiber(f->asan_fake_stack, &scheduler_stack_bottom,
                                    &scheduler_stack_bytes);
#endif
}

} // namespace soma_emu
