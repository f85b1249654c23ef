// spare_threads.hpp: SpareThreads, the runtime's threads that run no worker
// (Go's idle Ms): started on demand by the monitor when it hands off the
// worker of a thread stuck in a blocking call, parked while not needed,
// reused, and stopped with the runtime.
//
// A thread whose worker was taken parks here once its coroutine is queued
// again (Scheduler::requeue_without_worker), so the runtime has as many
// threads as `procs` plus the blocking calls that were in flight at once,
// plus the monitor.
//
// Protocol: a spare thread lists itself under the lock and sleeps on its
// wake word; take() unlists one (or starts a new one, which starts
// reserved: it does not list itself) and give() hands it a worker, or
// nothing, which sends it back to the list. stop() wakes every listed one
// for good; the monitor, the only caller of take(), has stopped by then.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "corun/sched/machine.hpp"

namespace corun::detail {

class Scheduler;
class Worker;

class SpareThreads {
 public:
  explicit SpareThreads(Scheduler& sched) : sched_(sched) {}
  SpareThreads(const SpareThreads&) = delete;
  SpareThreads& operator=(const SpareThreads&) = delete;

  // add(): the record of a new thread (worker threads too), kept until the
  // runtime is gone.
  Machine& add();

  // take(): a parked spare thread, or a new one; null when a new thread
  // cannot be started. The caller give()s it something.
  Machine* take() noexcept;
  // give(): wakes `m` (from take()) with worker `w` to run, or with null,
  // which parks it again.
  static void give(Machine& m, Worker* w) noexcept;

  // park(): the calling thread, `m`, has no worker: it sleeps until it is
  // given one (returned), or the runtime stops (null).
  Worker* park(Machine& m) noexcept;

  // stop() ends every spare thread and joins them.
  void stop() noexcept;

  // threads(): how many threads were started for spares (for tests).
  std::size_t threads() const;

  // visit() calls f(index, machine, parked) for every thread's record, in
  // the order they were added (the workers' own threads first), under the
  // lock; `parked`: listed as a spare, asleep. For scheddetail's M lines.
  template <class F>
  void visit(F&& f) const {
    std::lock_guard<std::mutex> lk(mu_);
    for (std::size_t i = 0; i < all_.size(); ++i) {
      bool parked = false;
      for (const Machine* s = spares_; s != nullptr && !parked; s = s->next_spare) {
        parked = s == all_[i].get();
      }
      f(i, *all_[i], parked);
    }
  }

 private:
  Scheduler& sched_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Machine>> all_;  // every thread's record
  Machine* spares_ = nullptr;                  // parked, listed
  std::size_t started_ = 0;
  bool stopping_ = false;
};

}  // namespace corun::detail
