// blocking.hpp: corun::blocking(f), for calls that may block in the kernel
// (file I/O, a blocking read, getaddrinfo, a third-party library) without
// stalling the other coroutines of the worker.
//
// blocking(f) runs f on the calling thread and returns its result, or
// rethrows its exception. While f runs, the coroutine's worker is marked
// "in a blocking call" (two plain stores). If f returns quickly, one
// compare-and-swap takes the worker back and that is all it cost. If it
// lasts (the monitor finds it in the same call more than ~20 us apart), the
// monitor hands the worker, with its queued coroutines and timers, to a
// spare thread, and they run on; when f returns, the coroutine is queued
// again to run on whichever worker is free, and its thread parks as a
// spare. As Go's entersyscall/exitsyscall and sysmon's retake.
//
// Outside a coroutine (a plain thread, no runtime) blocking(f) is f().
// Inside f the thread is outside the runtime: corun's waits block the
// thread as they would a plain thread's, and a nested blocking() is a plain
// call. A Runtime destroyed while f runs waits for f to return (a call in
// the kernel cannot be cancelled); the coroutine is then cancelled at its
// next wait, as usual.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

namespace corun {

namespace detail {
// BlockingCall: what enter_blocking() hands to leave_blocking(); `worker`
// is null when the caller is not a coroutine.
struct BlockingCall {
  void* worker;
  void* coroutine;
  std::uint64_t call;
};
BlockingCall enter_blocking() noexcept;
void leave_blocking(const BlockingCall& c) noexcept;
}  // namespace detail

template <class F>
std::invoke_result_t<F&&> blocking(F&& f) {
  using R = std::invoke_result_t<F&&>;
  const detail::BlockingCall call = detail::enter_blocking();
  if (call.worker == nullptr) return std::invoke(std::forward<F>(f));
  std::exception_ptr error;
  if constexpr (std::is_void_v<R>) {
    try {
      std::invoke(std::forward<F>(f));
    } catch (...) {
      error = std::current_exception();
    }
    detail::leave_blocking(call);
    if (error) std::rethrow_exception(error);
  } else {
    using Slot = std::conditional_t<std::is_reference_v<R>,
                                    std::reference_wrapper<std::remove_reference_t<R>>, R>;
    std::optional<Slot> result;
    try {
      result.emplace(std::invoke(std::forward<F>(f)));
    } catch (...) {
      error = std::current_exception();
    }
    detail::leave_blocking(call);
    if (error) std::rethrow_exception(error);
    if constexpr (std::is_reference_v<R>) {
      return static_cast<R>(result->get());
    } else {
      return std::move(*result);
    }
  }
}

}  // namespace corun
