// text.hpp: how the demo writes numbers, durations and counts for people.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace demo {

// format_duration() prints a duration in its natural unit ("100 ms", "1.5 s").
std::string format_duration(std::chrono::nanoseconds d);

// format_ms() prints milliseconds with one decimal ("100.2").
std::string format_ms(double ms);

// with_commas() prints an integer with thousands separators ("10,000").
std::string with_commas(std::uint64_t n);

// plural() is "1 task", "2 tasks", "10,000 tasks".
std::string plural(std::int64_t n, std::string_view one, std::string_view many);

// one_line() is `text` on one line: line breaks become spaces, trailing
// spaces go (for messages made of other messages).
std::string one_line(std::string text);

}  // namespace demo
