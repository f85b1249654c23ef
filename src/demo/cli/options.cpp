// options.cpp: see options.hpp.
#include "demo/cli/options.hpp"

#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>

#include "corun/config.hpp"
#include "corun/runtime.hpp"
#include "demo/command.hpp"
#include "demo/render/text.hpp"

namespace demo {

namespace {

[[noreturn]] void bad_value(std::string_view option, std::string_view expected,
                            std::string_view text) {
  throw UsageError(fmt::format("{}: expected {}, got \"{}\"", option, expected, text));
}

// parse_decimal() reads all of `text` as an integer; false if it is not one
// or does not fit.
bool parse_decimal(std::string_view text, std::int64_t& out) {
  if (text.empty()) return false;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  if (*first == '+') ++first;
  auto [ptr, ec] = std::from_chars(first, last, out);
  return ec == std::errc{} && ptr == last;
}

}  // namespace

void add_procs_option(CLI::App& cmd, ProcsOption& procs, const std::string& help) {
  procs.option = cmd.add_option("-p,--procs", procs.text, help)->type_name("N");
}

void add_common_options(CLI::App& cmd, CommonOptions& opts, const std::string& procs_help) {
  add_procs_option(cmd, opts.procs, procs_help);
  cmd.add_option("-f,--format", opts.format, "Output format: table, json or csv")
      ->type_name("FORMAT")
      ->default_str("table");
  cmd.add_flag("--timeline", opts.timeline,
               "Draw the run: one row per worker (a letter per task, '.' idle), one per task (its "
               "state: running, runnable, sleeping, blocked)");
  cmd.add_flag("--wide", opts.wide,
               "Show every table column and never wrap lines (default: fit the terminal, or 80 "
               "columns)");
  opts.trace_option =
      cmd.add_option("--trace", opts.trace_path,
                     "Write a Chrome/Perfetto trace of the run to FILE (open in ui.perfetto.dev)")
          ->type_name("FILE");
  opts.svg_option =
      cmd.add_option("--svg", opts.svg_path,
                     "Write the run as an SVG picture to FILE (worker and task lanes, opens "
                     "offline in any browser)")
          ->type_name("FILE");
  cmd.add_flag("--explain", opts.explain,
               "Tell the run in plain words, from its trace, and what it shows");
}

Format parse_format(std::string_view text) {
  if (text == "table") return Format::kTable;
  if (text == "json") return Format::kJson;
  if (text == "csv") return Format::kCsv;
  bad_value("--format", "table, json or csv", text);
}

std::int64_t parse_int(std::string_view option, std::string_view text, std::int64_t min,
                       std::int64_t max) {
  std::int64_t v = 0;
  if (!parse_decimal(text, v) || v < min || v > max) {
    bad_value(option, fmt::format("an integer {}..{}", min, max), text);
  }
  return v;
}

std::uint64_t parse_count(std::string_view option, std::string_view text, std::uint64_t min,
                          std::uint64_t max) {
  const auto expected =
      fmt::format("an integer {}..{} (suffixes k, M, G allowed: 5M = 5000000)", min, max);
  std::string_view digits = text;
  std::uint64_t scale = 1;
  if (!digits.empty()) {
    switch (digits.back()) {
      case 'k':
      case 'K':
        scale = 1000;
        break;
      case 'M':
        scale = 1'000'000;
        break;
      case 'G':
        scale = 1'000'000'000;
        break;
      default:
        break;
    }
    if (scale != 1) digits.remove_suffix(1);
  }
  std::int64_t v = 0;
  if (!parse_decimal(digits, v) || v < 0) bad_value(option, expected, text);
  const auto u = static_cast<std::uint64_t>(v);
  if (u > max / scale || u * scale < min) bad_value(option, expected, text);
  return u * scale;
}

namespace {

// read_duration() reads a decimal number and a unit (ns, us, ms, s) in
// [0, max]; nullopt if `text` is not one.
std::optional<std::chrono::nanoseconds> read_duration(std::string_view text,
                                                      std::chrono::nanoseconds max) {
  std::size_t unit_at = 0;
  while (unit_at < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[unit_at])) != 0 || text[unit_at] == '.')) {
    ++unit_at;
  }
  const std::string_view number = text.substr(0, unit_at);
  const std::string_view unit = text.substr(unit_at);
  double scale = 0;
  if (unit == "ns") {
    scale = 1;
  } else if (unit == "us") {
    scale = 1e3;
  } else if (unit == "ms") {
    scale = 1e6;
  } else if (unit == "s") {
    scale = 1e9;
  } else {
    return std::nullopt;
  }
  double value = 0;
  auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value,
                                   std::chars_format::fixed);
  if (number.empty() || ec != std::errc{} || ptr != number.data() + number.size()) {
    return std::nullopt;
  }
  const double ns = std::round(value * scale);
  if (!(ns >= 0) || ns > static_cast<double>(max.count())) return std::nullopt;
  return std::chrono::nanoseconds(static_cast<std::int64_t>(ns));
}

