// preempt.hpp: time slices for CPU-bound coroutines.
//
// A monitor thread (Go's sysmon) watches every worker. When one coroutine has
// run longer than Config::time_slice (10 ms by default, as Go) without giving
// its worker up, the monitor asks it to. It is then taken off its worker in
// one of two ways:
//
//  - Cooperatively, at the next preempt_point() it calls: one thread-local
//    load and a branch when nothing is asked. Put one in long loops.
//
//  - Asynchronously, inside a preemptible region (PreemptibleRegion, or the
//    preemptible() wrapper): the monitor interrupts the worker thread with a
//    signal (SIGURG, as Go) and the coroutine is switched out from the signal
//    handler, wherever it is in the region. Since it may stop at any
//    instruction, a region may run only self-contained computation: no
//    allocation (malloc's locks), no I/O or iostreams, no locks of any kind,
//    no thread-locals (errno included: the coroutine may resume on another
//    thread), no exceptions leaving the region, and no corun calls (a
//    blocking call or yield inside a region is a fatal error). Outside a
//    region nothing is ever interrupted. Under ThreadSanitizer, asynchronous
//    preemption is off (its signal handling defers handlers); preempt_point()
//    still works.
//
// A preempted coroutine goes to the back of its worker's run queue; it shows
// in traces with the stop reason "preempt".
#pragma once

#include <atomic>
#include <utility>

namespace corun {

namespace detail {
// Set by the monitor for the coroutine running on this thread, and on every
// worker by shutdown (its cancellation points read it too). constinit: a
// use is one load, with no check for a dynamic initialiser.
extern constinit thread_local std::atomic<bool> t_preempt_requested;
void preempt_now();
void enter_preemptible() noexcept;
void leave_preemptible() noexcept;
}  // namespace detail

// preempt_point() gives up the worker if the monitor asked for it.
inline void preempt_point() {
  if (detail::t_preempt_requested.load(std::memory_order_relaxed)) [[unlikely]] {
    detail::preempt_now();
  }
}

// PreemptibleRegion marks its scope as interruptible (see the rules above).
// Regions nest. Outside a coroutine it does nothing.
class PreemptibleRegion {
 public:
  PreemptibleRegion() noexcept { detail::enter_preemptible(); }
  ~PreemptibleRegion() { detail::leave_preemptible(); }
  PreemptibleRegion(const PreemptibleRegion&) = delete;
  PreemptibleRegion& operator=(const PreemptibleRegion&) = delete;
};

// preemptible() runs `f` inside a PreemptibleRegion and returns its result.
template <class F>
decltype(auto) preemptible(F&& f) {
  PreemptibleRegion region;
  return std::forward<F>(f)();
}

}  // namespace corun
