// echo_uring.cpp: a standalone measurement (not part of the library; the
// build makes it as `echo_uring` beside the tests): the `echo` workload's
// 512-byte loopback TCP round trip, single-threaded, client and server ends
// in one event loop, C connections, driven by
//   epoll    edge-triggered epoll + readv/send, reads asking 32 bytes more
//            than wanted (a short read proves the socket empty, as corun's
//            TcpStream does): the fewest system calls epoll allows;
//   uring    io_uring (raw system calls, no liburing): one recv kept in
//            flight per socket, sends queued beside it, every submission and
//            completion of one loop turn in one io_uring_enter;
//   uring-dt the same with IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN
//            (completions run when the loop asks for them, Linux 6.1).
// Prints ns per round trip, CPU time per round trip (user, system) and
// system calls per round trip (counted here; check with strace -c -f).
// `-p P` (epoll only) touches P more pages after each receive, scattered
// over 16 MiB, as a runtime touches stacks and records between its calls:
// what a page touched after a system call costs on this kernel.
//
//   build/release/echo_uring epoll|uring|uring-dt [-n N] [-c CONNS] [-p PAGES]
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr std::size_t kSize = 512;
constexpr std::size_t kSpare = 32;

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

long g_syscalls = 0;  // system calls made in the timed loop
int g_pages = 0;      // -p: pages to touch after each receive (epoll)

// touch_pages(): g_pages reads, one per page, each call on other pages.
void touch_pages() {
  constexpr std::size_t kPages = 4096;
  static volatile char* big = static_cast<volatile char*>(std::calloc(kPages, 4096));
  static std::size_t turn = 0;
  for (int q = 0; q < g_pages; ++q) {
    (void)big[((turn + static_cast<std::size_t>(q) * 97) % kPages) * 4096];
  }
  ++turn;
}

// One end of a connection: the server end echoes, the client end sends
// kSize bytes, waits for them back, `trips` times.
struct Conn {
  int fd = -1;
  bool server = false;
  std::int64_t trips = 0;  // client: round trips left to start
  std::size_t have = 0;    // client: bytes of the reply received
  char buf[kSize + kSpare];
};

// connect_pairs(): C loopback TCP connections (TCP_NODELAY, non-blocking);
// returns 2C ends, client then server for each.
std::vector<Conn*> connect_pairs(int conns, std::int64_t n) {
  const int l = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("bind");
  if (listen(l, 4096) != 0) die("listen");
  socklen_t len = sizeof a;
  getsockname(l, reinterpret_cast<sockaddr*>(&a), &len);
  std::vector<Conn*> ends;
  const int one = 1;
  for (int i = 0; i < conns; ++i) {
    const int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("connect");
    const int s = accept4(l, nullptr, nullptr, 0);
    if (s < 0) die("accept");
    for (int fd : {c, s}) {
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto* e = new Conn;
      e->fd = fd;
      e->server = fd == s;
      e->trips = fd == c ? n / conns + (i < n % conns ? 1 : 0) : 0;
      std::memset(e->buf, 'x', sizeof e->buf);
      ends.push_back(e);
    }
  }
  close(l);
  return ends;
}

void set_nonblock(int fd) {
  const int fl = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

// ---------------------------------------------------------------------------
// epoll

struct EpollEnd {
  Conn* c;
  bool readable = true;  // not proven empty since the last event
};

void send_all(int fd, const char* p, std::size_t k) {
  while (k > 0) {
    ++g_syscalls;
    const ssize_t w = send(fd, p, k, MSG_NOSIGNAL);
    if (w < 0) die("send");  // 512 bytes into an empty loopback socket: never EAGAIN here
    p += w;
    k -= static_cast<std::size_t>(w);
  }
}

std::int64_t run_epoll(std::vector<Conn*>& ends) {
  const int ep = epoll_create1(0);
  std::vector<EpollEnd> st(ends.size());
  for (std::size_t i = 0; i < ends.size(); ++i) {
    set_nonblock(ends[i]->fd);
    st[i].c = ends[i];
    epoll_event e{};
    e.events = EPOLLIN | EPOLLET;
    e.data.u64 = i;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, ends[i]->fd, &e) != 0) die("epoll_ctl");
  }
  std::int64_t active = 0;
  for (auto* c : ends) {
    if (!c->server && c->trips > 0) {
      --c->trips;
      ++active;
      send_all(c->fd, c->buf, kSize);
    }
  }
  std::vector<std::size_t> ready;  // ends to read, in event order
  epoll_event events[256];
  while (active > 0) {
    ++g_syscalls;
    const int k = epoll_wait(ep, events, 256, -1);
    if (k < 0) die("epoll_wait");
    for (int i = 0; i < k; ++i) ready.push_back(events[i].data.u64);
    // Each ready end reads until a short read proves it empty.
    for (std::size_t r = 0; r < ready.size(); ++r) {
      Conn* c = st[ready[r]].c;
      for (;;) {
        const std::size_t want = c->server ? kSize : kSize - c->have;
        ++g_syscalls;
        const ssize_t got = recv(c->fd, c->buf, want + kSpare, 0);
        if (g_pages > 0) touch_pages();
        if (got < 0 && errno == EAGAIN) break;
        if (got <= 0) die("recv");
        if (c->server) {
          send_all(c->fd, c->buf, static_cast<std::size_t>(got));
        } else {
          c->have += static_cast<std::size_t>(got);
          if (c->have == kSize) {
            c->have = 0;
            if (c->trips > 0) {
              --c->trips;
              send_all(c->fd, c->buf, kSize);
            } else {
              --active;
            }
          }
        }
        if (static_cast<std::size_t>(got) < want + kSpare) break;  // proven empty
      }
    }
    ready.clear();
  }
  close(ep);
  return 0;
}

