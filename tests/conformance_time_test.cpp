// conformance_time_test.cpp: Go's time/sleep_test.go TestAfterQueuing, with
// select timeouts in place of time.After.
#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include "conformance_support.hpp"
#include "corun/corun.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using corun::make_channel;
using corun::conformance::ConformanceTest;

using ConformanceTime = ConformanceTest;
CORUN_AT_PROCS(ConformanceTime);

constexpr int kSlots[] = {5, 3, 6, 6, 6, 1, 1, 2, 7, 9, 4, 8, 0};

struct AfterResult {
  int slot;
  Clock::time_point t;
};

// after_queuing() starts one coroutine per slot, each waiting slot*delta in
// a select timeout, and checks they finish in slot order and on time.
// Returns an error message, empty on success.
std::string after_queuing(std::chrono::milliseconds delta) {
  // The result channel is buffered: the test should not depend on channel
  // queuing order.
  auto result = make_channel<AfterResult>(std::size(kSlots));
  const auto t0 = Clock::now();
  for (int slot : kSlots) {
    corun::go([slot, delta, result]() mutable {
      corun::select(corun::recv(corun::Channel<int>{}), corun::timeout(slot * delta));
      result.send({slot, Clock::now()});
    });
  }
  std::vector<AfterResult> got;
  for (std::size_t i = 0; i < std::size(kSlots); ++i) got.push_back(*result.recv());
  std::ostringstream err;
  for (std::size_t i = 1; i < got.size(); ++i) {
    if (got[i].slot < got[i - 1].slot) {
      err << "timeouts fired out of order:";
      for (const auto& r : got) err << ' ' << r.slot;
      return err.str();
    }
  }
  for (const auto& r : got) {
    const auto dt = r.t - t0;
    const auto target = r.slot * delta;
    if (dt < target - delta / 2 || dt > target + delta * 10) {
      err << "timeout(" << target.count() << "ms) arrived at "
          << std::chrono::duration<double, std::milli>(dt).count() << "ms";
      return err.str();
    }
  }
  return {};
}

TEST_P(ConformanceTime, TestAfterQueuing) {
  go_main([] {
    constexpr int kAttempts = 5;
    std::string err = "not run";
    for (int i = 0; i < kAttempts && !err.empty(); ++i) {
      const std::chrono::milliseconds delta(20 + i * 50);
      err = after_queuing(delta);
      if (!err.empty()) std::printf("attempt %d failed: %s\n", i, err.c_str());
    }
    EXPECT_EQ(err, "");
  });
}

}  // namespace
