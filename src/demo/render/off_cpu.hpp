// off_cpu.hpp: where a worker's thread held a task but was not on a CPU
// (the OS ran another thread there: more busy threads than CPUs, or a busy
// machine), from samples of each worker thread's CPU clock taken on the
// trace's clock while the run ran (see demo/run/worker_cpu.hpp).
//
// Between two samples of one worker, the thread ran `cpu` ns and held a
// task (the trace's run slices) for `held` ns: held - cpu of that held time
// (at least 0) was off the CPU, spread evenly over the held time in the
// stretch (not over its idle time). The thread's
// own CPU time outside its tasks (looking for work) counts as on-CPU time,
// so the figure is a lower bound; with the CPU-bound tasks of `demo
// parallel` that time is small.
#pragma once

#include <cstdint>
#include <vector>

#include "demo/render/trace_view.hpp"

namespace demo {

// CpuSample is worker `worker`'s thread CPU time `cpu_ns` at trace time
// `time_ns`.
struct CpuSample {
  std::int64_t time_ns = 0;
  int worker = 0;
  std::int64_t cpu_ns = 0;
};

// OffCpuStretch is one worker between two of its samples, [start_ns,
// end_ns): it held a task for `held_ns` of it, `off_ns` of which off the CPU.
struct OffCpuStretch {
  std::int64_t start_ns = 0;
  std::int64_t end_ns = 0;
  std::int64_t held_ns = 0;
  std::int64_t off_ns = 0;

  double off_share() const {
    return held_ns > 0 ? static_cast<double>(off_ns) / static_cast<double>(held_ns) : 0.0;
  }
};

class OffCpu {
 public:
  OffCpu() = default;
  // OffCpu() pairs each worker's consecutive samples with its run slices.
  OffCpu(const std::vector<RunSlice>& slices, const std::vector<CpuSample>& samples, int procs);

  // known() is whether there were samples at all (none: no figures, no
  // marks in the pictures).
  bool known() const noexcept { return known_; }
  // cut() is whether a worker's figures stop early: a blocking call handed
  // it to another thread (from then on the sampled thread is not the one
  // that runs it).
  bool cut() const noexcept { return cut_; }
  const std::vector<OffCpuStretch>& stretches(int worker) const;

  // off_ns() is how long `worker` held a task but was off the CPU within
  // [from_ns, to_ns) (each stretch's off time spread evenly over the time
  // it held a task in that stretch).
  double off_ns(int worker, std::int64_t from_ns, std::int64_t to_ns) const;
  // held_ns() and off_total_ns() are over the sampled part of the run.
  std::int64_t held_ns(int worker) const;
  std::int64_t off_total_ns(int worker) const;
  // off_share() is off_total_ns / held_ns (0 when it held nothing).
  double off_share(int worker) const;

 private:
  // held_in() is how long `worker` held a task within [from_ns, to_ns).
  std::int64_t held_in(int worker, std::int64_t from_ns, std::int64_t to_ns) const;

  struct Held {
    std::int64_t start_ns;
    std::int64_t end_ns;
  };
  bool known_ = false;
  bool cut_ = false;
  std::vector<std::vector<OffCpuStretch>> by_worker_;
  std::vector<std::vector<Held>> runs_;  // per worker, in time order (they do not overlap)
};

}  // namespace demo
