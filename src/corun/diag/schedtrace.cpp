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
// switches; m the thread that runs it, -1 while none does), then
// "  M0: p=0 curg=7 spinning=false blocked=false" per OS thread that runs
// or ran a worker, the spare threads of corun::blocking() hand-offs
// included (p the worker it runs, or -1; curg the coroutine running there,
// or -1; spinning: looking for work to steal; blocked: asleep, its worker
// idle or, a spare, waiting for one), then "  G7: status=4(chan receive)"
// per coroutine that has
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

// The fields below are each written by the thread that owns them, without
// atomics; a report reads them as a snapshot (a word each, in memory that
// lives as long as the runtime: descriptors are recycled, never freed
// before), and tells ThreadSanitizer so (out of line: inlined, the read
// would be instrumented as its caller is).
#define CORUN_SNAPSHOT_READ __attribute__((no_sanitize("thread"), noinline))
// GCC instruments such a read all the same where it folds it into its
// caller, so the thread lines, which read them, tell TSan too.
#if defined(CORUN_SANITIZE_THREAD)
extern "C" void AnnotateIgnoreReadsBegin(const char* file, int line);
extern "C" void AnnotateIgnoreReadsEnd(const char* file, int line);
#define CORUN_SNAPSHOT_READS_BEGIN() AnnotateIgnoreReadsBegin(__FILE__, __LINE__)
#define CORUN_SNAPSHOT_READS_END() AnnotateIgnoreReadsEnd(__FILE__, __LINE__)
#else
#define CORUN_SNAPSHOT_READS_BEGIN()
#define CORUN_SNAPSHOT_READS_END()
#endif

CORUN_SNAPSHOT_READ pthread_t thread_of(const Machine& m) noexcept { return m.os_thread; }

// curg(): the id of the coroutine running on `w`, or -1.
CORUN_SNAPSHOT_READ long long curg(const Worker& w) noexcept {
  const Coroutine* g = w.current;
  if (g == nullptr || g == w.g0 || !w.running.load(std::memory_order_relaxed)) return -1;
  return static_cast<long long>(g->id);
}

CORUN_SNAPSHOT_READ bool is_spinning(const Worker& w) noexcept { return w.spinning; }
CORUN_SNAPSHOT_READ bool is_idle(const Worker& w) noexcept { return w.in_idle_list; }

// The worker that thread `t` runs now, or null.
const Worker* worker_of(Scheduler& sched, pthread_t t) noexcept {
  if (t == pthread_t{}) return nullptr;
  for (const auto& w : sched.workers()) {
    if (pthread_equal(w->os_thread.load(std::memory_order_relaxed), t) != 0) return w.get();
  }
  return nullptr;
}

// thread_of_worker(): the index of the OS thread (Go's M) that runs worker
// `w` (Go's P), or -1.
int thread_of_worker(Scheduler& sched, const Worker& w) noexcept {
  const pthread_t t = w.os_thread.load(std::memory_order_relaxed);
  int found = -1;
  sched.threads().visit([&](std::size_t i, const Machine& m, bool) {
    if (found < 0 && pthread_equal(thread_of(m), t) != 0) found = static_cast<int>(i);
  });
  return found;
}

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
           w->switches.load(std::memory_order_relaxed), thread_of_worker(sched, *w), w->runq.size(),
           w->timers.armed());
  }
  sched.threads().visit([&](std::size_t i, const Machine& m, bool parked) {
    CORUN_SNAPSHOT_READS_BEGIN();
    const Worker* w = parked ? nullptr : worker_of(sched, thread_of(m));
    const long long g = w != nullptr ? curg(*w) : -1LL;
    const bool spinning = w != nullptr && is_spinning(*w);
    const bool idle = w != nullptr && is_idle(*w);
    CORUN_SNAPSHOT_READS_END();
    // A thread without a worker and not parked is in a blocking call whose
    // worker was handed off (or on its way to park).
    append(out, "  M%zu: p=%d curg=%lld spinning=%s blocked=%s\n", i, w != nullptr ? w->index : -1,
           g, spinning ? "true" : "false", parked || idle ? "true" : "false");
  });
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
