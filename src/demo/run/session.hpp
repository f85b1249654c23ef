// session.hpp: Session, what every subcommand's run shares once its options
// are valid: the console, the --timeline pictures, the --explain narration
// and the --trace and --svg files.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "corun/trace.hpp"
#include "demo/cli/options.hpp"
#include "demo/command.hpp"
#include "demo/render/off_cpu.hpp"
#include "demo/render/output.hpp"
#include "demo/render/svg.hpp"
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
  // for --timeline, --trace, --svg, --explain or -vv.
  bool tracing() const noexcept {
    return timeline_ || explain_ || trace_file_ != nullptr || svg_file_ != nullptr || log_events_;
  }

  // add_run() shows one run: its timeline (with --timeline), its narration
  // (--explain), its process in the trace file (with --trace), its picture
  // in the SVG (--svg) and, with -vv (trace-level logs), each of
  // its scheduler events as a log line. `interrupted`: the run was stopped
  // by Ctrl-C, and the pictures say so. `cpu`: the worker threads' CPU
  // clocks sampled during the run (TaskRun::cpu), for the off-CPU marks.
  void add_run(std::string_view name, int procs, const std::vector<corun::TraceEvent>& events,
               const TaskLabels& labels, bool interrupted = false,
               const std::vector<CpuSample>& cpu = {});

  // finish() writes the trace and SVG files and returns `code`, or
  // kExitFailure when a file could not be written.
  int finish(int code);

 private:
  std::unique_ptr<Console> console_;
  std::unique_ptr<TraceFile> trace_file_;
  ChromeTrace chrome_;
  std::unique_ptr<TraceFile> svg_file_;
  SvgPicture svg_;
  bool timeline_;
  bool explain_;
  bool log_events_;
  int runs_ = 0;
};

}  // namespace demo
