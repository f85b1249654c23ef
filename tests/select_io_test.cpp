// select_io_test.cpp: select's I/O readiness cases (corun::readable,
// corun::writable) beside channels and timeouts: which case wins, a
// readiness event kept for the next read when another case won, a ready
// descriptor taken without parking, a writer racing a channel sender for
// thousands of rounds, shutdown, misuse, plain threads, the wait reason.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <stdexcept>
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
using corun::io::Fd;
using corun::net::TcpListener;
using corun::net::TcpStream;
using corun::test::ProcsTest;
using corun::test::Watchdog;

// A pipe's two ends, opened inside a coroutine (so registered with its
// runtime's poller).
struct Pipe {
  Fd r;
  Fd w;
};

Pipe make_pipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
  return {Fd(fds[0]), Fd(fds[1])};
}

using Pair = corun::test::StreamPair;
using corun::test::connected_pair;

// wait_for_parks(): sleeps a millisecond at a time (a coroutine or a plain
// thread) until the trace of `rt` (Config::trace) holds `count` stops of a
// coroutine that parked with wait reason `reason`: that many parks have
// happened (the trace, not the coroutine dump, which ThreadSanitizer sees
// race with a coroutine waking while it is read).
void wait_for_parks(const corun::Runtime& rt, const char* reason, std::size_t count) {
  for (;;) {
    std::size_t n = 0;
    for (const corun::TraceEvent& e : rt.trace()) {
      if (e.kind == corun::TraceKind::kRunStop && std::strcmp(e.wait, reason) == 0) ++n;
    }
    if (n >= count) return;
    // A millisecond's sleep, not a yield: each adds to the trace, read whole
    // each time.
    if (corun::this_coroutine::id() != 0) {
      corun::this_coroutine::sleep_for(1ms);
    } else {
      std::this_thread::sleep_for(1ms);
    }
  }
}

class SelectIo : public ProcsTest {};
INSTANTIATE_TEST_SUITE_P(Procs, SelectIo, ::testing::Values(1, 2, 4), corun::test::ProcsName{});

TEST_P(SelectIo, ReadinessWinsOverASilentChannel) {
  Watchdog dog("a readable case never fired");
  corun::run({.procs = procs()}, [&] {
    Pair p = connected_pair();
    corun::Channel<int> quit(0);
    corun::go([&] {
      corun::this_coroutine::sleep_for(5ms);
      p.client.write_all("hello", 5);
    });
    char buf[16];
    std::size_t n = 0;
    const std::size_t taken =
        corun::select(corun::recv(quit),
                      corun::readable(p.server.fd(), [&] { n = p.server.read(buf, sizeof buf); }),
                      corun::timeout(30s));
    EXPECT_EQ(taken, 1u);
    ASSERT_GT(n, 0u);
    std::string got(buf, n);
    while (got.size() < 5) {  // TCP may deliver it in pieces
      got.append(buf, p.server.read(buf, sizeof buf));
    }
    EXPECT_EQ(got, "hello");
  });
}

// A channel wins while the select also waits on the descriptor; data that
// comes afterwards is there for the next select and the next read.
TEST_P(SelectIo, ChannelWinsAndTheLaterDataIsKept) {
  Watchdog dog("a channel case or the later read hung");
  corun::Runtime rt({.procs = procs(), .trace = true});
  rt.go([&] {
    Pipe pipe = make_pipe();
    corun::Channel<int> ch(0);
    corun::go([&] {
      wait_for_parks(rt, "select (I/O)", 1);  // parked on both cases
      ch.send(7);
    });
    int v = 0;
    EXPECT_EQ(corun::select(corun::readable(pipe.r),
                            corun::recv(ch, [&](std::optional<int> x) { v = x.value_or(-1); })),
              1u);
    EXPECT_EQ(v, 7);
    // The slot was released: a new select waits on it, and wakes for data.
    corun::Channel<int> wrote(1);
    corun::go([&] {
      pipe.w.write_all("ab", 2);
      wrote.send(1);
    });
    EXPECT_EQ(corun::select(corun::readable(pipe.r), corun::recv(ch), corun::timeout(30s)), 0u);
    char buf[4];
    EXPECT_EQ(pipe.r.read(buf, 1), 1u);
    EXPECT_EQ(buf[0], 'a');
    // Data that came while nobody waited is read without a select.
    (void)wrote.recv();  // one writer on the Fd at a time
    pipe.w.write_all("c", 1);
    EXPECT_EQ(pipe.r.read(buf + 1, 2), 2u);
    EXPECT_EQ(std::string(buf, 3), "abc");
  });
  rt.wait();
}

