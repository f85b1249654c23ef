// trace_waker.hpp: trace_waker(), who a kUnblock event names as the waker.
#pragma once

#include <cstdint>

#include "corun/sched/timer_firing.hpp"
#include "corun/sched/worker.hpp"
#include "corun/trace.hpp"

namespace corun::detail {

// trace_waker() is kTimerWaker while a timer fires (whatever coroutine is
// running then did not wake anyone), else the coroutine running on `w` (the
// worker of the waking thread, null for a plain thread), else 0.
inline std::uint64_t trace_waker(const Worker* w) noexcept {
  if (t_firing_timers) return kTimerWaker;
  const Coroutine* by = w != nullptr ? w->running_coroutine() : nullptr;
  return by != nullptr ? by->id : 0;
}

}  // namespace corun::detail
