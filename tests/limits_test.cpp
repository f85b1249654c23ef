// limits_test.cpp: the runtime at its limits (issue #7): a quarter of a
// million parked coroutines, procs = Config::kMaxProcs, and running out of memory for
// stacks (a clear fatal error, exit 2, never a crash).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "corun/corun.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using corun::test::kSanitized;
using corun::test::scaled;
using corun::test::vm_size;
using corun::test::Watchdog;

// A quarter of a million coroutines parked at once (half in a channel
// receive, half in a WaitGroup wait, with the default stack size), then all
// released: 76 GiB of stacks reserved in about 80 slabs, far more
// stacks than vm.max_map_count would allow mappings. Go parks a million
// goroutines in ~2.7 GB; corun's stacks are reserved, not committed, so
// this costs about a page each. A million took this test 100 s to 200 s
// of a 2-core CI machine (a quarter: 5 s), so a million is left to
// `demo bench park -n 1000000` by hand (4.2 KiB each; 70 us each there,
// against 40 us at half a million). (Scaled down under the sanitizers;
// under TSan each live coroutine also needs a TSan fiber.)
TEST(Limits, QuarterMillionParkedCoroutinesAllReleased) {
  const long n = corun::test::kThreadSanitizer ? 2'000 : scaled(250'000, 50'000);
  Watchdog dog("250,000 parked coroutines were not all released", std::chrono::seconds(240));
  std::atomic<long> parked{0};
  std::atomic<long> released{0};
  std::atomic<long> closed_seen{0};
  auto gate = corun::make_channel<int>();
  corun::WaitGroup hold;
  hold.add(1);
  {
    corun::Runtime rt({.procs = 2});
    // Spawned from a coroutine (local run queues), as a Go program would.
    rt.go([&] {
      for (long i = 0; i < n; ++i) {
        if (i % 2 == 0) {
          corun::go([&, gate]() mutable {
            parked.fetch_add(1, std::memory_order_relaxed);
            if (!gate.recv()) closed_seen.fetch_add(1, std::memory_order_relaxed);
            released.fetch_add(1, std::memory_order_relaxed);
          });
        } else {
          corun::go([&] {
            parked.fetch_add(1, std::memory_order_relaxed);
            hold.wait();
            released.fetch_add(1, std::memory_order_relaxed);
          });
        }
      }
    });
    while (parked.load() < n) std::this_thread::sleep_for(1ms);
    // All have run up to their blocking call; let the last ones park.
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(released.load(), 0);
    EXPECT_EQ(rt.live(), static_cast<std::size_t>(n));
    gate.close();
    hold.done();
    rt.wait();
    EXPECT_EQ(rt.live(), 0u);
  }
  EXPECT_EQ(released.load(), n);
  EXPECT_EQ(closed_seen.load(), (n + 1) / 2);
}

// procs = 1024, the maximum: spawning, a token passed around a ring of
// coroutines through channels (they start spread over the workers), and
// joining all work.
TEST(Limits, MaxProcsSpawnPingPongJoin) {
  Watchdog dog("a runtime with 1024 procs hung", std::chrono::seconds(240));
  constexpr int kProcs = corun::Config::kMaxProcs;
  const int ring = 2 * kProcs;
  const int laps = static_cast<int>(scaled(20, 3));
  corun::Runtime rt({.procs = kProcs});
  ASSERT_EQ(rt.procs(), kProcs);

  std::vector<corun::Channel<long>> links;
  for (int i = 0; i < ring; ++i) links.push_back(corun::make_channel<long>());
  std::mutex mu;
  std::set<int> workers_seen;
  std::atomic<long> hops{0};
  corun::WaitGroup joined;
  joined.add(ring);
  for (int i = 0; i < ring; ++i) {
    rt.go([&, i, in = links[static_cast<std::size_t>(i)],
           out = links[static_cast<std::size_t>((i + 1) % ring)]]() mutable {
      // Where each starts: spawned from this plain thread into the global
      // queue, they are taken by workers woken one after another. (Once the
      // token runs, each hop is readied into its sender's runnext, so the
      // ring itself may well stay on one worker, as a Go ring does.)
      std::set<int> mine{corun::this_coroutine::worker()};
      for (int lap = 0; lap < laps; ++lap) {
        long token = *in.recv();
        hops.fetch_add(1, std::memory_order_relaxed);
        // The last hop of the last lap ends at coroutine 0's inbox, which
        // nobody reads any more: only pass it on while it is still wanted.
        if (!(lap == laps - 1 && i == ring - 1)) out.send(token + 1);
      }
      {
        std::lock_guard<std::mutex> lk(mu);
        workers_seen.insert(mine.begin(), mine.end());
      }
      joined.done();
    });
  }
  links[0].send(0);  // from this plain thread into the ring
  joined.wait();
  rt.wait();
  EXPECT_EQ(hops.load(), static_cast<long>(ring) * laps);
  EXPECT_GT(workers_seen.size(), 1u) << "2048 coroutines all started on one of 1024 workers";

  // Spawn and join a burst on the idle 1024 workers, twice (they park and
  // are woken again).
  for (int round = 0; round < 2; ++round) {
    std::atomic<int> ran{0};
    for (int i = 0; i < 4 * kProcs; ++i) {
      rt.go([&] {
        corun::this_coroutine::yield();
        ran.fetch_add(1);
      });
    }
    rt.wait();
    EXPECT_EQ(ran.load(), 4 * kProcs);
  }
}

