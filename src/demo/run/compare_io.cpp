// compare_io.cpp: see compare_io.hpp.
#include "demo/run/compare_io.hpp"

#include <arpa/inet.h>
#include <fmt/core.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "corun/corun.hpp"

namespace demo::compare {

namespace {

constexpr auto kConnectTimeout = std::chrono::seconds(10);
// kMessage: a request and its answer are the same 16 bytes: "c<client>
// r<request>", padded; the answer echoes the request.
constexpr std::size_t kMessage = 16;
// kTickInterval: how often run_io_threads() calls tick() while it waits.
constexpr auto kTickInterval = std::chrono::milliseconds(5);

struct Message {
  char bytes[kMessage];
};

Message message(int client, int request) {
  Message m{};
  std::memset(m.bytes, ' ', kMessage);
  const auto r = fmt::format_to_n(m.bytes, kMessage - 1, "c{} r{}", client, request);
  (void)r;
  m.bytes[kMessage - 1] = '\n';
  return m;
}

void check_answer(const Message& sent, const Message& got) {
  if (std::memcmp(sent.bytes, got.bytes, kMessage) != 0) {
    throw std::runtime_error(
        fmt::format("unexpected answer \"{}\"", std::string(got.bytes, kMessage - 1)));
  }
}

}  // namespace

// --- coroutines ------------------------------------------------------------

void IoCoroutineRun::run_task(std::size_t i, TaskTally& tally,
                              const std::function<void()>& client_done) {
  const std::string who = i == 0 ? std::string("server") : fmt::format("client {}", i);
  try {
    if (i == 0) {
      serve();
    } else {
      run_client(static_cast<int>(i));
      client_done();
    }
    tally.done();
  } catch (const corun::Cancelled&) {
    throw;
  } catch (const std::exception& e) {
    fail(who, e);
    tally.fail();
  }
}

std::string IoCoroutineRun::error() const {
  std::lock_guard<std::mutex> lk(mu_);
  return error_;
}

void IoCoroutineRun::fail(const std::string& who, const std::exception& e) {
  std::lock_guard<std::mutex> lk(mu_);
  if (error_.empty()) error_ = fmt::format("{}: {}", who, e.what());
}

// serve() accepts a connection per client and runs a handler coroutine for
// each; it returns once every handler answered all its requests.
void IoCoroutineRun::serve() {
  auto listener = corun::net::TcpListener::listen("127.0.0.1", 0);
  port_ = listener.local_address().port();
  listening_.done();
  corun::WaitGroup handlers;
  for (int h = 1; h <= w_.connections; ++h) {
    handlers.add(1);
    corun::go([this, h, &handlers, conn = listener.accept()]() mutable {
      try {
        Message m;
        for (int r = 0; r < w_.requests; ++r) {
          conn.read_exact(m.bytes, kMessage);
          corun::this_coroutine::sleep_for(w_.backend);
          conn.write_all(m.bytes, kMessage);
        }
      } catch (const corun::Cancelled&) {
        throw;
      } catch (const std::exception& e) {
        fail(fmt::format("server: handler {}", h), e);
      }
      handlers.done();
    });
  }
  listener.close();
  handlers.wait();
}

void IoCoroutineRun::run_client(int client) {
  listening_.wait();
  auto conn = corun::net::TcpStream::connect("127.0.0.1", static_cast<std::uint16_t>(port_.load()),
                                             kConnectTimeout);
  for (int r = 1; r <= w_.requests; ++r) {
    const Message sent = message(client, r);
    Message got;
    conn.write_all(sent.bytes, kMessage);
    conn.read_exact(got.bytes, kMessage);
    check_answer(sent, got);
    answered_.fetch_add(1);
  }
  conn.close();
}

// --- one OS thread per connection -------------------------------------------

namespace {

[[noreturn]] void throw_errno(const char* op) {
  throw std::system_error(errno, std::generic_category(), op);
}

// Socket owns a plain (blocking) socket.
class Socket {
 public:
  explicit Socket(int fd = -1) noexcept : fd_(fd) {}
  Socket(Socket&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Socket& operator=(Socket&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~Socket() { reset(); }
  int fd() const noexcept { return fd_; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }
  // shut() ends both directions: a thread blocked on it returns.
  void shut() const noexcept {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
  }

  void send_all(const char* p, std::size_t n) const {
    while (n > 0) {
      const ssize_t k = ::send(fd_, p, n, MSG_NOSIGNAL);
      if (k < 0 && errno == EINTR) continue;
      if (k < 0) throw_errno("send");
      p += k;
      n -= static_cast<std::size_t>(k);
    }
  }
  // recv_all() fills the buffer; false at an end of stream.
  bool recv_all(char* p, std::size_t n) const {
    while (n > 0) {
      const ssize_t k = ::recv(fd_, p, n, 0);
      if (k < 0 && errno == EINTR) continue;
      if (k < 0) throw_errno("recv");
      if (k == 0) return false;
      p += k;
      n -= static_cast<std::size_t>(k);
    }
    return true;
  }

 private:
  int fd_;
};

Socket tcp_socket() {
  Socket s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (s.fd() < 0) throw_errno("socket");
  return s;
}

// connected_pairs() makes `n` connections over loopback: the client ends
// and the server's, in the same order.
void connected_pairs(int n, std::vector<Socket>& clients, std::vector<Socket>& servers) {
  Socket listener = tcp_socket();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listener.fd(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw_errno("bind");
  }
  if (::listen(listener.fd(), SOMAXCONN) != 0) throw_errno("listen");
  if (::getsockname(listener.fd(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw_errno("getsockname");
  }
  const int one = 1;
  for (int i = 0; i < n; ++i) {
    Socket c = tcp_socket();
    if (::connect(c.fd(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw_errno("connect");
    }
    Socket s(::accept4(listener.fd(), nullptr, nullptr, SOCK_CLOEXEC));
    if (s.fd() < 0) throw_errno("accept");
    // As corun::net does for its streams: small messages go out at once.
    ::setsockopt(c.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(s.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    clients.push_back(std::move(c));
    servers.push_back(std::move(s));
  }
}

}  // namespace

IoThreadRun run_io_threads(const IoWorkload& w, const std::function<void()>& spawned,
                           const std::function<void()>& client_done,
                           const std::function<void()>& tick) {
  IoThreadRun out;
  std::mutex mu;
  auto fail = [&](const std::string& what) {
    std::lock_guard<std::mutex> lk(mu);
    if (out.error.empty()) out.error = what;
  };
  std::vector<Socket> clients;
  std::vector<Socket> servers;
  try {
    connected_pairs(w.connections, clients, servers);
  } catch (const std::exception& e) {
    out.error = e.what();
    return out;
  }
  std::atomic<std::int64_t> answered{0};
  std::atomic<int> running{0};
  std::vector<std::thread> threads;
  threads.reserve(2 * static_cast<std::size_t>(w.connections));
  auto handler = [&](int h) {
    const Socket& conn = servers[static_cast<std::size_t>(h - 1)];
    try {
      Message m;
      for (int r = 0; r < w.requests && conn.recv_all(m.bytes, kMessage); ++r) {
        std::this_thread::sleep_for(w.backend);
        conn.send_all(m.bytes, kMessage);
      }
    } catch (const std::exception& e) {
      fail(fmt::format("server: handler {}: {}", h, e.what()));
    }
    running.fetch_sub(1);
  };
  auto client = [&](int c) {
    const Socket& conn = clients[static_cast<std::size_t>(c - 1)];
    try {
      int r = 1;
      for (; r <= w.requests && !interrupted(); ++r) {
        const Message sent = message(c, r);
        Message got;
        conn.send_all(sent.bytes, kMessage);
        if (!conn.recv_all(got.bytes, kMessage)) {
          throw std::runtime_error("the server closed the connection");
        }
        check_answer(sent, got);
        answered.fetch_add(1);
      }
      if (r > w.requests) client_done();
    } catch (const std::exception& e) {
      fail(fmt::format("client {}: {}", c, e.what()));
    }
    conn.shut();  // the handler reads the end of the stream
    running.fetch_sub(1);
  };
  try {
    for (int i = 1; i <= w.connections; ++i) {
      running.fetch_add(2);
      threads.emplace_back(handler, i);
      threads.emplace_back(client, i);
    }
  } catch (const std::system_error& e) {
    fail(fmt::format("thread creation failed after {}: {}", threads.size(), e.what()));
    running.fetch_sub(threads.size() % 2 == 1 ? 1 : 2);
    for (const Socket& s : clients) s.shut();  // every thread started returns
    for (const Socket& s : servers) s.shut();
  }
  spawned();
  while (running.load() > 0) {
    tick();
    std::this_thread::sleep_for(kTickInterval);
  }
  for (std::thread& t : threads) t.join();
  out.answered = answered.load();
  out.completed = out.error.empty() && out.answered == std::int64_t{w.connections} * w.requests;
  return out;
}

}  // namespace demo::compare
