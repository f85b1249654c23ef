// select.cpp: select_impl(), Go's selectgo (runtime/select.go).
//
// 1. Poll: lock every channel of the select, in address order (duplicates
//    once), so two selects over the same channels never deadlock; visit the
//    cases in a random order (Go's pollorder: fairness) and take the first
//    that can proceed now.
// 2. Block: queue one waiter per case, all sharing one SelectWait, arm the
//    timeout, release the channels and park. A select parks holding only its
//    own SelectWait::lock (park() releases one lock): the channels are
//    released first, so a waker may find a waiter before the select is fully
//    parked. Every waker therefore claims the select (a CAS on `done`, which
//    exactly one party wins), finishes its transfer under the channel's lock,
//    and takes and releases SelectWait::lock before unpark(): that lock is
//    released only once the select has switched out.
// 3. Wake: lock the channels again and unlink the waiters that are still
//    queued (a waker that lost the claim unlinks the one it found itself).
//
// The timeout is a Timer on the worker's TimerHeap whose firing claims the
// select like any waker. A plain thread has no worker: it waits on its futex
// with a deadline instead and claims the select itself when it expires.
#include "corun/select.hpp"

#include <algorithm>
#include <cstdint>

#include "corun/detail/deadline.hpp"
#include "corun/os/futex.hpp"
#include "corun/sched/coroutine.hpp"
#include "corun/sched/scheduler.hpp"
#include "corun/sched/timer_heap.hpp"
#include "corun/sync/cancel.hpp"

namespace corun::detail {

namespace {

// cheap_rand() is a per-thread xorshift64 (Go's per-M cheaprand): select's
// shuffle needs speed and uniformity, not secrecy. Not inlined: a coroutine
// may resume on another thread, and the thread-local's address must not be
// cached across a switch.
__attribute__((noinline)) std::uint32_t cheap_rand() noexcept {
  thread_local std::uint64_t state = [] {
    // splitmix64 of the clock and this thread's address: distinct per thread.
    std::uint64_t z = static_cast<std::uint64_t>(now_ns()) ^
                      reinterpret_cast<std::uintptr_t>(&state) * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return z != 0 ? z : 1;
  }();
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return static_cast<std::uint32_t>(state >> 32);
}

// below(n) is uniform in [0, n) (Lemire's multiply-shift).
std::uint32_t below(std::uint32_t n) noexcept {
  return static_cast<std::uint32_t>((static_cast<std::uint64_t>(cheap_rand()) * n) >> 32);
}

void lock_all(const SelectCase* cases, const std::uint16_t* order, std::size_t m) noexcept {
  ChanCore* last = nullptr;
  for (std::size_t k = 0; k < m; ++k) {
    ChanCore* c = cases[order[k]].chan;
    if (c != last) c->lock().lock();
    last = c;
  }
}

void unlock_all(const SelectCase* cases, const std::uint16_t* order, std::size_t m) noexcept {
  ChanCore* last = nullptr;
  for (std::size_t k = 0; k < m; ++k) {
    ChanCore* c = cases[order[k]].chan;
    if (c != last) c->lock().unlock();
    last = c;
  }
}

// SelectTimer: the timeout of a select blocked in a coroutine.
struct SelectTimer : Timer {
  SelectWait* sel = nullptr;
  TimerHeap* heap = nullptr;
  // Set when a firing that lost the claim is done with this timer.
  std::atomic<bool> fire_done{false};

  static void on_fire(Timer* t) {
    auto* self = static_cast<SelectTimer*>(t);
    SelectWait* sel = self->sel;
    Coroutine* g = t->waiter;
    if (!sel->try_claim()) {
      self->fire_done.store(true, std::memory_order_release);  // last touch of `self`
      return;
    }
    sel->fired = nullptr;
    sel->timed_out = true;
    sel->lock.lock();  // wait until the select is fully parked
    sel->lock.unlock();
    unpark(g);
  }

  void arm(Coroutine* g, std::int64_t timeout_ns) {
    when = deadline_after(now_ns(), timeout_ns);
    fire = &SelectTimer::on_fire;
    waiter = g;
    heap = &this_worker()->timers;
    heap->lock().lock();
    heap->push_locked(this);
    heap->lock().unlock();
  }

