// sys_io.hpp: the system calls of a socket's read and write, made without
// glibc's thread-cancellation wrappers.
//
// glibc's send(), readv(), read() and write() are cancellation points: each
// brackets its system call with __pthread_enable_asynccancel() and
// __pthread_disable_asynccancel(), two atomic compare-and-swaps on the
// thread's cancellation word and about 120 instructions per call, on code
// pages of their own (on a kernel whose every system call flushes the TLB,
// each page touched after a call costs a page walk). corun never cancels
// its threads (pthread_cancel on a worker is not supported), so syscall(2)
// makes the same call without them: the `echo` round trip's four calls
// lose about 220 of their 1,700 user-space instructions (README,
// "Performance").
//
// syscall(2) is variadic: every argument is passed as a long or a pointer,
// so no register's upper half is left to chance.
//
// Sanitizer builds keep the library calls: their interceptors check the
// buffers (AddressSanitizer) and model the synchronisation that data
// passed through a descriptor carries (ThreadSanitizer).
#pragma once

#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstddef>

namespace corun::detail {

inline long sys_send(int fd, const void* buf, std::size_t n, int flags) noexcept {
#if defined(CORUN_SANITIZE_ADDRESS) || defined(CORUN_SANITIZE_THREAD)
  return ::send(fd, buf, n, flags);
#else
  return ::syscall(SYS_sendto, long{fd}, buf, n, long{flags}, nullptr, 0L);
#endif
}

inline long sys_readv(int fd, const iovec* iov, int count) noexcept {
#if defined(CORUN_SANITIZE_ADDRESS) || defined(CORUN_SANITIZE_THREAD)
  return ::readv(fd, iov, count);
#else
  return ::syscall(SYS_readv, long{fd}, iov, long{count});
#endif
}

inline long sys_read(int fd, void* buf, std::size_t n) noexcept {
#if defined(CORUN_SANITIZE_ADDRESS) || defined(CORUN_SANITIZE_THREAD)
  return ::read(fd, buf, n);
#else
  return ::syscall(SYS_read, long{fd}, buf, n);
#endif
}

inline long sys_write(int fd, const void* buf, std::size_t n) noexcept {
#if defined(CORUN_SANITIZE_ADDRESS) || defined(CORUN_SANITIZE_THREAD)
  return ::write(fd, buf, n);
#else
  return ::syscall(SYS_write, long{fd}, buf, n);
#endif
}

}  // namespace corun::detail
