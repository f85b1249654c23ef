// monitor.cpp: Monitor, the runtime's watchdog thread (see monitor.hpp).
//
// The monitor never reads the clock on the scheduler's behalf: each worker
// counts its switches, and the monitor notes when it first saw a count.
// Unchanged for a whole time slice while a coroutine runs means that
// coroutine has held the worker that long (Go's sysmon does the same with
// schedtick). The monitor then sets the worker thread's preempt flag, which
// preempt_point() reads, and sends SIGURG, which interrupts a coroutine in a
// PreemptibleRegion (preempt.cpp).
//
// Blocking calls are watched the same way (Go's retake): a worker whose
// thread is in the same blocking call at two looks at least kRetakeAfterNs
// apart is handed to another thread when it has work (syscall.cpp). A look
// that finds a call it had not seen is followed by one more kRetakeAfterNs
// later (not by a run of them: a coroutine making short calls in a loop
// shows a new one at every look), so a call is handed off ~20 us after the
// monitor first sees it, and the monitor may be asleep for up to a period
// before that (Go's sysmon: 20 us to 10 ms).
#include "corun/sched/monitor.hpp"

#include <pthread.h>

#include <algorithm>

#include "corun/os/futex.hpp"
#include "corun/sched/preempt_signal.hpp"
#include "corun/sched/scheduler.hpp"

namespace corun::detail {

namespace {

// kMinPeriodNs/kMaxPeriodNs: the monitor wakes every half time slice, within
// these bounds (the upper one without a time slice); a coroutine is
// preempted after 1 to 1.5 time slices. Go's sysmon sleeps 20 us to 10 ms.
// While every worker is idle the monitor does not wake at all
// (Scheduler::monitor_wait_while_idle).
constexpr std::int64_t kMinPeriodNs = 100'000;
constexpr std::int64_t kMaxPeriodNs = 10'000'000;
// kRetakeAfterNs: Go's shortest sysmon tick.
constexpr std::int64_t kRetakeAfterNs = 20'000;

}  // namespace

Monitor::Monitor(Scheduler& sched, std::chrono::nanoseconds time_slice)
    : sched_(sched),
      slice_ns_(time_slice.count()),
      period_ns_(time_slice.count() > 0
                     ? std::clamp(time_slice.count() / 2, kMinPeriodNs, kMaxPeriodNs)
                     : kMaxPeriodNs),
      seen_(sched.workers().size()) {
  signal_ = slice_ns_ > 0 && install_preempt_signal();
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "corun-monitor");  // for ps, top and debuggers
    run();
  });
}

Monitor::~Monitor() {
  stop_word_.store(1, std::memory_order_seq_cst);
  futex_wake(stop_word_);
  sched_.monitor_wake();
  thread_.join();
}

// run(): every period, look at the workers that have run one coroutine since
// the last look; while every worker is idle there is nothing to look at:
// sleep until one is not.
void Monitor::run() {
  bool quick = false;  // this look came kRetakeAfterNs after the last
  while (stop_word_.load(std::memory_order_acquire) == 0) {
    futex_wait(stop_word_, 0, quick ? kRetakeAfterNs : period_ns_);
    quick = check(now_ns()) && !quick;
    sched_.monitor_wait_while_idle(stop_word_);
  }
}

// check(): a worker that has run one coroutine since the last look is asked
// to switch when that coroutine's time slice is over, and also as soon as
// one of the worker's timers is overdue. A busy worker runs its timers only
// when it switches (and then only every few switches, see run_post), so
// beside CPU-bound coroutines that switch once per time slice its sleepers
// woke many slices late; a preempted worker runs its due timers before it
// picks the next coroutine (Scheduler::give_up), so they are late by about
// one monitor period instead. Go's sysmon does the same job by starting an
// idle P for overdue timers, and its preemption ends the slice of a P that
// has none idle.
bool Monitor::check(std::int64_t now) {
  sched_.netpoller().poll_if_stale(now);
  const auto& workers = sched_.workers();
  bool new_call = false;
  for (std::size_t i = 0; i < workers.size(); ++i) {
    Worker& w = *workers[i];
    Seen& seen = seen_[i];
    // A thread in a blocking call is not preempted (the signal would only
    // interrupt the call).
    if (const std::uint64_t call = w.blocking_call.load(std::memory_order_acquire); call != 0) {
      new_call |= check_blocking_call(w, seen, call, now);
      continue;
    }
    const std::uint64_t switches = w.switches.load(std::memory_order_relaxed);
    const bool running = w.running.load(std::memory_order_relaxed);
    // (earliest() may be a removed timer's: the worker drops it when it
    // runs its timers, so that costs one early switch at most.)
    const bool timer_due = running && w.timers.earliest() <= now;
    if (switches != seen.switches || !running) {
      seen = {switches, now};
      // Switched since the last look: the flag alone, no signal (the worker
      // may be inside the scheduler); it then runs its timers at the next
      // preempt_point(), or at its next switch.
      if (timer_due) ask_to_switch(w, /*signal=*/false);
      continue;
    }
    // One coroutine has held this worker for a whole period: what waits in
    // its queues needs another worker (a wake-up lost to I3's race), and
    // the system calls its coroutines queued need submitting.
    if (workers.size() > 1) sched_.wake_for_stranded_work(w);
    w.io_ring.submit_stalled();
    w.io_turn_over.store(true, std::memory_order_relaxed);
    const bool slice_over = slice_ns_ > 0 && now - seen.since_ns >= slice_ns_;
    if (!slice_over && !timer_due) continue;
    ask_to_switch(w, /*signal=*/true);
    if (slice_over) seen.since_ns = now;  // ask again after another slice
  }
  return new_call;
}

// check_blocking_call(): w's thread is in blocking call number `call`.
// Seen in the same call kRetakeAfterNs ago or more, the worker is handed off
// if it should be; true when the call is new to the monitor.
bool Monitor::check_blocking_call(Worker& w, Seen& seen, std::uint64_t call,
                                  std::int64_t now) noexcept {
  if (call != seen.call) {
    seen.call = call;
    seen.call_since_ns = now;
    return true;
  }
  const std::int64_t lasted = now - seen.call_since_ns;
  if (lasted < kRetakeAfterNs) return false;
  w.io_ring.submit_stalled();  // (the thread that takes the worker would, later)
  if (!sched_.should_retake(w, lasted)) return false;
  // (Not handed off: the call returned meanwhile, or no thread could start.)
  if (sched_.hand_off(w, call)) {
    // The worker starts a new run on its new thread.
    seen = {w.switches.load(std::memory_order_relaxed), now, 0, 0};
  }
  return false;
}

// ask_to_switch() sets the worker thread's preempt flag, which
// preempt_point() reads, and with `signal` sends SIGURG, which interrupts a
// coroutine in a PreemptibleRegion. With preemption off (no time slice) it
// wakes an idle worker instead, which takes the busy worker's expired timers
// as it looks for work (Scheduler::steal_work).
void Monitor::ask_to_switch(Worker& w, bool signal) noexcept {
  if (slice_ns_ == 0) {
    sched_.wake_for_timers();
    return;
  }
  std::atomic<bool>* flag = w.preempt_flag.load(std::memory_order_acquire);
  if (flag == nullptr) return;
  flag->store(true, std::memory_order_relaxed);
  if (signal && signal_) interrupt_for_preemption(w.os_thread.load(std::memory_order_relaxed));
}

}  // namespace corun::detail
