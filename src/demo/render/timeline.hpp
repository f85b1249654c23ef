// timeline.hpp: --timeline, a picture of a run drawn from its trace: one row
// per worker, time running left to right, the symbol of the task that ran
// in each column, '.' where the worker was idle.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "demo/render/output.hpp"
#include "demo/render/trace_view.hpp"

namespace demo {

struct TimelineOptions {
  std::string_view title = "Timeline";
  int procs = 1;
  int width = 80;  // of the whole picture, in columns
};

// render_timeline() draws `slices` on `procs` rows. A column where several
// tasks ran shows the one that ran for most of its busy time (so tasks
// taking turns show as alternating symbols), or '*' when none did (zoom in
// with --trace). Each row ends with the share
// of the run its worker was busy. The legend counts the runs that ended
// because their time slice ran out (preemptions).
std::string render_timeline(const std::vector<RunSlice>& slices, const TaskLabels& labels,
                            const TimelineOptions& opts, const Style& style);

}  // namespace demo
