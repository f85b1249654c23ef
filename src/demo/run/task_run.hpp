// task_run.hpp: run_tasks(), the one way a subcommand runs its tasks: as the
// coroutines of a fresh Runtime, until every one did all its work or Ctrl-C
// stopped the run.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "corun/config.hpp"
#include "corun/trace.hpp"
#include "demo/render/off_cpu.hpp"
#include "demo/run/interrupt.hpp"

namespace corun {
class Runtime;
}  // namespace corun

namespace demo {

// OnInterrupt is what becomes of the tasks of a run that Ctrl-C stopped.
enum class OnInterrupt {
  // kCancel: the runtime cancels them as it stops (a sleep throws
  // corun::Cancelled): for tasks that wait, and would not notice in time.
  kCancel,
  // kLetFinish: they are waited for: tasks that check interrupted() between
  // chunks of work, return soon and report how far they got (a task
  // cancelled at its next preemption point could not).
  kLetFinish,
};

// TaskRunHooks are a run's own steps around the skeleton; each is optional.
struct TaskRunHooks {
  // started() runs once the runtime runs, before the first task is spawned,
  // with the runtime's trace epoch (the zero of the trace's times).
  std::function<void(std::chrono::steady_clock::time_point epoch)> started = nullptr;
  // spawned() runs after task `index` was spawned as coroutine `id`.
  std::function<void(std::size_t index, std::uint64_t id)> spawned = nullptr;
  // all_spawned() runs after the last spawn.
  std::function<void()> all_spawned = nullptr;
  // tick() runs at each poll while the tasks run (see wait_for_tasks()).
  std::function<void()> tick = nullptr;
  // inspect() runs at each poll too, with the runtime (to dump its
  // coroutines mid-run, say).
  std::function<void(const corun::Runtime& rt)> inspect = nullptr;
  // stopped() runs once the tasks are done (or, interrupted, stopped with
  // kLetFinish), while the runtime still exists.
  std::function<void()> stopped = nullptr;
};

// TaskRun is what run_tasks() leaves.
struct TaskRun {
  bool completed = false;                // every task did all its work
  std::vector<corun::TraceEvent> trace;  // empty unless config.trace
  std::vector<CpuSample> cpu;  // the worker threads' CPU clocks at each poll; empty unless traced
};

// run_tasks() runs task(i) for each i in [0, tally.tasks()) as a coroutine
// of a Runtime(config), waits until the tally is complete or SIGINT
// arrived, and stops the runtime. A task calls tally.done() once its work
// is complete; whether the run is complete is the tally's word alone.
// Traced, it samples the worker threads' CPU clocks at each poll.
// Runtime errors (a thread the system refused) propagate.
TaskRun run_tasks(const corun::Config& config, const TaskTally& tally,
                  const std::function<void(std::size_t index)>& task, OnInterrupt on_interrupt,
                  const TaskRunHooks& hooks = {});

}  // namespace demo
