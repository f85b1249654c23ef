// io.hpp: waiting on file descriptors without holding a worker.
//
// corun::io::Fd owns a file descriptor that the kernel can poll (a socket, a
// pipe, an eventfd, a terminal; not a regular file): made non-blocking and
// registered with the runtime's network poller once, when it is opened in a
// coroutine. A coroutine whose read or write would block parks until the
// descriptor is ready, so its worker runs other coroutines meanwhile.
//
//   - Errors are std::system_error with the errno and the operation's name
//     ("read: Connection reset by peer"). A deadline that passes ends the
//     call with std::errc::timed_out; a call blocked while another coroutine
//     closes the descriptor ends with std::errc::bad_file_descriptor, as does
//     any call on a closed Fd.
//   - read() returns what is there (at most n bytes; 0 only at end of file);
//     read_exact() fills the whole buffer or throws (io::UnexpectedEof at an
//     end of file before the end): never a silent short read. write_all()
//     writes everything or throws.
//   - Called from a plain thread (outside any coroutine) the calls work too:
//     the thread blocks in poll(2), deadlines included.
//   - A coroutine blocked in a call gets corun::Cancelled when its runtime
//     shuts down; the descriptor stays open and usable.
//   - Writes use write(2): on a pipe whose reader is gone the process gets
//     SIGPIPE unless it ignores it (sockets: net.hpp sends with
//     MSG_NOSIGNAL).
#pragma once

#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <system_error>

namespace corun::detail {
struct PollDesc;
struct FdAccess;
}  // namespace corun::detail

namespace corun::io {

using Clock = std::chrono::steady_clock;
// kNoDeadline: a call may wait forever (the default).
inline constexpr Clock::time_point kNoDeadline = Clock::time_point::max();

// UnexpectedEof: read_exact() reached the end of file before filling its
// buffer (errc::io_error).
class UnexpectedEof : public std::system_error {
 public:
  UnexpectedEof(const char* op, std::size_t got, std::size_t wanted);
};

class Fd {
 public:
  Fd() noexcept = default;
  // Takes ownership of `fd` (closed by close() or the destructor), makes it
  // non-blocking and, in a coroutine, registers it with the runtime's
  // poller. Throws std::system_error (EPERM: the kernel cannot poll it, as
  // a regular file); `fd` is then left open, and still the caller's.
  explicit Fd(int fd);
  Fd(Fd&& other) noexcept;
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();

  int native_handle() const noexcept { return fd_; }
  bool is_open() const noexcept { return fd_ >= 0; }

  std::size_t read(void* buf, std::size_t n);
  void read_exact(void* buf, std::size_t n);
  // write() writes at least one byte (all n when it can); write_all() all.
  std::size_t write(const void* buf, std::size_t n);
  void write_all(const void* buf, std::size_t n);

  // wait_readable()/wait_writable() return once the descriptor may be read
  // or written without blocking (for calls made on native_handle()).
  void wait_readable();
  void wait_writable();

  // Deadlines for the calls that read (read, read_exact, wait_readable,
  // accept) and write (write, write_all, wait_writable, connect): absolute,
  // on the steady clock; kNoDeadline: none. They apply to calls that begin
  // waiting after they are set.
  void set_deadline(Clock::time_point t) noexcept {
    set_read_deadline(t);
    set_write_deadline(t);
  }
  void set_read_deadline(Clock::time_point t) noexcept;
  void set_write_deadline(Clock::time_point t) noexcept;

  // close() wakes the calls blocked on this Fd in other coroutines (they
  // fail with EBADF), waits until they have left, and closes the
  // descriptor. Idempotent; the destructor calls it.
  void close() noexcept;
  // release() gives the descriptor back, unregistered (and non-blocking).
  int release() noexcept;

  // The engine under every call (net.hpp uses it): `call(fd, ctx, drained)`
  // makes one system call and returns its result (-1 with errno). On EAGAIN
  // (or EINPROGRESS) the caller waits for the descriptor in direction `dir`
  // (0: read, 1: write) and calls again. `drained` set by `call` says the
  // call proved the descriptor empty (read) or full (write), so that the
  // next call waits first instead of making a system call that would fail
  // with EAGAIN. Other errors throw std::system_error(errno, op).
  //
  // `batch`, when given, describes the same call as a readv or a send that
  // the runtime may batch with other coroutines' calls: queued in the
  // worker's io_uring and submitted with them in one system call, the
  // coroutine parked meanwhile. It does so when that saves a system call
  // (another coroutine of the worker is runnable, or calls are queued
  // already); otherwise, and outside a coroutine, `call` runs. A batched
  // readv that returns less than its buffers hold proves the descriptor
  // drained.
  using Call = long (*)(int fd, void* ctx, bool& drained);
  struct BatchCall {
    enum Kind : std::uint8_t { kReadv, kSend };
    Kind kind;
    const iovec* iov = nullptr;  // kReadv: the buffers, and how many
    int iovcnt = 0;
    const void* buf = nullptr;  // kSend: the bytes, and send(2)'s flags
    std::size_t len = 0;
    int flags = 0;
  };
  long perform(int dir, const char* op, Call call, void* ctx, const BatchCall* batch = nullptr);
  // wait() waits until direction `dir` is ready (after a call that proved it
  // was not), or throws (deadline, closed, Cancelled).
  void wait(int dir, const char* op);
  // set_ready(dir, false): the next wait() in `dir` waits for a new event;
  // (dir, true): the next call in `dir` tries the system call first.
  void set_ready(int dir, bool ready) noexcept;

 private:
  friend struct detail::FdAccess;  // select's I/O cases (corun/select.hpp)
  void check_open(const char* op) const;
  void wait_ready(int dir, const char* op);

  int fd_ = -1;
  detail::PollDesc* pd_ = nullptr;  // null: not registered (opened outside a coroutine)
  std::int64_t deadline_ns_[2] = {INT64_MAX, INT64_MAX};
};

}  // namespace corun::io
