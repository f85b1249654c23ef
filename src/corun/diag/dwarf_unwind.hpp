// dwarf_unwind.hpp: the return addresses on a stack that is not the current
// one, found from the DWARF call-frame information (.eh_frame) that every
// object carries, by libunwind, starting from a set of saved registers (a
// parked coroutine's, or those a signal interrupted). Unlike a frame-pointer
// walk (stack_walk.hpp), it needs nothing from the compiler, so the running
// program pays nothing for it.
//
// Every read is bounded: libunwind reads memory only through this file,
// which allows the stack being walked and the loaded objects' segments (where
// the unwind tables are) and refuses anything else, which ends the walk. So
// a stack that changes while it is read (its coroutine woke) gives a wrong or
// short backtrace, never a fault.
//
// Available on x86_64 where the build found libunwind (CORUN_HAVE_LIBUNWIND);
// elsewhere dwarf_unwind_available is false and the functions return 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace corun::detail {

#if defined(CORUN_HAVE_LIBUNWIND) && defined(__x86_64__)
inline constexpr bool dwarf_unwind_available = true;
#else
inline constexpr bool dwarf_unwind_available = false;
#endif

// The registers an unwind starts from: x86_64's callee-saved ones, the
// stack pointer and the instruction pointer (the others are not needed to
// find the callers).
struct UnwindRegisters {
  std::uintptr_t ip = 0, sp = 0, bp = 0, bx = 0, r12 = 0, r13 = 0, r14 = 0, r15 = 0;
};

// LoadedSegments: the address ranges of the loaded objects' segments,
// collected once (dl_iterate_phdr: not async-signal-safe) and then read by
// any number of unwinds, in signal handlers too. A program that loads or
// unloads a library meanwhile makes the walks through it stop short.
class LoadedSegments {
 public:
  LoadedSegments() noexcept;  // collects them (empty where unavailable)
  bool contains(std::uintptr_t addr, std::size_t len) const noexcept;

  static constexpr std::size_t kMax = 512;

 private:
  struct Range {
    std::uintptr_t lo, hi;
  };
  Range ranges_[kMax];
  std::size_t n_ = 0;
};

// UnwindMemo: the backtraces already found in one dump, by where their
// stacks start (the instruction pointer, and the stack pointer's depth
// below the top), with where each return address was read. Thousands of
// coroutines parked at the same place have the same backtrace: a stack
// whose words at those places hold the same return addresses gets it by
// reading them (a few words), not by unwinding again (libunwind takes some
// 40 us per stack here, nearly all of it in its cache's locking). Not for
// signal handlers (it allocates).
class UnwindMemo {
 public:
  // find(): the backtrace of a stack starting at `ip` with `depth` bytes
  // between its stack pointer and `hi`, if one found before matches it.
  std::size_t find(std::uintptr_t ip, std::uintptr_t depth, std::uintptr_t lo, std::uintptr_t hi,
                   void** pcs, std::size_t max) const noexcept;
  void add(std::uintptr_t ip, std::uintptr_t depth, const void* const* pcs, const std::size_t* at,
           std::size_t n);

 private:
  struct Entry {
    std::vector<const void*> pcs;
    std::vector<std::size_t> at;  // pcs[k] (k >= 1) was read at hi - at[k]
  };
  static constexpr std::size_t kMaxEntries = 4096;
  std::unordered_multimap<std::uint64_t, Entry> entries_;
};

// dwarf_unwind() stores in pcs the instruction pointer `regs.ip`, then the
// return addresses found by unwinding from `regs` on the stack [lo, hi), and
// returns how many (at most `max`). regs.ip may be a return address (a
// parked coroutine's) or the interrupted instruction (a signal's): the first
// frame is looked up at regs.ip itself. Async-signal-safe when `signal_safe`
// (no cache, so no lock; slower), once a LoadedSegments has been made;
// then `memo` must be null.
std::size_t dwarf_unwind(const UnwindRegisters& regs, std::uintptr_t lo, std::uintptr_t hi,
                         const LoadedSegments& segments, bool signal_safe, void** pcs,
                         std::size_t max, UnwindMemo* memo = nullptr) noexcept;

}  // namespace corun::detail
