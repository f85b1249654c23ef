// runtime_run_queue_test.cpp: LocalRunQueue, the per-worker lock-free ring:
// FIFO order (also of its thief-free pop), its bound, and no coroutine lost
// or duplicated when thieves steal while the owner pushes and pops;
// GlobalRunQueue, the shared growable ring: FIFO order across its growth,
// and nothing lost or duplicated between concurrent producers and
// consumers.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "corun/sched/run_queue.hpp"
#include "test_support.hpp"

namespace {

using corun::detail::Coroutine;
using corun::detail::GlobalRunQueue;
using corun::detail::LocalRunQueue;
constexpr std::uint32_t kCapacity = LocalRunQueue::kCapacity;

// expect_each_seen_once() checks that each of n items was taken exactly once.
void expect_each_seen_once(const std::atomic<std::uint8_t>* seen, std::size_t n) {
  std::size_t lost = 0, duplicated = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t times = seen[i].load();
    lost += times == 0;
    duplicated += times > 1;
  }
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(duplicated, 0u);
}

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

// pop_unshared(), the pop of a ring no thief reaches, keeps the same order
// around the ring and alongside grab_half() (the owner's overflow path).
TEST(RuntimeRunQueue, UnsharedPopIsFifoAroundTheRing) {
  auto items = std::make_unique<Coroutine[]>(kCapacity);
  LocalRunQueue q;
  EXPECT_EQ(q.pop_unshared(), nullptr);
  for (int lap = 0; lap < 3; ++lap) {  // indices wrap around the ring
    for (std::uint32_t i = 0; i < kCapacity; ++i) ASSERT_TRUE(q.push(&items[i]));
    for (std::uint32_t i = 0; i < kCapacity / 4; ++i) ASSERT_EQ(q.pop_unshared(), &items[i]);
    Coroutine* half[kCapacity / 2];
    const std::uint32_t n = q.grab_half(half);
    ASSERT_EQ(n, (kCapacity - kCapacity / 4 + 1) / 2);
    for (std::uint32_t i = 0; i < n; ++i) ASSERT_EQ(half[i], &items[kCapacity / 4 + i]);
    for (std::uint32_t i = kCapacity / 4 + n; i < kCapacity; ++i) {
      ASSERT_EQ(q.pop_unshared(), &items[i]);
    }
    EXPECT_EQ(q.pop_unshared(), nullptr);
    EXPECT_TRUE(q.empty());
  }
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
  expect_each_seen_once(seen.get(), kItems);
  EXPECT_GT(stolen.load(), 0u) << "the thieves never got anything: the test tested nothing";
}

// The global queue grows while its oldest entries sit mid-ring (the copy
// must unwrap them), and batches come out in the order pushed.
TEST(RuntimeGlobalRunQueue, StaysFifoAcrossGrowthAndBatches) {
  constexpr std::size_t kItems = 20'000;
  auto items = std::make_unique<Coroutine[]>(kItems);
  GlobalRunQueue q;
  std::uint32_t n = 0;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.pop_batch(nullptr, 1, n), nullptr);
  std::vector<Coroutine*> out;
  Coroutine* rest[200];
  auto pop_some = [&](std::uint32_t max) {
    if (Coroutine* first = q.pop_batch(rest, max, n)) {
      out.push_back(first);
      out.insert(out.end(), rest, rest + n);
    }
  };
  std::size_t pushed = 0;
  auto push_some = [&](std::size_t count) {
    std::vector<Coroutine*> batch;
    for (std::size_t i = 0; i < count; ++i) batch.push_back(&items[pushed++]);
    q.push_list(batch.data(), static_cast<std::uint32_t>(batch.size()));
  };
  push_some(1000);
  for (int i = 0; i < 7; ++i) pop_some(100);  // the head moves to slot 700
  push_some(600);                             // wraps past the end of 1024 slots
  push_some(3000);                            // grows with the entries wrapped
  std::uint32_t max = 1;
  while (pushed < kItems) {
    push_some(std::min<std::size_t>(kItems - pushed, 129));
    pop_some(max);
    max = max % 200 + 1;
  }
  EXPECT_EQ(q.size(), static_cast<std::int64_t>(kItems - out.size()));
  while (!q.empty()) pop_some(max++ % 200 + 1);
  ASSERT_EQ(out.size(), kItems);
  for (std::size_t i = 0; i < kItems; ++i) ASSERT_EQ(out[i], &items[i]) << "at " << i;
  EXPECT_EQ(q.pop_batch(rest, 200, n), nullptr);
}

// Two producers push batches, two consumers take batches, all at once: every
// item comes out exactly once, and each consumer sees each producer's items
// in the order pushed.
TEST(RuntimeGlobalRunQueue, ConcurrentProducersAndConsumersLoseNothing) {
  const auto kPerProducer = static_cast<std::size_t>(corun::test::scaled(200'000, 40'000));
  constexpr int kProducers = 2;
  constexpr int kConsumers = 2;
  const std::size_t total = kPerProducer * kProducers;
  auto items = std::make_unique<Coroutine[]>(total);
  auto seen = std::make_unique<std::atomic<std::uint8_t>[]>(total);
  GlobalRunQueue q;
  std::atomic<int> producing{kProducers};
  std::atomic<bool> out_of_order{false};

  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      Coroutine* batch[64];
      std::size_t next = static_cast<std::size_t>(p) * kPerProducer;
      const std::size_t end = next + kPerProducer;
      std::uint32_t size = 1;
      while (next < end) {
        std::uint32_t n = 0;
        while (n < size && next < end) batch[n++] = &items[next++];
        q.push_list(batch, n);
        size = size % 64 + 1;
      }
      producing.fetch_sub(1, std::memory_order_release);
    });
  }
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&] {
      Coroutine* rest[128];
      std::vector<std::size_t> last(kProducers, SIZE_MAX);
      std::uint32_t max = 1;
      for (;;) {
        const bool done = producing.load(std::memory_order_acquire) == 0;
        std::uint32_t n = 0;
        Coroutine* first = q.pop_batch(rest, max, n);
        max = max % 128 + 1;
        if (first == nullptr) {
          if (done) return;
          std::this_thread::yield();
          continue;
        }
        for (std::uint32_t k = 0; k <= n; ++k) {
          const auto i = static_cast<std::size_t>((k == 0 ? first : rest[k - 1]) - items.get());
          seen[i].fetch_add(1, std::memory_order_relaxed);
          std::size_t& prev = last[i / kPerProducer];
          if (prev != SIZE_MAX && i <= prev) out_of_order.store(true);
          prev = i;
        }
      }
    });
  }
  for (auto& t : threads) t.join();

  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(out_of_order.load()) << "a consumer saw a producer's items out of order";
  expect_each_seen_once(seen.get(), total);
}

}  // namespace
