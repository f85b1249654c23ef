// server_workload.cpp: see server_workload.hpp.
#include "demo/commands/server_workload.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <utility>

#include "corun/corun.hpp"
#include "demo/render/text.hpp"

namespace demo {

namespace {

constexpr auto kConnectTimeout = std::chrono::seconds(10);

}  // namespace

// LineStream reads and writes the protocol's lines on one connection.
class LineStream {
 public:
  explicit LineStream(corun::net::TcpStream stream) : stream_(std::move(stream)) {}

  // next() is the next line without its '\n'; false at the end of the
  // stream (the peer closed it between two lines).
  bool next(std::string& line) {
    while (true) {
      const std::size_t end = buffer_.find('\n');
      if (end != std::string::npos) {
        line.assign(buffer_, 0, end);
        buffer_.erase(0, end + 1);
        return true;
      }
      char chunk[256];
      const std::size_t n = stream_.read(chunk, sizeof chunk);
      if (n == 0) {
        if (buffer_.empty()) return false;
        throw std::runtime_error("read: the connection closed in the middle of a line");
      }
      buffer_.append(chunk, n);
    }
  }

  void send(const std::string& line) { stream_.write_all(line.data(), line.size()); }
  void close() { stream_.close(); }

 private:
  corun::net::TcpStream stream_;
  std::string buffer_;
};

namespace {

// parse_request() reads "<verb> <client> <request>"; false if it is not one.
bool parse_line(std::string_view line, std::string_view verb, int& client, int& request) {
  if (!line.starts_with(verb) || line.size() <= verb.size() || line[verb.size()] != ' ') {
    return false;
  }
  line.remove_prefix(verb.size() + 1);
  const char* end = line.data() + line.size();
  auto [p, ec] = std::from_chars(line.data(), end, client);
  if (ec != std::errc() || p == end || *p != ' ') return false;
  auto [q, ec2] = std::from_chars(p + 1, end, request);
  return ec2 == std::errc() && q == end;
}

std::string ms_text(std::int64_t ns) { return format_ms(static_cast<double>(ns) / 1e6); }

}  // namespace

ServerRun::ServerRun(const ServerSettings& s, Console& console)
    : s_(s),
      console_(console),
      records_(static_cast<std::size_t>(s.clients) * static_cast<std::size_t>(s.requests)),
      client_coroutines_(static_cast<std::size_t>(s.clients)) {
  listening_.add(1);
}

void ServerRun::run_task(std::size_t i, TaskTally& tally) {
  if (i == 0) {
    serve(tally);
  } else {
    run_client(static_cast<int>(i), tally);
  }
}

void ServerRun::say(const std::string& who, const std::string& what) {
  ServerEvent e{0, corun::this_coroutine::worker(), corun::this_coroutine::id(), who, what};
  std::lock_guard<std::mutex> lk(mu_);
  e.t_ns = clock_.elapsed_ns();
  console_.extra(fmt::format("{:>7} ms  P{}  G{}  {}{}\n", ms_text(e.t_ns), e.worker, e.coroutine,
                             who == "server" ? "server: " : who + " ", what));
  events_.push_back(std::move(e));
}

void ServerRun::fail(const std::string& who, const std::exception& e, TaskTally& tally) {
  // After Ctrl-C the server's handlers and the clients stop on their own
  // schedules, and one that stops closes its connection under the other
  // (a client then reads "the server closed the connection"): a
  // consequence of the interrupt, not an error of the run, which reports
  // itself as interrupted (exit 130).
  if (interrupted()) {
    tally.fail();
    return;
  }
  std::string what = fmt::format("{}: {}", who, e.what());
  const auto* sys = dynamic_cast<const std::system_error*>(&e);
  if (sys != nullptr && sys->code() == std::errc::too_many_files_open) {
    what += " (each client takes two descriptors: see ulimit -n)";
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (error_.empty()) error_ = what;
  }
  tally.fail();
}

// serve() is the server: listen, accept a connection per client, a handler
// coroutine for each; done once every handler answered all its requests.
void ServerRun::serve(TaskTally& tally) {
  server_coroutine_ = corun::this_coroutine::id();
  corun::net::TcpListener listener;
  try {
    listener = corun::net::TcpListener::listen("127.0.0.1", 0);
    port_ = listener.local_address().port();
  } catch (const std::exception& e) {
    fail("server", e, tally);
    return;
  }
  say("server", fmt::format("listening on 127.0.0.1:{}", port_.load()));
  listening_.done();
  for (int h = 1; h <= s_.clients; ++h) {
    corun::net::TcpStream conn;
    try {
      conn = listener.accept();
    } catch (const std::exception& e) {
      fail("server", e, tally);
      return;
    }
    handlers_.add(1);
    const std::uint64_t id = corun::go([this, h, &tally, stream = std::move(conn)]() mutable {
      LineStream line_stream(std::move(stream));
      try {
        handle(line_stream);
      } catch (const std::exception& e) {
        fail(fmt::format("server: handler {}", h), e, tally);
        return;
      }
      handlers_.done();
    });
    std::lock_guard<std::mutex> lk(mu_);
    handler_coroutines_.push_back(id);
  }
  listener.close();
  handlers_.wait();
  tally.done();
}

// handle() answers one connection's requests until the client closes it.
void ServerRun::handle(LineStream& conn) {
  std::string line;
  int answered = 0;
  while (answered < s_.requests && conn.next(line)) {
    int client = 0;
    int request = 0;
    if (!parse_line(line, "GET", client, request) || client < 1 || client > s_.clients ||
        request < 1 || request > s_.requests) {
      throw std::runtime_error(fmt::format("unexpected request \"{}\"", line));
    }
    RequestRecord& r = record_of(client, request);
    r.received_ns = clock_.elapsed_ns();
    r.handler_worker = corun::this_coroutine::worker();
    const int now = in_progress_.fetch_add(1) + 1;
    int peak = peak_.load();
    while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
    }
    say("server", fmt::format("request {} from client {}, backend {}", request, client,
                              format_duration(s_.backend)));
    sleep_as(s_.sleep, s_.backend);
    if (interrupted()) return;  // an OS sleep is not cancelled: stop after it
    conn.send(fmt::format("OK {} {}\n", client, request));
    r.replied_ns = clock_.elapsed_ns();
    in_progress_.fetch_sub(1);
    ++answered;
  }
  if (answered < s_.requests) {
    throw std::runtime_error(fmt::format("the client closed its connection after {} of {} requests",
                                         answered, s_.requests));
  }
}

