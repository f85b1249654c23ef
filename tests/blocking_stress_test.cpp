// blocking_stress_test.cpp: many coroutines making short and long blocking
// calls (corun::blocking()) while passing values through channels, at
// procs 1, 2 and 4: every value arrives once (checksums), every call
// returns its own result, whatever thread the coroutines end up on.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "corun/corun.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using corun::test::ProcsName;
using corun::test::Watchdog;

class BlockingStress : public ::testing::TestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Procs, BlockingStress, ::testing::Values(1, 2, 4), ProcsName{});

// Producers pass numbered values down a chain of stages through channels;
// every stage makes a blocking call per value, most of them short (getpid),
// every 8th long enough to be handed off (a 1-3 ms sleep of the thread),
// and checks that the call returned what it was given.
TEST_P(BlockingStress, ChainsOfCallsAndChannels) {
  Watchdog dog("the blocking-call stress hung", std::chrono::seconds(120));
  const int producers = 8;
  const int stages = 3;
  const long per_producer = corun::test::scaled(200, 60);
  corun::Runtime rt(corun::Config{.procs = GetParam()});
  std::vector<corun::Channel<std::int64_t>> links;
  for (int s = 0; s <= stages; ++s) links.emplace_back(s % 2 == 0 ? 0 : 4);
  std::atomic<std::int64_t> received_sum{0};
  std::atomic<long> received{0};
  std::atomic<long> wrong{0};
  corun::WaitGroup producing;
  producing.add(producers);
  for (int p = 0; p < producers; ++p) {
    rt.go([&, p] {
      for (long i = 0; i < per_producer; ++i) {
        const std::int64_t v = p * per_producer + i + 1;
        const std::int64_t got = corun::blocking([v] { return getpid() > 0 ? v : -1; });
        if (got != v) wrong.fetch_add(1);
        links[0].send(v);
      }
      producing.done();
    });
  }
  rt.go([&] {
    producing.wait();
    links[0].close();
  });
  for (int s = 0; s < stages; ++s) {
    corun::WaitGroup* stage_done = new corun::WaitGroup;  // freed by its closer
    const int workers = 3;
    stage_done->add(workers);
    for (int k = 0; k < workers; ++k) {
      rt.go([&, s, stage_done] {
        std::uint32_t rng = static_cast<std::uint32_t>(s * 7919 + 1);
        while (auto v = links[static_cast<std::size_t>(s)].recv()) {
          rng = rng * 1664525u + 1013904223u;
          const bool long_call = (rng >> 24) % 8 == 0;
          const std::int64_t got = corun::blocking([&, x = *v] {
            if (long_call)
              std::this_thread::sleep_for(std::chrono::milliseconds(1 + (rng >> 8) % 3));
            return x;
          });
          if (got != *v) wrong.fetch_add(1);
          links[static_cast<std::size_t>(s) + 1].send(got);
        }
        stage_done->done();
      });
    }
    rt.go([&, s, stage_done] {
      stage_done->wait();
      delete stage_done;
      links[static_cast<std::size_t>(s) + 1].close();
    });
  }
  rt.go([&] {
    while (auto v = links[stages].recv()) {
      received_sum.fetch_add(*v);
      received.fetch_add(1);
    }
  });
  rt.wait();
  const long n = producers * per_producer;
  EXPECT_EQ(received.load(), n);
  EXPECT_EQ(received_sum.load(), static_cast<std::int64_t>(n) * (n + 1) / 2);
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
