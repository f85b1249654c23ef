// select.cpp: select_impl(), Go's selectgo (runtime/select.go).
//
// 1. Poll: lock every channel of the select, in address order (duplicates
//    once), so two selects over the same channels never deadlock; visit the
//    cases in a random order (Go's pollorder: fairness) and take the first
//    that can proceed now (the channel's own send_locked/recv_locked).
// 2. Block: queue one waiter per case, all sharing one SelectWait, and park
//    with the channels still locked. park()'s commit step (Go's
//    selparkcommit) releases them once the select is fully parked, and arms
//    the timeout, so no waker can find the select half-parked. Every waker
//    claims the select (a CAS on `done`, which exactly one party wins) and
//    finishes its transfer under the channel's lock before it unparks.
// 3. Wake: lock the channels again and unlink the waiters that are still
//    queued (a waker that lost the claim unlinks the one it found itself).
//
// I/O cases (corun::readable/writable, io/select_io.hpp) join the poll
// order beside the channel cases, are taken in the poll pass when their
// descriptor is known ready, and otherwise put a waiter in their PollDesc's
// slot under its lock, held with the channels' until the commit step; the
// poller and close() claim the select like any waker.
//
// The timeout is a Timer on the worker's TimerHeap whose firing claims the
// select like any waker. A plain thread has no worker: park() waits on its
// futex with a deadline instead, and the thread claims the select itself
// when it expires.
#include "corun/select.hpp"

#include <algorithm>
#include <cstdint>

#include "corun/detail/deadline.hpp"
#include "corun/io/select_io.hpp"
#include "corun/sched/coroutine.hpp"
#include "corun/sched/scheduler.hpp"
#include "corun/sched/wait_timer.hpp"
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

// unlock_all() releases in reverse lock order, as Go's selunlock: as the
// commit step of a parked select, the last lock it releases may let a waker
// resume the select, which returns and reuses the stack that `cases` and
// `order` live on. Until then the resumed select waits in lock_all() for the
// first channel in lock order, released last; so nothing is read after the
// last unlock (a repeated channel is released at its first entry).
void unlock_all(const SelectCase* cases, const std::uint16_t* order, std::size_t m) noexcept {
  for (std::size_t k = m; k-- > 0;) {
    ChanCore* c = cases[order[k]].chan;
    if (k > 0 && cases[order[k - 1]].chan == c) continue;
    c->lock().unlock();
  }
}

// SelectTimer: the timeout of a select blocked in a coroutine
// (wait_timer.hpp).
struct SelectTimer : WaitTimer {
  SelectWait* sel = nullptr;

  static void on_fire(Timer* t) {
    auto* self = static_cast<SelectTimer*>(t);
    SelectWait* sel = self->sel;
    Coroutine* g = t->waiter;
    if (!sel->try_claim()) {
      self->done_firing();  // last touch of `self`
      return;
    }
    sel->fired = nullptr;
    sel->timed_out = true;
    unpark(g);  // armed by the commit step: g is fully parked
  }
};

// Parked: what park()'s callbacks share (the commit step, shutdown's
// cancel, a plain thread's deadline).
struct Parked {
  const SelectCase* cases;
  const std::uint16_t* lockorder;
  std::size_t m;
  IoCases* io;
  SelectWait* sel;
  SelectTimer* timer;  // null: no timeout, or a plain thread's

  // commit(): the select is fully parked: start the timeout, let wakers in
  // (the channels last: see unlock_all()).
  static void commit(void* ctx) noexcept {
    auto* p = static_cast<Parked*>(ctx);
    if (p->timer != nullptr) p->timer->arm(this_worker()->timers);
    const SelectCase* cases = p->cases;
    const std::uint16_t* lockorder = p->lockorder;
    const std::size_t m = p->m;
    p->io->unlock();  // without channels, its last unlock is the last touch
    unlock_all(cases, lockorder, m);
  }

  // cancel(): shutdown claims the select (false: a waker won and will
  // unpark it). Under the channels' locks, hence after the commit step: the
  // runtime requeues the select only once it is fully parked. Its waiters
  // are unlinked by the select itself, as it unwinds.
  static bool cancel(Coroutine*, void* ctx) noexcept {
    auto* p = static_cast<Parked*>(ctx);
    lock_all(p->cases, p->lockorder, p->m);
    p->io->lock();
    const bool claimed = p->sel->try_claim();
    if (claimed) p->sel->fired = nullptr;
    p->io->unlock();
    unlock_all(p->cases, p->lockorder, p->m);
    return claimed;
  }

  // expire(): a plain thread's deadline passed.
  static bool expire(void* ctx) noexcept {
    SelectWait* sel = static_cast<Parked*>(ctx)->sel;
    if (!sel->try_claim()) return false;  // a waker claimed it first
    sel->fired = nullptr;
    sel->timed_out = true;
    return true;
  }
};

}  // namespace

