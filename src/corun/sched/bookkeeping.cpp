// bookkeeping.cpp: the scheduler's coroutine bookkeeping: spawning,
// descriptors (new, recycled, freed on exit), ids, the live count and the waits for it
// to reach zero (Runtime::wait(), shutdown). See "Shared counters" and
// "Runtime::wait() from a coroutine" in the essay at the top of
// scheduler.cpp.
#include <algorithm>
#include <exception>
#include <mutex>
#include <utility>
#include <vector>

#include "corun/errors.hpp"
#include "corun/preempt.hpp"
#include "corun/sched/scheduler.hpp"
#include "corun/sync/cancel.hpp"

namespace corun::detail {

namespace {

// Per-worker caches.
constexpr std::size_t kStackCacheMax = 64;
constexpr std::uint32_t kFreeGsMax = 256;
constexpr std::uint32_t kFreeGsBatch = 128;
// Batches of the shared counters taken per worker (Go's _GoidCacheBatch).
constexpr std::uint64_t kIdBatch = 16;
constexpr std::int64_t kLiveCreditBatch = 64;

}  // namespace

Coroutine* Scheduler::new_coroutine(Worker* w) {
  Coroutine* g = nullptr;
  if (w != nullptr) {
    // Refill the private list with a whole chain (Go's gfget).
    if (w->free_gs == nullptr) w->free_gs = free_depot_.take_chain(w->nfree_gs);
    if (w->free_gs != nullptr) {
      g = std::exchange(w->free_gs, w->free_gs->next);
      --w->nfree_gs;
    }
  } else {
    g = free_depot_.take_one();
  }
  if (g == nullptr) g = new Coroutine;
  g->next = nullptr;
  g->sched = this;
  g->started = false;
  g->cancelled = false;
  g->registered = false;
  g->wait_reason = WaitReason::kNone;
  g->cancel_fn = nullptr;
  g->cancel_ctx = nullptr;
  g->eh_state[0] = g->eh_state[1] = nullptr;
  g->state.store(CoState::kRunnable, std::memory_order_relaxed);
  return g;
}

void Scheduler::free_coroutine(Worker& w, Coroutine* g) noexcept {
  g->next = w.free_gs;
  w.free_gs = g;
  if (++w.nfree_gs < kFreeGsMax) return;
  // Keep the most recently freed (warm in this CPU's cache) and hand the
  // older kFreeGsBatch to the depot as one chain (Go's gfput).
  const std::uint32_t keep = kFreeGsMax - kFreeGsBatch;
  Coroutine* last_kept = g;
  for (std::uint32_t i = 1; i < keep; ++i) last_kept = last_kept->next;
  Coroutine* given = std::exchange(last_kept->next, nullptr);
  w.nfree_gs = keep;
  free_depot_.put_chain(given, kFreeGsBatch);
}

// spawn() lives here with the descriptor, id and live-count helpers it
// calls, so that they inline into it (the release build has no IPO).
std::uint64_t Scheduler::spawn(Closure&& body) {
  Worker* w = this_worker();
  if (w != nullptr && &w->sched != this) w = nullptr;  // a worker of another runtime
  if (w == nullptr) attach_thread(this);
  Coroutine* g = new_coroutine(w);
  g->body = std::move(body);
  g->id = next_id(w);
  count_spawn(w);
  std::uint64_t id = g->id;
  if (trace_) {
    Coroutine* parent = w != nullptr ? w->running_coroutine() : nullptr;
    trace_->record(
        w != nullptr ? w->index : -1,
        {.coroutine = id, .arg = parent != nullptr ? parent->id : 0, .kind = TraceKind::kSpawn});
  }
  if (w != nullptr) {
    w->put(g, /*next=*/true);
  } else {
    global_.push(g);
  }
  wakep();
  // Spawning is a preemption point: a coroutine spawning in a loop lets the
  // ones it spawned run (and recycle) once its time slice is over.
  if (w != nullptr && t_preempt_requested.load(std::memory_order_relaxed)) {
    t_preempt_requested.store(false, std::memory_order_relaxed);
    preempt(*w, /*from_signal=*/false);
  }
  return id;
}

void Scheduler::on_exit(Worker& w, Coroutine* g) noexcept {
  g->state.store(CoState::kDead, std::memory_order_relaxed);
  if (g->registered) registry_.remove(g);
  sanitizer::fiber_destroyed(g);
  if (g->started) {
#if !defined(CORUN_CONTEXT_UCONTEXT)
    // Its frames lie between its saved stack pointer and the top.
    sanitizer::stack_released(std::max(static_cast<char*>(g->ctx.sp) - 256, g->stack.base),
                              g->stack.top());
#endif
    w.stack_cache.push_back(g->stack);
    if (w.stack_cache.size() > kStackCacheMax)
      stacks_.release_batch(w.stack_cache, kStackCacheMax / 2);
    g->stack = Stack{};
  }
  free_coroutine(w, g);
  count_exit(w);
}

// next_id(): a worker hands out ids from its own batch (Go's goidcache).
std::uint64_t Scheduler::next_id(Worker* w) noexcept {
  if (w == nullptr) return next_id_.fetch_add(1, std::memory_order_relaxed);
  if (w->id_next == w->id_end) {
    w->id_next = next_id_.fetch_add(kIdBatch, std::memory_order_relaxed);
    w->id_end = w->id_next + kIdBatch;
  }
  return w->id_next++;
}

// The live count is live_ minus every worker's live_credit. A spawn on a
// worker takes one unit of the worker's credit, fetching a batch from live_
// when there is none (count_spawn); an exit adds one to the credit of the
// worker it ran on, giving back all but a batch when it has two
// (count_exit). So a busy worker touches the shared count once per batch,
// and it returns its credit (flush_live_credit) whenever it runs out of
// work. live_ can reach zero only in that flush: while any worker holds
// credit, live_ counts it. When every coroutine has finished, every worker
// finds no work and flushes, and the last flush takes live_ to zero and
// wakes wait_all().
void Scheduler::count_spawn(Worker* w) noexcept {
  if (w == nullptr) {
    live_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::int64_t credit = w->live_credit.load(std::memory_order_relaxed);
  if (credit == 0) {
    live_.fetch_add(kLiveCreditBatch, std::memory_order_relaxed);
    credit = kLiveCreditBatch;
  }
  w->live_credit.store(credit - 1, std::memory_order_relaxed);
}

void Scheduler::count_exit(Worker& w) noexcept {
  const std::int64_t credit = w.live_credit.load(std::memory_order_relaxed) + 1;
  if (credit <= 2 * kLiveCreditBatch) {
    w.live_credit.store(credit, std::memory_order_relaxed);
    return;
  }
  // live_ stays above zero: it still counts the batch kept.
  w.live_credit.store(kLiveCreditBatch, std::memory_order_relaxed);
  live_.fetch_sub(credit - kLiveCreditBatch, std::memory_order_relaxed);
}

void Scheduler::flush_live_credit(Worker& w) noexcept {
  const std::int64_t credit = w.live_credit.load(std::memory_order_relaxed);
  if (credit == 0) return;
  w.live_credit.store(0, std::memory_order_relaxed);
  live_sub(credit);
}

std::size_t Scheduler::live() const noexcept {
  const std::int64_t v = live_.load(std::memory_order_acquire);
  std::int64_t n = (v & kLiveMask) + (v >> kWaitingShift);
  for (const auto& w : workers_) n -= w->live_credit.load(std::memory_order_relaxed);
  return static_cast<std::size_t>(std::max<std::int64_t>(n, 0));
}

// live_sub(): when the count without the waiting coroutines reaches zero,
// every coroutine has finished, or all those left wait in wait_all().
void Scheduler::live_sub(std::int64_t n) noexcept {
  const std::int64_t left = live_.fetch_sub(n, std::memory_order_acq_rel) - n;
  if ((left & kLiveMask) != 0) return;
  all_done_lock_.lock();
  std::vector<Coroutine*> waiters = take_released_waiters_locked();
  all_done_lock_.unlock();
  for (Coroutine* waiter : waiters) unpark(waiter);
  if (left == 0) {
    std::lock_guard<std::mutex> lk(all_done_mu_);
    all_done_cv_.notify_all();
  }
}

// take_released_waiters_locked() (with all_done_lock_ held) returns the
// waiters whose wait is over. Re-checked under the lock: a spawn and a
// wait_all() may have come in since the count hit zero; that waiter is for
// the new coroutines. When only waiting coroutines are left, they are
// counted live again (in the same atomic step that uncounts them as
// waiting, so live_ never reads zero meanwhile) and released; the plain
// threads and other runtimes' coroutines wait on until they finish too.
std::vector<Coroutine*> Scheduler::take_released_waiters_locked() noexcept {
  std::vector<Coroutine*> released;
  const std::int64_t v = live_.load(std::memory_order_acquire);
  if ((v & kLiveMask) != 0) return released;
  if (v != 0) {
    const auto k = static_cast<std::int64_t>(own_waiters_.size());  // == v >> kWaitingShift
    live_.fetch_add(k - (k << kWaitingShift), std::memory_order_acq_rel);
    released.swap(own_waiters_);
  } else {
    released.swap(all_done_waiters_);
  }
  return released;
}

// wait_all(): a plain thread, or a coroutine of another runtime, waits
// until live_ is zero. A coroutine of this runtime waits for the others: it
// moves its own unit of live_ to the waiting count (kWaitingShift) while it
// waits, so the count without waiters reaches zero once every coroutine
// that is not waiting has finished. All of that happens under
// all_done_lock_, so the waiting count is always own_waiters_.size() there.
void Scheduler::wait_all() {
  Worker* w = this_worker();
  Coroutine* g = w != nullptr ? w->running_coroutine() : nullptr;
  if (g == nullptr) {
    attach_thread(this);
  } else {
    cancellation_point();  // of the caller's own runtime
  }
  all_done_lock_.lock();
  if (g != nullptr && &w->sched == this) {
    own_waiters_.push_back(g);
    const std::int64_t v =
        live_.fetch_add((std::int64_t{1} << kWaitingShift) - 1, std::memory_order_acq_rel) +
        (std::int64_t{1} << kWaitingShift) - 1;
    if ((v & kLiveMask) == 0) {  // the others have finished already
      std::vector<Coroutine*> released = take_released_waiters_locked();
      all_done_lock_.unlock();
      for (Coroutine* waiter : released) {
        if (waiter != g) unpark(waiter);
      }
      return;
    }
    detail::park(all_done_lock_, WaitReason::kRuntimeWait, &Scheduler::cancel_wait_all, this);
    // Released during shutdown (the others were cancelled first): the wait
    // still ends in Cancelled, as when the sweep reaches this one first.
    if (shutting_down() && std::uncaught_exceptions() == 0) throw Cancelled{};
    return;
  }
  if (live_.load(std::memory_order_acquire) == 0) {
    all_done_lock_.unlock();
    return;
  }
  all_done_waiters_.push_back(current_waiter());
  // (A plain thread's wait is not cancelled: the hook is for coroutines.)
  detail::park(all_done_lock_, WaitReason::kRuntimeWait, &Scheduler::cancel_wait_all, this);
}

// cancel_wait_all(): the cancel hook of a coroutine in wait_all(), run when
// its runtime (this one, or another) shuts down.
bool Scheduler::cancel_wait_all(Coroutine* g, void* self) noexcept {
  auto* s = static_cast<Scheduler*>(self);
  s->all_done_lock_.lock();
  bool found = false;
  if (auto it = std::find(s->own_waiters_.begin(), s->own_waiters_.end(), g);
      it != s->own_waiters_.end()) {
    s->own_waiters_.erase(it);
    // Counted live again: it unwinds and exits as any other.
    s->live_.fetch_add(1 - (std::int64_t{1} << kWaitingShift), std::memory_order_acq_rel);
    found = true;
  } else if (auto jt = std::find(s->all_done_waiters_.begin(), s->all_done_waiters_.end(), g);
             jt != s->all_done_waiters_.end()) {
    s->all_done_waiters_.erase(jt);
    found = true;
  }
  s->all_done_lock_.unlock();
  return found;
}

}  // namespace corun::detail
