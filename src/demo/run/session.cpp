// session.cpp: see session.hpp.
#include "demo/run/session.hpp"

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <string>

#include "demo/render/narration.hpp"
#include "demo/render/timeline.hpp"

namespace demo {

namespace {

// event_line() is one scheduler event for -vv:
// "12.345 ms  P0  G2  run stop: sleep".
std::string event_line(const corun::TraceEvent& e, const TaskLabels& labels) {
  const auto label = labels.find(e.coroutine);
  const std::string who = fmt::format("G{}{}", e.coroutine,
                                      label != labels.end() ? " (" + label->second.name + ")" : "");
  const std::string where = e.worker >= 0 ? fmt::format("P{}", e.worker) : "thread";
  std::string what;
  switch (e.kind) {
    case corun::TraceKind::kSpawn:
      what =
          fmt::format("{} spawned by {}", who, e.arg != 0 ? fmt::format("G{}", e.arg) : "a thread");
      break;
    case corun::TraceKind::kRunStart:
      what = fmt::format("{} runs", who);
      break;
    case corun::TraceKind::kRunStop:
      what = fmt::format("{} stops: {}{}", who, corun::to_string(e.reason),
                         e.wait != nullptr && *e.wait != '\0' ? fmt::format(" ({})", e.wait) : "");
      break;
    case corun::TraceKind::kUnblock:
      what = fmt::format("{} made runnable by {}", who,
                         e.arg == corun::kTimerWaker ? std::string("its timer")
                         : e.arg != 0                ? fmt::format("G{}", e.arg)
                                                     : std::string("a thread"));
      break;
    case corun::TraceKind::kSteal:
      what = fmt::format("stole {} from P{}", e.arg, e.coroutine);
      break;
  }
  return fmt::format("{:>10.3f} ms  {:<6}  {}", static_cast<double>(e.time_ns) / 1e6, where, what);
}

}  // namespace

Session::Session(const CommonOptions& common, const GlobalOptions& global)
    : console_(std::make_unique<Console>(parse_format(common.format), global, common.wide)),
      timeline_(common.timeline),
      explain_(common.explain),
      log_events_(spdlog::should_log(spdlog::level::trace)) {
  if (common.trace_option != nullptr && common.trace_option->count() > 0) {
    trace_file_ = std::make_unique<TraceFile>(common.trace_path);
  }
  if (common.svg_option != nullptr && common.svg_option->count() > 0) {
    svg_file_ = std::make_unique<TraceFile>(common.svg_path, "--svg");
  }
}

void Session::add_run(std::string_view name, int procs,
                      const std::vector<corun::TraceEvent>& events, const TaskLabels& labels,
                      bool interrupted, const std::vector<CpuSample>& cpu) {
  ++runs_;
  if (timeline_) {
    const TimelineOptions opts{.title = name,
                               .procs = procs,
                               .width = console_->width(),
                               .interrupted = interrupted,
                               .cpu = &cpu};
    console_->extra("\n" + render_timeline(events, labels, opts, console_->style()));
  }
  if (explain_) {
    const NarrationOptions opts{
        .title = name, .procs = procs, .width = console_->width(), .interrupted = interrupted};
    console_->extra("\n" + narrate(events, labels, opts));
  }
  if (trace_file_ != nullptr) {
    chrome_.add_run(runs_, name, procs, events, labels, interrupted, cpu);
  }
  if (svg_file_ != nullptr) svg_.add_run(name, procs, events, labels, interrupted, cpu);
  spdlog::debug("{}: {} trace events", name, events.size());
  if (log_events_) {
    for (const corun::TraceEvent& e : events) spdlog::trace("{}: {}", name, event_line(e, labels));
  }
}

int Session::finish(int code) {
  try {
    if (trace_file_ != nullptr) {
      trace_file_->commit(chrome_.json());
      spdlog::info("trace written to {} (open it in ui.perfetto.dev)", trace_file_->path());
    }
    if (svg_file_ != nullptr) {
      svg_file_->commit(svg_.svg());
      spdlog::info("picture written to {} (open it in a browser)", svg_file_->path());
    }
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return kExitFailure;
  }
  return code;
}

}  // namespace demo
