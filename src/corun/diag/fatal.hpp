// fatal.hpp: fatal errors, Go style. The library never prints, except to say
// why it is ending the program: a deadlock, an exception escaping a
// coroutine, a stack overflow, exhausted memory. These write one report to
// stderr and exit with status 2, as Go's runtime does.
#pragma once

#include <cstddef>

namespace corun::detail {

inline constexpr int kFatalExitCode = 2;

// fatal() prints "fatal error: <message>" and exits with kFatalExitCode.
[[noreturn]] void fatal(const char* format, ...) __attribute__((format(printf, 1, 2)));

// fatal_raw() prints `text` as it is and exits with kFatalExitCode.
[[noreturn]] void fatal_raw(const char* text, unsigned long length);

// fatal_in_progress(): true once a fatal report has begun. The preemption
// signal handler then leaves the dying coroutine where it is: switched out
// halfway through its report (holding stdout's lock, say), it could leave
// the program hung instead of ended. Async-signal-safe.
bool fatal_in_progress() noexcept;

// panic_uncaught() reports the exception being handled, which escaped
// coroutine `id` (Go's panic): "panic: coroutine 7: uncaught exception
// std::runtime_error: boom", the type's name demangled where that works
// (else as the compiler spells it), and what() for a std::exception.
// Call it only from inside a catch block.
[[noreturn]] void panic_uncaught(unsigned long long id) noexcept;

// OverflowSite: the coroutine whose stack overflowed, as a report names it.
struct OverflowSite {
  unsigned long long id = 0;
  std::size_t stack_bytes = 0;
};

// OverflowProbe: asked by the fault handler, on the faulting thread, whether
// `addr` lies in the guard page of the coroutine running there; if so it
// fills `site` and returns true. It runs in a signal handler: only
// async-signal-safe work (no locks, no allocation). The scheduler supplies
// it, so that this layer needs to know nothing of workers.
using OverflowProbe = bool (*)(const void* addr, OverflowSite* site) noexcept;

// install_overflow_handler() makes a fault in a guard page, as `probe` finds
// it, report a stack overflow naming the coroutine; the calling worker
// thread gets an alternate signal stack. Idempotent per thread (the probe
// is the process's: the last one installed answers).
void install_overflow_handler(OverflowProbe probe);
void remove_overflow_handler_for_thread();

}  // namespace corun::detail
