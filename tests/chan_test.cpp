// chan_test.cpp: Channel<T>'s API, beyond what the Go conformance tests
// cover: statuses of the non-blocking operations, errors, move-only values,
// plain threads, range iteration, nil channels, and cancellation at shutdown.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "conformance_support.hpp"
#include "corun/corun.hpp"

namespace {

using corun::Channel;
using corun::ChanStatus;
using corun::make_channel;
using corun::conformance::ConformanceTest;

using ChanApiTest = ConformanceTest;
CORUN_AT_PROCS(ChanApiTest);

// expect_logic_error() checks that `f` throws std::logic_error whose message
// contains `what`.
template <class F>
void expect_logic_error(F&& f, const std::string& what) {
  try {
    f();
    ADD_FAILURE() << "expected std::logic_error(\"..." << what << "...\")";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST(ChanApi, HandleSemantics) {
  Channel<int> nil;
  EXPECT_FALSE(nil);
  EXPECT_EQ(nil.len(), 0u);
  EXPECT_EQ(nil.cap(), 0u);
  auto a = make_channel<int>(3);
  Channel<int> b = a;  // a copy refers to the same channel
  EXPECT_TRUE(a);
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a == make_channel<int>(3));
  EXPECT_EQ(b.cap(), 3u);
  a.send(7);
  EXPECT_EQ(b.len(), 1u);
  EXPECT_EQ(b.recv(), 7);
}

TEST(ChanApi, NonBlockingStatuses) {
  auto ch = make_channel<int>(1);
  EXPECT_EQ(ch.try_recv().status, ChanStatus::kWouldBlock);
  EXPECT_EQ(ch.try_send(1), ChanStatus::kOk);
  EXPECT_EQ(ch.try_send(2), ChanStatus::kWouldBlock);
  auto r = ch.try_recv();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 1);
  ch.send(3);
  ch.close();
  EXPECT_EQ(ch.try_send(4), ChanStatus::kClosed);  // no exception: a status
  r = ch.try_recv();                               // the buffer drains first
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 3);
  r = ch.try_recv();
  EXPECT_TRUE(r.closed());
  EXPECT_FALSE(r.value.has_value());

  auto unbuffered = make_channel<int>();
  EXPECT_EQ(unbuffered.try_send(1), ChanStatus::kWouldBlock);  // nobody receiving
  EXPECT_TRUE(unbuffered.try_recv().would_block());

  Channel<int> nil;
  EXPECT_EQ(nil.try_send(1), ChanStatus::kWouldBlock);
  EXPECT_TRUE(nil.try_recv().would_block());
}

TEST(ChanApi, ClosedChannelErrors) {
  auto ch = make_channel<int>(2);
  ch.close();
  expect_logic_error([&] { ch.send(1); }, "send on closed channel");
  expect_logic_error([&] { ch.close(); }, "close of closed channel");
  expect_logic_error([] { Channel<int>{}.close(); }, "close of nil channel");
  EXPECT_EQ(ch.recv(), std::nullopt);
}

TEST(ChanApi, FailedTrySendKeepsTheValue) {
  auto ch = make_channel<std::unique_ptr<int>>();
  auto p = std::make_unique<int>(5);
  EXPECT_EQ(ch.try_send(std::move(p)), ChanStatus::kWouldBlock);
  ASSERT_NE(p, nullptr);  // not moved from
  EXPECT_EQ(*p, 5);
}

// A receiver woken by a send runs next on the sender's worker (its
// runnext), so a ping-pong pair stays together on one worker even when
// other workers are idle and looking for work: nearly every round trip
// happens without a move (idle workers may take the pair now and then).
TEST_P(ChanApiTest, PingPongPairStaysOnOneWorker) {
  go_main([this] {
    const int rounds = 20'000;
    auto ping = make_channel<int>();
    auto pong = make_channel<int>();
    corun::go([ping, pong]() mutable {
      while (auto v = ping.recv()) pong.send(*v);
      pong.close();
    });
    int moves = 0;
    int last = corun::this_coroutine::worker();
    for (int i = 0; i < rounds; ++i) {
      ping.send(i);
      ASSERT_EQ(pong.recv(), i);
      const int now = corun::this_coroutine::worker();
      if (now != last) ++moves;
      last = now;
    }
    ping.close();
    EXPECT_EQ(pong.recv(), std::nullopt);
    EXPECT_LT(moves, rounds / 20) << "the pair moved between workers " << moves << " times in "
                                  << rounds << " round trips at procs " << procs();
  });
}

TEST_P(ChanApiTest, MoveOnlyValues) {
  go_main([] {
    for (std::size_t cap : {0u, 1u, 4u}) {
      auto ch = make_channel<std::unique_ptr<std::string>>(cap);
      corun::go([ch]() mutable {
        for (int i = 0; i < 10; ++i) ch.send(std::make_unique<std::string>(std::to_string(i)));
        ch.close();
      });
      int expect = 0;
      for (auto& p : ch) {
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(*p, std::to_string(expect++));
        std::unique_ptr<std::string> mine = std::move(p);  // *it may be moved from
      }
      EXPECT_EQ(expect, 10);
    }
  });
}