SelectResult select_impl(SelectCase* cases, ChanWaiter* waiters, std::uint16_t* scratch,
                         std::size_t n, SelectIoCase* io_cases, std::size_t n_io, bool has_default,
                         std::int64_t timeout_ns) {
  cancellation_point();
  std::uint16_t* pollorder = scratch;             // channel and I/O cases
  std::uint16_t* lockorder = scratch + n + n_io;  // channel cases
  IoCases io(io_cases, n_io, lockorder + n);      // I/O cases: n_io more
  const auto io_index = [n](std::size_t j) { return static_cast<int>(n + j); };

  // Cases on nil channels are left out: they can never proceed. I/O case j
  // is n + j in the poll order.
  std::size_t m = 0;
  std::size_t polled = 0;
  for (std::size_t i = 0; i < n + n_io; ++i) {
    if (i < n && cases[i].chan == nullptr) continue;
    // Fisher-Yates, inside-out: put case i at a random position so far.
    const std::uint32_t j = below(static_cast<std::uint32_t>(polled + 1));
    if (j != polled) pollorder[polled] = pollorder[j];
    pollorder[j] = static_cast<std::uint16_t>(i);
    ++polled;
  }
  // The lock order is the poll order sorted by channel: cases on one
  // channel keep their random order, which is the order their waiters are
  // queued in (as Go's, whose lock order is a heap sort of the poll order),
  // so a receiver does not always take the same one of them.
  for (std::size_t k = 0; k < polled; ++k) {
    if (pollorder[k] < n) lockorder[m++] = pollorder[k];
  }
  std::sort(lockorder, lockorder + m, [cases](std::uint16_t a, std::uint16_t b) {
    return std::less<const ChanCore*>{}(cases[a].chan, cases[b].chan);
  });

  // A readiness that proves stale (an event collected before the select
  // read the data it announced) sends the select round again, up to its
  // deadline: an I/O case is taken only when its call would not block.
  const std::int64_t when = timeout_ns > 0 ? deadline_after(now_ns(), timeout_ns) : 0;
  for (bool again = false;; again = true) {
    // 1. Poll.
    io.probe(has_default || timeout_ns == 0);
    lock_all(cases, lockorder, m);
    for (std::size_t k = 0; k < polled; ++k) {
      const std::uint16_t i = pollorder[k];
      if (i >= n) {
        if (!io.ready(i - n)) continue;
        unlock_all(cases, lockorder, m);
        return {static_cast<int>(i), true};
      }
      SelectCase& sc = cases[i];
      ChanWaiter* woken = nullptr;
      const ChanStatus st = sc.is_send ? sc.chan->send_locked(sc.elem, &woken)
                                       : sc.chan->recv_locked(sc.elem, &woken);
      if (st == ChanStatus::kWouldBlock) continue;
      unlock_all(cases, lockorder, m);
      if (woken != nullptr) ChanCore::wake(woken);
      if (sc.is_send && st == ChanStatus::kClosed) ChanCore::throw_send_on_closed();
      return {i, st == ChanStatus::kOk};
    }
    if (has_default || timeout_ns == 0 || (again && timeout_ns > 0 && now_ns() >= when)) {
      unlock_all(cases, lockorder, m);
      return {has_default ? kSelectDefault : kSelectTimeout, false};
    }

    // 2. Block. The I/O cases first: one may have become ready since.
    Coroutine* self = current_waiter();
    SelectWait sel;
    io.lock();
    std::size_t ready_now;
    try {
      ready_now = io.enroll(&sel, self);
    } catch (...) {
      unlock_all(cases, lockorder, m);
      throw;
    }
    if (ready_now != SIZE_MAX) {  // an event came since the poll pass
      unlock_all(cases, lockorder, m);
      continue;
    }
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

    SelectTimer timer;
    Parked parked{cases, lockorder, m, &io, &sel, nullptr};
    ThreadDeadline deadline{};
    const ThreadDeadline* thread_deadline = nullptr;
    if (timeout_ns > 0) {
      if (self->is_thread) {
        deadline = {when, &Parked::expire, &parked};
        thread_deadline = &deadline;
      } else {
        timer.when = when;
        timer.fire = &SelectTimer::on_fire;
        timer.waiter = self;
        timer.sel = &sel;
        parked.timer = &timer;
      }
    }
    // 3. Wake: unlink what is still queued, stop the timer.
    auto cleanup = [&]() noexcept {
      lock_all(cases, lockorder, m);
      for (std::size_t k = 0; k < m; ++k) {
        ChanWaiter& w = waiters[lockorder[k]];
        w.chan->remove_locked(&w);
      }
      unlock_all(cases, lockorder, m);
      io.withdraw();
      if (!sel.timed_out) timer.disarm();
    };
    const WaitReason reason = n_io > 0 ? WaitReason::kSelectIO : WaitReason::kSelect;
    try {
      park(&Parked::commit, &parked, reason, &Parked::cancel, &parked, thread_deadline);
    } catch (...) {
      cleanup();
      throw;
    }
    cleanup();

    if (sel.timed_out) return {kSelectTimeout, false};
    ChanWaiter* w = sel.fired;
    if (w == nullptr) {  // the poller or a close() claimed it
      const std::size_t j = io.fired();
      if (io.confirm(j)) return {io_index(j), true};
      continue;
    }
    if (w->is_send && !w->success) ChanCore::throw_send_on_closed();  // closed while waiting
    return {static_cast<int>(w - waiters), w->success};
  }
}

}  // namespace corun::detail
