// schedtrace.cpp: the SCHED lines (see schedtrace.hpp). Go's fields, as
// corun means them:
//   gomaxprocs       procs, the workers (Go's Ps)
//   idleprocs        workers asleep in the idle list
//   threads          OS threads of the runtime: workers, monitor, this one
//   spinningthreads  workers looking for work to steal
//   idlethreads      threads asleep without work: with no M/P split, the
//                    idle workers' threads
//   runqueue         coroutines in the global run queue
//   [a b ...]        each worker's local run queue (not its runnext slot,
//                    as Go's leaves out runnext)
// Detail lines: "  P0: status=1 schedtick=N m=0 runqsize=N timerslen=N"
// (status 1 while the worker runs a coroutine, 0 otherwise; schedtick its
// switches) and "  G7: status=4(chan receive)" per coroutine that has
// blocked at least once (Go's status numbers: 1 runnable, 2 running,
// 4 waiting), at most kMaxDetailCoroutines of them.
#include "corun/diag/schedtrace.hpp"

#include <pthread.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>

#include "corun/diag/append_format.hpp"
#include "corun/diag/write_all.hpp"
#include "corun/os/futex.hpp"
#include "corun/sched/scheduler.hpp"

namespace corun::detail {

namespace {

constexpr std::size_t kMaxDetailCoroutines = 1000;

// thread_of_worker(): the index of the OS thread (Go's M) that runs worker
// `w` (Go's P). Each worker has its own thread for now.
int thread_of_worker(const Worker& w) noexcept { return w.index; }

}  // namespace

std::string schedtrace_lines(Scheduler& sched, std::int64_t ms, bool detail) {
  const auto& workers = sched.workers();
  const int idle = sched.idle_workers();
  const int threads =
      static_cast<int>(workers.size()) + (sched.has_monitor() ? 1 : 0) + SchedTrace::kThreads;
  std::string out;
  append(out,
         "SCHED %" PRId64
         "ms: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d "
         "idlethreads=%d runqueue=%" PRId64 " [",
         ms, sched.procs(), idle, threads, sched.spinning_workers(), idle,
         sched.global_queue_length());
  for (std::size_t i = 0; i < workers.size(); ++i) {
    append(out, i == 0 ? "%u" : " %u", workers[i]->runq.size());
  }
  out += "]\n";
  if (!detail) return out;
  for (const auto& w : workers) {
    append(out, "  P%d: status=%d schedtick=%" PRIu64 " m=%d runqsize=%u timerslen=%zu\n", w->index,
           w->running.load(std::memory_order_relaxed) ? 1 : 0,
           w->switches.load(std::memory_order_relaxed), thread_of_worker(*w), w->runq.size(),
           w->timers.armed());
  }
  std::size_t listed = 0, total = 0;
  sched.live_registry().visit([&](Coroutine* g) {
    if (++total > kMaxDetailCoroutines) return;
    ++listed;
    const CoState s = g->state.load(std::memory_order_acquire);
    if (s == CoState::kParked || s == CoState::kCancelling) {
      append(out, "  G%" PRIu64 ": status=4(%s)\n", g->id, to_string(g->wait_reason));
    } else if (s == CoState::kRunning) {
      append(out, "  G%" PRIu64 ": status=2(running)\n", g->id);
    } else if (s == CoState::kRunnable) {
      append(out, "  G%" PRIu64 ": status=1(runnable)\n", g->id);
    }
  });
  if (total > listed) append(out, "  ... and %zu more coroutines\n", total - listed);
  return out;
}

SchedTrace::SchedTrace(Scheduler& sched, std::int64_t period_ms, bool detail)
    : sched_(sched), period_ms_(period_ms), detail_(detail) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "corun-schedtrc");
    run();
  });
}

SchedTrace::~SchedTrace() {
  stop_word_.store(1, std::memory_order_seq_cst);
  futex_wake(stop_word_);
  thread_.join();
}

// run(): a report every period, counted from the runtime's start, as Go's
// sysmon does; written with one write() so that lines of several runtimes
// or threads do not interleave.
void SchedTrace::run() {
  const std::int64_t period_ns = period_ms_ * 1'000'000;
  std::int64_t next = sched_.start_ns() + period_ns;
  while (stop_word_.load(std::memory_order_acquire) == 0) {
    const std::int64_t now = now_ns();
    if (now < next) {
      futex_wait(stop_word_, 0, next - now);
      continue;
    }
    const std::string lines =
        schedtrace_lines(sched_, (now - sched_.start_ns()) / 1'000'000, detail_);
    write_all(STDERR_FILENO, lines);
    while (next <= now) next += period_ns;
  }
}

}  // namespace corun::detail
