// this_coroutine.hpp: what a coroutine can ask and do about itself.
#pragma once

#include <chrono>
#include <cstdint>

namespace corun::this_coroutine {

// yield() lets other runnable coroutines run; the caller continues later on
// the same or another worker. Outside a coroutine it yields the thread.
void yield();

// sleep_for() parks the coroutine (not the thread) on a timer. Outside a
// coroutine it sleeps the thread.
void sleep_for(std::chrono::nanoseconds duration);
void sleep_until(std::chrono::steady_clock::time_point deadline);

// id() is the coroutine's id (1, 2, ... in spawn order per runtime), 0
// outside a coroutine.
std::uint64_t id() noexcept;

// worker() is the index of the worker thread running the caller (0..procs-1),
// -1 outside the runtime's workers.
int worker() noexcept;

}  // namespace corun::this_coroutine