// ---------------------------------------------------------------------------
// io_uring, raw

struct Ring {
  int fd = -1;
  unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
  unsigned *cq_head, *cq_tail, *cq_mask;
  io_uring_sqe* sqes;
  io_uring_cqe* cqes;
  unsigned sq_entries;
  unsigned pending = 0;  // SQEs filled, not yet submitted
  unsigned local_tail;

  void init(unsigned entries, unsigned flags) {
    io_uring_params p{};
    p.flags = flags | IORING_SETUP_CQSIZE;
    p.cq_entries = entries * 4;
    fd = static_cast<int>(syscall(__NR_io_uring_setup, entries, &p));
    if (fd < 0) die("io_uring_setup");
    if ((p.features & IORING_FEAT_FAST_POLL) == 0) std::fprintf(stderr, "note: no FAST_POLL\n");
    const std::size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    const std::size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
    auto* sq = static_cast<char*>(mmap(nullptr, sq_len, PROT_READ | PROT_WRITE,
                                       MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING));
    auto* cq = static_cast<char*>(mmap(nullptr, cq_len, PROT_READ | PROT_WRITE,
                                       MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING));
    sqes = static_cast<io_uring_sqe*>(mmap(nullptr, p.sq_entries * sizeof(io_uring_sqe),
                                           PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                                           IORING_OFF_SQES));
    if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) die("mmap");
    sq_head = reinterpret_cast<unsigned*>(sq + p.sq_off.head);
    sq_tail = reinterpret_cast<unsigned*>(sq + p.sq_off.tail);
    sq_mask = reinterpret_cast<unsigned*>(sq + p.sq_off.ring_mask);
    sq_array = reinterpret_cast<unsigned*>(sq + p.sq_off.array);
    cq_head = reinterpret_cast<unsigned*>(cq + p.cq_off.head);
    cq_tail = reinterpret_cast<unsigned*>(cq + p.cq_off.tail);
    cq_mask = reinterpret_cast<unsigned*>(cq + p.cq_off.ring_mask);
    cqes = reinterpret_cast<io_uring_cqe*>(cq + p.cq_off.cqes);
    sq_entries = p.sq_entries;
    local_tail = *sq_tail;
  }

  io_uring_sqe* get_sqe() {
    const unsigned head = std::atomic_ref<unsigned>(*sq_head).load(std::memory_order_acquire);
    if (local_tail - head >= sq_entries) {
      enter(0);  // full: submit what is there
    }
    const unsigned idx = local_tail & *sq_mask;
    io_uring_sqe* s = &sqes[idx];
    std::memset(s, 0, sizeof *s);
    sq_array[idx] = idx;
    ++local_tail;
    ++pending;
    return s;
  }

  // enter(): submit what is pending and wait for `wait` completions.
  void enter(unsigned wait) {
    std::atomic_ref<unsigned>(*sq_tail).store(local_tail, std::memory_order_release);
    const unsigned flags = wait > 0 ? IORING_ENTER_GETEVENTS : 0;
    for (;;) {
      ++g_syscalls;
      const long r = syscall(__NR_io_uring_enter, fd, pending, wait, flags, nullptr, 0);
      if (r >= 0) {
        pending -= static_cast<unsigned>(r);
        return;
      }
      if (errno != EINTR && errno != EAGAIN && errno != EBUSY) die("io_uring_enter");
      if (errno == EBUSY || errno == EAGAIN) return;  // completions to reap first
    }
  }
};

enum : std::uint64_t { kOpRecv = 0, kOpSend = 1 };

