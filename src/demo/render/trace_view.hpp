// trace_view.hpp: the runtime's trace (corun::TraceEvent records) as the
// demo draws it: run slices (one per stretch a coroutine ran on a worker)
// and the labels (task names and timeline symbols) of the coroutines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "corun/trace.hpp"

namespace demo {

// RunSlice is one run of a coroutine on a worker, from kRunStart to the
// matching kRunStop.
struct RunSlice {
  int worker = 0;
  std::uint64_t coroutine = 0;
  std::int64_t start_ns = 0;
  std::int64_t end_ns = 0;
  corun::StopReason reason = corun::StopReason::kNone;
  const char* wait = "";
};

// run_slices() pairs kRunStart/kRunStop per worker. A run still open at the
// end of the trace ends at the trace's last event.
std::vector<RunSlice> run_slices(const std::vector<corun::TraceEvent>& events);

// Preemptions counts the runs that ended because their time slice ran out
// (kRunStop with StopReason::kPreempt): in all, and per coroutine.
struct Preemptions {
  std::uint64_t total = 0;
  std::unordered_map<std::uint64_t, std::uint64_t> by_coroutine;

  std::uint64_t of(std::uint64_t coroutine) const {
    const auto it = by_coroutine.find(coroutine);
    return it != by_coroutine.end() ? it->second : 0;
  }
};

Preemptions count_preemptions(const std::vector<corun::TraceEvent>& events);

// TaskLabel names a coroutine: `symbol` in the timeline, `name` in legends
// and trace slices; `index` picks its colour.
struct TaskLabel {
  std::string name;
  char symbol = '?';
  std::size_t index = 0;
};

using TaskLabels = std::unordered_map<std::uint64_t, TaskLabel>;  // by coroutine id

// default_symbol() is A..Z, a..z, 0..9, then again.
char default_symbol(std::size_t index);

}  // namespace demo
