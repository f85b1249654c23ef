// cpu_work.hpp: the CPU-bound work of `demo parallel` and `demo compare`:
// WORKLOADS.md's xorshift64 loop, which no compiler can fold.
//
//   x = seed | 1; sum = 0                  // seed = task index + 1
//   repeat iters times: x ^= x << 13; x ^= x >> 7; x ^= x << 17; sum += x
//
// Each task's sum depends on every iteration, and the checksum of a run is
// the (wrapping) sum of its task sums, so a run that skipped work shows.
#pragma once

#include <cstdint>

namespace demo {

// XorShiftLoop is the loop's state; run() continues it for `iters` more
// iterations.
class XorShiftLoop {
 public:
  explicit XorShiftLoop(std::uint64_t seed) : x_(seed | 1) {}
  void run(std::uint64_t iters) noexcept;
  std::uint64_t sum() const noexcept { return sum_; }

 private:
  std::uint64_t x_;
  std::uint64_t sum_ = 0;
};

// CpuTaskResult is what one CPU-bound task did.
struct CpuTaskResult {
  std::uint64_t sum = 0;
  std::uint64_t iterations = 0;  // less than asked when interrupted
  std::int64_t cpu_ns = 0;       // CPU time of the iterations (thread CPU clock)
  bool completed = false;
};

// run_cpu_task() runs task `index`'s loop (seed index + 1) for `iters`
// iterations in chunks, checking interrupted() between chunks. Chunks never
// yield, so each chunk's thread CPU time is this task's alone. There is no
// corun::preempt_point() in the loop, so nothing preempts these tasks (on one
// worker they finish one after another). A --timeslice option would add one
// between chunks, outside the timed part, which keeps the CPU times exact.
CpuTaskResult run_cpu_task(std::uint64_t index, std::uint64_t iters);

}  // namespace demo
