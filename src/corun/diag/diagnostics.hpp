// diagnostics.hpp: a runtime's diagnostics: its entry in the debuggers'
// anchor (debugger_anchor.hpp), always, and what CORUN_DEBUG turns on
// (debug_options.hpp): the schedtrace thread and the SIGQUIT dump, which do
// not exist while it is unset.
#pragma once

#include <memory>

#include "corun/diag/debug_options.hpp"
#include "corun/diag/debugger_anchor.hpp"
#include "corun/diag/dump_signal.hpp"
#include "corun/diag/schedtrace.hpp"

namespace corun::detail {

class Scheduler;

class Diagnostics {
 public:
  // start() reads CORUN_DEBUG. It throws
  // std::invalid_argument for a bad value (one line, naming what was
  // expected).
  static std::unique_ptr<Diagnostics> start(Scheduler& sched);

  explicit Diagnostics(Scheduler& sched, const DebugOptions& options);

 private:
  DebuggerEntry debugger_entry_;
  std::unique_ptr<SchedTrace> schedtrace_;
  std::unique_ptr<DumpOnSignal> dump_on_signal_;
};

}  // namespace corun::detail
