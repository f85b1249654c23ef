// wait_queue_test.cpp: WaitQueue<T> (corun/detail/wait_queue.hpp), the one
// intrusive FIFO of parked waiters, on its own and as Mutex and WaitGroup use
// it when a runtime shuts down with many waiters queued.
#include "corun/detail/wait_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "corun/corun.hpp"
#include "corun/detail/spin_lock.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using corun::detail::SpinLock;
using corun::detail::WaitLink;
using corun::detail::WaitQueue;
using corun::test::Watchdog;

struct Node : WaitLink {
  explicit Node(int v = 0) : value(v) {}
  int value;
};

std::vector<int> drain(WaitQueue<Node>& q) {
  std::vector<int> out;
  while (Node* n = q.pop_front()) out.push_back(n->value);
  return out;
}

TEST(WaitQueue, IsFifo) {
  WaitQueue<Node> q;
  Node a(1), b(2), c(3);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.pop_front(), nullptr);
  q.push_back(&a);
  q.push_back(&b);
  q.push_back(&c);
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(drain(q), (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(a.queued);
}

// Removal takes a waiter out of the middle, the head or the tail by its own
// links (no walk): the others keep their order, and a second removal of the
// same waiter is refused (someone else took it first).
TEST(WaitQueue, RemovesFromAnywhereByItsOwnLinks) {
  WaitQueue<Node> q;
  Node n[5] = {Node(0), Node(1), Node(2), Node(3), Node(4)};
  for (Node& x : n) q.push_back(&x);
  EXPECT_TRUE(q.remove(&n[2]));  // middle
  EXPECT_FALSE(q.remove(&n[2]));
  EXPECT_TRUE(q.remove(&n[0]));  // head
  EXPECT_TRUE(q.remove(&n[4]));  // tail
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(drain(q), (std::vector<int>{1, 3}));
  EXPECT_FALSE(q.remove(&n[1])) << "a popped waiter is no longer queued";
}

// Removal costs the same wherever the waiter is and however long the queue:
// removing every other waiter of a long queue, from the middle outwards,
// then draining it, visits each node a bounded number of times (a walk per
// removal would be quadratic: minutes at this size).
TEST(WaitQueue, RemovalFromTheMiddleOfALongQueueIsConstantTime) {
  constexpr int kNodes = 200'000;
  std::vector<Node> nodes(kNodes);
  WaitQueue<Node> q;
  for (int i = 0; i < kNodes; ++i) {
    nodes[i].value = i;
    q.push_back(&nodes[i]);
  }
  const auto start = std::chrono::steady_clock::now();
  for (int d = 0; d < kNodes / 2; d += 2) {
    ASSERT_TRUE(q.remove(&nodes[kNodes / 2 + d]));
    ASSERT_TRUE(q.remove(&nodes[kNodes / 2 - d - 2]));
  }
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, 5s);  // ~1 ms; a walk per removal: ~10^10 steps
  EXPECT_EQ(q.size(), static_cast<std::size_t>(kNodes / 2));
  int expected = 1;
  while (Node* n = q.pop_front()) {
    ASSERT_EQ(n->value, expected);
    expected += 2;
  }
}

// take_all() hands every waiter over at once, chained in FIFO order, and
// none of them counts as queued any more (a cancellation after it loses).
TEST(WaitQueue, TakeAllChainsTheWaitersAndUnqueuesThem) {
  WaitQueue<Node> q;
  Node n[3] = {Node(7), Node(8), Node(9)};
  for (Node& x : n) q.push_back(&x);
  std::vector<int> got;
  for (Node* w = q.take_all(); w != nullptr; w = WaitQueue<Node>::next_taken(w)) {
    got.push_back(w->value);
  }
  EXPECT_EQ(got, (std::vector<int>{7, 8, 9}));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.size(), 0u);
  for (Node& x : n) EXPECT_FALSE(q.remove(&x));
}

