// context.cpp: the C++ half of the context back-ends (see context.hpp).
#include "corun/arch/context.hpp"

#include <cstdint>
#include <cstring>

namespace corun::detail {

#if defined(CORUN_CONTEXT_UCONTEXT)

namespace {
// makecontext passes int arguments only: the pointers travel split in halves.
CORUN_NO_TSAN_FRAME void ucontext_trampoline(unsigned entry_hi, unsigned entry_lo, unsigned arg_hi,
                                             unsigned arg_lo) {
  auto join = [](unsigned hi, unsigned lo) {
    return (static_cast<std::uintptr_t>(hi) << 32) | static_cast<std::uintptr_t>(lo);
  };
  auto entry = reinterpret_cast<ContextEntry>(join(entry_hi, entry_lo));
  entry(reinterpret_cast<void*>(join(arg_hi, arg_lo)));
  __builtin_trap();
}
}  // namespace

void context_make(Context& ctx, void* stack_base, std::size_t size, ContextEntry entry, void* arg) {
  getcontext(&ctx.uc);
  ctx.uc.uc_stack.ss_sp = stack_base;
  ctx.uc.uc_stack.ss_size = size;
  ctx.uc.uc_link = nullptr;
  auto e = reinterpret_cast<std::uintptr_t>(entry);
  auto a = reinterpret_cast<std::uintptr_t>(arg);
  makecontext(&ctx.uc, reinterpret_cast<void (*)()>(&ucontext_trampoline), 4,
              static_cast<unsigned>(e >> 32), static_cast<unsigned>(e),
              static_cast<unsigned>(a >> 32), static_cast<unsigned>(a));
}

CORUN_NO_TSAN_FRAME void context_switch(Context& from, Context& to) {
  swapcontext(&from.uc, &to.uc);
}

#else

extern "C" void corun_context_start();

void context_make(Context& ctx, void* stack_base, std::size_t size, ContextEntry entry, void* arg) {
  // The stack's end rounded down to 16 bytes, by pointer arithmetic (an
  // integer turned back into a pointer would lose its provenance).
  char* end = static_cast<char*>(stack_base) + size;
  auto* slot = reinterpret_cast<std::uint64_t*>(end - (reinterpret_cast<std::uintptr_t>(end) & 15));
#if defined(__x86_64__)
  // Frame popped by corun_context_switch, lowest address first:
  //   r15 r14 r13=entry r12=arg rbx rbp ret=corun_context_start
  // `ret` leaves rsp 16-byte aligned, so the `call` in corun_context_start
  // enters `entry` with the alignment the ABI requires. Two zero words on top
  // end backtraces.
  slot -= 2;
  slot[0] = 0;
  slot[1] = 0;
  slot -= 1;
  *slot = reinterpret_cast<std::uint64_t>(&corun_context_start);
  const std::uint64_t regs[6] = {
      0,                                       // r15
      0,                                       // r14
      reinterpret_cast<std::uint64_t>(entry),  // r13
      reinterpret_cast<std::uint64_t>(arg),    // r12
      0,                                       // rbx
      0,                                       // rbp
  };
  slot -= 6;
  std::memcpy(slot, regs, sizeof regs);
#elif defined(__aarch64__)
  // 176-byte frame popped by corun_context_switch: x19=arg, x20=entry,
  // x29 (fp) = 0, x30 (lr) = corun_context_start.
  slot -= 22;
  std::memset(slot, 0, 176);
  slot[0] = reinterpret_cast<std::uint64_t>(arg);
  slot[1] = reinterpret_cast<std::uint64_t>(entry);
  slot[11] = reinterpret_cast<std::uint64_t>(&corun_context_start);
#else
#error "no assembly context switch for this architecture: configure with -DCORUN_CONTEXT=ucontext"
#endif
  ctx.sp = slot;
}

#endif

}  // namespace corun::detail
