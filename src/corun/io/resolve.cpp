// resolve.cpp: host names to addresses (net::resolve), and connecting to
// the first of several addresses that answers (TcpStream::connect over a
// list, which connect(host, port) uses), as Go's net.Dial does.
//
// A name is looked up with getaddrinfo(3) inside corun::blocking(): the
// lookup may wait on a DNS server for seconds, and if it lasts, the monitor
// hands the worker to another thread so that its other coroutines run on
// (Go's cgo resolver is called the same way, as a system call). Numeric
// addresses, "" and "localhost" need no lookup and get none.
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "corun/blocking.hpp"
#include "corun/net.hpp"

namespace corun::net {

namespace {

class ResolverCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "resolver"; }
  std::string message(int code) const override { return gai_strerror(code); }
};

using AddrInfoList = std::unique_ptr<addrinfo, decltype(&freeaddrinfo)>;

// lookup() is getaddrinfo(3) for stream sockets on `name`, made inside
// blocking(); the error code (EAI_*) is returned, with errno for EAI_SYSTEM.
int lookup(const std::string& name, AddrInfoList& out, int& sys_errno) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  return corun::blocking([&] {
    addrinfo* list = nullptr;
    const int rc = ::getaddrinfo(name.c_str(), nullptr, &hints, &list);
    if (rc == EAI_SYSTEM) sys_errno = errno;  // (read here: the same thread as the call)
    out.reset(list);
    return rc;
  });
}

}  // namespace

const std::error_category& resolver_category() noexcept {
  static const ResolverCategory category;
  return category;
}

std::vector<Address> resolve(std::string_view host, std::uint16_t port) {
  if (host.find('\0') != std::string_view::npos) {
    throw std::invalid_argument("corun::net: expected a host name, got one with a NUL byte");
  }
  try {
    return {Address::parse(host, port)};  // numeric: no lookup
  } catch (const std::invalid_argument&) {
    // a name: looked up below
  }
  const std::string name(host);
  AddrInfoList list(nullptr, &freeaddrinfo);
  int sys_errno = 0;
  const int rc = lookup(name, list, sys_errno);
  const std::string op = "lookup " + name;
  if (rc == EAI_SYSTEM) throw std::system_error(sys_errno, std::generic_category(), op);
  if (rc != 0) throw std::system_error(rc, resolver_category(), op);
  std::vector<Address> found;
  for (const addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    Address a;
    std::memcpy(a.data(), ai->ai_addr, ai->ai_addrlen);
    a.set_size(ai->ai_addrlen);
    a.set_port(port);
    const bool seen = std::any_of(found.begin(), found.end(), [&](const Address& b) {
      return b.size() == a.size() && std::memcmp(b.data(), a.data(), a.size()) == 0;
    });
    if (!seen) found.push_back(a);
  }
  if (found.empty()) throw std::system_error(EAI_NONAME, resolver_category(), op);
  return found;
}

// connect() over a list: each address in turn until one connects. With a
// timeout, each attempt gets an equal share of what is left, but at least
// two seconds of it (Go's dialSerial), so that one address that never
// answers does not use up the time of those after it. Failing all, it throws
// what the first attempt threw (Go reports the first error too).
TcpStream TcpStream::connect(std::span<const Address> to, std::chrono::nanoseconds timeout) {
  using std::chrono::nanoseconds;
  if (to.empty()) throw std::invalid_argument("corun::net: connect: expected at least one address");
  const bool timed = timeout > nanoseconds::zero();
  const io::Clock::time_point deadline = timed ? io::Clock::now() + timeout : io::kNoDeadline;
  std::exception_ptr first;
  for (std::size_t i = 0; i < to.size(); ++i) {
    nanoseconds budget = nanoseconds::zero();
    if (timed) {
      const nanoseconds left = deadline - io::Clock::now();
      if (left <= nanoseconds::zero()) break;
      constexpr nanoseconds kMinimumShare = std::chrono::seconds(2);
      const auto share = left / static_cast<long>(to.size() - i);
      budget = std::max(share, std::min(left, kMinimumShare));
    }
    try {
      return connect(to[i], budget);
    } catch (const std::system_error&) {
      if (!first) first = std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
  throw std::system_error(std::make_error_code(std::errc::timed_out), "connect");
}

}  // namespace corun::net
