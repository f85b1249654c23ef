// wait_group.hpp: WaitGroup, Go's sync.WaitGroup.
#pragma once

#include <atomic>
#include <cstdint>

#include "corun/detail/park.hpp"
#include "corun/detail/wait_queue.hpp"

namespace corun {

// WaitGroup waits for a collection of coroutines to finish: add(n) before
// starting them, done() as each finishes, wait() until the counter is zero.
// wait() works from a coroutine and from a plain thread. A WaitGroup may be
// reused once wait() has returned, and destroyed as soon as wait() returns
// (the done() that released it touches it no more). A negative counter is a
// program error: add()/done() throw std::logic_error, as Go panics.
class WaitGroup {
 public:
  WaitGroup() = default;
  WaitGroup(const WaitGroup&) = delete;
  WaitGroup& operator=(const WaitGroup&) = delete;

  void add(std::int64_t delta);
  void done() { add(-1); }
  void wait();

  std::int64_t count() const noexcept {
    return static_cast<std::int32_t>(state_.load(std::memory_order_acquire) >> 32);
  }

 private:
  struct Waiter;
  static bool cancel_wait(detail::Coroutine* w, void* waiter) noexcept;
  void release_waiters() noexcept;

  // state_: the counter (signed, high 32 bits) and the number of waiters
  // (low 32 bits), as in Go: a done() that takes the counter to zero sees
  // in the same atomic operation whether anyone must be woken.
  std::atomic<std::uint64_t> state_{0};
  detail::SpinLock lock_;
  detail::WaitQueue<Waiter> waiters_;  // guarded by lock_
  std::uint32_t passes_ = 0;           // guarded by lock_: released waiters not yet queued
};

}  // namespace corun
