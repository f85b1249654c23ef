// runtime_run_queue_test.cpp: LocalRunQueue, the per-worker lock-free ring:
// FIFO order, its bound, and no coroutine lost or duplicated when thieves
// steal while the owner pushes and pops.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "corun/run_queue.hpp"
#include "test_support.hpp"

namespace {

using corun::detail::Coroutine;
using corun::detail::LocalRunQueue;
constexpr std::uint32_t kCapacity = LocalRunQueue::kCapacity;

TEST(RuntimeRunQueue, PopIsFifoAndEmptyPopIsNull) {
  auto items = std::make_unique<Coroutine[]>(10);
  LocalRunQueue q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.pop(), nullptr);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(q.push(&items[i]));
  EXPECT_EQ(q.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(q.pop(), &items[i]);
  EXPECT_EQ(q.pop(), nullptr);
  EXPECT_TRUE(q.empty());
}

TEST(RuntimeRunQueue, PushFailsWhenFullAndWrapsAround) {
  auto items = std::make_unique<Coroutine[]>(kCapacity + 1);
  LocalRunQueue q;
  for (int lap = 0; lap < 3; ++lap) {  // indices wrap around the ring
    for (std::uint32_t i = 0; i < kCapacity; ++i) ASSERT_TRUE(q.push(&items[i]));
    EXPECT_FALSE(q.push(&items[kCapacity]));
    EXPECT_EQ(q.size(), kCapacity);
    for (std::uint32_t i = 0; i < kCapacity; ++i) ASSERT_EQ(q.pop(), &items[i]);
    ASSERT_TRUE(q.push(&items[0]));  // shift the start by one each lap
    ASSERT_EQ(q.pop(), &items[0]);
  }
}

TEST(RuntimeRunQueue, GrabHalfTakesTheOlderHalfRoundedUp) {
  auto items = std::make_unique<Coroutine[]>(kCapacity);
  Coroutine* out[kCapacity / 2];
  LocalRunQueue q;
  EXPECT_EQ(q.grab_half(out), 0u);
  for (int i = 0; i < 5; ++i) q.push(&items[i]);
  ASSERT_EQ(q.grab_half(out), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(out[i], &items[i]);
  EXPECT_EQ(q.pop(), &items[3]);
  ASSERT_EQ(q.grab_half(out), 1u);  // one left: a thief takes it
  EXPECT_EQ(out[0], &items[4]);
  for (std::uint32_t i = 0; i < kCapacity; ++i) q.push(&items[i]);
  EXPECT_EQ(q.grab_half(out), kCapacity / 2);
  q.push_batch(out, kCapacity / 2);
  EXPECT_EQ(q.size(), kCapacity);
  for (std::uint32_t i = kCapacity / 2; i < kCapacity; ++i) EXPECT_EQ(q.pop(), &items[i]);
  for (std::uint32_t i = 0; i < kCapacity / 2; ++i) EXPECT_EQ(q.pop(), &items[i]);
}

// One owner pushes every item once and pops some; three thieves grab_half
// all the while. Every item must come out exactly once.
TEST(RuntimeRunQueue, ConcurrentStealLosesAndDuplicatesNothing) {
  const auto kItems = static_cast<std::size_t>(corun::test::scaled(200'000, 50'000));
  constexpr int kThieves = 3;
  auto items = std::make_unique<Coroutine[]>(kItems);
  auto seen = std::make_unique<std::atomic<std::uint8_t>[]>(kItems);
  LocalRunQueue q;
  std::atomic<bool> owner_done{false};
  std::atomic<std::size_t> stolen{0};

  auto take = [&](Coroutine* g) {
    const auto i = static_cast<std::size_t>(g - items.get());
    if (i < kItems) seen[i].fetch_add(1, std::memory_order_relaxed);
  };

  std::vector<std::thread> thieves;
  for (int t = 0; t < kThieves; ++t) {
    thieves.emplace_back([&] {
      Coroutine* out[kCapacity / 2];
      for (;;) {
        const bool last = owner_done.load(std::memory_order_acquire);
        const std::uint32_t n = q.grab_half(out);
        for (std::uint32_t k = 0; k < n; ++k) take(out[k]);
        stolen.fetch_add(n, std::memory_order_relaxed);
        if (n == 0 && last) return;
        if (n == 0) std::this_thread::yield();
      }
    });
  }

  std::size_t popped = 0;
  for (std::size_t i = 0; i < kItems; ++i) {
    // Full: give the thieves a chance, then make room by running one.
    for (int tries = 0; !q.push(&items[i]); ++tries) {
      if (tries < 100) {
        std::this_thread::yield();
      } else if (Coroutine* g = q.pop()) {
        take(g);
        ++popped;
      }
    }
    if (i % 3 == 0) {  // the owner runs some of its work itself
      if (Coroutine* g = q.pop()) {
        take(g);
        ++popped;
      }
    }
  }
  while (Coroutine* g = q.pop()) {
    take(g);
    ++popped;
  }
  owner_done.store(true, std::memory_order_release);
  for (auto& t : thieves) t.join();

  EXPECT_TRUE(q.empty());
  EXPECT_EQ(popped + stolen.load(), kItems);
  std::size_t lost = 0, duplicated = 0;
  for (std::size_t i = 0; i < kItems; ++i) {
    const std::uint8_t n = seen[i].load();
    lost += n == 0;
    duplicated += n > 1;
  }
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(duplicated, 0u);
  EXPECT_GT(stolen.load(), 0u) << "the thieves never got anything: the test tested nothing";
}

}  // namespace
