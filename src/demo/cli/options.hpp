// options.hpp: the options every subcommand shares, and the parsers that turn
// option text into values or into a one-line UsageError naming the option
// and what it accepts.
//
// Values are taken as text and parsed here rather than by CLI11's converters,
// so that every bad value gets the same kind of message:
//   demo: --procs: expected an integer 1..1024, got "abc"
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "demo/cli/cli_fwd.hpp"

namespace demo {

enum class Format { kTable, kJson, kCsv };

// ProcsOption is --procs as typed: one value, or compare's list.
struct ProcsOption {
  std::string text;
  CLI::Option* option = nullptr;  // option->count() == 0: not given
};

// add_procs_option() registers -p/--procs on `cmd`; `help` describes it
// for this subcommand.
void add_procs_option(CLI::App& cmd, ProcsOption& procs, const std::string& help);

// CommonOptions are --procs, --format, --timeline, --wide, --trace, --svg
// and --explain, as typed.
struct CommonOptions {
  ProcsOption procs;
  std::string format = "table";
  bool timeline = false;
  bool wide = false;  // --wide: every table column, no wrapping
  std::string trace_path;
  CLI::Option* trace_option = nullptr;  // trace_option->count() == 0: not given
  std::string svg_path;
  CLI::Option* svg_option = nullptr;  // svg_option->count() == 0: not given
  bool explain = false;               // --explain: narrate the run
};

// add_common_options() registers CommonOptions on `cmd`. `procs_help`
// describes --procs for this subcommand (a number, or a list for compare).
void add_common_options(CLI::App& cmd, CommonOptions& opts, const std::string& procs_help);

// parse_format() reads --format: table, json or csv.
Format parse_format(std::string_view text);

// parse_int() reads a decimal integer in [min, max].
std::int64_t parse_int(std::string_view option, std::string_view text, std::int64_t min,
                       std::int64_t max);

// parse_count() reads a positive count with an optional k/M/G suffix
// (powers of 1000): "5000000", "5M".
std::uint64_t parse_count(std::string_view option, std::string_view text, std::uint64_t min,
                          std::uint64_t max);

// parse_duration() reads a duration: a decimal number and a unit, ns, us, ms
// or s ("50ms", "1.5s"), in [0, max].
std::chrono::nanoseconds parse_duration(std::string_view option, std::string_view text,
                                        std::chrono::nanoseconds max);

// kMinTimeSlice and kMaxTimeSlice bound --timeslice. The runtime's monitor
// looks at the workers at most every 100 us: a shorter slice could not be
// kept.
inline constexpr std::chrono::nanoseconds kMinTimeSlice = std::chrono::microseconds(100);
inline constexpr std::chrono::nanoseconds kMaxTimeSlice = std::chrono::seconds(10);

// parse_time_slice() reads --timeslice: a duration as parse_duration(),
// kMinTimeSlice..kMaxTimeSlice, or "off" (or 0, or a zero duration), which is 0:
// corun::Config::time_slice's "no preemption".
std::chrono::nanoseconds parse_time_slice(std::string_view option, std::string_view text);

// add_time_slice_option() registers --timeslice DURATION|off on `cmd`
// (parallel and compare), stored as typed into `text`.
void add_time_slice_option(CLI::App& cmd, std::string& text);

// describe_time_slice() is "10 ms", or "off (run to completion)" for 0.
std::string describe_time_slice(std::chrono::nanoseconds slice);

// parse_procs() reads one procs value, 1..corun::Config::kMaxProcs.
int parse_procs(std::string_view option, std::string_view text);

// parse_procs_list() reads a comma-separated list of procs values ("1,2,4"),
// sorted and without duplicates.
std::vector<int> parse_procs_list(std::string_view option, std::string_view text);

// resolve_procs() is the worker count: --procs when given, else GOMAXPROCS
// (when set and not empty), else all CPUs this process may use. The flag
// wins over the environment, and GOMAXPROCS is only read (and checked: a
// bad value is a UsageError naming it) when the flag is absent.
int resolve_procs(const ProcsOption& procs);

// resolve_procs_list() is compare's procs values, sorted and without
// duplicates: --procs's list when given, else 1 and what resolve_procs()
// would give.
std::vector<int> resolve_procs_list(const ProcsOption& procs);

}  // namespace demo