TEST_P(SelectIo, TimeoutWinsAndReleasesTheSlot) {
  Watchdog dog("a select's timeout never fired");
  corun::run({.procs = procs()}, [&] {
    Pipe pipe = make_pipe();
    corun::Channel<int> silent(0);
    const auto start = Clock::now();
    EXPECT_EQ(corun::select(corun::readable(pipe.r), corun::recv(silent), corun::timeout(20ms)),
              2u);
    EXPECT_GE(Clock::now() - start, 20ms);
    // Only the I/O case and the timeout: the same.
    EXPECT_EQ(corun::select(corun::readable(pipe.r), corun::timeout(10ms)), 1u);
    // The waiter slot is free again: a read parks in it and wakes.
    corun::go([&] { pipe.w.write_all("z", 1); });
    char c = 0;
    EXPECT_EQ(pipe.r.read(&c, 1), 1u);
    EXPECT_EQ(c, 'z');
  });
}

// A descriptor already readable (writable) is taken in the poll pass: the
// select does not park, so otherwise() is not taken and the trace shows no
// stop for a select. One that is not (a fresh, empty pipe, whose flag says
// "try") is not taken.
TEST(SelectIoPoll, AReadyDescriptorIsTakenWithoutParking) {
  corun::Runtime rt({.procs = 1, .trace = true});
  rt.go([] {
    Pipe pipe = make_pipe();
    EXPECT_EQ(corun::select(corun::readable(pipe.r), corun::otherwise()), 1u);
    EXPECT_EQ(corun::select(corun::writable(pipe.w), corun::otherwise()), 0u);
    pipe.w.write_all("x", 1);
    EXPECT_EQ(corun::select(corun::readable(pipe.r), corun::otherwise()), 0u);
    EXPECT_EQ(corun::select(corun::readable(pipe.r), corun::timeout(30s)), 0u);
    char c;
    EXPECT_EQ(pipe.r.read(&c, 1), 1u);
    EXPECT_EQ(corun::select(corun::readable(pipe.r), corun::otherwise()), 1u);
  });
  rt.wait();
  for (const auto& e : rt.trace()) {
    if (e.kind == corun::TraceKind::kRunStop) {
      EXPECT_EQ(std::string(e.wait).find("select"), std::string::npos) << e.wait;
    }
  }
}

