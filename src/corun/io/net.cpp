// net.cpp: corun::net (see corun/net.hpp) on corun::io::Fd.
#include "corun/net.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "corun/io/sys_io.hpp"
#include "corun/os/thread_errno.hpp"

namespace corun::net {

namespace {

[[noreturn]] void throw_errno(int err, const char* op) {
  throw std::system_error(err, std::generic_category(), op);
}

// new_socket() is a non-blocking TCP socket for `family`, owned by an Fd.
io::Fd new_socket(int family, const char* op) {
  const int s = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0) throw_errno(errno, op);
  try {
    return io::Fd(s);
  } catch (...) {
    ::close(s);
    throw;
  }
}

void set_nodelay_on(int fd, bool on, const char* op) {
  const int v = on ? 1 : 0;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) != 0) throw_errno(errno, op);
}

Address sock_address(int fd, bool peer, const char* op) {
  Address a;
  socklen_t len = sizeof(sockaddr_storage);
  const int r = peer ? getpeername(fd, a.data(), &len) : getsockname(fd, a.data(), &len);
  if (r != 0) throw_errno(errno, op);
  a.set_size(len);
  return a;
}

}  // namespace

// ---------------------------------------------------------------------------
// Address

Address Address::parse(std::string_view host, std::uint16_t port) {
  Address a;
  std::string_view v = host;
  if (v.empty() || v == "localhost") v = "127.0.0.1";
  if (v.size() >= 2 && v.front() == '[' && v.back() == ']') v = v.substr(1, v.size() - 2);
  const std::string h(v);  // inet_pton wants a terminated string: no NUL inside
  const bool one_string = h.find('\0') == std::string::npos;
  auto* v4 = reinterpret_cast<sockaddr_in*>(a.data());
  auto* v6 = reinterpret_cast<sockaddr_in6*>(a.data());
  if (one_string && inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.size_ = sizeof(sockaddr_in);
  } else if (one_string && inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    a.size_ = sizeof(sockaddr_in6);
  } else {
    throw std::invalid_argument("corun::net: expected a numeric IPv4 or IPv6 address, got \"" +
                                std::string(host) + "\"");
  }
  return a;
}

void Address::set_port(std::uint16_t port) noexcept {
  if (storage_.ss_family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port);
  } else if (storage_.ss_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port);
  }
}

std::uint16_t Address::port() const noexcept {
  if (storage_.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  }
  if (storage_.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  }
  return 0;
}

std::string Address::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (storage_.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(port());
  }
  if (storage_.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf,
              sizeof buf);
    std::string s(1, '[');  // (appended piecewise: GCC 12 misreads "[" + string)
    s.append(buf).append("]:").append(std::to_string(port()));
    return s;
  }
  return "(none)";
}

// ---------------------------------------------------------------------------
// TcpStream

TcpStream TcpStream::connect(std::string_view host, std::uint16_t port,
                             std::chrono::nanoseconds timeout) {
  const std::vector<Address> to = resolve(host, port);
  return connect(std::span<const Address>(to), timeout);
}

