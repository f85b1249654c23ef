// select.hpp: select, Go's select statement.
//
//   std::size_t taken = corun::select(
//       corun::recv(in, [](std::optional<int> v) { ... }),  // v: nullopt if closed
//       corun::send(out, 42, [] { ... }),
//       corun::readable(conn.fd(), [&] { n = conn.read(buf); }),  // or writable(fd, ...)
//       corun::timeout(10ms, [] { ... }));                  // or corun::otherwise(...)
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

#include "corun/channel.hpp"
#include "corun/detail/chan_core.hpp"
#include "corun/detail/deadline.hpp"

namespace corun::io {
class Fd;
}

namespace corun {

namespace detail {

// SelectCase is one channel case as select_impl() sees it.
struct SelectCase {
  ChanCore* chan = nullptr;  // null (a nil channel): never taken
  void* elem = nullptr;      // send: the T to move from; receive: the optional<T> to fill
  bool is_send = false;
};

// SelectIoCase is one I/O readiness case as select_impl() sees it: `fd`
// in direction `dir` (0: readable, 1: writable); `wait` is select_impl()'s
// room for the case's waiter (src/corun/io/select_io.hpp).
struct SelectIoCase {
  io::Fd* fd = nullptr;
  int dir = 0;
  alignas(void*) unsigned char wait[48];
};

inline constexpr int kSelectDefault = -1;
inline constexpr int kSelectTimeout = -2;

struct SelectResult {
  int index;  // into the SelectCase array, n + j for I/O case j, or kSelectDefault / kSelectTimeout
  bool ok;    // a receive got a value (false: the channel is closed)
};

// select_impl() runs Go's selectgo over `n` channel cases and `n_io` I/O
// cases. `waiters` and `scratch` are caller-provided space for n waiters and
// 2(n + n_io) indices. `timeout_ns` < 0: no timeout case. Throws
// std::logic_error when it takes a send case on a closed channel or an I/O
// case is misused (an Fd not registered with a poller, a second waiter in
// one direction), std::system_error (EBADF) when an I/O case's Fd is or gets
// closed, corun::Cancelled on shutdown.
SelectResult select_impl(SelectCase* cases, ChanWaiter* waiters, std::uint16_t* scratch,
                         std::size_t n, SelectIoCase* io, std::size_t n_io, bool has_default,
                         std::int64_t timeout_ns);

enum class CaseKind : std::uint8_t { kChan, kIo, kDefault, kTimeout };

struct NoHandler {};

template <class F, class... Args>
void invoke_handler(F& f, Args&&... args) {
  if constexpr (std::is_same_v<F, NoHandler>) {
    // nothing to run
  } else if constexpr (std::is_invocable_v<F&, Args...>) {
    f(std::forward<Args>(args)...);
  } else {
    static_assert(std::is_invocable_v<F&>,
                  "corun::select: a handler takes the case's value or nothing");
    f();
  }
}

template <class T, class F>
class RecvCase {
 public:
  static constexpr CaseKind kKind = CaseKind::kChan;
  RecvCase(ChanCore* ch, F fn) : ch_(ch), fn_(std::move(fn)) {}
  SelectCase spec() noexcept { return {ch_, &value_, false}; }
  void fire(bool) { invoke_handler(fn_, std::move(value_)); }

 private:
  ChanCore* ch_;
  std::optional<T> value_;
  F fn_;
};

template <class T, class F>
class SendCase {
 public:
  static constexpr CaseKind kKind = CaseKind::kChan;
  template <class U>
  SendCase(ChanCore* ch, U&& value, F fn)
      : ch_(ch), value_(std::forward<U>(value)), fn_(std::move(fn)) {}
  SelectCase spec() noexcept { return {ch_, &value_, true}; }
  void fire(bool) { invoke_handler(fn_); }

 private:
  ChanCore* ch_;
  T value_;
  F fn_;
};

template <class F>
class IoCase {
 public:
  static constexpr CaseKind kKind = CaseKind::kIo;
  IoCase(io::Fd& fd, int dir, F fn) : fd_(&fd), dir_(dir), fn_(std::move(fn)) {}
  io::Fd* fd() const noexcept { return fd_; }
  int dir() const noexcept { return dir_; }
  void fire(bool) { invoke_handler(fn_); }

