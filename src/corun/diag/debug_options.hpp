// debug_options.hpp: CORUN_DEBUG, the runtime's diagnostics switches (Go's
// GODEBUG), read once when a Runtime starts: a comma-separated list of
// name=value, e.g. CORUN_DEBUG=schedtrace=1000,scheddetail=1.
#pragma once

#include <cstdint>
#include <string>

namespace corun::detail {

struct DebugOptions {
  std::int64_t schedtrace_ms = 0;  // schedtrace=MS: a SCHED line every MS ms
  bool scheddetail = false;        // scheddetail=1: worker and coroutine lines too
  bool sigquit = false;            // sigquit=1: SIGQUIT prints a coroutine dump

  bool any() const noexcept { return schedtrace_ms > 0 || sigquit; }
};

// parse_debug_options() reads `text` (null or empty: all off). It throws
// std::invalid_argument with a one-line message naming what was expected
// for an unknown name or a bad value.
DebugOptions parse_debug_options(const char* text);

}  // namespace corun::detail
