// diag_dump_test.cpp: the coroutine dump (Runtime::coroutine_dump()) against
// coroutines whose waits are known: their ids, states, wait reasons, how
// long they waited, their backtraces (a function of this file, found by its
// frame pointers from the saved registers), the grouping of identical
// stacks, and its cost and size with 100,000 parked coroutines.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <initializer_list>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "corun/corun.hpp"
#include "test_support.hpp"

// Not inline, so that they have frames of their own in backtraces.
__attribute__((noinline)) void diag_test_wait_on_channel(corun::Channel<int> ch) {
  (void)ch.recv();
  asm volatile("");  // not a tail call: this frame stays on the stack
}
__attribute__((noinline)) void diag_test_sleep_long() {
  corun::this_coroutine::sleep_for(std::chrono::hours(1));
  asm volatile("");
}

namespace {

using namespace std::chrono_literals;
using corun::test::Watchdog;
using ::testing::HasSubstr;

// dump_when(): the dump, taken again until it contains every one of
// `texts` (the coroutines need a moment to reach their waits, and the live
// count, a sum read while the workers hand their shares of it back, may be
// off for that moment); fails after 20 s. A group line may carry its wait's
// length ("[sleep, 25 ms]"): a text stops before.
std::string dump_when(const corun::Runtime& rt, std::initializer_list<std::string> texts) {
  auto has_all = [&](const std::string& d) {
    for (const auto& t : texts) {
      if (d.find(t) == std::string::npos) return false;
    }
    return true;
  };
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  std::string dump = rt.coroutine_dump();
  while (!has_all(dump) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
    dump = rt.coroutine_dump();
  }
  for (const auto& t : texts) EXPECT_THAT(dump, HasSubstr(t));
  return dump;
}

// The ids listed on the line that starts with `head`, after its "]:" (the
// wait's length, when known, comes before it).
std::set<std::uint64_t> ids_after(const std::string& dump, const std::string& head) {
  std::set<std::uint64_t> ids;
  const auto found = dump.find(head);
  if (found == std::string::npos) return ids;
  const auto at = dump.find("]:", found) + 2;
  const auto end = dump.find('\n', at);
  std::istringstream line(dump.substr(at, end - at));
  for (std::uint64_t id; line >> id;) ids.insert(id);
  return ids;
}

class DiagDump : public corun::test::ProcsTest {};
CORUN_PROCS_TESTS(DiagDump);

TEST_P(DiagDump, ListsParkedCoroutinesWithReasonsBacktracesAndWaits) {
  Watchdog dog("DiagDump.ListsParkedCoroutinesWithReasonsBacktracesAndWaits");
  corun::Config config;
  config.procs = procs();
  corun::Runtime rt(config);
  auto ch = corun::make_channel<int>();
  std::set<std::uint64_t> receivers, sleepers;
  for (int i = 0; i < 5; ++i) receivers.insert(rt.go([ch] { diag_test_wait_on_channel(ch); }));
  for (int i = 0; i < 3; ++i) sleepers.insert(rt.go([] { diag_test_sleep_long(); }));

  const std::string dump =
      dump_when(rt, {"5 coroutines [chan receive", "3 coroutines [sleep",
                     "8 live coroutines; 8 that have blocked at least once are listed"});
  EXPECT_EQ(ids_after(dump, "5 coroutines [chan receive"), receivers);
  EXPECT_EQ(ids_after(dump, "3 coroutines [sleep"), sleepers);
#if defined(__x86_64__) || defined(__aarch64__)
  // Each group's backtrace names the function its coroutines wait in.
  const auto recv_group = dump.find("5 coroutines [chan receive");
  const auto sleep_group = dump.find("3 coroutines [sleep");
  const auto first = std::min(recv_group, sleep_group), second = std::max(recv_group, sleep_group);
  const std::string a = dump.substr(first, second - first), b = dump.substr(second);
  const std::string& recv_text = recv_group < sleep_group ? a : b;
  const std::string& sleep_text = recv_group < sleep_group ? b : a;
  EXPECT_THAT(recv_text, HasSubstr("diag_test_wait_on_channel"));
  EXPECT_THAT(sleep_text, HasSubstr("diag_test_sleep_long"));
  EXPECT_THAT(recv_text, ::testing::Not(HasSubstr("diag_test_sleep_long")));
#endif

  // A later dump that sees the same waits says how long, at least.
  std::this_thread::sleep_for(20ms);
  const std::string again = rt.coroutine_dump();
  EXPECT_THAT(again, HasSubstr("5 coroutines [chan receive, "));
  ch.close();
}

TEST(DiagDumpSelf, TheDumpingCoroutineShowsItsOwnStack) {
  Watchdog dog("DiagDumpSelf.TheDumpingCoroutineShowsItsOwnStack");
  corun::Runtime rt(corun::Config{.procs = 2});
  std::string dump;
  rt.go([&] {
    corun::this_coroutine::sleep_for(1ms);  // blocks once: the registry has it
    dump = rt.coroutine_dump();
  });
  rt.wait();
  EXPECT_THAT(dump, HasSubstr(" [running, dumping]:\n"));
#if defined(__x86_64__) || defined(__aarch64__)
  EXPECT_THAT(dump, HasSubstr("coroutine_dump"));
#endif
}

TEST(DiagDumpScale, HundredThousandParkedCoroutinesFormOneGroup) {
  const long n = corun::test::scaled(100'000, corun::test::kThreadSanitizer ? 2'000 : 100'000);
  Watchdog dog("DiagDumpScale.HundredThousandParkedCoroutinesFormOneGroup", 120s);
  corun::Config config;
  config.procs = 2;
  config.stack_size = corun::Config::kMinStackSize;
  corun::Runtime rt(config);
  auto ch = corun::make_channel<int>();
  corun::WaitGroup started;
  started.add(static_cast<int>(n));
  for (long i = 0; i < n; ++i) {
    rt.go([ch, &started] {
      started.done();
      diag_test_wait_on_channel(ch);
    });
  }
  started.wait();  // then each is on its way to its receive
  // (snprintf: GCC 12 at -O3 takes std::string + for an overflow, bug 105651)
  char buf[64];
  std::snprintf(buf, sizeof buf, "%ld coroutines [chan receive", n);
  (void)dump_when(rt, {buf});
  std::snprintf(buf, sizeof buf, "%ld coroutines [chan receive, ", n);
  const std::string head = buf;
  const auto t0 = std::chrono::steady_clock::now();
  const std::string dump = rt.coroutine_dump();
  const auto took = std::chrono::steady_clock::now() - t0;
  // One group, its first ten ids, one backtrace: a few dozen lines.
  const auto lines = std::count(dump.begin(), dump.end(), '\n');
  EXPECT_LT(lines, 60) << dump;
  EXPECT_EQ(ids_after(dump, "]:").size(), 10u);
  EXPECT_THAT(dump, HasSubstr(head));
  EXPECT_THAT(dump, HasSubstr(" ...\n"));
  std::printf(
      "dump of %ld parked coroutines: %lld ms, %zu bytes\n", n,
      static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()),
      dump.size());
  ch.close();
}

}  // namespace
