// runtime_asymmetric_fence_test.cpp: the asymmetric fence keeps Dekker's
// promise (at least one side sees the other's store) with a compiler barrier
// on the frequent side. (The scheduler's use of it, a ready() racing
// shutdown, is tested in runtime_shutdown_test.cpp.)
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include "corun/detail/spin_lock.hpp"
#include "corun/os/asymmetric_fence.hpp"
#include "test_support.hpp"

namespace {

namespace fence = corun::detail::asymmetric_fence;

// A store-buffering litmus test: each round, both threads store their flag,
// fence their way and load the other's. Both loading 0 is the reordering a
// store buffer allows without a store-load fence: with light() on both
// sides it shows up in a few percent of rounds here. A random pause before
// each side's store makes the two overlap in ever different ways.
void pause_randomly(std::uint64_t& rng) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  for (auto i = rng & 31; i > 0; --i) corun::detail::cpu_relax();
}

TEST(RuntimeAsymmetricFence, NoRoundSeesNeitherStore) {
  if (!fence::available()) GTEST_SKIP() << "membarrier is not available to this process";
  const long rounds = corun::test::scaled(20000, 4000);
  std::atomic<long> go{0}, done{0};
  std::atomic<int> a{0}, b{0};
  std::atomic<int> seen_by_heavy{0};
  long neither = 0;

  std::thread heavy_side([&] {
    std::uint64_t rng = 88172645463325252ULL;
    for (long r = 1; r <= rounds; ++r) {
      while (go.load(std::memory_order_acquire) != r) {
      }
      pause_randomly(rng);
      b.store(1, std::memory_order_relaxed);
      fence::heavy();
      seen_by_heavy.store(a.load(std::memory_order_relaxed), std::memory_order_relaxed);
      done.store(r, std::memory_order_release);
    }
  });
  std::uint64_t rng = 1234567;
  for (long r = 1; r <= rounds; ++r) {
    a.store(0, std::memory_order_relaxed);
    b.store(0, std::memory_order_relaxed);
    go.store(r, std::memory_order_release);
    pause_randomly(rng);
    a.store(1, std::memory_order_relaxed);
    fence::light();
    const int seen_by_light = b.load(std::memory_order_relaxed);
    while (done.load(std::memory_order_acquire) != r) {
    }
    if (seen_by_light == 0 && seen_by_heavy.load(std::memory_order_relaxed) == 0) ++neither;
  }
  heavy_side.join();
  EXPECT_EQ(neither, 0) << "rounds in which neither side saw the other's store, of " << rounds;
}

}  // namespace