  // disarm() returns once the timer can no longer touch the select: removed
  // from its heap, or its (losing) firing finished.
  void disarm() noexcept {
    heap->lock().lock();
    const bool removed = heap->remove_locked(this);
    heap->lock().unlock();
    if (removed) return;
    // Popped by a worker that is firing it right now (a firing never
    // switches coroutines, so this wait is short).
    while (!fire_done.load(std::memory_order_acquire)) cpu_relax();
  }
};

bool cancel_select(Coroutine*, void* ctx) noexcept {
  auto* sel = static_cast<SelectWait*>(ctx);
  if (!sel->try_claim()) return false;  // a waker won: it will unpark
  sel->fired = nullptr;
  sel->lock.lock();  // the runtime may requeue it only once it is fully parked
  sel->lock.unlock();
  return true;  // its waiters are unlinked by the select itself, as it unwinds
}

// park_thread_until() is park() for a plain thread with a deadline: the
// thread claims the select itself when the deadline passes. A thread that
// will wake by itself is not counted as blocked for deadlock detection.
void park_thread_until(Coroutine* waiter, SelectWait& sel, std::int64_t deadline) {
  auto* t = static_cast<ThreadWaiter*>(waiter);
  t->wait_reason = WaitReason::kSelect;
  t->futex_word.store(0, std::memory_order_relaxed);
  t->blocked_in = nullptr;
  t->state.store(CoState::kParked, std::memory_order_release);
  sel.lock.unlock();
  for (;;) {
    if (t->futex_word.load(std::memory_order_acquire) != 0) break;
    const std::int64_t left = deadline - now_ns();
    if (left > 0) {
      futex_wait(t->futex_word, 0, left);
      continue;
    }
    if (sel.try_claim()) {
      sel.fired = nullptr;
      sel.timed_out = true;
      t->state.store(CoState::kRunnable, std::memory_order_relaxed);
      break;
    }
    // A waker claimed it first and is about to unpark this thread.
    while (t->futex_word.load(std::memory_order_acquire) == 0) futex_wait(t->futex_word, 0);
    break;
  }
  t->wait_reason = WaitReason::kNone;
}

}  // namespace

[[noreturn]] void select_no_cases() {
  SpinLock lock;
  lock.lock();
  // Shutdown's cancel: requeue it only once it is fully parked (park
  // releases `lock` after the switch), not before its registers are saved.
  park(
      lock, WaitReason::kSelectNoCases,
      [](Coroutine*, void* l) noexcept {
        static_cast<SpinLock*>(l)->lock();
        static_cast<SpinLock*>(l)->unlock();
        return true;
      },
      &lock);
  throw Cancelled{};  // only shutdown ends it, and park() then throws
}

SelectResult select_impl(SelectCase* cases, ChanWaiter* waiters, std::uint16_t* scratch,
                         std::size_t n, bool has_default, std::int64_t timeout_ns) {
  cancellation_point();
  std::uint16_t* pollorder = scratch;
  std::uint16_t* lockorder = scratch + n;

  // Cases on nil channels are left out: they can never proceed.
  std::size_t m = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (cases[i].chan == nullptr) continue;
    // Fisher-Yates, inside-out: put case i at a random position so far.
    const std::uint32_t j = below(static_cast<std::uint32_t>(m + 1));
    if (j != m) pollorder[m] = pollorder[j];
    pollorder[j] = static_cast<std::uint16_t>(i);
    ++m;
  }
  std::copy(pollorder, pollorder + m, lockorder);
  std::sort(lockorder, lockorder + m, [cases](std::uint16_t a, std::uint16_t b) {
    return std::less<const ChanCore*>{}(cases[a].chan, cases[b].chan);
  });

  // 1. Poll.
  lock_all(cases, lockorder, m);
  for (std::size_t k = 0; k < m; ++k) {
    const std::uint16_t i = pollorder[k];
    SelectCase& sc = cases[i];
    ChanCore* c = sc.chan;
    if (sc.is_send) {
      if (c->closed_locked()) {
        unlock_all(cases, lockorder, m);
        ChanCore::throw_send_on_closed();
      }
      if (ChanWaiter* r = c->take_receiver_locked()) {
        c->send_to_locked(r, sc.elem);
        unlock_all(cases, lockorder, m);
        ChanCore::wake(r);
        return {i, true};
      }
      if (c->can_buffer_locked()) {
        c->buffer_put_locked(sc.elem);
        unlock_all(cases, lockorder, m);
        return {i, true};
      }
    } else {
      if (!c->closed_locked()) {
        if (ChanWaiter* s = c->take_sender_locked()) {
          c->recv_from_locked(s, sc.elem);
          unlock_all(cases, lockorder, m);
          ChanCore::wake(s);
          return {i, true};
        }
      }
      if (c->has_buffered_locked()) {
        c->buffer_take_locked(sc.elem);
        unlock_all(cases, lockorder, m);
        return {i, true};
      }
      if (c->closed_locked()) {
        unlock_all(cases, lockorder, m);
        return {i, false};
      }
    }
  }
  if (has_default || timeout_ns == 0) {
    unlock_all(cases, lockorder, m);
    return {has_default ? kSelectDefault : kSelectTimeout, false};
  }

  // 2. Block.
  Coroutine* self = current_waiter();
  SelectWait sel;
  sel.lock.lock();
  for (std::size_t k = 0; k < m; ++k) {
    const std::uint16_t i = lockorder[k];
    ChanWaiter& w = waiters[i];
    w.g = self;
    w.elem = cases[i].elem;
    w.sel = &sel;
    w.chan = cases[i].chan;
    w.is_send = cases[i].is_send;
    w.chan->enqueue_locked(&w);
  }
  unlock_all(cases, lockorder, m);

  const bool on_thread = self->is_thread;
  SelectTimer timer;
  const bool timed = timeout_ns > 0;
  // 3. Wake: unlink what is still queued, stop the timer.
  auto cleanup = [&]() noexcept {
    lock_all(cases, lockorder, m);
    for (std::size_t k = 0; k < m; ++k) {
      ChanWaiter& w = waiters[lockorder[k]];
      w.chan->remove_locked(&w);
    }
    unlock_all(cases, lockorder, m);
    if (timed && !on_thread && !sel.timed_out) timer.disarm();
  };
  try {
    if (timed && on_thread) {
      park_thread_until(self, sel, deadline_after(now_ns(), timeout_ns));
    } else {
      if (timed) {
        timer.sel = &sel;
        timer.arm(self, timeout_ns);
      }
      park(sel.lock, WaitReason::kSelect, &cancel_select, &sel);
    }
  } catch (...) {
    cleanup();
    throw;
  }
  cleanup();

  if (sel.timed_out) return {kSelectTimeout, false};
  ChanWaiter* w = sel.fired;
  if (w->is_send && !w->success) ChanCore::throw_send_on_closed();  // closed while waiting
  return {static_cast<int>(w - waiters), w->success};
}

}  // namespace corun::detail
