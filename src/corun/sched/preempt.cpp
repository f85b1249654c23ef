// preempt.cpp: the Monitor and the two ways a coroutine is preempted (see
// corun/preempt.hpp for the contract).
//
// The monitor never reads the clock on the scheduler's behalf: each worker
// counts its switches, and the monitor notes when it first saw a count.
// Unchanged for a whole time slice while a coroutine runs means that
// coroutine has held the worker that long (Go's sysmon does the same with
// schedtick). The monitor then sets the worker thread's preempt flag, which
// preempt_point() reads, and sends SIGURG, which interrupts a coroutine in a
// PreemptibleRegion.
//
// The signal handler switches coroutines on the interrupted coroutine's own
// stack, inside the handler's frame. When that coroutine is resumed, maybe
// on another worker thread, the handler returns and the kernel's sigreturn
// restores every register from the frame. Three things must be right:
//   - SIGURG is unblocked before switching away, or the next coroutine on
//     this thread could never be interrupted;
//   - sigreturn also restores the alternate signal stack recorded in the
//     frame: it is rewritten to this thread's own before returning;
//   - errno is saved and restored around the handler.
#include "corun/preempt.hpp"

#include <pthread.h>
#include <signal.h>  // NOLINT(modernize-deprecated-headers): POSIX sigaction, pthread_kill

#include <algorithm>
#include <cerrno>
#include <mutex>

#include "corun/os/futex.hpp"
#include "corun/sched/monitor.hpp"
#include "corun/sched/scheduler.hpp"

namespace corun::detail {

constinit thread_local std::atomic<bool> t_preempt_requested{false};

namespace {

// kMinPeriodNs/kMaxPeriodNs: the monitor wakes every half time slice, within
// these bounds (the upper one without a time slice); a coroutine is
// preempted after 1 to 1.5 time slices. Go's sysmon sleeps 20 us to 10 ms.
// While every worker is idle the monitor does not wake at all
// (Scheduler::monitor_wait_while_idle).
constexpr std::int64_t kMinPeriodNs = 100'000;
constexpr std::int64_t kMaxPeriodNs = 10'000'000;

std::atomic<bool> g_async_preemption{false};

// Unused under TSan (see install_preempt_signal).
[[maybe_unused]] void on_preempt_signal(int, siginfo_t*, void* uctx) {
  const int saved_errno = errno;
  Worker* w = this_worker();
  if (w != nullptr && w->current != &w->g0 && w->current->preempt_depth > 0 &&
      t_preempt_requested.load(std::memory_order_relaxed)) {
    sigset_t urg;
    sigemptyset(&urg);
    sigaddset(&urg, SIGURG);
    pthread_sigmask(SIG_UNBLOCK, &urg, nullptr);
    w->sched.preempt(*w, /*from_signal=*/true);
    // Resumed, perhaps on another thread: keep that thread's own altstack.
    stack_t own;
    if (sigaltstack(nullptr, &own) == 0) static_cast<ucontext_t*>(uctx)->uc_stack = own;
  }
  errno = saved_errno;
}

}  // namespace

bool install_preempt_signal() {
#if defined(CORUN_SANITIZE_THREAD)
  return false;  // TSan defers signal handlers to its own safe points
#else
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = &on_preempt_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    g_async_preemption.store(sigaction(SIGURG, &sa, nullptr) == 0);
  });
  return g_async_preemption.load();
#endif
}

void preempt_now() {
  t_preempt_requested.store(false, std::memory_order_relaxed);
  Worker* w = this_worker();
  if (w == nullptr || w->current == &w->g0) return;
  w->sched.preempt(*w, /*from_signal=*/false);
}

void enter_preemptible() noexcept {
  Worker* w = this_worker();
  if (w != nullptr && w->current != &w->g0) ++w->current->preempt_depth;
}

void leave_preemptible() noexcept {
  Worker* w = this_worker();
  if (w != nullptr && w->current != &w->g0) --w->current->preempt_depth;
}

Monitor::Monitor(Scheduler& sched, std::chrono::nanoseconds time_slice)
    : sched_(sched),
      slice_ns_(time_slice.count()),
      period_ns_(time_slice.count() > 0
                     ? std::clamp(time_slice.count() / 2, kMinPeriodNs, kMaxPeriodNs)
                     : kMaxPeriodNs),
      seen_(sched.workers().size()) {
  if (slice_ns_ > 0) install_preempt_signal();
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
  if (signal && g_async_preemption.load(std::memory_order_relaxed)) {
    pthread_kill(w.os_thread, SIGURG);
  }
}

}  // namespace corun::detail
