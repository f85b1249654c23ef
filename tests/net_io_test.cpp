// net_io_test.cpp: the network poller and the I/O API (corun/net.hpp,
// corun/io.hpp): round trips, a coroutine parked on a socket leaves its
// worker to others and wakes when data comes, deadlines, close from
// another coroutine, cancellation at shutdown, the deadlock detector, plain
// threads, pipes and eventfds, errors.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "corun/corun.hpp"
#include "corun/io.hpp"
#include "corun/net.hpp"
#include "net_test_support.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using corun::net::TcpListener;
using corun::net::TcpStream;
using corun::test::ProcsTest;
using corun::test::Watchdog;

using Pair = corun::test::StreamPair;
using corun::test::connected_pair;

class NetIo : public ProcsTest {};
CORUN_PROCS_TESTS(NetIo);

TEST_P(NetIo, EchoRoundTrips) {
  Watchdog dog("echo round trips hung");
  constexpr int kConns = 8;
  constexpr int kTrips = 200;
  std::atomic<long> echoed{0};
  corun::run({.procs = procs()}, [&] {
    auto ln = TcpListener::listen("127.0.0.1", 0);
    const auto addr = ln.local_address();
    EXPECT_EQ(addr.to_string(), "127.0.0.1:" + std::to_string(addr.port()));
    corun::WaitGroup served;
    served.add(kConns);
    corun::go([&] {
      for (int i = 0; i < kConns; ++i) {
        corun::go([&, c = ln.accept()]() mutable {
          char buf[100];
          for (std::size_t k; (k = c.read(buf, sizeof buf)) > 0;) {
            c.write_all(buf, k);
            echoed.fetch_add(static_cast<long>(k));
          }
          served.done();
        });
      }
    });
    corun::WaitGroup wg;
    wg.add(kConns);
    for (int i = 0; i < kConns; ++i) {
      corun::go([&, i] {
        auto c = TcpStream::connect(addr);
        for (int t = 0; t < kTrips; ++t) {
          char msg[64];
          char back[64];
          std::memset(msg, 'a' + (i + t) % 26, sizeof msg);
          c.write_all(msg, sizeof msg);
          c.read_exact(back, sizeof back);
          EXPECT_EQ(std::memcmp(msg, back, sizeof msg), 0);
        }
        c.shutdown();  // the server reads end of file
        char b;
        EXPECT_EQ(c.read(&b, 1), 0u);
        wg.done();
      });
    }
    wg.wait();
    served.wait();
  });
  EXPECT_EQ(echoed.load(), long{kConns} * kTrips * 64);
}

// A coroutine blocked in read() parks: at procs 1 another coroutine keeps
// running on the only worker, and its write wakes the reader.
TEST_P(NetIo, ReadParksAndWakes) {
  Watchdog dog("a parked read never woke");
  corun::run({.procs = procs()}, [&] {
    Pair p = connected_pair();
    std::atomic<int> ticks{0};
    corun::Channel<int> got(1);
    corun::go([&] {
      char buf[16];
      const std::size_t n = p.server.read(buf, sizeof buf);
      got.send(static_cast<int>(n) * 1000 + ticks.load());
    });
    for (int i = 0; i < 5; ++i) {
      corun::this_coroutine::sleep_for(2ms);
      ticks.fetch_add(1);
    }
    p.client.write_all("hello", 5);
    const int v = *got.recv();
    EXPECT_EQ(v / 1000, 5);
    EXPECT_EQ(v % 1000, 5);  // the reader did not hold the worker
  });
}

TEST_P(NetIo, ReadDeadline) {
  Watchdog dog("a read deadline never fired");
  corun::run({.procs = procs()}, [&] {
    Pair p = connected_pair();
    p.server.set_read_deadline(Clock::now() + 50ms);
    const auto start = Clock::now();
    char buf[8];
    try {
      (void)p.server.read(buf, sizeof buf);
      ADD_FAILURE() << "read returned on a silent socket";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), std::errc::timed_out) << e.what();
      EXPECT_NE(std::string(e.what()).find("read"), std::string::npos) << e.what();
    }
    const auto waited = Clock::now() - start;
    EXPECT_GE(waited, 50ms);
    EXPECT_LT(waited, 5s);
    // The stream is still usable: with the deadline gone, data arrives.
    p.server.set_read_deadline(corun::io::kNoDeadline);
    p.client.write_all("x", 1);
    EXPECT_EQ(p.server.read(buf, sizeof buf), 1u);
  });
}

