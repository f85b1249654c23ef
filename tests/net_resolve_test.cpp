// net_resolve_test.cpp: host names (net::resolve, connect and listen by
// name) and connecting to the first of several addresses that answers.
//
// No test needs a DNS server: "127.1" is not an address Address::parse
// takes, but getaddrinfo reads it as 127.0.0.1 (the inet_aton forms), so
// it goes through the lookup path; a name under ".invalid" never resolves
// (RFC 6761), which a resolver says at once or after its timeout: only the
// kind of error is checked, not how long it took.
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "corun/corun.hpp"
#include "corun/net.hpp"
#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using corun::net::Address;
using corun::net::TcpListener;
using corun::net::TcpStream;
using corun::test::ProcsTest;
using corun::test::Watchdog;

class NetResolve : public ProcsTest {};
CORUN_PROCS_TESTS(NetResolve);

TEST(NetResolveNumeric, NumericHostsNeedNoLookup) {
  const std::vector<Address> v4 = corun::net::resolve("127.0.0.1", 80);
  ASSERT_EQ(v4.size(), 1u);
  EXPECT_EQ(v4[0].to_string(), "127.0.0.1:80");
  const std::vector<Address> v6 = corun::net::resolve("[::1]", 443);
  ASSERT_EQ(v6.size(), 1u);
  EXPECT_EQ(v6[0].to_string(), "[::1]:443");
  EXPECT_EQ(corun::net::resolve("localhost", 8).at(0).to_string(), "127.0.0.1:8");
  EXPECT_EQ(corun::net::resolve("", 9).at(0).to_string(), "127.0.0.1:9");
}

TEST(NetResolveNumeric, ANameGoesThroughTheLookup) {
  // A plain thread: resolve() is a plain call there.
  EXPECT_THROW((void)Address::parse("127.1", 80), std::invalid_argument);
  const std::vector<Address> found = corun::net::resolve("127.1", 8080);
  ASSERT_EQ(found.size(), 1u) << "duplicates (one per socket type) are left out";
  EXPECT_EQ(found[0].to_string(), "127.0.0.1:8080");
}

TEST(NetResolveNumeric, BadNamesAreClearErrors) {
  Watchdog dog("a lookup of a name that cannot resolve did not end", 120s);
  try {
    (void)corun::net::resolve("no-such-host.invalid", 80);
    ADD_FAILURE() << "a .invalid name resolved";
  } catch (const std::system_error& e) {
    // Not found, or no server to ask: either is the resolver's answer.
    EXPECT_TRUE(e.code().category() == corun::net::resolver_category() ||
                e.code().category() == std::generic_category())
        << e.what();
    EXPECT_NE(std::string(e.what()).find("lookup no-such-host.invalid: "), std::string::npos)
        << e.what();
  }
  using namespace std::string_literals;
  EXPECT_THROW((void)corun::net::resolve("127.0.0.1\0evil"s, 80), std::invalid_argument);
  EXPECT_THROW((void)Address::parse("127.0.0.1\0evil"s, 80), std::invalid_argument);
  EXPECT_THROW((void)TcpStream::connect(std::span<const Address>{}), std::invalid_argument);
}

// By name, from a coroutine: the lookup runs inside blocking(), the stream
// and the listener work as with a numeric address.
TEST_P(NetResolve, ConnectAndListenByName) {
  Watchdog dog("connect by name did not finish");
  corun::run({.procs = GetParam()}, [] {
    auto ln = TcpListener::listen("127.1", 0);
    EXPECT_EQ(ln.local_address().to_string().rfind("127.0.0.1:", 0), 0u);
    const auto port = ln.local_address().port();
    corun::go([&] {
      auto c = ln.accept();
      char b[4];
      c.read_exact(b, 4);
      c.write_all(b, 4);
    });
    auto s = TcpStream::connect("127.1", port, 5s);
    s.write_all("ping", 4);
    char back[4];
    s.read_exact(back, 4);
    EXPECT_EQ(std::string(back, 4), "ping");
  });
}

// A list: an address that refuses is passed over for the next one; all
// refusing, the first attempt's error comes back.
TEST_P(NetResolve, ConnectTriesEachAddressInTurn) {
  Watchdog dog("connect over a list did not finish");
  corun::run({.procs = GetParam()}, [] {
    auto closed = TcpListener::listen("127.0.0.1", 0);
    const Address refusing = closed.local_address();
    closed.close();
    auto ln = TcpListener::listen("127.0.0.1", 0);
    const std::vector<Address> to = {refusing, ln.local_address()};
    auto s = TcpStream::connect(std::span<const Address>(to), 5s);
    EXPECT_EQ(s.peer_address().to_string(), ln.local_address().to_string());
    const std::vector<Address> none = {refusing, refusing};
    try {
      (void)TcpStream::connect(std::span<const Address>(none));
      ADD_FAILURE() << "connected to a closed port";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), std::errc::connection_refused) << e.what();
    }
  });
}

}  // namespace
