// preempt_signal.hpp: asynchronous preemption's signal (SIGURG), for the
// monitor (preempt.cpp holds the handler).
#pragma once

#include <pthread.h>

namespace corun::detail {

// install_preempt_signal() installs the SIGURG handler (once per process);
// false when asynchronous preemption is unavailable in this build.
bool install_preempt_signal();

// interrupt_for_preemption() sends SIGURG to a worker thread whose preempt
// flag is set: a coroutine there inside a PreemptibleRegion gives up the
// worker from the handler.
void interrupt_for_preemption(pthread_t thread) noexcept;

}  // namespace corun::detail
