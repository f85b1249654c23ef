// stack_walk.hpp: the return addresses on a stack that is not the current
// one, found by following its frame pointers (a parked coroutine's, from its
// saved registers; a running one's, from a signal's saved registers). Every
// read stays inside the stack's bounds: a frame chain that leaves them, goes
// backwards or is misaligned ends the walk, so a stack built without frame
// pointers gives a short backtrace, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>

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

// walk_saved_context() is walk_frames() from the registers `ctx` saved when
// its coroutine switched away, on the stack [lo, hi). Zero where the context
// back-end keeps no frame pointer this file knows how to read.
std::size_t walk_saved_context(const Context& ctx, std::uintptr_t lo, std::uintptr_t hi, void** pcs,
                               std::size_t max) noexcept;

}  // namespace corun::detail
