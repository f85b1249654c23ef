// cpu_work.cpp: see cpu_work.hpp.
#include "demo/cpu_work.hpp"

#include <algorithm>

#include "demo/interrupt.hpp"
#include "demo/measure.hpp"

namespace demo {

namespace {

// kChunk iterations take about 2 ms (Release, ~2 ns each): short enough for
// Ctrl-C to feel immediate, long enough that the checks cost nothing.
constexpr std::uint64_t kChunk = std::uint64_t{1} << 20;

}  // namespace

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
  XorShiftLoop loop(index + 1);
  CpuTaskResult r;
  while (r.iterations < iters) {
    if (interrupted()) return r;
    const std::uint64_t n = std::min(kChunk, iters - r.iterations);
    const std::int64_t before = thread_cpu_ns();
    loop.run(n);
    r.cpu_ns += thread_cpu_ns() - before;
    r.iterations += n;
    r.sum = loop.sum();
  }
  r.completed = true;
  return r;
}

}  // namespace demo
