// trace_recorder.cpp: see trace_recorder.hpp.
#include "corun/diag/trace_recorder.hpp"

#include <algorithm>

#include "corun/sched/timer_heap.hpp"

namespace corun {

const char* to_string(StopReason reason) noexcept {
  switch (reason) {
    case StopReason::kNone:
      return "none";
    case StopReason::kYield:
      return "yield";
    case StopReason::kBlock:
      return "block";
    case StopReason::kSleep:
      return "sleep";
    case StopReason::kPreempt:
      return "preempt";
    case StopReason::kExit:
      return "exit";
    case StopReason::kSyscall:
      return "syscall";
  }
  return "unknown";
}

namespace detail {

TraceRecorder::TraceRecorder(int procs, std::int64_t start_ns)
    : start_ns_(start_ns),
      buffers_(std::make_unique<Buffer[]>(static_cast<std::size_t>(procs) + 1)),
      procs_(procs) {
  for (int i = 0; i <= procs; ++i) {
    buffers_[i].chunks.emplace_back();
    buffers_[i].chunks.back().reserve(kChunk);
  }
}

void TraceRecorder::record(int worker, TraceEvent e) noexcept {
  Buffer& b = buffers_[worker < 0 ? procs_ : worker];
  e.time_ns = now_ns() - start_ns_;
  e.worker = worker;
  b.lock.lock();
  try {
    if (b.chunks.back().size() == kChunk) {
      b.chunks.emplace_back();
      b.chunks.back().reserve(kChunk);
    }
    b.chunks.back().push_back(e);
  } catch (...) {
    // Out of memory for trace events: drop the event, keep the program.
  }
  b.lock.unlock();
}

std::vector<TraceEvent> TraceRecorder::snapshot() const {
  std::vector<TraceEvent> all;
  for (int i = 0; i <= procs_; ++i) {
    buffers_[i].lock.lock();
    for (const std::vector<TraceEvent>& chunk : buffers_[i].chunks) {
      all.insert(all.end(), chunk.begin(), chunk.end());
    }
    buffers_[i].lock.unlock();
  }
  std::stable_sort(all.begin(), all.end(),
                   [](const TraceEvent& a, const TraceEvent& b) { return a.time_ns < b.time_ns; });
  return all;
}

}  // namespace detail
}  // namespace corun
