// config.hpp: Config, the knobs a Runtime starts with.
#pragma once

#include <chrono>
#include <cstddef>

namespace corun {

struct Config {
  // procs is the number of worker threads (Go's GOMAXPROCS), 1..kMaxProcs.
  // 0 means the CPUs this process may use: its affinity mask, capped by its
  // cgroup CPU quota (rounded up), as Go 1.25 does.
  int procs = 0;

  // stack_size is each coroutine's stack, rounded up to whole pages. Stacks
  // are reserved, not committed: a coroutine costs only the pages it touches
  // (one 4 KiB page for a coroutine parked in a channel receive).
  std::size_t stack_size = 256 * 1024;

  // detect_deadlock: when every coroutine is blocked, no timer is pending and
  // a plain thread is blocked in a corun wait, print "all coroutines are
  // asleep - deadlock!" with each coroutine's wait reason and exit with 2.
  // Turn it off when other plain threads, or the coroutines of another
  // Runtime, may still wake coroutines: a runtime sees only its own workers.
  bool detect_deadlock = true;

  // time_slice: how long a coroutine may keep its worker before the runtime
  // asks it to let others run (see preempt.hpp). Zero turns preemption off.
  std::chrono::nanoseconds time_slice = std::chrono::milliseconds(10);

  // trace: record an execution trace (see trace.hpp and Runtime::trace()).
  bool trace = false;

  static constexpr int kMaxProcs = 1024;
  static constexpr std::size_t kMinStackSize = 16 * 1024;
  static constexpr std::size_t kMaxStackSize = std::size_t{1} << 30;
};

// available_cpus() is what procs = 0 resolves to.
int available_cpus() noexcept;

}  // namespace corun
