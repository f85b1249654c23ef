// linux_advice.hpp: the memory advice and the pidfd that newer Linux
// kernels know, by number, so that corun builds against older kernel
// headers and learns at run time what the running kernel takes (an older
// one answers EINVAL or EBADF).
#pragma once

namespace corun::detail::linux_advice {

// madvise(): commit pages as if read / written (Linux 5.14).
constexpr int kPopulateRead = 22;
constexpr int kPopulateWrite = 23;
// madvise(): make pages guard pages, without a new memory mapping, and
// normal pages again (6.13).
constexpr int kGuardInstall = 102;
constexpr int kGuardRemove = 103;
// process_madvise()'s pidfd for the calling process, PIDFD_SELF_THREAD_GROUP
// (6.15): no file descriptor to keep, and after fork() it means the child.
constexpr int kPidfdSelfProcess = -10001;

}  // namespace corun::detail::linux_advice
