// task_run.cpp: see task_run.hpp.
#include "demo/run/task_run.hpp"

#include <optional>

#include "corun/runtime.hpp"
#include "demo/run/worker_cpu.hpp"

namespace demo {

TaskRun run_tasks(const corun::Config& config, const TaskTally& tally,
                  const std::function<void(std::size_t index)>& task, OnInterrupt on_interrupt,
                  const TaskRunHooks& hooks) {
  TaskRun run;
  {
    corun::Runtime rt(config);
    if (hooks.started) hooks.started(rt.trace_epoch());
    std::optional<WorkerCpuSampler> cpu;
    if (config.trace) {
      cpu.emplace(config.procs, rt.trace_epoch());
      cpu->sample();
    }
    const auto tasks = static_cast<std::size_t>(tally.tasks());
    for (std::size_t i = 0; i < tasks; ++i) {
      const std::uint64_t id = rt.go([&task, i] { task(i); });
      if (hooks.spawned) hooks.spawned(i, id);
    }
    if (hooks.all_spawned) hooks.all_spawned();
    wait_for_tasks(tally, [&] {
      if (cpu) cpu->sample();
      if (hooks.tick) hooks.tick();
      if (hooks.inspect) hooks.inspect(rt);
    });
    if (cpu) cpu->sample();
    if (tally.complete() || on_interrupt == OnInterrupt::kLetFinish) rt.wait();
    if (cpu) {
      cpu->sample();
      run.cpu = cpu->take();
    }
    if (hooks.stopped) hooks.stopped();
    run.trace = rt.trace();
  }  // an interrupted run's waiting tasks are cancelled here
  // Every task has returned or was cancelled: the tally is final.
  run.completed = tally.complete();
  return run;
}

}  // namespace demo
