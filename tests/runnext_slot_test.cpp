// runnext_slot_test.cpp: RunnextSlot, a worker's runnext protocol: swap
// hands back what was there in every mode, a thief takes only the
// coroutine it saw, and while the owner swaps (plainly, when the
// asymmetric fence is available) and thieves steal, no coroutine is lost
// or taken twice. LiveRegistry: what is added is visited, once, until
// removed.
#include "corun/sched/runnext_slot.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "corun/os/asymmetric_fence.hpp"
#include "corun/sched/live_registry.hpp"

namespace {

using corun::detail::Coroutine;
using corun::detail::LiveRegistry;
using corun::detail::RunnextSlot;

constexpr auto kNoWiden = [] {};

class RunnextSlotModes : public ::testing::TestWithParam<RunnextSlot::Mode> {
 protected:
  void SetUp() override {
    if (GetParam() == RunnextSlot::Mode::kFenced && !corun::detail::asymmetric_fence::available()) {
      GTEST_SKIP() << "no asymmetric fence here";
    }
    slot.set_mode(GetParam());
  }
  RunnextSlot slot;
};

TEST_P(RunnextSlotModes, SwapReturnsWhatWasThere) {
  Coroutine a, b;
  EXPECT_EQ(slot.peek(), nullptr);
  EXPECT_FALSE(slot.occupied());
  EXPECT_EQ(slot.swap(&a, kNoWiden), nullptr);
  EXPECT_TRUE(slot.occupied());
  EXPECT_EQ(slot.swap(&b, kNoWiden), &a);
  EXPECT_EQ(slot.peek(), &b);
  EXPECT_EQ(slot.swap(nullptr, kNoWiden), &b);
  EXPECT_FALSE(slot.occupied());
}

TEST_P(RunnextSlotModes, StealTakesOnlyTheCoroutineSeen) {
  if (GetParam() == RunnextSlot::Mode::kUnshared) GTEST_SKIP() << "no thieves with one worker";
  Coroutine a, b;
  slot.swap(&a, kNoWiden);
  EXPECT_EQ(slot.steal(&b), nullptr);  // replaced since the thief looked
  EXPECT_EQ(slot.peek(), &a);
  EXPECT_EQ(slot.steal(&a), &a);
  EXPECT_EQ(slot.peek(), nullptr);
  EXPECT_EQ(slot.steal(&a), nullptr);  // gone
}

// The owner puts each coroutine in the slot once and takes back what it
// finds there; thieves steal what they see. Every coroutine ends up taken
// exactly once, by the owner or by a thief.
TEST_P(RunnextSlotModes, NothingLostOrTakenTwiceUnderThieves) {
  if (GetParam() == RunnextSlot::Mode::kUnshared) GTEST_SKIP() << "no thieves with one worker";
  constexpr int kItems = 20000;
  constexpr int kThieves = 2;
  auto items = std::make_unique<Coroutine[]>(kItems);
  std::vector<std::uint8_t> taken_by_owner(kItems, 0);
  std::vector<std::vector<Coroutine*>> stolen(kThieves);
  std::atomic<bool> done{false};
  std::vector<std::thread> thieves;
  for (int t = 0; t < kThieves; ++t) {
    thieves.emplace_back([&, t] {
      while (!done.load(std::memory_order_acquire)) {
        if (Coroutine* g = slot.load_acquire()) {
          if (slot.steal(g) == g) stolen[t].push_back(g);
        }
      }
    });
  }
  for (int i = 0; i < kItems; ++i) {
    if (Coroutine* old = slot.swap(&items[i], kNoWiden)) ++taken_by_owner[old - items.get()];
  }
  if (Coroutine* old = slot.swap(nullptr, kNoWiden)) ++taken_by_owner[old - items.get()];
  done.store(true, std::memory_order_release);
  for (auto& t : thieves) t.join();
  std::vector<int> times(kItems, 0);
  for (int i = 0; i < kItems; ++i) times[i] += taken_by_owner[i];
  for (const auto& s : stolen) {
    for (Coroutine* g : s) ++times[g - items.get()];
  }
  int lost = 0, twice = 0;
  for (int n : times) {
    lost += n == 0;
    twice += n > 1;
  }
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(twice, 0);
}

INSTANTIATE_TEST_SUITE_P(Modes, RunnextSlotModes,
                         ::testing::Values(RunnextSlot::Mode::kUnshared, RunnextSlot::Mode::kFenced,
                                           RunnextSlot::Mode::kLocked),
                         [](const auto& info) {
                           switch (info.param) {
                             case RunnextSlot::Mode::kUnshared:
                               return "Unshared";
                             case RunnextSlot::Mode::kFenced:
                               return "Fenced";
                             case RunnextSlot::Mode::kLocked:
                               return "Locked";
                           }
                           return "Unknown";
                         });

TEST(LiveRegistry, VisitsWhatIsAddedUntilRemoved) {
  LiveRegistry registry;
  registry.init(3);
  Coroutine a, b, c;
  registry.add(&a, 0);
  registry.add(&b, 2);
  registry.add(&c, 2);
  EXPECT_TRUE(a.registered);
  auto visited = [&] {
    std::multiset<Coroutine*> seen;
    registry.visit([&](Coroutine* g) { seen.insert(g); });
    return seen;
  };
  EXPECT_EQ(visited(), (std::multiset<Coroutine*>{&a, &b, &c}));
  std::vector<Coroutine*> shard2;
  registry.visit_shard(2, [&](Coroutine* g) { shard2.push_back(g); });
  EXPECT_EQ(shard2.size(), 2u);
  registry.remove(&b);  // from the middle of its shard's list
  EXPECT_EQ(visited(), (std::multiset<Coroutine*>{&a, &c}));
  registry.remove(&a);
  registry.remove(&c);
  EXPECT_TRUE(visited().empty());
}

}  // namespace