TEST_P(NetIo, AcceptDeadline) {
  corun::run({.procs = procs()}, [&] {
    auto ln = TcpListener::listen("127.0.0.1", 0);
    ln.set_deadline(Clock::now() + 20ms);
    try {
      (void)ln.accept();
      ADD_FAILURE() << "accept returned with nobody connecting";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), std::errc::timed_out) << e.what();
    }
  });
}

TEST_P(NetIo, CloseWakesBlockedReader) {
  Watchdog dog("close() did not wake a blocked reader");
  corun::Runtime rt({.procs = procs()});
  std::atomic<int> result{-1};
  rt.go([&] {
    Pair p = connected_pair();
    corun::WaitGroup read_done;
    read_done.add(1);
    corun::go([&] {
      char buf[8];
      try {
        (void)p.server.read(buf, sizeof buf);
        result = 0;
      } catch (const std::system_error& e) {
        result = e.code() == std::errc::bad_file_descriptor ? 1 : 2;
      }
      read_done.done();
    });
    // Closed once the reader is parked in read(): a call that starts after
    // close() would race with it (one Fd, two coroutines, no order between
    // them), which is not what this test is about.
    while (rt.coroutine_dump().find("[I/O wait") == std::string::npos) {
      corun::this_coroutine::sleep_for(1ms);
    }
    p.server.close();
    read_done.wait();
  });
  rt.wait();
  EXPECT_EQ(result.load(), 1);
}

// The same close() run by a destructor while an exception unwinds: it
// waits for the reader it woke to leave its call, and at procs 1 that
// reader runs on the closing coroutine's own worker (it used to spin with
// the thread's yield, which never let the reader run: a hang).
TEST_P(NetIo, CloseDuringUnwindingLetsTheWokenReaderLeave) {
  Watchdog dog("close() during unwinding hung waiting for the reader it woke");
  corun::Runtime rt({.procs = procs()});
  std::atomic<int> result{-1};
  std::atomic<bool> caught{false};
  rt.go([&] {
    Pair p = connected_pair();
    auto to_reader = corun::make_channel<TcpStream*>(1);
    corun::WaitGroup read_done;
    read_done.add(1);
    corun::go([&] {
      TcpStream* s = *to_reader.recv();
      char buf[8];
      try {
        (void)s->read(buf, sizeof buf);
        result = 0;
      } catch (const std::system_error& e) {
        result = e.code() == std::errc::bad_file_descriptor ? 1 : 2;
      }
      read_done.done();
    });
    try {
      TcpStream owner = std::move(p.server);  // closed by its destructor, unwinding
      to_reader.send(&owner);
      while (rt.coroutine_dump().find("[I/O wait") == std::string::npos) {
        corun::this_coroutine::sleep_for(1ms);  // until the reader is parked in read()
      }
      throw std::runtime_error("unwinding");
    } catch (const std::runtime_error&) {
      caught = true;
    }
    read_done.wait();
  });
  rt.wait();
  EXPECT_TRUE(caught);
  EXPECT_EQ(result.load(), 1);
}

