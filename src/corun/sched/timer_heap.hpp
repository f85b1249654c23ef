// timer_heap.hpp: TimerHeap, a worker's timers (Go's p.timers).
//
// A 4-ary min-heap (as Go's) of {deadline, slot} entries in one array, so
// sifting never touches the timers themselves: they live on the sleeping
// coroutines' stacks, one per page, and chasing them was the cost of a
// 100k-sleeper run. The slot table maps a slot to its Timer; removing a
// timer (a select whose timeout is no longer needed, shutdown) just clears
// its slot, and the dead entry is dropped when it reaches the top, or all at
// once when dead entries outnumber live ones.
//
// The owning worker runs expired timers on its scheduling rounds and sleeps
// no longer than the earliest deadline; other workers run them too when they
// look for work, so a busy owner cannot hold them back.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <vector>

#include "corun/detail/spin_lock.hpp"

namespace corun::detail {

struct Coroutine;

struct Timer {
  static constexpr std::uint32_t kNoSlot = std::numeric_limits<std::uint32_t>::max();

  std::int64_t when = 0;  // steady-clock nanoseconds
  // fire() runs once the timer expires, outside the heap's lock.
  void (*fire)(Timer*) = nullptr;
  Coroutine* waiter = nullptr;
  std::uint32_t slot = kNoSlot;  // kNoSlot: not armed (never, fired or removed)
};

class TimerHeap {
 public:
  static constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

  SpinLock& lock() noexcept { return lock_; }

  // push_locked()/remove_locked(): with lock() held. remove_locked() returns
  // false when the timer was not armed (it already fired).
  void push_locked(Timer* t);
  bool remove_locked(Timer* t);

  // run_expired() fires every timer due at `now`; returns how many fired.
  int run_expired(std::int64_t now);

  // earliest() is a deadline no later than the first live one (kNever when
  // none is armed); it may be a removed timer's, which costs a spurious
  // wake-up at most. No lock needed.
  std::int64_t earliest() const noexcept { return earliest_.load(std::memory_order_acquire); }
  // empty(): no armed timer.
  bool empty() const noexcept { return armed_.load(std::memory_order_acquire) == 0; }
  // armed(): how many timers are armed (a snapshot, for schedtrace).
  std::size_t armed() const noexcept { return armed_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    std::int64_t when;
    std::uint32_t slot;
  };

  void sift_up(std::size_t i);
  void sift_down(std::size_t i);
  void pop_top();
  void drop_dead_entries();
  void publish();

  SpinLock lock_;
  std::vector<Entry> heap_;                // guarded by lock_
  std::vector<Timer*> slots_;              // guarded by lock_; null: removed
  std::vector<std::uint32_t> free_slots_;  // guarded by lock_
  std::size_t dead_ = 0;                   // entries whose timer was removed
  std::atomic<std::int64_t> earliest_{kNever};
  std::atomic<std::size_t> armed_{0};
};

// now_ns() is steady-clock time in nanoseconds.
std::int64_t now_ns() noexcept;

}  // namespace corun::detail
