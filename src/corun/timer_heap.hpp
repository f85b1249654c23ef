// timer_heap.hpp: TimerHeap, a worker's timers (Go's p.timers): a binary
// min-heap on the deadline, each Timer knowing its index so it can be removed
// (cancellation) in O(log n). The owning worker runs expired timers on each
// scheduling round and sleeps no longer than its earliest deadline; other
// workers run them too when they look for work, so a busy owner cannot hold
// them back.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <vector>

#include "corun/detail/spin_lock.hpp"

namespace corun::detail {

struct Coroutine;

struct Timer {
  static constexpr std::uint32_t kNotInHeap = std::numeric_limits<std::uint32_t>::max();

  std::int64_t when = 0;  // steady-clock nanoseconds
  // fire() runs once the timer expires, outside the heap's lock.
  void (*fire)(Timer*) = nullptr;
  Coroutine* waiter = nullptr;
  std::uint32_t index = kNotInHeap;
};

class TimerHeap {
 public:
  static constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

  SpinLock& lock() noexcept { return lock_; }

  // push_locked()/remove_locked(): with lock() held. remove_locked() returns
  // false when the timer was not in the heap (it already fired).
  void push_locked(Timer* t);
  bool remove_locked(Timer* t);

  // run_expired() pops every timer due at `now` and fires it; returns how many.
  int run_expired(std::int64_t now);

  // earliest() is the first deadline, kNever when empty (no lock needed).
  std::int64_t earliest() const noexcept { return earliest_.load(std::memory_order_acquire); }
  bool empty() const noexcept { return earliest() == kNever; }

 private:
  void sift_up(std::uint32_t i);
  void sift_down(std::uint32_t i);
  void place(std::uint32_t i, Timer* t) {
    heap_[i] = t;
    t->index = i;
  }
  void publish_earliest() {
    earliest_.store(heap_.empty() ? kNever : heap_[0]->when, std::memory_order_release);
  }

  SpinLock lock_;
  std::vector<Timer*> heap_;  // guarded by lock_
  std::atomic<std::int64_t> earliest_{kNever};
};

// now_ns() is steady_clock time in nanoseconds.
std::int64_t now_ns() noexcept;

}  // namespace corun::detail
