// dump_signal.hpp: CORUN_DEBUG=sigquit=1: SIGQUIT (Ctrl-\) prints a
// coroutine dump to stderr, and the program goes on (Go prints its dump and
// exits with status 2; corun leaves SIGQUIT to the program unless asked, as
// a library should: see README "Seeing inside a running program").
//
// The handler only bumps a counter and wakes a futex (async-signal-safe);
// each runtime that asked has a thread waiting on it that writes the dump.
// With no runtime listening, SIGQUIT does what it did before (by default:
// quit with a core dump).
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

namespace corun::detail {

class Scheduler;

class DumpOnSignal {
 public:
  explicit DumpOnSignal(Scheduler& sched);
  ~DumpOnSignal();  // stops and joins the thread
  DumpOnSignal(const DumpOnSignal&) = delete;
  DumpOnSignal& operator=(const DumpOnSignal&) = delete;

 private:
  void run(std::uint32_t seen);

  Scheduler& sched_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace corun::detail
