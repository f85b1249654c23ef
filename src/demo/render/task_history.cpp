// task_history.cpp: see task_history.hpp.
#include "demo/render/task_history.hpp"

#include <algorithm>
#include <unordered_map>

namespace demo {

const char* to_string(TaskState state) noexcept {
  switch (state) {
    case TaskState::kRunnable:
      return "runnable";
    case TaskState::kRunning:
      return "running";
    case TaskState::kSleeping:
      return "sleeping";
    case TaskState::kBlocked:
      return "blocked";
  }
  return "unknown";
}

const TaskTrack* TaskHistory::find(std::uint64_t coroutine) const noexcept {
  for (const TaskTrack& t : tasks) {
    if (t.coroutine == coroutine) return &t;
  }
  return nullptr;
}

namespace {

// enter() ends `t`'s current span at `at` and starts one in `next`.
void enter(TaskTrack& t, std::int64_t at, StateSpan next) {
  if (!t.spans.empty()) {
    StateSpan& last = t.spans.back();
    at = std::max(at, last.start_ns);
    last.end_ns = at;
    // A wait of no length (spawned and run at once) is left out; a run of
    // no length stays: it ran.
    if (last.start_ns == at && last.state != TaskState::kRunning) t.spans.pop_back();
  }
  next.start_ns = at;
  next.end_ns = at;
  t.spans.push_back(next);
}

}  // namespace

TaskHistory task_history(const std::vector<corun::TraceEvent>& events) {
  TaskHistory h;
  std::unordered_map<std::uint64_t, std::size_t> index;    // coroutine -> h.tasks
  std::unordered_map<std::uint64_t, std::size_t> pending;  // coroutine -> its last wake-up
  auto track = [&](std::uint64_t coroutine, std::int64_t at) -> TaskTrack& {
    auto [it, fresh] = index.try_emplace(coroutine, h.tasks.size());
    if (fresh) {
      h.tasks.push_back({.coroutine = coroutine, .spawn_ns = at});
      h.tasks.back().spans.push_back({.start_ns = at, .end_ns = at});
    }
    return h.tasks[it->second];
  };
  for (const corun::TraceEvent& e : events) {
    h.end_ns = std::max(h.end_ns, e.time_ns);
    switch (e.kind) {
      case corun::TraceKind::kSpawn: {
        TaskTrack& t = track(e.coroutine, e.time_ns);
        t.parent = e.arg;
        break;
      }
      case corun::TraceKind::kRunStart: {
        TaskTrack& t = track(e.coroutine, e.time_ns);
        if (t.exited) break;
        enter(t, e.time_ns, {.state = TaskState::kRunning, .worker = e.worker});
        if (auto it = pending.find(e.coroutine); it != pending.end()) {
          h.wakeups[it->second].run_ns = t.spans.back().start_ns;
          pending.erase(it);
        }
        break;
      }
      case corun::TraceKind::kRunStop: {
        TaskTrack& t = track(e.coroutine, e.time_ns);
        if (t.exited || t.spans.back().state != TaskState::kRunning) break;
        t.spans.back().why = e.reason;
        switch (e.reason) {
          case corun::StopReason::kExit:
            t.spans.back().end_ns = std::max(e.time_ns, t.spans.back().start_ns);
            t.end_ns = t.spans.back().end_ns;
            t.exited = true;
            break;
          case corun::StopReason::kSleep:
            enter(t, e.time_ns, {.state = TaskState::kSleeping});
            break;
          case corun::StopReason::kBlock:
            enter(t, e.time_ns,
                  {.state = TaskState::kBlocked, .wait = e.wait != nullptr ? e.wait : ""});
            break;
          default:  // yield, preempt: back in a queue
            enter(t, e.time_ns, {.state = TaskState::kRunnable});
            break;
        }
        break;
      }
      case corun::TraceKind::kUnblock: {
        TaskTrack& t = track(e.coroutine, e.time_ns);
        if (t.exited) break;
        const TaskState was = t.spans.back().state;
        // A wake-up that overtook the stop that parked the coroutine (or
        // one of a coroutine already runnable) changes no state; it is
        // still the cause of the next run.
        if (was == TaskState::kSleeping || was == TaskState::kBlocked) {
          enter(t, e.time_ns, {.state = TaskState::kRunnable});
        }
        pending[e.coroutine] = h.wakeups.size();
        h.wakeups.push_back({.time_ns = e.time_ns,
                             .coroutine = e.coroutine,
                             .waker = e.arg == corun::kTimerWaker ? 0 : e.arg,
                             .worker = e.worker,
                             .timer = e.arg == corun::kTimerWaker});
        break;
      }
      case corun::TraceKind::kSteal:
        h.steals.push_back({.time_ns = e.time_ns,
                            .victim = static_cast<int>(e.coroutine),
                            .thief = e.worker,
                            .count = e.arg});
        break;
    }
  }
  for (TaskTrack& t : h.tasks) {
    if (!t.exited) {
      t.end_ns = h.end_ns;
      t.spans.back().end_ns = std::max(h.end_ns, t.spans.back().start_ns);
    }
  }
  return h;
}

}  // namespace demo
