// debug_options.cpp: parsing CORUN_DEBUG (see debug_options.hpp).
#include "corun/diag/debug_options.hpp"

#include <charconv>
#include <stdexcept>
#include <string_view>

namespace corun::detail {

namespace {

constexpr std::int64_t kMaxSchedtraceMs = 24LL * 3600 * 1000;  // a day

[[noreturn]] void reject(std::string_view item, const char* expected) {
  throw std::invalid_argument("CORUN_DEBUG: '" + std::string(item) + "': " + expected);
}

std::int64_t parse_int(std::string_view item, std::string_view value, std::int64_t lo,
                       std::int64_t hi, const char* expected) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (value.empty() || ec != std::errc{} || end != value.data() + value.size() || v < lo ||
      v > hi) {
    reject(item, expected);
  }
  return v;
}

}  // namespace

DebugOptions parse_debug_options(const char* text) {
  DebugOptions o;
  if (text == nullptr) return o;
  std::string_view rest(text);
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (item.empty()) continue;
    const std::size_t eq = item.find('=');
    const std::string_view name = item.substr(0, eq);
    if (eq == std::string_view::npos) {
      reject(item, "expected name=value (schedtrace=MS, scheddetail=0|1, sigquit=0|1)");
    }
    const std::string_view value = item.substr(eq + 1);
    if (name == "schedtrace") {
      o.schedtrace_ms = parse_int(item, value, 0, kMaxSchedtraceMs,
                                  "expected schedtrace=MS, milliseconds from 0 (off) to 86400000");
    } else if (name == "scheddetail") {
      o.scheddetail = parse_int(item, value, 0, 1, "expected scheddetail=0 or 1") == 1;
    } else if (name == "sigquit") {
      o.sigquit = parse_int(item, value, 0, 1, "expected sigquit=0 or 1") == 1;
    } else {
      reject(item, "unknown setting (expected schedtrace=MS, scheddetail=0|1 or sigquit=0|1)");
    }
  }
  return o;
}

}  // namespace corun::detail
