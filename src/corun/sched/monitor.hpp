// monitor.hpp: Monitor, the runtime's watchdog thread (Go's sysmon): it asks
// coroutines that overstay their time slice to give up their worker, does
// the same for a busy worker whose timers are overdue, and wakes a worker
// for work queued behind a coroutine that keeps its own.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace corun::detail {

class Scheduler;
class Worker;

class Monitor {
 public:
  Monitor(Scheduler& sched, std::chrono::nanoseconds time_slice);
  ~Monitor();  // stops and joins the thread
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

 private:
  // What the monitor last saw of a worker: its switch count, and since when.
  struct Seen {
    std::uint64_t switches = 0;
    std::int64_t since_ns = 0;
  };

  void run();
  void check(std::int64_t now);
  void ask_to_switch(Worker& w, bool signal) noexcept;

  Scheduler& sched_;
  const std::int64_t slice_ns_;
  const std::int64_t period_ns_;
  std::vector<Seen> seen_;
  std::atomic<std::uint32_t> stop_word_{0};
  std::thread thread_;
};

// install_preempt_signal() installs the SIGURG handler (once per process);
// false when asynchronous preemption is unavailable in this build.
bool install_preempt_signal();

}  // namespace corun::detail
