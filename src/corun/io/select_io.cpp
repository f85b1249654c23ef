// select_io.cpp: IoCases (see select_io.hpp).
#include "corun/io/select_io.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <new>
#include <stdexcept>
#include <system_error>

#include "corun/io.hpp"
#include "corun/io/netpoll.hpp"
#include "corun/io/poll_desc.hpp"

namespace corun::detail {

// FdAccess: what a select needs of an io::Fd beyond its public calls.
struct FdAccess {
  static PollDesc* poll_desc(const io::Fd& fd) noexcept { return fd.pd_; }
};

// Case: what one I/O case holds while the select runs, in its
// SelectIoCase::wait room.
struct IoCases::Case {
  PollDesc* pd;
  int fd;
  IoMode mode;
  bool confirmed;  // by the last probe()
  IoWait wait;
};

namespace {

const char* op_name(int dir) noexcept {
  return dir == kRead ? "select: readable" : "select: writable";
}

[[noreturn]] void throw_bad_fd(int dir) {
  throw std::system_error(EBADF, std::generic_category(), op_name(dir));
}

}  // namespace

IoCases::Case& IoCases::at(std::size_t j) const noexcept {
  static_assert(sizeof(Case) <= sizeof(SelectIoCase::wait) &&
                alignof(Case) <= alignof(SelectIoCase));
  return *std::launder(reinterpret_cast<Case*>(io_[j].wait));
}

IoCases::IoCases(SelectIoCase* io, std::size_t n, std::uint16_t* order)
    : io_(io), n_(n), order_(order) {
  for (std::size_t j = 0; j < n; ++j) {
    const io::Fd& fd = *io[j].fd;
    if (!fd.is_open()) throw_bad_fd(io[j].dir);
    if (FdAccess::poll_desc(fd) == nullptr) {
      throw std::logic_error(std::string(op_name(io[j].dir)) +
                             ": the io::Fd was opened outside a coroutine, so no poller "
                             "watches it (open it in a coroutine)");
    }
  }
  for (std::size_t j = 0; j < n; ++j) {
    PollDesc* pd = FdAccess::poll_desc(*io[j].fd);
    ::new (io[j].wait)
        Case{pd, io[j].fd->native_handle(), static_cast<IoMode>(io[j].dir), false, {}};
    pd->inside.fetch_add(1, std::memory_order_seq_cst);
    order_[j] = static_cast<std::uint16_t>(j);
  }
  std::sort(order_, order_ + n, [this](std::uint16_t a, std::uint16_t b) {
    return std::less<const PollDesc*>{}(at(a).pd, at(b).pd);
  });
}

IoCases::~IoCases() {
  for (std::size_t j = 0; j < n_; ++j) at(j).pd->inside.fetch_sub(1, std::memory_order_seq_cst);
}

void IoCases::probe(bool thorough) noexcept {
  for (std::size_t j = 0; j < n_; ++j) {
    Case& c = at(j);
    c.confirmed =
        (thorough || c.pd->ready[c.mode].load(std::memory_order_seq_cst) != 0) && confirm(j);
  }
}

bool IoCases::confirm(std::size_t j) noexcept {
  const Case& c = at(j);
  std::atomic<std::uint8_t>& flag = c.pd->ready[c.mode];
  flag.store(0, std::memory_order_seq_cst);  // an event from now on sets it again
  pollfd p{c.fd, static_cast<short>(c.mode == kRead ? POLLIN : POLLOUT), 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  flag.store(1, std::memory_order_seq_cst);
  return true;
}

bool IoCases::ready(std::size_t j) const noexcept { return at(j).confirmed; }

void IoCases::lock() noexcept {
  PollDesc* last = nullptr;
  for (std::size_t k = 0; k < n_; ++k) {
    PollDesc* pd = at(order_[k]).pd;
    if (pd != last) pd->lock.lock();
    last = pd;
  }
}

void IoCases::unlock() noexcept {
  for (std::size_t k = n_; k-- > 0;) {
    PollDesc* pd = at(order_[k]).pd;
    if (k > 0 && at(order_[k - 1]).pd == pd) continue;
    pd->lock.unlock();
  }
}

void IoCases::unenroll(std::size_t upto) noexcept {
  for (std::size_t k = 0; k < upto; ++k) {
    Case& c = at(order_[k]);
    c.pd->waiter[c.mode] = nullptr;
  }
}

std::size_t IoCases::enroll(SelectWait* sel, Coroutine* g) {
  for (std::size_t k = 0; k < n_; ++k) {
    const std::size_t j = order_[k];
    Case& c = at(j);
    const bool closing = c.pd->closing;
    const bool taken = c.pd->waiter[c.mode] != nullptr;
    const bool ready_now = c.pd->ready[c.mode].load(std::memory_order_seq_cst) != 0;
    if (closing || taken || ready_now) {
      unenroll(k);
      unlock();
      if (closing) throw_bad_fd(c.mode);
      if (taken) throw_second_waiter(c.mode, op_name(c.mode));
      return j;
    }
    c.wait = IoWait{g, IoWait::kWaiting, sel};
    c.pd->waiter[c.mode] = &c.wait;
  }
  for (std::size_t j = 0; j < n_; ++j) at(j).pd->poller->wait_begin();
  enrolled_ = true;
  return SIZE_MAX;
}

void IoCases::withdraw() noexcept {
  if (!enrolled_) return;
  lock();
  for (std::size_t j = 0; j < n_; ++j) {
    Case& c = at(j);
    if (c.pd->waiter[c.mode] == &c.wait) c.pd->waiter[c.mode] = nullptr;
  }
  unlock();
  for (std::size_t j = 0; j < n_; ++j) at(j).pd->poller->wait_end();
  enrolled_ = false;
}

std::size_t IoCases::fired() const {
  for (std::size_t j = 0; j < n_; ++j) {
    const Case& c = at(j);
    if (c.wait.result == IoWait::kClosed) throw_bad_fd(c.mode);
    if (c.wait.result == IoWait::kReady) return j;
  }
  return SIZE_MAX;
}

}  // namespace corun::detail
