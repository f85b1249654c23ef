// stress_preempt_test.cpp: asynchronous preemption aimed at the scheduler's
// own switches (ctest label `stress`).
//
// Coroutines spinning in preemptible regions are interrupted by SIGURG many
// thousand times a second (a 200 us time slice), beside ping-pong pairs and
// sleepers that make their workers switch all the time. A signal that lands
// while the worker is switching to, or just resumed, a coroutine that an
// earlier signal took off its worker must not preempt it there: the switch
// is half done, and a second preemption would overwrite what the first still
// has to do (the coroutine leaving is requeued after the switch). A lost
// coroutine shows as a run that never ends, or as the runtime's deadlock
// report once everything else has finished.
//
// Each region spinner checks its own arithmetic as it spins (a register
// restored wrong would show), and every coroutine is counted at its end.
//
// CORUN_STRESS_ITERS=<n> sets the rounds per case (default: a few, for CI).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "corun/corun.hpp"
#include "corun/preempt.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using corun::test::Watchdog;

int preempt_stress_rounds() {
  if (const char* s = std::getenv("CORUN_STRESS_ITERS"); s != nullptr && *s != '\0') {
    return std::max(1, std::atoi(s));
  }
  return 3;
}

class StressPreemption : public ::testing::TestWithParam<int> {};

INSTANTIATE_TEST_SUITE_P(StressProcs, StressPreemption, ::testing::Values(1, 2, 4),
                         [](const auto& info) { return "procs" + std::to_string(info.param); });

// spin_checked() spins until `stop`, keeping two running sums whose relation
// it checks every step; it returns false if they ever disagree. Nothing in it
// touches what a preemptible region forbids.
bool spin_checked(const std::atomic<bool>& stop) {
  std::uint64_t a = 0, b = 0;
  for (std::uint64_t i = 1; !stop.load(std::memory_order_relaxed); ++i) {
    a += i;
    b += 3 * i;
    if (b != 3 * a) return false;
    asm volatile("" : "+r"(a), "+r"(b));
  }
  return true;
}

TEST_P(StressPreemption, SignalsDuringSwitchesLoseNoCoroutine) {
#if defined(CORUN_SANITIZE_THREAD)
  GTEST_SKIP() << "no asynchronous preemption under ThreadSanitizer";
#endif
  const int procs = GetParam();
  constexpr int kSpinners = 8;
  constexpr int kPairs = 2;
  constexpr int kSleepers = 2;
  constexpr auto kRun = 400ms;
  Watchdog dog("region spinners beside ping-pong pairs did not all finish", 120s);
  for (int round = 0; round < preempt_stress_rounds(); ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    corun::Runtime rt({.procs = procs, .time_slice = 200us});
    std::atomic<bool> stop{false};
    std::atomic<int> finished{0};
    std::atomic<int> bad_sums{0};
    std::atomic<long> trips{0};
    for (int i = 0; i < kSpinners; ++i) {
      rt.go([&] {
        if (!corun::preemptible([&] { return spin_checked(stop); })) bad_sums.fetch_add(1);
        finished.fetch_add(1);
      });
    }
    for (int p = 0; p < kPairs; ++p) {
      rt.go([&] {
        corun::Channel<int> ping(0), pong(0);
        corun::go([&, ping, pong]() mutable {
          while (ping.recv().value_or(-1) >= 0) pong.send(0);
          finished.fetch_add(1);
        });
        while (!stop.load(std::memory_order_relaxed)) {
          ping.send(1);
          pong.recv();
          trips.fetch_add(1, std::memory_order_relaxed);
        }
        ping.send(-1);
        finished.fetch_add(1);
      });
    }
    for (int s = 0; s < kSleepers; ++s) {
      rt.go([&] {
        while (!stop.load(std::memory_order_relaxed)) corun::this_coroutine::sleep_for(50us);
        finished.fetch_add(1);
      });
    }
    std::this_thread::sleep_for(kRun);
    stop.store(true);
    rt.wait();
    EXPECT_EQ(finished.load(), kSpinners + 2 * kPairs + kSleepers);
    EXPECT_EQ(bad_sums.load(), 0) << "a region spinner's registers were restored wrong";
    EXPECT_GT(trips.load(), 0) << "the ping-pong pairs never ran beside the spinners";
  }
}

}  // namespace
