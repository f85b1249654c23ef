// trace_waker_test.cpp: the trace names who made a coroutine runnable: the
// coroutine that sent to it, or kTimerWaker for a sleep's end and a select's
// timeout, even when the timer fires while some other coroutine is running
// (and so is on the worker that fires it).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

#include "corun/corun.hpp"

namespace {

using namespace std::chrono_literals;

// wakers() is the waker of every kUnblock of `coroutine`, in time order.
std::vector<std::uint64_t> wakers(const std::vector<corun::TraceEvent>& events,
                                  std::uint64_t coroutine) {
  std::vector<std::uint64_t> out;
  for (const corun::TraceEvent& e : events) {
    if (e.kind == corun::TraceKind::kUnblock && e.coroutine == coroutine) out.push_back(e.arg);
  }
  return out;
}

TEST(TraceWaker, ASleepEndsWithATimerWake) {
  corun::Runtime rt({.procs = 1, .trace = true});
  const std::uint64_t sleeper = rt.go([] { corun::this_coroutine::sleep_for(2ms); });
  rt.wait();
  EXPECT_EQ(wakers(rt.trace(), sleeper), std::vector<std::uint64_t>{corun::kTimerWaker});
}

TEST(TraceWaker, ASelectTimeoutIsATimerWake) {
  corun::Runtime rt({.procs = 1, .trace = true});
  std::atomic<bool> timed_out{false};
  const std::uint64_t waiter = rt.go([&] {
    corun::Channel<int> never = corun::make_channel<int>();
    corun::select(corun::recv(never, [](std::optional<int>) {}),
                  corun::timeout(2ms, [&] { timed_out = true; }));
  });
  rt.wait();
  ASSERT_TRUE(timed_out);
  EXPECT_EQ(wakers(rt.trace(), waiter), std::vector<std::uint64_t>{corun::kTimerWaker});
}

// On one worker, a coroutine that keeps yielding is running whenever the
// worker fires the sleeper's timer (a yield runs due timers): the wake is
// still the timer's, not the yielding coroutine's.
TEST(TraceWaker, ATimerFiredWhileAnotherRunsIsStillTheTimers) {
  corun::Runtime rt({.procs = 1, .trace = true});
  std::atomic<bool> woke{false};
  const std::uint64_t sleeper = rt.go([&] {
    corun::this_coroutine::sleep_for(1ms);
    woke = true;
  });
  rt.go([&] {
    const auto give_up_at = std::chrono::steady_clock::now() + 10s;
    while (!woke && std::chrono::steady_clock::now() < give_up_at) corun::this_coroutine::yield();
  });
  rt.wait();
  ASSERT_TRUE(woke);
  EXPECT_EQ(wakers(rt.trace(), sleeper), std::vector<std::uint64_t>{corun::kTimerWaker});
}

TEST(TraceWaker, ASendNamesTheSender) {
  corun::Runtime rt({.procs = 1, .trace = true});
  corun::Channel<int> ch = corun::make_channel<int>();
  const std::uint64_t receiver = rt.go([&] { (void)ch.recv(); });
  std::atomic<bool> sent{false};
  const std::uint64_t sender = rt.go([&] {
    corun::this_coroutine::sleep_for(1ms);  // the receiver is parked by then
    ch.send(1);
    sent = true;
  });
  rt.wait();
  ASSERT_TRUE(sent);
  EXPECT_EQ(wakers(rt.trace(), receiver), std::vector<std::uint64_t>{sender});
}

}  // namespace
