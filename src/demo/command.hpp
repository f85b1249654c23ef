// command.hpp: what main.cpp needs from each subcommand file, the exit codes
// and the error that means "bad input".
#pragma once

#include <functional>
#include <stdexcept>

#include "demo/cli/cli_fwd.hpp"

namespace demo {

// ExitCode is the process exit status; the set is documented in `demo --help`.
enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,        // the run failed (e.g. the trace file could not be written)
  kExitUsage = 2,          // bad command line or environment (GOMAXPROCS)
  kExitInterrupted = 130,  // SIGINT (Ctrl-C): what finished was printed
  kExitBrokenPipe = 141    // stdout's reader went away (128 + SIGPIPE); nothing said
};

// UsageError is bad input: main prints "demo: <what>" as one line on stderr
// and exits with kExitUsage. what() names the option and what it accepts.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// GlobalOptions are the options of `demo` itself, also accepted after a
// subcommand.
struct GlobalOptions {
  int verbose = 0;  // -v: debug logs, -vv: trace logs
  bool quiet = false;
  bool no_color = false;
};

// Command is a registered subcommand: its CLI11 app and the function that
// runs it once the command line parsed. run() returns an ExitCode and may
// throw UsageError (bad option values are found there, before any work).
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

// AddCommand registers one subcommand on `parent`.
using AddCommand = Command (*)(CLI::App& parent, const GlobalOptions& global);

Command add_concurrent(CLI::App& parent, const GlobalOptions& global);
Command add_parallel(CLI::App& parent, const GlobalOptions& global);
Command add_compare(CLI::App& parent, const GlobalOptions& global);
Command add_server(CLI::App& parent, const GlobalOptions& global);
Command add_bench(CLI::App& parent, const GlobalOptions& global);

}  // namespace demo
