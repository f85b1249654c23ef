// diagnostics.cpp: starting what CORUN_DEBUG asks for (see diagnostics.hpp).
#include "corun/diag/diagnostics.hpp"

#include <cstdlib>

namespace corun::detail {

std::unique_ptr<Diagnostics> Diagnostics::start(Scheduler& sched) {
  const DebugOptions options = parse_debug_options(std::getenv("CORUN_DEBUG"));
  return std::make_unique<Diagnostics>(sched, options);
}

Diagnostics::Diagnostics(Scheduler& sched, const DebugOptions& options) : debugger_entry_(sched) {
  if (options.schedtrace_ms > 0) {
    schedtrace_ = std::make_unique<SchedTrace>(sched, options.schedtrace_ms, options.scheddetail);
  }
  if (options.sigquit) dump_on_signal_ = std::make_unique<DumpOnSignal>(sched);
}

}  // namespace corun::detail
