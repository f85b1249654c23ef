// runtime_timer_test.cpp: sleep_for/sleep_until accuracy and ordering, and
// an idle runtime's CPU use.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "corun/corun.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using corun::test::ProcsTest;
using corun::test::Watchdog;

class RuntimeTimer : public ProcsTest {};
CORUN_PROCS_TESTS(RuntimeTimer);

TEST_P(RuntimeTimer, SleepForLastsAtLeastItsDuration) {
  corun::Runtime rt({.procs = procs()});
  Clock::duration took{};
  rt.go([&] {
    const auto start = Clock::now();
    corun::this_coroutine::sleep_for(20ms);
    took = Clock::now() - start;
  });
  rt.wait();
  EXPECT_GE(took, 20ms);
  EXPECT_LT(took, 2s);
}

TEST_P(RuntimeTimer, SleepUntilInThePastReturnsAtOnce) {
  corun::Runtime rt({.procs = procs()});
  Clock::duration took{};
  rt.go([&] {
    const auto start = Clock::now();
    corun::this_coroutine::sleep_until(start - 1s);
    corun::this_coroutine::sleep_for(0ns);
    corun::this_coroutine::sleep_for(-5ms);
    took = Clock::now() - start;
  });
  rt.wait();
  EXPECT_LT(took, 1s);
}

TEST_P(RuntimeTimer, ThousandConcurrentSleepersAllWake) {
  Watchdog dog("sleepers did not all wake");
  constexpr int kSleepers = 1000;
  corun::Runtime rt({.procs = procs()});
  std::atomic<int> woke{0};
  std::atomic<int> early{0};
  const auto start = Clock::now();
  for (int i = 0; i < kSleepers; ++i) {
    rt.go([&] {
      const auto t0 = Clock::now();
      corun::this_coroutine::sleep_for(50ms);
      if (Clock::now() - t0 < 50ms) early.fetch_add(1);
      woke.fetch_add(1);
    });
  }
  rt.wait();
  EXPECT_EQ(woke.load(), kSleepers);
  EXPECT_EQ(early.load(), 0);
  EXPECT_LT(Clock::now() - start, 10s) << "sleeping is concurrent, not one after another";
}

// Timers fire in deadline order: sleepers started in scrambled order wake in
// the order of their deadlines (40 ms apart, far more than wake-up latency).
TEST_P(RuntimeTimer, TimersFireInDeadlineOrder) {
  constexpr int kSleepers = 8;
  constexpr int kScramble[kSleepers] = {5, 2, 7, 0, 3, 6, 1, 4};
  corun::Runtime rt({.procs = procs()});
  std::atomic<int> next{0};
  std::vector<int> rank(kSleepers, -1);
  const auto base = Clock::now() + 200ms;  // all are asleep long before the first wakes
  for (int k : kScramble) {
    rt.go([&, k] {
      corun::this_coroutine::sleep_until(base + k * 40ms);
      rank[static_cast<std::size_t>(k)] = next.fetch_add(1);
    });
  }
  rt.wait();
  for (int k = 0; k < kSleepers; ++k) EXPECT_EQ(rank[static_cast<std::size_t>(k)], k);
}

// Sleeping outside a coroutine sleeps the thread.
TEST(RuntimeTimerThread, SleepOutsideACoroutineSleepsTheThread) {
  const auto start = Clock::now();
  corun::this_coroutine::sleep_for(10ms);
  EXPECT_GE(Clock::now() - start, 10ms);
  corun::this_coroutine::yield();  // yields the thread: returns
}

// An idle runtime burns no CPU: workers park on a futex until the earliest
// timer instead of polling.
TEST(RuntimeTimerIdle, IdleRuntimeUsesNoCpu) {
  corun::Runtime rt({.procs = 4});
  corun::WaitGroup sleeping;
  sleeping.add(10);
  for (int i = 0; i < 10; ++i) {
    rt.go([&] {
      sleeping.done();
      corun::this_coroutine::sleep_for(1s);
    });
  }
  sleeping.wait();
  std::this_thread::sleep_for(20ms);  // let the workers finish spinning and park
  const auto cpu_before = corun::test::cpu_time();
  const auto wall_before = Clock::now();
  std::this_thread::sleep_for(300ms);
  const auto cpu = corun::test::cpu_time() - cpu_before;
  const auto wall = Clock::now() - wall_before;
  ASSERT_LT(wall, 1s) << "the measurement must end before the sleepers wake";
  EXPECT_LT(cpu, 50ms) << "an idle runtime must not spin";
  rt.wait();
}

}  // namespace
