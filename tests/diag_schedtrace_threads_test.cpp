// diag_schedtrace_threads_test.cpp: scheddetail's M lines, one per OS
// thread that runs or ran a worker, the spare thread of a blocking() hand-off
// included, parsed against Go's format.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "corun/corun.hpp"
#include "corun/diag/schedtrace.hpp"
#include "corun/sched/scheduler.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using corun::test::Watchdog;
using ::testing::HasSubstr;

// Go's runtime/proc.go schedtrace(), detailed=true, per M:
//   M0: p=0 curg=1 mallocing=0 throwing=0 preemptoff= locks=0 dying=0
//   spinning=false blocked=false lockedg=-1
// Ours keeps the fields that mean the same: p, curg, spinning, blocked.
struct MLine {
  int m = -1, p = -2;
  long long curg = -2;
  std::string spinning, blocked;
};

bool parse_m_line(const std::string& lines, int m, MLine& out) {
  const std::string head = "\n  M" + std::to_string(m) + ": ";
  const auto at = lines.find(head);
  if (at == std::string::npos) return false;
  const std::string line = lines.substr(at + 3, lines.find('\n', at + 1) - at - 3);
  char spinning[8] = {}, blocked[8] = {};
  int consumed = 0;
  if (std::sscanf(line.c_str(), "M%d: p=%d curg=%lld spinning=%7[a-z] blocked=%7[a-z]%n", &out.m,
                  &out.p, &out.curg, spinning, blocked, &consumed) != 5 ||
      static_cast<std::size_t>(consumed) != line.size()) {
    return false;
  }
  out.spinning = spinning;
  out.blocked = blocked;
  return (out.spinning == "true" || out.spinning == "false") &&
         (out.blocked == "true" || out.blocked == "false");
}

TEST(DiagSchedtraceThreads, AnMLinePerThreadTheSpareOfAHandOffIncluded) {
  Watchdog dog("DiagSchedtraceThreads.AnMLinePerThreadTheSpareOfAHandOffIncluded");
  corun::Runtime rt(corun::Config{.procs = 1});
  std::atomic<bool> release{false}, in_call{false};
  rt.go([&] {
    corun::blocking([&] {
      in_call.store(true);
      while (!release.load()) std::this_thread::sleep_for(1ms);
    });
  });
  std::string lines;
  std::uint64_t ticker = 0;
  ticker = rt.go([&] {
    // Beside the call, with a timer set, the worker is handed to a spare
    // thread (M1), on which this coroutine then runs.
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      corun::this_coroutine::sleep_for(5ms);
      if (!in_call.load()) continue;
      lines = corun::detail::schedtrace_lines(*corun::detail::current_scheduler(), 0, true);
      if (lines.find("\n  M1: p=0 ") != std::string::npos) break;
    }
    release.store(true);
  });
  rt.wait();
  MLine m0, m1;
  ASSERT_TRUE(parse_m_line(lines, 0, m0)) << lines;
  ASSERT_TRUE(parse_m_line(lines, 1, m1)) << lines;
  // M0, the worker's own thread, is in the blocking call without it.
  EXPECT_EQ(m0.p, -1) << lines;
  EXPECT_EQ(m0.curg, -1) << lines;
  EXPECT_EQ(m0.blocked, "false") << lines;
  // M1 runs the worker, and on it the coroutine that wrote the lines.
  EXPECT_EQ(m1.p, 0) << lines;
  EXPECT_EQ(m1.curg, static_cast<long long>(ticker)) << lines;
  EXPECT_EQ(m1.spinning, "false") << lines;
  EXPECT_EQ(m1.blocked, "false") << lines;
  EXPECT_THAT(lines, HasSubstr("\n  P0: status=1 ")) << lines;
  EXPECT_THAT(lines, HasSubstr(" m=1 ")) << lines;  // P0's thread
  // M lines come after the P lines, before the G lines (Go's order).
  EXPECT_LT(lines.find("\n  P0:"), lines.find("\n  M0:")) << lines;
}

}  // namespace
