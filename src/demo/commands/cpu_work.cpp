// cpu_work.cpp: see cpu_work.hpp.
#include "demo/commands/cpu_work.hpp"

#include <algorithm>

#include "corun/preempt.hpp"
#include "demo/run/interrupt.hpp"
#include "demo/run/measure.hpp"

namespace demo {

void XorShiftLoop::run(std::uint64_t iters) noexcept {
  std::uint64_t x = x_;
  std::uint64_t sum = sum_;
  for (std::uint64_t i = 0; i < iters; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    sum += x;
  }
  x_ = x;
  sum_ = sum;
}

CpuTaskResult run_cpu_task(std::uint64_t index, std::uint64_t iters) {
  XorShiftLoop loop(index);
  CpuTaskResult r;
  while (r.iterations < iters) {
    if (interrupted()) return r;
    const std::uint64_t n = std::min(kCpuChunk, iters - r.iterations);
    const std::int64_t before = thread_cpu_ns();
    loop.run(n);
    r.cpu_ns += thread_cpu_ns() - before;
    r.iterations += n;
    r.sum = loop.sum();
    // After the clock read: if the worker is taken away here, the time until
    // this task runs again is other tasks' (or nobody's), not this one's.
    corun::preempt_point();
  }
  r.completed = true;
  return r;
}

}  // namespace demo
