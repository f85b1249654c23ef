// net_test_support.hpp: what the I/O tests share: a connected pair of TCP
// streams on the loopback.
#pragma once

#include "corun/net.hpp"

namespace corun::test {

struct StreamPair {
  net::TcpStream client;
  net::TcpStream server;
};

// connected_pair(): made inside a coroutine, both ends are registered with
// its runtime's poller.
inline StreamPair connected_pair() {
  auto ln = net::TcpListener::listen("127.0.0.1", 0);
  StreamPair p;
  p.client = net::TcpStream::connect("127.0.0.1", ln.local_address().port());
  p.server = ln.accept();
  return p;
}

}  // namespace corun::test
