// timer_firing.hpp: whether the calling thread is firing expired timers
// right now, so that the tracer can tell a coroutine woken by its timer (a
// sleep's end, a select's timeout) from one woken by whichever coroutine
// happens to be running on the worker that fires them.
#pragma once

namespace corun::detail {

inline thread_local bool t_firing_timers = false;

// FiringTimers marks the calling thread as firing timers for its lifetime.
class FiringTimers {
 public:
  FiringTimers() noexcept : outer_(t_firing_timers) { t_firing_timers = true; }
  ~FiringTimers() { t_firing_timers = outer_; }
  FiringTimers(const FiringTimers&) = delete;
  FiringTimers& operator=(const FiringTimers&) = delete;

 private:
  bool outer_;
};

}  // namespace corun::detail
