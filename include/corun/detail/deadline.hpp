// deadline.hpp: duration and deadline arithmetic that saturates instead of
// overflowing.
//
// Durations and deadlines are signed 64-bit nanoseconds of the steady clock.
// A huge duration (nanoseconds::max(), hours::max()) means "practically
// never", as Go's time.Sleep(math.MaxInt64) does: converted to nanoseconds
// or added to the clock, it must not wrap around into the past (a sleep
// that returned at once) and must not be undefined behaviour. Every
// conversion of a caller's duration and every "now + duration" in corun goes
// through these two functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>

namespace corun::detail {

// kForever: the deadline of a wait without end (what now + a huge duration
// saturates to).
inline constexpr std::int64_t kForever = std::numeric_limits<std::int64_t>::max();

// saturating_ns(d) is `d` in nanoseconds, clamped to what 64 bits hold
// (beyond ~292 years either way it is nanoseconds::max() or ::min(); a NaN
// is zero).
template <class Rep, class Period>
constexpr std::chrono::nanoseconds saturating_ns(std::chrono::duration<Rep, Period> d) noexcept {
  // A little under 2^63, so that a floating-point count just below the
  // limit cannot round up past it in the conversion.
  constexpr long double kLimit = 9.2e18L;
  const long double ns = std::chrono::duration<long double, std::nano>(d).count();
  if (ns != ns) return std::chrono::nanoseconds::zero();
  if (ns >= kLimit) return std::chrono::nanoseconds::max();
  if (ns <= -kLimit) return std::chrono::nanoseconds::min();
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d);
}

// deadline_after(now, ns) is now + ns, clamped to the int64 range: a
// deadline in practice never reached (kForever) rather than one in the past.
constexpr std::int64_t deadline_after(std::int64_t now, std::int64_t ns) noexcept {
  std::int64_t when;
  if (__builtin_add_overflow(now, ns, &when)) {
    return ns > 0 ? kForever : std::numeric_limits<std::int64_t>::min();
  }
  return when;
}

}  // namespace corun::detail
