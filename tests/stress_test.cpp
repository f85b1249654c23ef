// stress_test.cpp: randomized stress of the whole runtime (issue #7), ctest
// label `stress` (`ctest -L stress`).
//
// Each round builds a random program from a seed: producers, consumers, a
// closer and helpers that spawn, yield, sleep, send/recv/select/close on up
// to four channels of random capacities (0..4, some nil), and share a
// corun::Mutex and WaitGroups, on a Runtime of 1..8 procs picked by the
// seed. Afterwards, conservation is checked: every value sent was received
// exactly once (a per-value bitmap, the count and the sum), every spawned
// coroutine that started finished exactly once and every closure was
// destroyed, the Mutex-protected counter equals the critical sections run
// and no two ever overlapped, and nothing deadlocked (the runtime's detector
// exits 2 with a report; a Watchdog names the round if anything hangs).
//
// Environment:
//   CORUN_STRESS_SEED=<n>   the base seed (default: from the clock); round r
//                           uses seed n + r. Printed on stderr when a test
//                           starts, and on failure (SCOPED_TRACE).
//   CORUN_STRESS_ITERS=<n>  rounds per test. The default is short, for CI
//                           (well under a few seconds per test and build).
//
// A long run by hand (a few minutes in Release):
//   CORUN_STRESS_ITERS=3000 build/release/corun_tests --gtest_filter='Stress*'
// To reproduce a failed round, rerun its test with the printed seed and one
// round; the program is the same, the interleaving is the scheduler's, so
// repeat it:
//   CORUN_STRESS_SEED=<seed> CORUN_STRESS_ITERS=1 build/release/corun_tests
//       --gtest_filter=StressMix.Rounds --gtest_repeat=200
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "corun/corun.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using corun::Channel;
using corun::test::scaled;
using corun::test::Watchdog;

// ---------------------------------------------------------------------------
// Seeds and randomness

