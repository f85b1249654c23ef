// runtime_config_test.cpp: Config validation and its extremes.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>

#include "corun/corun.hpp"
#include "test_support.hpp"

namespace {

TEST(RuntimeConfig, ZeroProcsMeansAvailableCpus) {
  corun::Runtime rt({.procs = 0});
  EXPECT_EQ(rt.procs(), corun::available_cpus());
  EXPECT_EQ(rt.config().procs, corun::available_cpus());
  EXPECT_GE(rt.procs(), 1);
  EXPECT_LE(rt.procs(), corun::Config::kMaxProcs);
}

TEST(RuntimeConfig, DefaultConfigRuns) {
  corun::Runtime rt;
  std::atomic<bool> ran{false};
  rt.go([&] { ran = true; });
  rt.wait();
  EXPECT_TRUE(ran.load());
}

TEST(RuntimeConfig, OutOfRangeProcsThrow) {
  EXPECT_THROW(corun::Runtime({.procs = -1}), std::invalid_argument);
  EXPECT_THROW(corun::Runtime({.procs = corun::Config::kMaxProcs + 1}), std::invalid_argument);
}

TEST(RuntimeConfig, OutOfRangeStackSizeThrows) {
  EXPECT_THROW(corun::Runtime({.procs = 1, .stack_size = 1024}), std::invalid_argument);
  EXPECT_THROW(corun::Runtime({.procs = 1, .stack_size = corun::Config::kMinStackSize - 1}),
               std::invalid_argument);
  EXPECT_THROW(corun::Runtime({.procs = 1, .stack_size = corun::Config::kMaxStackSize + 1}),
               std::invalid_argument);
}

TEST(RuntimeConfig, StackSizeIsRoundedUpToPages) {
  corun::Runtime rt({.procs = 1, .stack_size = corun::Config::kMinStackSize + 1});
  EXPECT_GT(rt.config().stack_size, corun::Config::kMinStackSize);
  EXPECT_EQ(rt.config().stack_size % 4096, 0u);
  std::atomic<bool> ran{false};
  rt.go([&] { ran = true; });  // the smallest stack is enough for a simple body
  rt.wait();
  EXPECT_TRUE(ran.load());
}

// The most workers allowed: 1024 threads, each running some of 2048
// coroutines.
TEST(RuntimeConfig, MaxProcsWorks) {
  if (corun::test::kThreadSanitizer) {
    GTEST_SKIP() << "TSan starts a thread in ~35 ms here: 1024 workers take 40 s";
  }
  corun::test::Watchdog dog("a runtime with 1024 workers hung");
  constexpr int kCoroutines = 2048;
  corun::Runtime rt({.procs = corun::Config::kMaxProcs});
  EXPECT_EQ(rt.procs(), 1024);
  std::atomic<int> ran{0};
  corun::WaitGroup wg;
  wg.add(kCoroutines);
  for (int i = 0; i < kCoroutines; ++i) {
    rt.go([&] {
      corun::this_coroutine::yield();
      ran.fetch_add(1);
      wg.done();
    });
  }
  wg.wait();
  EXPECT_EQ(ran.load(), kCoroutines);
}

}  // namespace
