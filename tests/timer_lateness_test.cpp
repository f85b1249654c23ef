// timer_lateness_test.cpp: a due timer fires within about one time slice of
// its deadline whatever runs beside it: CPU-bound coroutines that give their
// worker up only when preempted (at preempt_point() or inside a preemptible
// region) must not hold a sleeper back for many time slices.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "corun/corun.hpp"
#include "corun/preempt.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using corun::test::Watchdog;

enum class HogKind { kPreemptPoint, kRegion };

struct LatenessCase {
  int procs;
  int hogs;
  HogKind kind;
};

std::string case_name(const ::testing::TestParamInfo<LatenessCase>& info) {
  const LatenessCase& c = info.param;
  return "procs" + std::to_string(c.procs) + "_hogs" + std::to_string(c.hogs) +
         (c.kind == HogKind::kRegion ? "_region" : "_preempt_point");
}

class TimerLateness : public ::testing::TestWithParam<LatenessCase> {};

std::vector<LatenessCase> lateness_cases() {
  std::vector<LatenessCase> cases;
  for (const HogKind kind : {HogKind::kPreemptPoint, HogKind::kRegion}) {
    for (const auto& [procs, hogs] : std::vector<std::pair<int, int>>{
             {1, 1}, {1, 2}, {1, 8}, {2, 2}, {2, 8}, {4, 8}, {8, 1}, {8, 8}}) {
      cases.push_back({procs, hogs, kind});
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Hogs, TimerLateness, ::testing::ValuesIn(lateness_cases()), case_name);

// burn() spends a few microseconds of CPU, touching nothing a preemptible
// region forbids.
void burn() {
  for (int i = 0; i < 1000; ++i) asm volatile("" ::: "memory");
}

void spin(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) burn();
}

TEST_P(TimerLateness, DueTimerFiresWithinAboutOneTimeSlice) {
  const LatenessCase c = GetParam();
  if (c.kind == HogKind::kRegion && corun::test::kThreadSanitizer) {
    GTEST_SKIP() << "no asynchronous preemption under ThreadSanitizer";
  }
  Watchdog dog("a sleeper beside CPU-bound coroutines did not finish");
  // A long slice keeps the old lateness (many slices) far from what a loaded
  // machine adds to the new one (the kernel's own scheduling delays).
  constexpr auto kSlice = 40ms;
  constexpr auto kSleep = 10ms;
  constexpr int kSleeps = 9;
  corun::Runtime rt({.procs = c.procs, .time_slice = kSlice});
  std::atomic<bool> stop{false};
  std::vector<Clock::duration> late;
  rt.go([&] {  // first, so that it does not wait for the hogs to start
    for (int i = 0; i < kSleeps; ++i) {
      const auto start = Clock::now();
      corun::this_coroutine::sleep_for(kSleep);
      late.push_back(Clock::now() - start - kSleep);
    }
    stop.store(true);
  });
  for (int i = 0; i < c.hogs; ++i) {
    rt.go([&, kind = c.kind] {
      if (kind == HogKind::kRegion) {
        corun::preemptible([&] { spin(stop); });
        return;
      }
      while (!stop.load(std::memory_order_relaxed)) {
        burn();
        corun::preempt_point();
      }
    });
  }
  rt.wait();
  ASSERT_EQ(late.size(), static_cast<std::size_t>(kSleeps));
  std::sort(late.begin(), late.end());
  const auto median = late[late.size() / 2];
  std::string all;
  for (const auto d : late) {
    all += std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(d).count()) + " ";
  }
  // Before the fix each sleep woke ~9 slices late at procs 1 (8 switches,
  // one per slice); now about half a slice (the monitor's period). Three slices leave room for a
  // loaded machine (and a sanitizer's slowdown) without letting that back in. With more busy
  // workers than CPUs the kernel time-slices them, and a worker may wait that long for a CPU to run
  // its timers on: as much more room.
  const int cpus = std::max(1, corun::available_cpus());
  const int oversubscribed = std::max(1, (std::min(c.procs, c.hogs + 1) + cpus - 1) / cpus);
  EXPECT_LT(median, 3 * kSlice * oversubscribed) << "lateness of each sleep (us, sorted): " << all;
  EXPECT_GE(late.front(), Clock::duration::zero()) << "a sleep returned early";
}

}  // namespace
