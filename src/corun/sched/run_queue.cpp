// run_queue.cpp: see run_queue.hpp.
#include "corun/sched/run_queue.hpp"

#include <new>

#include "corun/diag/fatal.hpp"

namespace corun::detail {

namespace {
// kGlobalInitialSlots: the global queue's first ring (8 KiB).
constexpr std::size_t kGlobalInitialSlots = 1024;
}  // namespace

// Under the lock, as rare as the backlog doubling: a program's life sees a
// handful (a million queued coroutines take ten).
void GlobalRunQueue::grow_locked(std::size_t need) noexcept {
  std::size_t capacity = capacity_ == 0 ? kGlobalInitialSlots : capacity_ * 2;
  while (capacity < need) capacity *= 2;
  std::unique_ptr<Coroutine*[]> slots(new (std::nothrow) Coroutine*[capacity]);
  if (!slots) fatal("out of memory for the global run queue (%zu coroutines)", need);
  const std::size_t mask = capacity_ - 1;
  const auto count = static_cast<std::size_t>(size_.load(std::memory_order_relaxed));
  for (std::size_t i = 0; i < count; ++i) slots[i] = slots_[(head_ + i) & mask];
  slots_ = std::move(slots);
  capacity_ = capacity;
  head_ = 0;
}

}  // namespace corun::detail
