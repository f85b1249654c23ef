// run_and_report.hpp: the skeleton every run subcommand (concurrent,
// parallel, compare) shares, so that each says only what differs: how its
// options are checked, and how it runs and measures.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "demo/cli/options.hpp"
#include "demo/command.hpp"
#include "demo/run/interrupt.hpp"
#include "demo/run/session.hpp"

namespace demo {

// Report is what a run leaves to show: the human text (the summary, or
// compare's table and conclusions) and, with --format json or csv, the
// document (see machine_document()).
struct Report {
  std::string text;
  std::string document;   // empty in table mode
  bool completed = true;  // false: Ctrl-C stopped the run (exit 130)
};

// machine_document() is the document of `format`: json() or csv(), each
// made only when asked for; none for a table.
inline std::string machine_document(Format format, const std::function<std::string()>& json,
                                    const std::function<std::string()>& csv) {
  switch (format) {
    case Format::kJson:
      return json();
    case Format::kCsv:
      return csv();
    case Format::kTable:
      break;
  }
  return {};
}

// run_and_report() runs one subcommand: from its first step on, Ctrl-C
// stops the run (one that comes while the options are checked stops the
// run as it starts); check() turns the options into settings (or throws
// UsageError, before any output); the Session opens (--format, --trace);
// run() prints its header and live lines and returns its Report, which is
// written in the session's format; the exit code is kExitOk, or
// kExitInterrupted, or kExitFailure when the trace file could not be
// written.
template <typename Settings>
int run_and_report(const CommonOptions& common, const GlobalOptions& global,
                   const std::function<Settings()>& check,
                   const std::function<Report(const Settings&, Session&)>& run) {
  const InterruptScope sigint;
  const Settings settings = check();
  Session session(common, global);
  const Report report = run(settings, session);
  session.console().report(report.text, [&] { return report.document; });
  return session.finish(report.completed ? kExitOk : kExitInterrupted);
}

// run_command() is Command::run for a subcommand whose options (with their
// CommonOptions in `common`) are parsed into `opts`: run_and_report() with
// its check() and run().
template <typename Options, typename Settings>
std::function<int()> run_command(std::shared_ptr<const Options> opts, const GlobalOptions& global,
                                 Settings (*check)(const Options&),
                                 Report (*run)(const Settings&, Session&)) {
  return [opts, &global, check, run] {
    return run_and_report<Settings>(
        opts->common, global, [&] { return check(*opts); }, run);
  };
}

}  // namespace demo
