// huge_duration_test.cpp: durations and deadlines at the ends of their
// range. A huge one (nanoseconds::max(), hours::max(), time_point::max())
// blocks practically forever, as Go's time.Sleep(math.MaxInt64) does,
// instead of overflowing into the past and returning at once; a negative or
// minimal one returns at once.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "corun/corun.hpp"
#include "corun/detail/deadline.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using corun::test::ProcsTest;
using corun::test::Watchdog;
using std::chrono::hours;
using std::chrono::nanoseconds;

struct NamedCall {
  const char* name;
  std::function<void()> call;
};

// Calls that must block until the runtime cancels them.
std::vector<NamedCall> forever_calls() {
  return {
      {"sleep_for(nanoseconds::max())",
       [] { corun::this_coroutine::sleep_for(nanoseconds::max()); }},
      {"sleep_for(hours::max())", [] { corun::this_coroutine::sleep_for(hours::max()); }},
      {"sleep_for(duration<double>(1e300))",
       [] { corun::this_coroutine::sleep_for(std::chrono::duration<double>(1e300)); }},
      {"sleep_until(time_point::max())",
       [] { corun::this_coroutine::sleep_until(Clock::time_point::max()); }},
      {"sleep_until(time_point<hours>::max())",
       [] { corun::this_coroutine::sleep_until(std::chrono::time_point<Clock, hours>::max()); }},
      {"select(recv, timeout(nanoseconds::max()))",
       [] {
         corun::Channel<int> ch(0);
         corun::select(corun::recv(ch), corun::timeout(nanoseconds::max()));
       }},
      {"select(recv, timeout(hours::max()))",
       [] {
         corun::Channel<int> ch(0);
         corun::select(corun::recv(ch), corun::timeout(hours::max()));
       }},
  };
}

// Calls that must return at once.
std::vector<NamedCall> at_once_calls() {
  return {
      {"sleep_for(nanoseconds::min())",
       [] { corun::this_coroutine::sleep_for(nanoseconds::min()); }},
      {"sleep_for(hours::min())", [] { corun::this_coroutine::sleep_for(hours::min()); }},
      {"sleep_for(-1ns)", [] { corun::this_coroutine::sleep_for(-1ns); }},
      {"sleep_until(time_point::min())",
       [] { corun::this_coroutine::sleep_until(Clock::time_point::min()); }},
      {"select(recv, timeout(nanoseconds::min()))",
       [] {
         corun::Channel<int> ch(0);
         EXPECT_EQ(corun::select(corun::recv(ch), corun::timeout(nanoseconds::min())), 1u);
       }},
      {"select(recv, timeout(hours::min()))",
       [] {
         corun::Channel<int> ch(0);
         EXPECT_EQ(corun::select(corun::recv(ch), corun::timeout(hours::min())), 1u);
       }},
  };
}

class HugeDuration : public ProcsTest {};
INSTANTIATE_TEST_SUITE_P(Procs, HugeDuration, ::testing::Values(1, 2), ::corun::test::ProcsName{});

TEST_P(HugeDuration, BlocksUntilShutdownCancelsIt) {
  for (const NamedCall& c : forever_calls()) {
    SCOPED_TRACE(c.name);
    Watchdog dog(std::string("shutdown during ") + c.name + " hung");
    std::atomic<bool> returned{false};
    std::atomic<bool> cancelled{false};
    std::optional<corun::Runtime> rt(std::in_place, corun::Config{.procs = procs()});
    corun::WaitGroup started;
    started.add(1);
    rt->go([&] {
      started.done();
      try {
        c.call();
        returned.store(true);
      } catch (const corun::Cancelled&) {
        cancelled.store(true);
        throw;
      }
    });
    started.wait();
    std::this_thread::sleep_for(50ms);
    EXPECT_FALSE(returned.load()) << "returned at once: the deadline overflowed";
    const auto start = Clock::now();
    rt.reset();
    EXPECT_LT(Clock::now() - start, 10s);
    EXPECT_TRUE(cancelled.load() || returned.load()) << "neither returned nor was cancelled";
    EXPECT_TRUE(cancelled.load()) << "shutdown did not cancel the wait";
  }
}

TEST_P(HugeDuration, NegativeAndMinimalReturnAtOnce) {
  Watchdog dog("a negative or minimal duration blocked");
  corun::Runtime rt({.procs = procs()});
  for (const NamedCall& c : at_once_calls()) {
    SCOPED_TRACE(c.name);
    Clock::duration took{};
    rt.go([&] {
      const auto start = Clock::now();
      c.call();
      took = Clock::now() - start;
    });
    rt.wait();
    EXPECT_LT(took, 1s);
  }
}

// A plain thread's select with a huge timeout waits for its channel.
TEST(HugeDurationThread, SelectWaitsForTheChannel) {
  Watchdog dog("a plain thread's select with a huge timeout hung");
  corun::Runtime rt({.procs = 1});
  corun::Channel<int> ch(0);
  rt.go([ch]() mutable {
    corun::this_coroutine::sleep_for(50ms);
    ch.send(7);
  });
  std::optional<int> got;
  const std::size_t taken = corun::select(corun::recv(ch, [&](std::optional<int> v) { got = v; }),
                                          corun::timeout(nanoseconds::max()));
  EXPECT_EQ(taken, 0u) << "the timeout was taken: the deadline overflowed";
  EXPECT_EQ(got, 7);
  rt.wait();
}

TEST(SaturatingDeadline, ClampsInsteadOfOverflowing) {
  using corun::detail::deadline_after;
  using corun::detail::kForever;
  using corun::detail::saturating_ns;
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  EXPECT_EQ(deadline_after(1000, kForever), kForever);
  EXPECT_EQ(deadline_after(kForever, 1), kForever);
  EXPECT_EQ(deadline_after(-1000, kMin), kMin);
  EXPECT_EQ(deadline_after(1000, 234), 1234);
  EXPECT_EQ(deadline_after(1000, -234), 766);
  EXPECT_EQ(saturating_ns(hours::max()), nanoseconds::max());
  EXPECT_EQ(saturating_ns(hours::min()), nanoseconds::min());
  EXPECT_EQ(saturating_ns(nanoseconds::max()), nanoseconds::max());
  EXPECT_EQ(saturating_ns(nanoseconds::min()), nanoseconds::min());
  EXPECT_EQ(saturating_ns(std::chrono::duration<double>(1e300)), nanoseconds::max());
  EXPECT_EQ(saturating_ns(std::chrono::duration<double>(-1e300)), nanoseconds::min());
  EXPECT_EQ(saturating_ns(std::chrono::duration<double>(std::numeric_limits<double>::quiet_NaN())),
            nanoseconds::zero());
  EXPECT_EQ(saturating_ns(3h), nanoseconds(3LL * 3600 * 1'000'000'000));
  EXPECT_EQ(saturating_ns(std::chrono::duration<double>(1.5)), nanoseconds(1'500'000'000));
  EXPECT_EQ(saturating_ns(-7ms), nanoseconds(-7'000'000));
}

}  // namespace
