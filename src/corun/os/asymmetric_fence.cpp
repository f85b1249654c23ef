// asymmetric_fence.cpp: see asymmetric_fence.hpp.
#include "corun/os/asymmetric_fence.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "corun/diag/fatal.hpp"

namespace corun::detail::asymmetric_fence {

namespace {

long membarrier(int cmd) noexcept { return syscall(__NR_membarrier, cmd, 0u, 0); }

bool register_process() noexcept {
  // CORUN_NO_MEMBARRIER=1 takes the path of a kernel without it (for tests).
  if (const char* off = std::getenv("CORUN_NO_MEMBARRIER");
      off != nullptr && *off != '\0' && std::strcmp(off, "0") != 0) {
    return false;
  }
  const long supported = membarrier(MEMBARRIER_CMD_QUERY);
  if (supported < 0 || (supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return false;
  return membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
}

}  // namespace

bool available() noexcept {
  static const bool registered = register_process();
  return registered;
}

void heavy() noexcept {
  // Registered, it cannot fail (the kernel checks only the command and the
  // registration): a failure would void the callers' proof.
  if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0) {
    fatal("membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) failed after registration");
  }
}

}  // namespace corun::detail::asymmetric_fence
