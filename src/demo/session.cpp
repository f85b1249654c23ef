// session.cpp: see session.hpp.
#include "demo/session.hpp"

#include <spdlog/spdlog.h>

#include "demo/timeline.hpp"

namespace demo {

Session::Session(const CommonOptions& common, const GlobalOptions& global)
    : console_(std::make_unique<Console>(parse_format(common.format), global, common.wide)),
      timeline_(common.timeline) {
  if (common.trace_option != nullptr && common.trace_option->count() > 0) {
    trace_file_ = std::make_unique<TraceFile>(common.trace_path);
  }
}

void Session::add_run(std::string_view name, int procs,
                      const std::vector<corun::TraceEvent>& events, const TaskLabels& labels) {
  ++runs_;
  if (timeline_) {
    const TimelineOptions opts{.title = name, .procs = procs, .width = console_->width()};
    console_->extra("\n" + render_timeline(run_slices(events), labels, opts, console_->style()));
  }
  if (trace_file_ != nullptr) chrome_.add_run(runs_, name, procs, events, labels);
  spdlog::debug("{}: {} trace events", name, events.size());
}

int Session::finish(int code) {
  if (trace_file_ == nullptr) return code;
  try {
    trace_file_->commit(chrome_.json());
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return kExitFailure;
  }
  spdlog::info("trace written to {} (open it in ui.perfetto.dev)", trace_file_->path());
  return code;
}

}  // namespace demo
