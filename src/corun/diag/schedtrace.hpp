// schedtrace.hpp: CORUN_DEBUG=schedtrace=MS (Go's GODEBUG=schedtrace): a
// thread that prints one line about the scheduler to stderr every MS
// milliseconds, in Go's format, so that Go's tutorials and tools read it:
//
//   SCHED 1004ms: gomaxprocs=2 idleprocs=0 threads=4 spinningthreads=0 idlethreads=1 runqueue=0 [3
//   1]
//
// and with scheddetail=1 a line per worker (Go's P) and per coroutine that
// has blocked (Go's G) after it. The thread exists only while it is asked
// for: unset, schedtrace costs nothing.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

namespace corun::detail {

class Scheduler;

// schedtrace_lines() is one report: the SCHED line, and with `detail` the
// worker and coroutine lines, each ending in '\n'. `ms` is the time since
// the runtime started.
std::string schedtrace_lines(Scheduler& sched, std::int64_t ms, bool detail);

class SchedTrace {
 public:
  SchedTrace(Scheduler& sched, std::int64_t period_ms, bool detail);
  ~SchedTrace();  // stops and joins the thread
  SchedTrace(const SchedTrace&) = delete;
  SchedTrace& operator=(const SchedTrace&) = delete;

  // The OS threads the diagnostics run (counted in threads=).
  static constexpr int kThreads = 1;

 private:
  void run();

  Scheduler& sched_;
  const std::int64_t period_ms_;
  const bool detail_;
  std::atomic<std::uint32_t> stop_word_{0};
  std::thread thread_;
};

}  // namespace corun::detail
