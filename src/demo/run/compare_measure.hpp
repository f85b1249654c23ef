// compare_measure.hpp: what `demo compare` measures: its settings, the rows
// of its table and the runs that fill them.
//
// Three workloads run at each procs value, --runs times each:
//   sleep-bound: --sleepers tasks each sleep --sleep (default 10,000 x 100 ms);
//   cpu-bound:   --cpu-tasks tasks each run --work iterations of the
//                xorshift loop (default: as many tasks as the largest procs);
//   io-bound:    a TCP server and --connections clients making --requests
//                requests each, every one waiting --backend in the server
//                (default 50 x 4 x 10 ms; compare_io.hpp); its figure is
//                requests per second.
// --threads adds the sleep- and cpu-bound workloads with one OS thread per
// task (std::thread), capped at --max-threads: start-up time and memory show
// what coroutines save. The io-bound workload always has its row with one
// OS thread per connection (on each side; connections capped at half of
// --max-threads): the classic server that coroutines replace. Memory is the growth of resident
// memory (RSS) from before a run to its peak, sampled while the tasks are alive.
//
// Only complete runs are samples: a run counts when every one of its tasks
// did all its work (TaskTally), so a run cut off by Ctrl-C is dropped, not
// kept as a short one.
//
// The CPU-bound runs are always traced, to count their preemptions (runs
// that stopped with StopReason::kPreempt); the sleep-bound ones only with
// --trace (their first run), since tracing 10,000 sleepers would cost time
// that the table measures.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "demo/run/compare_io.hpp"
#include "demo/run/measure.hpp"
#include "demo/run/session.hpp"

namespace demo::compare {

// Settings are compare's options, checked.
struct Settings {
  std::vector<int> procs;
  bool baseline_added = false;  // procs=1 was not asked for
  int runs = 3;
  int sleepers = 10000;
  std::chrono::nanoseconds sleep{};
  std::uint64_t work = 0;
  int cpu_tasks = 1;
  bool threads = false;
  int max_threads = 10000;  // after the system's limits
  IoWorkload io;            // --connections, --requests, --backend
  int cpus = 1;
  std::chrono::nanoseconds time_slice{};  // 0: off
};

enum class Workload { kSleep, kCpu, kIo };
enum class Runner { kCoroutines, kThreads };

inline const char* name(Workload w) {
  switch (w) {
    case Workload::kSleep:
      return "sleep-bound";
    case Workload::kCpu:
      return "cpu-bound";
    case Workload::kIo:
      return "io-bound";
  }
  return "?";
}
inline const char* name(Runner r) { return r == Runner::kCoroutines ? "coroutines" : "threads"; }

// Sample is one measured run.
struct Sample {
  double wall_ms = 0;     // first spawn to last task finished
  double cpu_ms = 0;      // getrusage, whole process, over the run
  double startup_ms = 0;  // spawning all the tasks
  std::int64_t rss_growth_kib = 0;
  std::uint64_t checksum = 0;  // cpu-bound: the loops' sum; io-bound: the answers checked
  std::optional<std::uint64_t> preemptions;  // counted when the run was traced
};

// Row is one line of the table: a workload on a runner at a procs value.
struct Row {
  Workload workload = Workload::kSleep;
  Runner runner = Runner::kCoroutines;
  int procs = 0;                // 0 for threads: the OS schedules them
  int tasks = 0;                // io-bound: the connections
  std::int64_t requests = 0;    // io-bound: requests per run (0 elsewhere)
  std::vector<Sample> samples;  // complete runs only
  bool complete = false;        // all --runs were measured
  std::string note;             // e.g. thread creation failed

  double wall() const { return median(pick(&Sample::wall_ms)); }
  double wall_min() const { return std::ranges::min(pick(&Sample::wall_ms)); }
  double wall_max() const { return std::ranges::max(pick(&Sample::wall_ms)); }
  double cpu() const { return median(pick(&Sample::cpu_ms)); }
  double startup() const { return median(pick(&Sample::startup_ms)); }
  double rss_growth() const {
    std::vector<double> v;
    for (const Sample& s : samples) v.push_back(static_cast<double>(s.rss_growth_kib));
    return median(v);
  }
  // rss_per_task() is shown only where it measures the tasks: the
  // sleep-bound rows, where thousands of tasks are alive at once.
  std::optional<double> rss_per_task() const {
    if (workload != Workload::kSleep) return std::nullopt;
    return rss_growth() / tasks;
  }
  // requests_per_s() is the io-bound rows' figure: the requests of a run
  // over its median wall time.
  std::optional<double> requests_per_s() const {
    if (workload != Workload::kIo) return std::nullopt;
    return static_cast<double>(requests) / (wall() / 1e3);
  }
  // spread() is how far the samples lie apart, relative to their median.
  double spread() const { return (wall_max() - wall_min()) / wall(); }
  // preemptions() is the median over the runs that counted them.
  std::optional<double> preemptions() const {
    std::vector<double> v;
    for (const Sample& s : samples) {
      if (s.preemptions) v.push_back(static_cast<double>(*s.preemptions));
    }
    return v.empty() ? std::nullopt : std::optional<double>(median(v));
  }

 private:
  std::vector<double> pick(double Sample::*field) const {
    std::vector<double> v;
    for (const Sample& s : samples) v.push_back(s.*field);
    return v;
  }
};

// measure() fills `rows` (in table order) until every row is complete
// (true) or Ctrl-C stopped the comparison (false). It prints each row's run
// times as they come, shows the progress, and adds the traced runs to the
// session.
bool measure(const Settings& s, Session& session, std::vector<Row>& rows);

}  // namespace demo::compare
