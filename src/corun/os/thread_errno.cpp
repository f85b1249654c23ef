// thread_errno.cpp: see thread_errno.hpp.
#include "corun/os/thread_errno.hpp"

#include <cerrno>

namespace corun::detail {

CORUN_OPAQUE_CALL int thread_errno() noexcept { return errno; }
CORUN_OPAQUE_CALL void set_thread_errno(int value) noexcept { errno = value; }

}  // namespace corun::detail
