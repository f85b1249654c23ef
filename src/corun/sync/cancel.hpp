// cancel.hpp: cancellation points.
//
// Every corun call that waits or polls is a cancellation point: called by a
// coroutine whose runtime is shutting down, it throws corun::Cancelled
// instead of doing its work, even when it would not block (sleep_for(0), an
// uncontended Mutex::lock, a select with a default, try_send/try_recv, a
// WaitGroup::wait at zero). Without that, shutdown, which cancels parked
// coroutines, waited forever for one that loops on such calls. The blocking
// calls park and are cancelled there too; yield() and preempt_point() throw
// as well. Calls that release (Mutex::unlock, WaitGroup::done, Channel::close)
// are not cancellation points: destructors make them while Cancelled unwinds.
//
// The check reads the preempt flag, which shutdown sets on every worker
// thread (again at each sweep, as a switch clears it): when nothing is
// asked, it costs what preempt_point() costs, one thread-local load and a
// branch. The flag set by the monitor for a time slice takes the slow path
// too, which then leaves it to preempt_point().
#pragma once

#include <atomic>

#include "corun/preempt.hpp"

namespace corun::detail {

// cancellation_point_slow(): the flag is set; throws Cancelled if the caller
// is a coroutine whose runtime is shutting down (and no exception is
// unwinding its stack: a destructor's call is left alone).
void cancellation_point_slow();

inline void cancellation_point() {
  if (t_preempt_requested.load(std::memory_order_relaxed)) [[unlikely]] {
    cancellation_point_slow();
  }
}

}  // namespace corun::detail
