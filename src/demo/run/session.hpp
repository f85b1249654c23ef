// session.hpp: Session, what every subcommand's run shares once its options
// are valid: the console, the --timeline pictures and the --trace file.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "corun/trace.hpp"
#include "demo/cli/options.hpp"
#include "demo/command.hpp"
#include "demo/render/output.hpp"
#include "demo/render/trace_file.hpp"
#include "demo/render/trace_view.hpp"

namespace demo {

class Session {
 public:
  // Session() reads --format and opens the --trace file (so an unwritable
  // path fails here, before the run); throws UsageError. Construct it after
  // the subcommand's own options are checked.
  Session(const CommonOptions& common, const GlobalOptions& global);

  Console& console() noexcept { return *console_; }
  Format format() const noexcept { return console_->format(); }

  // tracing() is whether the runtime should record a trace (Config::trace):
  // for --timeline, --trace or -vv.
  bool tracing() const noexcept { return timeline_ || trace_file_ != nullptr || log_events_; }

  // add_run() shows one run: its timeline (with --timeline), its process in
  // the trace file (with --trace) and, with -vv (trace-level logs), each of
  // its scheduler events as a log line.
  void add_run(std::string_view name, int procs, const std::vector<corun::TraceEvent>& events,
               const TaskLabels& labels);

  // finish() writes the trace file and returns `code`, or kExitFailure when
  // the file could not be written.
  int finish(int code);

 private:
  std::unique_ptr<Console> console_;
  std::unique_ptr<TraceFile> trace_file_;
  ChromeTrace chrome_;
  bool timeline_;
  bool log_events_;
  int runs_ = 0;
};

}  // namespace demo
