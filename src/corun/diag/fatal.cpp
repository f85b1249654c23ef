// fatal.cpp: see fatal.hpp.
#include "corun/diag/fatal.hpp"

#include <cxxabi.h>
#include <signal.h>  // NOLINT(modernize-deprecated-headers): POSIX sigaction, sigaltstack
#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <typeinfo>

namespace corun::detail {

namespace {

void write_all(const char* p, std::size_t n) noexcept {
  while (n > 0) {
    ssize_t k = ::write(STDERR_FILENO, p, n);
    if (k <= 0) return;
    p += k;
    n -= static_cast<std::size_t>(k);
  }
}

std::atomic<bool> g_dying{false};

[[noreturn]] void die() noexcept {
  std::fflush(stdout);
  _exit(kFatalExitCode);
}

struct sigaction g_prev_segv;
struct sigaction g_prev_bus;
std::atomic<OverflowProbe> g_overflow_probe{nullptr};

// on_fault() reports a fault in a coroutine's guard page as a stack overflow.
// Only async-signal-safe calls here.
void on_fault(int sig, siginfo_t* info, void* uctx) {
  const OverflowProbe probe = g_overflow_probe.load(std::memory_order_acquire);
  OverflowSite site;
  if (probe != nullptr && probe(info->si_addr, &site)) {
    g_dying.store(true, std::memory_order_relaxed);
    char msg[192];
    int n = std::snprintf(msg, sizeof msg,
                          "fatal error: stack overflow in coroutine %llu (stack %zu KiB): "
                          "raise Config::stack_size\n",
                          site.id, site.stack_bytes >> 10);
    write_all(msg, n > 0 ? static_cast<std::size_t>(n) : 0);
    _exit(kFatalExitCode);
  }
  // Not ours: hand the fault to whoever handled it before.
  const struct sigaction& prev = sig == SIGSEGV ? g_prev_segv : g_prev_bus;
  if ((prev.sa_flags & SA_SIGINFO) != 0 && prev.sa_sigaction != nullptr) {
    prev.sa_sigaction(sig, info, uctx);
    return;
  }
  if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN && prev.sa_handler != nullptr) {
    prev.sa_handler(sig);
    return;
  }
  signal(sig, SIG_DFL);  // returning re-runs the faulting instruction: default action
}

struct AltStack {
  void* mem = nullptr;
  ~AltStack() {
    if (mem != nullptr) {
      stack_t off{};
      off.ss_flags = SS_DISABLE;
      sigaltstack(&off, nullptr);
      std::free(mem);
    }
  }
};
thread_local AltStack t_alt_stack;

}  // namespace

bool fatal_in_progress() noexcept { return g_dying.load(std::memory_order_relaxed); }

void fatal(const char* format, ...) {
  g_dying.store(true, std::memory_order_relaxed);
  char buf[1024];
  va_list args;
  va_start(args, format);
  int n = std::vsnprintf(buf, sizeof buf, format, args);
  va_end(args);
  write_all("fatal error: ", 13);
  write_all(buf, n < 0 ? 0 : std::min<std::size_t>(static_cast<std::size_t>(n), sizeof buf - 1));
  write_all("\n", 1);
  die();
}

void fatal_raw(const char* text, unsigned long length) {
  g_dying.store(true, std::memory_order_relaxed);
  write_all(text, length);
  die();
}

void panic_uncaught(unsigned long long id) noexcept {
  const std::type_info* type = abi::__cxa_current_exception_type();
  const char* what = nullptr;
  try {
    throw;
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  // __cxa_demangle() allocates: with memory exhausted it fails (status -1)
  // and the mangled name is printed instead.
  int status = -1;
  char* demangled =
      type != nullptr ? abi::__cxa_demangle(type->name(), nullptr, nullptr, &status) : nullptr;
  const char* name = status == 0 && demangled != nullptr ? demangled
                     : type != nullptr                   ? type->name()
                                                         : "of unknown type";
  if (what != nullptr) fatal("panic: coroutine %llu: uncaught exception %s: %s", id, name, what);
  fatal("panic: coroutine %llu: uncaught exception %s", id, name);
}

void install_overflow_handler(OverflowProbe probe) {
  g_overflow_probe.store(probe, std::memory_order_release);
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = &on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &g_prev_segv);
    sigaction(SIGBUS, &sa, &g_prev_bus);
  });
  if (t_alt_stack.mem == nullptr) {
    constexpr std::size_t kAltStackSize = 64 * 1024;
    t_alt_stack.mem = std::malloc(kAltStackSize);
    stack_t ss{};
    ss.ss_sp = t_alt_stack.mem;
    ss.ss_size = kAltStackSize;
    sigaltstack(&ss, nullptr);
  }
}

void remove_overflow_handler_for_thread() {
  if (t_alt_stack.mem != nullptr) {
    stack_t off{};
    off.ss_flags = SS_DISABLE;
    sigaltstack(&off, nullptr);
    std::free(t_alt_stack.mem);
    t_alt_stack.mem = nullptr;
  }
}

}  // namespace corun::detail
