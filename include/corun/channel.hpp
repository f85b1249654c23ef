// channel.hpp: Channel<T>, Go's `chan T`.
#pragma once

#include <cstddef>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "corun/detail/chan_core.hpp"
#include "corun/errors.hpp"

namespace corun {

// TryRecv is the outcome of Channel<T>::try_recv(): a value (status kOk), or
// why there is none.
template <class T>
struct TryRecv {
  ChanStatus status = ChanStatus::kWouldBlock;
  std::optional<T> value;

  bool ok() const noexcept { return status == ChanStatus::kOk; }
  bool closed() const noexcept { return status == ChanStatus::kClosed; }
  bool would_block() const noexcept { return status == ChanStatus::kWouldBlock; }
  explicit operator bool() const noexcept { return ok(); }
  T& operator*() noexcept { return *value; }
  T* operator->() noexcept { return &*value; }
};

// Channel<T> is Go's `chan T`: a typed conduit between coroutines (and plain
// threads), unbuffered (capacity 0: a send waits for a receiver and hands it
// the value) or buffered (capacity >= 1: a send waits only when the buffer
// is full).
//
// A Channel is a handle, like Go's chan: copies are cheap (a shared_ptr) and
// refer to the same channel; the channel lives while a handle does. Pass it
// by value into coroutines. A default-constructed Channel is Go's nil
// channel: send and recv on it block forever, and select never takes a case
// on it (disable a case by assigning Channel{}).
//
// Blocking operations park the calling coroutine (not its worker thread);
// from a plain OS thread they block the thread. A coroutine blocked in one
// when its Runtime is destroyed gets corun::Cancelled thrown out of it, and
// the channel stays consistent (the value of a cancelled send is not sent).
//
// Closing: close() wakes every waiter. Receivers then drain the buffer and
// get std::nullopt once it is empty; blocked senders throw. Sending on or
// closing a closed channel is a program error (Go panics): std::logic_error,
// "send on closed channel" / "close of closed channel".
//
// T must be nothrow move constructible: values move under the channel's
// lock. Move-only types work.
template <class T>
class Channel {
  static_assert(std::is_object_v<T> && !std::is_const_v<T>,
                "Channel<T>: T must be a non-const object type");
  static_assert(std::is_nothrow_move_constructible_v<T> && std::is_nothrow_destructible_v<T>,
                "Channel<T>: T must be nothrow move constructible (values move under a lock)");

 public:
  using value_type = T;

  // Channel() is the nil channel.
  Channel() noexcept = default;
  // Channel(capacity) makes a channel; 0 is unbuffered. The buffer (a fixed
  // ring of `capacity` slots) is allocated here, once.
  explicit Channel(std::size_t capacity)
      : core_(std::make_shared<detail::ChanCore>(capacity, sizeof(T), alignof(T),
                                                 detail::kElemOps<T>)) {}

  // send() delivers `value`, blocking until a receiver takes it or the
  // buffer has room. Throws std::logic_error if the channel is (or, while
  // waiting, becomes) closed.
  void send(T&& value) {
    if (!core_) detail::park_forever(detail::WaitReason::kChanSend);
    if (core_->send(std::addressof(value), true) == ChanStatus::kClosed) {
      detail::ChanCore::throw_send_on_closed();
    }
  }
  void send(const T& value) {
    T copy(value);
    send(std::move(copy));
  }

  // recv() blocks until a value arrives; std::nullopt once the channel is
  // closed and its buffer drained (Go's `v, ok := <-ch` with ok == false).
  std::optional<T> recv() {
    std::optional<T> out;
    if (!core_) detail::park_forever(detail::WaitReason::kChanReceive);
    core_->recv(std::addressof(out), true);
    return out;
  }

  // try_send() sends only if it can without waiting: kOk (value moved from),
  // kWouldBlock or kClosed (value untouched; unlike send(), no exception).
  ChanStatus try_send(T&& value) {
    return core_ ? core_->send(std::addressof(value), false) : ChanStatus::kWouldBlock;
  }
  ChanStatus try_send(const T& value) {
    T copy(value);
    return try_send(std::move(copy));
  }

  // try_recv() receives only if it can without waiting.
  TryRecv<T> try_recv() {
    TryRecv<T> r;
    if (core_) r.status = core_->recv(std::addressof(r.value), false);
    return r;
  }

  // close() marks the channel closed (see above). Throws std::logic_error on
  // a closed or nil channel.
  void close() {
    if (!core_) throw std::logic_error("corun::Channel: close of nil channel");
    core_->close();
  }

  // len() is the number of buffered values, cap() the buffer's capacity
  // (both 0 for a nil or unbuffered channel). len() is a snapshot.
  std::size_t len() const noexcept { return core_ ? core_->len() : 0; }
  std::size_t cap() const noexcept { return core_ ? core_->cap() : 0; }

  // A Channel is true unless nil; equal handles refer to the same channel.
  explicit operator bool() const noexcept { return core_ != nullptr; }
  friend bool operator==(const Channel& a, const Channel& b) noexcept { return a.core_ == b.core_; }

  // Range iteration receives until the channel is closed and drained (Go's
  // `for v := range ch`): for (auto v : ch) { ... }. *it is the value just
  // received (T&: move from it if you like).
  class iterator {
   public:
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using reference = T&;
    using iterator_concept = std::input_iterator_tag;

    iterator() = default;
    explicit iterator(Channel* ch) : ch_(ch) { ++*this; }
    T& operator*() const noexcept { return *value_; }
    T* operator->() const noexcept { return &*value_; }
    iterator& operator++() {
      value_ = ch_->recv();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
      return !it.value_.has_value();
    }

   private:
    Channel* ch_ = nullptr;
    mutable std::optional<T> value_;
  };
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() const noexcept { return {}; }

  // core() is the type-erased channel (null for nil), for select.
  detail::ChanCore* core() const noexcept { return core_.get(); }

 private:
  std::shared_ptr<detail::ChanCore> core_;
};

// make_channel<T>(capacity) is Go's make(chan T, capacity).
template <class T>
Channel<T> make_channel(std::size_t capacity = 0) {
  return Channel<T>(capacity);
}

}  // namespace corun
