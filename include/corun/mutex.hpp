// mutex.hpp: Mutex, a lock whose waiters park (the worker thread stays free).
#pragma once

#include <atomic>
#include <cstdint>

#include "corun/detail/park.hpp"
#include "corun/detail/wait_queue.hpp"

namespace corun {

// Mutex is Go's sync.Mutex for coroutines: lock() parks the coroutine, not
// its worker, while another holds the lock. It meets the Lockable
// requirements (std::lock_guard, std::unique_lock, std::scoped_lock).
// Fairness: newcomers may barge in ahead of woken waiters (fast under
// contention), but a waiter that has waited longer than 1 ms is handed the
// lock directly (no starvation), as Go's starvation mode does.
class Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock();
  bool try_lock() noexcept;
  void unlock();

 private:
  struct Waiter;
  static bool cancel_wait(detail::Coroutine* w, void* waiter) noexcept;
  void lock_slow();

  std::atomic<std::uint32_t> state_{0};  // kLocked | kHasWaiters
  detail::SpinLock wait_lock_;
  detail::WaitQueue<Waiter> waiters_;  // guarded by wait_lock_
};

}  // namespace corun
