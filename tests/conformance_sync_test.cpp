// conformance_sync_test.cpp: Go's sync/waitgroup_test.go on corun::WaitGroup.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>

#include "conformance_support.hpp"
#include "corun/corun.hpp"

namespace {

using corun::make_channel;
using corun::conformance::ConformanceTest;

using ConformanceSync = ConformanceTest;
CORUN_AT_PROCS(ConformanceSync);

void test_wait_group(corun::WaitGroup& wg1, corun::WaitGroup& wg2) {
  constexpr int n = 16;
  wg1.add(n);
  wg2.add(n);
  auto exited = make_channel<bool>(n);
  for (int i = 0; i != n; ++i) {
    corun::go([&wg1, &wg2, exited]() mutable {
      wg1.done();
      wg2.wait();
      exited.send(true);
    });
  }
  wg1.wait();
  for (int i = 0; i != n; ++i) {
    const std::size_t taken = corun::select(corun::recv(exited), corun::otherwise());
    ASSERT_EQ(taken, 1u) << "WaitGroup released group too soon";
    wg2.done();
  }
  for (int i = 0; i != n; ++i)
    (void)exited.recv();  // blocks if the barrier fails to unlock someone
}

TEST_P(ConformanceSync, TestWaitGroup) {
  go_main([] {
    corun::WaitGroup wg1;
    corun::WaitGroup wg2;
    // Run the same test a few times to ensure the barrier is in a proper state.
    for (int i = 0; i != 8; ++i) test_wait_group(wg1, wg2);
  });
}

TEST_P(ConformanceSync, TestWaitGroupMisuse) {
  go_main([] {
    corun::WaitGroup wg;
    wg.add(1);
    wg.done();
    try {
      wg.done();
      ADD_FAILURE() << "should throw";
    } catch (const std::logic_error& e) {
      EXPECT_NE(std::string(e.what()).find("negative"), std::string::npos) << e.what();
    }
    EXPECT_EQ(wg.count(), 0);
  });
}

TEST_P(ConformanceSync, TestWaitGroupRace) {
  go_main([] {
    for (int i = 0; i < 1000; ++i) {
      corun::WaitGroup wg;
      std::atomic<int> n{0};
      // spawn coroutine 1
      wg.add(1);
      corun::go([&] {
        n.fetch_add(1);
        wg.done();
      });
      // spawn coroutine 2
      wg.add(1);
      corun::go([&] {
        n.fetch_add(1);
        wg.done();
      });
      // Wait for coroutines 1 and 2
      wg.wait();
      ASSERT_EQ(n.load(), 2) << "spurious wakeup from wait";
    }
  });
}

}  // namespace