// run_client() is client `client`: connect, then one request after another.
void ServerRun::run_client(int client, TaskTally& tally) {
  const std::string who = fmt::format("client {}", client);
  try {
    listening_.wait();
    if (interrupted()) return;
    LineStream conn(corun::net::TcpStream::connect(
        "127.0.0.1", static_cast<std::uint16_t>(port_.load()), kConnectTimeout));
    std::string line;
    for (int request = 1; request <= s_.requests; ++request) {
      if (interrupted()) return;
      RequestRecord& r = record_of(client, request);
      r.sent_ns = clock_.elapsed_ns();
      say(who, fmt::format("sends request {}", request));
      conn.send(fmt::format("GET {} {}\n", client, request));
      int c = 0;
      int q = 0;
      if (!conn.next(line)) throw std::runtime_error("the server closed the connection");
      if (!parse_line(line, "OK", c, q) || c != client || q != request) {
        throw std::runtime_error(fmt::format("unexpected answer \"{}\"", line));
      }
      r.answered_ns = clock_.elapsed_ns();
      say(who, fmt::format("got its response after {} ms", ms_text(r.answered_ns - r.sent_ns)));
      console_.progress("demo server", answered_.fetch_add(1) + 1,
                        std::int64_t{s_.clients} * s_.requests, "requests");
    }
    conn.close();
    finished_.record(clock_.elapsed_ns());
    tally.done();
  } catch (const std::exception& e) {
    fail(who, e, tally);
  }
}

}  // namespace demo
