// select_test.cpp: corun::select's API: the case taken and its handler,
// default, timeout, nil channels, closed channels, plain threads.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "conformance_support.hpp"
#include "corun/corun.hpp"

namespace {

using namespace std::chrono_literals;
using corun::Channel;
using corun::make_channel;
using corun::otherwise;
using corun::recv;
using corun::select;
using corun::send;
using corun::timeout;
using corun::conformance::ConformanceTest;

using SelectApiTest = ConformanceTest;
CORUN_AT_PROCS(SelectApiTest);

TEST(SelectApi, ReturnsTheCaseTakenAndRunsItsHandler) {
  auto a = make_channel<int>(1);
  auto b = make_channel<std::string>(1);
  b.send("hello");
  std::optional<std::string> got;
  bool other_ran = false;
  const std::size_t taken = select(recv(a, [&](std::optional<int>) { other_ran = true; }),
                                   recv(b, [&](std::optional<std::string> v) { got = v; }));
  EXPECT_EQ(taken, 1u);
  EXPECT_EQ(got, "hello");
  EXPECT_FALSE(other_ran);

  bool sent = false;
  EXPECT_EQ(select(otherwise(), send(a, 5, [&] { sent = true; })), 1u);
  EXPECT_TRUE(sent);
  EXPECT_EQ(a.recv(), 5);
}

TEST(SelectApi, DefaultWhenNothingReady) {
  auto a = make_channel<int>();
  bool default_ran = false;
  EXPECT_EQ(select(recv(a), send(a, 1), otherwise([&] { default_ran = true; })), 2u);
  EXPECT_TRUE(default_ran);
  // A full buffered channel is not ready for sending either.
  auto full = make_channel<int>(1);
  full.send(0);
  EXPECT_EQ(select(otherwise(), send(full, 1)), 0u);
  EXPECT_EQ(full.len(), 1u);
}

TEST(SelectApi, HandlerWithoutArgument) {
  auto a = make_channel<int>(1);
  a.send(1);
  int calls = 0;
  EXPECT_EQ(select(recv(a, [&] { ++calls; })), 0u);
  EXPECT_EQ(calls, 1);
}

TEST(SelectApi, ClosedChannelIsReadyForReceiving) {
  auto a = make_channel<int>(2);
  a.send(1);
  a.close();
  std::optional<int> v = -1;
  select(recv(a, [&](std::optional<int> x) { v = x; }));
  EXPECT_EQ(v, 1);  // buffered values first
  select(recv(a, [&](std::optional<int> x) { v = x; }));
  EXPECT_EQ(v, std::nullopt);
}

TEST(SelectApi, SendCaseOnClosedChannelThrows) {
  auto a = make_channel<int>(1);
  a.close();
  try {
    select(send(a, 1), otherwise());
    ADD_FAILURE() << "expected std::logic_error";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("send on closed channel"), std::string::npos);
  }
}

TEST_P(SelectApiTest, SendCaseThrowsWhenClosedWhileBlocked) {
  go_main([] {
    auto a = make_channel<int>();
    auto result = make_channel<std::string>(1);
    corun::go([a, result]() mutable {
      try {
        select(send(a, 1), recv(Channel<int>{}));
        result.send("sent");
      } catch (const std::logic_error& e) {
        result.send(e.what());
      }
    });
    corun::this_coroutine::sleep_for(2ms);
    a.close();
    auto what = result.recv();
    ASSERT_TRUE(what);
    EXPECT_NE(what->find("send on closed channel"), std::string::npos) << *what;
  });
}

TEST(SelectApi, NilChannelCasesNeverFire) {
  Channel<int> nil;
  EXPECT_EQ(select(recv(nil), send(nil, 1), otherwise()), 2u);
  EXPECT_EQ(select(recv(nil), timeout(1ms)), 1u);  // a plain thread's timeout
}

TEST(SelectApi, ZeroTimeoutIsTakenWhenNothingIsReady) {
  auto a = make_channel<int>(1);
  EXPECT_EQ(select(recv(a), timeout(0ms)), 1u);
  EXPECT_EQ(select(recv(a), timeout(-5ms)), 1u);
  a.send(1);
  EXPECT_EQ(select(recv(a), timeout(0ms)), 0u);  // a ready case wins
}

TEST_P(SelectApiTest, TimeoutFiresAfterItsDuration) {
  go_main([] {
    auto a = make_channel<int>();
    const auto start = std::chrono::steady_clock::now();
    bool timed_out = false;
    EXPECT_EQ(select(recv(a), timeout(20ms, [&] { timed_out = true; })), 1u);
    EXPECT_TRUE(timed_out);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
  });
}

