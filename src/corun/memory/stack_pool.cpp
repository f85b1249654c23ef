// stack_pool.cpp: see stack_pool.hpp.
#include "corun/memory/stack_pool.hpp"

#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>

#include "corun/diag/fatal.hpp"
#include "corun/memory/linux_advice.hpp"

namespace corun::detail {

namespace {

// Slabs grow geometrically, from kFirstSlabStacks stacks to kMaxSlabBytes
// (about 3,300 stacks of 256 KiB and their guards: a million stacks stay at
// ~300 mappings),
// and each starts on a kSlabAlignment boundary. Both keep the page-table
// writes that installing guards makes away from the page tables of stacks
// in use: a slab's guards are installed in one burst, into page-table pages
// of its own. Installed in small slabs next to each other, the bursts made a
// shadow-paging hypervisor drop its mappings of nearby, recently touched
// stacks, and each of those faulted again (~10 us) on its next access
// (docs/performance.md, "Where corun loses").
constexpr std::size_t kFirstSlabStacks = 64;
constexpr std::size_t kMaxSlabBytes = std::size_t{1} << 30;
constexpr std::size_t kSlabAlignment = std::size_t{1} << 30;  // one page directory (x86-64)

// Guards made with mprotect split mappings (+2 each); stop well below the
// default vm.max_map_count of 65530 to leave room for the program's own.
constexpr std::size_t kMaxMprotectGuards = 16 * 1024;

std::atomic<int> g_madvise_guard_works{-1};    // -1 unknown, 0 no, 1 yes
std::atomic<bool> g_populate_works{true};      // false once the kernel said EINVAL
std::atomic<bool> g_batch_advice_works{true};  // false once process_madvise() failed

using linux_advice::kGuardInstall;
using linux_advice::kPidfdSelfProcess;
using linux_advice::kPopulateWrite;

// kBatchMax: pages per process_madvise() call. Small, since the callers may
// run on a coroutine's stack; 64 already makes the call's cost per page
// negligible.
constexpr std::size_t kBatchMax = 64;

// advise_pages() gives `advice` for every one of `pages` (each `length`
// bytes long) with process_madvise() on this process, up to kBatchMax
// ranges a call; false when the kernel refused (before 6.15 it knows no
// kPidfdSelfProcess) or stopped short, and from then on
// g_batch_advice_works says not to try again. Advice is idempotent: the
// caller redoes the lot one range at a time.
bool advise_pages(std::span<char* const> pages, std::size_t length, int advice) noexcept {
  iovec iov[kBatchMax];
  for (std::size_t done = 0; done < pages.size();) {
    const std::size_t n = std::min(kBatchMax, pages.size() - done);
    for (std::size_t i = 0; i < n; ++i) iov[i] = {pages[done + i], length};
    const long rc = syscall(SYS_process_madvise, kPidfdSelfProcess, iov, n, advice, 0U);
    if (rc != static_cast<long>(n * length)) {
      g_batch_advice_works.store(false, std::memory_order_relaxed);
      return false;
    }
    done += n;
  }
  return true;
}

// commit_pages() commits `pages` (each one page long) with
// MADV_POPULATE_WRITE: in one call where the kernel takes a batch, else one
// call a page; before Linux 5.14 (EINVAL) not at all: the fault does it.
void commit_pages(std::span<char* const> pages) noexcept {
  if (!g_populate_works.load(std::memory_order_relaxed)) return;
  if (g_batch_advice_works.load(std::memory_order_relaxed) &&
      advise_pages(pages, StackPool::page_size(), kPopulateWrite)) {
    return;
  }
  for (char* p : pages) {
    if (madvise(p, StackPool::page_size(), kPopulateWrite) != 0 && errno == EINVAL) {
      g_populate_works.store(false, std::memory_order_relaxed);
      return;
    }
  }
}

}  // namespace

std::size_t StackPool::page_size() noexcept {
  static const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

std::size_t StackPool::guard_size() noexcept {
  // kGuardBytes: the largest frame that code built without stack-clash
  // protection may allocate and still be caught (see stack_pool.hpp).
  constexpr std::size_t kGuardBytes = 64 * 1024;
  return std::max(kGuardBytes, page_size());
}

void* Stack::guard_begin() const noexcept { return base - StackPool::guard_size(); }

bool Stack::in_guard(const void* addr) const noexcept {
  auto a = reinterpret_cast<std::uintptr_t>(addr);
  auto b = reinterpret_cast<std::uintptr_t>(base);
  // The guard, and for canary-only stacks the first page of the stack.
  return a >= b - StackPool::guard_size() && a < b + (guarded ? 0 : StackPool::page_size());
}

StackPool::StackPool(std::size_t stack_size)
    : stack_size_((stack_size + page_size() - 1) / page_size() * page_size()),
      next_slab_stacks_(std::clamp<std::size_t>(kMaxSlabBytes / (stack_size_ + guard_size()), 1,
                                                kFirstSlabStacks)) {}

StackPool::~StackPool() {
  for (auto& [addr, len] : slabs_) munmap(addr, len);
}

namespace {

// reserve_slab() maps `len` bytes starting on a kSlabAlignment boundary
// (unaligned when the address space has no room for the alignment slack);
// null when there is no room at all.
void* reserve_slab(std::size_t len) noexcept {
  constexpr int kProt = PROT_READ | PROT_WRITE;
  constexpr int kFlags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
  void* raw = mmap(nullptr, len + kSlabAlignment, kProt, kFlags, -1, 0);
  if (raw == MAP_FAILED) {
    void* mem = mmap(nullptr, len, kProt, kFlags, -1, 0);
    return mem == MAP_FAILED ? nullptr : mem;
  }
  auto* begin = static_cast<char*>(raw);
  // Rounded up to kSlabAlignment by pointer arithmetic (an integer turned
  // back into a pointer would lose its provenance).
  char* aligned =
      begin + ((kSlabAlignment - (reinterpret_cast<std::uintptr_t>(begin) & (kSlabAlignment - 1))) &
               (kSlabAlignment - 1));
  if (aligned != begin) munmap(begin, static_cast<std::size_t>(aligned - begin));
  const auto tail = static_cast<std::size_t>(begin + len + kSlabAlignment - (aligned + len));
  if (tail != 0) munmap(aligned + len, tail);
  return aligned;
}

// address_space_limit() names the limit on this process's address space
// that a failed reservation may have hit, or says there is none; for the
// out-of-memory report.
void address_space_limit(char* out, std::size_t size) noexcept {
  rlimit as{};
  rlimit data{};
  if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) {
    std::snprintf(out, size, "the address space is limited by RLIMIT_AS (ulimit -v) to %llu MiB",
                  static_cast<unsigned long long>(as.rlim_cur >> 20));
  } else if (getrlimit(RLIMIT_DATA, &data) == 0 && data.rlim_cur != RLIM_INFINITY) {
    std::snprintf(out, size, "private memory is limited by RLIMIT_DATA (ulimit -d) to %llu MiB",
                  static_cast<unsigned long long>(data.rlim_cur >> 20));
  } else {
    std::snprintf(out, size, "no RLIMIT_AS or RLIMIT_DATA is set");
  }
}

// reserve_slab_leaving() is reserve_slab(len), provided `spare` more bytes
// of address space would still be free after it.
void* reserve_slab_leaving(std::size_t len, std::size_t spare) noexcept {
  auto* mem = static_cast<char*>(reserve_slab(len + spare));
  if (mem != nullptr) munmap(mem + len, spare);
  return mem;
}

}  // namespace

// add_slab_locked() reserves the next slab, twice the size of the last one
// (up to kMaxSlabBytes), where kSpareAddressSpace more would still fit: that
// much is left to the rest of the program (malloc, threads), which would
// otherwise fail at some random allocation once stacks had taken all of a
// limited address space. When the address space cannot take the slab (a
// limit such as `ulimit -v`, or a full address space), it takes half, and
// so on down to one stack, and stops growing. Only when not even one more
// stack fits does the program end, with a report that names the limit.
void StackPool::add_slab_locked() {
  constexpr std::size_t kSpareAddressSpace = std::size_t{64} << 20;
  const std::size_t guard = guard_size();
  const std::size_t stride = stack_size_ + guard;
  std::size_t count = next_slab_stacks_;
  void* mem = reserve_slab_leaving(stride * count, kSpareAddressSpace);
  const bool shrunk = mem == nullptr;
  while (mem == nullptr && count > 1) {
    count /= 2;
    mem = reserve_slab_leaving(stride * count, kSpareAddressSpace);
  }
  if (mem == nullptr) {
    const int err = errno;
    char limit[128];
    address_space_limit(limit, sizeof limit);
    fatal(
        "out of memory for coroutine stacks: mmap of %zu KiB for one more stack (leaving %zu "
        "MiB to the rest of the program) failed (%s); %zu stacks of %zu KiB exist, and %s; "
        "raise the limit, use a smaller Config::stack_size or fewer coroutines",
        stride >> 10, kSpareAddressSpace >> 20, std::strerror(err), stacks_made_, stack_size_ >> 10,
        limit);
  }
  const std::size_t len = stride * count;
  slabs_.emplace_back(mem, len);
  stacks_made_ += count;
  next_slab_stacks_ =
      shrunk ? count : std::max<std::size_t>(1, std::min(2 * count, kMaxSlabBytes / stride));
  auto* slab = static_cast<char*>(mem);
  const std::size_t first = free_.size();
  free_.reserve(first + count);
  for (std::size_t i = count; i-- > 0;) {
    free_.push_back(Stack{slab + i * stride + guard, static_cast<std::uint32_t>(stack_size_)});
  }
  install_guards_locked(std::span<Stack>(free_).subspan(first));
}

// install_guards_locked() guards a new slab's stacks: with one
// process_madvise() call per kBatchMax guards where the kernel takes
// MADV_GUARD_INSTALL that way (a system call costs ~1 us on a virtual
// machine, more than the guard itself), else one by one.
void StackPool::install_guards_locked(std::span<Stack> stacks) {
  if (g_madvise_guard_works.load(std::memory_order_relaxed) != 0 &&
      g_batch_advice_works.load(std::memory_order_relaxed)) {
    std::vector<char*> guards;
    guards.reserve(stacks.size());
    for (const Stack& s : stacks) guards.push_back(static_cast<char*>(s.guard_begin()));
    if (advise_pages(guards, guard_size(), kGuardInstall)) {
      g_madvise_guard_works.store(1, std::memory_order_relaxed);
      for (Stack& s : stacks) s.guarded = true;
      return;
    }
  }
  // Those handed out first (from the back) first, while mprotect lasts.
  std::for_each(stacks.rbegin(), stacks.rend(), [this](Stack& s) { install_guard_locked(s); });
}

void StackPool::install_guard_locked(Stack& s) {
  const std::size_t length = guard_size();
  char* guard = static_cast<char*>(s.guard_begin());
  const int works = g_madvise_guard_works.load(std::memory_order_relaxed);
  if (works != 0) {
    s.guarded = madvise(guard, length, kGuardInstall) == 0;
    if (works < 0) g_madvise_guard_works.store(s.guarded ? 1 : 0, std::memory_order_relaxed);
    if (s.guarded) return;
  }
  if (mprotect_guards_ < kMaxMprotectGuards && mprotect(guard, length, PROT_NONE) == 0) {
    ++mprotect_guards_;
    s.guarded = true;
    return;
  }
  std::memcpy(s.base, &Stack::kCanary, sizeof Stack::kCanary);
}

void StackPool::allocate_batch(std::vector<Stack>& out, std::size_t count) {
  const std::size_t first = out.size();
  {
    std::lock_guard<std::mutex> lk(mu_);
    while (count-- > 0) {
      if (free_.empty()) add_slab_locked();
      out.push_back(free_.back());
      free_.pop_back();
    }
  }
  commit_tops(std::span<Stack>(out).subspan(first));
}

// commit_tops() commits the top page of each never-used stack, where nearly
// every coroutine's frames fit, kBatchMax pages a call (commit_pages)
// instead of one fault per stack: on a virtual machine a first-touch fault
// costs twice what the commit and the later touch cost together (README,
// "Performance").
void StackPool::commit_tops(std::span<Stack> stacks) noexcept {
  const std::size_t page = page_size();
  char* tops[kBatchMax];
  std::size_t n = 0;
  for (Stack& s : stacks) {
    if (s.used) continue;
    s.used = true;
    tops[n++] = s.top() - page;
    if (n == kBatchMax) {
      commit_pages(std::span<char* const>(tops, n));
      n = 0;
    }
  }
  if (n > 0) commit_pages(std::span<char* const>(tops, n));
}

void StackPool::release_batch(std::vector<Stack>& in, std::size_t keep) {
  std::lock_guard<std::mutex> lk(mu_);
  while (in.size() > keep) {
    free_.push_back(in.back());
    in.pop_back();
  }
}

}  // namespace corun::detail
