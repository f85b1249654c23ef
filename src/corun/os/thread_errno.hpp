// thread_errno.hpp: errno for code that may switch coroutines.
//
// errno is per thread, and its accessor (glibc's __errno_location) is
// declared const: a compiler may call it once in a function and keep the
// address. A coroutine that parks between two uses of errno can resume on
// another worker thread, and would then read, or write, the errno of the
// thread it left, which another coroutine is using by then. These two are
// never inlined nor analysed across calls, so every use finds the errno of
// the thread that runs it. Use them in any function that can park, yield
// or be preempted between one use of errno and the next.
#pragma once

// (Defined in their own file; the attribute keeps a link-time optimiser
// from looking inside them. Clang knows no noipa: noinline is its nearest.)
#if defined(__clang__)
#define CORUN_OPAQUE_CALL [[gnu::noinline]]
#else
#define CORUN_OPAQUE_CALL [[gnu::noipa]]
#endif

namespace corun::detail {

CORUN_OPAQUE_CALL int thread_errno() noexcept;
CORUN_OPAQUE_CALL void set_thread_errno(int value) noexcept;

}  // namespace corun::detail