std::uint64_t mix_seed(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Rng is small and cheap to copy into a coroutine.
struct Rng {
  std::uint64_t s;
  explicit Rng(std::uint64_t seed) : s(mix_seed(seed) | 1) {}
  std::uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  // below(n) is in 0..n-1.
  int below(int n) { return static_cast<int>(next() % static_cast<std::uint64_t>(n)); }
  bool one_in(int n) { return below(n) == 0; }
};

std::uint64_t env_u64(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::strtoull(v, nullptr, 10);
}

std::uint64_t base_seed() {
  const auto clock = static_cast<std::uint64_t>(
      std::chrono::high_resolution_clock::now().time_since_epoch().count());
  return env_u64("CORUN_STRESS_SEED", clock % 1'000'000'000ULL);
}

// iterations() is CORUN_STRESS_ITERS, else `fallback` (scaled down under a
// sanitizer by the caller).
int iterations(long fallback) {
  return static_cast<int>(env_u64("CORUN_STRESS_ITERS", static_cast<std::uint64_t>(fallback)));
}

// announce() prints the seed where a crash (which skips SCOPED_TRACE) still
// shows it.
void announce(const char* test, std::uint64_t seed, int iters) {
  std::fprintf(stderr, "[stress] %s: CORUN_STRESS_SEED=%llu CORUN_STRESS_ITERS=%d\n", test,
               static_cast<unsigned long long>(seed), iters);
}

// ---------------------------------------------------------------------------
// The random program

constexpr int kChans = 4;

enum class Ending {
  kWait,     // the main thread waits for everything (Runtime::wait)
  kDestroy,  // the runtime is destroyed mid-flight: everything is cancelled
};

struct RoundShape {
  int procs = 1;
  int producers = 1;
  int consumers = 1;
  int per_producer = 1;
  std::array<int, kChans> capacity{};  // -1: nil channel
  long stack_size = 64 * 1024;
};

RoundShape random_shape(std::uint64_t seed) {
  Rng r(seed);
  RoundShape s;
  s.procs = 1 + r.below(8);
  s.producers = 1 + r.below(6);
  s.consumers = 1 + r.below(5);
  s.per_producer = 1 + r.below(static_cast<int>(scaled(300, 100)));
  int live = 0;
  for (int& c : s.capacity) {
    c = r.one_in(5) ? -1 : r.below(5);
    live += c >= 0;
  }
  if (live == 0) s.capacity[static_cast<std::size_t>(r.below(kChans))] = r.below(5);
  // Sanitizers need more stack per frame.
  s.stack_size = r.one_in(2) ? scaled(32, 128) * 1024 : scaled(128, 256) * 1024;
  return s;
}

std::string describe(std::uint64_t seed, const RoundShape& s) {
  // An ostringstream: GCC 12 at -O3 warns (-Wrestrict) about chains of
  // std::string operator+.
  std::ostringstream out;
  out << "round seed " << seed << ": procs " << s.procs << ", " << s.producers << " producers x "
      << s.per_producer << " values, " << s.consumers << " consumers, capacities";
  for (int c : s.capacity) out << ' ' << c;
  out << " (-1 nil), stack " << s.stack_size / 1024 << " KiB";
  return out.str();
}

// Round is the shared state of one round. It outlives the runtime.
struct Round {
  explicit Round(const RoundShape& shape)
      : shape(shape),
        total(shape.producers * shape.per_producer),
        sent(static_cast<std::size_t>(total)),
        received(static_cast<std::size_t>(total)),
        // At most: producers, consumers, closer, waiters, and one helper per
        // value.
        max_coroutines(total + shape.producers + shape.consumers + 8),
        started(static_cast<std::size_t>(max_coroutines)),
        finished(static_cast<std::size_t>(max_coroutines)) {
    for (std::size_t i = 0; i < kChans; ++i) {
      if (shape.capacity[i] >= 0) {
        chans[i] = Channel<int>(static_cast<std::size_t>(shape.capacity[i]));
        live_chans.push_back(static_cast<int>(i));
      }
    }
  }

  RoundShape shape;
  int total;
  std::array<Channel<int>, kChans> chans;
  std::vector<int> live_chans;  // indices of the non-nil channels

  std::vector<std::atomic<std::uint8_t>> sent;      // set once a send succeeded
  std::vector<std::atomic<std::uint8_t>> received;  // one per value received
  std::atomic<long long> received_count{0};
  std::atomic<long long> received_sum{0};

  int max_coroutines;
  std::atomic<int> next_id{0};
  std::vector<std::atomic<std::uint8_t>> started;
  std::vector<std::atomic<std::uint8_t>> finished;
  std::atomic<int> overflow{0};  // more coroutines than max_coroutines (a test bug)

  corun::Mutex mu;
  long guarded = 0;  // guarded by mu
  std::atomic<long> sections{0};
  std::atomic<bool> in_section{false};
  std::atomic<int> overlaps{0};

  corun::WaitGroup senders;        // producers and their helpers
  std::atomic<int> unexpected{0};  // exceptions other than Cancelled

  int any_live(Rng& r) const {
    return live_chans[static_cast<std::size_t>(r.below(static_cast<int>(live_chans.size())))];
  }

  void record(int v) {
    if (v < 0 || v >= total) {
      unexpected.fetch_add(1);
      return;
    }
    received[static_cast<std::size_t>(v)].fetch_add(1);
    received_count.fetch_add(1);
    received_sum.fetch_add(v);
  }
};

// Life marks a coroutine's start and (by its destructor, so also when
// cancelled) its end, in the round's bitmaps.
class Life {
 public:
  explicit Life(Round& r) : r_(r), id_(r.next_id.fetch_add(1)) {
    if (id_ >= r_.max_coroutines) {
      r_.overflow.fetch_add(1);
      return;
    }
    r_.started[static_cast<std::size_t>(id_)].fetch_add(1);
  }
  ~Life() {
    if (id_ < r_.max_coroutines) r_.finished[static_cast<std::size_t>(id_)].fetch_add(1);
  }
  Life(const Life&) = delete;
  Life& operator=(const Life&) = delete;

 private:
  Round& r_;
  int id_;
};

// Done calls wg.done() however the coroutine ends.
struct Done {
  corun::WaitGroup& wg;
  ~Done() { wg.done(); }
};

// critical_section() takes the Mutex, checks exclusion, and sometimes
// yields or sleeps while holding it (so waiters park).
void critical_section(Round& r, Rng& rng) {
  std::lock_guard<corun::Mutex> lk(r.mu);
  if (r.in_section.exchange(true)) r.overlaps.fetch_add(1);
  struct Leave {
    Round& r;
    ~Leave() { r.in_section.store(false); }
  } leave{r};
  ++r.guarded;
  r.sections.fetch_add(1);
  if (rng.one_in(8)) corun::this_coroutine::yield();
  if (rng.one_in(64)) corun::this_coroutine::sleep_for(20us);
}

// extras() is random noise between operations.
void extras(Round& r, Rng& rng) {
  switch (rng.below(16)) {
    case 0:
    case 1:
      corun::this_coroutine::yield();
      break;
    case 2:
      corun::this_coroutine::sleep_for(std::chrono::microseconds(rng.below(100)));
      break;
    case 3:
      critical_section(r, rng);
      break;
    default:
      break;
  }
}

// send_value() sends v on a random channel, by a random kind of operation.
void send_value(Round& r, Rng& rng, int v) {
  auto mark = [&r, v] { r.sent[static_cast<std::size_t>(v)].fetch_add(1); };
  Channel<int>& ch = r.chans[static_cast<std::size_t>(r.any_live(rng))];
  switch (rng.below(6)) {
    case 0:
      ch.send(v);
      mark();
      break;
    case 1: {
      Channel<int>& other = r.chans[static_cast<std::size_t>(r.any_live(rng))];
      corun::select(corun::send(ch, v, mark), corun::send(other, v, mark));
      break;
    }
    case 2:
      while (ch.try_send(v) != corun::ChanStatus::kOk) corun::this_coroutine::yield();
      mark();
      break;
    case 3: {
      // A zero timeout does not park: yield then, or procs = 1 spins (a
      // select that does not block is no preemption point).
      const auto wait = std::chrono::microseconds(rng.below(50));
      while (corun::select(corun::send(ch, v, mark), corun::timeout(wait)) != 0) {
        if (wait.count() == 0) corun::this_coroutine::yield();
      }
      break;
    }
    case 4:
      while (corun::select(corun::send(ch, v, mark), corun::otherwise()) != 0) {
        corun::this_coroutine::yield();
      }
      break;
    default:  // every channel at once; nil ones never fire
      corun::select(corun::send(r.chans[0], v, mark), corun::send(r.chans[1], v, mark),
                    corun::send(r.chans[2], v, mark), corun::send(r.chans[3], v, mark));
      break;
  }
}

// guarded_body() runs `body` counting any exception but Cancelled.
template <class F>
void guarded_body(Round& r, F&& body) {
  try {
    body();
  } catch (const corun::Cancelled&) {
    throw;
  } catch (...) {
    r.unexpected.fetch_add(1);
  }
}

void producer(Round& r, std::uint64_t seed, int first, int count) {
  Life life(r);
  Done done{r.senders};
  Rng rng(seed);
  guarded_body(r, [&] {
    for (int v = first; v < first + count; ++v) {
      if (rng.one_in(10)) {
        // A helper sends this one.
        r.senders.add(1);
        corun::go([&r, hseed = rng.next(), v] {
          Life life(r);
          Done done{r.senders};
          Rng hrng(hseed);
          guarded_body(r, [&] {
            extras(r, hrng);
            send_value(r, hrng, v);
          });
        });
      } else {
        send_value(r, rng, v);
      }
      extras(r, rng);
    }
  });
}

// consumer() receives until every channel is closed and drained. The
// first consumer only ever selects over all channels (so every blocked
// sender is eventually served); the others also wait on one channel.
void consumer(Round& r, std::uint64_t seed, bool universal) {
  Life life(r);
  Rng rng(seed);
  std::array<Channel<int>, kChans> mine = r.chans;
  int open = static_cast<int>(r.live_chans.size());
  auto on = [&](std::size_t i) {
    return [&, i](std::optional<int> v) {
      if (v) {
        r.record(*v);
      } else if (mine[i]) {
        mine[i] = Channel<int>{};
        --open;
      }
    };
  };
  auto any_open = [&]() -> std::size_t {
    for (;;) {
      auto i = static_cast<std::size_t>(rng.below(kChans));
      if (mine[i]) return i;
    }
  };
  guarded_body(r, [&] {
    while (open > 0) {
      const int op = rng.below(universal ? 3 : 5);
      switch (op) {
        case 0:
          corun::select(corun::recv(mine[0], on(0)), corun::recv(mine[1], on(1)),
                        corun::recv(mine[2], on(2)), corun::recv(mine[3], on(3)));
          break;
        case 1:
          corun::select(corun::recv(mine[0], on(0)), corun::recv(mine[1], on(1)),
                        corun::recv(mine[2], on(2)), corun::recv(mine[3], on(3)),
                        corun::timeout(std::chrono::microseconds(rng.below(200))));
          break;
        case 2:
          if (corun::select(corun::recv(mine[0], on(0)), corun::recv(mine[1], on(1)),
                            corun::recv(mine[2], on(2)), corun::recv(mine[3], on(3)),
                            corun::otherwise()) == 4) {
            corun::this_coroutine::yield();
          }
          break;
        case 3: {
          const std::size_t i = any_open();
          auto got = mine[i].try_recv();
          if (got.ok()) {
            r.record(*got);
          } else if (got.closed()) {
            on(i)(std::nullopt);
          } else {
            corun::this_coroutine::yield();
          }
          break;
        }
        default: {
          const std::size_t i = any_open();
          on(i)(mine[i].recv());
          break;
        }
      }
      extras(r, rng);
    }
  });
}

// closer() closes every channel once all senders are done.
void closer(Round& r) {
  Life life(r);
  guarded_body(r, [&] {
    r.senders.wait();
    for (int i : r.live_chans) r.chans[static_cast<std::size_t>(i)].close();
  });
}

// Tracker is captured by every closure: its use count proves that each
// closure was destroyed (run or dropped).
struct Tracker {};

// run_round() runs one random round and checks conservation.
void run_round(std::uint64_t seed, Ending ending, bool chaos) {
  const RoundShape shape = random_shape(seed);
  const std::string what = describe(seed, shape);
  SCOPED_TRACE(what);
  Watchdog dog(what + (chaos ? " (CORUN_CHAOS)" : ""), std::chrono::seconds(120));
  Round r(shape);
  auto tracker = std::make_shared<Tracker>();
  Rng rng(seed ^ 0xC0FFEE);
  {
    if (chaos) setenv("CORUN_CHAOS", std::to_string(seed).c_str(), 1);
    std::optional<corun::Runtime> rt(
        std::in_place, corun::Config{.procs = shape.procs,
                                     .stack_size = static_cast<std::size_t>(shape.stack_size)});
    if (chaos) unsetenv("CORUN_CHAOS");
    r.senders.add(shape.producers);
    for (int p = 0; p < shape.producers; ++p) {
      rt->go([&r, tracker, s = rng.next(), first = p * shape.per_producer, n = shape.per_producer] {
        producer(r, s, first, n);
      });
    }
    for (int c = 0; c < shape.consumers; ++c) {
      rt->go([&r, tracker, s = rng.next(), universal = c == 0] { consumer(r, s, universal); });
    }
    rt->go([&r, tracker] { closer(r); });
    // Extra waiters on the senders' WaitGroup, from a coroutine and a thread.
    rt->go([&r, tracker] {
      Life life(r);
      r.senders.wait();
    });
    if (ending == Ending::kWait) {
      std::thread plain([&r] { r.senders.wait(); });
      rt->wait();
      plain.join();
      EXPECT_EQ(rt->live(), 0u);
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(rng.below(3000)));
      rt.reset();  // cancels everything still alive
    }
  }
  EXPECT_EQ(tracker.use_count(), 1) << "a closure was not destroyed";
  EXPECT_EQ(r.unexpected.load(), 0) << "exceptions other than corun::Cancelled";
  EXPECT_EQ(r.overflow.load(), 0);
  EXPECT_EQ(r.overlaps.load(), 0) << "two coroutines held the Mutex at once";
  EXPECT_EQ(r.guarded, r.sections.load());
  EXPECT_TRUE(r.mu.try_lock()) << "the Mutex is still held";
  r.mu.unlock();

  // Coroutines: each one started finished exactly once.
  const int spawned = std::min(r.next_id.load(), r.max_coroutines);
  int bad_life = 0;
  for (int i = 0; i < spawned; ++i) {
    const auto s = r.started[static_cast<std::size_t>(i)].load();
    const auto f = r.finished[static_cast<std::size_t>(i)].load();
    if (s != 1 || f != 1) ++bad_life;
  }
  EXPECT_EQ(bad_life, 0) << "coroutines that did not start and finish exactly once";

  // Values.
  if (ending == Ending::kDestroy) {
    // What was sent and not received is still buffered: drain it here.
    for (auto& ch : r.chans) {
      while (ch) {
        auto v = ch.try_recv();
        if (!v.ok()) break;
        r.record(*v);
      }
    }
  }
  int lost = 0, duplicated = 0, phantom = 0, unsent = 0;
  long long expected_sum = 0, expected_count = 0;
  for (int v = 0; v < r.total; ++v) {
    const auto s = r.sent[static_cast<std::size_t>(v)].load();
    const auto got = r.received[static_cast<std::size_t>(v)].load();
    if (s > 1) ++duplicated;
    if (got > 1) ++duplicated;
    if (s == 1 && got == 0) ++lost;
    if (s == 0 && got > 0) ++phantom;
    if (s == 0) ++unsent;
    if (s == 1) {
      expected_sum += v;
      ++expected_count;
    }
  }
  EXPECT_EQ(lost, 0) << "values sent and never received";
  EXPECT_EQ(duplicated, 0) << "values sent or received twice";
  EXPECT_EQ(phantom, 0) << "values received that were never (successfully) sent";
  EXPECT_EQ(r.received_count.load(), expected_count);
  EXPECT_EQ(r.received_sum.load(), expected_sum);
  if (ending == Ending::kWait) {
    EXPECT_EQ(unsent, 0) << "a send did not complete";
    EXPECT_EQ(expected_count, r.total);
    EXPECT_EQ(r.senders.count(), 0);
  }
}

void run_rounds(const char* test, long default_iters, Ending ending, bool chaos) {
  const std::uint64_t seed = base_seed();
  const int iters = iterations(default_iters);
  announce(test, seed, iters);
  SCOPED_TRACE("CORUN_STRESS_SEED=" + std::to_string(seed) +
               " CORUN_STRESS_ITERS=" + std::to_string(iters));
  for (int i = 0; i < iters; ++i) {
    run_round(seed + static_cast<std::uint64_t>(i), ending, chaos);
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << "stopped at round " << i
                    << ": rerun it with CORUN_STRESS_SEED=" << seed + static_cast<std::uint64_t>(i)
                    << " CORUN_STRESS_ITERS=1";
      return;
    }
  }
}

