// net_peer_gone_test.cpp: what a stream's reads and writes report when the
// peer has gone (they are plain system calls, src/corun/io/sys_io.hpp, so
// their failures must still arrive as the errno of the call): a reset
// connection's read is ECONNRESET, a write after shutdown is EPIPE and
// never a SIGPIPE, a write to a reset peer fails, and a pipe's read and
// write move data and see end of file.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <system_error>

#include "corun/corun.hpp"
#include "corun/io.hpp"
#include "corun/net.hpp"
#include "net_test_support.hpp"
#include "test_support.hpp"

namespace {

using corun::net::TcpListener;
using corun::net::TcpStream;
using corun::test::Watchdog;

using Pair = corun::test::StreamPair;
using corun::test::connected_pair;

// reset(): closes `s` with a zero linger time, so the peer gets a RST.
void reset(TcpStream& s) {
  const linger l{.l_onoff = 1, .l_linger = 0};
  ASSERT_EQ(setsockopt(s.fd().native_handle(), SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
  s.close();
}

TEST(NetPeerGone, ReadAfterResetIsConnectionReset) {
  Watchdog dog("read after reset hung");
  corun::run({.procs = 1}, [&] {
    Pair p = connected_pair();
    reset(p.server);
    char buf[16];
    try {
      (void)p.client.read(buf, sizeof buf);
      ADD_FAILURE() << "read from a reset connection returned";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), std::errc::connection_reset) << e.what();
    }
  });
}

TEST(NetPeerGone, WriteAfterShutdownIsBrokenPipeNotASignal) {
  Watchdog dog("write after shutdown hung");
  corun::run({.procs = 1}, [&] {
    Pair p = connected_pair();
    p.client.shutdown(SHUT_WR);
    // The kernel answers EPIPE and, without MSG_NOSIGNAL, raises SIGPIPE,
    // which would end the test process here.
    try {
      (void)p.client.write("x", 1);
      ADD_FAILURE() << "write after shutdown returned";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), std::errc::broken_pipe) << e.what();
    }
  });
}

TEST(NetPeerGone, WriteToResetPeerIsAnError) {
  Watchdog dog("write to a reset peer hung");
  corun::run({.procs = 1}, [&] {
    Pair p = connected_pair();
    reset(p.server);
    char buf[4096] = {};
    // The first writes may be accepted before the RST is seen; a write
    // after it fails.
    try {
      for (int i = 0; i < 1000; ++i) p.client.write_all(buf, sizeof buf);
      ADD_FAILURE() << "1000 writes to a reset connection succeeded";
    } catch (const std::system_error& e) {
      EXPECT_TRUE(e.code() == std::errc::broken_pipe || e.code() == std::errc::connection_reset)
          << e.what();
    }
  });
}

TEST(NetPeerGone, PipeReadWriteAndEndOfFile) {
  Watchdog dog("pipe round trip hung");
  corun::run({.procs = 1}, [&] {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    corun::io::Fd r(fds[0]);
    corun::io::Fd w(fds[1]);
    EXPECT_EQ(w.write("hello", 5), 5U);
    w.close();
    char buf[16] = {};
    r.read_exact(buf, 5);
    EXPECT_EQ(std::memcmp(buf, "hello", 5), 0);
    EXPECT_EQ(r.read(buf, sizeof buf), 0U);  // end of file
    try {
      (void)w.write("x", 1);
      ADD_FAILURE() << "write on a closed Fd returned";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), std::errc::bad_file_descriptor) << e.what();
    }
  });
}

}  // namespace
