// narration.hpp: --explain, the run told in plain words for someone who
// has never heard of a scheduler, derived from its trace: each run of a
// task (where, how long, why it stopped, who or what woke it, who else ran
// at the same time), repetition summarised ("... the same 2 more times"),
// then what the run shows (concurrency, parallelism, both or neither) and
// what more workers would change, with the numbers that say so.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "corun/trace.hpp"
#include "demo/render/trace_view.hpp"

namespace demo {

struct NarrationOptions {
  std::string_view title = "The run";
  int procs = 1;
  int width = 80;
  bool interrupted = false;
};

// kMaxNarratedLines is how many lines of events the narration tells before
// it says how many it leaves out.
inline constexpr std::size_t kMaxNarratedLines = 40;

std::string narrate(const std::vector<corun::TraceEvent>& events, const TaskLabels& labels,
                    const NarrationOptions& opts);

}  // namespace demo
