// wait_group.cpp: see corun/wait_group.hpp.
//
// Lifetime: the usual pattern destroys a WaitGroup right after wait()
// returns, perhaps while the done() that took the counter to zero is still
// running. So that done() must not touch the WaitGroup after the waiters can
// return. With the waiter count in state_ next to the counter, the last
// done() reads both in one atomic step: no waiters, and it returns without
// another access; waiters, and each of them is blocked until that done()
// has released lock_ (queued ones are woken afterwards, and one that counted
// itself but had not yet queued finds a pass under lock_).
#include "corun/wait_group.hpp"

#include <limits>
#include <stdexcept>

#include "corun/sync/cancel.hpp"

namespace corun {

namespace {
constexpr std::uint64_t kWaiterMask = 0xffff'ffff;
constexpr int kCounterShift = 32;
std::int32_t counter_of(std::uint64_t state) {
  return static_cast<std::int32_t>(state >> kCounterShift);
}
}  // namespace

struct WaitGroup::Waiter : detail::WaitLink {
  Waiter(WaitGroup* wg, detail::Coroutine* g) : group(wg), who(g) {}
  WaitGroup* group;
  detail::Coroutine* who;
};

void WaitGroup::add(std::int64_t delta) {
  if (delta > std::numeric_limits<std::int32_t>::max() ||
      delta < std::numeric_limits<std::int32_t>::min()) {
    throw std::length_error("corun::WaitGroup: add() delta out of the 32-bit range");
  }
  const std::uint64_t step = static_cast<std::uint64_t>(delta) << kCounterShift;
  const std::uint64_t state = state_.fetch_add(step, std::memory_order_acq_rel) + step;
  const std::int64_t counter = counter_of(state);
  if (counter < 0) {
    state_.fetch_sub(step, std::memory_order_acq_rel);
    throw std::logic_error("corun::WaitGroup: negative counter (more done() than add())");
  }
  if (counter > 0 || delta == 0 || (state & kWaiterMask) == 0) return;
  release_waiters();
}

void WaitGroup::release_waiters() noexcept {
  lock_.lock();
  // No one can count itself in as a waiter now (the counter is zero), and
  // cancel_wait() changes the count only under lock_: this is every waiter
  // of the round that just ended.
  const auto counted =
      static_cast<std::uint32_t>(state_.load(std::memory_order_relaxed) & kWaiterMask);
  passes_ += counted - static_cast<std::uint32_t>(waiters_.size());
  Waiter* w = waiters_.take_all();
  state_.fetch_sub(counted, std::memory_order_acq_rel);
  lock_.unlock();
  // The WaitGroup may be gone from here on: only the waiters' own nodes are
  // touched, each read before its owner is woken.
  while (w != nullptr) {
    Waiter* next = detail::WaitQueue<Waiter>::next_taken(w);
    detail::unpark(w->who);
    w = next;
  }
}

void WaitGroup::wait() {
  detail::cancellation_point();
  std::uint64_t state = state_.load(std::memory_order_acquire);
  for (;;) {
    if (counter_of(state) == 0) return;
    if (state_.compare_exchange_weak(state, state + 1, std::memory_order_acq_rel)) break;
  }
  Waiter me(this, detail::current_waiter());
  lock_.lock();
  if (passes_ > 0) {  // released between counting in and queueing
    --passes_;
    lock_.unlock();
    return;
  }
  waiters_.push_back(&me);
  detail::park(lock_, detail::WaitReason::kWaitGroup, &WaitGroup::cancel_wait, &me);
}

bool WaitGroup::cancel_wait(detail::Coroutine*, void* waiter) noexcept {
  auto* w = static_cast<Waiter*>(waiter);
  WaitGroup* wg = w->group;
  wg->lock_.lock();
  const bool removed = wg->waiters_.remove(w);
  if (removed) wg->state_.fetch_sub(1, std::memory_order_acq_rel);  // no longer a waiter
  wg->lock_.unlock();
  return removed;
}

}  // namespace corun