void prep(Ring& ring, std::uint8_t op, Conn* c, std::size_t index, const char* p, std::size_t k) {
  io_uring_sqe* s = ring.get_sqe();
  s->opcode = op;
  s->fd = c->fd;
  s->addr = reinterpret_cast<std::uint64_t>(p);
  s->len = static_cast<unsigned>(k);
  s->msg_flags = op == IORING_OP_SEND ? MSG_NOSIGNAL : 0;
  s->user_data = (index << 1) | (op == IORING_OP_SEND ? kOpSend : kOpRecv);
}

// Each end has one recv in flight into its buffer; a server end's send goes
// out of a second buffer (its data is copied there: the next recv reuses
// buf), a client end's send out of a constant message.
std::int64_t run_uring(std::vector<Conn*>& ends, unsigned flags) {
  Ring ring;
  ring.init(4096, flags);
  static char msg[kSize];
  std::memset(msg, 'x', sizeof msg);
  std::vector<std::vector<char>> out(ends.size(), std::vector<char>(kSize + kSpare));
  std::int64_t active = 0;
  for (std::size_t i = 0; i < ends.size(); ++i) {
    Conn* c = ends[i];
    prep(ring, IORING_OP_RECV, c, i, c->buf, c->server ? kSize : kSize);
    if (!c->server && c->trips > 0) {
      --c->trips;
      ++active;
      prep(ring, IORING_OP_SEND, c, i, msg, kSize);
    }
  }
  while (active > 0) {
    ring.enter(1);
    unsigned head = *ring.cq_head;
    const unsigned tail = std::atomic_ref<unsigned>(*ring.cq_tail).load(std::memory_order_acquire);
    for (; head != tail; ++head) {
      const io_uring_cqe& e = ring.cqes[head & *ring.cq_mask];
      const std::size_t i = e.user_data >> 1;
      const bool is_send = (e.user_data & 1) != 0;
      const int res = e.res;
      Conn* c = ends[i];
      if (res < 0) {
        errno = -res;
        die(is_send ? "send" : "recv");
      }
      if (is_send) {
        if (static_cast<std::size_t>(res) != kSize && c->server == false) die("short send");
        continue;
      }
      if (res == 0) die("recv: eof");
      if (c->server) {
        std::memcpy(out[i].data(), c->buf, static_cast<std::size_t>(res));
        prep(ring, IORING_OP_SEND, c, i, out[i].data(), static_cast<std::size_t>(res));
        prep(ring, IORING_OP_RECV, c, i, c->buf, kSize);
      } else {
        c->have += static_cast<std::size_t>(res);
        if (c->have == kSize) {
          c->have = 0;
          if (c->trips > 0) {
            --c->trips;
            prep(ring, IORING_OP_SEND, c, i, msg, kSize);
          } else {
            --active;
          }
        }
        if (active > 0 || c->have != 0) {
          prep(ring, IORING_OP_RECV, c, i, c->buf + c->have, kSize - c->have);
        }
      }
    }
    std::atomic_ref<unsigned>(*ring.cq_head).store(head, std::memory_order_release);
  }
  close(ring.fd);
  return 0;
}

double cpu_s(const rusage& a, const rusage& b, bool sys) {
  const timeval& x = sys ? a.ru_stime : a.ru_utime;
  const timeval& y = sys ? b.ru_stime : b.ru_utime;
  return static_cast<double>(y.tv_sec - x.tv_sec) +
         static_cast<double>(y.tv_usec - x.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: echo_uring epoll|uring|uring-dt [-n N] [-c CONNS] [-p PAGES]\n");
    return 2;
  }
  const std::string mode = argv[1];
  std::int64_t n = 100'000;
  int conns = 100;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "-n") == 0) n = std::atoll(argv[i + 1]);
    if (std::strcmp(argv[i], "-c") == 0) conns = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "-p") == 0) g_pages = std::atoi(argv[i + 1]);
  }
  std::vector<Conn*> ends = connect_pairs(conns, n);
  rusage r0{}, r1{};
  getrusage(RUSAGE_SELF, &r0);
  const auto t0 = std::chrono::steady_clock::now();
  if (mode == "epoll") {
    run_epoll(ends);
  } else if (mode == "uring") {
    run_uring(ends, 0);
  } else if (mode == "uring-dt") {
    run_uring(ends, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);
  } else {
    std::fprintf(stderr, "echo_uring: expected epoll, uring or uring-dt, got %s\n", argv[1]);
    return 2;
  }
  const double ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
  getrusage(RUSAGE_SELF, &r1);
  const auto dn = static_cast<double>(n);
  std::printf("%s c=%d n=%lld: %.0f ns/trip, cpu user %.0f sys %.0f ns/trip, %.2f syscalls/trip\n",
              mode.c_str(), conns, static_cast<long long>(n), ns / dn,
              cpu_s(r0, r1, false) * 1e9 / dn, cpu_s(r0, r1, true) * 1e9 / dn,
              static_cast<double>(g_syscalls) / dn);
  return 0;
}
