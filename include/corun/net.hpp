// net.hpp: TCP, shaped like Go's net package, on corun::io::Fd (io.hpp):
// a coroutine that accepts, connects, reads or writes parks until the
// socket is ready; its worker runs other coroutines meanwhile.
//
//   auto ln = corun::net::TcpListener::listen("127.0.0.1", 0);  // 0: any free port
//   corun::go([&] { auto c = ln.accept(); char b[512]; c.write_all(b, c.read(b, sizeof b)); });
//   auto s = corun::net::TcpStream::connect("127.0.0.1", ln.local_address().port());
//
// Hosts are numeric addresses (IPv4 "127.0.0.1", IPv6 "::1" or "[::1]"; ""
// and "localhost" as "127.0.0.1") or names, looked up with getaddrinfo(3)
// inside corun::blocking() so that the worker's other coroutines run while
// a DNS server answers (resolve() below). Streams have TCP_NODELAY on (as
// Go's). Errors: io.hpp; a failed lookup, resolver_category().
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "corun/io.hpp"

namespace corun::net {

// Address: an IPv4 or IPv6 address and a port.
class Address {
 public:
  Address() noexcept = default;
  // parse() throws std::invalid_argument for anything but a numeric address
  // (no lookup: resolve() looks names up).
  static Address parse(std::string_view host, std::uint16_t port);
  std::uint16_t port() const noexcept;
  void set_port(std::uint16_t port) noexcept;
  bool is_ipv6() const noexcept { return storage_.ss_family == AF_INET6; }
  std::string to_string() const;  // "127.0.0.1:8080", "[::1]:8080"

  const sockaddr* data() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
  sockaddr* data() noexcept { return reinterpret_cast<sockaddr*>(&storage_); }
  socklen_t size() const noexcept { return size_; }
  void set_size(socklen_t n) noexcept { size_ = n; }

 private:
  sockaddr_storage storage_{};
  socklen_t size_ = 0;
};

// resolve(): the addresses of `host` with `port`, in the order to try them
// (getaddrinfo's, duplicates left out). A numeric address, "" or
// "localhost" is parsed without a lookup; any other name is looked up inside
// corun::blocking() (from a plain thread, a plain call). A name without
// addresses throws std::system_error in resolver_category() ("lookup
// name.invalid: Name or service not known"); a host with a NUL byte,
// std::invalid_argument.
std::vector<Address> resolve(std::string_view host, std::uint16_t port);
// resolver_category(): the error category of getaddrinfo's EAI_* codes.
const std::error_category& resolver_category() noexcept;

class TcpStream {
 public:
  TcpStream() noexcept = default;
  // connect() with a timeout (zero or less: none) fails with
  // std::errc::timed_out when the connection is not made in time.
  static TcpStream connect(const Address& to,
                           std::chrono::nanoseconds timeout = std::chrono::nanoseconds::zero());
  // To a list: each address in turn until one connects, each attempt given
  // an equal share of the timeout left (at least 2 s of it), as Go's
  // dialer; all failing, what the first attempt threw.
  static TcpStream connect(std::span<const Address> to,
                           std::chrono::nanoseconds timeout = std::chrono::nanoseconds::zero());
  // To a host: connect(resolve(host, port), timeout).
  static TcpStream connect(std::string_view host, std::uint16_t port,
                           std::chrono::nanoseconds timeout = std::chrono::nanoseconds::zero());
  // Adopts a connected stream socket (io::Fd's rules; TCP_NODELAY not touched).
  explicit TcpStream(io::Fd fd) noexcept : fd_(std::move(fd)) {}

  // read(): up to n bytes, at least one; 0 when the peer has shut down its side.
  std::size_t read(void* buf, std::size_t n);
  void read_exact(void* buf, std::size_t n);
  std::size_t write(const void* buf, std::size_t n);
  void write_all(const void* buf, std::size_t n);

  // shutdown(): SHUT_WR (the peer reads end of file), SHUT_RD or SHUT_RDWR.
  void shutdown(int how = SHUT_WR);
  void close() noexcept { fd_.close(); }
  bool is_open() const noexcept { return fd_.is_open(); }

  void set_deadline(io::Clock::time_point t) noexcept { fd_.set_deadline(t); }
  void set_read_deadline(io::Clock::time_point t) noexcept { fd_.set_read_deadline(t); }
  void set_write_deadline(io::Clock::time_point t) noexcept { fd_.set_write_deadline(t); }
  void set_nodelay(bool on);

  Address local_address() const;
  Address peer_address() const;
  io::Fd& fd() noexcept { return fd_; }

 private:
  io::Fd fd_;
  // Read-ahead: each read asks the kernel for a few bytes more than the
  // caller's buffer, so that a read that gets fewer than it asked for proves
  // the socket drained, and the next read waits for the poller instead of
  // making a system call that fails with EAGAIN (one system call fewer per
  // request in a request-response exchange). The extra bytes wait here.
  static constexpr std::size_t kSpare = 32;
  unsigned char spare_[kSpare] = {};
  std::uint8_t spare_begin_ = 0;
  std::uint8_t spare_end_ = 0;
};

class TcpListener {
 public:
  TcpListener() noexcept = default;
  // listen(): port 0 picks a free port (local_address() says which).
  // SO_REUSEADDR is on, as Go's. A host name: its first address.
  static TcpListener listen(const Address& at, int backlog = SOMAXCONN);
  static TcpListener listen(std::string_view host, std::uint16_t port, int backlog = SOMAXCONN);

  TcpStream accept();  // TCP_NODELAY on
  void close() noexcept { fd_.close(); }
  bool is_open() const noexcept { return fd_.is_open(); }
  void set_deadline(io::Clock::time_point t) noexcept { fd_.set_read_deadline(t); }
  Address local_address() const;
  io::Fd& fd() noexcept { return fd_; }

 private:
  io::Fd fd_;
};

}  // namespace corun::net