// A type with no default constructor and no copy.
struct Token {
  explicit Token(int v) : value(v) {}
  Token(Token&&) noexcept = default;
  Token& operator=(Token&&) noexcept = default;
  int value;
};

TEST_P(ChanApiTest, NoDefaultConstructorNeeded) {
  go_main([] {
    auto ch = make_channel<Token>(2);
    ch.send(Token(1));
    corun::go([ch]() mutable { ch.send(Token(2)); });
    EXPECT_EQ(ch.recv()->value, 1);
    EXPECT_EQ(ch.recv()->value, 2);
  });
}

// Buffered values left in a channel are destroyed with it.
TEST(ChanApi, BufferedValuesDestroyedWithChannel) {
  auto counter = std::make_shared<int>(0);
  {
    auto ch = make_channel<std::shared_ptr<int>>(8);
    for (int i = 0; i < 5; ++i) ch.send(counter);
    (void)ch.recv();
    EXPECT_EQ(counter.use_count(), 5);
  }
  EXPECT_EQ(counter.use_count(), 1);
}

TEST_P(ChanApiTest, RangeUntilClosed) {
  go_main([] {
    for (std::size_t cap : {0u, 3u}) {
      auto ch = make_channel<int>(cap);
      corun::go([ch]() mutable {
        for (int i = 1; i <= 100; ++i) ch.send(i);
        ch.close();
      });
      int sum = 0;
      for (int v : ch) sum += v;
      EXPECT_EQ(sum, 5050);
      EXPECT_EQ(ch.recv(), std::nullopt);  // stays closed
    }
  });
}

TEST_P(ChanApiTest, CloseWakesBlockedSendersWithAnError) {
  go_main([] {
    auto ch = make_channel<int>(1);
    ch.send(0);  // full
    auto errors = make_channel<std::string>(3);
    corun::WaitGroup wg;
    wg.add(3);
    for (int i = 0; i < 3; ++i) {
      corun::go([ch, errors, &wg]() mutable {
        try {
          ch.send(1);
          errors.send("sent");
        } catch (const std::logic_error& e) {
          errors.send(e.what());
        }
        wg.done();
      });
    }
    // Most are blocked by now; one that is not yet fails the same way.
    corun::this_coroutine::sleep_for(std::chrono::milliseconds(5));
    ch.close();
    wg.wait();
    for (int i = 0; i < 3; ++i) {
      auto e = errors.recv();
      ASSERT_TRUE(e);
      // A sender may have been scheduled after close(): same error either way.
      EXPECT_NE(e->find("send on closed channel"), std::string::npos) << *e;
    }
    EXPECT_EQ(ch.recv(), 0);  // the buffered value survives close
    EXPECT_EQ(ch.recv(), std::nullopt);
  });
}

TEST_P(ChanApiTest, CloseWakesAllReceivers) {
  go_main([] {
    auto ch = make_channel<int>();
    auto results = make_channel<bool>(10);
    for (int i = 0; i < 10; ++i) {
      corun::go([ch, results]() mutable { results.send(ch.recv().has_value()); });
    }
    corun::this_coroutine::sleep_for(std::chrono::milliseconds(2));
    ch.close();
    for (int i = 0; i < 10; ++i) EXPECT_EQ(results.recv(), false);
  });
}

// Unbuffered ping-pong: each side hands the value straight to the other.
TEST_P(ChanApiTest, PingPong) {
  go_main([] {
    auto ping = make_channel<int>();
    auto pong = make_channel<int>();
    corun::go([ping, pong]() mutable {
      for (int v : ping) pong.send(v + 1);
    });
    for (int i = 0; i < 10000; ++i) {
      ping.send(i);
      ASSERT_EQ(pong.recv(), i + 1);
    }
    ping.close();
  });
}

TEST(ChanApi, PlainThreadsWithoutRuntime) {
  for (std::size_t cap : {0u, 1u, 16u}) {
    auto ch = make_channel<int>(cap);
    std::thread producer([ch]() mutable {
      for (int i = 0; i < 2000; ++i) ch.send(i);
      ch.close();
    });
    int expect = 0;
    for (int v : ch) EXPECT_EQ(v, expect++);
    EXPECT_EQ(expect, 2000);
    producer.join();
  }
}

TEST_P(ChanApiTest, PlainThreadAndCoroutines) {
  // Another plain thread (the feeder) wakes coroutines: no deadlock detection.
  corun::Runtime rt({.procs = procs(), .detect_deadlock = false});
  for (std::size_t cap : {0u, 4u}) {
    auto to_co = make_channel<int>(cap);
    auto from_co = make_channel<int>(cap);
    for (int k = 0; k < 3; ++k) {
      rt.go([to_co, from_co]() mutable {
        for (int v : to_co) from_co.send(v * 2);
      });
    }
    std::thread feeder([to_co]() mutable {
      for (int i = 1; i <= 300; ++i) to_co.send(i);
      to_co.close();
    });
    long sum = 0;
    for (int i = 0; i < 300; ++i) sum += *from_co.recv();
    EXPECT_EQ(sum, 300 * 301);
    feeder.join();
    rt.wait();
  }
}

