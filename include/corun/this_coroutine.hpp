// this_coroutine.hpp: what a coroutine can ask and do about itself.
#pragma once

#include <chrono>
#include <cstdint>

#include "corun/detail/deadline.hpp"

namespace corun::this_coroutine {

// yield() lets other runnable coroutines run; the caller continues later on
// the same or another worker. Outside a coroutine it yields the thread.
void yield();

// sleep_for() parks the coroutine (not the thread) on a timer. Outside a
// coroutine it sleeps the thread. A zero or negative duration, or a deadline
// already past, returns at once; a huge one (nanoseconds::max(),
// time_point::max(), anything beyond ~292 years) sleeps practically forever
// (until shutdown cancels it), as Go's time.Sleep(math.MaxInt64) does.
void sleep_for(std::chrono::nanoseconds duration);
void sleep_until(std::chrono::steady_clock::time_point deadline);

// Other units convert without overflowing (hours::max() is "forever").
template <class Rep, class Period>
void sleep_for(std::chrono::duration<Rep, Period> duration) {
  sleep_for(detail::saturating_ns(duration));
}
template <class Duration>
void sleep_until(std::chrono::time_point<std::chrono::steady_clock, Duration> deadline) {
  sleep_until(
      std::chrono::steady_clock::time_point(detail::saturating_ns(deadline.time_since_epoch())));
}

// id() is the coroutine's id (1, 2, ... in spawn order per runtime), 0
// outside a coroutine.
std::uint64_t id() noexcept;

// worker() is the index of the worker thread running the caller (0..procs-1),
// -1 outside the runtime's workers.
int worker() noexcept;

}  // namespace corun::this_coroutine
