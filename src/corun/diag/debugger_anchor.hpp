// debugger_anchor.hpp: what a debugger needs to find every runtime's
// coroutines in a stopped program or a core file without debug information
// (tools/gdb/corun-gdb.py reads it): one global, `corun_debugger_anchor`,
// with the offsets of the fields it reads (as CPython 3.13's
// _Py_DebugOffsets does) and the list of live runtimes. Every Runtime adds
// itself while it lives; nothing else touches it.
#pragma once

#include <cstdint>

namespace corun::detail {

class Scheduler;

// DebuggerRuntime: one runtime, as a debugger reads it.
struct DebuggerRuntime {
  DebuggerRuntime* next = nullptr;
  const void* shards = nullptr;  // the registry's shards (live_registry.hpp)
  std::uint32_t nshards = 0;
  std::uint32_t nworkers = 0;
  const void* const* workers = nullptr;  // Worker*[nworkers]
};

// kDebuggerAnchorVersion changes whenever a field below changes meaning.
inline constexpr std::uint32_t kDebuggerAnchorVersion = 1;

// DebuggerAnchor: its layout is what tools/gdb/corun-gdb.py reads: 32-bit
// fields only, then the list head.
struct DebuggerAnchor {
  std::uint32_t version = kDebuggerAnchorVersion;
  // Context back-end: 1 asm x86_64, 2 asm aarch64, 3 ucontext x86_64,
  // 4 ucontext aarch64, 0 unknown (the debugger then shows no stacks).
  std::uint32_t context_kind = 0;
  std::uint32_t shard_stride = 0;  // bytes between two shards
  std::uint32_t shard_head = 0;    // offset of a shard's first Coroutine*
  std::uint32_t co_id = 0;         // Coroutine: id (u64)
  std::uint32_t co_state = 0;      // state (u8: 0 runnable 1 running 2 parked 3 cancelling 4 dead)
  std::uint32_t co_wait_reason = 0;    // wait_reason (u8, as WaitReason)
  std::uint32_t co_live_next = 0;      // live_next (Coroutine*)
  std::uint32_t co_ctx = 0;            // ctx: the saved sp (asm) or the ucontext_t
  std::uint32_t co_stack_base = 0;     // stack.base (char*)
  std::uint32_t co_stack_size = 0;     // stack.size (u32)
  std::uint32_t uc_gregs = 0;          // ucontext_t: uc_mcontext's registers
  std::uint32_t worker_index = 0;      // Worker: index (int)
  std::uint32_t worker_current = 0;    // current (Coroutine*)
  std::uint32_t worker_g0 = 0;         // g0 (the Coroutine the loop runs as)
  std::uint32_t worker_os_thread = 0;  // os_thread (pthread_t of its thread)
  std::uint32_t nreasons = 0;          // entries of reason_names
  std::uint32_t reserved = 0;
  DebuggerRuntime* runtimes = nullptr;        // the live runtimes
  const char* const* reason_names = nullptr;  // WaitReason -> to_string()
};

// DebuggerEntry adds a runtime to the anchor for its lifetime.
class DebuggerEntry {
 public:
  explicit DebuggerEntry(Scheduler& sched);
  ~DebuggerEntry();
  DebuggerEntry(const DebuggerEntry&) = delete;
  DebuggerEntry& operator=(const DebuggerEntry&) = delete;

 private:
  DebuggerRuntime entry_;
};

}  // namespace corun::detail

extern "C" corun::detail::DebuggerAnchor corun_debugger_anchor;