// Shutdown cancels a coroutine blocked on I/O; the descriptor is left open
// and consistent: usable afterwards from a plain thread.
TEST_P(NetIo, CancelledAtShutdown) {
  Watchdog dog("shutdown did not cancel an I/O wait");
  std::atomic<bool> cancelled{false};
  Pair p;
  {
    corun::Runtime rt({.procs = procs()});
    corun::Channel<int> ready(1);
    rt.go([&] {
      p = connected_pair();
      ready.send(1);
      char buf[8];
      try {
        (void)p.server.read(buf, sizeof buf);
      } catch (const corun::Cancelled&) {
        cancelled = true;
        throw;
      }
    });
    (void)ready.recv();
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(cancelled.load());
  ASSERT_TRUE(p.server.is_open());
  EXPECT_GE(fcntl(p.server.fd().native_handle(), F_GETFD), 0);
  p.client.write_all("ok", 2);
  char buf[8];
  EXPECT_EQ(p.server.read(buf, sizeof buf), 2u);
  EXPECT_EQ(std::string(buf, 2), "ok");
}

// A coroutine waiting on I/O can be woken from outside the runtime (here a
// plain thread writes): while the main thread waits in Runtime::wait(), the
// deadlock detector must not call that a deadlock.
TEST_P(NetIo, IoWaiterIsNotADeadlock) {
  Watchdog dog("an I/O waiter was never woken");
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  std::atomic<int> got{-1};
  {
    corun::Runtime rt({.procs = procs()});
    rt.go([&] {
      corun::io::Fd r(fds[0]);
      char c = 0;
      got = static_cast<int>(r.read(&c, 1)) * 100 + (c - '0');
    });
    std::thread writer([&] {
      std::this_thread::sleep_for(100ms);
      EXPECT_EQ(::write(fds[1], "7", 1), 1);
    });
    rt.wait();
    writer.join();
  }
  ::close(fds[1]);
  EXPECT_EQ(got.load(), 107);
}

// Two coroutines reading one descriptor: a read that parks because the
// other had cleared the ready flag for its system call is woken when that
// call leaves data behind (else it waits for an event that never comes).
// Reader A's "system call" (Fd::perform's engine) holds its worker until
// reader B, on the other worker, has had ample time to park, then takes
// one of the two bytes in the pipe.
TEST(NetIoTwoReaders, ReadParkedWhileAnotherIsInsideItsCallIsWoken) {
  Watchdog dog("two readers of one pipe hung");
  std::atomic<bool> b_ready{false};
  std::atomic<bool> a_inside{false};
  std::atomic<bool> b_reading{false};
  std::string error;
  corun::run({.procs = 2}, [&] {
    int fds[2];
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
    corun::io::Fd r(fds[0]);
    corun::io::Fd w(fds[1]);
    // A lost wake-up ends as a timed-out read, not as a hang.
    r.set_read_deadline(corun::io::Clock::now() + 5s);
    corun::WaitGroup wg;
    wg.add(2);
    struct Ctx {
      std::atomic<bool>* a_inside;
      std::atomic<bool>* b_reading;
    } ctx{&a_inside, &b_reading};
    corun::go([&] {  // B
      // Takes the pipe's one readiness event: no other is pending later.
      r.wait_readable();
      b_ready = true;
      while (!a_inside.load()) corun::this_coroutine::yield();
      b_reading = true;
      char c;
      try {
        EXPECT_EQ(r.read(&c, 1), 1u);
      } catch (const std::system_error& e) {
        error = e.what();
      }
      wg.done();
    });
    corun::go([&] {  // A
      while (!b_ready.load()) corun::this_coroutine::yield();
      const long got = r.perform(
          0, "read",
          [](int fd, void* c, bool&) -> long {
            auto* x = static_cast<Ctx*>(c);
            x->a_inside->store(true);
            while (!x->b_reading->load()) std::this_thread::yield();
            std::this_thread::sleep_for(200ms);  // B parks meanwhile
            char one;
            return ::read(fd, &one, 1);
          },
          &ctx);
      EXPECT_EQ(got, 1);
      wg.done();
    });
    corun::this_coroutine::sleep_for(20ms);  // B waits for the pipe
    w.write_all("ab", 2);
    wg.wait();
  });
  EXPECT_EQ(error, "");
}

TEST_P(NetIo, PipeAndEventfd) {
  Watchdog dog("a pipe or eventfd wait hung");
  corun::run({.procs = procs()}, [&] {
    int fds[2];
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
    corun::io::Fd r(fds[0]);
    corun::io::Fd w(fds[1]);
    corun::io::Fd ev(eventfd(0, EFD_CLOEXEC));
    corun::Channel<std::string> got(1);
    corun::go([&] {
      char buf[32];
      r.read_exact(buf, 10);
      ev.wait_readable();
      std::uint64_t v = 0;
      ev.read_exact(&v, sizeof v);
      got.send(std::string(buf, 10) + std::to_string(v));
    });
    corun::this_coroutine::sleep_for(2ms);
    w.write_all("0123", 4);
    corun::this_coroutine::sleep_for(2ms);
    w.write_all("456789", 6);
    const std::uint64_t three = 3;
    ev.write_all(&three, sizeof three);
    EXPECT_EQ(*got.recv(), "01234567893");
    // A big write fills the pipe and parks until the reader drains it.
    std::vector<char> big(1 << 20, 'z');
    corun::Channel<int> written(1);
    corun::go([&] {
      w.write_all(big.data(), big.size());
      written.send(1);
    });
    std::size_t total = 0;
    char buf[4096];
    while (total < big.size()) total += r.read(buf, sizeof buf);
    EXPECT_EQ(total, big.size());
    // The writer may still be inside its last write() when the reader has
    // every byte: `big` must outlive the writer, not just its bytes.
    EXPECT_EQ(*written.recv(), 1);
  });
}

// From a plain thread the calls block the thread in poll(2), deadlines too.
TEST(NetIoThread, PlainThreadCallsWork) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  corun::io::Fd r(fds[0]);
  corun::io::Fd w(fds[1]);
  r.set_read_deadline(Clock::now() + 30ms);
  char c;
  const auto start = Clock::now();
  try {
    (void)r.read(&c, 1);
    ADD_FAILURE() << "read returned on an empty pipe";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::timed_out);
  }
  EXPECT_GE(Clock::now() - start, 30ms);
  r.set_read_deadline(corun::io::kNoDeadline);
  std::thread t([&] {
    std::this_thread::sleep_for(10ms);
    w.write_all("!", 1);
  });
  EXPECT_EQ(r.read(&c, 1), 1u);
  EXPECT_EQ(c, '!');
  t.join();
}

