// running_stacks.hpp: the backtraces of the coroutines running on workers
// right now, for the coroutine dump. A running coroutine's registers are in
// its thread's CPU, not saved anywhere: each worker thread that runs one is
// sent a signal (kStackSignal, a real-time signal, with pthread_sigqueue)
// whose handler walks the interrupted stack into a request slot and marks it
// answered; the dumper waits for the answers with a bound.
//
// Async-signal-safe handler: no allocation, no lock (stack_walk.hpp's walk
// without cache). The slots are static: a request that times out is
// abandoned, and a late handler finds it so and frees it without writing.
// The handler names the coroutine whose stack it walked, the one its worker
// ran at that instant, checked against the interrupted stack pointer: a
// worker that moved on to another coroutine meanwhile gives that one's
// stack, under that one's id, never a wrong attribution.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "corun/diag/stack_walk.hpp"

namespace corun::detail {

class Scheduler;

struct RunningStack {
  std::uint64_t id = 0;  // the coroutine
  std::vector<void*> pcs;
};

struct RunningStacks {
  std::vector<RunningStack> stacks;
  std::size_t unanswered = 0;  // workers that did not answer in time
};

// kStackWaitLimit: how long the dump waits for the workers' answers.
inline constexpr std::chrono::milliseconds kStackWaitLimit{100};

// sample_running_stacks() asks every worker thread of `sched` that runs a
// coroutine, except the calling thread, for its backtrace, and waits for
// the answers, at most `limit` in all. Not async-signal-safe.
RunningStacks sample_running_stacks(Scheduler& sched, const LoadedSegments& segments,
                                    std::chrono::milliseconds limit = kStackWaitLimit);

}  // namespace corun::detail
