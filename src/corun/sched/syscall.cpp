// syscall.cpp: corun::blocking() (include/corun/blocking.hpp) on the
// scheduler's side: a coroutine's thread leaving its worker for a blocking
// call and taking it back, and the monitor handing the worker of a long call
// to another thread. Go's entersyscall, exitsyscall, retake and handoffp are
// the model (runtime/proc.go).
//
// Each worker has a call word: 0, or the number of the blocking call its
// thread is in (Worker::blocking_call). Entering a call is a plain store of
// a fresh number (release: what the thread did with the worker before is
// then the monitor's to see), and the thread leaves the runtime
// (this_worker() is null inside the call). Two parties may end the call
// state, with a compare-and-swap of that number to 0, and exactly one wins:
//   - the thread, when the call returns: the worker is its own again, at
//     the cost of that one CAS;
//   - the monitor, when it found the same number at two looks at least
//     kRetakeAfterNs apart and the worker has something to do (Monitor::
//     check, should_retake): it gives the worker to a spare thread
//     (hand_off), which runs its scheduling loop on its own g0; the
//     coroutines queued there and the timers keep running.
// A thread that lost its worker is still running its coroutine, but owns
// no worker: it switches to its own g0 (resume_without_worker), which
// queues the coroutine on the global queue, wakes an idle worker for it,
// and parks the thread as a spare. The number is never reused, so a stale
// CAS fails.
//
// Deadlock detection: between the hand-off and the coroutine being queued
// again, no worker knows of the coroutine; blocked_calls_ counts those
// coroutines (the monitor adds before its CAS, the thread subtracts after
// the coroutine is queued), and no deadlock is reported while it is not 0.
// A coroutine whose thread is in a call and still holds its worker keeps
// the worker busy, which is enough.
#include <cstdint>

#include "corun/blocking.hpp"
#include "corun/os/thread_errno.hpp"
#include "corun/sched/machine.hpp"
#include "corun/sched/scheduler.hpp"
#include "corun/sched/spare_threads.hpp"

namespace corun::detail {

BlockingCall enter_blocking() noexcept {
  Worker* w = this_worker();
  if (w == nullptr || w->on_g0()) return {nullptr, nullptr, 0};
  // The system calls queued by the worker's coroutines go first: they
  // would wait for the call, or for the monitor.
  if (w->io_ring.busy()) [[unlikely]] {
    w->flush_io_ring();
  }
  // Nothing of w is read after the store: from then on the monitor may give
  // it to another thread.
  Coroutine* g = w->current;
  const std::uint64_t call = ++w->blocking_calls;
  set_this_worker(nullptr);
  w->blocking_call.store(call, std::memory_order_release);
  return {w, g, call};
}

void leave_blocking(const BlockingCall& c) noexcept {
  auto* w = static_cast<Worker*>(c.worker);
  std::uint64_t call = c.call;
  if (w->blocking_call.compare_exchange_strong(call, 0, std::memory_order_acq_rel,
                                               std::memory_order_relaxed)) [[likely]] {
    set_this_worker(w);
    return;
  }
  // The monitor gave the worker away; w->sched is fixed for life. The
  // coroutine goes on on whichever worker is free, maybe on another thread:
  // errno goes with it, as the call left it.
  const int err = thread_errno();
  w->sched.resume_without_worker(static_cast<Coroutine*>(c.coroutine));
  set_thread_errno(err);
}

// should_retake(): Go's rule. A worker whose thread is in a blocking call is
// handed to another thread when it has coroutines queued or timers set,
// when no other worker is idle or spinning to take new work, or when the
// call has lasted long (10 ms): then the worker will be needed, and the
// hand-off costs a thread wake-up once per call. A call that lasts less than
// one look of the monitor costs nothing beyond its CAS.
bool Scheduler::should_retake(Worker& w, std::int64_t call_ns) const noexcept {
  constexpr std::int64_t kLongCallNs = 10'000'000;
  return w.has_local_work() || !w.timers.empty() ||
         nidle_.load(std::memory_order_relaxed) + nspinning_.load(std::memory_order_relaxed) == 0 ||
         call_ns > kLongCallNs;
}

bool Scheduler::hand_off(Worker& w, std::uint64_t call) noexcept {
  Machine* m = spares_.take();
  if (m == nullptr) return false;  // no thread to give it to: the call keeps it
  blocked_calls_.fetch_add(1, std::memory_order_seq_cst);
  if (!w.blocking_call.compare_exchange_strong(call, 0, std::memory_order_acq_rel,
                                               std::memory_order_relaxed)) {
    blocked_calls_.fetch_sub(1, std::memory_order_seq_cst);
    SpareThreads::give(*m, nullptr);  // the call returned meanwhile
    return false;
  }
  // The worker is the monitor's until the spare thread has it: the run of
  // the coroutine in the call ends here on the worker's track.
  if (trace_) {
    trace_->record(w.index, {.coroutine = w.current->id,
                             .kind = TraceKind::kRunStop,
                             .reason = StopReason::kSyscall,
                             .wait = "syscall"});
  }
  SpareThreads::give(*m, &w);
  return true;
}

// resume_without_worker(): on the thread whose worker was taken, in the
// coroutine g whose call has returned. Switch to this thread's g0, which
// queues g (requeue_without_worker); g resumes on a worker, whose switch
// set up what follows it.
CORUN_NO_TSAN_FRAME void Scheduler::resume_without_worker(Coroutine* g) noexcept {
  Machine& m = *this_machine();
  m.orphan = g;
  eh_swap(m.eh_globals, g, &m.g0);
  sanitizer::start_switch(g, /*from_dies=*/false, &m.g0, m.g0_stack);
  context_switch(g->ctx, m.g0.ctx);
  sanitizer::finish_switch(g);
  run_post(*this_worker());
}

// requeue_without_worker(): on g0 of a thread that has no worker, for the
// coroutine it switched away from: g's registers are saved, so it may run
// elsewhere now.
void Scheduler::requeue_without_worker(Machine& m) noexcept {
  Coroutine* g = m.orphan;
  m.orphan = nullptr;
  if (trace_) trace_->record(-1, {.coroutine = g->id, .arg = 0, .kind = TraceKind::kUnblock});
  g->state.store(CoState::kRunnable, std::memory_order_relaxed);
  global_.push(g);
  wakep();
  // After the push (sequentially consistent): the deadlock check sees the
  // coroutine queued or still counted.
  blocked_calls_.fetch_sub(1, std::memory_order_seq_cst);
}

}  // namespace corun::detail