// exhaust_stacks() caps the address space (RLIMIT_AS) at 1.5 GiB above
// what the process uses, then starts 100000 coroutines that all block, each
// needing its own 1 MiB stack (256 MiB per slab): far more than fits.
[[noreturn]] void exhaust_stacks() {
  corun::Runtime rt({.procs = 2, .stack_size = 1024 * 1024});
  const rlim_t cap = vm_size() + (rlim_t{3} << 29);
  const rlimit limit{cap, cap};
  if (setrlimit(RLIMIT_AS, &limit) != 0) {
    std::perror("setrlimit");
    std::_Exit(3);
  }
  corun::WaitGroup never;
  never.add(1);
  for (int i = 0; i < 100'000; ++i) rt.go([&never] { never.wait(); });
  std::this_thread::sleep_for(60s);  // a worker exits the process before this ends
  std::_Exit(4);
}

// Coroutines that need more stacks than the address space holds: the
// runtime reports it clearly and exits 2, instead of crashing on a failed
// mmap.
TEST(LimitsDeathTest, OutOfMemoryForStacksIsAClearFatalError) {
  if (kSanitized) {
    GTEST_SKIP() << "ASan/TSan reserve terabytes of shadow memory: RLIMIT_AS cannot be lowered";
  }
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      exhaust_stacks(), ::testing::ExitedWithCode(2),
      ::testing::AllOf(::testing::HasSubstr("fatal error: out of memory for coroutine stacks"),
                       ::testing::HasSubstr("limited by RLIMIT_AS (ulimit -v) to"),
                       ::testing::HasSubstr("Config::stack_size")));
}

// park_under_address_space_limit() parks 1,000 coroutines on stacks of
// 256 KiB under an address-space limit (RLIMIT_AS, `ulimit -v`) with room
// for them and 128 MiB to spare (the pool leaves 64 MiB of it to the rest
// of the program), but not for the slabs of stacks doubling up to them
// (64, 128, 256, 512 stacks, then 1,024: the fifth slab alone would need
// 260 MiB or more), then releases them all.
[[noreturn]] void park_under_address_space_limit() {
  constexpr int kCoroutines = 1000;
  constexpr std::size_t kStackSize = 256 * 1024;
  corun::Runtime rt({.procs = 2, .stack_size = kStackSize});
  // Each stack's address space: the stack and at most 64 KiB of guard.
  const rlim_t cap = vm_size() + kCoroutines * (kStackSize + 64 * 1024) + (rlim_t{128} << 20);
  const rlimit limit{cap, cap};
  if (setrlimit(RLIMIT_AS, &limit) != 0) {
    std::perror("setrlimit");
    std::_Exit(3);
  }
  corun::WaitGroup parked, release;
  parked.add(kCoroutines);
  release.add(1);
  for (int i = 0; i < kCoroutines; ++i) {
    rt.go([&] {
      parked.done();
      release.wait();
    });
  }
  parked.wait();
  release.done();
  rt.wait();
  std::fprintf(stderr, "%d coroutines parked and released\n", kCoroutines);
  std::exit(0);
}

// A slab of stacks that does not fit under the limit is retried smaller:
// the coroutines that fit all run (it used to be a fatal error after 960).
TEST(LimitsDeathTest, ThousandCoroutinesUnderAnAddressSpaceLimit) {
  if (kSanitized) {
    GTEST_SKIP() << "ASan/TSan reserve terabytes of shadow memory: RLIMIT_AS cannot be lowered";
  }
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(park_under_address_space_limit(), ::testing::ExitedWithCode(0),
              ::testing::HasSubstr("1000 coroutines parked and released"));
}

}  // namespace
