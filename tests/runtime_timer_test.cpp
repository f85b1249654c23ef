// runtime_timer_test.cpp: sleep_for/sleep_until accuracy and ordering, and
// an idle runtime's CPU use.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
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
// the order of their deadlines, spaced far more than wake-up latency. The
// sleepers first all start and park on a gate (a coroutine's first run can
// be slow under TSan); deadlines count from the gate's opening, and a
// sleeper that still armed its timer after an earlier deadline had passed
// (a badly overloaded machine) is not compared with the earlier ones.
TEST_P(RuntimeTimer, TimersFireInDeadlineOrder) {
  constexpr int kSleepers = 8;
  constexpr int kScramble[kSleepers] = {5, 2, 7, 0, 3, 6, 1, 4};
  const auto gap = corun::test::kSanitized ? 100ms : 50ms;
  corun::Runtime rt({.procs = procs()});
  std::atomic<int> next{0};
  std::vector<int> rank(kSleepers, -1);
  std::vector<Clock::time_point> armed(kSleepers);
  Clock::time_point base;  // written before the gate opens
  corun::WaitGroup started, gate;
  started.add(kSleepers);
  gate.add(1);
  auto deadline = [&](int k) { return base + 2 * gap + k * gap; };
  for (int k : kScramble) {
    rt.go([&, k] {
      started.done();
      gate.wait();
      armed[static_cast<std::size_t>(k)] = Clock::now();
      corun::this_coroutine::sleep_until(deadline(k));
      rank[static_cast<std::size_t>(k)] = next.fetch_add(1);
    });
  }
  started.wait();
  base = Clock::now();
  gate.done();
  rt.wait();
  for (int i = 0; i < kSleepers; ++i) {
    for (int j = i + 1; j < kSleepers; ++j) {
      if (armed[static_cast<std::size_t>(j)] >= deadline(i)) continue;  // too late to compare
      EXPECT_LT(rank[static_cast<std::size_t>(i)], rank[static_cast<std::size_t>(j)])
          << "deadline " << i << " woke after deadline " << j;
    }
  }
}

// Sleeping outside a coroutine sleeps the thread.
TEST(RuntimeTimerThread, SleepOutsideACoroutineSleepsTheThread) {
  const auto start = Clock::now();
  corun::this_coroutine::sleep_for(10ms);
  EXPECT_GE(Clock::now() - start, 10ms);
  corun::this_coroutine::yield();  // yields the thread: returns
}

// An idle runtime burns no CPU: workers park on a futex until the earliest
// timer instead of polling, and the monitor sleeps while they do, with a
// time slice or without one (it still runs then, for lost wake-ups).
class RuntimeTimerIdle : public ::testing::TestWithParam<std::chrono::nanoseconds> {};

INSTANTIATE_TEST_SUITE_P(TimeSlice, RuntimeTimerIdle,
                         ::testing::Values(std::chrono::nanoseconds(10ms),
                                           std::chrono::nanoseconds::zero()),
                         [](const auto& info) {
                           return info.param.count() == 0 ? std::string("off")
                                                          : std::string("10ms");
                         });

TEST_P(RuntimeTimerIdle, IdleRuntimeUsesNoCpu) {
  corun::Runtime rt({.procs = 4, .time_slice = GetParam()});
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
