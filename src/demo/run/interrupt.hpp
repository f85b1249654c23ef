// interrupt.hpp: Ctrl-C (SIGINT) handling for a run, and what "done" means.
//
// From the start of an InterruptScope on, SIGINT only sets a flag: the
// handler does nothing else (no exit(), no output), so it is
// async-signal-safe. Tasks check interrupted() between steps (and every
// chunk of the CPU loop), stop early, and the subcommand prints what
// finished and exits 130. A second Ctrl-C kills the process as usual
// (SA_RESETHAND), for a run that does not stop. The handler stays after the
// scope ends, until the process exits: a Ctrl-C that arrives while a
// complete run's results are written, or while the process exits, must not
// kill it half-way (the run is complete: exit 0).
//
// Whether a run is complete is decided by its TaskTally alone: a task counts
// as done only when it did all its work, so a task that stopped early
// because of Ctrl-C (or was cancelled in a sleep) is not done, even though it
// returned. A run is complete when every task is done; otherwise it was
// interrupted, and nothing computed from its times (speedup, conclusions) is
// printed. A Ctrl-C that arrives after every task is done changes nothing.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

namespace demo {

class InterruptScope {
 public:
  InterruptScope();
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;
};

// interrupted() is whether SIGINT arrived since the InterruptScope began.
bool interrupted() noexcept;

// TaskTally counts the tasks of one run that did all their work.
class TaskTally {
 public:
  explicit TaskTally(std::int64_t tasks) : tasks_(tasks) {}
  // started_only() lowers the count to the tasks that were started (OS
  // threads that could not be created); call it before waiting.
  void started_only(std::int64_t started) noexcept {
    tasks_.store(started, std::memory_order_release);
  }
  // done() is called by a task once its work is complete, never by one that
  // stopped early.
  void done() noexcept { done_.fetch_add(1, std::memory_order_acq_rel); }
  std::int64_t count() const noexcept { return done_.load(std::memory_order_acquire); }
  std::int64_t tasks() const noexcept { return tasks_.load(std::memory_order_acquire); }
  // complete() is whether every task is done: the run's one test of "done".
  bool complete() const noexcept { return count() >= tasks(); }
  // fail() is called by a task that cannot go on (a socket error): the run
  // stops as for Ctrl-C, its waiting tasks are cancelled, and it is not
  // complete; the task keeps the error for the report.
  void fail() noexcept { failed_.store(true, std::memory_order_release); }
  bool failed() const noexcept { return failed_.load(std::memory_order_acquire); }

 private:
  std::atomic<std::int64_t> tasks_;
  std::atomic<std::int64_t> done_{0};
  std::atomic<bool> failed_{false};
};

// wait_for_tasks() waits until every task of `tally` is done, one failed or
// SIGINT arrived, calling tick() (if any) at each poll. It polls every 2 ms: a
// thread blocked in WaitGroup::wait() would not notice the signal. It
// returns nothing on purpose: after it, stop the runtime (tasks that saw the
// interrupt return, sleepers are cancelled) and ask the tally whether the
// run is complete. Measure the end of a run inside its tasks, not here: this
// returns up to 2 ms late.
void wait_for_tasks(const TaskTally& tally, const std::function<void()>& tick = nullptr);

}  // namespace demo
