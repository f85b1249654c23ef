// cpu_work.hpp: the CPU-bound work of `demo parallel` and `demo compare`:
// WORKLOADS.md's xorshift64 loop, which no compiler can fold.
//
//   x = 2*i + 1; sum = 0                   // i = the task's index, 0-based
//   repeat iters times: x ^= x << 13; x ^= x >> 7; x ^= x << 17; sum += x
//
// Every task's start is odd (xorshift never leaves 0) and distinct, so no two
// tasks compute the same sums (`seed | 1` with seed = i + 1 gave tasks 1 and
// 2, 3 and 4, ... the same start).
// Each task's sum depends on every iteration, and the checksum of a run is
// the (wrapping) sum of its task sums, so a run that skipped work shows.
#pragma once

#include <cstdint>

namespace demo {

// XorShiftLoop is task `task_index`'s loop state; run() continues it for
// `iters` more iterations.
class XorShiftLoop {
 public:
  explicit XorShiftLoop(std::uint64_t task_index) : x_(2 * task_index + 1) {}
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

// kCpuChunk is how many iterations run_cpu_task() runs between two
// preemption points: about 0.5 ms (Release, ~2 ns each), so a task gives
// way at most that long after its time slice ran out, and the two thread CPU
// clock reads around each chunk cost about 1%.
inline constexpr std::uint64_t kCpuChunk = std::uint64_t{1} << 18;

// run_cpu_task() runs task `index`'s loop for `iters`
// iterations in chunks of kCpuChunk. Between chunks it checks interrupted()
// and calls corun::preempt_point(), where the runtime may take the worker
// away once the task's time slice ran out (Config::time_slice): on one
// worker the tasks then take turns. A chunk itself is never preempted (no
// preemptible region, no preemption point inside), so the thread CPU clock
// read before and after it measures this task's work alone, even though the
// task may run in many slices, on several workers: cpu_ns is the sum over
// its chunks. Outside a coroutine (a std::thread) preempt_point() does
// nothing.
CpuTaskResult run_cpu_task(std::uint64_t index, std::uint64_t iters);

// kCpuTimeMethod says how cpu_ns is measured, for reports.
inline constexpr const char* kCpuTimeMethod =
    "thread CPU clock around each chunk of 262,144 iterations; tasks are preempted only "
    "between chunks, so each chunk's CPU time is its own task's";

}  // namespace demo
