// asymmetric_fence.hpp: a store-load fence whose cost falls on one side.
//
// Dekker's pattern (each side stores its flag, then loads the other's) needs
// a full fence between the store and the load on both sides: a locked
// instruction on x86, ~6 ns. When one side runs millions of times a second
// and the other a few times in a program's life, the frequent side can use
// light(), a compiler barrier, and the rare side heavy(), which makes every
// running thread of the process execute a full memory barrier (Linux's
// membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED; tens of microseconds):
//
//   frequent: A = 1; light(); if (B) ...     rare: B = 1; heavy(); if (A) ...
//
// At least one side sees the other's store. (A thread that is not running
// passed through the scheduler, a full barrier, since its last instruction.)
// available() says whether the kernel offers it to this process; without
// it, the frequent side must take the path a real fence protects.
#pragma once

#include <atomic>

namespace corun::detail::asymmetric_fence {

// available() registers the process for expedited membarrier on first call;
// false when the kernel (older than 4.14, or a sandbox) refuses, or when
// CORUN_NO_MEMBARRIER is set (to 1 or anything but 0) in the environment.
bool available() noexcept;

// light(): the frequent side. Orders nothing in hardware: heavy() does.
inline void light() noexcept { std::atomic_signal_fence(std::memory_order_seq_cst); }

// heavy(): the rare side; only after available() returned true.
void heavy() noexcept;

}  // namespace corun::detail::asymmetric_fence
