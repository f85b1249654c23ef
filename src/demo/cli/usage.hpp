// usage.hpp: a command line CLI11 refused, as one line that says what was
// expected: the unknown option and the closest known one, an option typed
// before its subcommand, the subcommands there are.
//
//   demo concurrent --proc 2   ->  unknown option "--proc": did you mean
//                                  --procs? (see demo concurrent --help)
//   demo --procs 1 concurrent  ->  --procs is an option of the subcommand:
//                                  put it after it (demo concurrent --procs 1)
#pragma once

#include <string>
#include <string_view>

#include "demo/cli/cli_fwd.hpp"

namespace demo {

// usage_message() is the message (without "demo: ") for parse error `e` of
// `app`, the top-level App.
std::string usage_message(const CLI::App& app, const CLI::ParseError& e);

// subcommand_names() is "concurrent, parallel, ..." for `app`'s subcommands.
std::string subcommand_names(const CLI::App& app);

// closest_option() is the long (or short) option of `app` that `typed` most
// likely meant ("--proc" -> "--procs"), or "" if none is close.
std::string closest_option(const CLI::App& app, std::string_view typed);

}  // namespace demo
