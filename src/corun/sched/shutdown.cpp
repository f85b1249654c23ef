// shutdown.cpp: how the scheduler ends: cancelling parked and running
// coroutines when the runtime is destroyed, stopping the workers, and the
// deadlock report when nothing can run again. See "Shutdown" and "Deadlock"
// in the essay at the top of scheduler.cpp.
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "corun/diag/fatal.hpp"
#include "corun/os/asymmetric_fence.hpp"
#include "corun/os/futex.hpp"
#include "corun/sched/monitor.hpp"
#include "corun/sched/scheduler.hpp"

namespace corun::detail {

void Scheduler::cancel_parked() noexcept {
  // Pin each parked g under its shard's lock, run the cancel hooks after
  // releasing it. A hook takes its wait's lock (a channel's, a Mutex's, ...),
  // and a coroutine parking for the first time holds that lock while it
  // registers in its shard (park() -> register_live()): hooks run under the
  // shard's lock would deadlock with it.
  std::vector<Coroutine*> pinned;
  for (std::uint32_t s = 0; s < registry_.shards(); ++s) {
    registry_.visit_shard(s, [&](Coroutine* g) {
      // Pin g parked while its cancel hook runs: the hook's context lives on
      // g's stack, so a waker that dequeued g meanwhile must not let it run
      // on (and return from its wait) before the hook is done: ready() waits
      // for kCancelling to end. A pinned g cannot run, so it cannot finish
      // and leave the shard either.
      if (try_pin(g)) pinned.push_back(g);
    });
    for (Coroutine* g : pinned) cancel_pinned(g);
    pinned.clear();
  }
}

// request_cancellation() sets every worker thread's preempt flag, which the
// running coroutine's next cancellation point (cancel.hpp) or preempt_point()
// turns into Cancelled: a coroutine that never parks is cancelled there. A
// switch clears the flag (it was for the coroutine switched away from), so
// each sweep sets it again.
void Scheduler::request_cancellation() noexcept {
  for (auto& w : workers_) {
    std::atomic<bool>* flag = w->preempt_flag.load(std::memory_order_acquire);
    if (flag != nullptr) flag->store(true, std::memory_order_relaxed);
  }
}

// try_pin(): g goes kParked -> kCancelling; false when it is not parked.
bool Scheduler::try_pin(Coroutine* g) noexcept {
  CoState parked = CoState::kParked;
  return g->state.compare_exchange_strong(parked, CoState::kCancelling, std::memory_order_acq_rel);
}

// cancel_pinned(): g is pinned (kCancelling). Run its cancel hook, unpin it,
// and if the hook took it off its wait queue, wake it to throw Cancelled (a
// hook that found it gone lost to a waker, which wakes it instead).
void Scheduler::cancel_pinned(Coroutine* g) noexcept {
  const bool removed = g->cancel_fn != nullptr && !g->cancelled && g->cancel_fn(g, g->cancel_ctx);
  // Marked before the unpin: the sweep and g's own worker may each pin g in
  // turn, and the second must see that the first cancelled it.
  if (removed) g->cancelled = true;
  g->state.store(CoState::kParked, std::memory_order_release);
  if (removed) ready(g);
}

// cancel_after_park(): a coroutine that parks during shutdown is cancelled
// at once by its own worker, right after the switch. Left to the sweep alone
// (every 2 ms, from another thread), coroutines that keep waking each other
// took up to seconds to be caught parked and still queued: a channel
// ping-pong pair is inside a hand-off nearly all the time. g is pinned
// before its commit step runs (park.hpp), while no waker can find it yet, so
// it is still queued and cannot have run (and exited) meanwhile.
void Scheduler::cancel_after_park(Coroutine* g, ParkCommit commit, void* commit_ctx) noexcept {
  const bool pinned = try_pin(g);
  commit(commit_ctx);
  if (pinned) cancel_pinned(g);  // (not pinned: the sweep has it)
}

void Scheduler::shutdown() {
  if (stopping_.load(std::memory_order_acquire)) return;
  shutting_down_.store(true, std::memory_order_seq_cst);
  wait_for_fast_wakers();  // before cancel_parked() pins anything
  // Sweep until every coroutine has finished: unwinding code may block again.
  while (live_.load(std::memory_order_acquire) > 0) {
    request_cancellation();
    cancel_parked();
    std::unique_lock<std::mutex> lk(all_done_mu_);
    all_done_cv_.wait_for(lk, std::chrono::milliseconds(2),
                          [&] { return live_.load(std::memory_order_acquire) == 0; });
  }
  // A waker from outside may still be on its way out of ready_from_outside().
  while (outside_wakers_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
  monitor_.reset();
  stop_workers();
  if (attached_scheduler() == this) attach_thread(nullptr);
}

// stop_workers() ends the worker threads' loops and the spare threads, and
// joins those that were started (all of them, unless starting one failed).
// A blocking call has no coroutine left in it by now (shutdown waited for
// them all to finish), so every thread runs a worker or is a spare.
void Scheduler::stop_workers() noexcept {
  stopping_.store(true, std::memory_order_seq_cst);
  for (auto& w : workers_) {
    w->wake_word.store(1, std::memory_order_release);
    futex_wake(w->wake_word);
  }
  // First the poller: a worker blocked in it, on a spare thread too, must
  // see stopping_ before stop() joins that thread.
  netpoll_.interrupt();
  spares_.stop();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

// wait_for_fast_wakers(): after it, every ready() that took the plain path
// has stored, and every later one sees shutting_down_ (see ready()).
void Scheduler::wait_for_fast_wakers() noexcept {
  if (!fast_ready_) return;
  asymmetric_fence::heavy();
  for (auto& w : workers_) {
    w->readying.wait_out();
  }
}

// ---------------------------------------------------------------------------
// Plain threads blocked in corun waits, and deadlock detection

void Scheduler::maybe_check_deadlock() noexcept {
  if (nidle_.load(std::memory_order_seq_cst) == config_.procs) check_deadlock();
}

void Scheduler::check_deadlock() noexcept {
  if (!config_.detect_deadlock || shutting_down()) return;
  std::lock_guard<std::mutex> lk(deadlock_mu_);
  if (external_blocked_.load(std::memory_order_seq_cst) == 0) return;
  if (netpoll_.waiting()) return;  // I/O from outside may still wake a coroutine
  for (const auto& w : workers_) {
    if (w->io_ring.lagging()) return;  // a batched call will still complete
  }
  if (nidle_.load(std::memory_order_seq_cst) != config_.procs) return;
  // A coroutine in a blocking call is not asleep: the call will return.
  if (blocked_calls_.load(std::memory_order_seq_cst) != 0) return;
  if (any_work_visible() || any_timer_pending()) return;
  // Everything is asleep. Confirm once more after the workers' state settled.
  idle_lock_.lock();
  const bool all_idle = nidle_.load(std::memory_order_seq_cst) == config_.procs;
  idle_lock_.unlock();
  if (!all_idle || any_work_visible() || any_timer_pending() ||
      external_blocked_.load(std::memory_order_seq_cst) == 0 ||
      blocked_calls_.load(std::memory_order_seq_cst) != 0) {
    return;
  }
  report_deadlock();
}

void Scheduler::report_deadlock() noexcept {
  std::string report = "fatal error: all coroutines are asleep - deadlock!\n";
  std::size_t listed = 0, total = 0;
  constexpr std::size_t kMaxListed = 100;
  registry_.visit([&](Coroutine* g) {
    ++total;
    if (listed++ < kMaxListed) {
      report += "\ncoroutine " + std::to_string(g->id) + " [" + to_string(g->wait_reason) + "]";
    }
  });
  if (total > kMaxListed) report += "\n... and " + std::to_string(total - kMaxListed) + " more";
  report += "\n\nthread [blocked in a corun wait]: waits forever\n";
  // The runtime sees only its own workers: name the way out for programs
  // whose other threads, or another runtime, will still wake a coroutine.
  report +=
      "\n(no coroutine of this runtime can run again; if a thread outside it, or another "
      "Runtime, will still wake one, set corun::Config::detect_deadlock = false)\n";
  fatal_raw(report.data(), report.size());
}

}  // namespace corun::detail
