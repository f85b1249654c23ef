// monitor.hpp: Monitor, the runtime's watchdog thread (Go's sysmon): it asks
// coroutines that overstay their time slice to give up their worker, does
// the same for a busy worker whose timers are overdue, wakes a worker for
// work queued behind a coroutine that keeps its own, and hands the worker of
// a thread stuck in a blocking call to another thread (syscall.cpp). How it interrupts a
// coroutine is preempt.cpp's business (preempt_signal.hpp); what it reads of
// a worker is the switch count and `running` the worker publishes for it.
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
  // What the monitor last saw of a worker: its switch count, and since when;
  // the blocking call its thread was in, and since when.
  struct Seen {
    std::uint64_t switches = 0;
    std::int64_t since_ns = 0;
    std::uint64_t call = 0;
    std::int64_t call_since_ns = 0;
  };

  void run();
  // check() returns true while a blocking call is in flight that may yet
  // be handed off (the monitor then looks again soon).
  bool check(std::int64_t now);
  bool check_blocking_call(Worker& w, Seen& seen, std::uint64_t call, std::int64_t now) noexcept;
  void ask_to_switch(Worker& w, bool signal) noexcept;

  // All set before the thread starts; then seen_ and the thread's own
  // fields are the monitor thread's alone, and stop_word_ is how the
  // destructor stops it.
  Scheduler& sched_;
  const std::int64_t slice_ns_;
  const std::int64_t period_ns_;
  bool signal_ = false;     // SIGURG interrupts preemptible regions
  std::vector<Seen> seen_;  // one per worker
  std::atomic<std::uint32_t> stop_word_{0};
  std::thread thread_;
};

}  // namespace corun::detail