// RAII proof that a cancelled coroutine's stack unwound.
struct Unwound {
  std::atomic<int>* count;
  ~Unwound() { count->fetch_add(1); }
};

TEST_P(ChanApiTest, RuntimeDestructionCancelsBlockedOperations) {
  std::atomic<int> unwound{0};
  std::atomic<int> started{0};
  std::atomic<int> ran_past{0};
  auto silent = make_channel<int>();   // only receivers
  auto unheard = make_channel<int>();  // only senders
  auto full = make_channel<int>(1);    // full, only senders
  full.send(1);
  constexpr int kBlocked = 7;
  {
    corun::Runtime rt({.procs = procs()});
    auto blocked = [&](auto op) {
      rt.go([&, op]() mutable {
        Unwound u{&unwound};
        started.fetch_add(1);
        op();
        ran_past.fetch_add(1);
      });
    };
    blocked([silent]() mutable { (void)silent.recv(); });
    blocked([unheard]() mutable { unheard.send(1); });
    blocked([full]() mutable { full.send(2); });
    blocked([silent, unheard, full] {
      corun::select(corun::recv(silent), corun::send(full, 3), corun::send(unheard, 4));
    });
    blocked(
        [silent] { corun::select(corun::recv(silent), corun::timeout(std::chrono::hours(1))); });
    blocked([] { (void)Channel<int>{}.recv(); });
    blocked([] { corun::select(); });
    // Let them start (one never started is dropped unrun); destruction
    // cancels each whenever it blocks.
    while (started.load() != kBlocked) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(unwound.load(), kBlocked);
  EXPECT_EQ(ran_past.load(), 0);
  // No waiter was left behind in a channel (it would point into a dead
  // stack), and the cancelled sends sent nothing.
  EXPECT_EQ(silent.try_send(1), ChanStatus::kWouldBlock);
  EXPECT_TRUE(unheard.try_recv().would_block());
  EXPECT_EQ(full.try_recv().value, 1);
  EXPECT_TRUE(full.try_recv().would_block());
}

// Destroying the runtime while coroutines are busy waking each other: the
// shutdown sweep races with wakers for every parked coroutine. Each
// coroutine must unwind exactly once, whatever wins.
TEST_P(ChanApiTest, RuntimeDestructionWhileCoroutinesWakeEachOther) {
  const int rounds = SCALED(30, 10);
  for (int round = 0; round < rounds; ++round) {
    std::atomic<int> unwound{0};
    std::atomic<int> started{0};
    constexpr int kPairs = 4;
    {
      corun::Runtime rt({.procs = procs()});
      for (int k = 0; k < kPairs; ++k) {
        auto a = make_channel<int>();
        auto b = make_channel<int>(static_cast<std::size_t>(k % 2));
        rt.go([&unwound, &started, a, b]() mutable {
          Unwound u{&unwound};
          started.fetch_add(1);
          for (int i = 0;; ++i) {
            a.send(i);
            (void)b.recv();
          }
        });
        rt.go([&unwound, &started, a, b]() mutable {
          Unwound u{&unwound};
          started.fetch_add(1);
          for (;;) {
            if (corun::select(corun::recv(a, [&](std::optional<int> v) { b.send(*v); }),
                              corun::timeout(std::chrono::hours(1))) == 1) {
              ADD_FAILURE() << "timed out";
            }
          }
        });
      }
      // Let every coroutine start (one never started is dropped unrun).
      while (started.load() != 2 * kPairs) std::this_thread::yield();
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    ASSERT_EQ(unwound.load(), 2 * kPairs);
  }
}

using ChanDeathTest = ConformanceTest;
CORUN_AT_PROCS(ChanDeathTest);

// Channel waits show in the deadlock report with their wait reasons.
TEST_P(ChanDeathTest, DeadlockReportNamesChannelWaits) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const int p = procs();
  auto program = [p] {
    corun::run({.procs = p}, [] {
      auto a = make_channel<int>();
      auto b = make_channel<int>();
      auto c = make_channel<int>();
      corun::go([a]() mutable { a.send(1); });
      corun::go([c] { corun::select(corun::recv(c), corun::send(c, 1)); });
      corun::go([] { corun::select(); });
      (void)b.recv();
    });
  };
  for (const char* reason :
       {"\\[chan send\\]", "\\[chan receive\\]", "\\[select\\]", "\\[select \\(no cases\\)\\]"}) {
    EXPECT_EXIT(program(), ::testing::ExitedWithCode(2),
                std::string("all coroutines are asleep - deadlock!.*") + reason);
  }
}

}  // namespace