// A cancellation (remove) racing a waker (pop_front) under the queue's lock:
// every waiter is taken by exactly one of them, never both, never neither.
TEST(WaitQueue, CancelRacingAWakerTakesEachWaiterOnce) {
  Watchdog dog("the cancel/waker race on a WaitQueue hung");
  constexpr int kRounds = corun::test::kSanitized ? 50 : 400;
  constexpr int kNodes = 64;
  for (int round = 0; round < kRounds; ++round) {
    SpinLock lock;
    WaitQueue<Node> q;
    std::vector<Node> nodes(kNodes);
    for (int i = 0; i < kNodes; ++i) {
      nodes[i].value = i;
      q.push_back(&nodes[i]);
    }
    std::vector<int> owner(kNodes, 0);  // 1: the waker, 2: the canceller
    std::atomic<bool> go{false};
    std::thread waker([&] {
      while (!go.load(std::memory_order_acquire)) {
      }
      for (;;) {
        lock.lock();
        Node* n = q.pop_front();
        if (n != nullptr) owner[n->value] += 1;
        lock.unlock();
        if (n == nullptr) return;
      }
    });
    std::thread canceller([&] {
      while (!go.load(std::memory_order_acquire)) {
      }
      // From the back, so that the two meet in the middle.
      for (int i = kNodes - 1; i >= 0; --i) {
        lock.lock();
        if (q.remove(&nodes[i])) owner[i] += 2;
        lock.unlock();
      }
    });
    go.store(true, std::memory_order_release);
    waker.join();
    canceller.join();
    for (int i = 0; i < kNodes; ++i) {
      ASSERT_TRUE(owner[i] == 1 || owner[i] == 2)
          << "round " << round << ", waiter " << i << " taken by " << owner[i];
    }
    EXPECT_TRUE(q.empty());
  }
}

// kMany waiters, cancelled by shutdown in whatever order its sweep finds them
// (mostly from the middle of the queue). Scaled down under the sanitizers,
// where each coroutine costs tens of milliseconds on a loaded machine.
constexpr int kMany = corun::test::kSanitized ? 100 : 5000;

struct DestructionCount {
  std::atomic<int>& destroyed;
  ~DestructionCount() { destroyed.fetch_add(1); }
};

TEST(WaitQueueShutdown, CancelsManyMutexWaiters) {
  Watchdog dog("destroying a runtime with many Mutex waiters hung");
  std::atomic<int> destroyed{0};
  corun::Mutex mu;
  std::optional<corun::Runtime> rt(std::in_place, corun::Config{.procs = 2});
  corun::WaitGroup held, started;
  held.add(1);
  started.add(kMany);
  rt->go([&] {
    DestructionCount c{destroyed};
    std::lock_guard<corun::Mutex> lk(mu);
    held.done();
    corun::this_coroutine::sleep_for(1h);
  });
  held.wait();
  for (int i = 0; i < kMany; ++i) {
    rt->go([&] {
      DestructionCount c{destroyed};
      started.done();
      std::lock_guard<corun::Mutex> lk(mu);
    });
  }
  started.wait();
  rt.reset();
  EXPECT_EQ(destroyed.load(), kMany + 1);
  EXPECT_TRUE(mu.try_lock()) << "the Mutex must be free once every holder unwound";
  mu.unlock();
}

TEST(WaitQueueShutdown, CancelsManyWaitGroupWaitersAndForgetsThem) {
  Watchdog dog("destroying a runtime with many WaitGroup waiters hung");
  std::atomic<int> destroyed{0};
  corun::WaitGroup never;
  never.add(1);
  {
    corun::Runtime rt({.procs = 2});
    corun::WaitGroup started;
    started.add(kMany);
    for (int i = 0; i < kMany; ++i) {
      rt.go([&] {
        DestructionCount c{destroyed};
        started.done();
        never.wait();
      });
    }
    started.wait();
  }
  EXPECT_EQ(destroyed.load(), kMany);
  EXPECT_EQ(never.count(), 1);
  // No cancelled waiter is left counted or queued: the WaitGroup is reusable.
  never.done();
  never.wait();
  never.add(1);
  std::thread t([&] { never.done(); });
  never.wait();
  t.join();
  EXPECT_EQ(never.count(), 0);
}

}  // namespace
