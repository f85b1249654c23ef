// dwarf_unwind.cpp: DWARF unwinding of other stacks with libunwind (see
// dwarf_unwind.hpp).
//
// libunwind's "remote" interface with an address space of our own: its
// accessors read the registers from UnwindRegisters and memory only inside
// the stack and the loaded segments, and its unwind tables are found as the
// local address space finds them (dl_iterate_phdr over .eh_frame_hdr). The
// local interface (unw_init_local) would read wherever a corrupted frame
// pointed. Two address spaces: one caching unwind info (for the dump's
// thread), one without cache, hence without locks (for signal handlers).
#include "corun/diag/dwarf_unwind.hpp"

#if defined(CORUN_HAVE_LIBUNWIND) && defined(__x86_64__)
#include <libunwind.h>
#include <link.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#endif

namespace corun::detail {

namespace {

// stack_word() reads a word of another coroutine's stack, at an address the
// caller has checked: AddressSanitizer may have poisoned parts of it (its
// locals' red zones), and ThreadSanitizer would see a race with its owner:
// a snapshot is all the dump asks for.
__attribute__((no_sanitize("address", "thread"))) std::uintptr_t stack_word(
    std::uintptr_t addr) noexcept {
  // NOLINTNEXTLINE(performance-no-int-to-ptr): an address checked by the caller
  return *reinterpret_cast<const volatile std::uintptr_t*>(addr);
}

std::uint64_t memo_key(std::uintptr_t ip, std::uintptr_t depth) noexcept {
  return static_cast<std::uint64_t>(ip) * 0x9E3779B97F4A7C15ULL ^ depth;
}

}  // namespace

std::size_t UnwindMemo::find(std::uintptr_t ip, std::uintptr_t depth, std::uintptr_t lo,
                             std::uintptr_t hi, void** pcs, std::size_t max) const noexcept {
  auto [first, last] = entries_.equal_range(memo_key(ip, depth));
  for (auto it = first; it != last; ++it) {
    const Entry& e = it->second;
    if (e.pcs.empty() || reinterpret_cast<std::uintptr_t>(e.pcs[0]) != ip || e.at[0] != depth ||
        e.pcs.size() > max) {
      continue;
    }
    bool same = true;
    for (std::size_t k = 1; k < e.pcs.size() && same; ++k) {
      const std::uintptr_t addr = hi - e.at[k];
      same = addr >= lo && addr <= hi - sizeof(std::uintptr_t) &&
             stack_word(addr) == reinterpret_cast<std::uintptr_t>(e.pcs[k]);
    }
    if (!same) continue;
    for (std::size_t k = 0; k < e.pcs.size(); ++k) pcs[k] = const_cast<void*>(e.pcs[k]);
    return e.pcs.size();
  }
  return 0;
}

void UnwindMemo::add(std::uintptr_t ip, std::uintptr_t depth, const void* const* pcs,
                     const std::size_t* at, std::size_t n) {
  if (entries_.size() >= kMaxEntries || n == 0) return;
  Entry e{std::vector<const void*>(pcs, pcs + n), std::vector<std::size_t>(at, at + n)};
  e.at[0] = depth;
  entries_.emplace(memo_key(ip, depth), std::move(e));
}

#if defined(CORUN_HAVE_LIBUNWIND) && defined(__x86_64__)

namespace {

struct Target {
  const UnwindRegisters* regs;
  std::uintptr_t lo, hi;
  const LoadedSegments* segments;
};

int access_mem(unw_addr_space_t, unw_word_t addr, unw_word_t* val, int write, void* arg) {
  const auto& t = *static_cast<const Target*>(arg);
  if (write != 0) return -UNW_EREADONLYREG;
  const bool in_stack = addr >= t.lo && addr <= t.hi - sizeof(unw_word_t);
  if (!in_stack && !t.segments->contains(addr, sizeof(unw_word_t))) return -UNW_EINVAL;
  *val = stack_word(addr);
  return 0;
}

int access_reg(unw_addr_space_t, unw_regnum_t reg, unw_word_t* val, int write, void* arg) {
  const UnwindRegisters& r = *static_cast<const Target*>(arg)->regs;
  if (write != 0) return -UNW_EREADONLYREG;
  switch (reg) {
    case UNW_X86_64_RIP:
      *val = r.ip;
      break;
    case UNW_X86_64_RSP:
      *val = r.sp;
      break;
    case UNW_X86_64_RBP:
      *val = r.bp;
      break;
    case UNW_X86_64_RBX:
      *val = r.bx;
      break;
    case UNW_X86_64_R12:
      *val = r.r12;
      break;
    case UNW_X86_64_R13:
      *val = r.r13;
      break;
    case UNW_X86_64_R14:
      *val = r.r14;
      break;
    case UNW_X86_64_R15:
      *val = r.r15;
      break;
    default:
      *val = 0;
      break;  // not saved, not needed to find the callers
  }
  return 0;
}

int access_fpreg(unw_addr_space_t, unw_regnum_t, unw_fpreg_t*, int, void*) { return -UNW_EBADREG; }

int resume(unw_addr_space_t, unw_cursor_t*, void*) { return -UNW_EINVAL; }

int get_proc_name(unw_addr_space_t, unw_word_t, char*, std::size_t, unw_word_t*, void*) {
  return -UNW_ENOINFO;  // symbolize.hpp names the addresses
}

// The address spaces, made once (unw_create_addr_space allocates).
struct Spaces {
  unw_addr_space_t cached = nullptr;
  unw_addr_space_t uncached = nullptr;
};

Spaces make_spaces() noexcept {
  unw_accessors_t acc = *unw_get_accessors(unw_local_addr_space);
  // find_proc_info, put_unwind_info, get_dyn_info_list_addr: the local
  // ones (the tables are found by dl_iterate_phdr, then read through
  // access_mem); the rest ours.
  acc.access_mem = &access_mem;
  acc.access_reg = &access_reg;
  acc.access_fpreg = &access_fpreg;
  acc.resume = &resume;
  acc.get_proc_name = &get_proc_name;
  Spaces s;
  s.cached = unw_create_addr_space(&acc, 0);
  s.uncached = unw_create_addr_space(&acc, 0);
  if (s.cached != nullptr) unw_set_caching_policy(s.cached, UNW_CACHE_GLOBAL);
  if (s.uncached != nullptr) unw_set_caching_policy(s.uncached, UNW_CACHE_NONE);
  return s;
}

Spaces g_spaces;
std::once_flag g_spaces_once;

}  // namespace

LoadedSegments::LoadedSegments() noexcept {
  // The spaces are made here, outside any signal handler, before the first
  // unwind that may run in one.
  std::call_once(g_spaces_once, [] { g_spaces = make_spaces(); });
  const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  struct Collect {
    LoadedSegments* self;
    std::uintptr_t page;
  } collect{this, page};
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* arg) {
        auto& c = *static_cast<Collect*>(arg);
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_LOAD || c.self->n_ == kMax) continue;
          const std::uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
          const std::uintptr_t hi = lo + ph.p_memsz;
          // Mapped by whole pages.
          c.self->ranges_[c.self->n_++] = {lo & ~(c.page - 1), (hi + c.page - 1) & ~(c.page - 1)};
        }
        return 0;
      },
      &collect);
}

