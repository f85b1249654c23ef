// trace_recorder.hpp: TraceRecorder, per-worker event buffers behind
// Config::trace. Each buffer is appended to by its worker (and, for spawns
// and unblocks from plain threads, by the thread's own buffer) under a
// SpinLock that nobody else takes while the runtime runs, so appends are
// uncontended; snapshot() takes all locks and merges. A buffer grows by
// chunks, so an append never copies the events before it.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "corun/detail/spin_lock.hpp"
#include "corun/trace.hpp"

namespace corun::detail {

class TraceRecorder {
 public:
  TraceRecorder(int procs, std::int64_t start_ns);

  // record() appends `e` (time stamped here) to buffer `worker` (-1: the
  // shared buffer for plain threads).
  void record(int worker, TraceEvent e) noexcept;

  std::vector<TraceEvent> snapshot() const;

  // epoch_ns() is steady-clock time (ns) of the trace's zero.
  std::int64_t epoch_ns() const noexcept { return start_ns_; }

 private:
  // kChunk is how many events a buffer's chunk holds: a full chunk is
  // followed by a new one, never copied (a growing vector copied every
  // event recorded so far each time it doubled).
  static constexpr std::size_t kChunk = 4096;
  struct alignas(64) Buffer {
    mutable SpinLock lock;
    std::vector<std::vector<TraceEvent>> chunks;  // each reserved to kChunk
  };
  const std::int64_t start_ns_;
  std::unique_ptr<Buffer[]> buffers_;  // procs + 1: the last is for plain threads
  const int procs_;
};

}  // namespace corun::detail
