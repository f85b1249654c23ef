// stack_pool.cpp: see stack_pool.hpp.
#include "stack_pool.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "fatal.hpp"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace corun::detail {

namespace {

// Stacks per slab: 256 keeps a million stacks at ~4k mappings.
constexpr std::size_t kStacksPerSlab = 256;

// Guards made with mprotect split mappings (+2 each); stop well below the
// default vm.max_map_count of 65530 to leave room for the program's own.
constexpr std::size_t kMaxMprotectGuards = 16 * 1024;

std::atomic<int> g_madvise_guard_works{-1};  // -1 unknown, 0 no, 1 yes
std::atomic<bool> g_populate_works{true};    // false once the kernel said EINVAL

}  // namespace

std::size_t StackPool::page_size() noexcept {
  static const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

void* Stack::guard_begin() const noexcept { return base - StackPool::page_size(); }

bool Stack::in_guard(const void* addr) const noexcept {
  auto a = reinterpret_cast<std::uintptr_t>(addr);
  auto b = reinterpret_cast<std::uintptr_t>(base);
  // The guard page, and for canary-only stacks the first page of the stack.
  return a >= b - StackPool::page_size() && a < b + (guarded ? 0 : StackPool::page_size());
}

StackPool::StackPool(std::size_t stack_size)
    : stack_size_((stack_size + page_size() - 1) / page_size() * page_size()) {}

StackPool::~StackPool() {
  for (auto& [addr, len] : slabs_) munmap(addr, len);
}

void StackPool::add_slab_locked() {
  const std::size_t page = page_size();
  const std::size_t stride = stack_size_ + page;
  const std::size_t len = stride * kStacksPerSlab;
  void* mem = mmap(nullptr, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) {
    fatal(
        "out of memory for coroutine stacks: mmap of %zu MiB failed (%s); %zu stacks of "
        "%zu KiB exist; use a smaller Config::stack_size or fewer coroutines",
        len >> 20, std::strerror(errno), slabs_.size() * kStacksPerSlab, stack_size_ >> 10);
  }
  slabs_.emplace_back(mem, len);
  auto* slab = static_cast<char*>(mem);
  free_.reserve(free_.size() + kStacksPerSlab);
  for (std::size_t i = kStacksPerSlab; i-- > 0;) {
    char* guard = slab + i * stride;
    Stack s{guard + page, static_cast<std::uint32_t>(stack_size_), false};
    int works = g_madvise_guard_works.load(std::memory_order_relaxed);
    if (works != 0) {
      bool ok = madvise(guard, page, MADV_GUARD_INSTALL) == 0;
      if (works < 0) g_madvise_guard_works.store(ok ? 1 : 0, std::memory_order_relaxed);
      s.guarded = ok;
    }
    if (!s.guarded && mprotect_guards_ < kMaxMprotectGuards &&
        mprotect(guard, page, PROT_NONE) == 0) {
      ++mprotect_guards_;
      s.guarded = true;
    }
    if (!s.guarded) std::memcpy(s.base, &Stack::kCanary, sizeof Stack::kCanary);
    free_.push_back(s);
  }
}

Stack StackPool::allocate() {
  std::lock_guard<std::mutex> lk(mu_);
  if (free_.empty()) add_slab_locked();
  Stack s = free_.back();
  free_.pop_back();
  return s;
}

void StackPool::allocate_batch(std::vector<Stack>& out, std::size_t count) {
  std::lock_guard<std::mutex> lk(mu_);
  while (count-- > 0) {
    if (free_.empty()) add_slab_locked();
    out.push_back(free_.back());
    free_.pop_back();
  }
}

void StackPool::first_use(Stack& s) noexcept {
  if (s.used) return;
  s.used = true;
  if (!g_populate_works.load(std::memory_order_relaxed)) return;
  const std::size_t page = page_size();
  // Before Linux 5.14 the advice is unknown (EINVAL): the fault does it then.
  if (madvise(s.top() - page, page, MADV_POPULATE_WRITE) != 0 && errno == EINVAL) {
    g_populate_works.store(false, std::memory_order_relaxed);
  }
}

void StackPool::release_batch(std::vector<Stack>& in, std::size_t keep) {
  std::lock_guard<std::mutex> lk(mu_);
  while (in.size() > keep) {
    free_.push_back(in.back());
    in.pop_back();
  }
}

}  // namespace corun::detail
