// mutex.cpp: see corun/mutex.hpp.
#include "corun/mutex.hpp"

#include "corun/diag/fatal.hpp"
#include "corun/sched/timer_heap.hpp"
#include "corun/sync/cancel.hpp"

namespace corun {

namespace {
constexpr std::uint32_t kLocked = 1;
constexpr std::uint32_t kHasWaiters = 2;
// kStarvationNs: Go's starvationThresholdNs (1 ms).
constexpr std::int64_t kStarvationNs = 1'000'000;
// kSpins: attempts before queueing; a critical section is often shorter
// than a park/unpark round trip.
constexpr int kSpins = 64;
}  // namespace

struct Mutex::Waiter : detail::WaitLink {
  Waiter(Mutex* m, detail::Coroutine* g, std::int64_t t) : mutex(m), who(g), since(t) {}
  Mutex* mutex;
  detail::Coroutine* who;
  std::int64_t since;
  bool handed_off = false;
};

void Mutex::lock() {
  detail::cancellation_point();
  std::uint32_t expected = 0;
  if (state_.compare_exchange_strong(expected, kLocked, std::memory_order_acquire)) return;
  lock_slow();
}

bool Mutex::try_lock() noexcept {
  std::uint32_t s = state_.load(std::memory_order_relaxed);
  while ((s & kLocked) == 0) {
    if (state_.compare_exchange_weak(s, s | kLocked, std::memory_order_acquire)) return true;
  }
  return false;
}

void Mutex::lock_slow() {
  for (int i = 0; i < kSpins; ++i) {
    if (try_lock()) return;
    detail::cpu_relax();
  }
  Waiter me(this, detail::current_waiter(), detail::now_ns());
  for (;;) {
    wait_lock_.lock();
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    if ((s & kLocked) == 0) {
      bool got = state_.compare_exchange_strong(s, s | kLocked, std::memory_order_acquire);
      wait_lock_.unlock();
      if (got) return;
      continue;
    }
    if (!state_.compare_exchange_strong(s, s | kHasWaiters, std::memory_order_relaxed)) {
      wait_lock_.unlock();
      continue;
    }
    waiters_.push_back(&me);
    detail::park(wait_lock_, detail::WaitReason::kMutex, &Mutex::cancel_wait, &me);
    if (me.handed_off) {
      std::atomic_thread_fence(std::memory_order_acquire);
      return;
    }
  }
}

void Mutex::unlock() {
  std::uint32_t expected = kLocked;
  if (state_.compare_exchange_strong(expected, 0, std::memory_order_release)) return;
  if ((expected & kLocked) == 0) detail::fatal("unlock of an unlocked corun::Mutex");
  // The mutex stays locked until wait_lock_ is released: whoever takes it
  // next may unlock and destroy it at once, so the release of kLocked is the
  // last access to *this (the waiter woken after it lives on its own stack).
  wait_lock_.lock();
  Waiter* w = waiters_.pop_front();
  const std::uint32_t more = !waiters_.empty() ? kHasWaiters : 0;
  const bool hand_off = w != nullptr && detail::now_ns() - w->since > kStarvationNs;
  if (hand_off) w->handed_off = true;  // starving: ownership passes straight to it
  state_.store(kLocked | more, std::memory_order_release);
  detail::Coroutine* who = w != nullptr ? w->who : nullptr;
  wait_lock_.unlock();
  if (!hand_off) state_.fetch_and(~kLocked, std::memory_order_release);  // it competes
  if (who != nullptr) detail::unpark(who);
}

bool Mutex::cancel_wait(detail::Coroutine*, void* waiter) noexcept {
  auto* w = static_cast<Waiter*>(waiter);
  Mutex* m = w->mutex;
  m->wait_lock_.lock();
  const bool removed = m->waiters_.remove(w);
  m->wait_lock_.unlock();
  return removed;
}

}  // namespace corun