 private:
  io::Fd* fd_;
  int dir_;
  F fn_;
};

template <class F>
class TimeoutCase {
 public:
  static constexpr CaseKind kKind = CaseKind::kTimeout;
  TimeoutCase(std::chrono::nanoseconds d, F fn) : d_(d), fn_(std::move(fn)) {}
  std::int64_t nanoseconds() const noexcept { return d_.count() < 0 ? 0 : d_.count(); }
  void fire(bool) { invoke_handler(fn_); }

 private:
  std::chrono::nanoseconds d_;
  F fn_;
};

template <class F>
class DefaultCase {
 public:
  static constexpr CaseKind kKind = CaseKind::kDefault;
  explicit DefaultCase(F fn) : fn_(std::move(fn)) {}
  void fire(bool) { invoke_handler(fn_); }

 private:
  F fn_;
};

template <class C>
concept SelectCaseType = requires {
  { std::remove_cvref_t<C>::kKind } -> std::convertible_to<CaseKind>;
};

template <class... C>
constexpr std::size_t count_kind([[maybe_unused]] CaseKind k) {
  return (std::size_t{0} + ... + (std::remove_cvref_t<C>::kKind == k ? 1 : 0));
}

// slots_of() maps each argument of kind `k` to its index among the cases of
// that kind.
template <class... C>
constexpr std::array<std::size_t, sizeof...(C)> slots_of(CaseKind k) {
  std::array<std::size_t, sizeof...(C)> slots{};
  const CaseKind kinds[] = {std::remove_cvref_t<C>::kKind...};
  std::size_t next = 0;
  for (std::size_t i = 0; i < sizeof...(C); ++i) {
    slots[i] = kinds[i] == k ? next++ : SIZE_MAX;
  }
  return slots;
}

template <class... C>
constexpr std::size_t arg_of_kind(CaseKind k) {
  const CaseKind kinds[] = {std::remove_cvref_t<C>::kKind...};
  for (std::size_t i = 0; i < sizeof...(C); ++i) {
    if (kinds[i] == k) return i;
  }
  return SIZE_MAX;
}

template <class... C, std::size_t... I>
std::size_t run_select(std::index_sequence<I...>, C&... cases) {
  constexpr std::size_t kChans = count_kind<C...>(CaseKind::kChan);
  constexpr std::size_t kIos = count_kind<C...>(CaseKind::kIo);
  constexpr std::size_t kSlots = kChans > 0 ? kChans : 1;
  constexpr std::size_t kIoSlots = kIos > 0 ? kIos : 1;
  constexpr auto kSlotOf = slots_of<C...>(CaseKind::kChan);
  constexpr auto kIoSlotOf = slots_of<C...>(CaseKind::kIo);
  static_assert(kChans + kIos < 32768, "corun::select: too many cases");

  SelectCase specs[kSlots];
  std::size_t arg_of[kSlots];
  ChanWaiter waiters[kSlots];
  SelectIoCase io[kIoSlots];
  std::size_t io_arg_of[kIoSlots];
  std::uint16_t scratch[2 * (kSlots + kIoSlots)];
  std::int64_t timeout_ns = -1;
  (
      [&] {
        using Case = std::remove_cvref_t<C>;
        if constexpr (Case::kKind == CaseKind::kChan) {
          specs[kSlotOf[I]] = cases.spec();
          arg_of[kSlotOf[I]] = I;
        } else if constexpr (Case::kKind == CaseKind::kIo) {
          io[kIoSlotOf[I]].fd = cases.fd();
          io[kIoSlotOf[I]].dir = cases.dir();
          io_arg_of[kIoSlotOf[I]] = I;
        } else if constexpr (Case::kKind == CaseKind::kTimeout) {
          timeout_ns = cases.nanoseconds();
        }
      }(),
      ...);
  const SelectResult r = select_impl(specs, waiters, scratch, kChans, io, kIos,
                                     count_kind<C...>(CaseKind::kDefault) > 0, timeout_ns);
  std::size_t taken;
  if (r.index == kSelectDefault) {
    taken = arg_of_kind<C...>(CaseKind::kDefault);
  } else if (r.index == kSelectTimeout) {
    taken = arg_of_kind<C...>(CaseKind::kTimeout);
  } else {
    const auto i = static_cast<std::size_t>(r.index);  // I/O case j is kChans + j
    if constexpr (kIos == 0) {
      taken = arg_of[i];
    } else if constexpr (kChans == 0) {
      taken = io_arg_of[i];
    } else {
      taken = i >= kChans ? io_arg_of[i - kChans] : arg_of[i];
    }
  }
  ((I == taken ? cases.fire(r.ok) : void()), ...);
  return taken;
}

}  // namespace detail

// recv(ch[, fn]) is a receive case. fn, if given, is called with the
// std::optional<T> received (nullopt: the channel is closed), or with
// nothing if it takes no argument.
template <class T, class F = detail::NoHandler>
detail::RecvCase<T, std::decay_t<F>> recv(const Channel<T>& ch, F&& fn = {}) {
  return {ch.core(), std::forward<F>(fn)};
}

// send(ch, value[, fn]) is a send case; fn() runs if the value was sent.
// The value is copied or moved into the case when it is made; if another
// case is taken, it is destroyed with the case.
template <class T, class U, class F = detail::NoHandler>
requires std::is_constructible_v<T, U&&> detail::SendCase<T, std::decay_t<F>> send(
    const Channel<T>& ch, U&& value, F&& fn = {}) {
  return {ch.core(), std::forward<U>(value), std::forward<F>(fn)};
}

// timeout(d[, fn]) is taken when no other case became ready within `d` of
// the select's start (Go's `case <-time.After(d)`). A zero or negative `d`
// is taken at once if no other case is ready; a huge one (beyond ~292
// years, nanoseconds::max()) is never taken in practice.
template <class Rep, class Period, class F = detail::NoHandler>
detail::TimeoutCase<std::decay_t<F>> timeout(std::chrono::duration<Rep, Period> d, F&& fn = {}) {
  return {detail::saturating_ns(d), std::forward<F>(fn)};
}

// readable(fd[, fn]) is taken once `fd` can be read without blocking (data,
// end of file, or an error to report); writable(fd[, fn]) once it can be
// written. The case only waits: fn() then makes the call (fd.read(...)).
// `fd` must be an io::Fd opened in a coroutine (registered with the
// runtime's poller; std::logic_error otherwise) and stay open until the
// select returns: a close meanwhile ends the select with
// std::system_error(EBADF). One wait per direction per descriptor at a time
// (a second: std::logic_error). A readiness event that arrives while another
// case wins is kept for the next read or write. The Fd's deadlines do not
// apply: bound the wait with a timeout() case.
template <class F = detail::NoHandler>
detail::IoCase<std::decay_t<F>> readable(io::Fd& fd, F&& fn = {}) {
  return {fd, 0, std::forward<F>(fn)};
}
template <class F = detail::NoHandler>
detail::IoCase<std::decay_t<F>> writable(io::Fd& fd, F&& fn = {}) {
  return {fd, 1, std::forward<F>(fn)};
}

// otherwise([fn]) is Go's `default:` case: taken when no other case is ready,
// so the select does not block.
template <class F = detail::NoHandler>
detail::DefaultCase<std::decay_t<F>> otherwise(F&& fn = {}) {
  return detail::DefaultCase<std::decay_t<F>>(std::forward<F>(fn));
}

// select() waits until one of its cases can proceed, performs it, runs its
// handler, and returns the case's position among the arguments (0-based).
// As in Go: when several cases are ready, one is chosen uniformly at
// random; a case on a nil channel is never taken; with otherwise() it never
// blocks; with no cases at all it blocks forever. Taking a send case on a
// closed channel throws std::logic_error. Works from coroutines and plain
// threads; a coroutine blocked in it at shutdown gets corun::Cancelled.
template <class... Cases>
requires(detail::SelectCaseType<Cases>&&...) std::size_t select(Cases&&... cases) {
  static_assert(detail::count_kind<Cases...>(detail::CaseKind::kDefault) <= 1,
                "corun::select: at most one otherwise() case");
  static_assert(detail::count_kind<Cases...>(detail::CaseKind::kTimeout) <= 1,
                "corun::select: at most one timeout() case");
  if constexpr (sizeof...(Cases) == 0) {
    detail::park_forever(detail::WaitReason::kSelectNoCases);  // `select {}`
  } else {
    return detail::run_select(std::index_sequence_for<Cases...>{}, cases...);
  }
}

}  // namespace corun
