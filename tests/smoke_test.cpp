#include <gtest/gtest.h>

#include <atomic>

#include "corun/corun.hpp"

TEST(Smoke, SpawnAndWait) {
  corun::Runtime rt({.procs = 2});
  std::atomic<int> n{0};
  corun::WaitGroup wg;
  wg.add(100);
  for (int i = 0; i < 100; ++i) {
    rt.go([&] {
      corun::this_coroutine::yield();
      corun::this_coroutine::sleep_for(std::chrono::milliseconds(1));
      n.fetch_add(1);
      wg.done();
    });
  }
  wg.wait();
  EXPECT_EQ(n.load(), 100);
}
