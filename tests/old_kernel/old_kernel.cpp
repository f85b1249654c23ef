// old_kernel.cpp: runs a command as if on an older Linux kernel, so that the
// fallbacks corun keeps for one are tested on a new one. A seccomp filter
// makes these calls fail as an old kernel would:
//   process_madvise()                        ENOSYS (before 5.10)
//   madvise(MADV_GUARD_INSTALL/_REMOVE)      EINVAL (before 6.13)
//   madvise(MADV_POPULATE_READ/_WRITE)       EINVAL (before 5.14)
// Everything else passes. Usage: old_kernel COMMAND [ARG...]; exit status
// 77 (ctest's "skipped") where no seccomp filter can be installed.
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <iterator>

#include "corun/memory/linux_advice.hpp"

namespace {

#if defined(__x86_64__)
constexpr unsigned kAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr unsigned kAuditArch = AUDIT_ARCH_AARCH64;
#else
#error "old_kernel: unknown architecture"
#endif

constexpr int kSkipped = 77;

// The advice the filter refuses (numbers from the runtime's own list).
constexpr unsigned kPopulateRead = corun::detail::linux_advice::kPopulateRead;
constexpr unsigned kPopulateWrite = corun::detail::linux_advice::kPopulateWrite;
constexpr unsigned kGuardInstall = corun::detail::linux_advice::kGuardInstall;
constexpr unsigned kGuardRemove = corun::detail::linux_advice::kGuardRemove;

constexpr unsigned kNr = offsetof(seccomp_data, nr);
constexpr unsigned kArch = offsetof(seccomp_data, arch);
// The advice is an int: the low half of the argument word (little-endian).
constexpr unsigned kAdvice = offsetof(seccomp_data, args) + 2 * sizeof(__u64);

constexpr sock_filter stmt(unsigned short code, unsigned k) { return {code, 0, 0, k}; }
constexpr sock_filter jump_if(unsigned k, unsigned char yes, unsigned char no) {
  return {BPF_JMP | BPF_JEQ | BPF_K, yes, no, k};
}

const sock_filter kFilter[] = {
    stmt(BPF_LD | BPF_W | BPF_ABS, kArch),
    jump_if(kAuditArch, 1, 0),
    stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    stmt(BPF_LD | BPF_W | BPF_ABS, kNr),
    jump_if(__NR_process_madvise, 0, 1),
    stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
    jump_if(__NR_madvise, 1, 0),
    stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    stmt(BPF_LD | BPF_W | BPF_ABS, kAdvice),
    jump_if(kPopulateRead, 4, 0),
    jump_if(kPopulateWrite, 3, 0),
    jump_if(kGuardInstall, 2, 0),
    jump_if(kGuardRemove, 1, 0),
    stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: old_kernel COMMAND [ARG...]\n");
    return 2;
  }
  sock_fprog prog{static_cast<unsigned short>(std::size(kFilter)),
                  const_cast<sock_filter*>(kFilter)};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
    // A kernel or sandbox without seccomp filters: the test is skipped.
    std::fprintf(stderr, "old_kernel: cannot install the seccomp filter: %s\n",
                 std::strerror(errno));
    return kSkipped;
  }
  execvp(argv[1], argv + 1);
  std::fprintf(stderr, "old_kernel: cannot run %s: %s\n", argv[1], std::strerror(errno));
  return 127;
}
