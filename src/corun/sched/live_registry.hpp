// live_registry.hpp: LiveRegistry, the runtime's list of coroutines that
// have parked at least once: what shutdown cancels and a deadlock report
// lists. Coroutines that never block never touch it.
//
// One shard per worker (a coroutine registers in the shard of the worker it
// first parks on, and unregisters from the same shard when it exits, from
// whichever worker) plus one spare, each a doubly linked list through the
// coroutines' live_prev/live_next, guarded by the shard's lock. A
// coroutine's live_shard, live_prev, live_next and `registered` belong to
// the registry: live_prev/live_next under the shard's lock, the other two
// written by the coroutine's own worker before it enters the list.
//
// Lock order: a coroutine parking for the first time registers while it
// holds its wait's lock, so the shard lock nests inside every wait-queue
// lock: nothing that takes a wait's lock (a cancel hook) may run under a
// shard lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "corun/detail/spin_lock.hpp"
#include "corun/sched/coroutine.hpp"

namespace corun::detail {

class LiveRegistry {
 public:
  // init() makes `shards` empty shards (the workers' plus one), before any
  // other call.
  void init(std::uint32_t shards) {
    shards_ = std::make_unique<Shard[]>(shards);
    nshards_ = shards;
  }

  // add() registers g in `shard` (g's worker, while g runs there).
  void add(Coroutine* g, std::uint32_t shard) noexcept;
  // remove() unregisters g (registered, and exiting).
  void remove(Coroutine* g) noexcept;

  std::uint32_t shards() const noexcept { return nshards_; }

  // For debuggers (diag/debugger_anchor.hpp): the shards' array and layout.
  const void* debugger_shards() const noexcept { return shards_.get(); }
  static const std::size_t kShardStride;
  static const std::size_t kShardHead;

  // visit_shard() calls f(g) for every coroutine of `shard`, holding that
  // shard's lock (see the lock order above: f may not take a wait's lock).
  template <class F>
  void visit_shard(std::uint32_t shard, F&& f) noexcept {
    Shard& s = shards_[shard];
    s.lock.lock();
    for (Coroutine* g = s.head; g != nullptr; g = g->live_next) f(g);
    s.lock.unlock();
  }

  // visit() calls f(g) for every live coroutine, shard by shard, each under
  // its shard's lock.
  template <class F>
  void visit(F&& f) noexcept {
    for (std::uint32_t s = 0; s < nshards_; ++s) visit_shard(s, f);
  }

 private:
  struct alignas(64) Shard {
    SpinLock lock;
    Coroutine* head = nullptr;
  };
  std::uint32_t nshards_ = 0;
  std::unique_ptr<Shard[]> shards_;
};

inline const std::size_t LiveRegistry::kShardStride = sizeof(LiveRegistry::Shard);
inline const std::size_t LiveRegistry::kShardHead = offsetof(LiveRegistry::Shard, head);

}  // namespace corun::detail
