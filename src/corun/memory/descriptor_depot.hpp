// descriptor_depot.hpp: DescriptorDepot, the shared store of recycled
// coroutine descriptors behind the workers' private free lists (Go's
// sched.gFree behind each P's gFree). It holds whole chains: a worker that
// frees many descriptors hands one chain over, a worker that spawns many
// takes one chain back, each for one short lock hold, however long the
// chain. (Descriptors freed on one worker and reused on another is the
// common case: a spawner's children run wherever thieves take them.)
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>
#include <vector>

#include "corun/detail/spin_lock.hpp"
#include "corun/sched/coroutine.hpp"

namespace corun::detail {

class DescriptorDepot {
 public:
  DescriptorDepot() = default;
  DescriptorDepot(const DescriptorDepot&) = delete;
  DescriptorDepot& operator=(const DescriptorDepot&) = delete;
  ~DescriptorDepot() {
    for (auto [head, n] : chains_) delete_chain(head);
  }

  // put_chain() takes a chain of `n` descriptors linked through `next`.
  void put_chain(Coroutine* head, std::uint32_t n) {
    lock_.lock();
    chains_.emplace_back(head, n);
    nchains_.store(chains_.size(), std::memory_order_relaxed);
    lock_.unlock();
  }

  // take_chain() returns a whole chain and its length in `n`, or null.
  Coroutine* take_chain(std::uint32_t& n) noexcept {
    n = 0;
    if (empty()) return nullptr;
    lock_.lock();
    Coroutine* head = nullptr;
    if (!chains_.empty()) {
      std::tie(head, n) = chains_.back();
      chains_.pop_back();
      nchains_.store(chains_.size(), std::memory_order_relaxed);
    }
    lock_.unlock();
    return head;
  }

  // take_one() returns one descriptor, or null (for spawns from plain
  // threads, which have no free list of their own).
  Coroutine* take_one() noexcept {
    if (empty()) return nullptr;
    lock_.lock();
    Coroutine* g = nullptr;
    if (!chains_.empty()) {
      auto& [head, n] = chains_.back();
      g = std::exchange(head, head->next);
      if (--n == 0) chains_.pop_back();
      nchains_.store(chains_.size(), std::memory_order_relaxed);
    }
    lock_.unlock();
    return g;
  }

  bool empty() const noexcept { return nchains_.load(std::memory_order_relaxed) == 0; }

  static void delete_chain(Coroutine* g) noexcept {
    while (g != nullptr) delete std::exchange(g, g->next);
  }

 private:
  SpinLock lock_;
  std::vector<std::pair<Coroutine*, std::uint32_t>> chains_;  // guarded by lock_
  std::atomic<std::size_t> nchains_{0};                       // a hint, read unlocked
};

}  // namespace corun::detail
