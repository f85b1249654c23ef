// coroutine_dump.hpp: every live coroutine of a runtime, as text: its state,
// what it waits for and since when, and its backtrace, identical ones
// grouped (Go's goroutine dump, and its pprof goroutine profile's debug=1
// grouping). README: "Seeing inside a running program".
#pragma once

#include <string>

namespace corun::detail {

class Scheduler;

// coroutine_dump() walks the registry of coroutines that have blocked at
// least once (live_registry.hpp), under each shard's lock (so that none
// exits and gives its stack back meanwhile), and counts the others. It does
// not stop anything: a parked coroutine's stack is read from its saved
// registers, every read inside its stack, and one that woke meanwhile (its
// state or saved stack pointer changed) is shown as runnable. A running
// coroutine's stack is asked of its worker's thread with a signal
// (running_stacks.hpp), first, with a bound of kStackWaitLimit; those
// running that never blocked are listed too. A coroutine
// caught in the instant between its park and its register save shows what
// its stack held then: a dump is a snapshot of a moving program, as Go's is.
// Cost: one pass over the registry, one hash per coroutine, and names for
// each distinct stack only; output: at most kMaxGroups groups.
std::string coroutine_dump(Scheduler& sched);

}  // namespace corun::detail
