// wait_group.cpp: see corun/wait_group.hpp.
#include "corun/wait_group.hpp"

#include <stdexcept>

namespace corun {

struct WaitGroup::Waiter {
  detail::Coroutine* who;
  Waiter* next = nullptr;
  Waiter* prev = nullptr;
};

void WaitGroup::add(std::int64_t delta) {
  const std::int64_t v = counter_.fetch_add(delta, std::memory_order_acq_rel) + delta;
  if (v < 0) {
    counter_.fetch_sub(delta, std::memory_order_acq_rel);
    throw std::logic_error("corun::WaitGroup: negative counter (more done() than add())");
  }
  if (v > 0 || delta == 0) return;
  lock_.lock();
  Waiter* w = waiters_;
  waiters_ = nullptr;
  lock_.unlock();
  while (w != nullptr) {
    Waiter* next = w->next;  // `w` lives on the waiter's stack: read before waking it
    detail::unpark(w->who);
    w = next;
  }
}

void WaitGroup::wait() {
  if (counter_.load(std::memory_order_acquire) == 0) return;
  Waiter me{detail::current_waiter()};
  lock_.lock();
  if (counter_.load(std::memory_order_acquire) == 0) {
    lock_.unlock();
    return;
  }
  me.next = waiters_;
  if (waiters_ != nullptr) waiters_->prev = &me;
  waiters_ = &me;
  detail::park(lock_, detail::WaitReason::kWaitGroup, &WaitGroup::cancel_wait, this);
}

bool WaitGroup::cancel_wait(detail::Coroutine* who, void* self) noexcept {
  auto* wg = static_cast<WaitGroup*>(self);
  wg->lock_.lock();
  Waiter* w = wg->waiters_;
  while (w != nullptr && w->who != who) w = w->next;
  if (w != nullptr) {
    if (w->prev != nullptr) {
      w->prev->next = w->next;
    } else {
      wg->waiters_ = w->next;
    }
    if (w->next != nullptr) w->next->prev = w->prev;
  }
  wg->lock_.unlock();
  return w != nullptr;
}

}  // namespace corun
