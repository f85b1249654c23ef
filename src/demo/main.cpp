// main.cpp: the `demo` executable: global options, the subcommand table, and
// the mapping of every failure to one line on stderr and an exit code.
#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "demo/cli/help_format.hpp"
#include "demo/cli/logging.hpp"
#include "demo/cli/stdout_status.hpp"
#include "demo/cli/usage.hpp"
#include "demo/command.hpp"
#include "demo/render/text.hpp"

namespace {

// kCommands are the subcommands, in help order. A new one is one line here
// (and its file).
constexpr demo::AddCommand kCommands[] = {
    demo::add_concurrent, demo::add_parallel, demo::add_compare, demo::add_server, demo::add_bench,
};

constexpr const char* kFooter =
    "Examples:\n"
    "  demo concurrent --procs 1            # sleeping tasks overlap on one worker\n"
    "  demo parallel --procs 2 --timeline   # CPU-bound tasks side by side on two\n"
    "  demo compare --procs 1,2,4 --runs 5  # both, measured, with a conclusion\n"
    "  demo compare --format csv > runs.csv\n"
    "  GOMAXPROCS=1 demo parallel           # procs from the environment\n"
    "\n"
    "Exit codes: 0 ok, 1 the run failed (or stdout could not be written), 2 bad\n"
    "usage (options, GOMAXPROCS), 130 interrupted (Ctrl-C), 141 stdout's reader\n"
    "went away (| head). Output: results on stdout; logs on stderr (-v, -q,\n"
    "SPDLOG_LEVEL). Colour only on a terminal, never with NO_COLOR or --no-color.\n";

// HelpCommand is `demo help [SUBCOMMAND]`, the same as `demo --help` or
// `demo SUBCOMMAND --help`.
struct HelpCommand {
  CLI::App* app = nullptr;
  std::string topic;
};

void add_help(CLI::App& parent, HelpCommand& help) {
  help.app = parent.add_subcommand("help", "This help, or a subcommand's: demo help SUBCOMMAND");
  help.app->add_option("subcommand", help.topic, "The subcommand to describe")
      ->type_name("SUBCOMMAND");
}

int run_help(const CLI::App& app, const HelpCommand& help) {
  if (help.topic.empty()) {
    demo::write_stream(stdout,
                       app.get_formatter()->make_help(&app, "demo", CLI::AppFormatMode::Normal));
    return demo::kExitOk;
  }
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (sub->get_name() == help.topic) {
      demo::write_stream(stdout, sub->help("demo"));
      return demo::kExitOk;
    }
  }
  std::fprintf(stderr, "demo: help: unknown subcommand \"%s\": expected one of %s\n",
               help.topic.c_str(), demo::subcommand_names(app).c_str());
  return demo::kExitUsage;
}

// failure_line() is the message of a run that threw `e`: a system call that
// failed (std::system_error: "Resource temporarily unavailable") says which
// subcommand it stopped, and what to look at when a limit was hit.
std::string failure_line(const demo::Command& command, const std::exception& e) {
  const auto* sys = dynamic_cast<const std::system_error*>(&e);
  if (sys == nullptr) return demo::one_line(e.what());
  std::string line =
      fmt::format("{} failed: {}", command.app->get_name(), demo::one_line(e.what()));
  if (sys->code() == std::errc::resource_unavailable_try_again) {
    line += " (the system refused a thread: see ulimit -u and ulimit -v)";
  } else if (sys->code() == std::errc::not_enough_memory) {
    line += " (out of memory: see ulimit -v)";
  }
  return line;
}

int run_command(const demo::Command& command) {
  try {
    return command.run();
  } catch (const demo::UsageError& e) {
    std::fprintf(stderr, "demo: %s\n", demo::one_line(e.what()).c_str());
    return demo::kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "demo: %s\n", failure_line(command, e).c_str());
    return demo::kExitFailure;
  }
}

int run(int argc, char** argv) {
  try {
    demo::GlobalOptions global;
    CLI::App app{"demo: concurrency and parallelism made visible, on the corun runtime"};
    app.name("demo");
    app.formatter(std::make_shared<demo::HelpFormatter>());
    // A repeated option: the last one wins, as in most tools.
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    app.set_version_flag("--version", std::string{"demo "} + CORUN_VERSION);
    app.add_flag("-v,--verbose", global.verbose, "More logs on stderr (-vv: even more)");
    app.add_flag("-q,--quiet", global.quiet,
                 "Only warnings and errors on stderr; no live progress in json/csv mode");
    app.add_flag("--no-color", global.no_color, "No colour, even on a terminal");
    app.require_subcommand(1);
    app.fallthrough();
    app.footer(kFooter);

    std::vector<demo::Command> commands;
    for (demo::AddCommand add : kCommands) commands.push_back(add(app, global));
    HelpCommand help;
    add_help(app, help);

    try {
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
      demo::write_stream(stdout, app.help());
      return demo::kExitOk;
    } catch (const CLI::CallForVersion& e) {
      demo::write_stream(stdout, std::string(e.what()) + "\n");
      return demo::kExitOk;
    } catch (const CLI::ParseError& e) {
      if (e.get_exit_code() == 0) return app.exit(e);
      std::fprintf(stderr, "demo: %s\n", demo::usage_message(app, e).c_str());
      return demo::kExitUsage;
    }
    if (help.app->parsed()) return run_help(app, help);
    demo::setup_logging(global);
    for (const demo::Command& command : commands) {
      if (command.app->parsed()) return run_command(command);
    }
    return demo::kExitUsage;  // unreachable: require_subcommand(1)
  } catch (const std::exception& e) {
    std::fprintf(stderr, "demo: %s\n", demo::one_line(e.what()).c_str());
    return demo::kExitFailure;
  }
}

}  // namespace

int main(int argc, char** argv) {
  demo::reserve_standard_descriptors();
  return demo::finish_stdout(run(argc, argv));
}
