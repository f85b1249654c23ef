// sanitizers.hpp: fiber annotations for AddressSanitizer and ThreadSanitizer.
// Without them both report nonsense once stacks switch under their feet.
// Every function compiles to nothing in a build without sanitizers.
#pragma once

#include <cstddef>

#include "corun/sched/coroutine.hpp"

#if defined(CORUN_SANITIZE_ADDRESS)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(CORUN_SANITIZE_THREAD)
#include <sanitizer/tsan_interface.h>

#include <vector>
#endif

namespace corun::detail::sanitizer {

// FiberStack: the stack a switch goes to (a coroutine's, or a worker
// thread's own for g0).
struct FiberStack {
  const void* bottom = nullptr;
  std::size_t size = 0;
};

// start_switch() runs just before leaving `from` for `to`; `from_dies` when
// `from` will never run again (its fake stack can go).
inline void start_switch(Coroutine* from, bool from_dies, Coroutine* to,
                         FiberStack to_stack) noexcept {
#if defined(CORUN_SANITIZE_ADDRESS)
  __sanitizer_start_switch_fiber(from_dies ? nullptr : &from->asan_fake_stack, to_stack.bottom,
                                 to_stack.size);
#endif
#if defined(CORUN_SANITIZE_THREAD)
  __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
  (void)from, (void)from_dies, (void)to, (void)to_stack;
}

// finish_switch() runs first thing on the stack switched to; `self` is null
// on a coroutine's first run.
inline void finish_switch(Coroutine* self) noexcept {
#if defined(CORUN_SANITIZE_ADDRESS)
  __sanitizer_finish_switch_fiber(self != nullptr ? self->asan_fake_stack : nullptr, nullptr,
                                  nullptr);
#endif
  (void)self;
}

// stack_released() clears AddressSanitizer's marks on the part of a finished
// coroutine's stack that its frames used, [low, high): a coroutine that
// exits never returns from them, so their redzones and out-of-scope marks
// would stay behind for the next coroutine on the same stack, whose frames
// lie elsewhere, and be reported as errors of its own.
inline void stack_released(const void* low, const void* high) noexcept {
#if defined(CORUN_SANITIZE_ADDRESS)
  if (low < high) {
    __asan_unpoison_memory_region(low, static_cast<std::size_t>(static_cast<const char*>(high) -
                                                                static_cast<const char*>(low)));
  }
#endif
  (void)low, (void)high;
}

#if defined(CORUN_SANITIZE_THREAD)
// FiberPool: each worker thread keeps the TSan fibers of finished coroutines
// for the next ones. Creating a fiber costs ~10 ms (TSan clears a large
// thread context): 100k coroutines took half an hour. Reuse hides no race:
// every switch synchronizes (flags 0), and a fiber is reused only on the
// thread where its coroutine ended, after it ended, so the happens-before
// a reused fiber carries was already there. Its shadow call stack is empty
// (see CORUN_NO_TSAN_FRAME).
struct FiberPool {
  static constexpr std::size_t kMax = 256;
  std::vector<void*> fibers;
  ~FiberPool() {
    for (void* f : fibers) __tsan_destroy_fiber(f);
  }
};
inline thread_local FiberPool t_fiber_pool;
#endif

// fiber_created() gives `g` a TSan fiber for its first run.
inline void fiber_created(Coroutine* g) noexcept {
#if defined(CORUN_SANITIZE_THREAD)
  std::vector<void*>& pool = t_fiber_pool.fibers;
  if (pool.empty()) {
    g->tsan_fiber = __tsan_create_fiber(0);
  } else {
    g->tsan_fiber = pool.back();
    pool.pop_back();
  }
#endif
  (void)g;
}

// fiber_destroyed() takes a finished coroutine's fiber back; it must run on
// another fiber than `g`'s.
inline void fiber_destroyed(Coroutine* g) noexcept {
#if defined(CORUN_SANITIZE_THREAD)
  if (g->tsan_fiber == nullptr) return;
  std::vector<void*>& pool = t_fiber_pool.fibers;
  if (pool.size() < FiberPool::kMax) {
    pool.push_back(g->tsan_fiber);
  } else {
    __tsan_destroy_fiber(g->tsan_fiber);
  }
  g->tsan_fiber = nullptr;
#endif
  (void)g;
}

// thread_fiber() adopts the calling thread's own fiber for `g0`.
inline void thread_fiber(Coroutine* g0) noexcept {
#if defined(CORUN_SANITIZE_THREAD)
  g0->tsan_fiber = __tsan_get_current_fiber();
#endif
  (void)g0;
}

// socket_release()/socket_acquire(): data passed through a socket orders
// the sender's writes before the receiver's reads. ThreadSanitizer learns
// that from its send and recv interceptors, on one object for every socket;
// a call batched through io_uring (submit_ring.hpp) passes no interceptor,
// so the batched send releases and a batched receive that got data
// acquires, on an object of the same kind.
#if defined(CORUN_SANITIZE_THREAD)
inline char socket_sync;
#endif
inline void socket_release() noexcept {
#if defined(CORUN_SANITIZE_THREAD)
  __tsan_release(&socket_sync);
#endif
}
inline void socket_acquire() noexcept {
#if defined(CORUN_SANITIZE_THREAD)
  __tsan_acquire(&socket_sync);
#endif
}

}  // namespace corun::detail::sanitizer