// Random programs run to their end: conservation of values, coroutines,
// critical sections.
TEST(StressMix, Rounds) { run_rounds("StressMix.Rounds", scaled(40, 12), Ending::kWait, false); }

// The same, with CORUN_CHAOS: random delays in the windows where wakers
// race, and random placement of woken coroutines.
TEST(StressMix, RoundsUnderChaos) {
  run_rounds("StressMix.RoundsUnderChaos", scaled(25, 8), Ending::kWait, true);
}

// The runtime is destroyed mid-round: every coroutine is cancelled or
// dropped, and still nothing is lost or duplicated (a cancelled send sends
// nothing; what was sent is received or still buffered).
TEST(StressMix, DestroyedMidRound) {
  run_rounds("StressMix.DestroyedMidRound", scaled(40, 12), Ending::kDestroy, false);
}

// The same under CORUN_CHAOS.
TEST(StressMix, DestroyedMidRoundUnderChaos) {
  run_rounds("StressMix.DestroyedMidRoundUnderChaos", scaled(25, 8), Ending::kDestroy, true);
}

// ---------------------------------------------------------------------------
// A random spawn tree: each node spawns 0..4 children, joins them with a
// WaitGroup, and sends its subtree's sum to its parent on a channel.

struct TreeStats {
  std::atomic<long> nodes{0};
  std::atomic<long> budget{0};
};

