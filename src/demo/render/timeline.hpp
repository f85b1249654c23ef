// timeline.hpp: --timeline, a picture of a run drawn from its trace, time
// running left to right: one row per worker (the symbol of the task that
// ran in each column, '.' where the worker was idle), then one row per task
// (its state in each column: running on which worker, runnable, sleeping,
// blocked, or blank before its start and after its end), or, for many
// tasks, one histogram row per state (how many tasks were in it).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "corun/trace.hpp"
#include "demo/render/off_cpu.hpp"
#include "demo/render/output.hpp"
#include "demo/render/trace_view.hpp"

namespace demo {

struct TimelineOptions {
  std::string_view title = "Timeline";
  int procs = 1;
  int width = 80;            // of the whole picture, in columns
  bool interrupted = false;  // the run was stopped by Ctrl-C: say so
  // cpu: the worker threads' CPU clocks sampled during the run (null or
  // empty: unknown, no off-CPU marks).
  const std::vector<CpuSample>* cpu = nullptr;
};

// kCellOffCpu marks, in a worker row, a column where its thread held a task
// but was off the CPU for most of that time.
inline constexpr char kCellOffCpu = '~';

// kMaxTaskRows is how many tasks get a row each; beyond, histogram rows.
inline constexpr std::size_t kMaxTaskRows = 12;

// render_timeline() draws the run of `events` (corun::Runtime::trace()).
// A worker row's column shows the task that ran for most of its busy time
// there (so tasks taking turns show as alternating symbols), or '*' when
// none did, or kCellOffCpu where its thread held a task but was off the CPU
// for most of that time (off_cpu.hpp); it ends with the share of the run
// its worker was busy and, with CPU samples, the share of that busy time
// its thread was off the CPU ("~48%"). A task
// row's column follows state_columns.hpp's rule (a task that ran in the
// column shows as running), and ends with the share of the run it ran.
// The legend counts the runs that ended because their time slice ran out
// (preemptions).
std::string render_timeline(const std::vector<corun::TraceEvent>& events, const TaskLabels& labels,
                            const TimelineOptions& opts, const Style& style);

}  // namespace demo
