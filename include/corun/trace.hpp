// trace.hpp: the execution tracer's events.
//
// With Config::trace set, every worker records what it runs into its own
// buffer: spawns, each run of a coroutine (start and stop, with why it
// stopped), unblocks and steals. Runtime::trace() returns them merged in
// time order. With tracing off the cost is one predictable branch per event
// site. The demo renders these as a text timeline and as Chrome/Perfetto
// trace JSON.
#pragma once

#include <cstdint>

namespace corun {

enum class TraceKind : std::uint8_t {
  kSpawn,     // `coroutine` was created (arg: the spawning coroutine, 0 = a thread)
  kRunStart,  // `coroutine` starts running on `worker`
  kRunStop,   // `coroutine` stops running on `worker`, for `reason`
  kUnblock,   // `coroutine` was made runnable (arg: the waker, 0 = a thread/timer)
  kSteal,     // `worker` stole `arg` coroutines from worker `coroutine`
};

enum class StopReason : std::uint8_t {
  kNone,
  kYield,    // yield()
  kBlock,    // a channel, WaitGroup, Mutex, select: see `wait`
  kSleep,    // sleep_for()/sleep_until()
  kPreempt,  // its time slice ran out
  kExit,     // it returned
  kSyscall,  // its thread stayed in a blocking call (corun::blocking()) and the
             // worker was handed to another thread; `wait` is "syscall"
};

const char* to_string(StopReason reason) noexcept;

struct TraceEvent {
  std::int64_t time_ns = 0;  // since the Runtime started
  std::uint64_t coroutine = 0;
  std::uint64_t arg = 0;
  std::int32_t worker = -1;  // -1: a plain thread
  TraceKind kind = TraceKind::kSpawn;
  StopReason reason = StopReason::kNone;
  const char* wait = "";  // kRunStop with kBlock: the wait reason ("chan receive", ...)
};

}  // namespace corun
