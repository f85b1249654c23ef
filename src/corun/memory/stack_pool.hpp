// stack_pool.hpp: StackPool, where coroutine stacks come from.
//
// Stacks are carved out of large anonymous mappings ("slabs", growing from
// 64 stacks to 1 GiB each) reserved with MAP_NORESERVE: only pages a
// coroutine touches cost memory. A slab is one
// memory mapping for many stacks, so a million stacks stay far below the
// kernel's vm.max_map_count (65530 by default), which one mapping per stack
// would hit at ~32k. Below each stack sits a guard of 64 KiB (a page where
// pages are bigger):
//   - MADV_GUARD_INSTALL (Linux >= 6.13) adds guards without new mappings;
//   - otherwise mprotect(PROT_NONE), while the mapping budget allows;
//   - beyond that, a canary word at the stack's lowest address, checked each
//     time the coroutine is switched out.
// Either guard costs no memory at any length, only address space. 64 KiB,
// not one page: a frame bigger than the guard, in code built without
// -fstack-clash-protection (which probes big frames page by page), can
// jump over the guard into the stack below; with 64 KiB, any frame up to
// 64 KiB lands in the guard.
// An overflow is always reported (see fatal.hpp), never silent corruption.
// Guards, and the commit of a stack's top page when it is handed out, are
// given for many stacks in one process_madvise() call where the kernel
// takes that (Linux >= 6.15), one madvise() per stack elsewhere.
// tests/old_kernel runs the tests that cover all this as an older kernel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <span>
#include <vector>

namespace corun::detail {

struct Stack {
  char* base = nullptr;    // lowest usable address; the guard lies below
  std::uint32_t size = 0;  // bytes (at most Config::kMaxStackSize, 1 GiB)
  bool guarded = false;    // false: protected by the canary only
  bool used = false;       // handed out before (its top page is committed)

  char* top() const noexcept { return base + size; }
  // overflowed(): the canary at the bottom is gone (unguarded stacks only;
  // a guarded stack faults instead).
  bool overflowed() const noexcept {
    if (guarded) return false;
    std::uint64_t word;
    std::memcpy(&word, base, sizeof word);
    return word != kCanary;
  }
  static constexpr std::uint64_t kCanary = 0xC0DE'5AFE'C0DE'5AFEULL;
  void* guard_begin() const noexcept;
  bool in_guard(const void* addr) const noexcept;
};

class StackPool {
 public:
  explicit StackPool(std::size_t stack_size);
  ~StackPool();
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;

  // allocate_batch()/release_batch() move stacks in bulk for per-worker
  // caches. allocate_batch() hands out stacks ready to run: a never-used
  // one has its top page committed, where nearly every coroutine's frames
  // fit. On exhausted memory it ends the program with a clear fatal error
  // (it runs inside the scheduler, where no caller could handle an
  // exception).
  void allocate_batch(std::vector<Stack>& out, std::size_t count);
  void release_batch(std::vector<Stack>& in, std::size_t keep);

  std::size_t stack_size() const noexcept { return stack_size_; }
  static std::size_t page_size() noexcept;
  // guard_size(): the guard below each stack, 64 KiB or one page if larger.
  static std::size_t guard_size() noexcept;

 private:
  void add_slab_locked();
  void install_guard_locked(Stack& s);
  void install_guards_locked(std::span<Stack> stacks);
  static void commit_tops(std::span<Stack> stacks) noexcept;

  const std::size_t stack_size_;
  std::mutex mu_;
  std::vector<Stack> free_;                           // guarded by mu_
  std::vector<std::pair<void*, std::size_t>> slabs_;  // guarded by mu_
  std::size_t mprotect_guards_ = 0;                   // guarded by mu_
  std::size_t stacks_made_ = 0;                       // guarded by mu_
  std::size_t next_slab_stacks_;                      // guarded by mu_
};

}  // namespace corun::detail
