// measure.hpp: clocks and meters for the demo's reports: wall time, CPU time
// (getrusage, per thread), resident memory, and the median of runs.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

namespace demo {

// Stopwatch measures wall time from its construction, or from `start`: a
// Runtime's trace_epoch(), so that the times it gives and the trace's
// (TraceEvent::time_ns) count from the same zero.
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  explicit Stopwatch(std::chrono::steady_clock::time_point start) : start_(start) {}
  std::int64_t elapsed_ns() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                                start_)
        .count();
  }
  double elapsed_ms() const { return static_cast<double>(elapsed_ns()) / 1e6; }

 private:
  std::chrono::steady_clock::time_point start_;
};

// LatestTime keeps the latest of the times recorded into it (from any
// thread): the end of a run is when its last task finished.
class LatestTime {
 public:
  void record(std::int64_t ns) noexcept {
    std::int64_t cur = latest_.load(std::memory_order_relaxed);
    while (ns > cur && !latest_.compare_exchange_weak(cur, ns, std::memory_order_relaxed)) {
    }
  }
  std::int64_t get() const noexcept { return latest_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> latest_{0};
};

// CpuTime is the process's CPU time so far (getrusage(RUSAGE_SELF): all its
// threads, user and system).
struct CpuTime {
  double user_ms = 0;
  double sys_ms = 0;
  double total_ms() const { return user_ms + sys_ms; }
  CpuTime operator-(const CpuTime& o) const { return {user_ms - o.user_ms, sys_ms - o.sys_ms}; }
};
CpuTime process_cpu_time();

// thread_cpu_ns() is the calling thread's CPU time.
std::int64_t thread_cpu_ns();

// rss_kib() is the process's resident memory now (/proc/self/statm), 0 if
// unknown.
std::int64_t rss_kib();

// peak_rss_kib() is the most resident memory the process has had
// (getrusage ru_maxrss).
std::int64_t peak_rss_kib();

// median() of a non-empty sample (mean of the middle two for an even count).
double median(std::vector<double> values);

}  // namespace demo
