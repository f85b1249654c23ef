// park.cpp: park()/unpark() (see corun/detail/park.hpp) and the
// this_coroutine functions built directly on the scheduler.
#include "corun/detail/park.hpp"

#include <chrono>
#include <thread>

#include "corun/detail/deadline.hpp"
#include "corun/errors.hpp"
#include "corun/os/futex.hpp"
#include "corun/sched/coroutine.hpp"
#include "corun/sched/scheduler.hpp"
#include "corun/sched/wait_timer.hpp"
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
    case WaitReason::kIOWait:
      return "I/O wait";
    case WaitReason::kSelectIO:
      return "select (I/O)";
  }
  return "unknown";
}

Coroutine* current_waiter() noexcept {
  Coroutine* g = running_coroutine(this_worker());
  return g != nullptr ? g : &thread_standin();
}

std::uint64_t waiter_id(const Coroutine* w) noexcept { return w->is_thread ? 0 : w->id; }

namespace {

// park_thread() is park() for a plain thread: it blocks on the stand-in's
// futex word. Out of line, so that a coroutine's park() stays small.
__attribute__((noinline)) void park_thread(ParkCommit commit, void* commit_ctx, WaitReason reason,
                                           const ThreadDeadline* deadline) {
  ThreadWaiter& t = thread_standin();
  t.wait_reason = reason;
  t.futex_word.store(0, std::memory_order_relaxed);
  Scheduler* s = deadline == nullptr ? attached_scheduler() : nullptr;
  t.blocked_in = s;
  if (s != nullptr) s->external_block_begin();
  t.state.store(CoState::kParked, std::memory_order_release);
  commit(commit_ctx);
  if (s != nullptr) s->maybe_check_deadlock();
  while (t.futex_word.load(std::memory_order_acquire) == 0) {
    if (deadline == nullptr) {
      futex_wait(t.futex_word, 0);
      continue;
    }
    const std::int64_t left = deadline->when - now_ns();
    if (left > 0) {
      futex_wait(t.futex_word, 0, left);
      continue;
    }
    if (deadline->expire(deadline->ctx)) {
      t.state.store(CoState::kRunnable, std::memory_order_relaxed);
      break;
    }
    deadline = nullptr;  // a waker won: it is about to unpark this thread
  }
  t.wait_reason = WaitReason::kNone;
}

}  // namespace

void park(ParkCommit commit, void* commit_ctx, WaitReason reason, CancelFn cancel, void* cancel_ctx,
          const ThreadDeadline* deadline) {
  const ParkArgs args{commit, commit_ctx, reason, cancel, cancel_ctx};
  Worker* w = this_worker();
  if (running_coroutine(w) != nullptr) {
    w->sched.park(*w, args);
    return;
  }
  park_thread(commit, commit_ctx, reason, deadline);
}

void park_forever(WaitReason reason) {
  SpinLock lock;
  lock.lock();
  // Shutdown's cancel: requeue it only once it is fully parked (the commit
  // releases `lock` after the switch), not before its registers are saved.
  park(
      lock, reason,
      [](Coroutine*, void* l) noexcept {
        static_cast<SpinLock*>(l)->lock();
        static_cast<SpinLock*>(l)->unlock();
        return true;
      },
      &lock);
  // Only shutdown wakes a coroutine, and park() then throws Cancelled; a
  // plain thread is never woken.
  throw Cancelled{};
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

// SleepWait: a sleeping coroutine's timer, armed by park()'s commit step
// (Go's resetForSleep), so it cannot fire before the sleeper is fully parked.
struct SleepWait {
  detail::WaitTimer timer;  // its heap set before the park (see push())

  static void arm(void* ctx) noexcept { static_cast<SleepWait*>(ctx)->timer.push(); }

  static void fire(detail::Timer* t) { detail::unpark(t->waiter); }  // `t` may be gone then

  // cancel(): false when the timer fired (it wakes the sleeper) or is not
  // armed yet (the next shutdown sweep tries again).
  static bool cancel(Coroutine*, void* ctx) noexcept {
    return static_cast<SleepWait*>(ctx)->timer.try_remove();
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
  // The commit runs on this worker, right after the switch; shutdown's
  // cancel may read the heap from another thread before it does.
  sw.timer.heap = &w->timers;
  detail::park(&SleepWait::arm, &sw, detail::WaitReason::kSleep, &SleepWait::cancel, &sw);
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
