// cli_fwd.hpp: CLI11's classes by name only. A header that just passes a
// CLI::App or CLI::Option around includes this, not <CLI/CLI.hpp>: CLI11 is
// header-only and costs every file that includes it several seconds of
// compilation (its validators are objects built in each), so only the files
// that define options or parse the command line include it.
#pragma once

namespace CLI {
class App;
class Option;
class ParseError;
}  // namespace CLI
