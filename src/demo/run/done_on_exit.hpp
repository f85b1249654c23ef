// done_on_exit.hpp: DoneOnExit, a task's WaitGroup::done() that cannot be
// skipped.
#pragma once

#include "corun/wait_group.hpp"

namespace demo {

// DoneOnExit calls wg.done() when it goes out of scope: when the task
// returns, and when it unwinds (a sleep cancelled by Ctrl-C throws
// corun::Cancelled), so the run's wg.wait() never waits for a task that
// has gone.
class DoneOnExit {
 public:
  explicit DoneOnExit(corun::WaitGroup& wg) noexcept : wg_(wg) {}
  ~DoneOnExit() { wg_.done(); }
  DoneOnExit(const DoneOnExit&) = delete;
  DoneOnExit& operator=(const DoneOnExit&) = delete;

 private:
  corun::WaitGroup& wg_;
};

}  // namespace demo
