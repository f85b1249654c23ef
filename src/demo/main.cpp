// main.cpp: the `demo` executable: global options, the subcommand table, and
// the mapping of every failure to one line on stderr and an exit code.
#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "demo/command.hpp"
#include "demo/logging.hpp"
#include "demo/stdout_status.hpp"

namespace {

// kCommands are the subcommands, in help order. A new one is one line here
// (and its file).
constexpr demo::AddCommand kCommands[] = {
    demo::add_concurrent,
    demo::add_parallel,
    demo::add_compare,
    demo::add_bench,
};

constexpr const char* kFooter =
    "Examples:\n"
    "  demo concurrent --procs 1            # sleeping tasks overlap on one "
    "worker\n"
    "  demo parallel --procs 2 --timeline   # CPU-bound tasks side by side on "
    "two\n"
    "  demo compare --procs 1,2,4 --runs 5  # both, measured, with a "
    "conclusion\n"
    "  demo compare --format csv > runs.csv\n"
    "  GOMAXPROCS=1 demo parallel           # procs from the environment "
    "(--procs wins)\n"
    "\n"
    "Exit codes: 0 ok, 1 the run failed (or stdout could not be written), 2 "
    "bad usage "
    "(options, GOMAXPROCS), 130 interrupted (Ctrl-C), 141 stdout's reader went "
    "away.\n"
    "Output: results on stdout; logs on stderr (-v, -q, SPDLOG_LEVEL). Colour "
    "only on a "
    "terminal, never with NO_COLOR or --no-color.\n";

// one_line() flattens a message onto one line.
std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

// first_extra() is the first unexpected argument in CLI11's ExtrasError
// message ("The following argument was not expected: X").
std::string first_extra(const std::string& message) {
  const auto colon = message.find(": ");
  if (colon == std::string::npos) return "";
  std::string rest = message.substr(colon + 2);
  return rest.substr(0, rest.find(' '));
}

// usage_message() turns a CLI11 parse error into our one-line message.
std::string usage_message(const CLI::App& app, const CLI::ParseError& e) {
  std::string what = one_line(e.what());
  std::string names;
  for (const CLI::App* sub : app.get_subcommands({})) {
    names += (names.empty() ? "" : ", ") + sub->get_name();
  }
  const std::vector<CLI::App*> chosen = app.get_subcommands();
  if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
    const std::string arg = first_extra(what);
    const std::string where = chosen.empty() ? "demo" : "demo " + chosen.front()->get_name();
    if (!arg.empty() && arg.front() == '-') {
      return fmt::format("unknown option \"{}\" (see {} --help)", arg, where);
    }
    if (chosen.empty()) {
      return fmt::format("unknown subcommand \"{}\": expected one of {}", arg, names);
    }
    return fmt::format("unexpected argument \"{}\" (see {} --help)", arg, where);
  }
  if (chosen.empty() && dynamic_cast<const CLI::RequiredError*>(&e) != nullptr) {
    const std::vector<std::string> rest = app.remaining();
    if (!rest.empty()) {
      return fmt::format("unknown subcommand \"{}\": expected one of {}", rest.front(), names);
    }
    return fmt::format("a subcommand is required: one of {} (see demo --help)", names);
  }
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&e) != nullptr) {
    // CLI11 says "--procs: 1 required N missing".
    const auto colon = what.find(':');
    if (colon != std::string::npos && what.find("missing") != std::string::npos) {
      return fmt::format("{}: expected a value (see --help)", what.substr(0, colon));
    }
  }
  return what;
}

int run_command(const demo::Command& command) {
  try {
    return command.run();
  } catch (const demo::UsageError& e) {
    std::fprintf(stderr, "demo: %s\n", one_line(e.what()).c_str());
    return demo::kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "demo: %s\n", one_line(e.what()).c_str());
    return demo::kExitFailure;
  }
}

int run(int argc, char** argv) {
  try {
    demo::GlobalOptions global;
    CLI::App app{"demo: concurrency and parallelism made visible, on the corun runtime"};
    app.name("demo");
    app.set_version_flag("--version", std::string{"demo "} + CORUN_VERSION);
    app.add_flag("-v,--verbose", global.verbose, "More logs on stderr (-vv: even more)");
    app.add_flag("-q,--quiet", global.quiet,
                 "Only warnings and errors on stderr; no live progress in "
                 "json/csv mode");
    app.add_flag("--no-color", global.no_color, "No colour, even on a terminal");
    app.require_subcommand(1);
    app.fallthrough();
    app.footer(kFooter);

    std::vector<demo::Command> commands;
    for (demo::AddCommand add : kCommands) commands.push_back(add(app, global));

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
      std::fprintf(stderr, "demo: %s\n", usage_message(app, e).c_str());
      return demo::kExitUsage;
    }
    demo::setup_logging(global);
    for (const demo::Command& command : commands) {
      if (command.app->parsed()) return run_command(command);
    }
    return demo::kExitUsage;  // unreachable: require_subcommand(1)
  } catch (const std::exception& e) {
    std::fprintf(stderr, "demo: %s\n", one_line(e.what()).c_str());
    return demo::kExitFailure;
  }
}

}  // namespace

int main(int argc, char** argv) {
  demo::reserve_standard_descriptors();
  return demo::finish_stdout(run(argc, argv));
}
