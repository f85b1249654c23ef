// monitor.cpp: Monitor, the runtime's watchdog thread (see monitor.hpp).
//
// The monitor never reads the clock on the scheduler's behalf: each worker
// counts its switches, and the monitor notes when it first saw a count.
// Unchanged for a whole time slice while a coroutine runs means that
// coroutine has held the worker that long (Go's sysmon does the same with
// schedtick). The monitor then sets the worker thread's preempt flag, which
// preempt_point() reads, and sends SIGURG, which interrupts a coroutine in a
// PreemptibleRegion (preempt.cpp).
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
  while (stop_word_.load(std::memory_order_acquire) == 0) {
    futex_wait(stop_word_, 0, period_ns_);
    check(now_ns());
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
void Monitor::check(std::int64_t now) {
  sched_.netpoller().poll_if_stale(now);
  const auto& workers = sched_.workers();
  for (std::size_t i = 0; i < workers.size(); ++i) {
    Worker& w = *workers[i];
    Seen& seen = seen_[i];
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
    // its queues needs another worker (a wake-up lost to I3's race).
    if (workers.size() > 1) sched_.wake_for_stranded_work(w);
    const bool slice_over = slice_ns_ > 0 && now - seen.since_ns >= slice_ns_;
    if (!slice_over && !timer_due) continue;
    ask_to_switch(w, /*signal=*/true);
    if (slice_over) seen.since_ns = now;  // ask again after another slice
  }
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
  if (w.preempt_flag == nullptr) return;
  w.preempt_flag->store(true, std::memory_order_relaxed);
  if (signal && signal_) interrupt_for_preemption(w.os_thread);
}

}  // namespace corun::detail
