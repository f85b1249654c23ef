// live_registry.cpp: see live_registry.hpp.
#include "corun/sched/live_registry.hpp"

namespace corun::detail {

void LiveRegistry::add(Coroutine* g, std::uint32_t shard) noexcept {
  Shard& s = shards_[shard];
  g->live_shard = static_cast<std::uint16_t>(shard);
  g->registered = true;
  s.lock.lock();
  g->live_prev = nullptr;
  g->live_next = s.head;
  if (s.head != nullptr) s.head->live_prev = g;
  s.head = g;
  s.lock.unlock();
}

void LiveRegistry::remove(Coroutine* g) noexcept {
  Shard& s = shards_[g->live_shard];
  s.lock.lock();
  if (g->live_prev != nullptr) {
    g->live_prev->live_next = g->live_next;
  } else {
    s.head = g->live_next;
  }
  if (g->live_next != nullptr) g->live_next->live_prev = g->live_prev;
  s.lock.unlock();
}

}  // namespace corun::detail
