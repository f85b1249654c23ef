// task_history.hpp: every coroutine's state over time, derived from the
// runtime's trace: when it was spawned, each stretch it spent running (on
// which worker), runnable (waiting for a worker), sleeping or blocked (and
// on what), when it ended; who woke it, and the steals between workers.
// The timeline's task rows, the trace file's coroutine tracks, the SVG and
// the narration are all drawn from this one view.
#pragma once

#include <cstdint>
#include <vector>

#include "corun/trace.hpp"

namespace demo {

enum class TaskState : std::uint8_t {
  kRunnable,  // waiting for a worker (spawned and not yet run, yielded, preempted, woken)
  kRunning,   // on `worker`
  kSleeping,  // in sleep_for()/sleep_until(): waiting for its timer
  kBlocked,   // waiting on a channel, WaitGroup, Mutex, select: see `wait`
};

const char* to_string(TaskState state) noexcept;

// StateSpan is one stretch of a coroutine's life in one state, [start_ns,
// end_ns).
struct StateSpan {
  std::int64_t start_ns = 0;
  std::int64_t end_ns = 0;
  TaskState state = TaskState::kRunnable;
  int worker = -1;                                   // kRunning: the worker
  corun::StopReason why = corun::StopReason::kNone;  // kRunning: why the run ended
  const char* wait = "";  // kBlocked: the wait reason ("chan receive", ...)
};

// TaskTrack is one coroutine from its spawn to its exit (or to the end of
// the trace: `exited` false). Its spans tile [spawn_ns, end_ns) without gaps.
struct TaskTrack {
  std::uint64_t coroutine = 0;
  std::uint64_t parent = 0;  // the spawning coroutine; 0: a plain thread
  std::int64_t spawn_ns = 0;
  std::int64_t end_ns = 0;
  bool exited = false;
  std::vector<StateSpan> spans{};
};

// Wakeup is a coroutine made runnable: by coroutine `waker` (a send, an
// unlock, a done()), or, with waker 0, by its timer (`timer`: its sleep
// ended or its select timed out) or by a plain thread.
struct Wakeup {
  std::int64_t time_ns = 0;
  std::uint64_t coroutine = 0;
  std::uint64_t waker = 0;
  int worker = -1;  // where the wake-up happened; -1: a plain thread
  bool timer = false;
  std::int64_t run_ns = -1;  // when the woken coroutine next started running; -1: never
};

// Steal is worker `thief` taking `count` coroutines from worker `victim`'s
// queue.
struct Steal {
  std::int64_t time_ns = 0;
  int victim = 0;
  int thief = 0;
  std::uint64_t count = 0;
};

struct TaskHistory {
  std::vector<TaskTrack> tasks;  // in spawn order
  std::vector<Wakeup> wakeups;   // in time order
  std::vector<Steal> steals;     // in time order
  std::int64_t end_ns = 0;       // the trace's last event

  const TaskTrack* find(std::uint64_t coroutine) const noexcept;
};

// task_history() reads a trace (corun::Runtime::trace(): time ordered).
// A coroutine first seen running (its spawn not traced) starts there.
TaskHistory task_history(const std::vector<corun::TraceEvent>& events);

}  // namespace demo