// Thousands of rounds: each round a writer puts one byte in the pipe while
// a sender sends the round's number, both at once; the selector takes both,
// in whichever order select gives them. A readable case must mean a byte is
// there (read without blocking), every byte arrives once and in order, and
// no wake-up is lost (the watchdog).
TEST_P(SelectIo, WriterRacingAChannelSender) {
  Watchdog dog("a select lost a wake-up", std::chrono::seconds(120));
  const long rounds = corun::test::scaled(3000, 300);
  long io_first = 0;
  long chan_first = 0;
  corun::run({.procs = procs()}, [&] {
    Pipe pipe = make_pipe();
    corun::Channel<long> ch(0);
    for (long round = 0; round < rounds; ++round) {
      // write(2) itself: a round's writer may still be returning from
      // write_all() when the next round's starts, and one Fd takes one
      // caller per direction at a time.
      corun::go([&, round] {
        const char b = static_cast<char>(round & 0x7f);
        ASSERT_EQ(::write(pipe.w.native_handle(), &b, 1), 1);
      });
      corun::go([&, round] { ch.send(round); });
      bool got_byte = false;
      bool got_value = false;
      while (!got_byte || !got_value) {
        const std::size_t taken = corun::select(
            corun::recv(ch,
                        [&](std::optional<long> v) {
                          ASSERT_FALSE(got_value);
                          ASSERT_EQ(v, round);
                          got_value = true;
                        }),
            corun::readable(pipe.r,
                            [&] {
                              char b[2];
                              const ssize_t n = ::read(pipe.r.native_handle(), b, sizeof b);
                              ASSERT_EQ(n, 1)
                                  << "round " << round << ": readable, but read() gave " << n;
                              ASSERT_FALSE(got_byte);
                              ASSERT_EQ(b[0], static_cast<char>(round & 0x7f));
                              got_byte = true;
                            }),
            corun::timeout(std::chrono::seconds(corun::test::kSanitized ? 60 : 10)));
        if (taken == 2) {
          pollfd pfd{pipe.r.native_handle(), POLLIN, 0};
          ADD_FAILURE() << "round " << round << " timed out: byte "
                        << (got_byte ? "taken" : (::poll(&pfd, 1, 0) > 0 ? "there" : "missing"))
                        << ", value " << (got_value ? "taken" : "not taken");
          return;  // corun::run cancels the sender
        }
        if (got_byte != got_value) ++(taken == 0 ? chan_first : io_first);
      }
    }
  });
  EXPECT_EQ(io_first + chan_first, rounds);
}

TEST_P(SelectIo, CancelledAtShutdown) {
  Watchdog dog("shutdown did not cancel a select on I/O");
  std::atomic<bool> cancelled{false};
  Pair p;
  {
    // The channels outlive the runtime, whose shutdown cancels the select.
    corun::Channel<int> ready(1);
    corun::Channel<int> never(0);
    corun::Runtime rt({.procs = procs(), .trace = true});
    rt.go([&] {
      p = connected_pair();
      ready.send(1);
      try {
        corun::select(corun::recv(never), corun::readable(p.server.fd()));
      } catch (const corun::Cancelled&) {
        cancelled = true;
        throw;
      }
    });
    (void)ready.recv();
    wait_for_parks(rt, "select (I/O)", 1);
  }
  EXPECT_TRUE(cancelled.load());
  ASSERT_TRUE(p.server.is_open());
  p.client.write_all("ok", 2);
  char buf[8];
  EXPECT_EQ(p.server.read(buf, sizeof buf), 2u);
  EXPECT_EQ(std::string(buf, 2), "ok");
}

TEST(SelectIoMisuse, ClearErrors) {
  Watchdog dog("a misused select hung");
  corun::Runtime rt({.procs = 1, .trace = true});
  rt.go([&] {
    Pipe pipe = make_pipe();
    // Two waiters in one direction: in one select...
    try {
      corun::select(corun::readable(pipe.r), corun::readable(pipe.r), corun::timeout(30s));
      ADD_FAILURE() << "two readable cases on one descriptor were accepted";
    } catch (const std::logic_error& e) {
      EXPECT_NE(std::string(e.what()).find("one waiter per direction"), std::string::npos)
          << e.what();
    }
    // ...or a select beside a parked read, and a read beside a parked select.
    corun::Channel<int> stop(0);
    corun::Channel<int> read_done(1);
    corun::go([&] {
      char c;
      EXPECT_EQ(pipe.r.read(&c, 1), 1u);
      read_done.send(1);
    });
    wait_for_parks(rt, "I/O wait", 1);
    EXPECT_THROW(corun::select(corun::readable(pipe.r), corun::timeout(30s)), std::logic_error);
    pipe.w.write_all("1", 1);
    (void)read_done.recv();
    corun::go([&] { corun::select(corun::readable(pipe.r), corun::recv(stop)); });
    wait_for_parks(rt, "select (I/O)", 1);
    char c;
    EXPECT_THROW((void)pipe.r.read(&c, 1), std::logic_error);
    stop.close();
    // Writable and readable on one descriptor are two directions: fine.
    EXPECT_EQ(corun::select(corun::readable(pipe.w), corun::writable(pipe.w), corun::timeout(30s)),
              1u);
    // A closed Fd, and one closed while the select waits: EBADF.
    Pipe other = make_pipe();
    corun::Channel<int> closed(1);
    corun::go([&] {
      wait_for_parks(rt, "select (I/O)", 2);  // the select coroutine above, then this one
      other.r.close();
      closed.send(1);
    });
    corun::Channel<int> silent(0);
    try {
      corun::select(corun::readable(other.r), corun::recv(silent));
      ADD_FAILURE() << "a select on a closing descriptor returned";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), std::errc::bad_file_descriptor);
    }
    (void)closed.recv();
    try {
      corun::select(corun::readable(other.r), corun::otherwise());
      ADD_FAILURE() << "a select on a closed descriptor returned";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), std::errc::bad_file_descriptor);
    }
  });
  rt.wait();
  // An Fd opened outside a coroutine has no poller to wait on.
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  Fd r(fds[0]);
  Fd w(fds[1]);
  try {
    corun::select(corun::readable(r), corun::otherwise());
    ADD_FAILURE() << "an unregistered Fd was accepted";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("outside a coroutine"), std::string::npos) << e.what();
  }
}