TcpStream TcpStream::connect(const Address& to, std::chrono::nanoseconds timeout) {
  io::Fd fd = new_socket(to.data()->sa_family, "connect");
  set_nodelay_on(fd.native_handle(), true, "connect: setsockopt");
  if (timeout > std::chrono::nanoseconds::zero()) {
    fd.set_write_deadline(io::Clock::now() + timeout);
  }
  fd.set_ready(1, false);  // events from before the connection are no proof of it
  if (::connect(fd.native_handle(), to.data(), to.size()) != 0) {
    if (errno != EINPROGRESS && errno != EINTR) throw_errno(errno, "connect");
    for (;;) {
      fd.wait(1, "connect");
      fd.set_ready(1, false);
      int err = 0;
      socklen_t len = sizeof err;
      if (getsockopt(fd.native_handle(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
        err = detail::thread_errno();  // after the wait: maybe another thread
      }
      if (err != 0 && err != EINPROGRESS && err != EALREADY && err != EINTR) {
        throw_errno(err, "connect");
      }
      sockaddr_storage peer{};
      socklen_t plen = sizeof peer;
      if (err == 0 &&
          getpeername(fd.native_handle(), reinterpret_cast<sockaddr*>(&peer), &plen) == 0) {
        break;  // connected (an event before it was only the socket's first state)
      }
    }
  }
  fd.set_write_deadline(io::kNoDeadline);
  fd.set_ready(1, true);  // the event that said so is consumed: writes try first
  return TcpStream(std::move(fd));
}

std::size_t TcpStream::read(void* buf, std::size_t n) {
  if (n == 0) return 0;
  if (spare_begin_ != spare_end_) {  // read ahead last time
    const std::size_t k = std::min<std::size_t>(n, spare_end_ - spare_begin_);
    std::memcpy(buf, spare_ + spare_begin_, k);
    spare_begin_ = static_cast<std::uint8_t>(spare_begin_ + k);
    return k;
  }
  iovec iov[2] = {{buf, n}, {spare_, kSpare}};
  const io::Fd::BatchCall batch{.kind = io::Fd::BatchCall::kReadv, .iov = iov, .iovcnt = 2};
  const long r = fd_.perform(
      0, "read",
      [](int fd, void* ctx, bool& drained) -> long {
        const auto* v = static_cast<const iovec*>(ctx);
        const long got = detail::sys_readv(fd, v, 2);
        // Fewer bytes than asked for: the socket had no more (a stream
        // socket returns what it has). End of file is no proof: it repeats.
        drained = got > 0 && static_cast<std::size_t>(got) < v[0].iov_len + v[1].iov_len;
        return got;
      },
      iov, &batch);
  const auto got = static_cast<std::size_t>(r);
  if (got <= n) return got;
  spare_begin_ = 0;
  spare_end_ = static_cast<std::uint8_t>(got - n);
  return n;
}

void TcpStream::read_exact(void* buf, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    const std::size_t r = read(static_cast<char*>(buf) + got, n - got);
    if (r == 0) throw io::UnexpectedEof("read_exact", got, n);
    got += r;
  }
}

std::size_t TcpStream::write(const void* buf, std::size_t n) {
  if (n == 0) return 0;
  const io::Fd::BatchCall batch{
      .kind = io::Fd::BatchCall::kSend, .buf = buf, .len = n, .flags = MSG_NOSIGNAL};
  return static_cast<std::size_t>(fd_.perform(
      1, "write",
      [](int fd, void* ctx, bool&) -> long {
        const auto* b = static_cast<const io::Fd::BatchCall*>(ctx);
        return detail::sys_send(fd, b->buf, b->len, b->flags);
      },
      const_cast<io::Fd::BatchCall*>(&batch), &batch));
}

void TcpStream::write_all(const void* buf, std::size_t n) {
  std::size_t done = 0;
  while (done < n) done += write(static_cast<const char*>(buf) + done, n - done);
}

void TcpStream::shutdown(int how) {
  if (!fd_.is_open()) throw_errno(EBADF, "shutdown");
  if (::shutdown(fd_.native_handle(), how) != 0) throw_errno(errno, "shutdown");
}

void TcpStream::set_nodelay(bool on) {
  if (!fd_.is_open()) throw_errno(EBADF, "setsockopt");
  set_nodelay_on(fd_.native_handle(), on, "setsockopt");
}

Address TcpStream::local_address() const {
  return sock_address(fd_.native_handle(), false, "getsockname");
}

Address TcpStream::peer_address() const {
  return sock_address(fd_.native_handle(), true, "getpeername");
}

// ---------------------------------------------------------------------------
// TcpListener

TcpListener TcpListener::listen(std::string_view host, std::uint16_t port, int backlog) {
  return listen(resolve(host, port).front(), backlog);
}

TcpListener TcpListener::listen(const Address& at, int backlog) {
  TcpListener l;
  l.fd_ = new_socket(at.data()->sa_family, "listen");
  const int s = l.fd_.native_handle();
  const int one = 1;
  if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
    throw_errno(errno, "listen: setsockopt");
  }
  if (::bind(s, at.data(), at.size()) != 0) {
    throw std::system_error(errno, std::generic_category(), "bind " + at.to_string());
  }
  if (::listen(s, backlog) != 0) throw_errno(errno, "listen");
  return l;
}

TcpStream TcpListener::accept() {
  const long r = fd_.perform(
      0, "accept",
      [](int fd, void*, bool&) -> long {
        const int c = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0 && errno == ECONNABORTED) errno = EINTR;  // gone before accepted: next
        return c;
      },
      nullptr);
  const int s = static_cast<int>(r);
  try {
    set_nodelay_on(s, true, "accept: setsockopt");
    return TcpStream(io::Fd(s));
  } catch (...) {
    ::close(s);
    throw;
  }
}

Address TcpListener::local_address() const {
  return sock_address(fd_.native_handle(), false, "getsockname");
}

}  // namespace corun::net