bool LoadedSegments::contains(std::uintptr_t addr, std::size_t len) const noexcept {
  for (std::size_t i = 0; i < n_; ++i) {
    if (addr >= ranges_[i].lo && addr + len <= ranges_[i].hi && addr + len > addr) return true;
  }
  return false;
}

std::size_t dwarf_unwind(const UnwindRegisters& regs, std::uintptr_t lo, std::uintptr_t hi,
                         const LoadedSegments& segments, bool signal_safe, void** pcs,
                         std::size_t max, UnwindMemo* memo) noexcept {
  unw_addr_space_t as = signal_safe ? g_spaces.uncached : g_spaces.cached;
  if (as == nullptr || max == 0 || regs.ip == 0 || hi - lo < sizeof(unw_word_t)) return 0;
  if (regs.sp < lo || regs.sp > hi) return 0;
  constexpr std::size_t kMaxAt = 64;
  max = std::min(max, kMaxAt);
  const std::uintptr_t depth = hi - regs.sp;
  if (memo != nullptr) {
    if (const std::size_t n = memo->find(regs.ip, depth, lo, hi, pcs, max); n > 0) return n;
  }
  Target target{&regs, lo, hi, &segments};
  unw_cursor_t cursor;
  if (unw_init_remote(&cursor, as, &target) < 0) return 0;
  std::size_t n = 0;
  std::size_t at[kMaxAt];  // where each return address was read (from hi)
  bool plain = true;       // each one read just below its caller's stack pointer
  std::uintptr_t last_sp = 0;
  for (;;) {
    unw_word_t ip = 0, sp = 0;
    if (unw_get_reg(&cursor, UNW_REG_IP, &ip) < 0 || ip == 0) break;
    if (unw_get_reg(&cursor, UNW_REG_SP, &sp) < 0) break;
    // Frames lie ever higher on the stack, inside it.
    if (sp < lo || sp > hi || (n > 0 && sp < last_sp)) break;
    last_sp = sp;
    if (n > 0) {
      at[n] = hi - (sp - sizeof(unw_word_t));
      plain = plain && sp - sizeof(unw_word_t) >= lo && stack_word(sp - sizeof(unw_word_t)) == ip;
    }
    pcs[n++] = reinterpret_cast<void*>(ip);  // NOLINT(performance-no-int-to-ptr): a code address
    if (n == max || unw_step(&cursor) <= 0) break;
  }
  if (memo != nullptr && plain && n > 0) {
    try {
      memo->add(regs.ip, depth, pcs, at, n);
    } catch (...) {  // std::bad_alloc: the next stack is unwound again
    }
  }
  return n;
}

#else

LoadedSegments::LoadedSegments() noexcept = default;

bool LoadedSegments::contains(std::uintptr_t, std::size_t) const noexcept { return false; }

std::size_t dwarf_unwind(const UnwindRegisters&, std::uintptr_t, std::uintptr_t,
                         const LoadedSegments&, bool, void**, std::size_t, UnwindMemo*) noexcept {
  return 0;
}

#endif

}  // namespace corun::detail
