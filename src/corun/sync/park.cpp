// park.cpp: park()/unpark() (see corun/detail/park.hpp) and the
// this_coroutine functions built directly on the scheduler.
#include "corun/detail/park.hpp"

#include <chrono>
#include <thread>

#include "corun/detail/deadline.hpp"
#include "corun/os/futex.hpp"
#include "corun/sched/coroutine.hpp"
#include "corun/sched/scheduler.hpp"
#include "corun/sync/cancel.hpp"
#include "corun/this_coroutine.hpp"

namespace corun::detail {

namespace {

// thread_standin() represents the calling plain thread in wait queues.
ThreadWaiter& thread_standin() noexcept {
  thread_local ThreadWaiter standin;
  return standin;
}

// running_coroutine() is the coroutine running on this thread, or null.
Coroutine* running_coroutine(Worker* w) noexcept {
  return w != nullptr ? w->running_coroutine() : nullptr;
}

}  // namespace

const char* to_string(WaitReason reason) noexcept {
  switch (reason) {
    case WaitReason::kNone:
      return "runnable";
    case WaitReason::kSleep:
      return "sleep";
    case WaitReason::kChanSend:
      return "chan send";
    case WaitReason::kChanReceive:
      return "chan receive";
    case WaitReason::kSelect:
      return "select";
    case WaitReason::kSelectNoCases:
      return "select (no cases)";
    case WaitReason::kWaitGroup:
      return "WaitGroup.wait";
    case WaitReason::kMutex:
      return "Mutex.lock";
    case WaitReason::kRuntimeWait:
      return "Runtime.wait";
  }
  return "unknown";
}

Coroutine* current_waiter() noexcept {
  Coroutine* g = running_coroutine(this_worker());
  return g != nullptr ? g : &thread_standin();
}

std::uint64_t waiter_id(const Coroutine* w) noexcept { return w->is_thread ? 0 : w->id; }

void park(SpinLock& lock, WaitReason reason, CancelFn cancel, void* cancel_ctx) {
  Worker* w = this_worker();
  if (running_coroutine(w) != nullptr) {
    w->sched.park(*w, lock, reason, cancel, cancel_ctx);
    return;
  }
  // A plain thread: block on the stand-in's futex word.
  ThreadWaiter& t = thread_standin();
  t.wait_reason = reason;
  t.futex_word.store(0, std::memory_order_relaxed);
  Scheduler* s = attached_scheduler();
  t.blocked_in = s;
  if (s != nullptr) s->external_block_begin();
  t.state.store(CoState::kParked, std::memory_order_release);
  lock.unlock();
  if (s != nullptr) s->maybe_check_deadlock();
  while (t.futex_word.load(std::memory_order_acquire) == 0) futex_wait(t.futex_word, 0);
  t.wait_reason = WaitReason::kNone;
}

void unpark(Coroutine* g) noexcept {
  if (!g->is_thread) {
    g->sched->ready(g);
    return;
  }
  auto* w = static_cast<ThreadWaiter*>(g);
  if (w->blocked_in != nullptr) w->blocked_in->external_block_end();
  w->state.store(CoState::kRunnable, std::memory_order_relaxed);
  w->futex_word.store(1, std::memory_order_release);
  futex_wake(w->futex_word);
}

}  // namespace corun::detail

namespace corun::this_coroutine {

using detail::Coroutine;
using detail::Worker;

void yield() {
  Worker* w = detail::this_worker();
  if (w == nullptr || w->on_g0()) {
    std::this_thread::yield();
    return;
  }
  w->sched.yield(*w);
}

namespace {

// SleepWait: a sleeping coroutine's timer. `lock` is held from before the
// timer is armed until the coroutine is fully parked, so a timer firing on
// another worker cannot wake it too early.
struct SleepWait {
  detail::Timer timer;
  detail::TimerHeap* heap = nullptr;
  detail::SpinLock lock;

  static void fire(detail::Timer* t) {
    auto* self = reinterpret_cast<SleepWait*>(t);  // timer is the first member
    Coroutine* g = t->waiter;
    self->lock.lock();
    self->lock.unlock();
    detail::unpark(g);  // `self` may be gone once g runs
  }

  static bool cancel(Coroutine*, void* ctx) noexcept {
    auto* self = static_cast<SleepWait*>(ctx);
    self->heap->lock().lock();
    bool removed = self->heap->remove_locked(&self->timer);
    self->heap->lock().unlock();
    if (removed) {
      // As fire(): the sleeper may be requeued only once it is fully parked
      // (park releases `lock` after the switch), or another worker could
      // resume it before its registers are saved.
      self->lock.lock();
      self->lock.unlock();
    }
    return removed;
  }
};

// sleep_until_ns(): `when` is steady-clock nanoseconds (kForever: never).
void sleep_until_ns(std::int64_t when) {
  Worker* w = detail::this_worker();
  if (w == nullptr || w->on_g0()) {
    std::this_thread::sleep_until(
        std::chrono::steady_clock::time_point(std::chrono::nanoseconds(when)));
    return;
  }
  if (when <= detail::now_ns()) return;
  SleepWait sw;
  sw.timer.when = when;
  sw.timer.fire = &SleepWait::fire;
  sw.timer.waiter = w->current;
  sw.heap = &w->timers;
  sw.lock.lock();
  sw.heap->lock().lock();
  sw.heap->push_locked(&sw.timer);
  sw.heap->lock().unlock();
  w->sched.park(*w, sw.lock, detail::WaitReason::kSleep, &SleepWait::cancel, &sw);
}

}  // namespace

// Both are cancellation points even when they do not sleep.
void sleep_until(std::chrono::steady_clock::time_point deadline) {
  detail::cancellation_point();
  sleep_until_ns(detail::saturating_ns(deadline.time_since_epoch()).count());
}

void sleep_for(std::chrono::nanoseconds duration) {
  detail::cancellation_point();
  if (duration <= std::chrono::nanoseconds::zero()) return;
  sleep_until_ns(detail::deadline_after(detail::now_ns(), duration.count()));
}

std::uint64_t id() noexcept {
  Coroutine* g = detail::running_coroutine(detail::this_worker());
  return g != nullptr ? g->id : 0;
}

int worker() noexcept {
  Worker* w = detail::this_worker();
  return w != nullptr ? w->index : -1;
}

}  // namespace corun::this_coroutine