// A plain thread selects on a descriptor its runtime's poller watches; a
// coroutine writes to it a little later (the thread is then most likely
// parked: the poller wakes it; if not, the poll pass takes it: the same
// outcome).
TEST(SelectIoThread, PlainThreadWakesOnReadiness) {
  Watchdog dog("a plain thread's select on I/O never woke");
  corun::Runtime rt({.procs = 2});
  corun::Channel<Pipe*> handoff(1);
  Pipe pipe;
  rt.go([&] {
    pipe = make_pipe();
    handoff.send(&pipe);
    corun::this_coroutine::sleep_for(20ms);
    pipe.w.write_all("t", 1);
  });
  Pipe* p = *handoff.recv();
  corun::Channel<int> silent(0);
  const std::size_t taken =
      corun::select(corun::recv(silent), corun::readable(p->r), corun::timeout(30s));
  EXPECT_EQ(taken, 1u);
  char c = 0;
  EXPECT_EQ(::read(p->r.native_handle(), &c, 1), 1);
  EXPECT_EQ(c, 't');
  rt.wait();
}

// A select waiting on I/O names it: the tracer's stop, the coroutine dump,
// and the deadlock detector (which must not call it a deadlock: a plain
// thread writes from outside).
TEST(SelectIoTrace, WaitReasonAndNoDeadlock) {
  Watchdog dog("a select on I/O was never woken");
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  std::atomic<int> got{-1};
  corun::Runtime rt({.procs = 1, .trace = true});
  rt.go([&] {
    Fd r(fds[0]);
    corun::Channel<int> silent(0);
    corun::select(corun::recv(silent), corun::readable(r, [&] {
                    char c = 0;
                    got = static_cast<int>(r.read(&c, 1)) * 100 + (c - '0');
                  }));
  });
  std::thread writer([&] {
    wait_for_parks(rt, "select (I/O)", 1);
    // Parked for good until the write below: the dump, read now, races
    // with nothing.
    std::string dump;
    while ((dump = rt.coroutine_dump()).find("[select (I/O)") == std::string::npos) {
      std::this_thread::sleep_for(1ms);
    }
    EXPECT_NE(dump.find("[select (I/O)"), std::string::npos) << dump;
    // Through a coroutine: its spawn orders the dump's reads before the
    // selector's wake-up (ThreadSanitizer does not see a pipe's order).
    rt.go([&] { EXPECT_EQ(::write(fds[1], "7", 1), 1); });
  });
  rt.wait();
  writer.join();
  ::close(fds[1]);
  EXPECT_EQ(got.load(), 107);
  bool seen = false;
  for (const auto& e : rt.trace()) {
    if (e.kind == corun::TraceKind::kRunStop && std::string(e.wait) == "select (I/O)") seen = true;
  }
  EXPECT_TRUE(seen);
}

}  // namespace
