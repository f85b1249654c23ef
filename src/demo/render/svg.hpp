// svg.hpp: --svg FILE, the run as a self-contained SVG picture (no scripts,
// no fonts or styles fetched: any browser opens it offline). Per run: a
// title and a summary line, one lane per worker (its runs, idle in grey),
// one lane per task (its states in colours: running green, runnable teal,
// sleeping orange, blocked red, not started/done left blank) or, for many
// tasks, one histogram lane per state; a time axis in ms; wake-up arrows
// (from the waker's lane, or for a timer from the woken task's own lane, to
// where the woken task next runs) and steal arrows (victim to thief) when
// there are few enough to read; where a worker's thread held a task but was
// off the CPU, a pink bar in its lane; a legend.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "corun/trace.hpp"
#include "demo/render/off_cpu.hpp"
#include "demo/render/trace_view.hpp"

namespace demo {

// kMaxArrows is how many wake-up and steal arrows a run draws at most; beyond,
// none, and the summary says how many there were.
inline constexpr std::size_t kMaxArrows = 60;

// kMaxTaskLanes is how many tasks get a lane each; beyond, histogram lanes.
inline constexpr std::size_t kMaxTaskLanes = 40;

// SvgPicture collects runs into one picture, one below the other.
class SvgPicture {
 public:
  // add_run() draws one run; `cpu`: its worker threads' CPU clocks (an
  // off-CPU bar where a worker's thread held a task but was off the CPU).
  void add_run(std::string_view name, int procs, const std::vector<corun::TraceEvent>& events,
               const TaskLabels& labels, bool interrupted = false,
               const std::vector<CpuSample>& cpu = {});

  // svg() is the finished document.
  std::string svg() const;

 private:
  std::string body_;
  int height_ = 0;
};

}  // namespace demo
