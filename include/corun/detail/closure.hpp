// closure.hpp: Closure, the type-erased, move-only `void()` callable that a
// coroutine runs. Small callables live inline (no allocation on spawn).
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace corun::detail {

// Closure holds any move-constructible `void()` callable. Callables of up to
// kInlineSize bytes are stored inline; larger ones on the heap.
class Closure {
 public:
  static constexpr std::size_t kInlineSize = 48;

  Closure() noexcept = default;

  template <class F, class Fn = std::decay_t<F>,
            class = std::enable_if_t<!std::is_same_v<Fn, Closure>>>
  explicit Closure(F&& f) {
    static_assert(std::is_invocable_v<Fn&>, "a coroutine body must be callable with no arguments");
    if constexpr (sizeof(Fn) <= kInlineSize && alignof(Fn) <= alignof(std::max_align_t) &&
                  std::is_nothrow_move_constructible_v<Fn>) {
      ::new (static_cast<void*>(buf_)) Fn(std::forward<F>(f));
      invoke_ = [](void* p) { (*static_cast<Fn*>(p))(); };
      manage_ = [](void* dst, void* src) noexcept {
        if (dst != nullptr) ::new (dst) Fn(std::move(*static_cast<Fn*>(src)));
        static_cast<Fn*>(src)->~Fn();
      };
    } else {
      auto* heap = new Fn(std::forward<F>(f));
      ::new (static_cast<void*>(buf_)) Fn*(heap);
      invoke_ = [](void* p) { (**static_cast<Fn**>(p))(); };
      manage_ = [](void* dst, void* src) noexcept {
        Fn* q = *static_cast<Fn**>(src);
        if (dst != nullptr) {
          ::new (dst) Fn*(q);
        } else {
          delete q;
        }
      };
    }
  }

  Closure(Closure&& other) noexcept { take(other); }
  Closure& operator=(Closure&& other) noexcept {
    if (this != &other) {
      reset();
      take(other);
    }
    return *this;
  }
  Closure(const Closure&) = delete;
  Closure& operator=(const Closure&) = delete;
  ~Closure() { reset(); }

  explicit operator bool() const noexcept { return invoke_ != nullptr; }

  // operator() runs the callable; it stays alive until reset().
  void operator()() { invoke_(buf_); }

  // reset() destroys the callable (and everything it captured).
  void reset() noexcept {
    if (manage_ != nullptr) manage_(nullptr, buf_);
    invoke_ = nullptr;
    manage_ = nullptr;
  }

 private:
  void take(Closure& other) noexcept {
    if (other.manage_ != nullptr) other.manage_(buf_, other.buf_);
    invoke_ = std::exchange(other.invoke_, nullptr);
    manage_ = std::exchange(other.manage_, nullptr);
  }

  alignas(std::max_align_t) unsigned char buf_[kInlineSize];
  void (*invoke_)(void*) = nullptr;
  void (*manage_)(void*, void*) noexcept = nullptr;
};

}  // namespace corun::detail