long tree_node(TreeStats& st, std::uint64_t seed, int depth) {
  st.nodes.fetch_add(1);
  Rng rng(seed);
  const int kids = depth >= 6 || st.budget.fetch_sub(1) <= 0 ? 0 : rng.below(5);
  if (kids == 0) return 1;
  auto results = corun::make_channel<long>(static_cast<std::size_t>(rng.below(kids + 1)));
  corun::WaitGroup wg;
  wg.add(kids);
  for (int k = 0; k < kids; ++k) {
    corun::go([&st, &wg, results, s = rng.next(), depth]() mutable {
      Done done{wg};
      if (Rng(s).one_in(4)) corun::this_coroutine::yield();
      results.send(tree_node(st, s, depth + 1));
    });
  }
  long sum = 1;
  for (int k = 0; k < kids; ++k) sum += *results.recv();
  wg.wait();
  return sum;
}

TEST(StressSpawnTree, SubtreeSumsAddUp) {
  const std::uint64_t seed = base_seed();
  const int iters = iterations(scaled(30, 10));
  announce("StressSpawnTree.SubtreeSumsAddUp", seed, iters);
  for (int i = 0; i < iters; ++i) {
    const std::uint64_t s = seed + static_cast<std::uint64_t>(i);
    Rng rng(s);
    const int procs = 1 + rng.below(8);
    SCOPED_TRACE("round seed " + std::to_string(s) + ", procs " + std::to_string(procs));
    Watchdog dog("spawn tree, round seed " + std::to_string(s));
    TreeStats st;
    st.budget = scaled(2000, 400);
    long total = 0;
    corun::run({.procs = procs}, [&] { total = tree_node(st, rng.next(), 0); });
    ASSERT_EQ(total, st.nodes.load())
        << "rerun with CORUN_STRESS_SEED=" << s << " CORUN_STRESS_ITERS=1";
  }
}