TEST(NetIoErrors, ClearErrors) {
  corun::run({.procs = 1}, [&] {
    EXPECT_THROW((void)corun::net::Address::parse("example.com", 80), std::invalid_argument);
    // A port nobody listens on: refused.
    auto ln = TcpListener::listen("127.0.0.1", 0);
    const auto port = ln.local_address().port();
    ln.close();
    try {
      (void)TcpStream::connect("127.0.0.1", port);
      ADD_FAILURE() << "connected to a closed port";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), std::errc::connection_refused) << e.what();
    }
    // End of file before the end: never a silent short read.
    Pair p = connected_pair();
    p.client.write_all("abc", 3);
    p.client.shutdown();
    char buf[10];
    try {
      p.server.read_exact(buf, sizeof buf);
      ADD_FAILURE() << "read_exact returned short";
    } catch (const corun::io::UnexpectedEof& e) {
      EXPECT_NE(std::string(e.what()).find("3 of 10"), std::string::npos) << e.what();
    }
    // A closed stream: EBADF, named.
    p.server.close();
    try {
      (void)p.server.read(buf, 1);
      ADD_FAILURE();
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), std::errc::bad_file_descriptor);
    }
    // A regular file cannot be polled.
    const int f = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(f, 0);
    EXPECT_THROW(corun::io::Fd{f}, std::system_error);
    ::close(f);
  });
}

TEST(NetIoErrors, Ipv6Loopback) {
  corun::run({.procs = 1}, [&] {
    TcpListener ln;
    try {
      ln = TcpListener::listen("::1", 0);
    } catch (const std::system_error& e) {
      GTEST_SKIP() << "no IPv6 loopback here: " << e.what();
    }
    EXPECT_TRUE(ln.local_address().is_ipv6());
    auto c = TcpStream::connect("[::1]", ln.local_address().port());
    auto s = ln.accept();
    c.write_all("v6", 2);
    char b[2];
    s.read_exact(b, 2);
    EXPECT_EQ(std::string(b, 2), "v6");
  });
}

// One request-response exchange at procs 2: the worker that polls and finds
// the other end's coroutine ready runs it itself and wakes no idle worker
// for it (Go's findrunnable does the same), so the two coroutines take turns
// on one worker and the other sleeps. A wake-up per poll made the idle
// worker wake, find nothing and sleep again: the worker threads slept twice
// per round trip (8,000 times in 4,000), and a round trip took twice Go's
// time. Counted as the worker threads' sleeps, which do not depend on the
// load.
TEST(NetIoWakeups, ARequestResponsePairDoesNotWakeTheIdleWorker) {
  Watchdog dog("a ping-pong over one connection did not finish");
  constexpr int kTrips = 4000;
  long slept = -1;
  {
    corun::Runtime rt({.procs = 2});
    auto worker_sleeps = [] {
      return corun::test::voluntary_switches("corun-w0") +
             corun::test::voluntary_switches("corun-w1");
    };
    rt.go([&] {
      Pair p = connected_pair();
      corun::go([s = std::move(p.server)]() mutable {
        char b[64];
        for (std::size_t k; (k = s.read(b, sizeof b)) > 0;) s.write_all(b, k);
      });
      char b[64] = {};
      p.client.write_all(b, sizeof b);  // (the first trip starts both ends)
      p.client.read_exact(b, sizeof b);
      const long before = worker_sleeps();
      for (int i = 1; i < kTrips; ++i) {
        p.client.write_all(b, sizeof b);
        p.client.read_exact(b, sizeof b);
      }
      slept = worker_sleeps() - before;
    });
    rt.wait();
  }
  ASSERT_GE(slept, 0) << "the worker threads were not found by name";
  EXPECT_LT(slept, kTrips / 10) << "worker threads slept " << slept << " times in " << kTrips
                                << " round trips";
}

// The tracer names the wait.
TEST(NetIoTrace, IoWaitReason) {
  corun::Runtime rt({.procs = 1, .trace = true});
  rt.go([] {
    Pair p = connected_pair();
    corun::go([&] {
      corun::this_coroutine::sleep_for(2ms);
      p.client.write_all("x", 1);
    });
    char b;
    (void)p.server.read(&b, 1);
  });
  rt.wait();
  bool seen = false;
  for (const auto& e : rt.trace()) {
    if (e.kind == corun::TraceKind::kRunStop && std::string(e.wait) == "I/O wait") seen = true;
  }
  EXPECT_TRUE(seen);
}

}  // namespace
