// poll_desc.cpp: the pool of PollDescs (see poll_desc.hpp): chunks of 256,
// allocated on demand and never freed, found by index through a fixed table
// of chunk pointers (enough for 2^20 descriptors open at once).
#include "corun/io/poll_desc.hpp"

#include <memory>
#include <mutex>
#include <new>

namespace corun::detail {

namespace {

constexpr std::uint32_t kChunkBits = 8;
constexpr std::uint32_t kChunkSize = 1u << kChunkBits;
constexpr std::uint32_t kMaxChunks = 1u << 12;

struct Pool {
  std::mutex mu;
  PollDesc* free = nullptr;
  std::uint32_t chunks = 0;
  std::atomic<PollDesc*> table[kMaxChunks] = {};
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: descriptors may outlive statics
  return *p;
}

}  // namespace

PollDesc* poll_desc_alloc() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lk(p.mu);
  if (p.free == nullptr) {
    if (p.chunks == kMaxChunks) throw std::bad_alloc();
    auto* chunk = new PollDesc[kChunkSize];
    for (std::uint32_t i = kChunkSize; i-- > 0;) {
      chunk[i].index = (p.chunks << kChunkBits) | i;
      chunk[i].next_free = p.free;
      p.free = &chunk[i];
    }
    p.table[p.chunks].store(chunk, std::memory_order_release);
    ++p.chunks;
  }
  PollDesc* pd = p.free;
  p.free = pd->next_free;
  pd->next_free = nullptr;
  pd->lock.lock();
  ++pd->seq;
  pd->closing = false;
  pd->ready[kRead].store(1, std::memory_order_relaxed);
  pd->ready[kWrite].store(1, std::memory_order_relaxed);
  pd->waiter[kRead] = pd->waiter[kWrite] = nullptr;
  pd->lock.unlock();
  return pd;
}

void poll_desc_release(PollDesc* pd) noexcept {
  Pool& p = pool();
  pd->lock.lock();
  ++pd->seq;  // events still in flight for the old descriptor are stale now
  pd->fd = -1;
  pd->poller = nullptr;
  pd->lock.unlock();
  std::lock_guard<std::mutex> lk(p.mu);
  pd->next_free = p.free;
  p.free = pd;
}

PollDesc* poll_desc_at(std::uint32_t index) noexcept {
  PollDesc* chunk = pool().table[index >> kChunkBits].load(std::memory_order_acquire);
  return chunk != nullptr ? &chunk[index & (kChunkSize - 1)] : nullptr;
}

}  // namespace corun::detail