// ---------------------------------------------------------------------------
// Shutdown while coroutines park for the first time: the sweep cancels the
// coroutines parked on a channel (taking the channel's lock) while running
// ones start waiting on it (registering as parked while holding that lock).
// The two must not wait for each other: a lock-order inversion there hung
// runtime destruction about once in 500 rounds of this.

TEST(StressShutdown, FirstParksRaceTheSweep) {
  const std::uint64_t seed = base_seed();
  const int iters = iterations(scaled(20, 5));
  announce("StressShutdown.FirstParksRaceTheSweep", seed, iters);
  constexpr int kProcs = 4;
  constexpr int kParked = 400;
  for (int round = 0; round < iters; ++round) {
    // Per round (~1.4 s under TSan here): a long run is not mistaken for a
    // hang, and a hang names its round.
    Watchdog dog("runtime destruction hung while coroutines parked for the first time (round " +
                     std::to_string(round) + ")",
                 std::chrono::seconds(60));
    auto ch = corun::make_channel<int>();
    std::atomic<int> parked{0};
    std::atomic<int> spinning{0};
    std::atomic<bool> go{false};
    std::optional<corun::Runtime> rt(std::in_place, corun::Config{.procs = kProcs});
    for (int i = 0; i < kParked; ++i) {
      rt->go([ch, &parked]() mutable {
        parked.fetch_add(1);
        (void)ch.recv();
      });
    }
    while (parked.load() < kParked) std::this_thread::yield();
    std::this_thread::sleep_for(1ms);  // let the last ones park
    // One coroutine per worker, running until the sweep starts, then
    // parking for the first time on the same channel.
    for (int i = 0; i < kProcs; ++i) {
      rt->go([ch, &go, &spinning]() mutable {
        spinning.fetch_add(1);
        while (!go.load()) {
        }
        (void)ch.recv();
      });
    }
    while (spinning.load() < kProcs) std::this_thread::yield();
    go.store(true);
    rt.reset();
  }
}

}  // namespace
