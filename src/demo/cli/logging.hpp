// logging.hpp: the demo's logs: spdlog on stderr, "demo: LEVEL: message".
#pragma once

#include "demo/command.hpp"

namespace demo {

// setup_logging() sets the level: info by default, then SPDLOG_LEVEL from
// the environment (e.g. SPDLOG_LEVEL=debug), then -q (warnings and errors
// only) or -v (debug) / -vv (trace), which win. Colour follows the same rule
// as the output's (a terminal, no NO_COLOR, no --no-color).
void setup_logging(const GlobalOptions& global);

}  // namespace demo
