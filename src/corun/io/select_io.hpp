// select_io.hpp: IoCases, a select's I/O readiness cases (corun::readable,
// corun::writable) on the network poller: the poll pass's readiness check,
// the select's waiters in the PollDescs' per-direction slots, and their
// removal.
//
// A registered waiter is an IoWait whose `sel` is the select's SelectWait:
// the poller or close() ends it only by claiming the select (io_wait.hpp),
// so a select that another case completed is never woken twice, and the
// `ready` flag the poller sets stays for the descriptor's next call.
#pragma once

#include <cstddef>
#include <cstdint>

#include "corun/io/io_wait.hpp"
#include "corun/select.hpp"

namespace corun::detail {

struct FdAccess;

class IoCases {
 public:
  // Checks every case (an open Fd: else std::system_error(EBADF); one
  // registered with a poller: else std::logic_error) and counts each as a
  // call in progress on its Fd, so that Fd::close() waits for the select to
  // leave. `order` is room for n indices.
  IoCases(SelectIoCase* io, std::size_t n, std::uint16_t* order);
  ~IoCases();
  IoCases(const IoCases&) = delete;
  IoCases& operator=(const IoCases&) = delete;

  std::size_t size() const noexcept { return n_; }

  // probe(): before the poll pass, without locks: a case whose flag says
  // ready is asked (poll(2), not blocking), its flag cleared first so that
  // an event from then on sets it again; a descriptor known not ready costs
  // nothing, unless `thorough` (a select that will not block: an event may
  // have come that the poller has not handled yet). ready(j): whether
  // probe() found case j ready.
  void probe(bool thorough) noexcept;
  bool ready(std::size_t j) const noexcept;
  // confirm(j): the same question for case j, asked whatever its flag says
  // (after a wake-up by the poller, whose event may be stale).
  bool confirm(std::size_t j) noexcept;

  // lock()/unlock(): every case's PollDesc lock, in address order (each
  // once); unlock() releases the first last, as select's channels, so that
  // a select resumed before its commit step ends waits in lock().
  void lock() noexcept;
  void unlock() noexcept;

  // enroll(): with lock() held, puts a waiter for `g` claimed through `sel`
  // in each case's slot. Returns the index of a case whose flag was set
  // since probe() (nothing enrolled then, the locks released: the select
  // polls again), or SIZE_MAX when all are enrolled. Throws, with
  // nothing enrolled and the locks released, on a closed Fd (EBADF) or a
  // slot already taken (std::logic_error).
  std::size_t enroll(SelectWait* sel, Coroutine* g);
  // withdraw(): after the park, takes out the waiters still enrolled.
  void withdraw() noexcept;
  // fired(): the case the poller or a close() ended (SIZE_MAX: none);
  // throws std::system_error(EBADF) for a close.
  std::size_t fired() const;

 private:
  struct Case;
  Case& at(std::size_t j) const noexcept;
  void unenroll(std::size_t upto) noexcept;

  SelectIoCase* io_;
  std::size_t n_;
  std::uint16_t* order_;  // case indices by PollDesc address
  bool enrolled_ = false;
};

}  // namespace corun::detail
