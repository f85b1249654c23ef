// spin_lock.hpp: SpinLock, the short-critical-section lock that guards the
// runtime's wait queues. Held only for a handful of instructions, never
// across a blocking call; it may be released by the coroutine that runs next
// on the same worker (see park()).
#pragma once

#include <sched.h>

#include <atomic>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace corun::detail {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

class SpinLock {
 public:
  // lock() spins, then yields the thread: a holder descheduled by the OS
  // (more workers than CPUs) would otherwise be spun on for whole time
  // slices by every contender.
  void lock() noexcept {
    for (;;) {
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      for (int spins = 0; locked_.load(std::memory_order_relaxed); ++spins) {
        if (spins < kSpinsBeforeYield) {
          cpu_relax();
        } else {
          sched_yield();
        }
      }
    }
  }
  bool try_lock() noexcept {
    return !locked_.load(std::memory_order_relaxed) &&
           !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  // kSpinsBeforeYield: Go's runtime lock spins 4 x 30 pauses before it
  // yields the thread (lock_futex.go: active_spin, active_spin_cnt).
  static constexpr int kSpinsBeforeYield = 120;

  std::atomic<bool> locked_{false};
};

}  // namespace corun::detail
