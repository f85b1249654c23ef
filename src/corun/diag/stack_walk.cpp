// stack_walk.cpp: frame-pointer walks of stacks that are not the current one
// (see stack_walk.hpp).
#include "corun/diag/stack_walk.hpp"

#include "corun/arch/context.hpp"

namespace corun::detail {

namespace {

// read_word() reads the word at `addr`, which the caller has checked lies in
// the stack. The stack belongs to another coroutine: AddressSanitizer may
// have poisoned parts of it (its locals' red zones), which the frame records
// never are, but the walk must not trap on them either.
__attribute__((no_sanitize("address", "thread"))) std::uintptr_t read_word(
    std::uintptr_t addr) noexcept {
  // NOLINTNEXTLINE(performance-no-int-to-ptr): a stack address, checked by the caller
  return *reinterpret_cast<const volatile std::uintptr_t*>(addr);
}

}  // namespace

std::size_t walk_frames(std::uintptr_t pc, std::uintptr_t fp, std::uintptr_t lo, std::uintptr_t hi,
                        void** pcs, std::size_t max) noexcept {
  std::size_t n = 0;
  // NOLINTNEXTLINE(performance-no-int-to-ptr): a code address from saved registers
  if (pc != 0 && n < max) pcs[n++] = reinterpret_cast<void*>(pc);
  constexpr std::uintptr_t kWord = sizeof(std::uintptr_t);
  while (n < max && fp >= lo && fp + 2 * kWord <= hi && fp % kWord == 0) {
    const std::uintptr_t caller_fp = read_word(fp);
    const std::uintptr_t ret = read_word(fp + kWord);
    if (ret == 0) break;
    pcs[n++] = reinterpret_cast<void*>(ret);  // NOLINT(performance-no-int-to-ptr): a return address
    // Frames grow downwards: the caller's record lies above this one.
    if (caller_fp <= fp) break;
    fp = caller_fp;
  }
  return n;
}

std::size_t walk_machine_context(const ucontext_t& uc, std::uintptr_t lo, std::uintptr_t hi,
                                 const LoadedSegments& segments, void** pcs,
                                 std::size_t max) noexcept {
#if defined(__x86_64__)
  const auto* g = uc.uc_mcontext.gregs;
  auto reg = [g](int r) { return static_cast<std::uintptr_t>(g[r]); };
  if constexpr (dwarf_unwind_available) {
    const UnwindRegisters regs{reg(REG_RIP), reg(REG_RSP), reg(REG_RBP), reg(REG_RBX),
                               reg(REG_R12), reg(REG_R13), reg(REG_R14), reg(REG_R15)};
    return dwarf_unwind(regs, lo, hi, segments, /*signal_safe=*/true, pcs, max);
  }
  return walk_frames(reg(REG_RIP), reg(REG_RBP), lo, hi, pcs, max);
#elif defined(__aarch64__)
  (void)segments;
  const auto& m = uc.uc_mcontext;
  return walk_frames(static_cast<std::uintptr_t>(m.pc), static_cast<std::uintptr_t>(m.regs[29]), lo,
                     hi, pcs, max);
#else
  (void)uc, (void)lo, (void)hi, (void)segments, (void)pcs, (void)max;
  return 0;
#endif
}

std::size_t walk_saved_context(const Context& ctx, std::uintptr_t lo, std::uintptr_t hi,
                               const LoadedSegments& segments, void** pcs, std::size_t max,
                               UnwindMemo* memo) noexcept {
#if defined(CORUN_CONTEXT_UCONTEXT) && defined(__x86_64__)
  if constexpr (dwarf_unwind_available) {
    const auto* g = ctx.uc.uc_mcontext.gregs;
    auto reg = [g](int r) { return static_cast<std::uintptr_t>(g[r]); };
    const UnwindRegisters regs{reg(REG_RIP), reg(REG_RSP), reg(REG_RBP), reg(REG_RBX),
                               reg(REG_R12), reg(REG_R13), reg(REG_R14), reg(REG_R15)};
    return dwarf_unwind(regs, lo, hi, segments, /*signal_safe=*/false, pcs, max, memo);
  }
  return walk_machine_context(ctx.uc, lo, hi, segments, pcs, max);
#elif defined(CORUN_CONTEXT_UCONTEXT)
  (void)memo;
  return walk_machine_context(ctx.uc, lo, hi, segments, pcs, max);
#elif defined(__x86_64__)
  // context_x86_64.S pushed the return address, then rbp, rbx, r12..r15:
  // sp -> r15 r14 r13 r12 rbx rbp ret; `ret` leaves sp 7 words higher.
  const auto sp = reinterpret_cast<std::uintptr_t>(ctx.sp);
  if (sp < lo || sp + 7 * sizeof(std::uintptr_t) > hi) return 0;
  if constexpr (dwarf_unwind_available) {
    const UnwindRegisters regs{read_word(sp + 6 * 8), sp + 7 * 8,
                               read_word(sp + 5 * 8), read_word(sp + 4 * 8),
                               read_word(sp + 3 * 8), read_word(sp + 2 * 8),
                               read_word(sp + 1 * 8), read_word(sp)};
    return dwarf_unwind(regs, lo, hi, segments, /*signal_safe=*/false, pcs, max, memo);
  }
  return walk_frames(read_word(sp + 6 * 8), read_word(sp + 5 * 8), lo, hi, pcs, max);
#elif defined(__aarch64__)
  // context_aarch64.S stored x29 (fp) and x30 (lr) at sp+80 and sp+88.
  (void)segments, (void)memo;
  const auto sp = reinterpret_cast<std::uintptr_t>(ctx.sp);
  if (sp < lo || sp + 96 > hi) return 0;
  return walk_frames(read_word(sp + 88), read_word(sp + 80), lo, hi, pcs, max);
#else
  (void)ctx, (void)lo, (void)hi, (void)segments, (void)pcs, (void)max, (void)memo;
  return 0;
#endif
}

}  // namespace corun::detail
