// diag_running_stack_test.cpp: the coroutine dump shows the backtrace of a
// coroutine running on another worker (its thread is asked with a signal,
// running_stacks.hpp), under the right coroutine's id even when the workers
// switch coroutines all the time.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "corun/corun.hpp"
#include "test_support.hpp"

// Not inline, so that they have frames of their own in backtraces. Under
// ThreadSanitizer a signal is handled at the thread's next intercepted call
// (or at once inside a blocking one): the spinning loop makes one.
__attribute__((noinline)) void diag_test_spin_until(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) {
    if (corun::test::kThreadSanitizer) usleep(100);
  }
  asm volatile("");
}
__attribute__((noinline)) void diag_test_yield_a(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) corun::this_coroutine::yield();
  asm volatile("");
}
__attribute__((noinline)) void diag_test_yield_b(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) corun::this_coroutine::yield();
  asm volatile("");
}

namespace {

using namespace std::chrono_literals;
using corun::test::Watchdog;
using ::testing::HasSubstr;

// A dump's groups: each header line's ids and state, and the text up to
// the next header.
struct DumpGroup {
  std::set<std::uint64_t> ids;
  std::string state;
  std::string text;
};

std::vector<DumpGroup> groups_of(const std::string& dump) {
  std::vector<DumpGroup> out;
  std::istringstream in(dump);
  for (std::string line; std::getline(in, line);) {
    std::uint64_t id = 0;
    std::size_t count = 0;
    char state[64] = {};
    if (std::sscanf(line.c_str(), "coroutine %lu [%63[^]]]:", &id, state) == 2) {
      out.push_back(DumpGroup{{id}, state, ""});
    } else if (std::sscanf(line.c_str(), "%zu coroutines [%63[^]]]:", &count, state) == 2) {
      DumpGroup g{{}, state, ""};
      std::istringstream ids(line.substr(line.find("]:") + 2));
      for (std::uint64_t i; ids >> i;) g.ids.insert(i);
      out.push_back(g);
    } else if (!out.empty()) {
      out.back().text += line + "\n";
    }
  }
  return out;
}

TEST(DiagDumpRunning, ShowsTheBacktraceOfACoroutineRunningOnAnotherWorker) {
  Watchdog dog("DiagDumpRunning.ShowsTheBacktraceOfACoroutineRunningOnAnotherWorker");
  corun::Runtime rt(corun::Config{.procs = 2});
  std::atomic<bool> stop{false}, spinning{false};
  const auto id = rt.go([&] {
    spinning.store(true);
    diag_test_spin_until(stop);
  });
  while (!spinning.load()) std::this_thread::sleep_for(1ms);
  // Asked from a plain thread: the spinner's worker is interrupted, and
  // answers with the frames of the function it spins in.
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  std::string dump, found;
  while (found.empty() && std::chrono::steady_clock::now() < deadline) {
    dump = rt.coroutine_dump();
    for (const DumpGroup& g : groups_of(dump)) {
      if (g.state == "running" && g.ids.count(id) == 1 &&
          g.text.find("diag_test_spin_until") != std::string::npos) {
        found = g.text;
      }
    }
  }
  stop.store(true);
  rt.wait();
#if defined(__x86_64__) || defined(__aarch64__)
  EXPECT_FALSE(found.empty()) << dump;
  EXPECT_THAT(dump, HasSubstr("and 1 running")) << dump;      // it never blocked
  EXPECT_THAT(found, HasSubstr("coroutine_entry")) << found;  // the whole stack, to its start
#endif
}

TEST(DiagDumpRunning, EachRunningStackIsShownUnderItsOwnCoroutine) {
  Watchdog dog("DiagDumpRunning.EachRunningStackIsShownUnderItsOwnCoroutine");
  corun::Runtime rt(corun::Config{.procs = 2});
  std::atomic<bool> stop{false};
  std::set<std::uint64_t> as, bs;
  for (int i = 0; i < 3; ++i) {
    as.insert(rt.go([&] { diag_test_yield_a(stop); }));
    bs.insert(rt.go([&] { diag_test_yield_b(stop); }));
  }
  // The workers switch between them all the time: a sample belongs to
  // whichever ran when its worker was interrupted, and must say which. Ten
  // samples shown (the first dumps may come before the workers run them).
  int shown = 0;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (shown < 10 && std::chrono::steady_clock::now() < deadline) {
    const std::string dump = rt.coroutine_dump();
    for (const DumpGroup& g : groups_of(dump)) {
      if (g.state != "running") continue;
      const bool a = g.text.find("diag_test_yield_a") != std::string::npos;
      const bool b = g.text.find("diag_test_yield_b") != std::string::npos;
      for (std::uint64_t id : g.ids) {
        if (a) {
          EXPECT_EQ(as.count(id), 1u) << "coroutine " << id << " shown in A's function\n" << dump;
        }
        if (b) {
          EXPECT_EQ(bs.count(id), 1u) << "coroutine " << id << " shown in B's function\n" << dump;
        }
      }
      shown += a || b ? 1 : 0;
    }
  }
  stop.store(true);
  rt.wait();
#if defined(__x86_64__) || defined(__aarch64__)
  EXPECT_GE(shown, 10);
#endif
}

}  // namespace