TEST(SelectApi, PlainThreadTimeoutAndWakeUp) {
  auto a = make_channel<int>();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(select(recv(a), timeout(10ms)), 1u);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 10ms);
  // Woken by a sender long before the timeout.
  std::thread sender([a]() mutable { a.send(42); });
  std::optional<int> v;
  EXPECT_EQ(select(recv(a, [&](std::optional<int> x) { v = x; }), timeout(1h)), 0u);
  EXPECT_EQ(v, 42);
  sender.join();
}

// A channel case that wins against a pending timeout disarms it: many such
// selects leave no timer behind to fire into a dead stack.
TEST_P(SelectApiTest, ChannelWinsOverTimeout) {
  go_main([] {
    auto a = make_channel<int>();
    corun::go([a]() mutable {
      for (int i = 0; i < 2000; ++i) a.send(i);
      a.close();
    });
    int n = 0;
    for (;;) {
      std::optional<int> v;
      const std::size_t taken = select(recv(a, [&](std::optional<int> x) { v = x; }),
                                       timeout(1h, [] { ADD_FAILURE() << "timed out"; }));
      EXPECT_EQ(taken, 0u);
      if (!v) break;
      EXPECT_EQ(*v, n++);
    }
    EXPECT_EQ(n, 2000);
  });
}

// Timeouts that race with channel operations: every select takes exactly one
// case, every value sent is received exactly once.
TEST_P(SelectApiTest, TimeoutsRacingWithValues) {
  go_main([] {
    auto a = make_channel<int>();
    const int kValues = SCALED(3000, 500);
    auto done = make_channel<long>(1);
    corun::go([a, done]() mutable {
      long sum = 0;
      int got = 0;
      while (got < kValues) {
        select(recv(a,
                    [&](std::optional<int> v) {
                      sum += *v;
                      ++got;
                    }),
               timeout(std::chrono::microseconds(got % 7 * 5 + 1)));
      }
      done.send(sum);
    });
    for (int i = 0; i < kValues; ++i) {
      // The sender times out too sometimes (at once, for i % 5 == 0: the
      // receiver's timeouts are never zero, or both could poll forever); it
      // retries until the value went.
      bool sent = false;
      while (!sent) {
        select(send(a, i, [&] { sent = true; }), timeout(std::chrono::microseconds(i % 5)));
        corun::this_coroutine::yield();  // a zero timeout does not block
      }
    }
    EXPECT_EQ(done.recv(), static_cast<long>(kValues) * (kValues - 1) / 2);
  });
}

TEST_P(SelectApiTest, MoveOnlyValuesThroughSelect) {
  go_main([] {
    auto ch = make_channel<std::unique_ptr<int>>();
    corun::go([ch] { select(send(ch, std::make_unique<int>(9))); });
    std::unique_ptr<int> got;
    select(recv(ch, [&](std::optional<std::unique_ptr<int>> p) { got = std::move(*p); }));
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(*got, 9);
  });
}

// Two selects over the same channels in opposite orders never deadlock
// (channels are locked in address order).
TEST_P(SelectApiTest, OppositeOrdersDoNotDeadlock) {
  go_main([] {
    auto a = make_channel<int>();
    auto b = make_channel<int>();
    const int kRounds = SCALED(20000, 3000);
    corun::WaitGroup wg;
    wg.add(2);
    corun::go([&] {
      for (int i = 0; i < kRounds; ++i) select(send(a, i), recv(b));
      wg.done();
    });
    corun::go([&] {
      for (int i = 0; i < kRounds; ++i) select(send(b, i), recv(a));
      wg.done();
    });
    wg.wait();
  });
}

TEST_P(SelectApiTest, ManyCases) {
  go_main([] {
    std::array<Channel<int>, 8> chans;
    for (auto& c : chans) c = make_channel<int>(1);
    chans[5].send(55);
    std::optional<int> v;
    auto on = [&](std::optional<int> x) { v = x; };
    const std::size_t taken =
        select(recv(chans[0], on), recv(chans[1], on), recv(chans[2], on), recv(chans[3], on),
               recv(chans[4], on), recv(chans[5], on), recv(chans[6], on), recv(chans[7], on));
    EXPECT_EQ(taken, 5u);
    EXPECT_EQ(v, 55);
  });
}

}  // namespace
