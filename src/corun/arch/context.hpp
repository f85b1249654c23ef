// context.hpp: Context, a suspended execution (saved registers + stack), and
// the switch between two of them. One back-end is compiled in, chosen at
// configure time (CORUN_CONTEXT=asm|ucontext); nothing else in corun knows
// which:
//   asm:      context_x86_64.S / context_aarch64.S save only the callee-saved
//             registers on the stack being left (not the FP control
//             registers: they belong to the worker thread, as in Go).
//   ucontext: POSIX makecontext/swapcontext, portable and slow (swapcontext
//             makes a sigprocmask system call on every switch).
#pragma once

#include <cstddef>

#if defined(CORUN_CONTEXT_UCONTEXT)
#include <ucontext.h>
#endif

// CORUN_NO_TSAN_FRAME keeps a function off ThreadSanitizer's shadow call
// stack (and unchecked by it). It marks the frames a finished coroutine
// never returns from, coroutine_entry() down to the last context switch, so
// that its TSan fiber is left with an empty shadow stack and can be reused
// (see sanitizer::fiber_created()). Without it, each reuse would leak those
// frames until the shadow stack overflowed.
#if defined(CORUN_SANITIZE_THREAD) && defined(__clang__)
#define CORUN_NO_TSAN_FRAME __attribute__((disable_sanitizer_instrumentation))
#elif defined(CORUN_SANITIZE_THREAD)
#define CORUN_NO_TSAN_FRAME __attribute__((no_sanitize("thread")))
#else
#define CORUN_NO_TSAN_FRAME
#endif

namespace corun::detail {

// ContextEntry is where a fresh context starts; it must never return.
using ContextEntry = void (*)(void* arg);

#if defined(CORUN_CONTEXT_UCONTEXT)
struct Context {
  ucontext_t uc;
};
#else
struct Context {
  void* sp = nullptr;  // saved stack pointer; the registers sit below it
};
#endif

// context_make() prepares `ctx` to run entry(arg) on [stack_base, stack_base+size).
void context_make(Context& ctx, void* stack_base, std::size_t size, ContextEntry entry, void* arg);

// context_switch() saves the running execution into `from` and resumes `to`.
// It returns when something switches back to `from`.
#if defined(CORUN_CONTEXT_UCONTEXT)
CORUN_NO_TSAN_FRAME void context_switch(Context& from, Context& to);
#else
extern "C" void corun_context_switch(void** save_sp, void* load_sp);
CORUN_NO_TSAN_FRAME inline void context_switch(Context& from, Context& to) {
  corun_context_switch(&from.sp, to.sp);
}
#endif

}  // namespace corun::detail
