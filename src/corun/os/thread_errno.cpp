// thread_errno.cpp: see thread_errno.hpp.
#include "corun/os/thread_errno.hpp"

#include <cerrno>

namespace corun::detail {

int thread_errno() noexcept { return errno; }
void set_thread_errno(int value) noexcept { errno = value; }

}  // namespace corun::detail
