// wait_group.hpp: WaitGroup, Go's sync.WaitGroup.
#pragma once

#include <atomic>
#include <cstdint>

#include "corun/detail/park.hpp"

namespace corun {

// WaitGroup waits for a collection of coroutines to finish: add(n) before
// starting them, done() as each finishes, wait() until the counter is zero.
// wait() works from a coroutine and from a plain thread. A WaitGroup may be
// reused once wait() has returned. A negative counter is a program error:
// add()/done() throw std::logic_error, as Go panics.
class WaitGroup {
 public:
  WaitGroup() = default;
  WaitGroup(const WaitGroup&) = delete;
  WaitGroup& operator=(const WaitGroup&) = delete;

  void add(std::int64_t delta);
  void done() { add(-1); }
  void wait();

  std::int64_t count() const noexcept { return counter_.load(std::memory_order_acquire); }

 private:
  struct Waiter;
  static bool cancel_wait(detail::Coroutine* w, void* self) noexcept;

  std::atomic<std::int64_t> counter_{0};
  detail::SpinLock lock_;
  Waiter* waiters_ = nullptr;  // guarded by lock_
};

}  // namespace corun
