// stack_walk.hpp: the return addresses on a coroutine's stack, from the
// registers it saved when it switched away (a parked coroutine), a signal
// interrupted (a running one) or its own (the dumping one): by DWARF
// unwinding where libunwind is available (dwarf_unwind.hpp), else by
// following frame pointers. Every read stays inside the stack's bounds (and,
// unwinding, the unwind tables): a frame chain that leaves them, goes
// backwards or is misaligned ends the walk, so a stack built without frame
// pointers gives a short backtrace, never a crash.
#pragma once

#include <ucontext.h>

#include <cstddef>
#include <cstdint>

#include "corun/diag/dwarf_unwind.hpp"

namespace corun::detail {

struct Context;

// kMaxFrames: the most frames a backtrace keeps.
inline constexpr std::size_t kMaxFrames = 32;

// walk_frames() stores in pcs the return address `pc` and those found by
// following the frame record at `fp` (fp[0]: the caller's frame pointer,
// fp[1]: its return address; the same record on x86_64 and aarch64), reading
// only inside [lo, hi). It returns how many it stored (at most `max`).
// Async-signal-safe.
std::size_t walk_frames(std::uintptr_t pc, std::uintptr_t fp, std::uintptr_t lo, std::uintptr_t hi,
                        void** pcs, std::size_t max) noexcept;

// walk_saved_context(): the backtrace from the registers `ctx` saved when
// its coroutine switched away, on the stack [lo, hi). Zero where the context
// back-end keeps no registers this file knows how to read. `memo`: the
// dump's backtraces so far (dwarf_unwind.hpp), or null.
std::size_t walk_saved_context(const Context& ctx, std::uintptr_t lo, std::uintptr_t hi,
                               const LoadedSegments& segments, void** pcs, std::size_t max,
                               UnwindMemo* memo = nullptr) noexcept;

// walk_machine_context(): the backtrace from registers in a ucontext_t (a
// signal handler's third argument, or getcontext()'s), on the stack [lo, hi).
// Async-signal-safe.
std::size_t walk_machine_context(const ucontext_t& uc, std::uintptr_t lo, std::uintptr_t hi,
                                 const LoadedSegments& segments, void** pcs,
                                 std::size_t max) noexcept;

}  // namespace corun::detail