std::string max_seconds(std::chrono::nanoseconds max) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(max).count());
}

}  // namespace

std::chrono::nanoseconds parse_duration(std::string_view option, std::string_view text,
                                        std::chrono::nanoseconds max) {
  const auto d = read_duration(text, max);
  if (!d) {
    bad_value(option,
              fmt::format("a duration like 50ms or 1.5s (units ns, us, ms, s; at most {}s)",
                          max_seconds(max)),
              text);
  }
  return *d;
}

std::chrono::nanoseconds parse_time_slice(std::string_view option, std::string_view text) {
  if (text == "off" || text == "0") return std::chrono::nanoseconds(0);
  const auto d = read_duration(text, kMaxTimeSlice);
  if (!d || (d->count() != 0 && *d < kMinTimeSlice)) {
    bad_value(option,
              fmt::format("a duration like 10ms (units ns, us, ms, s; {} to {}s) or off",
                          format_duration(kMinTimeSlice), max_seconds(kMaxTimeSlice)),
              text);
  }
  return *d;
}

void add_time_slice_option(CLI::App& cmd, std::string& text) {
  cmd.add_option("--timeslice", text,
                 "How long a task may run before the runtime makes it take turns (preemption), "
                 "or off (or 0): run to completion (default 10ms, as Go)")
      ->type_name("DURATION|off")
      ->default_str("10ms");
}

std::string describe_time_slice(std::chrono::nanoseconds slice) {
  return slice.count() == 0 ? "off (run to completion)" : format_duration(slice);
}

int parse_procs(std::string_view option, std::string_view text) {
  return static_cast<int>(parse_int(option, text, 1, corun::Config::kMaxProcs));
}

std::vector<int> parse_procs_list(std::string_view option, std::string_view text) {
  const auto expected =
      fmt::format("a comma-separated list of integers 1..{} like 1,2,4", corun::Config::kMaxProcs);
  std::vector<int> list;
  std::string_view rest = text;
  while (true) {
    const auto comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    std::int64_t v = 0;
    if (!parse_decimal(item, v) || v < 1 || v > corun::Config::kMaxProcs) {
      bad_value(option, expected, text);
    }
    list.push_back(static_cast<int>(v));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  std::sort(list.begin(), list.end());
  list.erase(std::unique(list.begin(), list.end()), list.end());
  return list;
}

namespace {

bool procs_given(const ProcsOption& procs) {
  return procs.option != nullptr && procs.option->count() > 0;
}

// default_procs() is the worker count without --procs: GOMAXPROCS when set
// and not empty, else all CPUs this process may use.
int default_procs() {
  const char* env = std::getenv("GOMAXPROCS");
  if (env == nullptr || *env == '\0') return corun::available_cpus();
  return parse_procs("GOMAXPROCS", env);
}

}  // namespace

namespace {

// check_corun_debug() turns a malformed CORUN_DEBUG into a usage error
// before the run prints anything (the runtime would refuse it only once the
// run's header was out).
void check_corun_debug() {
  try {
    corun::check_debug_environment();
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
}

}  // namespace

int resolve_procs(const ProcsOption& procs) {
  check_corun_debug();
  return procs_given(procs) ? parse_procs("--procs", procs.text) : default_procs();
}

std::vector<int> resolve_procs_list(const ProcsOption& procs) {
  check_corun_debug();
  if (procs_given(procs)) return parse_procs_list("--procs", procs.text);
  const int procs_default = default_procs();
  return procs_default == 1 ? std::vector<int>{1} : std::vector<int>{1, procs_default};
}

}  // namespace demo
